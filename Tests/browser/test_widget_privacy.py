"""The widget's privacy dialog ("Delete my data", A6) and "E-mail me the transcript" (A7) in
headless Chromium. The e-mail test runs its own chat-dev system whose archiver mails through
a tiny SMTP sink (smtp_sink.py) on a loopback port.

The refusals (409 chat_open, 503 not_configured) are read on the gateway's own demo page:
on another origin the browser can read them only once the gateway's error answers carry
CORS headers too (test_cross_origin_error_answers_are_readable says whether they do)."""

import email
import email.policy

import pytest

from conftest import chat_dev_system
from helpers import Agent, HostSite, Relay, Visitor, eventually, gateway_allows
from smtp_sink import SMTPSink
from widget_page import WidgetPage


def visitor_id(gateway, agent, chat_id):
    return gateway.request("GET", f"/api/v1/chats/{chat_id}", token=agent.token)[1]["chat"]["visitor"]["id"]


def end_chat(widget):
    widget.click(".end")
    widget.click(".yes")
    widget.wait_status(r"^The chat has ended\. Thank you!$")


@pytest.fixture
def own_page(browser, relay, gateway, request):
    """The widget on the gateway's own demo page (same origin, through the relay)."""
    page = WidgetPage(browser, relay.origin + "/demo.html")
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        page.screenshot("failed-" + request.node.name)
        print(gateway.log_tails())
        for entry in browser.get_log("browser"):
            print(entry.get("level"), entry.get("message"))


def test_delete_my_data_refused_while_chatting_then_forgets_the_visitor(gateway, own_page, agent):
    """A6: "Delete my data" asks first; while the chat is open the server refuses (its words
    are shown); after the chat ended it deletes, and the widget forgets the visitor: the next
    chat starts as a new visitor. On this system e-mail is not set up: "E-mail me the
    transcript" shows the server's answer."""
    widget = own_page
    agent.connect()
    widget.open()
    widget.start_chat("Petra Privat")
    chat_id = agent.queued_chat("Petra Privat")
    old_visitor = visitor_id(gateway, agent, chat_id)
    agent.take(chat_id)
    widget.wait_status(r"^You are chatting with Alice Adams$")
    widget.type_message("Hello, I want to be forgotten later")
    widget.wait_messages(["Hello, I want to be forgotten later"])
    old_token = widget.visitor_state()["token"]
    assert not widget.visible("#lc-mail"), "no e-mail form while the chat is open"

    widget.click(".privacy-open")
    widget.wait_visible(".privacy")
    assert widget.find(".privacy-open").get_attribute("aria-expanded") == "true"
    assert widget.active() == "btn danger erase" and not widget.visible(".conv")
    widget.click(".erase")
    widget.wait_visible(".erase-confirm")
    assert widget.active() == "btn ghost erase-no"
    widget.click(".erase-no")
    widget.wait_visible(".erase-confirm", visible=False)
    widget.click(".erase")
    widget.screenshot("13-privacy-confirm")
    widget.click(".erase-yes")
    eventually(lambda: widget.text(".privacy-msg") == "End your chat first; then your data can be deleted.", 10,
               f"the server's chat_open message (shows {widget.text('.privacy-msg')!r})")
    assert widget.visitor_state()["token"] == old_token
    widget.screenshot("14-privacy-refused")
    widget.click(".privacy-back")
    widget.wait_visible(".conv")
    assert widget.active() == "#lc-text"

    end_chat(widget)
    # E-mail me the transcript: checked here, then the server's answer (no relay on this system).
    widget.wait_visible("#lc-mail")
    widget.click(".mail button[type=submit]")
    eventually(lambda: widget.text(".mail-status") == "Please enter a valid e-mail address.", 5, "the address check")
    widget.find("#lc-mail").send_keys("petra@example.com")
    widget.click(".mail button[type=submit]")
    eventually(lambda: widget.text(".mail-status") == "Could not send the transcript: E-mail is not set up on this system.", 10,
               f"the server's not_configured (shows {widget.text('.mail-status')!r})")
    widget.screenshot("15-email-not-configured")

    widget.click(".privacy-open")
    widget.click(".erase")
    widget.click(".erase-yes")
    eventually(lambda: widget.text(".privacy-msg") == "Your data was deleted.", 10,
               f"the deletion confirmed (shows {widget.text('.privacy-msg')!r})")
    assert not widget.visitor_state().get("token"), widget.visitor_state()
    assert not widget.chat_state().get("chatId")
    widget.screenshot("16-data-deleted")
    # The server forgot the chat too.
    eventually(lambda: gateway.request("GET", f"/api/v1/archive/chats?visitorId={old_visitor}", token=agent.token)[1]["chats"] == [],
               10, "the visitor's chats gone from the archive")

    # The next chat is a new visitor with a new token.
    widget.click(".privacy-back")
    widget.wait_visible("#lc-name")
    assert widget.find("#lc-name").get_attribute("value") == ""
    widget.find("#lc-name").send_keys("Petra Neu\n")
    widget.wait_visible("#lc-text")
    new_chat = agent.queued_chat("Petra Neu")
    assert visitor_id(gateway, agent, new_chat) != old_visitor
    assert widget.visitor_state()["token"] not in (None, old_token)
    end_chat(widget)


