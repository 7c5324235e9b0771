"""The agent console (Services/Gateway/GatewayCore/Public/console.js) in headless Chromium,
against the real system started by chat-dev: two agents in separate browsers (alice: support
and sales, bob: support) and visitors over the HTTP API. Screenshots go to
artifacts/screenshots/ (console-chat.png is the README's picture)."""

import re
import time
import uuid

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

from helpers import admin_password, eventually

XSS = '<img src=x onerror="window.__xss = 1"><b>bold?</b>'
SUPPORT = "Customer Support"


def seconds(clock):
    """'1:05' -> 65."""
    parts = [int(p) for p in clock.split(":")]
    return sum(p * 60 ** i for i, p in enumerate(reversed(parts)))


def people_state(gateway, token, agent_id):
    _, body, _ = gateway.request("GET", "/api/v1/people", token=token)
    return next(p for p in body["people"] if p["agentId"] == agent_id)


def test_sign_in_availability_reload_and_sign_out(gateway, consoles):
    """Sign-in with login name and password (a wrong password shows the server's error), own
    state with the availability and busy toggles, a server error in the alert region, the
    reconnecting banner, reload, and sign-out ending the session on the server."""
    bob = consoles("bob")
    bob.open()
    bob.wait_visible("#login")
    assert bob.active() == "#login-name"
    bob.find("#login-name").send_keys(Keys.ENTER)
    eventually(lambda: bob.login_error() == "Please enter your login name and password.", 5, "the empty-fields error")
    assert bob.find("#login-name").get_attribute("aria-invalid") is not None
    bob.find("#login-name").send_keys("bob")
    bob.find("#password").send_keys("not-the-password", Keys.ENTER)
    eventually(lambda: bob.login_error() == "Could not sign in: The login name or the password is wrong.", 5,
               "the wrong-password error")
    assert bob.find("#password").get_attribute("aria-invalid") is not None
    assert bob.active() == "#password" and bob.find("#password").get_attribute("value") == ""
    assert bob.visible("#login-form") and not bob.visible("#app")
    bob.screenshot("console-01-sign-in-error")

    bob.sign_in("bob", open_=False)
    assert bob.text("#me-name") == "Bob Berg"
    assert bob.find("#toggle-available").get_attribute("aria-pressed") == "true"
    assert bob.find("#toggle-busy").get_attribute("aria-pressed") == "false"
    gateway.wait_department(True)

    # Busy: keeps chats, takes none (B2); the department closes, as bob was its only agent.
    bob.click("#toggle-busy")
    bob.wait_state(r"^Online · Busy$")
    assert bob.find("#toggle-busy").get_attribute("aria-pressed") == "true"
    assert bob.find("#me-state").get_attribute("data-state") == "busy"
    gateway.wait_department(False)
    bob.click("#toggle-busy")
    bob.wait_state(r"^Online · Available$")
    # Not available (B3).
    bob.click("#toggle-available")
    bob.wait_state(r"^Online · Not available$")
    assert bob.find("#toggle-available").get_attribute("aria-pressed") == "false"
    bob.screenshot("console-02-not-available")
    bob.click("#toggle-available")
    bob.wait_state(r"^Online · Available$")

    # A reload keeps bob signed in (sessionStorage).
    token = bob.session()["token"]
    bob.driver.refresh()
    bob.wait_visible("#app")
    assert not bob.visible("#login")
    bob.wait_state(r"^Online · Available$")
    assert bob.session()["token"] == token

    # The socket drops and cannot come back: the banner shows, and once presence has bob
    # offline, the server's refusal of an availability change is shown, not swallowed.
    bob.relay.cut_sockets()
    bob.wait_visible("#banner")
    assert "reconnecting" in bob.text("#banner-text")
    eventually(lambda: people_state(gateway, token, "bob")["status"] == "offline", 15, "bob offline in presence")
    bob.click("#toggle-busy")
    alert = bob.wait_alert(r"agent_offline")
    assert alert == ("Could not become busy: Connect the console first: availability applies to online agents. "
                     "(agent_offline)")
    bob.screenshot("console-03-reconnecting-and-error")
    bob.relay.restore()
    bob.wait_visible("#banner", visible=False, timeout=20)
    bob.wait_state(r"^Online · Available$")
    bob.click("#alerts .alert button")
    assert bob.alerts() == []

    # Sign-out ends the session on the server: the token is refused from now on, and bob
    # is offline at once (no grace period).
    bob.click("#sign-out")
    bob.wait_visible("#login")
    assert bob.session() is None
    assert bob.login_error() == ""
    status, body, _ = gateway.request("GET", "/api/v1/agents/me", token=token)
    assert (status, body["error"]["code"]) == (401, "session_ended")
    _, admin, _ = gateway.request("POST", "/api/v1/agents/sessions", {"login": "admin", "password": admin_password(gateway)})
    eventually(lambda: people_state(gateway, admin["token"], "bob")["status"] == "offline", 5, "bob offline after signing out")
    bob.driver.refresh()
    bob.wait_visible("#login")


