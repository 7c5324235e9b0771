"""Fixtures for the visitor-widget tests: the system (chat-dev), the relay the browser goes
through, the host page, an agent and a headless Chromium. See helpers.py."""

import os
import pty
import signal
import subprocess
import threading
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from helpers import CHROMEDRIVER, CHROMIUM, INSTRUMENT, ROOT, Agent, Gateway, HostSite, Relay, free_port, gateway_allows
from widget_page import WidgetPage


@pytest.fixture(scope="session")
def gateway(tmp_path_factory):
    bin_dir = Path(os.environ.get("CHAT_BIN_DIR", ROOT / ".build" / "debug"))
    chat_dev = bin_dir / "chat-dev"
    if not chat_dev.exists():
        pytest.fail(f"{chat_dev} is missing: build first, or set CHAT_BIN_DIR to the folder of the built executables")
    data = tmp_path_factory.mktemp("livechat")
    port = free_port()
    env = dict(os.environ, CHAT_BIN_DIR=str(bin_dir), PRESENCE_GRACE_SECONDS="1")
    # chat-dev's stdout is block-buffered unless it is a terminal: give it a pseudo-terminal
    # so "Live chat is running." arrives when it is printed.
    master, slave = pty.openpty()
    process = subprocess.Popen([str(chat_dev), "--data", str(data), "--port", str(port)], cwd=ROOT, env=env,
                               stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
    os.close(slave)
    output, ready = [], threading.Event()

    def pump():
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            output.append(chunk.decode(errors="replace"))
            if "Live chat is running." in "".join(output):
                ready.set()
        os.close(master)
    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(120):
        process.kill()
        process.wait()
        pytest.fail("chat-dev did not print 'Live chat is running.':\n" + "".join(output))
    system = Gateway(f"http://127.0.0.1:{port}", data)
    yield system
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def relay(gateway):
    relay = Relay(int(gateway.base.rsplit(":", 1)[1]))
    yield relay
    relay.close()


@pytest.fixture(scope="session")
def host_site(relay):
    site = HostSite(relay.origin)
    yield site
    site.close()


@pytest.fixture(scope="session")
def page_url(gateway, relay, host_site):
    """The page the visitor opens. The host page is on another origin than the gateway when
    the gateway sends CORS headers; until then the gateway's own demo.html (same origin),
    and test_cross_origin_host_page says what is missing."""
    if gateway_allows(gateway, host_site.origin):
        return host_site.origin + "/index.html"
    return relay.origin + "/demo.html"


@pytest.fixture
def agent(gateway):
    agent = Agent(gateway)
    yield agent
    agent.disconnect()
    # Leave the department closed for the next test (PRESENCE_GRACE_SECONDS=1).
    gateway.wait_department(False)


@pytest.fixture
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1000,760", "--lang=en-US"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": INSTRUMENT})
    yield driver
    driver.quit()


@pytest.fixture
def widget(browser, page_url, request, gateway):
    page = WidgetPage(browser, page_url)
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        page.screenshot("failed-" + request.node.name)
        print(gateway.log_tails())
        print("---- browser console ----")
        for entry in browser.get_log("browser"):
            print(entry.get("level"), entry.get("message"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.report_call = report
