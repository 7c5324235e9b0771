"""Admin-defined pre-chat forms (A3, D2, C2) in headless Chromium against the system chat-dev
runs: the admin builds the support department's form in the console, a visitor's open widget
shows it live and checks it before sending, the gateway checks it again (also for a client
that ignores the widget), and agents see the answers in Incoming, the customer panel and the
archive. Screenshots: widget-prechat.png and console-prechat-admin.png.

The support department is shared with the other tests, which expect no required fields: the
`support_form` fixture puts the empty form back after the test."""

import json
import re
import uuid

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from helpers import admin_password, eventually

EMPTY_FORM = {"fields": [], "categories": [], "categoryRequired": False}
EDITOR = "#prechat-forms li[data-department-id='support']"
START = "form.prechat:not(.offline-form) button[type=submit]"
EXPECTED_FORM = {
    "fields": [
        {"id": "company", "label": "Company", "kind": "text", "required": True, "options": []},
        {"id": "phone", "label": "Phone", "kind": "phone", "required": False, "options": []},
        {"id": "product", "label": "Product", "kind": "select", "required": False, "options": ["Widget", "Gadget"]},
    ],
    "categories": ["Billing", "Technical"],
    "categoryRequired": True,
}


@pytest.fixture
def support_form(gateway):
    """An admin token over HTTP; afterwards the support department's form is empty again."""
    status, body, _ = gateway.request("POST", "/api/v1/agents/sessions", {"login": "admin", "password": admin_password(gateway)})
    assert status == 201, body
    token = body["token"]
    try:
        yield token
    finally:
        status, body, _ = gateway.request("PUT", "/api/v1/departments/support/settings", {"preChatForm": EMPTY_FORM}, token=token)
        assert status == 200, body
        assert gateway.department()["preChatForm"] == EMPTY_FORM


# ---- Reading the widget's pre-chat form and the console's editor ----

def widget_fields(widget):
    """The department's fields the widget shows (not the name), in order."""
    return widget.js("""return [...root.querySelectorAll('.fields label')].map(l => {
        const i = root.getElementById(l.htmlFor), e = root.getElementById(i.getAttribute('aria-describedby'));
        return {label: l.textContent, name: i.name, tag: i.tagName.toLowerCase(), type: i.type, required: i.required,
                value: i.value, options: i.tagName === 'SELECT' ? [...i.options].map(o => o.textContent) : null,
                error: e ? e.textContent : null, invalid: i.getAttribute('aria-invalid')}; })""")


def errors(widget):
    return {f["name"]: f["error"] for f in widget_fields(widget) if f["error"]}


def field(widget, name):
    return widget.find(f"[name='{name}']")


def focused_name(widget):
    return widget.js("return root.activeElement ? root.activeElement.name || root.activeElement.id : null")


def editor_rows(admin):
    return admin.js("""return [...document.querySelectorAll(arguments[0] + ' .pc-field')].map(li => ({
        label: li.querySelector('.pc-f-label').value, id: li.querySelector('.pc-f-id').value, kind: li.querySelector('.pc-f-kind').value,
        required: li.querySelector('.pc-f-required').checked, options: li.querySelector('.pc-f-options').value,
        optionsShown: !li.querySelector('.pc-options').hidden}))""", EDITOR)


def editor_row(admin, index):
    return admin.driver.find_elements(By.CSS_SELECTOR, f"{EDITOR} .pc-field")[index]


def add_field(admin, label, kind=None, required=False, options=()):
    admin.click(f"{EDITOR} .pc-add")
    row = editor_row(admin, -1)
    assert admin.js("return document.activeElement.classList.contains('pc-f-label')"), "the new field's label is focused"
    row.find_element(By.CSS_SELECTOR, ".pc-f-label").send_keys(label)
    if kind:
        Select(row.find_element(By.CSS_SELECTOR, ".pc-f-kind")).select_by_value(kind)
    if required:
        row.find_element(By.CSS_SELECTOR, ".pc-f-required").click()
    if options:
        row.find_element(By.CSS_SELECTOR, ".pc-f-options").send_keys("\n".join(options))
    return row


def editor_status(admin):
    return admin.text(f"{EDITOR} .pc-status")


def pairs(console, selector):
    """A definition list as [(term, description)]."""
    return [tuple(p) for p in console.js("""const dl = document.querySelector(arguments[0]);
        return [...dl.querySelectorAll('dt')].map(dt => [dt.textContent, dt.nextElementSibling.textContent])""", selector)]