def test_incoming_take_race_messages_and_unread(gateway, consoles, visitors):
    """C2 incoming live in both consoles, C3 one-click take while holding other chats, the
    409 of a lost race shown clearly, D1 messages both ways and unread badges, D3 sound and
    notifications, markup shown as text."""
    alice = consoles("alice").sign_in("alice")
    bob = consoles("bob").sign_in("bob")
    gateway.wait_department(True)
    alice.click("#enable-notifications")
    alice.wait_visible("#enable-notifications", visible=False)

    grete = visitors("Grete Müller")
    for console in (alice, bob):
        console.wait_incoming(lambda names: names == ["Grete Müller"], "Grete")
    entry = alice.incoming()[0]
    assert (entry["department"], entry["position"], entry["take"]) == (SUPPORT, "#1", True)
    assert re.fullmatch(r"\d+:\d\d", entry["waited"])
    assert alice.text("#incoming-count") == "1"
    eventually(lambda: alice.beeps() >= 1, 5, "a beep for the new chat")
    eventually(lambda: any(n["title"] == "New chat waiting" and n["body"] == f"Grete Müller · {SUPPORT}"
                           for n in alice.notifications()), 5, "a notification for the new chat")
    assert bob.notifications() == [], "no notifications without permission"
    grete.say("Hallo! " + XSS)

    # One click: alice has the chat, with what Grete wrote while waiting; bob's list drops it.
    alice.take("Grete Müller")
    alice.wait_my_chat("Grete Müller", lambda c: c["group"] == "active" and c["current"])
    bob.wait_incoming(lambda names: names == [], "Grete gone")
    alice.wait_incoming(lambda names: names == [], "Grete gone")
    assert alice.active() == "#compose"
    alice.wait_texts(["Hallo! " + XSS])
    assert alice.messages()[0]["sender"] == "Grete Müller"
    assert "Alice Adams" not in alice.text("#chat-meta")

    # Enter sends, Shift+Enter is a new line; the message goes sending -> delivered.
    alice.type_message("Hi Grete, how can I help?", "\n", "Second line")
    shown = alice.wait_texts(["Hallo! " + XSS, "Hi Grete, how can I help?\nSecond line"])
    assert shown[1]["own"] and shown[1]["state"] == "delivered"
    eventually(lambda: grete.texts()[-1:] == ["Hi Grete, how can I help?\nSecond line"], 5, "the answer at the visitor")
    # Typing both ways (A4): Grete's shows under the conversation until her message comes...
    grete_socket = grete.socket()
    grete_socket.typing(grete.chat_id)
    eventually(lambda: alice.text("#typing") == "Grete Müller is typing\u2026" and alice.visible("#typing"), 5, "Grete typing")
    beeps = alice.beeps()
    grete.say("Ich habe eine Frage zu meiner Bestellung.")
    alice.wait_texts(["Hallo! " + XSS, "Hi Grete, how can I help?\nSecond line", "Ich habe eine Frage zu meiner Bestellung."])
    eventually(lambda: not alice.visible("#typing"), 5, "the typing line gone with her message")
    # ... and alice's reaches Grete.
    start = len(grete_socket.frames)
    alice.type_message("Einen Moment", send=False)
    frame = grete_socket.wait_frame(lambda f: f["type"] == "typing", what="alice typing at the visitor", start=start)
    assert frame["typing"] is True and frame["sender"]["displayName"] == "Alice Adams"
    alice.js("const t = document.getElementById('compose'); t.value = ''; t.dispatchEvent(new Event('input'))")
    grete_socket.wait_frame(lambda f: f["type"] == "typing" and f["typing"] is False, what="alice stopped typing", start=start)
    eventually(lambda: alice.beeps() > beeps, 5, "a beep for the visitor's message")
    time.sleep(0.3)  # an injected <img src=x> would have fired onerror by now
    assert alice.js("return window.__xss") is None
    assert alice.js("return document.querySelectorAll('#log img, #log b').length") == 0

    # A race: bob's socket is down, so his list still shows Hans when alice takes him.
    hans = visitors("Hans")
    for console in (alice, bob):
        console.wait_incoming(lambda names: names == ["Hans"], "Hans")
    time.sleep(0.5)  # bob's console re-reads the queue after each change: let it finish
    bob.relay.cut_sockets()
    bob.wait_visible("#banner")
    alice.take("Hans")  # while holding Grete's chat
    alice.wait_my_chat("Hans", lambda c: c["current"])
    assert [c["name"] for c in alice.mine()] == ["Grete Müller", "Hans"]
    assert bob.incoming_names() == ["Hans"]
    bob.take("Hans")
    alert = bob.wait_alert(r"already_taken")
    assert alert == "Could not take Hans's chat: This chat was already taken by Alice Adams. (already_taken)"
    bob.wait_incoming(lambda names: names == [], "Hans gone after the refused take")
    bob.screenshot("console-04-already-taken")
    bob.relay.restore()
    bob.wait_visible("#banner", visible=False, timeout=20)

    # Unread badges count what arrives in chats not in view; opening the chat clears them.
    grete.say("Sind Sie noch da?")
    grete.say("Hallo?")
    alice.wait_my_chat("Grete Müller", lambda c: c["badge"] == "2", "with 2 unread")
    assert alice.my_chat("Hans")["badge"] == ""
    assert alice.driver.title.startswith("(2) ")
    hans.say("Guten Tag")
    alice.wait_texts(["Guten Tag"])
    assert alice.my_chat("Hans")["badge"] == ""
    notes = alice.notifications()
    assert any(n["title"] == "Grete Müller" and n["body"] == "Hallo?" for n in notes)
    assert not any(n["title"] == "Hans" for n in notes), "no notification for the chat in view"

    # Keyboard: Alt+Up moves to the previous chat.
    ActionChains(alice.driver).key_down(Keys.ALT).send_keys(Keys.ARROW_UP).key_up(Keys.ALT).perform()
    eventually(lambda: alice.text("#chat-title") == "Grete Müller", 5, "Grete's chat after Alt+Up")
    alice.wait_my_chat("Grete Müller", lambda c: c["badge"] == "" and c["current"])
    alice.wait_texts(["Hallo! " + XSS, "Hi Grete, how can I help?\nSecond line",
                      "Ich habe eine Frage zu meiner Bestellung.", "Sind Sie noch da?", "Hallo?"])

    # Mute: no sound for the next message; the choice is kept in this browser.
    alice.click("#toggle-mute")
    assert alice.find("#toggle-mute").get_attribute("aria-pressed") == "true"
    beeps = alice.beeps()
    hans.say("Noch eine Frage")
    alice.wait_my_chat("Hans", lambda c: c["badge"] == "1")
    time.sleep(0.3)
    assert alice.beeps() == beeps

    # A busy console for the README: two chats, one waiting, the team on the right.
    alice.type_message("Ja, ich bin da. Um welche Bestellung geht es?")
    grete.say("Nummer 4711, sie ist noch nicht angekommen.")
    visitors("Jonas")
    alice.wait_incoming(lambda names: names == ["Jonas"], "Jonas")
    alice.wait_texts(["Hallo! " + XSS, "Hi Grete, how can I help?\nSecond line", "Ich habe eine Frage zu meiner Bestellung.",
                      "Sind Sie noch da?", "Hallo?", "Ja, ich bin da. Um welche Bestellung geht es?",
                      "Nummer 4711, sie ist noch nicht angekommen."])
    eventually(lambda: alice.queues().get("support", {}).get("waiting") == 1, 5, "the overview counting Jonas")
    alice.screenshot("console-chat")


