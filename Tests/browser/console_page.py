"""The agent console (console.html) as an agent sees it: a page object that reads the page
through a few DOM queries and acts through real clicks and keys."""

import re
import time

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from helpers import SCREENSHOTS, eventually


class ConsolePage:
    def __init__(self, driver, origin, name):
        self.driver = driver
        self.origin = origin  # the gateway, usually through the agent's own relay
        self.name = name  # for screenshots and failure output

    # ---- Reading the page ----

    def js(self, body, *args):
        return self.driver.execute_script(body, *args)

    def find(self, selector):
        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def visible(self, selector):
        return self.js("const e = document.querySelector(arguments[0]);"
                       "return !!e && e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden'", selector)

    def wait_visible(self, selector, timeout=10, visible=True):
        eventually(lambda: self.visible(selector) == visible, timeout,
                   f"{selector} to be {'visible' if visible else 'hidden'} in {self.name}'s console")

    def text(self, selector):
        return self.js("return document.querySelector(arguments[0])?.textContent ?? null", selector)

    def click(self, selector, timeout=10):
        self.wait_visible(selector, timeout)
        eventually(lambda: self.find(selector).is_enabled(), timeout, f"{selector} to be enabled")
        self.find(selector).click()

    def active(self):
        """The focused element, as '#id' or its class names."""
        return self.js("const a = document.activeElement; return a ? (a.id ? '#' + a.id : a.className) : null")

    def state(self):
        return self.text("#me-state")

    def wait_state(self, pattern, timeout=15):
        return eventually(lambda: re.search(pattern, self.state() or ""), timeout,
                          f"{self.name}'s state /{pattern}/ (shows {self.state()!r})")

    def incoming(self):
        return self.js("""return [...document.querySelectorAll('#incoming > li')].map(li => ({
            chatId: li.dataset.chatId, status: li.dataset.status, name: li.querySelector('.name').textContent,
            department: li.querySelector('.dept').textContent, position: li.querySelector('.position').textContent,
            waited: li.querySelector('.waited').textContent, offer: li.querySelector('.offer').hidden ? '' : li.querySelector('.offer').textContent,
            take: !li.querySelector('.take').hidden, accept: !li.querySelector('.accept').hidden, decline: !li.querySelector('.decline').hidden}))""")

    def incoming_names(self):
        return [c["name"] for c in self.incoming()]

    def wait_incoming(self, predicate, what, timeout=10):
        return eventually(lambda: predicate(self.incoming_names()), timeout,
                          f"{what} in {self.name}'s incoming list (shows {self.incoming_names()})")

    def mine(self):
        """My chats: name, group (active, parked, wrapups), unread badge, state line, selected."""
        return self.js("""return [...document.querySelectorAll('.item.mine')].map(li => ({
            chatId: li.dataset.chatId, name: li.querySelector('.name').textContent, group: li.parentElement.id,
            status: li.dataset.status, badge: li.querySelector('.badge').hidden ? '' : li.querySelector('.badge').textContent,
            state: li.querySelector('.state').textContent, current: li.querySelector('.open').getAttribute('aria-current') === 'true'}))""")

    def my_chat(self, name):
        return next((c for c in self.mine() if c["name"] == name), None)

    def wait_my_chat(self, name, check=lambda c: True, what="", timeout=10):
        return eventually(lambda: (c := self.my_chat(name)) and check(c) and c, timeout,
                          f"{name} in {self.name}'s chats {what} (shows {self.mine()})")

    def select(self, name):
        self.find(f".item.mine[data-chat-id='{self.my_chat(name)['chatId']}'] .open").click()
        eventually(lambda: self.text("#chat-title") == name, 5, f"{name}'s chat to be shown")

    def messages(self):
        return self.js("""return [...document.querySelectorAll('#log .msg')].map(m => ({
            text: m.querySelector('.text').textContent, state: m.dataset.state || null,
            seq: m.dataset.seq ? Number(m.dataset.seq) : null, own: m.classList.contains('own'),
            sender: m.querySelector('.sender')?.textContent ?? null}))""")

    def texts(self):
        return [m["text"] for m in self.messages()]

    def wait_texts(self, expected, timeout=10):
        """Waits until the shown conversation is exactly `expected`, every message stored."""
        def check():
            shown = self.messages()
            return [m["text"] for m in shown] == expected and all(m["seq"] for m in shown)
        eventually(check, timeout, f"{self.name}'s conversation {expected} (shows {self.texts()})")
        return self.messages()

    def system_lines(self):
        return self.js("return [...document.querySelectorAll('#log .sys')].map(e => e.textContent)")

    def alerts(self):
        return self.js("return [...document.querySelectorAll('#alerts .alert span')].map(e => e.textContent)")

    def wait_alert(self, pattern, timeout=10):
        return eventually(lambda: next((a for a in self.alerts() if re.search(pattern, a)), None), timeout,
                          f"an alert /{pattern}/ in {self.name}'s console (shows {self.alerts()})")

    def people(self):
        return self.js("""return Object.fromEntries([...document.querySelectorAll('#people > li')].map(li => [li.dataset.agentId, {
            state: li.dataset.state, label: li.querySelector('.state').textContent,
            color: getComputedStyle(li.querySelector('.dot')).backgroundColor}]))""")

    def queues(self):
        return self.js("""return Object.fromEntries([...document.querySelectorAll('#queues tbody tr')].map(tr => [tr.dataset.departmentId, {
            open: tr.dataset.open === 'true', waiting: Number(tr.querySelector('.waiting').textContent),
            longest: tr.querySelector('.longest').textContent, ongoing: Number(tr.querySelector('.ongoing').textContent),
            agents: tr.querySelector('.agents').textContent,
            loggedIn: tr.querySelector('.queue-login').checked}]))""")

    def beeps(self):
        return self.js("return window.__beeps")

    def notifications(self):
        return self.js("return window.__notifications")

    def session(self):
        return self.js("return JSON.parse(sessionStorage.getItem('livechat-console'))")

    # ---- Acting ----

    def open(self):
        self.driver.get(self.origin + "/console.html")
        eventually(lambda: self.visible("#login") or self.visible("#app"), 10, "the console to load")

    def sign_in(self, agent_id):
        self.open()
        self.wait_visible("#login")
        field = self.find("#agent-id")
        field.clear()
        field.send_keys(agent_id, Keys.ENTER)
        self.wait_visible("#app")
        self.wait_state(r"^Online · Available$")
        return self

    def take(self, name):
        chat = next(c for c in self.incoming() if c["name"] == name)
        self.find(f"#incoming li[data-chat-id='{chat['chatId']}'] .take").click()
        return chat["chatId"]

    def type_message(self, *parts, send=True):
        """Types into the message box; "\\n" is Shift+Enter, and Enter sends."""
        box = self.find("#compose")
        box.click()
        for part in parts:
            if part == "\n":
                ActionChains(self.driver).key_down(Keys.SHIFT).send_keys(Keys.ENTER).key_up(Keys.SHIFT).perform()
            else:
                box.send_keys(part)
        if send:
            box.send_keys(Keys.ENTER)

    def confirm(self, yes):
        self.wait_visible("#confirm")
        self.find("#confirm-yes" if yes else "#confirm-no").click()
        self.wait_visible("#confirm", visible=False)

    def pick_options(self):
        self.wait_visible("#pick")
        return self.js("return [...document.querySelectorAll('#pick-options label')].map(l => l.textContent)")

    def pick(self, label):
        self.wait_visible("#pick")
        self.driver.find_element(By.XPATH, f"//div[@id='pick-options']//label[normalize-space()='{label}']").click()
        self.find("#pick-yes").click()
        self.wait_visible("#pick", visible=False)

    def screenshot(self, name):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        time.sleep(0.15)  # let the last frame paint
        self.driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))
