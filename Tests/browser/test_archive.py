"""The console's Archive view (E1-E5), the customer panel with earlier chats (D2) and the
admins' retention setting (E4), in headless Chromium against the system chat-dev runs (no
mail relay, no ticket webhook: those answer 503 not_configured here; test_widget_privacy.py
mails a transcript through a real SMTP sink). Screenshots: console-21-... to console-26-...."""

import re
import uuid

import pytest

from helpers import Visitor, admin_password, eventually

SUPPORT = "Customer Support"


@pytest.fixture
def deletable(gateway, consoles):
    """Visitors whose chats the test deletes from the archive: ended after the test without
    insisting (a deleted chat is not found any more), while the consoles are still open."""
    started = []

    def start(name):
        visitor = Visitor(gateway, name)
        started.append(visitor)
        return visitor
    yield start
    for visitor in started:
        gateway.request("POST", f"/api/v1/chats/{visitor.chat_id}/close", token=visitor.token)


def downloads_to(page, folder):
    """Lets the page's Chromium save downloads into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    page.driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(folder)})
    return folder


def downloaded(folder, pattern, what):
    """The finished download whose name matches `pattern` (Chromium writes .crdownload first)."""
    return eventually(lambda: next((f for f in folder.iterdir() if re.fullmatch(pattern, f.name)), None), 15,
                      f"{what} in {folder} (has {[f.name for f in folder.iterdir()]})")


def confirmed_until(page, button, done, what):
    """Presses `button`, confirms, and waits for `done()`."""
    page.click(button)
    page.confirm(True)
    return eventually(done, 15, what)


def test_archive_search_story_transcript_actions_and_delete(gateway, consoles, deletable, tmp_path):
    """A visitor chats with alice and ends the chat; alice finds it in the Archive by the
    visitor's name, reads its story and transcript, downloads the PDF, and is told by the
    server that e-mail and tickets are not set up; she has no Delete. Sam (supervisor)
    deletes it after a confirmation, exports the archive as CSV and deletes every closed chat."""
    name = "Archie " + uuid.uuid4().hex[:6]
    alice = consoles("alice").sign_in("alice")
    visitor = deletable(name)
    alice.wait_incoming(lambda names: name in names, name)
    chat_id = alice.take(name)
    alice.wait_my_chat(name, lambda c: c["current"], "shown")
    visitor.say("Where is my parcel?")
    alice.type_message("It left the <b>warehouse</b> today.")
    alice.wait_texts(["Where is my parcel?", "It left the <b>warehouse</b> today."])
    visitor.close()
    alice.wait_my_chat(name, lambda c: c["group"] == "wrapups", "in wrap-up")

    # The Archive, from the header; the search runs on Enter.
    alice.click("#screen-archive")
    alice.wait_visible("#archive")
    assert alice.find("#screen-archive").get_attribute("aria-pressed") == "true" and not alice.visible("#chats-screen")
    rows = alice.archive_search(name, lambda rows: any(r["chatId"] == chat_id and r["status"] == "Closed" and r["messages"] == 2
                                                        for r in rows), "the ended chat")
    assert [r["contact"] for r in rows] == [name]
    row = rows[0]
    assert re.fullmatch(r"Guest-\d+", row["number"]), row  # E2: the contact number next to the name
    assert row["department"] == SUPPORT and row["agents"] == "Alice Adams"
    assert re.fullmatch(r"\d{1,2}/\d{1,2}/\d{2}, \d\d:\d\d", row["time"]), row["time"]
    assert not alice.visible("#archive-tools"), "agents get no export and no clean-up"
    # Keyboard: Tab reaches the result, Enter opens it.
    alice.find(f"#archive-results tr[data-chat-id='{chat_id}'] .archived-open").send_keys("\n")
    shown = eventually(lambda: (a := alice.archived()) and a["chatId"] == chat_id and a, 10, "the archived chat")
    assert shown["title"] == name
    story = shown["story"]
    assert re.fullmatch(rf"\d\d:\d\d queued in {SUPPORT}", story[0]), story
    assert any(re.fullmatch(r"\d\d:\d\d assigned to Alice Adams \(manual_pick\)", line) for line in story), story
    assert any(re.fullmatch(r"\d\d:\d\d closed \(by visitor\)", line) for line in story), story
    assert shown["messages"] == [{"sender": name, "text": "Where is my parcel?"},
                                 {"sender": "Alice Adams (agent)", "text": "It left the <b>warehouse</b> today."}]
    assert alice.js("return window.__xss") is None and not alice.js("return !!document.querySelector('#archived-messages b')")
    assert f"chat id {chat_id}" in shown["meta"] and "2 messages" in shown["meta"]
    assert alice.js("return document.querySelector('#archive-results tr.current').dataset.chatId") == chat_id
    assert not alice.visible("#archived-delete"), "agents cannot delete archived chats"
    alice.screenshot("console-21-archive")

    # Download PDF: fetched with the token, saved as a file.
    folder = downloads_to(alice, tmp_path / "alice")
    alice.click("#archived-pdf")
    pdf = downloaded(folder, r"chat-.*\.pdf", "the PDF transcript")
    assert pdf.read_bytes().startswith(b"%PDF")

    # E-mail and ticket: the dialogs ask, and show the server's refusal (nothing set up here).
    alice.click("#archived-email")
    alice.wait_visible("#ask")
    assert alice.active() == "#ask-email" and alice.text("#ask-title") == f"E-mail the transcript of {name}'s chat"
    alice.click("#ask-yes")
    eventually(lambda: alice.text("#ask-error") == "Not sent: Please enter an e-mail address such as name@example.com.", 5,
               "the address check")
    alice.find("#ask-email").send_keys("archie@example.com")
    alice.click("#ask-yes")
    eventually(lambda: alice.text("#ask-error") == "Not sent: E-mail is not set up on this system. (not_configured)", 10,
               f"the server's not_configured (shows {alice.text('#ask-error')!r})")
    assert alice.visible("#ask"), "the dialog stays open with the error"
    alice.screenshot("console-22-email-not-configured")
    alice.click("#ask-no")
    alice.wait_visible("#ask", visible=False)
    assert alice.active() == "#archived-email"
    alice.click("#archived-ticket")
    alice.wait_visible("#ask")
    assert alice.active() == "#ask-note" and alice.visible("#ask-note") and not alice.visible("#ask-email")
    alice.find("#ask-note").send_keys("Parcel lost?")
    alice.click("#ask-yes")
    eventually(lambda: alice.text("#ask-error") == "No ticket created: The ticket system is not set up on this system. (not_configured)",
               10, f"the server's not_configured (shows {alice.text('#ask-error')!r})")
    alice.click("#ask-no")

    # Sam, a supervisor, deletes it: asked first (Cancel keeps it).
    other = deletable("Exportable " + uuid.uuid4().hex[:6])  # ends unanswered: archived, closed
    other.close()
    sam = consoles("sam").sign_in("sam")
    sam.click("#screen-archive")
    sam.wait_visible("#archive")
    assert sam.visible("#archive-tools")
    sam.archive_search(name, lambda rows: any(r["chatId"] == chat_id for r in rows), "the chat")
    sam.click(f"#archive-results tr[data-chat-id='{chat_id}'] .archived-open")
    eventually(lambda: (a := sam.archived()) and a["chatId"] == chat_id, 10, "the chat at sam's")
    assert sam.visible("#archived-delete")
    sam.click("#archived-delete")
    sam.wait_visible("#confirm")
    assert sam.text("#confirm-title") == f"Delete {name}'s chat?" and sam.active() == "#confirm-no"
    sam.screenshot("console-23-archive-delete-confirmation")
    sam.confirm(False)
    assert sam.archived()["chatId"] == chat_id
    confirmed_until(sam, "#archived-delete", lambda: sam.archive_rows() == [] and sam.archived() is None,
                    "the deleted chat gone from sam's view")
    assert sam.text("#info") in (f"{name}'s chat was deleted from the archive.", f"{name}'s chat is no longer in the archive.")
    status, body, _ = gateway.request("GET", f"/api/v1/archive/chats/{chat_id}", token=sam.session()["token"])
    assert status == 404, body
    alice.archive_search(name, lambda rows: rows == [], "no results any more")
    alice.wait_visible("#archive-empty")

    # Export (CSV, today): downloaded with the count the server gives.
    folder = downloads_to(sam, tmp_path / "sam")
    today = sam.js("const d = new Date(); return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`")
    sam.js("document.getElementById('export-from').value = arguments[0]; document.getElementById('export-to').value = arguments[0]", today)
    sam.click("#export-go")
    exported = eventually(lambda: re.fullmatch(r"Exported (\d+) chats? as (chats-\d{4}-\d\d-\d\d\.csv)\.", sam.text("#export-status") or ""),
                          15, f"the export's count (shows {sam.text('#export-status')!r})")
    csv = downloaded(folder, re.escape(exported[2]), "the CSV export").read_text()
    assert csv.startswith("chat_id,department_id,visitor_id,visitor_name,")
    assert other.chat_id in csv and chat_id not in csv
    assert int(exported[1]) >= 1
    sam.screenshot("console-24-archive-export")

    # Delete all closed chats (of sam's departments), asked first; the count is shown.
    sam.click("#archive-delete-all")
    sam.wait_visible("#confirm")
    assert "Every closed chat of your departments" in sam.text("#confirm-text")
    sam.confirm(False)
    deleted = confirmed_until(sam, "#archive-delete-all", lambda: re.fullmatch(r"Deleted (\d+) closed chats? of your departments\.",
                                                                               sam.text("#delete-all-status") or ""), "the deleted count")
    assert int(deleted[1]) >= 0
    sam.archive_search(other.name, lambda rows: rows == [], "no closed chat left")


def test_customer_panel_lists_earlier_chats(gateway, consoles, visitors):
    """D2: the chat panel shows who the visitor is, and the contact's earlier chats from the
    archive (not the current one); an earlier chat opens in the Archive view."""
    name = "Hanna " + uuid.uuid4().hex[:6]
    bob = consoles("bob").sign_in("bob")
    visitor = visitors(name)
    visitor_id = visitor.chat()["visitor"]["id"]
    first = visitor.chat_id
    bob.wait_incoming(lambda names: name in names, name)
    bob.take(name)
    panel = eventually(lambda: (c := bob.customer()) and c["note"] == "No earlier chats." and c, 10, "the customer panel")
    assert panel["name"] == name and panel["visitorId"] == visitor_id and panel["earlier"] == []
    assert panel["summary"] == f"Customer: {name} · 0 earlier chats"
    visitor.say("My first question")
    bob.wait_texts(["My first question"])
    visitor.close()
    bob.wait_my_chat(name, lambda c: c["group"] == "wrapups", "in wrap-up")
    bob.click("#wrapup-done")
    eventually(lambda: bob.my_chat(name) is None, 10, "the chat done")
    token = bob.session()["token"]
    eventually(lambda: any(c["chatId"] == first and c.get("closedAt") for c in gateway.request(
        "GET", f"/api/v1/archive/chats?visitorId={visitor_id}", token=token)[1]["chats"]), 10, "the first chat archived as ended")

    # The same visitor comes back.
    status, body, _ = gateway.request("POST", "/api/v1/chats", {"departmentId": "support"}, token=visitor.token)
    assert status == 201, body
    visitor.chat_id = body["chat"]["chatId"]
    bob.wait_incoming(lambda names: name in names, name + " again")
    bob.take(name)
    panel = eventually(lambda: (c := bob.customer()) and c["earlier"] and c, 10, "the earlier chat in the panel")
    assert [e["chatId"] for e in panel["earlier"]] == [first]
    assert re.fullmatch(rf"\d{{1,2}}/\d{{1,2}}/\d{{2}}, \d\d:\d\d · {SUPPORT} · 1 message · Bob Berg", panel["earlier"][0]["label"]), panel
    assert panel["summary"] == f"Customer: {name} · 1 earlier chat"
    bob.screenshot("console-25-customer-panel")

    bob.click(f"#customer-history li[data-chat-id='{first}'] .earlier-chat")
    bob.wait_visible("#archive")
    shown = eventually(lambda: (a := bob.archived()) and a["chatId"] == first and a, 10, "the earlier chat in the archive")
    assert shown["messages"] == [{"sender": name, "text": "My first question"}]
    assert bob.active() == "#archived-title"
    assert bob.find("#archive-q").get_attribute("value") == first
    eventually(lambda: [r["chatId"] for r in bob.archive_rows()] == [first], 10, "the list showing that chat")
    # Back to the chats: the open chat is still there.
    bob.click("#screen-chats")
    bob.wait_visible("#chats-screen")
    assert bob.text("#chat-title") == name


def retention_only(settings):
    """A department's settings without its pre-chat form (test_prechat.py), which the
    retention screen leaves alone: sales has none."""
    settings = dict(settings)
    assert settings.pop("preChatForm", None) in (None, {"fields": [], "categories": [], "categoryRequired": False}), settings
    return settings


def test_admin_sets_how_long_closed_chats_are_kept(gateway, consoles):
    """E4: per department "keep closed chats for N days" (empty: keep), saved with PUT
    settings; the server's refusal is shown; a reload shows what is saved."""
    admin = consoles("admin").sign_in("admin", admin_password(gateway))
    token = admin.session()["token"]
    admin.screen("admin")
    field = "#retention li[data-department-id='sales'] input"
    status = "#retention li[data-department-id='sales'] .retention-status"
    admin.wait_visible(field)
    eventually(lambda: admin.find(field).get_attribute("value") == "", 5, "sales keeping its chats")
    assert admin.find(field).get_attribute("aria-label") == "Keep closed chats of Sales for how many days (empty: keep them)"

    def save(value):
        box = admin.find(field)
        box.clear()
        if value:
            box.send_keys(value)
        admin.click("#retention li[data-department-id='sales'] .retention-save")

    save("0")
    eventually(lambda: admin.text(status) == "Not saved: retentionDays must be between 1 and 3650, or null to keep chats. (invalid_request)",
               10, f"the server's refusal (shows {admin.text(status)!r})")
    assert admin.find(field).get_attribute("aria-invalid") == "true"
    save("30")
    eventually(lambda: admin.text(status) == "Saved: closed chats are deleted 30 days after they ended.", 10, "saved")
    assert retention_only(gateway.request("GET", "/api/v1/departments/sales/settings", token=token)[1]["settings"]) == {
        "departmentId": "sales", "retentionDays": 30}
    admin.screenshot("console-26-retention")
    admin.driver.refresh()
    admin.wait_visible(field)
    eventually(lambda: admin.find(field).get_attribute("value") == "30", 10, "30 days after a reload")
    save("")
    eventually(lambda: admin.text(status) == "Saved: closed chats are kept.", 10, "kept")
    assert retention_only(gateway.request("GET", "/api/v1/departments/sales/settings", token=token)[1]["settings"]) == {"departmentId": "sales"}