def test_admin_defines_a_pre_chat_form_visitors_fill_in_and_agents_read(gateway, consoles, widget, support_form):
    admin_token = support_form
    admin = consoles("admin").sign_in("admin", admin_password(gateway))
    alice = consoles("alice").sign_in("alice")
    gateway.wait_department(True)
    assert gateway.department()["preChatForm"] == EMPTY_FORM

    # The visitor's widget is open before the form exists: only the name is asked.
    widget.open()
    widget.click(".launcher")
    widget.wait_visible(".prechat")
    assert widget_fields(widget) == [] and widget.js("return root.querySelector('.fields').hidden")

    # The admin builds the form: Company (required), Product (a choice), Phone; Phone moves up.
    admin.screen("admin")
    admin.wait_visible(EDITOR)
    eventually(lambda: admin.visible(f"{EDITOR} .pc-none"), 10, "the empty form read from the server")
    assert admin.text(f"{EDITOR} .pc-dept") == "Customer Support"
    add_field(admin, "Company", required=True)
    add_field(admin, "Product", kind="select", options=("Widget", "Gadget"))
    add_field(admin, "Phone", kind="phone")
    assert [(r["label"], r["id"], r["kind"], r["required"], r["optionsShown"]) for r in editor_rows(admin)] == [
        ("Company", "company", "text", True, False), ("Product", "product", "select", False, True), ("Phone", "phone", "phone", False, False)]
    assert editor_status(admin) == "Changes not saved yet."
    up = editor_row(admin, 2).find_element(By.CSS_SELECTOR, ".pc-up")
    assert up.get_attribute("aria-label") == "Move Phone up"
    up.click()
    assert [r["id"] for r in editor_rows(admin)] == ["company", "phone", "product"]
    assert admin.js("return document.activeElement.getAttribute('aria-label')") == "Move Phone up", "the focus stays on the button"
    # A second "Company" gets an id of its own; Remove takes it away again.
    add_field(admin, "Company")
    assert editor_rows(admin)[3]["id"] == "company_2"
    editor_row(admin, 3).find_element(By.CSS_SELECTOR, ".pc-remove").click()
    assert [r["id"] for r in editor_rows(admin)] == ["company", "phone", "product"]

    # "A category is required" without categories: the server refuses, the editor says why.
    required_box = admin.find(f"{EDITOR} .pc-category-required")
    required_box.click()
    admin.click(f"{EDITOR} .pc-save")
    eventually(lambda: re.fullmatch(r"Not saved: .+ \(invalid_request\)", editor_status(admin) or ""), 10,
               f"the server's refusal (shows {editor_status(admin)!r})")
    assert "error" in admin.find(f"{EDITOR} .pc-status").get_attribute("class")
    assert gateway.department()["preChatForm"] == EMPTY_FORM
    required_box.click()
    admin.click(f"{EDITOR} .pc-save")
    eventually(lambda: editor_status(admin) == "Saved: 3 fields (1 required).", 10, f"saved (shows {editor_status(admin)!r})")

    # The open widget shows the fields at once (department frames carry the form).
    shown = eventually(lambda: (f := widget_fields(widget)) and len(f) == 3 and f, 10, "the fields in the open widget")
    assert [(f["label"], f["name"], f["tag"], f["type"], f["required"]) for f in shown] == [
        ("Company (required)", "company", "input", "text", True),
        ("Phone", "phone", "input", "tel", False),
        ("Product", "product", "select", "select-one", False)]
    assert shown[2]["options"] == ["Choose…", "Widget", "Gadget"]

    # Sending it empty: errors next to the fields, nothing is sent.
    widget.click(START)
    eventually(lambda: widget.text("#lc-err") == "Please enter your name.", 5, "the name error")
    assert errors(widget) == {"company": "Company is required."}
    assert field(widget, "company").get_attribute("aria-invalid") == "true"
    assert focused_name(widget) == "name"  # the name field (name="name")
    assert "token" not in widget.visitor_state() and "chatId" not in widget.chat_state()
    name = "Paula " + uuid.uuid4().hex[:6]
    widget.find("#lc-name").send_keys(name)
    field(widget, "company").send_keys("ACME <b>Ltd</b>")
    field(widget, "phone").send_keys("12ab")

    # The admin adds the categories (one must be chosen); the widget keeps what was typed.
    admin.find(f"{EDITOR} .pc-categories").send_keys("Billing\nTechnical")
    required_box.click()
    admin.click(f"{EDITOR} .pc-save")
    eventually(lambda: editor_status(admin) == "Saved: 3 fields (1 required), 2 categories (one must be chosen).", 10,
               f"saved (shows {editor_status(admin)!r})")
    status, body, _ = gateway.request("GET", "/api/v1/departments/support/settings", token=admin_token)
    assert status == 200 and body["settings"]["preChatForm"] == EXPECTED_FORM, body
    assert gateway.department()["preChatForm"] == EXPECTED_FORM
    admin.screenshot("console-prechat-admin")
    shown = eventually(lambda: (f := widget_fields(widget)) and len(f) == 4 and f, 10, "the category in the open widget")
    assert (shown[3]["label"], shown[3]["name"], shown[3]["options"], shown[3]["required"]) == (
        "Category (required)", "category", ["Choose…", "Billing", "Technical"], True)
    assert [f["value"] for f in shown] == ["ACME <b>Ltd</b>", "12ab", "", ""]
    assert widget.find("#lc-name").get_attribute("value") == name

    # A bad phone number and no category: told before anything is sent (Enter sends the form).
    field(widget, "phone").send_keys(Keys.ENTER)
    eventually(lambda: errors(widget) == {"phone": "Please enter a valid phone number.", "category": "Please choose a category."}, 5,
               f"the phone and category errors (shows {errors(widget)})")
    assert widget.text("#lc-err") == ""
    assert field(widget, "phone").get_attribute("aria-invalid") == "true" and field(widget, "company").get_attribute("aria-invalid") is None
    assert field(widget, "phone").get_attribute("aria-describedby") == widget.js(
        "return root.querySelector('[name=phone]').nextElementSibling.id")
    assert focused_name(widget) == "phone"
    assert "token" not in widget.visitor_state() and "chatId" not in widget.chat_state()
    assert alice.incoming_names() == []
    widget.screenshot("widget-prechat")

    # The gateway checks the form itself, whatever the client sends (422 prechat_invalid + field).
    status, visitor, _ = gateway.request("POST", "/api/v1/visitors", {"displayName": "Direct " + name})
    assert status == 201, visitor
    refusals = {}
    for what, pre_chat, field_id in (
            ("nothing", None, "company"),
            ("no company", {"fields": {"phone": "+49 30 1234"}, "category": "Billing"}, "company"),
            ("a blank company", {"fields": {"company": "   "}, "category": "Billing"}, "company"),
            ("a bad phone", {"fields": {"company": "ACME", "phone": "12ab"}, "category": "Billing"}, "phone"),
            ("an unknown product", {"fields": {"company": "ACME", "product": "Gizmo"}, "category": "Billing"}, "product"),
            ("no category", {"fields": {"company": "ACME"}}, "category"),
            ("an unknown category", {"fields": {"company": "ACME"}, "category": "Sales"}, "category")):
        request = {"departmentId": "support", **({"preChat": pre_chat} if pre_chat else {})}
        status, body, _ = gateway.request("POST", "/api/v1/chats", request, token=visitor["token"])
        error = body.get("error", {})
        assert (status, error.get("code"), error.get("field")) == (422, "prechat_invalid", field_id), (what, status, body)
        assert error.get("message"), body
        refusals[what] = error["message"]
    status, body, _ = gateway.request("POST", "/api/v1/chats", {"departmentId": "support", "preChat": {
        "fields": {"company": "ACME", "fax": "1234"}, "category": "Billing"}}, token=visitor["token"])
    assert (status, body.get("error", {}).get("code")) == (422, "prechat_invalid"), body
    assert alice.incoming_names() == [], "no chat was started"

    # The server's refusal shows next to the field it names (a stale form, played by dropping
    # the company from what the widget sends).
    field(widget, "phone").clear()
    field(widget, "phone").send_keys("+49 30 1234-56")
    Select(field(widget, "product")).select_by_value("Gadget")  # (options by CSS: XPath does not reach into the shadow root)
    Select(field(widget, "category")).select_by_value("Billing")
    widget.driver.execute_script("""
        window.__fetch = window.fetch;
        window.fetch = (url, options) => {
          if (String(url).endsWith('/api/v1/chats') && options && options.method === 'POST') {
            const body = JSON.parse(options.body);
            delete body.preChat.fields.company;
            options = Object.assign({}, options, { body: JSON.stringify(body) });
          }
          return window.__fetch(url, options);
        };""")
    widget.click(START)
    eventually(lambda: errors(widget) == {"company": refusals["no company"]}, 10,
               f"the server's message at the company field (shows {errors(widget)}, {widget.text('#lc-err')!r})")
    assert field(widget, "company").get_attribute("aria-invalid") == "true" and focused_name(widget) == "company"
    assert "chatId" not in widget.chat_state()
    widget.driver.execute_script("window.fetch = window.__fetch")

    # Filled in correctly: the chat starts.
    widget.click(START)
    widget.wait_visible("#lc-text")
    chat_id = eventually(lambda: widget.chat_state().get("chatId"), 10, "the chat id in the widget")
    expected = {"answers": [{"id": "company", "label": "Company", "value": "ACME <b>Ltd</b>"},
                            {"id": "phone", "label": "Phone", "value": "+49 30 1234-56"},
                            {"id": "product", "label": "Product", "value": "Gadget"}], "category": "Billing"}

    # Alice's Incoming shows the category and the first two answers.
    alice.wait_incoming(lambda names: name in names, name)
    line = f"#incoming li[data-chat-id='{chat_id}'] .prechat-line"
    eventually(lambda: alice.visible(line), 5, "the pre-chat line")
    assert alice.text(line + " .category") == "Billing"
    assert alice.text(line) == "Billing Company: ACME <b>Ltd</b> · Phone: +49 30 1234-56"
    status, body, _ = gateway.request("GET", "/api/v1/queue", token=alice.session()["token"])
    assert next(c for c in body["chats"] if c["chatId"] == chat_id)["preChat"] == expected, body
    alice.screenshot("console-prechat-incoming")

    # After Take, the customer panel lists the category and every answer, as text.
    alice.take(name)
    alice.wait_my_chat(name, lambda c: c["current"], "shown")
    eventually(lambda: alice.visible("#customer-prechat"), 5, "the pre-chat answers in the customer panel")
    assert pairs(alice, "#customer-prechat-list") == [
        ("Category", "Billing"), ("Company", "ACME <b>Ltd</b>"), ("Phone", "+49 30 1234-56"), ("Product", "Gadget")]
    assert not alice.js("return !!document.querySelector('#customer-prechat-list b, #incoming b')")
    status, body, _ = gateway.request("GET", f"/api/v1/chats/{chat_id}", token=alice.session()["token"])
    assert status == 200 and body["chat"]["preChat"] == expected, body
    # E2: the visitor's contact number ("Guest-N", from their token) next to the name.
    contact = body["chat"]["visitor"]["contact"]
    assert re.fullmatch(r"Guest-\d+", contact), body
    assert alice.text("#customer-contact") == contact
    alice.screenshot("console-prechat-customer")

    # Closed: the archive shows the answers with the chat.
    alice.click("#act-close")
    alice.confirm(yes=True)
    alice.wait_my_chat(name, lambda c: c["group"] == "wrapups", "in wrap-up")
    alice.click("#screen-archive")
    alice.wait_visible("#archive")
    alice.archive_search(name, lambda rows: any(r["chatId"] == chat_id and r["status"] == "Closed" for r in rows), "the closed chat")
    alice.click(f"#archive-results tr[data-chat-id='{chat_id}'] .archived-open")
    eventually(lambda: (a := alice.archived()) and a["chatId"] == chat_id, 10, "the archived chat")
    alice.wait_visible("#archived-prechat")
    assert pairs(alice, "#archived-prechat-list") == [
        ("Category", "Billing"), ("Company", "ACME <b>Ltd</b>"), ("Phone", "+49 30 1234-56"), ("Product", "Gadget")]
    status, body, _ = gateway.request("GET", f"/api/v1/archive/chats/{chat_id}", token=alice.session()["token"])
    assert status == 200 and body["chat"]["preChat"] == expected, json.dumps(body)[:500]

    # The next chat asks again; the form fits a 320 px window, every field labelled.
    widget.wait_status(r"^The chat has ended\. Thank you!$")
    widget.click(".again")
    widget.wait_visible(".prechat")
    widget.driver.set_window_size(320, 640)
    if widget.driver.execute_script("return innerWidth") > 320:
        widget.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": 320, "height": 640, "deviceScaleFactor": 1, "mobile": True})
    eventually(lambda: widget.driver.execute_script("return innerWidth") == 320, 5, "a 320 px window")
    view_width = widget.driver.execute_script("return document.documentElement.clientWidth")
    overflow = widget.js("""return [...root.querySelectorAll('.panel *')].filter(e => {
        const r = e.getBoundingClientRect(); return r.width && (r.left < 0 || r.right > arguments[0] + 0.5); })
        .map(e => e.className || e.tagName)""", view_width)
    assert overflow == []
    assert len(widget_fields(widget)) == 4
    unlabelled = widget.js("""return [...root.querySelectorAll('.prechat input, .prechat select, .prechat textarea')]
        .filter(e => !(e.id && root.querySelector(`label[for="${e.id}"]`)?.textContent.trim())).map(e => e.outerHTML)""")
    assert unlabelled == []
    # The submit button is reachable: the form scrolls inside the panel.
    widget.js("root.querySelector(arguments[0]).scrollIntoView()", START)
    assert widget.visible(START)