def test_park_invite_transfer_return_close_and_wrap_up(gateway, consoles, visitors):
    """C7 park/unpark with the handling timer, C6 invite, C5 transfer to an agent (only
    eligible targets offered), C4 return to queue with confirmation, D4 close with
    confirmation, C8 wrap-up timer and Done."""
    alice = consoles("alice").sign_in("alice")
    bob = consoles("bob").sign_in("bob")
    gateway.wait_department(True)
    jonas = visitors("Jonas")
    alice.wait_incoming(lambda names: names == ["Jonas"], "Jonas")
    jonas.say("Ich brauche Hilfe")
    alice.take("Jonas")
    alice.wait_my_chat("Jonas", lambda c: c["group"] == "active")
    alice.wait_texts(["Ich brauche Hilfe"])

    # Park: the chat moves to Parked and its handling timer stops; unpark restarts it.
    time.sleep(1.1)
    alice.click("#act-park")
    chat = alice.wait_my_chat("Jonas", lambda c: c["group"] == "parked", "parked")
    assert chat["state"].startswith("Parked ")
    assert "(paused)" in alice.text("#chat-meta")
    paused = alice.text("#handling-timer")
    assert seconds(paused) >= 1
    eventually(lambda: jonas.chat()["status"] == "parked", 5, "parked for the visitor")
    time.sleep(1.2)
    assert alice.text("#handling-timer") == paused, "the timer stands still while parked"
    alice.screenshot("console-05-parked")

    # The socket drops (a parked chat stays alice's even once she is offline): the visitor
    # writes meanwhile, and alice's message waits; after reconnecting each arrives once.
    alice.relay.cut_sockets()
    alice.wait_visible("#banner")
    jonas.say("Hallo?")
    alice.type_message("Einen Moment bitte")
    eventually(lambda: alice.messages()[-1]["state"] == "sending", 5, "the message waiting for the socket")
    alice.relay.restore()
    shown = alice.wait_texts(["Ich brauche Hilfe", "Hallo?", "Einen Moment bitte"], timeout=20)
    assert [m["seq"] for m in shown] == [1, 2, 3] and shown[2]["state"] == "delivered"
    alice.wait_visible("#banner", visible=False)
    eventually(lambda: jonas.texts() == ["Ich brauche Hilfe", "Hallo?", "Einen Moment bitte"], 5, "each message once")
    alice.wait_state(r"^Online · Available$")
    alice.wait_my_chat("Jonas", lambda c: c["group"] == "parked", "still parked")
    alice.click("#act-unpark")
    alice.wait_my_chat("Jonas", lambda c: c["group"] == "active", "active again")
    eventually(lambda: seconds(alice.text("#handling-timer")) > seconds(paused), 5, "the timer running again")
    assert "The chat was parked." in alice.system_lines() and "The chat is active again." in alice.system_lines()

    # Invite bob: he sees the conversation so far and writes in it.
    alice.click("#act-invite")
    assert alice.pick_options() == ["Bob Berg"]
    alice.pick("Bob Berg")
    bob.wait_my_chat("Jonas", lambda c: c["state"] == "Invited · with Alice Adams")
    bob.select("Jonas")
    bob.wait_texts(["Ich brauche Hilfe", "Hallo?", "Einen Moment bitte"])
    assert not bob.visible("#chat-actions") and bob.visible("#chat-note")
    bob.type_message("Bob hier, ich helfe mit.")
    alice.wait_texts(["Ich brauche Hilfe", "Hallo?", "Einen Moment bitte", "Bob hier, ich helfe mit."])
    assert alice.messages()[3]["sender"] == "Bob Berg (agent)"
    eventually(lambda: "Bob Berg was invited into the chat." in alice.system_lines(), 5, "the invitation line")

    HISTORY = ["Ich brauche Hilfe", "Hallo?", "Einen Moment bitte", "Bob hier, ich helfe mit."]

    # Transfer: only open departments other than the chat's own, and available agents.
    alice.click("#act-transfer")
    assert alice.pick_options() == ["Sales", "Bob Berg"]
    alice.screenshot("console-06-transfer-dialog")
    alice.pick("Bob Berg")
    eventually(lambda: alice.my_chat("Jonas") is None, 10, "Jonas gone from alice's chats")
    assert alice.visible("#chat-empty")
    assert "Jonas's chat was transferred to Bob Berg." in alice.text("#info")
    chat = bob.wait_my_chat("Jonas", lambda c: c["state"].startswith("Active "), "as bob's own")
    bob.wait_visible("#chat-actions")
    bob.wait_texts(HISTORY)
    eventually(lambda: jonas.chat()["agent"]["id"] == "bob", 5, "bob handling the chat")

    # Return to queue asks first; Cancel keeps the chat.
    bob.click("#act-return")
    bob.wait_visible("#confirm")
    assert bob.active() == "#confirm-no"
    assert "goes back to the Customer Support queue" in bob.text("#confirm-text")
    bob.screenshot("console-07-return-confirmation")
    bob.confirm(yes=False)
    assert bob.active() == "#act-return"
    assert jonas.chat()["status"] == "assigned"
    bob.click("#act-return")
    bob.confirm(yes=True)
    for console in (alice, bob):
        console.wait_incoming(lambda names: names == ["Jonas"], "Jonas back in the queue")
    assert bob.my_chat("Jonas") is None

    # Alice takes it again and closes it (confirmed): wrap-up runs until she is done.
    alice.take("Jonas")
    alice.wait_my_chat("Jonas", lambda c: c["group"] == "active")
    alice.wait_texts(HISTORY)
    alice.click("#act-close")
    alice.confirm(yes=True)
    alice.wait_my_chat("Jonas", lambda c: c["group"] == "wrapups", "in wrap-up")
    alice.wait_visible("#wrapup-bar")
    eventually(lambda: "You ended the chat." in alice.system_lines(), 5, "the log saying who ended the chat")
    assert not alice.find("#compose").is_enabled()
    eventually(lambda: seconds(alice.text("#wrapup-timer")) >= 1, 5, "the wrap-up timer running")
    alice.click("#wrapup-pause")
    alice.wait_visible("#wrapup-resume")
    stopped = alice.text("#wrapup-timer")
    time.sleep(1.2)
    assert alice.text("#wrapup-timer") == stopped
    alice.screenshot("console-08-wrap-up")

    # A reload keeps the chat in wrap-up (hello lists unfinished wrap-ups) with its history.
    alice.driver.refresh()
    alice.wait_visible("#app")
    alice.wait_my_chat("Jonas", lambda c: c["group"] == "wrapups" and c["current"], "in wrap-up after a reload")
    alice.wait_texts(HISTORY)
    assert alice.text("#wrapup-timer") == stopped
    alice.click("#wrapup-resume")
    alice.wait_visible("#wrapup-pause")
    alice.click("#wrapup-done")
    eventually(lambda: alice.my_chat("Jonas") is None, 10, "Jonas gone after Done")
    seen_by_visitor = jonas.chat()
    assert seen_by_visitor["status"] == "closed" and seen_by_visitor["closedBy"]["id"] == "alice"
    assert "wrapUp" not in seen_by_visitor, "the agent's after-chat work is not shown to the visitor"
    assert alice.alerts() == [] and bob.alerts() == []


