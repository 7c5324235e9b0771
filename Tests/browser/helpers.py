"""Helpers for the visitor-widget tests in a real browser (Debian's Chromium, headless).

The whole system runs as it does for a developer: `chat-dev` (embedded broker and the four
service executables) from CHAT_BIN_DIR, default `.build/debug`. The browser reaches the
gateway through `Relay`, a plain TCP relay the test can use to cut the widget's WebSocket
(a real connection drop), and loads the widget from a host page. The agent side is the
HTTP API plus one WebSocket (`websockets`), which keeps the department open.
"""

import contextlib
import json
import os
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from websockets.sync.client import connect as ws_connect

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
DEPARTMENT = "support"
AGENT_NAME = "Alice Adams"
# The password of the agents the tests provision (conftest), new for every test session.
AGENT_PASSWORD = "pw-" + uuid.uuid4().hex

# Runs in every document before the page's own scripts: counts notification beeps (the
# widget plays them through a real AudioContext) without changing what the page does.
INSTRUMENT = """
(() => {
  window.__beeps = 0;
  const start = OscillatorNode.prototype.start;
  OscillatorNode.prototype.start = function (...args) { window.__beeps++; return start.apply(this, args); };
})();
"""


# For the agent console: counts beeps as above, and stands in for the browser's Notification
# API (headless Chromium shows none) so a test can grant permission and read what was shown.
CONSOLE_INSTRUMENT = INSTRUMENT + """
(() => {
  window.__notifications = [];
  let permission = 'default';
  class TestNotification {
    constructor(title, options) { window.__notifications.push({ title, body: (options || {}).body || '', tag: (options || {}).tag || '' }); }
    close() {}
    static get permission() { return permission; }
    static requestPermission() { permission = 'granted'; return Promise.resolve(permission); }
  }
  window.Notification = TestNotification;
})();
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def eventually(check, timeout, what, interval=0.05):
    """Polls `check` until it returns something truthy; fails naming `what`."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except Exception as error:  # e.g. an element not rendered yet
            last = error
        if last and not isinstance(last, Exception):
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


class Gateway:
    """Plain HTTP calls against the running gateway."""

    def __init__(self, base, data):
        self.base = base
        self.data = Path(data)
        self.ws_base = base.replace("http://", "ws://")

    def request(self, method, path, body=None, token=None, headers=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=dict(headers or {}))
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                text = response.read().decode()
                return response.status, (json.loads(text) if text else {}), response.headers
        except urllib.error.HTTPError as error:
            text = error.read().decode()
            return error.code, (json.loads(text) if text.startswith("{") else {}), error.headers

    def department(self, department_id=DEPARTMENT):
        _, body, _ = self.request("GET", "/api/v1/departments")
        return next(d for d in body["departments"] if d["departmentId"] == department_id)

    def wait_department(self, open_, timeout=20):
        eventually(lambda: self.department()["open"] == open_, timeout, f"{DEPARTMENT} open={open_} over HTTP")

    def log_tails(self, lines=25):
        out = []
        for log in sorted((self.data / "logs").glob("*.log")):
            tail = log.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"---- {log.name} (tail) ----\n" + "\n".join(tail))
        return "\n".join(out)


class SocketClient:
    """One WebSocket to the gateway with a token; every frame received is kept in order."""

    def __init__(self, gateway, token):
        self.gateway = gateway
        self.token = token
        self.frames = []
        self.lock = threading.Lock()
        self.ws = None
        self.stack = contextlib.ExitStack()

    def connect(self):
        self.ws = self.stack.enter_context(
            ws_connect(f"{self.gateway.ws_base}/api/v1/socket?token={self.token}", open_timeout=10))
        threading.Thread(target=self._read, args=(self.ws,), daemon=True).start()
        self.wait_frame(lambda f: f["type"] == "hello", what="the hello frame")

    def _read(self, ws):
        try:
            for text in ws:
                with self.lock:
                    self.frames.append(json.loads(text))
        except Exception:
            pass

    def disconnect(self):
        self.stack.close()
        self.ws = None

    def wait_frame(self, predicate, timeout=15, what="a frame", start=0):
        def find():
            with self.lock:
                return next((f for f in self.frames[start:] if predicate(f)), None)
        return eventually(find, timeout, what)

    def messages(self, chat_id):
        with self.lock:
            return [f["message"] for f in self.frames if f["type"] == "message" and f["message"]["chatId"] == chat_id]

    def typing(self, chat_id, typing=True):
        self.ws.send(json.dumps({"type": "typing", "chatId": chat_id, "typing": typing}))


