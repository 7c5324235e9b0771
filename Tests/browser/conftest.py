"""Fixtures for the browser tests: the system (chat-dev), the relay the browser goes
through, the host page, an agent and a headless Chromium for the visitor widget; agent
consoles (each its own Chromium and relay) and visitors over HTTP for the agent console.
See helpers.py."""

import os
import pty
import signal
import subprocess
import threading
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from console_page import ConsolePage
from helpers import (AGENT_PASSWORD, CHROMEDRIVER, CHROMIUM, CONSOLE_INSTRUMENT, INSTRUMENT, ROOT, Agent, Gateway, HostSite, Relay,
                     Visitor, free_port, gateway_allows)
from widget_page import WidgetPage


@pytest.fixture(scope="session")
def gateway(tmp_path_factory):
    yield from chat_dev_system(tmp_path_factory, "livechat")


@pytest.fixture(scope="module")
def offer_gateway(tmp_path_factory):
    """A second system whose router offers each chat to one agent for 6 s (automatic assignment)."""
    yield from chat_dev_system(tmp_path_factory, "livechat-offers",
                               {"ROUTER_ASSIGNMENT": "automatic", "ROUTER_OFFER_TIMEOUT_SECONDS": "6"})


def provisioned_agents(bin_dir):
    """PRESENCE_AGENTS for alice (support, sales), bob (support) and sam (agent and supervisor
    of support), with the session's random password hashed by `chatctl hash-password` (bcrypt
    cost 4: fast sign-ins in tests). chat-dev adds the first admin itself."""
    hashed = subprocess.run([str(bin_dir / "chatctl"), "hash-password", "--cost", "4"], input=AGENT_PASSWORD + "\n",
                            capture_output=True, text=True, check=True).stdout.strip()
    assert hashed.startswith("$2"), hashed
    return ";".join([f"alice:Alice Adams:support+sales::agent:{hashed}", f"bob:Bob Berg:support::agent:{hashed}",
                     f"sam:Sam Stone:support::agent+supervisor:{hashed}"])


def chat_dev_system(tmp_path_factory, name, extra_env=None):
    """Starts chat-dev (broker and the four services) and yields a Gateway; stops it after."""
    bin_dir = Path(os.environ.get("CHAT_BIN_DIR", ROOT / ".build" / "debug"))
    chat_dev = bin_dir / "chat-dev"
    if not chat_dev.exists():
        pytest.fail(f"{chat_dev} is missing: build first, or set CHAT_BIN_DIR to the folder of the built executables")
    data = tmp_path_factory.mktemp(name)
    port = free_port()
    env = dict(os.environ, CHAT_BIN_DIR=str(bin_dir), PRESENCE_GRACE_SECONDS="1", PRESENCE_AGENTS=provisioned_agents(bin_dir),
               **(extra_env or {}))
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


def chromium(instrument, window_size):
    """A headless Chromium with `instrument` run in every document before the page's scripts."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={window_size}", "--lang=en-US"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": instrument})
    return driver


@pytest.fixture
def browser():
    driver = chromium(INSTRUMENT, "1000,760")
    yield driver
    driver.quit()


@pytest.fixture
def consoles(gateway, request):
    """Opens agent consoles: `consoles("alice")` is a ConsolePage in its own headless Chromium
    (1280 px wide), reaching the gateway (or `system`, another Gateway) through its own relay
    (`page.relay`) so a test can cut one agent's WebSocket. Not signed in yet."""
    opened = []

    def open_console(name, system=None):
        relay = Relay(int((system or gateway).base.rsplit(":", 1)[1]))
        page = ConsolePage(chromium(CONSOLE_INSTRUMENT, "1280,800"), relay.origin, name)
        page.relay = relay
        page.system = system or gateway
        opened.append(page)
        return page
    yield open_console
    report = getattr(request.node, "report_call", None)
    failed = report is not None and report.failed
    for page in opened:
        if failed:
            page.screenshot(f"failed-{request.node.name}-{page.name}")
            print(f"---- {page.name}'s browser console ----")
            for entry in page.driver.get_log("browser"):
                print(entry.get("level"), entry.get("message"))
        page.driver.quit()
        page.relay.close()
    if failed:
        for system in {id(page.system): page.system for page in opened}.values() or [gateway]:
            print(system.log_tails())


@pytest.fixture
def visitors(gateway, consoles):
    """Starts visitors' chats over HTTP: `visitors("Grete")`. Their chats are ended after the
    test, while the consoles are still open (this fixture is torn down before `consoles`)."""
    started = []

    def start(name, system=None):
        visitor = Visitor(system or gateway, name)
        started.append(visitor)
        return visitor
    yield start
    for visitor in started:
        visitor.close()


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


@pytest.fixture(autouse=True)
def _department_closed_at_start(gateway):
    """Every test starts with the department closed: agents of an earlier test are offline
    by now (PRESENCE_GRACE_SECONDS=1)."""
    gateway.wait_department(False)
    yield