def test_people_colours_and_queue_overview_follow_changes(gateway, consoles, visitors):
    """B4 people view with coloured states; C11 queue overview counters, live."""
    alice = consoles("alice").sign_in("alice")
    assert not alice.visible("#screens") and alice.supervision() == {}, "an agent has no admin screen and no supervisor controls"
    eventually(lambda: alice.people().get("bob", {}).get("state") == "offline", 10, "bob offline")
    bob = consoles("bob").sign_in("bob")
    green, yellow, red = "rgb(46, 157, 68)", "rgb(240, 180, 0)", "rgb(217, 48, 37)"
    eventually(lambda: alice.people()["bob"] == {"state": "available", "label": "Available", "color": green}, 10,
               "bob green at alice's")
    assert alice.people()["alice"]["label"] == "Available"
    eventually(lambda: alice.queues()["support"]["agents"] == "2 / 2", 10, "two agents in support")

    bob.click("#toggle-available")
    eventually(lambda: alice.people()["bob"] == {"state": "unavailable", "label": "Not available", "color": red}, 10,
               "bob red at alice's")
    eventually(lambda: alice.queues()["support"]["agents"] == "2 / 1", 10, "one available agent")
    bob.click("#toggle-available")
    bob.wait_state(r"^Online · Available$")
    bob.click("#toggle-busy")
    eventually(lambda: alice.people()["bob"] == {"state": "busy", "label": "Busy", "color": yellow}, 10,
               "bob yellow at alice's")
    alice.screenshot("console-09-people")

    queues = alice.queues()
    assert queues["support"]["waiting"] == 0 and queues["support"]["ongoing"] == 0
    assert set(queues) == {"support", "sales"}, "alice's two departments"
    assert set(bob.queues()) == {"support"}
    visitors("Ana")
    eventually(lambda: alice.queues()["support"]["waiting"] == 1, 10, "one waiting")
    eventually(lambda: seconds(alice.queues()["support"]["longest"]) >= 1, 5, "the longest wait growing")
    alice.take("Ana")
    eventually(lambda: (alice.queues()["support"]["waiting"], alice.queues()["support"]["ongoing"]) == (0, 1), 10,
               "Ana ongoing")
    eventually(lambda: (bob.queues()["support"]["waiting"], bob.queues()["support"]["ongoing"]) == (0, 1), 10,
               "the same at bob's")

    # B5: alice logs out of the sales queue (she is its only agent): it closes; back in, it opens.
    assert alice.queues()["sales"]["loggedIn"] and alice.queues()["sales"]["open"]
    alice.click("#queues tr[data-department-id='sales'] .queue-login")
    eventually(lambda: not alice.queues()["sales"]["open"], 10, "sales closed once alice logged out of it")
    assert not alice.queues()["sales"]["loggedIn"]
    eventually(lambda: gateway.department("sales")["open"] is False, 10, "the widget's view of sales closed too")
    alice.click("#queues tr[data-department-id='sales'] .queue-login")
    eventually(lambda: alice.queues()["sales"]["open"] and alice.queues()["sales"]["loggedIn"], 10, "sales open again")
    assert alice.alerts() == []


