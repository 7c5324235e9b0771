"""The widget as the visitor sees it: a page object over its shadow root."""

import re
import time

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

from helpers import DEPARTMENT, SCREENSHOTS, eventually

ROOT_JS = f"const root = document.querySelector('[data-livechat=\"{DEPARTMENT}\"]')?.shadowRoot;"


class WidgetPage:
    def __init__(self, driver, url):
        self.driver = driver
        self.url = url

    def open(self):
        self.driver.get(self.url)
        eventually(lambda: self.js("return !!root && getComputedStyle(root.host).display !== 'none'"), 10,
                   "the widget to load with its stylesheet")

    def js(self, body, *args):
        return self.driver.execute_script(ROOT_JS + body, *args)

    def find(self, selector):
        return self.js("return root.querySelector(arguments[0])", selector)

    def visible(self, selector):
        """Rendered and not hidden (the shadow root's elements have no offsetParent when fixed)."""
        return self.js("const e = root && root.querySelector(arguments[0]);"
                       "return !!e && e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden'",
                       selector)

    def wait_visible(self, selector, timeout=10, visible=True):
        eventually(lambda: self.visible(selector) == visible, timeout,
                   f"{selector} to be {'visible' if visible else 'hidden'}")

    def click(self, selector):
        self.wait_visible(selector)
        self.find(selector).click()

    def text(self, selector):
        return self.js("return root.querySelector(arguments[0])?.textContent ?? null", selector)

    def status(self):
        return self.text(".status")

    def wait_status(self, pattern, timeout=15):
        seen = []

        def check():
            seen.append(self.status() or "")
            return re.search(pattern, seen[-1])
        try:
            return eventually(check, timeout, f"status line /{pattern}/")
        except AssertionError as error:
            raise AssertionError(f"{error}; the status line said {seen[-1]!r}") from None

    def active(self):
        """The focused element inside the widget (selector-ish description)."""
        return self.js("const a = root.activeElement; return a ? (a.id ? '#' + a.id : a.className) : null")

    def messages(self):
        return self.js("""return [...root.querySelectorAll('.msg')].map(m => ({
            text: m.querySelector('.text').textContent, state: m.dataset.state || null,
            seq: m.dataset.seq ? Number(m.dataset.seq) : null, own: m.classList.contains('own'),
            sender: m.querySelector('.who')?.textContent ?? null}))""")

    def system_lines(self):
        return self.js("return [...root.querySelectorAll('.sys')].map(e => e.textContent)")

    def texts(self):
        return [m["text"] for m in self.messages()]

    def wait_messages(self, expected, timeout=15):
        """Waits until the conversation shows exactly `expected` (texts, in order), all stored."""
        def check():
            shown = self.messages()
            return [m["text"] for m in shown] == expected and all(m["seq"] for m in shown)
        eventually(check, timeout, f"the conversation {expected}")
        return self.messages()

    def local_state(self):
        return self.driver.execute_script(
            "return Object.fromEntries(Object.keys(localStorage).filter(k => k.startsWith('livechat:'))"
            ".map(k => [k, JSON.parse(localStorage.getItem(k))]))")

    def chat_state(self):
        return next(v for k, v in self.local_state().items() if k.endswith(":" + DEPARTMENT))

    def visitor_state(self):
        return next((v for k, v in self.local_state().items() if not k.endswith(":" + DEPARTMENT)), {})

    def beeps(self):
        return self.driver.execute_script("return window.__beeps")

    def typing_line(self):
        """The "… is typing" line, or None while it is hidden."""
        return self.js("const t = root.querySelector('.typing'); return t && !t.hidden ? t.textContent : null")

    # ---- Typing ----

    def type_message(self, *parts, send=True):
        """Types into the message box: strings as keys, emoji through Chromium's text input
        (ChromeDriver's sendKeys only handles the Basic Multilingual Plane), and "\\n" as
        Shift+Enter. Enter sends."""
        box = self.find("#lc-text")
        box.click()
        for part in parts:
            if part == "\n":
                ActionChains(self.driver).key_down(Keys.SHIFT).send_keys(Keys.ENTER).key_up(Keys.SHIFT).perform()
            elif all(ord(c) < 0x10000 for c in part):
                box.send_keys(part)
            else:
                self.driver.execute_cdp_cmd("Input.insertText", {"text": part})
        if send:
            box.send_keys(Keys.ENTER)

    def start_chat(self, name):
        self.click(".launcher")
        self.wait_visible(".panel")
        field = self.find("#lc-name")
        field.clear()
        field.send_keys(name, Keys.ENTER)
        self.wait_visible("#lc-text")

    def screenshot(self, name):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        time.sleep(0.15)  # let the last frame paint
        self.driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))