class Agent(SocketClient):
    """An agent signed in over HTTP with one WebSocket open (which opens the department)."""

    def __init__(self, gateway, agent_id="alice"):
        status, body, _ = gateway.request("POST", "/api/v1/agents/sessions", {"login": agent_id, "password": AGENT_PASSWORD})
        assert status == 201, body
        super().__init__(gateway, body["token"])

    def set_available(self, available, timeout=15):
        """Sends availability.set until the department shows the change (presence may not
        know the agent is online for a moment after the socket opened: agent_offline)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                start = len(self.frames)
            self.ws.send(json.dumps({"type": "availability.set", "available": available}))
            try:
                frame = self.wait_frame(
                    lambda f: (f["type"] == "department.updated" and f["department"]["departmentId"] == DEPARTMENT
                               and f["department"]["open"] == available) or f["type"] == "error",
                    timeout=3, what="department.updated", start=start)
            except AssertionError:
                continue
            if frame["type"] != "error":
                return
            time.sleep(0.3)
        raise AssertionError(f"availability.set {available} had no effect")

    def queued_chat(self, visitor_name, timeout=15):
        frame = self.wait_frame(
            lambda f: f["type"] == "chat.updated" and f["chat"]["visitor"]["displayName"] == visitor_name,
            timeout, f"the chat of {visitor_name} in the agent's queue")
        return frame["chat"]["chatId"]

    def take(self, chat_id):
        status, body, _ = self.gateway.request("POST", f"/api/v1/chats/{chat_id}/take", token=self.token)
        assert status == 200, body

    def say(self, chat_id, text):
        body = {"clientMessageId": "a-" + str(uuid.uuid4()), "text": text}
        status, answer, _ = self.gateway.request("POST", f"/api/v1/chats/{chat_id}/messages", body, token=self.token)
        assert status == 202, answer


class Relay:
    """A TCP relay in front of the gateway. `cut_sockets()` drops every WebSocket going
    through it and refuses new ones (plain HTTP still passes) until `restore()`."""

    def __init__(self, target_port):
        self.target = ("127.0.0.1", target_port)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        self.down = False
        self.sockets = set()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client):
        try:
            head = b""
            while b"\r\n" not in head and len(head) < 8192:
                chunk = client.recv(8192, socket.MSG_PEEK)
                if not chunk or chunk == head:
                    time.sleep(0.01)
                    if not chunk:
                        client.close()
                        return
                head = chunk
            is_socket = b" /api/v1/socket" in head.split(b"\r\n", 1)[0]
            if is_socket and self.down:
                client.close()
                return
            upstream = socket.create_connection(self.target)
        except OSError:
            client.close()
            return
        pair = (client, upstream)
        if is_socket:
            with self.lock:
                self.sockets.add(pair)
        for source, target in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pipe, args=(source, target, pair), daemon=True).start()

    def _pipe(self, source, target, pair):
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        for s in pair:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        with self.lock:
            self.sockets.discard(pair)

    def cut_sockets(self):
        self.down = True
        with self.lock:
            pairs = list(self.sockets)
        for pair in pairs:
            for s in pair:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def restore(self):
        self.down = False

    def close(self):
        self.server.close()


class HostSite:
    """Another origin: a tiny page with the snippet, served by Python's http.server."""

    def __init__(self, widget_origin):
        self.folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"livechat-host-{uuid.uuid4().hex[:8]}"
        self.folder.mkdir(parents=True)
        (self.folder / "index.html").write_text(
            '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">'
            '<title>Host shop</title></head>\n'
            '<body><h1>Host shop</h1><p>A page on another origin that embeds the chat.</p>\n'
            f'<script src="{widget_origin}/widget.js" data-department="{DEPARTMENT}" async></script>\n'
            '</body></html>\n', encoding="utf-8")
        handler = partial(QuietHandler, directory=str(self.folder))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        for file in self.folder.iterdir():
            file.unlink()
        self.folder.rmdir()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def cors_headers(gateway, origin):
    """What the gateway answers to a browser's preflight for POST /api/v1/chats from `origin`,
    and the Access-Control-Allow-Origin of GET /api/v1/departments."""
    _, _, preflight = gateway.request("OPTIONS", "/api/v1/chats", headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type"})
    _, _, departments = gateway.request("GET", "/api/v1/departments", headers={"Origin": origin})
    return {
        "preflight allow-origin": preflight.get("Access-Control-Allow-Origin"),
        "preflight allow-headers": (preflight.get("Access-Control-Allow-Headers") or "").lower(),
        "preflight allow-methods": (preflight.get("Access-Control-Allow-Methods") or "").upper(),
        "departments allow-origin": departments.get("Access-Control-Allow-Origin"),
    }


def gateway_allows(gateway, origin):
    h = cors_headers(gateway, origin)
    return (h["preflight allow-origin"] in (origin, "*") and h["departments allow-origin"] in (origin, "*")
            and "authorization" in h["preflight allow-headers"] and "content-type" in h["preflight allow-headers"]
            and "POST" in h["preflight allow-methods"])


class Visitor:
    """A visitor over the HTTP API: starts a chat, writes, reads and ends it."""

    def __init__(self, gateway, name, department=DEPARTMENT):
        self.gateway = gateway
        self.name = name
        status, body, _ = gateway.request("POST", "/api/v1/visitors", {"displayName": name})
        assert status == 201, body
        self.token = body["token"]
        # The router may learn that an agent came online a moment after the gateway does.
        deadline = time.monotonic() + 10
        while True:
            status, body, _ = gateway.request("POST", "/api/v1/chats", {"departmentId": department}, token=self.token)
            if status != 409 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert status == 201, body
        self.chat_id = body["chat"]["chatId"]

    def socket(self):
        """The visitor's WebSocket, opened on first use (for typing signals and frames)."""
        if not getattr(self, "_socket", None):
            self._socket = SocketClient(self.gateway, self.token)
            self._socket.connect()
        return self._socket

    def say(self, text):
        body = {"clientMessageId": "v-" + str(uuid.uuid4()), "text": text}
        status, answer, _ = self.gateway.request("POST", f"/api/v1/chats/{self.chat_id}/messages", body, token=self.token)
        assert status == 202, answer

    def texts(self):
        _, body, _ = self.gateway.request("GET", f"/api/v1/chats/{self.chat_id}/messages", token=self.token)
        return [m["text"] for m in body["messages"]]

    def chat(self):
        return self.gateway.request("GET", f"/api/v1/chats/{self.chat_id}", token=self.token)[1]["chat"]

    def close(self):
        """Ends the chat unless it has ended already."""
        if getattr(self, "_socket", None):
            self._socket.disconnect()
            self._socket = None
        status, body, _ = self.gateway.request("POST", f"/api/v1/chats/{self.chat_id}/close", token=self.token)
        assert status == 200 or body.get("error", {}).get("code") == "chat_closed", body


def admin_password(system):
    """The password chat-dev gave its first admin ("admin": admin, supervisor and agent of
    support and sales) when it created the data folder."""
    return (system.data / "admin-password").read_text().splitlines()[0]