def test_register_approve_and_sessions_ended_by_an_admin(gateway, consoles):
    """B1: registering (the form's and the server's errors shown), waiting for approval while
    the admin, in another browser, sees the registration arrive live at the top of the
    accounts table and approves it with roles and departments; the registrant is told and
    signs in. The admin edits the account, ends its sessions (the console says why) and
    disables it (sign-in refused)."""
    name, password = 'Dora <b>Diaz</b>', "dora-" + uuid.uuid4().hex[:12]
    dora = consoles("dora")
    dora.open()
    dora.wait_visible("#login-form")
    dora.click("#show-register")
    dora.wait_visible("#register-form")
    assert dora.active() == "#reg-login"
    dora.register("dora", name, password, confirm=password + "x")
    eventually(lambda: dora.text("#register-error") == "The two passwords differ.", 5, "the confirmation error")
    assert dora.active() == "#reg-confirm"
    dora.register("bob", name, password)
    eventually(lambda: dora.text("#register-error") == "Could not register: The login name 'bob' is taken; choose another. (login_taken)",
               5, "the server's login_taken error")
    assert dora.find("#reg-login").get_attribute("aria-invalid") == "true"

    admin = consoles("admin").sign_in("admin", admin_password(gateway))
    assert admin.text("#me-roles") == "Agent · Supervisor · Admin"
    admin.screen("admin")
    admin.wait_account("bob")
    assert not any(a["status"] == "pending" for a in admin.accounts())

    dora.register("dora", name, password)
    dora.wait_visible("#register-wait")
    assert dora.find("#register-wait").get_attribute("data-status") == "pending"
    assert dora.text("#register-status").startswith("Your registration as “dora” waits for an administrator's approval.")
    dora.screenshot("console-11-registration-waiting")
    status, body, _ = gateway.request("POST", "/api/v1/agents/sessions", {"login": "dora", "password": password})
    assert (status, body["error"]["code"]) == (403, "account_pending")

    # Live at the admin's, first in the table, with the name as text.
    row = admin.wait_account("dora", lambda a: a["status"] == "pending", "pending")
    assert admin.accounts()[0]["agentId"] == "dora"
    assert (row["name"], row["statusLabel"], row["actions"]) == (name, "Waiting for approval", ["Approve…", "Reject…"])
    assert admin.text("#pending-badge") == "1"
    admin.account_button("dora", "approve").click()
    admin.wait_visible("#account-dialog")
    assert admin.text("#account-title") == f"Approve {name}"
    admin.fill_account(roles=set(), departments={"support"})
    admin.click("#account-save")
    eventually(lambda: admin.text("#account-error") == "Choose at least one role.", 5, "the missing-role error")
    admin.fill_account(roles={"agent"}, departments={"support"})
    admin.screenshot("console-12-approve-dialog")
    admin.click("#account-save")
    admin.wait_visible("#account-dialog", visible=False)
    admin.wait_account("dora", lambda a: (a["status"], a["roles"], a["departments"]) == ("active", "Agent", "Customer Support"), "approved")
    assert admin.visible("#pending-badge") is False

    # The registrant's page asks every 3 s: told, and signs in with the login name filled in.
    eventually(lambda: dora.find("#register-wait").get_attribute("data-status") == "active", 10, "dora told of the approval")
    assert dora.text("#register-status") == "Your account “dora” was approved. You can sign in now."
    assert dora.active() == "#register-signin"
    dora.screenshot("console-13-registration-approved")
    dora.click("#register-signin")
    dora.wait_visible("#login-form")
    assert dora.find("#login-name").get_attribute("value") == "dora" and dora.active() == "#password"
    dora.sign_in("dora", password, open_=False)
    assert dora.text("#me-name") == name and not dora.visible("#screens")
    assert set(dora.queues()) == {"support"}

    # Edit: a second department and a maximum of chats.
    admin.account_button("dora", "edit").click()
    admin.fill_account(departments={"support", "sales"}, max_chats=3, away=10)
    admin.click("#account-save")
    admin.wait_visible("#account-dialog", visible=False)
    admin.wait_account("dora", lambda a: (a["departments"], a["maxChats"], a["away"]) == ("Customer Support, Sales", "3", "10 min"), "edited")
    admin.screenshot("console-14-accounts")

    # End sessions (asked first): dora's console shows the sign-in form and why.
    admin.account_button("dora", "end-sessions").click()
    admin.confirm(yes=True)
    dora.wait_visible("#login-form")
    eventually(lambda: dora.login_error() == "You were signed out: Your session has ended; sign in again. (session_ended)", 5,
               "the session-ended message")
    assert dora.find("#login-name").get_attribute("value") == "dora" and dora.session() is None
    dora.screenshot("console-15-session-ended")

    # She signs in again; then the admin disables the account: signed out, sign-in refused.
    dora.sign_in("dora", password, open_=False)
    admin.account_button("dora", "disable").click()
    assert "cannot sign in until the account is enabled again" in admin.text("#confirm-text")
    admin.confirm(yes=True)
    admin.wait_account("dora", lambda a: a["status"] == "disabled" and a["actions"] == ["Enable", "Edit…"], "disabled")
    dora.wait_visible("#login-form")
    eventually(lambda: "(session_ended)" in dora.login_error(), 5, "the session-ended message")
    dora.find("#password").send_keys(password, Keys.ENTER)
    eventually(lambda: dora.login_error() == "Could not sign in: This account is disabled; ask an administrator.", 5,
               "the account_disabled error")
    assert admin.alerts() == [] and dora.alerts() == []


