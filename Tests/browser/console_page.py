"""The agent console (console.html) as an agent sees it: a page object that reads the page
through a few DOM queries and acts through real clicks and keys."""

import re
import time

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from helpers import AGENT_PASSWORD, SCREENSHOTS, eventually


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

    def supervision(self):
        """A supervisor's controls per agent of the people view: {agentId: {queues: {dept: checked}, signOut: bool}}."""
        return self.js("""return Object.fromEntries([...document.querySelectorAll('#people > li')]
            .filter(li => !li.querySelector('.supervise').hidden).map(li => [li.dataset.agentId, {
            queues: Object.fromEntries([...li.querySelectorAll('.agent-queue')].map(i => [i.dataset.departmentId, i.checked])),
            signOut: !!li.querySelector('.sign-out-agent')}]))""")

    def accounts(self):
        """The admin screen's accounts table, in its order."""
        return self.js("""return [...document.querySelectorAll('#accounts tbody tr')].map(tr => ({
            agentId: tr.dataset.agentId, name: tr.querySelector('.account-name').textContent, status: tr.dataset.status,
            statusLabel: tr.querySelector('.status-pill').textContent, roles: tr.querySelector('.account-roles').textContent,
            departments: tr.querySelector('.account-depts').textContent, maxChats: tr.querySelector('.account-max').textContent,
            away: tr.querySelector('.account-away').textContent,
            actions: [...tr.querySelectorAll('.actions button')].map(b => b.textContent)}))""")

    def account(self, agent_id):
        return next((a for a in self.accounts() if a["agentId"] == agent_id), None)

    def wait_account(self, agent_id, check=lambda a: True, what="", timeout=10):
        return eventually(lambda: (a := self.account(agent_id)) and check(a) and a, timeout,
                          f"{agent_id} in {self.name}'s accounts table {what} (shows {self.accounts()})")

    def snippets(self):
        return self.js("""return Object.fromEntries([...document.querySelectorAll('#snippets > li')].map(li => [li.dataset.departmentId, {
            label: li.querySelector('label').textContent, text: li.querySelector('textarea').value,
            copied: li.querySelector('.copied').textContent}]))""")

    def queues(self):
        return self.js("""return Object.fromEntries([...document.querySelectorAll('#queues tbody tr')].map(tr => [tr.dataset.departmentId, {
            open: tr.dataset.open === 'true', waiting: Number(tr.querySelector('.waiting').textContent),
            longest: tr.querySelector('.longest').textContent, ongoing: Number(tr.querySelector('.ongoing').textContent),
            agents: tr.querySelector('.agents').textContent,
            loggedIn: tr.querySelector('.queue-login').checked}]))""")

    def archive_rows(self):
        """The Archive view's results, in their order."""
        return self.js("""return [...document.querySelectorAll('#archive-results tbody tr')].map(tr => ({
            chatId: tr.dataset.chatId, time: tr.querySelector('.a-time').textContent, department: tr.querySelector('.a-dept').textContent,
            contact: tr.querySelector('.archived-open').textContent, number: tr.querySelector('.contact-number').textContent, agents: tr.querySelector('.a-agents').textContent,
            messages: Number(tr.querySelector('.a-count').textContent), status: tr.querySelector('.a-status').textContent,
            current: tr.classList.contains('current')}))""")

    def archive_search(self, query, expect=lambda rows: rows, what="results", timeout=15):
        """Searches the archive (again, until `expect(rows)` holds: it files chats moments after they change)."""
        field = self.find("#archive-q")
        field.clear()
        field.send_keys(query, Keys.ENTER)

        def check():
            if self.text("#archive-status") in ("Searching…", "Loading more…"):
                return None
            rows = self.archive_rows()
            if expect(rows):
                return [rows]
            self.find("#archive-go").click()
            time.sleep(0.3)
            return None
        return eventually(check, timeout, f"{what} for {query!r} in {self.name}'s archive")[0]

    def archived(self):
        """The archived chat shown: title, story lines and transcript."""
        return self.js("""const v = document.getElementById('archived-view'); return v.hidden ? null : {
            chatId: v.dataset.chatId, title: document.getElementById('archived-title').textContent,
            meta: document.getElementById('archived-meta').textContent,
            story: [...document.querySelectorAll('#archived-story li')].map(li => li.textContent),
            messages: [...document.querySelectorAll('#archived-messages .msg')].map(m => ({
                sender: m.querySelector('.sender').textContent, text: m.querySelector('.text').textContent}))}""")

    def customer(self):
        """The customer panel of the chat shown (D2)."""
        return self.js("""const c = document.getElementById('customer'); return c.hidden ? null : {
            summary: document.getElementById('customer-summary').textContent, name: document.getElementById('customer-name').textContent,
            visitorId: document.getElementById('customer-id').textContent, note: document.getElementById('customer-history-note').textContent,
            earlier: [...document.querySelectorAll('#customer-history li')].map(li => ({chatId: li.dataset.chatId, label: li.textContent}))}""")

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

    def sign_in(self, login, password=AGENT_PASSWORD, state=r"^Online · Available$", open_=True):
        """Signs in from the sign-in form (opening the console first unless `open_` is false)."""
        if open_:
            self.open()
        self.wait_visible("#login-form")
        for selector, value in (("#login-name", login), ("#password", password)):
            field = self.find(selector)
            field.clear()
            field.send_keys(value)
        self.find("#password").send_keys(Keys.ENTER)
        self.wait_visible("#app")
        if state:
            self.wait_state(state)
        return self

    def login_error(self):
        return self.text("#login-error")

    def register(self, login, name, password, confirm=None):
        """Fills in and sends the registration form (opened from the sign-in form)."""
        if not self.visible("#register-form"):
            self.click("#show-register")
        self.wait_visible("#register-form")
        for selector, value in (("#reg-login", login), ("#reg-name", name), ("#reg-password", password),
                                ("#reg-confirm", password if confirm is None else confirm)):
            field = self.find(selector)
            field.clear()
            field.send_keys(value)
        self.find("#register-button").click()

    def screen(self, which):
        """Switches to the 'chats' or 'admin' screen (admins)."""
        self.click("#screen-" + which)
        self.wait_visible("#admin" if which == "admin" else "#chats-screen")

    def account_button(self, agent_id, cls):
        return self.find(f"#accounts tr[data-agent-id='{agent_id}'] .actions .{cls}")

    def fill_account(self, roles=None, departments=None, max_chats=None, away=None):
        """Sets the account dialog's checkboxes and fields (None: leave as they are)."""
        self.wait_visible("#account-dialog")
        for name, wanted in (("role", roles), ("dept", departments)):
            if wanted is None:
                continue
            for box in self.driver.find_elements(By.CSS_SELECTOR, f"#account-dialog input[name='{name}']"):
                if box.is_selected() != (box.get_attribute("value") in wanted):
                    box.click()
        for selector, value in (("#account-max", max_chats), ("#account-away", away)):
            if value is not None:
                field = self.find(selector)
                field.clear()
                field.send_keys(str(value))

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