def test_cross_origin_error_answers_are_readable(gateway, host_site, agent):
    """A refusal must reach the widget on a customer's site: the error answer needs
    Access-Control-Allow-Origin like the successful ones, or the browser reports only
    "Failed to fetch" instead of e.g. "End your chat first; then your data can be deleted."."""
    agent.connect()
    visitor = Visitor(gateway, "Cross Refusal")
    try:
        status, body, headers = gateway.request("DELETE", "/api/v1/visitors/me", token=visitor.token,
                                                headers={"Origin": host_site.origin})
        assert status == 409 and body["error"]["code"] == "chat_open", body
        assert headers.get("Access-Control-Allow-Origin") == host_site.origin, headers
    finally:
        visitor.close()


@pytest.fixture(scope="module")
def smtp():
    sink = SMTPSink()
    yield sink
    sink.close()


@pytest.fixture(scope="module")
def mail_gateway(tmp_path_factory, smtp):
    """A system whose archiver mails transcripts through the SMTP sink."""
    yield from chat_dev_system(tmp_path_factory, "livechat-mail", {
        "ARCHIVER_SMTP_HOST": "127.0.0.1", "ARCHIVER_SMTP_PORT": str(smtp.port), "ARCHIVER_SMTP_SECURITY": "none"})


@pytest.fixture(scope="module")
def mail_page_url(mail_gateway):
    relay = Relay(int(mail_gateway.base.rsplit(":", 1)[1]))
    site = HostSite(relay.origin)
    yield site.origin + "/index.html" if gateway_allows(mail_gateway, site.origin) else relay.origin + "/demo.html"
    site.close()
    relay.close()


def test_email_me_the_transcript_arrives_with_the_pdf(mail_gateway, mail_page_url, browser, smtp, request):
    """A7: after the chat ended the visitor types an address; the archiver mails the
    transcript there as a PDF attachment (received by the SMTP sink)."""
    agent = Agent(mail_gateway)
    agent.connect()
    page = WidgetPage(browser, mail_page_url)
    try:
        mail_gateway.wait_department(True)
        page.open()
        page.start_chat("Mia Mail")
        chat_id = agent.queued_chat("Mia Mail")
        agent.take(chat_id)
        page.type_message("Please send me this chat")
        agent.say(chat_id, "Sure, it is on its way.")
        page.wait_messages(["Please send me this chat", "Sure, it is on its way."])
        end_chat(page)
        page.find("#lc-mail").send_keys("mia@example.org")
        page.click(".mail button[type=submit]")
        eventually(lambda: page.text(".mail-status") == "Transcript sent to mia@example.org.", 10,
                   f"the confirmation (shows {page.text('.mail-status')!r})")
        page.screenshot("17-email-transcript-sent")
        mail = eventually(lambda: next((m for m in smtp.mails() if "mia@example.org" in m["to"]), None), 30, "the mail at the SMTP sink")
        assert mail["to"] == ["mia@example.org"]
        message = email.message_from_bytes(mail["data"], policy=email.policy.default)
        assert "mia@example.org" in message["To"]
        pdfs = [part for part in message.iter_attachments() if part.get_content_type() == "application/pdf"]
        assert len(pdfs) == 1, [part.get_content_type() for part in message.walk()]
        assert pdfs[0].get_content().startswith(b"%PDF")
        assert pdfs[0].get_filename().endswith(".pdf")
    except Exception:
        page.screenshot("failed-" + request.node.name)
        print(mail_gateway.log_tails())
        raise
    finally:
        agent.disconnect()