def test_supervisor_watches_queues_logs_agents_in_and_out_and_signs_them_out(gateway, consoles, visitors):
    """B5 for supervisors (sam: agent and supervisor of support): the overview's counters
    follow a visitor's chat; per-agent queue checkboxes log bob out of and back in to the
    support queue; Sign out (asked first) ends bob's session, his console says so, and his
    chat goes back to the queue, where sam sees it. B2: sam idle shows as away."""
    sam = consoles("sam").sign_in("sam")
    bob = consoles("bob").sign_in("bob")
    gateway.wait_department(True)
    assert sam.text("#me-roles") == "Agent · Supervisor" and not sam.visible("#screens")
    eventually(lambda: sam.supervision().get("bob") == {"queues": {"support": True}, "signOut": True}, 10, "controls for bob")
    assert "sam" not in sam.supervision(), "no controls for oneself"
    assert bob.supervision() == {}, "agents have no supervisor controls"

    # B2: with an away time of 3 s sam shows as away when idle (own pill, orange in bob's
    # people view); moving the mouse sends an activity frame and brings him back.
    token = sam.session()["token"]
    status, body, _ = gateway.request("PUT", "/api/v1/agents/me/settings", {"awayAfterMinutes": 0.05}, token=token)
    assert status == 200 and body["account"]["awayAfterMinutes"] == 0.05, body
    try:
        sam.wait_state(r"^Away$", timeout=15)
        assert sam.find("#me-state").get_attribute("data-state") == "away"
        eventually(lambda: bob.people()["sam"] == {"state": "away", "label": "Away", "color": "rgb(232, 113, 10)"}, 10,
                   "sam orange at bob's")
        sam.screenshot("console-16-away")
        ActionChains(sam.driver).move_to_element(sam.find("#incoming-title")).move_by_offset(3, 3).perform()
        sam.wait_state(r"^Online · Available$")
    finally:
        gateway.request("PUT", "/api/v1/agents/me/settings", {"awayAfterMinutes": 5}, token=token)

    # Counters: a visitor waits, bob takes the chat.
    eventually(lambda: (sam.queues()["support"]["waiting"], sam.queues()["support"]["ongoing"]) == (0, 0), 10, "an empty queue")
    vera = visitors("Vera")
    eventually(lambda: sam.queues()["support"]["waiting"] == 1, 10, "Vera waiting in sam's overview")
    sam.wait_incoming(lambda names: names == ["Vera"], "Vera")
    bob.wait_incoming(lambda names: names == ["Vera"], "Vera")
    bob.take("Vera")
    bob.wait_my_chat("Vera", lambda c: c["group"] == "active")
    eventually(lambda: (sam.queues()["support"]["waiting"], sam.queues()["support"]["ongoing"]) == (0, 1), 10, "Vera's chat ongoing")
    sam.wait_incoming(lambda names: names == [], "Vera taken")

    # Sam logs bob out of the support queue (bob's own checkbox follows) and back in.
    bob_support = "#people li[data-agent-id='bob'] .agent-queue[data-department-id='support']"
    sam.click(bob_support)
    eventually(lambda: sam.supervision()["bob"]["queues"] == {"support": False}, 10, "bob logged out at sam's")
    eventually(lambda: not bob.queues()["support"]["loggedIn"], 10, "bob's own checkbox cleared")
    sam.click(bob_support)
    eventually(lambda: sam.supervision()["bob"]["queues"] == {"support": True}, 10, "bob logged in again at sam's")
    eventually(lambda: bob.queues()["support"]["loggedIn"], 10, "bob's own checkbox set")

    # Sign bob out: asked first; his console shows why; Vera's chat goes back to the queue.
    sam.click("#people li[data-agent-id='bob'] .sign-out-agent")
    sam.wait_visible("#confirm")
    assert sam.text("#confirm-title") == "Sign out Bob Berg?" and sam.active() == "#confirm-no"
    sam.screenshot("console-17-supervisor-sign-out")
    sam.confirm(yes=True)
    bob.wait_visible("#login-form")
    eventually(lambda: bob.login_error() == "You were signed out: Your session has ended; sign in again. (session_ended)", 5,
               "why bob was signed out")
    sam.wait_incoming(lambda names: names == ["Vera"], "Vera back in the queue", timeout=15)
    eventually(lambda: (sam.queues()["support"]["waiting"], sam.queues()["support"]["ongoing"]) == (1, 0), 10,
               "the overview counting Vera as waiting again")
    eventually(lambda: sam.people()["bob"]["state"] == "offline", 10, "bob offline at sam's")
    assert vera.chat()["status"] == "queued"
    sam.screenshot("console-18-supervisor")
    assert sam.alerts() == []


def test_admin_copies_a_widget_snippet(gateway, consoles):
    """The admin screen shows each department's widget snippet (the attribute widget.js
    reads: data-department) with a Copy button."""
    admin = consoles("admin")
    admin.driver.execute_cdp_cmd("Browser.grantPermissions", {
        "origin": admin.origin, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]})
    admin.sign_in("admin", admin_password(gateway))
    admin.screen("admin")
    shown = eventually(lambda: (s := admin.snippets()) and set(s) == {"support", "sales"} and s, 10, "both departments' snippets")
    for department in ("support", "sales"):
        assert shown[department]["text"] == f'<script src="{admin.origin}/widget.js" data-department="{department}" async></script>'
    assert shown["support"]["label"] == "Customer Support support"
    admin.click("#snippets li[data-department-id='sales'] .copy")
    eventually(lambda: admin.snippets()["sales"]["copied"] == "Copied the Sales snippet.", 5, "the copied note")
    clipboard = admin.driver.execute_async_script(
        "const done = arguments[arguments.length - 1]; navigator.clipboard.readText().then(done, (e) => done('error: ' + e));")
    assert clipboard == shown["sales"]["text"]
    admin.screenshot("console-19-widget-snippets")
    admin.screen("chats")
    assert admin.active() == "#screen-chats"


def test_own_away_time_and_password_change(gateway, consoles):
    """Settings: the own away time, and a password change that keeps this console signed in
    (with a new session) while every other session of the account ends."""
    from helpers import AGENT_PASSWORD
    bob = consoles("bob")
    bob.sign_in("bob")
    _, other, _ = gateway.request("POST", "/api/v1/agents/sessions", {"login": "bob", "password": AGENT_PASSWORD})
    bob.click("#open-settings")
    bob.wait_visible("#settings-dialog")
    eventually(lambda: bob.find("#settings-away").get_attribute("value") not in ("", None), 5, "the away time read")
    before = bob.find("#settings-away").get_attribute("value")
    field = bob.find("#settings-away")
    field.clear()
    field.send_keys("7", Keys.ENTER)
    eventually(lambda: bob.text("#away-status") == "You show as away after 7 idle minutes.", 10, "the away time saved")
    _, me, _ = gateway.request("GET", "/api/v1/agents/me", token=other["token"])
    assert me["account"]["awayAfterMinutes"] == 7
    field.clear()
    field.send_keys(before, Keys.ENTER)
    eventually(lambda: "idle minutes" in bob.text("#away-status") or "never" in bob.text("#away-status"), 10, "restored")

    new_password = "changed-" + uuid.uuid4().hex[:10]
    bob.find("#password-current").send_keys("not-my-password")
    bob.find("#password-new").send_keys(new_password)
    bob.find("#password-confirm").send_keys(new_password, Keys.ENTER)
    eventually(lambda: bob.text("#password-error") == "Not changed: The current password is wrong. (wrong_password)", 10, "the refusal")
    for selector, value in (("#password-current", AGENT_PASSWORD), ("#password-new", new_password), ("#password-confirm", new_password)):
        bob.find(selector).clear()
        bob.find(selector).send_keys(value)
    bob.click("#password-save")
    eventually(lambda: bob.text("#password-status") == "Password changed. Your other sessions are signed out.", 15, "the change")
    bob.screenshot("console-20-settings")
    bob.click("#settings-close")
    bob.wait_state(r"^Online · Available$")
    assert gateway.request("GET", "/api/v1/agents/me", token=other["token"])[0] == 401, "the other session ended"
    assert gateway.request("GET", "/api/v1/agents/me", token=bob.session()["token"])[0] == 200, "this console has a new session"
    # Back to the shared test password for the other tests.
    status, _, _ = gateway.request("PUT", "/api/v1/agents/me/password", {"currentPassword": new_password, "newPassword": AGENT_PASSWORD},
                                   token=bob.session()["token"])
    assert status == 200


def test_offers_accept_decline_and_expiry(offer_gateway, consoles, visitors):
    """With offers on (automatic assignment, 6 s to accept): the offered agent sees Accept,
    Decline and a countdown; the other sees whom it is offered to and cannot take it. A
    decline passes the offer on; an offer that runs out loses its buttons and moves on."""
    alice = consoles("alice", offer_gateway).sign_in("alice")
    bob = consoles("bob", offer_gateway).sign_in("bob")
    offer_gateway.wait_department(True)
    time.sleep(0.5)  # the router learns of both agents through presence too
    visitors("Olga", offer_gateway)

    def offered(console):
        entry = next(iter(console.incoming()), None)
        return entry and entry["status"] == "offered" and entry
    eventually(lambda: offered(alice) and offered(bob), 10, "the offer in both consoles")
    by_name = {"Alice Adams": alice, "Bob Berg": bob}
    to = next(name for name in by_name if (offered(by_name[name]) or {}).get("offer", "").startswith("Offered to you"))
    mine, other = by_name[to], next(c for n, c in by_name.items() if n != to)
    entry = offered(mine)
    assert (entry["accept"], entry["decline"], entry["take"]) == (True, True, False)
    left = int(re.search(r"Offered to you: (\d+) s left to accept", entry["offer"]).group(1))
    assert 1 <= left <= 6
    eventually(lambda: int(re.search(r"(\d+) s", offered(mine)["offer"]).group(1)) < left, 3, "the countdown running")
    theirs = offered(other)
    assert theirs["offer"] == f"Offered to {to}" and not (theirs["take"] or theirs["accept"] or theirs["decline"])
    mine.screenshot("console-10-offer")

    # Declining passes the offer to the other agent, who accepts it.
    mine.click("#incoming .decline")
    eventually(lambda: (offered(other) or {}).get("accept"), 10, "the offer passed on")
    eventually(lambda: (offered(mine) or {}).get("offer") == f"Offered to {other.text('#me-name')}", 5, "shown as someone else's")
    other.click("#incoming .accept")
    other.wait_my_chat("Olga", lambda c: c["group"] == "active" and c["current"])
    for console in (alice, bob):
        console.wait_incoming(lambda names: names == [], "Olga gone")

    # An offer nobody accepts: the buttons go when the time is up and the offer moves on.
    visitors("Piet", offer_gateway)
    holder = eventually(lambda: next((c for c in (alice, bob) if (offered(c) or {}).get("accept")), None), 10, "Piet offered")
    nxt = bob if holder is alice else alice
    eventually(lambda: not (offered(holder) or {}).get("accept"), 10, "the expired offer's buttons gone")
    eventually(lambda: (offered(nxt) or {}).get("accept"), 10, "Piet offered to the other agent after the timeout")
    assert holder.alerts() == [] and nxt.alerts() == []
