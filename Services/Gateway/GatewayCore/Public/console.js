/* livechat agent console. Plain JavaScript, no dependencies, served by the gateway at
   /console.html. It uses only the gateway's HTTP API (docs/openapi.yaml) and WebSocket
   protocol (docs/realtime.md); docs/console.md describes the screens. Everything a visitor
   or another agent wrote is put into the page with textContent, never as markup. */
(() => {
  'use strict';
  const API = location.origin + '/api/v1';
  const SOCKET = location.origin.replace(/^http/, 'ws') + '/api/v1/socket';
  const KEY = 'livechat-console'; // sessionStorage: survives a reload of this tab only
  const REG_KEY = 'livechat-console:registration'; // sessionStorage: a registration waiting for approval
  const MUTE_KEY = 'livechat-console:muted'; // localStorage: a setting of this browser

  // ---- Small helpers ----
  const $ = (id) => document.getElementById(id);
  const el = (tag, props, ...kids) => {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'text') node.textContent = value;
      else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? '' : value);
    }
    node.append(...kids); // strings become text nodes
    return node;
  };
  const button = (label, props) => el('button', Object.assign({ type: 'button' }, props), label);
  const ms = (iso) => (iso ? Date.parse(iso) : NaN);
  const pad = (n) => String(n).padStart(2, '0');
  function duration(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
  }
  function uuid() {
    if (crypto.randomUUID) return crypto.randomUUID(); // secure contexts only
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64;
    b[8] = (b[8] & 63) | 128;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  // ---- What survives a reload (this tab only) ----
  // {token, id, displayName, roles, departmentIds, chats: {chatId: {seen, heard}}, pending: [{chatId, id, text}], selected, screen}
  let saved = {};
  try { saved = JSON.parse(sessionStorage.getItem(KEY)) || {}; } catch (e) { saved = {}; }
  saved.chats = saved.chats || {};
  saved.pending = saved.pending || [];
  function save() {
    if (!me) return;
    const chats = {};
    for (const [id, conv] of convs) if (conv.mine) chats[id] = { seen: conv.seen, heard: conv.heard };
    saved = { token: me.token, id: me.id, displayName: me.displayName, roles: me.roles, departmentIds: me.departmentIds,
      chats, pending: saved.pending, selected: selectedId, screen };
    try { sessionStorage.setItem(KEY, JSON.stringify(saved)); } catch (e) { /* storage blocked: memory only */ }
  }
  let muted = false;
  try { muted = localStorage.getItem(MUTE_KEY) === '1'; } catch (e) { /* default */ }

  // ---- State ----
  let me = null; // {token, id, displayName, roles, departmentIds}
  let ws = null, live = false, tries = 0, retryTimer = 0, retryAt = 0, connectedOnce = false;
  let resumeListed = new Set(); // chats listed in `resume` by the current socket
  const waiting = new Map(); // chatId -> Chat waiting in one of my departments (queued/offered)
  const convs = new Map(); // chatId -> conversation (see newConv); `mine` while I take part
  const overview = new Map(); // departmentId -> {queue, at}
  const departments = new Map(); // departmentId -> Department
  let people = null; // [Agent] from /people, null until read
  let selectedId = null;
  const busyButtons = new Set(); // requests in flight, by a key, so a double click sends once
  const touched = new Map(); // chatId -> when its state last changed here (performance.now())
  let screen = 'chats'; // 'chats', 'archive' or 'admin' (admins only)
  const accounts = new Map(); // agentId -> AccountView (admins: GET /accounts, then account.updated frames)
  let accountsLoaded = false;
  let signingOut = false; // our own DELETE /agents/sessions/current is on its way
  let changingPassword = false; // our own password change ends this session too; a new one follows

  // Roles (B1): only agents take chats and have an availability; supervisors (and admins)
  // log agents in and out of queues and sign them out; admins manage accounts.
  const hasRole = (role) => !!(me && (me.roles || ['agent']).includes(role));
  const isAgent = () => hasRole('agent');
  const isAdmin = () => hasRole('admin');
  const isSupervisor = () => hasRole('supervisor') || isAdmin();
  const myDepartments = () => (me && me.departmentIds) || (myPerson() || {}).departmentIds || null;
  // The departments of `agent` whose queues I may log them in to (admins: all of theirs).
  const supervisedOf = (agent) => (isAdmin() ? agent.departmentIds : agent.departmentIds.filter((d) => (myDepartments() || []).includes(d)));
  const canSupervise = (agent) => isSupervisor() && me && agent.agentId !== me.id && supervisedOf(agent).length > 0;
  const canTake = (c) => isAgent() && (!myDepartments() || myDepartments().includes(c.departmentId));

  const deptName = (id) => (departments.get(id) || overview.get(id)?.queue || { displayName: id }).displayName;
  const myPerson = () => (people || []).find((p) => p.agentId === (me && me.id));
  const isOwner = (c) => !!(c && c.agent && me && c.agent.id === me.id);
  const isInvited = (c) => !!(c && me && (c.invitedAgents || []).some((a) => a.id === me.id));
  const inWrapUp = (c) => c.status === 'closed' && isOwner(c) && !(c.wrapUp && c.wrapUp.state === 'done');
  function takesPart(c) {
    if (c.status === 'assigned' || c.status === 'parked') return isOwner(c) || isInvited(c);
    return inWrapUp(c);
  }

  // ---- The page ----
  const ui = {
    login: $('login'), loginForm: $('login-form'), loginName: $('login-name'), password: $('password'), loginError: $('login-error'), loginButton: $('login-button'),
    showRegister: $('show-register'), showLoginForm: $('show-login'),
    registerForm: $('register-form'), regLogin: $('reg-login'), regName: $('reg-name'), regPassword: $('reg-password'), regConfirm: $('reg-confirm'),
    registerError: $('register-error'), registerButton: $('register-button'),
    registerWait: $('register-wait'), registerWaitTitle: $('register-wait-title'), registerStatus: $('register-status'),
    registerPollError: $('register-poll-error'), registerSignIn: $('register-signin'), registerDone: $('register-done'),
    app: $('app'), meName: $('me-name'), meState: $('me-state'), meRoles: $('me-roles'),
    screens: $('screens'), screenChats: $('screen-chats'), screenAdmin: $('screen-admin'), pendingBadge: $('pending-badge'),
    chatsScreen: $('chats-screen'), admin: $('admin'), accounts: document.querySelector('#accounts tbody'), accountsEmpty: $('accounts-empty'),
    accountsPending: $('accounts-pending'), snippets: $('snippets'),
    accountDialog: $('account-dialog'), accountForm: $('account-form'), accountTitle: $('account-title'), accountWho: $('account-who'),
    accountRoles: $('account-roles'), accountDepts: $('account-depts'), accountMax: $('account-max'), accountAway: $('account-away'),
    accountError: $('account-error'), accountSave: $('account-save'), accountCancel: $('account-cancel'),
    available: $('toggle-available'), busy: $('toggle-busy'), mute: $('toggle-mute'), notify: $('enable-notifications'), signOut: $('sign-out'),
    banner: $('banner'), bannerText: $('banner-text'), reconnectNow: $('reconnect-now'), alerts: $('alerts'), info: $('info'),
    incoming: $('incoming'), incomingCount: $('incoming-count'), incomingEmpty: $('incoming-empty'),
    active: $('active'), parked: $('parked'), wrapups: $('wrapups'), mineCount: $('mine-count'), mineEmpty: $('mine-empty'),
    activeTitle: $('active-title'), parkedTitle: $('parked-title'), wrapupTitle: $('wrapup-title'),
    chatEmpty: $('chat-empty'), chatView: $('chat-view'), chatTitle: $('chat-title'), chatMeta: $('chat-meta'), chatNote: $('chat-note'),
    actions: $('chat-actions'), park: $('act-park'), unpark: $('act-unpark'), transfer: $('act-transfer'), invite: $('act-invite'),
    ret: $('act-return'), close: $('act-close'),
    wrapBar: $('wrapup-bar'), wrapTimer: $('wrapup-timer'), wrapPaused: $('wrapup-paused'),
    wrapPause: $('wrapup-pause'), wrapResume: $('wrapup-resume'), wrapDone: $('wrapup-done'),
    log: $('log'), composer: $('composer'), compose: $('compose'), composeLabel: $('compose-label'), send: $('send'),
    queues: document.querySelector('#queues tbody'), people: $('people'),
    confirm: $('confirm'), confirmTitle: $('confirm-title'), confirmText: $('confirm-text'), confirmYes: $('confirm-yes'), confirmNo: $('confirm-no'),
    pick: $('pick'), pickTitle: $('pick-title'), pickOptions: $('pick-options'), pickNone: $('pick-none'), pickYes: $('pick-yes'), pickNo: $('pick-no'),
    screenArchive: $('screen-archive'), archive: $('archive'),
    archiveSearch: $('archive-search'), archiveQ: $('archive-q'), archiveDept: $('archive-dept'), archiveMine: $('archive-mine'), archiveGo: $('archive-go'),
    archiveStatus: $('archive-status'), archiveRows: document.querySelector('#archive-results tbody'), archiveEmpty: $('archive-empty'), archiveMore: $('archive-more'),
    archiveTools: $('archive-tools'), toolsDept: $('tools-dept'), exportForm: $('export-form'), exportFrom: $('export-from'), exportTo: $('export-to'),
    exportGo: $('export-go'), exportStatus: $('export-status'), deleteAll: $('archive-delete-all'), deleteAllStatus: $('delete-all-status'),
    archivedEmpty: $('archived-empty'), archivedView: $('archived-view'), archivedTitle: $('archived-title'), archivedMeta: $('archived-meta'),
    archivedPdf: $('archived-pdf'), archivedEmail: $('archived-email'), archivedTicket: $('archived-ticket'), archivedDelete: $('archived-delete'),
    archivedStory: $('archived-story'), archivedMessages: $('archived-messages'), archivedNoMessages: $('archived-no-messages'),
    customer: $('customer'), customerSummary: $('customer-summary'), customerName: $('customer-name'), customerId: $('customer-id'),
    customerContact: $('customer-contact'), customerContactLabel: $('customer-contact-label'),
    customerEmail: $('customer-email'), customerEmailLabel: $('customer-email-label'), customerHistory: $('customer-history'),
    customerNote: $('customer-history-note'), customerRefresh: $('customer-refresh'),
    retention: $('retention'), prechatForms: $('prechat-forms'),
    customerPrechat: $('customer-prechat'), customerPrechatList: $('customer-prechat-list'),
    archivedPrechat: $('archived-prechat'), archivedPrechatList: $('archived-prechat-list'),
    ask: $('ask'), askForm: $('ask-form'), askTitle: $('ask-title'), askText: $('ask-text'), askEmail: $('ask-email'), askEmailLabel: $('ask-email-label'),
    askNote: $('ask-note'), askNoteLabel: $('ask-note-label'), askError: $('ask-error'), askYes: $('ask-yes'), askNo: $('ask-no'),
  };

  // ---- Errors and notes: shown, never swallowed ----
  function showError(what, err) {
    const code = err && err.code ? ` (${err.code})` : '';
    const text = `${what}: ${(err && err.message) || err}${code}`;
    const item = el('div', { class: 'alert', 'data-code': (err && err.code) || '' },
      el('span', { text }),
      button('Dismiss', { class: 'btn small ghost', 'aria-label': 'Dismiss: ' + text, onclick: () => item.remove() }));
    ui.alerts.append(item);
    while (ui.alerts.children.length > 5) ui.alerts.firstChild.remove();
    console.warn('livechat console: ' + text);
  }
  let noteTimer = 0;
  function note(text) {
    ui.info.textContent = text; // shown, and read out by screen readers (polite)
    clearTimeout(noteTimer);
    noteTimer = setTimeout(() => { ui.info.textContent = ''; }, 10000);
  }

  // ---- HTTP ----
  async function call(method, path, body, anonymous) {
    const headers = {};
    if (!anonymous && me) headers.Authorization = 'Bearer ' + me.token;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res;
    try {
      res = await fetch(API + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      const err = new Error('The server cannot be reached.');
      err.code = 'network';
      throw err;
    }
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw failure(res, data, anonymous);
    return data;
  }
  // The error of a refused request, with the server's message and code; a 401 ends the session here.
  function failure(res, data, anonymous) {
    const err = new Error((data.error && data.error.message) || `HTTP ${res.status}`);
    err.status = res.status;
    err.code = data.error && data.error.code;
    if (res.status === 401 && !anonymous && me && !signingOut && !changingPassword) {
      if (err.code === 'session_ended') sessionEnded(err); else expired();
    }
    return err;
  }

  // Runs one request per key at a time; the error is shown with `what`.
  async function act(key, what, request) {
    if (busyButtons.has(key)) return null;
    busyButtons.add(key);
    render();
    try {
      return await request();
    } catch (err) {
      showError(what, err);
      return null;
    } finally {
      busyButtons.delete(key);
      render();
    }
  }

  // ---- Signing in and out ----
  const codeOf = (err) => (err && err.code ? ` (${err.code})` : '');

  async function signIn(e) {
    e.preventDefault();
    const login = ui.loginName.value.trim().toLowerCase();
    const password = ui.password.value;
    ui.loginName.toggleAttribute('aria-invalid', !login);
    ui.password.toggleAttribute('aria-invalid', !password);
    if (!login || !password) {
      ui.loginError.textContent = 'Please enter your login name and password.';
      (login ? ui.password : ui.loginName).focus();
      return;
    }
    ui.loginError.textContent = '';
    ui.loginButton.disabled = true;
    try {
      const session = await call('POST', '/agents/sessions', { login, password }, true);
      saved = { chats: {}, pending: [] };
      ui.password.value = '';
      forgetRegistration();
      start({ token: session.token, id: session.id, displayName: session.displayName, roles: session.roles, departmentIds: session.departmentIds });
    } catch (err) {
      // wrong_credentials, account_pending, account_disabled, account_rejected, too_many_attempts, ...
      ui.loginError.textContent = `Could not sign in: ${err.message}`;
      const wrong = err.code === 'wrong_credentials';
      ui.password.toggleAttribute('aria-invalid', wrong);
      if (wrong) { ui.password.value = ''; ui.password.focus(); } else ui.loginName.focus();
    } finally {
      ui.loginButton.disabled = false;
    }
  }

  async function signOut() {
    const held = [...convs.values()].filter((c) => c.mine && c.chat && c.chat.status !== 'closed').length;
    if (held && !(await confirmDialog('Sign out?',
      `You hold ${held} chat${held === 1 ? '' : 's'}. Once you are signed out, your active chats go back to the queue.`, 'Sign out'))) return;
    if (!me) return;
    // The session ends on the server (every tab and gateway); the socket closes with it and
    // the agent goes offline at once.
    signingOut = true;
    let problem = null;
    try {
      await call('DELETE', '/agents/sessions/current');
    } catch (err) {
      if (err.status !== 401) problem = err; // 401: it had ended already
    } finally {
      signingOut = false;
    }
    const login = me && me.id;
    stop();
    showLogin(problem ? `Signed out on this page, but the server could not end the session: ${problem.message}${codeOf(problem)}` : '', login);
  }

  function expired() {
    const login = me && me.id;
    stop();
    showLogin('Your session has expired. Please sign in again.', login);
  }

  // The session was ended elsewhere: signed out in another tab, by a supervisor or an
  // admin, or the account was disabled (a `session_ended` frame or HTTP 401).
  function sessionEnded(err) {
    if (!me || signingOut || changingPassword) return;
    const login = me.id;
    stop();
    showLogin(`You were signed out: ${err.message || 'Your session has ended.'}${codeOf(err) || ' (session_ended)'}`, login);
  }

  function stop() {
    me = null;
    try { sessionStorage.removeItem(KEY); } catch (e) { /* nothing kept */ }
    saved = { chats: {}, pending: [] };
    clearTimeout(retryTimer);
    const s = ws;
    ws = null;
    live = false;
    connectedOnce = false;
    if (s) s.close(1000, 'signed out');
    waiting.clear();
    convs.clear();
    overview.clear();
    accounts.clear();
    accountsLoaded = false;
    people = null;
    selectedId = null;
    screen = 'chats';
    for (const dialog of [ui.accountDialog, ui.confirm, ui.pick, ui.ask, $('settings-dialog')]) if (dialog.open) dialog.close('cancel');
    resetArchive();
    earlier.clear();
    retention.clear();
    ui.alerts.textContent = '';
    ui.log.textContent = '';
    for (const list of [ui.incoming, ui.active, ui.parked, ui.wrapups, ui.people, ui.queues, ui.accounts, ui.snippets, ui.retention, ui.prechatForms, ui.customerHistory]) list.textContent = '';
  }

  function showLogin(message, login) {
    ui.app.hidden = true;
    ui.login.hidden = false;
    document.title = 'Agent console · livechat';
    if (registration && !message) return showCard('wait');
    showCard('login');
    ui.loginError.textContent = message;
    if (login) ui.loginName.value = login;
    (ui.loginName.value ? ui.password : ui.loginName).focus();
  }

  // One of the cards of the sign-in page: 'login', 'register' or 'wait' (for approval).
  function showCard(which) {
    ui.loginForm.hidden = which !== 'login';
    ui.registerForm.hidden = which !== 'register';
    ui.registerWait.hidden = which !== 'wait';
    if (which === 'register') { ui.registerError.textContent = ''; ui.regLogin.focus(); }
    if (which === 'wait') renderRegistration();
  }

  // ---- Registering (B1): a registration waits until an admin approves or rejects it ----
  let registration = null; // {registrationId, login, status}
  try { registration = JSON.parse(sessionStorage.getItem(REG_KEY)); } catch (e) { registration = null; }
  let registrationTimer = 0;
  const LOGIN_NAME = /^[a-z0-9][a-z0-9._-]{1,63}$/;

  async function register(e) {
    e.preventDefault();
    const login = ui.regLogin.value.trim().toLowerCase();
    const name = ui.regName.value.trim();
    const password = ui.regPassword.value;
    const fields = [ui.regLogin, ui.regName, ui.regPassword, ui.regConfirm];
    for (const f of fields) f.removeAttribute('aria-invalid');
    let problem = null, field = null;
    if (!LOGIN_NAME.test(login)) [problem, field] = ['A login name has 2 to 64 characters: lower-case letters, digits, “.”, “_” or “-”, starting with a letter or digit.', ui.regLogin];
    else if (!name) [problem, field] = ['Please enter the name visitors and colleagues see.', ui.regName];
    else if (password.length < 8 || password.length > 128) [problem, field] = ['A password needs 8 to 128 characters.', ui.regPassword];
    else if (password !== ui.regConfirm.value) [problem, field] = ['The two passwords differ.', ui.regConfirm];
    if (problem) {
      ui.registerError.textContent = problem;
      field.setAttribute('aria-invalid', 'true');
      field.focus();
      return;
    }
    ui.registerError.textContent = '';
    ui.registerButton.disabled = true;
    try {
      const answer = await call('POST', '/accounts', { login, displayName: name, password }, true);
      registration = answer.registration;
      keepRegistration();
      ui.regPassword.value = ui.regConfirm.value = '';
      ui.registerPollError.textContent = '';
      showCard('wait');
      ui.registerDone.focus();
      registrationTimer = setTimeout(pollRegistration, 3000);
    } catch (err) {
      // login_taken (409), invalid_request (422), ...
      ui.registerError.textContent = `Could not register: ${err.message}${codeOf(err)}`;
      const target = err.code === 'login_taken' || /login/i.test(err.message) ? ui.regLogin : /password/i.test(err.message) ? ui.regPassword : ui.regName;
      target.setAttribute('aria-invalid', 'true');
      target.focus();
    } finally {
      ui.registerButton.disabled = false;
    }
  }

  function keepRegistration() {
    try { sessionStorage.setItem(REG_KEY, JSON.stringify(registration)); } catch (e) { /* memory only */ }
  }
  function forgetRegistration() {
    registration = null;
    clearTimeout(registrationTimer);
    try { sessionStorage.removeItem(REG_KEY); } catch (e) { /* nothing kept */ }
  }

  const registrationTexts = {
    pending: ['Registration sent', (l) => `Your registration as “${l}” waits for an administrator's approval. This page checks every few seconds and tells you when it is decided; you can leave it open.`],
    active: ['Registration approved', (l) => `Your account “${l}” was approved. You can sign in now.`],
    rejected: ['Registration not approved', (l) => `Your registration as “${l}” was not approved. Ask an administrator, or register again.`],
    disabled: ['Account disabled', (l) => `Your account “${l}” was approved but is disabled now; ask an administrator.`],
  };
  function renderRegistration() {
    if (!registration) return;
    const [title, text] = registrationTexts[registration.status] || registrationTexts.pending;
    ui.registerWait.dataset.status = registration.status;
    ui.registerWaitTitle.textContent = title;
    ui.registerStatus.textContent = text(registration.login);
    ui.registerSignIn.hidden = registration.status !== 'active';
    document.title = registration.status === 'pending' ? 'Waiting for approval · livechat' : `${title} · livechat`;
  }

  async function pollRegistration() {
    clearTimeout(registrationTimer);
    if (!registration || registration.status !== 'pending') return;
    const asked = registration;
    try {
      const answer = (await call('GET', '/registrations/' + encodeURIComponent(asked.registrationId), undefined, true)).registration;
      if (registration !== asked) return; // forgotten meanwhile
      registration = answer;
      keepRegistration();
      ui.registerPollError.textContent = '';
      if (!ui.registerWait.hidden) renderRegistration();
      if (answer.status !== 'pending') {
        beep();
        if (!ui.registerWait.hidden) (answer.status === 'active' ? ui.registerSignIn : ui.registerDone).focus();
        return;
      }
    } catch (err) {
      if (registration !== asked) return;
      ui.registerPollError.textContent = `Could not check the registration: ${err.message}${codeOf(err)}`;
      if (err.status === 404) { forgetRegistration(); return; }
    }
    registrationTimer = setTimeout(pollRegistration, 3000);
  }

  function signInAfterRegistration() {
    const login = registration ? registration.login : '';
    forgetRegistration();
    showCard('login');
    ui.loginError.textContent = '';
    ui.loginName.value = login;
    ui.password.value = '';
    ui.password.focus();
  }

  function start(session) {
    me = session;
    ui.login.hidden = true;
    ui.app.hidden = false;
    ui.meName.textContent = me.displayName;
    screen = saved.screen === 'admin' && isAdmin() ? 'admin' : saved.screen === 'archive' ? 'archive' : 'chats';
    // Chats and unsent messages this tab knew before a reload.
    for (const [id, marks] of Object.entries(saved.chats || {})) {
      const conv = ensureConv(id);
      conv.seen = marks.seen || 0;
      conv.heard = marks.heard || 0;
      conv.mine = true; // until the server says otherwise
    }
    for (const p of saved.pending) queueBubble(p);
    selectedId = saved.selected && convs.has(saved.selected) ? saved.selected : null;
    save();
    refreshDepartments();
    connect();
    render();
    if (selectedId) select(selectedId);
    if (screen === 'archive') archiveSearch();
    if (screen === 'admin') loadRetention();
  }

  // ---- Conversations ----
  function ensureConv(chatId) {
    let conv = convs.get(chatId);
    if (!conv) {
      conv = {
        id: chatId, chat: null, mine: false, mineSince: 0,
        msgs: new Map(), // seq -> Message
        contig: 0, // every seq up to here is held: what `resume` asks after
        seen: 0, heard: 0, unread: 0, draft: '',
        list: el('ol', { class: 'msgs' }), pend: el('ol', { class: 'msgs pending' }),
        outbox: new Map(), // clientMessageId -> bubble of my messages not stored yet
      };
      convs.set(chatId, conv);
    }
    return conv;
  }

  const shape = (c) => [c.status, c.departmentId, c.agent && c.agent.id, (c.invitedAgents || []).map((a) => a.id).join('+'),
    c.wrapUp ? c.wrapUp.state + (c.wrapUp.since ? '' : '-paused') : ''].join('|');
  const who = (p) => (p && me && p.id === me.id ? 'You' : p ? p.displayName : 'Someone');

  // A change worked out from two states, for state read over HTTP (which has no `change`).
  function inferChange(prev, c) {
    if (!prev) return '';
    if (c.status === 'closed' && prev.status !== 'closed') return 'closed';
    if (c.wrapUp && (!prev.wrapUp || prev.wrapUp.state !== c.wrapUp.state)) return c.wrapUp.state === 'done' ? 'wrapup_finished' : 'wrapup_started';
    if (c.wrapUp && prev.wrapUp && !!c.wrapUp.since !== !!prev.wrapUp.since) return c.wrapUp.since ? 'unparked' : 'parked';
    if (c.status === 'transferring') return 'transferred';
    if (c.status === 'parked' && prev.status !== 'parked') return 'parked';
    if (c.status === 'assigned' && prev.status === 'parked' && isSame(prev.agent, c.agent)) return 'unparked';
    if (c.status === 'assigned' && (prev.status === 'assigned' || prev.status === 'parked') && !isSame(prev.agent, c.agent)) return 'transferred';
    if (c.status === 'assigned' && prev.status !== 'assigned') return 'assigned';
    if ((c.status === 'queued' || c.status === 'offered') && (prev.status === 'assigned' || prev.status === 'parked')) return 'returned_to_queue';
    if (c.status === 'queued' && prev.status === 'transferring') return 'queued';
    if ((c.invitedAgents || []).length > (prev.invitedAgents || []).length) return 'agent_invited';
    return '';
  }
  const isSame = (a, b) => !!(a && b && a.id === b.id);

  // What the conversation log says about a change, from the agent's side.
  function changeLine(change, c) {
    switch (change) {
      case 'assigned': return `${who(c.agent)} took the chat.`;
      case 'returned_to_queue': return 'The chat went back to the queue.';
      case 'agent_offline': return 'The agent handling the chat went offline; it went back to the queue.';
      case 'transferred': return c.status === 'transferring' ? 'The chat is being transferred to another department.' : `The chat was transferred to ${who(c.agent)}.`;
      case 'queued': return `The chat is waiting in ${deptName(c.departmentId)}.`;
      case 'parked': return c.status === 'closed' ? 'Wrap-up paused.' : 'The chat was parked.';
      case 'unparked': return c.status === 'closed' ? 'Wrap-up resumed.' : 'The chat is active again.';
      case 'agent_invited': {
        const invitee = (c.invitedAgents || [])[(c.invitedAgents || []).length - 1];
        return `${who(invitee)} ${invitee && me && invitee.id === me.id ? 'were' : 'was'} invited into the chat.`;
      }
      case 'closed': {
        const by = c.closedBy;
        if (!by) return 'The chat has ended.';
        if (by.role === 'visitor') return `${by.displayName} ended the chat.`;
        return me && by.id === me.id ? 'You ended the chat.' : `${by.displayName} ended the chat.`;
      }
      case 'wrapup_started': return 'Wrap-up started.';
      case 'wrapup_finished': return 'Wrap-up done.';
      default: return '';
    }
  }

  // Every chat state, from frames (with `change`) and from HTTP answers (without), goes here.
  function applyChat(c, change) {
    const id = c.chatId;
    touched.set(id, performance.now());
    const wasWaiting = waiting.get(id);
    const isWaiting = c.status === 'queued' || c.status === 'offered';
    if (isWaiting) {
      // Agents get no `position` frames; keep the last known place until the queue is re-read.
      if (c.position === undefined && wasWaiting) c = Object.assign({}, c, { position: wasWaiting.position, estimatedWaitSeconds: wasWaiting.estimatedWaitSeconds });
      waiting.set(id, c);
    } else waiting.delete(id);

    let conv = convs.get(id);
    const mine = takesPart(c);
    const prev = conv && conv.chat;
    const wasMine = !!(conv && conv.mine);
    if (mine && !conv) conv = ensureConv(id);
    if (conv) {
      conv.chat = c;
      const line = prev && shape(prev) !== shape(c) ? changeLine(change, c) || changeLine(inferChange(prev, c), c) : '';
      if (line) systemLine(conv, line);
      if (mine && !wasMine) {
        conv.mine = true;
        conv.mineSince = Date.now();
        if (change === 'transferred' || change === 'agent_invited') {
          const what = change === 'transferred' ? 'was transferred to you' : 'You were invited into';
          const text = change === 'transferred' ? `${c.visitor.displayName}'s chat ${what}.` : `${what} ${c.visitor.displayName}'s chat.`;
          note(text);
          alertUser(change === 'transferred' ? 'Chat transferred to you' : 'Invitation', text, 'chat-' + id);
        }
      } else if (!mine && wasMine) {
        conv.mine = false;
        conv.unread = 0;
        if (c.status === 'closed') note(`${c.visitor.displayName}'s chat is done.`);
        else if (c.agent && !isOwner(c)) note(`${c.visitor.displayName}'s chat is now with ${c.agent.displayName}.`);
        else note(`${c.visitor.displayName}'s chat left your chats.`);
        if (selectedId === id) select(null);
      }
    }

    // A new chat to answer: sound and notification (not for one I just gave back myself).
    if (change && isWaiting && !wasWaiting && !wasMine && ['queued', 'returned_to_queue', 'agent_offline'].includes(change)) {
      alertUser('New chat waiting', `${c.visitor.displayName} · ${deptName(c.departmentId)}`, 'queue-' + id);
    }
    if (change === 'offered' && c.offeredTo && me && c.offeredTo.id === me.id) {
      alertUser('Chat offered to you', `${c.visitor.displayName} · ${deptName(c.departmentId)}`, 'queue-' + id);
    }
    save();
    render();
  }

  function forget(id) {
    const conv = convs.get(id);
    if (!conv) return;
    convs.delete(id);
    saved.pending = saved.pending.filter((p) => p.chatId !== id);
    if (selectedId === id) select(null);
    save();
    render();
  }

  // ---- Messages ----
  const ownMessage = (m) => m.sender.role === 'agent' && me && m.sender.id === me.id;

  function bubble(text, kind, sender) {
    const node = el('li', { class: 'msg ' + kind });
    if (sender) node.append(el('span', { class: 'sender', text: sender }));
    node.append(el('span', { class: 'text', text }), el('span', { class: 'meta' }));
    return node;
  }

  function setBubbleState(node, state, detail) {
    node.dataset.state = state;
    node.classList.toggle('failed', state === 'failed');
    const labels = { sending: 'Sending…', sent: 'Sent', delivered: 'Delivered', received: '' };
    node.lastChild.textContent = [node.dataset.time, detail || labels[state]].filter(Boolean).join(' · ');
  }

  function systemLine(conv, text) {
    put(conv, conv.list, el('li', { class: 'sys', text }));
  }

  // Appends (or inserts) keeping the log scrolled to the end when it was there.
  function put(conv, parent, node, before) {
    const shown = selectedId === conv.id;
    const stick = !shown || ui.log.scrollHeight - ui.log.scrollTop - ui.log.clientHeight < 80;
    parent.insertBefore(node, before || null);
    if (shown && stick) ui.log.scrollTop = ui.log.scrollHeight;
  }

  // `pushed`: from the socket (new to this page); false for history read over HTTP.
  function onMessage(m, pushed) {
    const conv = ensureConv(m.chatId);
    if (conv.msgs.has(m.seq)) return; // already shown (resume and HTTP may overlap)
    conv.msgs.set(m.seq, m);
    while (conv.msgs.has(conv.contig + 1)) conv.contig++;
    const own = ownMessage(m);
    let node = conv.outbox.get(m.messageId);
    if (node) {
      conv.outbox.delete(m.messageId);
      saved.pending = saved.pending.filter((p) => p.id !== m.messageId);
    } else {
      const visitor = m.sender.role === 'visitor';
      node = bubble(m.text, own ? 'own' : visitor ? 'visitor' : 'agent', own ? '' : m.sender.displayName + (visitor ? '' : ' (agent)'));
    }
    node.dataset.seq = m.seq;
    node.dataset.id = m.messageId;
    node.dataset.time = new Date(m.sentAt).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    setBubbleState(node, own ? 'delivered' : 'received');
    // Keep seq order: messages of a chat may arrive from HTTP and the socket interleaved.
    let before = null;
    for (const child of conv.list.children) {
      if (child.dataset.seq && Number(child.dataset.seq) > m.seq) { before = child; break; }
    }
    put(conv, conv.list, node, before);

    if (!own) {
      if (m.seq > conv.seen) {
        if (inView(conv)) conv.seen = m.seq;
        else if (pushed) conv.unread++;
        else conv.seen = Math.max(conv.seen, m.seq); // history read over HTTP counts as read
      }
      if (m.seq > conv.heard) {
        conv.heard = m.seq;
        // Only news make a sound: not the history a newly taken chat brings along.
        // activeSince is the server's clock like sentAt; the page's own clock may be off a bit.
        const since = ms(conv.chat && conv.chat.activeSince) || conv.mineSince - 2000;
        const fresh = pushed && conv.mine && !(ms(m.sentAt) < since);
        if (fresh && m.sender.role === 'visitor') {
          alertUser(m.sender.displayName, m.text.length > 140 ? m.text.slice(0, 139) + '…' : m.text, 'chat-' + m.chatId, inView(conv));
        }
      }
    }
    save();
    renderSoon();
  }

  const inView = (conv) => selectedId === conv.id && document.visibilityState === 'visible';

  function queueBubble(p) {
    const conv = ensureConv(p.chatId);
    const node = bubble(p.text, 'own');
    setBubbleState(node, 'sending');
    conv.outbox.set(p.id, node);
    put(conv, conv.pend, node);
  }

  // ---- Typing (A4) ----
  // At most one "typing" every 2 s per chat while typing; "stopped" once sent or emptied.
  const typingSent = new Map(); // chatId -> when "typing" was last sent
  function signalTyping(chatId, typing) {
    const conv = convs.get(chatId);
    if (!live || !ws || !conv || !canWrite(conv)) return;
    const last = typingSent.get(chatId) || 0;
    if (typing && Date.now() - last < 2000) return;
    if (!typing && !last) return;
    if (typing) typingSent.set(chatId, Date.now()); else typingSent.delete(chatId);
    ws.send(JSON.stringify({ type: 'typing', chatId, typing }));
  }
  const typingNow = new Map(); // chatId -> {name, until}
  function onTypingFrame(f) {
    if (f.typing) typingNow.set(f.chatId, { name: f.sender.displayName, until: Date.now() + 6000 });
    else typingNow.delete(f.chatId);
    renderTyping();
    setTimeout(renderTyping, 6100);
  }
  function renderTyping() {
    const shown = selectedId && typingNow.get(selectedId);
    const fresh = shown && shown.until > Date.now();
    const line = $('typing');
    line.hidden = !fresh;
    if (fresh) line.textContent = `${shown.name} is typing\u2026`;
  }

  function send() {
    const conv = selectedId && convs.get(selectedId);
    const text = ui.compose.value;
    if (!conv || !text.trim() || !canWrite(conv)) return;
    signalTyping(conv.id, false);
    const p = { chatId: conv.id, id: 'a-' + uuid(), text };
    saved.pending.push(p);
    queueBubble(p);
    ui.compose.value = conv.draft = '';
    save();
    transmit(p);
    ui.log.scrollTop = ui.log.scrollHeight;
  }

  function transmit(p) {
    if (live && ws) ws.send(JSON.stringify({ type: 'message.send', chatId: p.chatId, clientMessageId: p.id, text: p.text }));
  }

  const canWrite = (conv) => !!(conv && conv.mine && conv.chat && (conv.chat.status === 'assigned' || conv.chat.status === 'parked'));

  // Messages of a chat I did not list in `resume` (a new tab, a chat assigned meanwhile).
  async function backfill(id) {
    try {
      for (;;) {
        const conv = convs.get(id);
        if (!conv) return;
        const page = (await call('GET', `/chats/${encodeURIComponent(id)}/messages?afterSeq=${conv.contig}`)).messages;
        page.forEach((m) => onMessage(m, false));
        if (page.length < 500) return;
      }
    } catch (err) {
      if (err.status !== 401) showError('Could not load the conversation', err);
    }
  }

  // ---- Sound and notifications ----
  let audio = null, lastBeep = 0;
  function unlockAudio() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      if (audio.state === 'suspended') audio.resume();
    } catch (e) { /* no audio here */ }
  }
  function beep() {
    if (muted || Date.now() - lastBeep < 300) return; // one beep per burst
    lastBeep = Date.now();
    unlockAudio();
    if (!audio) return;
    const osc = audio.createOscillator(), gain = audio.createGain(), t = audio.currentTime;
    osc.frequency.value = 660;
    gain.gain.setValueAtTime(0.15, t);
    gain.gain.exponentialRampToValueAtTime(0.001, t + 0.25);
    osc.connect(gain).connect(audio.destination);
    osc.start(t);
    osc.stop(t + 0.25);
  }
  const notificationsGranted = () => 'Notification' in window && Notification.permission === 'granted';
  // A beep, and a browser notification when allowed and the console is not what the agent looks at.
  function alertUser(title, body, tag, looking) {
    beep();
    if (!notificationsGranted() || (looking && document.visibilityState === 'visible')) return;
    try {
      const n = new Notification(title, { body, tag });
      n.onclick = () => { window.focus(); if (tag.startsWith('chat-') && convs.get(tag.slice(5))?.mine) select(tag.slice(5)); };
    } catch (e) { /* some browsers allow notifications only from a service worker */ }
  }
  async function enableNotifications() {
    try {
      const answer = await Notification.requestPermission();
      if (answer !== 'granted') showError('Notifications', new Error(answer === 'denied' ? 'The browser blocks notifications for this site.' : 'Permission was not given.'));
    } catch (err) {
      showError('Notifications', err);
    }
    render();
  }

  // ---- Activity (B2): an idle agent shows as away and gets no new chats ----
  // The user typed, clicked or moved the mouse: tell the server at most every 20 s, and at
  // once (at most every 2 s) while shown as away, which makes the agent online again.
  let activitySent = 0;
  function onActivity() {
    if (!me || !live || !ws || !isAgent()) return;
    const since = Date.now() - activitySent;
    const away = (myPerson() || {}).state === 'away';
    if (since < 20000 && !(away && since >= 2000)) return;
    activitySent = Date.now();
    ws.send(JSON.stringify({ type: 'activity' }));
  }

  // ---- The socket ----
  function connect() {
    clearTimeout(retryTimer);
    retryAt = 0;
    if (ws || !me) return;
    const listed = [...convs.values()].filter((c) => c.mine).map((c) => c.id + ':' + c.contig);
    resumeListed = new Set([...convs.values()].filter((c) => c.mine).map((c) => c.id));
    let url = SOCKET + '?token=' + encodeURIComponent(me.token);
    if (listed.length) url += '&resume=' + encodeURIComponent(listed.join(','));
    const s = (ws = new WebSocket(url));
    s.onmessage = (e) => {
      if (ws !== s) return;
      let frame;
      try { frame = JSON.parse(e.data); } catch (err) { return showError('Unreadable frame from the server', err); }
      onFrame(frame);
    };
    s.onclose = (e) => {
      if (ws !== s) return;
      ws = null;
      live = false;
      if (signingOut || changingPassword || !me) return render();
      if (e.code === 1008 && e.reason === 'unauthorized') return expired();
      if (e.code === 1008 && e.reason === 'malformed resume') {
        showError('The server refused to resume', new Error('the list of chats to resume was not accepted; reloading them'));
        for (const conv of convs.values()) conv.mine = false;
      } else if (e.code === 1008) {
        showError('The server refused the connection', new Error(e.reason || 'policy violation'));
      }
      const delay = Math.min(15000, 500 * 2 ** tries++) * (0.75 + Math.random() / 2);
      retryAt = Date.now() + delay;
      retryTimer = setTimeout(connect, delay);
      render();
    };
    render();
  }

  function reconnectNow() {
    const s = ws;
    ws = null;
    live = false;
    if (s) s.close();
    tries = 0;
    connect();
  }

  function onFrame(f) {
    switch (f.type) {
      case 'hello': {
        live = true;
        tries = 0;
        connectedOnce = true;
        const inHello = new Set();
        for (const c of f.chats || []) {
          inHello.add(c.chatId);
          applyChat(c);
          if (!resumeListed.has(c.chatId) && (f.lastSeq || {})[c.chatId] > 0) backfill(c.chatId);
        }
        // Chats this page holds that hello does not list: closed (maybe in wrap-up) or gone.
        for (const conv of [...convs.values()]) if (conv.mine && !inHello.has(conv.id)) refreshChat(conv.id);
        refreshAll();
        refreshMe();
        if (isAdmin()) refreshAccounts();
        for (const p of saved.pending) transmit(p); // same clientMessageId: stored once
        render();
        break;
      }
      case 'chat.updated':
        applyChat(f.chat, f.change || 'update');
        refreshQueueSoon(); // agents get no `position` frames: read the places again
        break;
      case 'message':
        onMessage(f.message, true);
        if (!ownMessage(f.message) && typingNow.has(f.message.chatId)) { typingNow.delete(f.message.chatId); renderTyping(); }
        break;
      case 'typing':
        onTypingFrame(f);
        break;
      case 'message.accepted': {
        const node = convs.get(f.chatId)?.outbox.get(f.clientMessageId);
        if (node && node.dataset.state === 'sending') setBubbleState(node, 'sent');
        break;
      }
      case 'queue.overview':
        overview.set(f.queue.departmentId, { queue: f.queue, at: Date.now(), frameAt: Date.now() });
        refreshPeopleSoon(); // sent on every presence change of the department's agents
        renderSoon();
        break;
      case 'agent.updated':
        if (people) {
          const at = people.findIndex((p) => p.agentId === f.agent.agentId);
          if (at >= 0) people[at] = f.agent; else people.push(f.agent);
          renderSoon();
        } else refreshPeopleSoon();
        break;
      case 'department.updated':
        departments.set(f.department.departmentId, f.department);
        refreshPeopleSoon();
        renderSoon();
        break;
      case 'account.updated': // admins, and our own account
        onAccount(f.account);
        break;
      case 'error':
        onErrorFrame(f);
        break;
      default:
        break; // unknown frames are ignored (docs/realtime.md)
    }
  }

  function onErrorFrame(f) {
    if (f.code === 'session_ended') return sessionEnded(f); // the socket closes next
    const conv = f.chatId && convs.get(f.chatId);
    const node = conv && f.clientMessageId && conv.outbox.get(f.clientMessageId);
    if (node) {
      if (['unavailable', 'internal', 'rate_limited'].includes(f.code)) {
        setBubbleState(node, 'sending', 'Retrying…');
        setTimeout(() => { const p = saved.pending.find((x) => x.id === f.clientMessageId); if (p) transmit(p); }, f.code === 'rate_limited' ? 5000 : 2000);
        if (f.code === 'rate_limited') showError('Message delayed', f);
        return;
      }
      conv.outbox.delete(f.clientMessageId);
      saved.pending = saved.pending.filter((p) => p.id !== f.clientMessageId);
      save();
      setBubbleState(node, 'failed', 'Not sent: ' + f.message);
      showError('Message not sent', f);
      return;
    }
    if (f.code === 'chat_not_found' && conv) { // a chat listed in resume that is no longer ours
      forget(f.chatId);
      return;
    }
    showError('The server reported an error', f);
  }

  // ---- Reading state over HTTP (after connecting, and to follow what frames do not carry) ----
  function refreshAll() {
    refreshQueue();
    refreshOverview();
    refreshPeople();
    refreshDepartments();
  }
  async function refreshQueue() {
    const asked = performance.now();
    try {
      const chats = (await call('GET', '/queue')).chats;
      // A frame that came while the answer was on its way is newer than the answer.
      const older = (id) => (touched.get(id) || 0) < asked;
      const ids = new Set(chats.map((c) => c.chatId));
      for (const id of [...waiting.keys()]) if (!ids.has(id) && older(id)) waiting.delete(id);
      for (const c of chats) if (older(c.chatId) || waiting.has(c.chatId)) waiting.set(c.chatId, c);
      render();
    } catch (err) {
      if (err.status !== 401) showError('Could not read the queue', err);
    }
  }
  async function refreshOverview() {
    const asked = Date.now();
    try {
      for (const q of (await call('GET', '/queues')).queues) {
        // A queue.overview frame that came while the answer was on its way is newer.
        if ((overview.get(q.departmentId)?.frameAt || 0) < asked) overview.set(q.departmentId, { queue: q, at: Date.now() });
      }
      render();
    } catch (err) {
      if (err.status !== 401) showError('Could not read the queue overview', err);
    }
  }
  let peopleAsked = 0, peopleShown = 0;
  async function refreshPeople() {
    const n = ++peopleAsked;
    try {
      const answer = (await call('GET', '/people')).people;
      if (n < peopleShown || !me) return; // a later answer is already shown
      peopleShown = n;
      people = answer;
      render();
    } catch (err) {
      if (err.status !== 401) showError('Could not read who is online', err);
    }
  }
  async function refreshDepartments() {
    try {
      for (const d of (await call('GET', '/departments', undefined, true)).departments) departments.set(d.departmentId, d);
      render();
    } catch (err) {
      showError('Could not read the departments', err);
    }
  }
  async function refreshChat(id) {
    try {
      applyChat((await call('GET', '/chats/' + encodeURIComponent(id))).chat);
      const conv = convs.get(id);
      if (conv && !conv.mine) forget(id);
      else if (conv && !resumeListed.has(id)) backfill(id);
    } catch (err) {
      if (err.status === 404) forget(id);
      else if (err.status !== 401) showError('Could not read a chat', err);
    }
  }
  // The own account (roles, departments) as it is now: roles may change while signed in.
  async function refreshMe() {
    try {
      applyOwnAccount((await call('GET', '/agents/me')).account);
    } catch (err) {
      if (err.status !== 401) showError('Could not read your account', err);
    }
  }
  function applyOwnAccount(account) {
    if (!me || account.agentId !== me.id) return;
    const sees = () => JSON.stringify([isAdmin(), [...(me.departmentIds || [])].sort()]);
    const before = sees();
    me.roles = account.roles;
    me.departmentIds = account.departmentIds;
    me.displayName = account.displayName;
    ui.meName.textContent = me.displayName;
    if (screen === 'admin' && !isAdmin()) setScreen('chats');
    save();
    render();
    // What the socket shows was fixed when it opened: open it again for the new departments.
    if (sees() !== before && live) { reconnectNow(); if (isAdmin()) refreshAccounts(); }
  }
  async function refreshAccounts() {
    if (!isAdmin()) return;
    const asked = Date.now();
    try {
      const list = (await call('GET', '/accounts')).accounts;
      const fresh = new Set(list.map((a) => a.agentId));
      for (const [id, a] of accounts) if (!fresh.has(id) && (a.seenAt || 0) < asked) accounts.delete(id);
      for (const a of list) if ((accounts.get(a.agentId)?.seenAt || 0) < asked) accounts.set(a.agentId, a);
      accountsLoaded = true;
      render();
    } catch (err) {
      if (err.status !== 401) showError('Could not read the accounts', err);
    }
  }
  // An account changed (account.updated frames, answers to PATCH).
  function onAccount(a) {
    const account = Object.assign({}, a, { seenAt: Date.now() });
    if (a.status === 'rejected') accounts.delete(a.agentId); else accounts.set(a.agentId, account);
    if (me && a.agentId === me.id) applyOwnAccount(a);
    renderSoon();
  }

  const soon = (fn, wait) => { let t = 0; return () => { clearTimeout(t); t = setTimeout(fn, wait); }; };
  const refreshQueueSoon = soon(() => me && refreshQueue(), 250);
  const refreshPeopleSoon = soon(() => me && refreshPeople(), 200);

  // ---- Actions ----
  async function take(c) {
    const res = await act('take-' + c.chatId, `Could not take ${c.visitor.displayName}'s chat`, async () => {
      try {
        return await call('POST', `/chats/${encodeURIComponent(c.chatId)}/take`);
      } catch (err) {
        if (err.code === 'already_taken' || err.code === 'chat_closed' || err.status === 404) {
          waiting.delete(c.chatId); // someone was quicker: it is not waiting any more
          refreshQueue();
        }
        throw err;
      }
    });
    if (!res) return;
    applyChat(res.chat);
    select(res.chat.chatId);
    ui.compose.focus();
  }

  async function decline(c) {
    const res = await act('decline-' + c.chatId, `Could not decline ${c.visitor.displayName}'s chat`,
      () => call('POST', `/chats/${encodeURIComponent(c.chatId)}/decline`));
    if (res) applyChat(res.chat);
  }

  async function ownerAction(action, what, body) {
    const conv = convs.get(selectedId);
    if (!conv) return null;
    const res = await act(action + '-' + conv.id, `Could not ${what} ${conv.chat.visitor.displayName}'s chat`,
      () => call('POST', `/chats/${encodeURIComponent(conv.id)}/${action}`, body));
    if (res) applyChat(res.chat);
    return res;
  }

  async function returnToQueue() {
    const c = convs.get(selectedId)?.chat;
    if (!c || !(await confirmDialog('Return to queue?', `${c.visitor.displayName}'s chat goes back to the ${deptName(c.departmentId)} queue, where any agent can take it. The visitor is told.`, 'Return to queue'))) return;
    if (await ownerAction('return', 'return')) note(`${c.visitor.displayName}'s chat is back in the queue.`);
  }

  async function closeChat() {
    const c = convs.get(selectedId)?.chat;
    if (!c || !(await confirmDialog('Close this chat?', `The chat with ${c.visitor.displayName} ends for both of you; your wrap-up starts.`, 'Close chat'))) return;
    await ownerAction('close', 'close');
  }

  async function transferChat() {
    const conv = convs.get(selectedId);
    if (!conv) return;
    const c = conv.chat;
    await Promise.all([refreshDepartments(), refreshPeople()]); // offer only who can take it now
    const depts = [...departments.values()].filter((d) => d.open && d.departmentId !== c.departmentId)
      .sort((a, b) => a.displayName.localeCompare(b.displayName));
    const agents = eligibleAgents(c);
    const choice = await pickDialog(`Transfer ${c.visitor.displayName}'s chat`, [
      { legend: 'To a department (its queue)', options: depts.map((d) => ({ value: 'department:' + d.departmentId, label: d.displayName, hint: `${d.availableAgents} available` })) },
      { legend: `To an agent of ${deptName(c.departmentId)}`, options: agents.map((a) => ({ value: 'agent:' + a.agentId, label: a.displayName })) },
    ], 'Transfer', `Nobody can take this chat right now: no other department is open and no other agent of ${deptName(c.departmentId)} is available.`);
    if (!choice) return;
    const [kind, target] = [choice.slice(0, choice.indexOf(':')), choice.slice(choice.indexOf(':') + 1)];
    const res = await ownerAction('transfer', 'transfer', kind === 'agent' ? { toAgentId: target } : { toDepartmentId: target });
    if (res) note(`${c.visitor.displayName}'s chat was transferred to ${kind === 'agent' ? agents.find((a) => a.agentId === target)?.displayName : deptName(target)}.`);
  }

  async function inviteAgent() {
    const conv = convs.get(selectedId);
    if (!conv) return;
    const c = conv.chat;
    await refreshPeople();
    const invited = new Set((c.invitedAgents || []).map((a) => a.id));
    const agents = eligibleAgents(c).filter((a) => !invited.has(a.agentId));
    const choice = await pickDialog(`Invite an agent into ${c.visitor.displayName}'s chat`, [
      { legend: `Available agents of ${deptName(c.departmentId)}`, options: agents.map((a) => ({ value: a.agentId, label: a.displayName })) },
    ], 'Invite', `No other agent of ${deptName(c.departmentId)} is available right now.`);
    if (!choice) return;
    await ownerAction('invite', 'invite an agent into', { agentId: choice });
  }

  // Online, available, not busy, in the chat's department, and not me (what the router accepts).
  const eligibleAgents = (c) => (people || []).filter((p) => p.state === 'available' && p.departmentIds.includes(c.departmentId) && p.agentId !== me.id);

  async function setAvailability(body, what) {
    const res = await act('availability', `Could not ${what}`, () => call('PUT', '/agents/me/availability', body));
    if (res) { setTimeout(refreshPeople, 400); setTimeout(refreshPeople, 1500); } // the effect arrives through presence
  }

  // B5: log in to or out of one queue; the others stay as they are.
  async function setQueue(departmentId, loggedIn) {
    const mine = myPerson();
    if (!mine) return;
    const current = new Set(queuesOf(mine));
    if (loggedIn) current.add(departmentId); else current.delete(departmentId);
    const departmentIds = mine.departmentIds.filter((d) => current.has(d));
    const res = await act('queues', `Could not ${loggedIn ? 'log in to' : 'log out of'} ${deptName(departmentId)}`,
      () => call('PUT', '/agents/me/queues', { departmentIds }));
    if (res) {
      expectQueues(mine.agentId, departmentIds); // shown at once; presence confirms through the people view
      note(`${loggedIn ? 'Logged in to' : 'Logged out of'} ${deptName(departmentId)}.`);
      setTimeout(refreshPeople, 400); setTimeout(refreshPeople, 1500);
    }
    render();
  }

  // Queues just changed here are shown as asked until the people view agrees (or for 5 s):
  // a people answer read before presence applied the change must not undo the checkbox.
  const queueOverrides = new Map(); // agentId -> {queues, until}
  const sameSet = (a, b) => a.length === b.length && a.every((x) => b.includes(x));
  function expectQueues(agentId, queues) {
    queueOverrides.set(agentId, { queues, until: Date.now() + 5000 });
  }
  function queuesOf(p) {
    const actual = p.queues || p.departmentIds;
    const o = queueOverrides.get(p.agentId);
    if (!o) return actual;
    if (sameSet(o.queues, actual) || Date.now() > o.until) { queueOverrides.delete(p.agentId); return actual; }
    return o.queues;
  }

  // ---- Supervisors (B5): log agents in and out of queues, sign them out ----
  async function setAgentQueue(agent, departmentId, loggedIn) {
    const mine = supervisedOf(agent);
    const current = new Set(queuesOf(agent).filter((d) => mine.includes(d)));
    if (loggedIn) current.add(departmentId); else current.delete(departmentId);
    const departmentIds = mine.filter((d) => current.has(d)); // exactly these of my departments
    const res = await act('agent-queues-' + agent.agentId, `Could not log ${agent.displayName} ${loggedIn ? 'in to' : 'out of'} ${deptName(departmentId)}`,
      () => call('PUT', `/agents/${encodeURIComponent(agent.agentId)}/queues`, { departmentIds }));
    if (res) {
      expectQueues(agent.agentId, queuesOf(agent).filter((d) => !mine.includes(d)).concat(departmentIds)); // presence confirms
      note(`${agent.displayName} is logged ${loggedIn ? 'in to' : 'out of'} ${deptName(departmentId)}.`);
      setTimeout(refreshPeople, 400); setTimeout(refreshPeople, 1500);
    }
    render();
  }

  async function signOutAgent(agent) {
    const name = agent.displayName;
    if (!(await confirmDialog(`Sign out ${name}?`,
      `All of ${name}'s sessions end and ${name} goes offline at once; their chats go back to the queue. They can sign in again.`, 'Sign out'))) return;
    const res = await act('sign-out-' + agent.agentId, `Could not sign out ${name}`,
      () => call('POST', `/agents/${encodeURIComponent(agent.agentId)}/sign-out`).then(() => true));
    if (res) { note(`${name} was signed out.`); setTimeout(refreshPeople, 300); }
  }

  // ---- Admins (B1): accounts and widget snippets ----
  function setScreen(which) {
    const was = screen;
    screen = which === 'admin' && isAdmin() ? 'admin' : which === 'archive' ? 'archive' : 'chats';
    if (screen === 'admin' && !accountsLoaded) refreshAccounts();
    if (screen === 'admin' && was !== 'admin') loadRetention();
    if (screen === 'archive' && !archive.asked) archiveSearch();
    save();
    render();
  }

  // Changes an account (PATCH); returns the account as it is now, or throws.
  async function patchAccount(agentId, change) {
    const account = (await call('PATCH', `/accounts/${encodeURIComponent(agentId)}`, change)).account;
    onAccount(account);
    return account;
  }

  async function accountAction(a, kind) {
    const name = `${a.displayName} (${a.agentId})`;
    const ask = {
      reject: [`Reject ${a.displayName}'s registration?`, `${name} cannot sign in, and the login name becomes free again.`, 'Reject'],
      disable: [`Disable ${a.displayName}?`, `${name} is signed out everywhere at once and cannot sign in until the account is enabled again. Their chats go back to the queue.`, 'Disable'],
      end: [`End ${a.displayName}'s sessions?`, `${name} is signed out everywhere at once (for example after losing a laptop) and goes offline; their chats go back to the queue. They can sign in again.`, 'End sessions'],
    }[kind];
    if (ask && !(await confirmDialog(...ask))) return;
    const what = { reject: 'reject', disable: 'disable', enable: 'enable', end: 'end the sessions of' }[kind];
    const res = await act(`account-${a.agentId}`, `Could not ${what} ${name}`, () => (kind === 'end'
      ? call('POST', `/accounts/${encodeURIComponent(a.agentId)}/revoke-sessions`).then(() => true)
      : patchAccount(a.agentId, { status: { reject: 'rejected', disable: 'disabled', enable: 'active' }[kind] })));
    if (res) note({ reject: `${name} was rejected.`, disable: `${name} is disabled.`, enable: `${name} is enabled again.`, end: `${name}'s sessions were ended.` }[kind]);
    focusAccountRow(a.agentId);
  }

  // After a row's buttons changed, focus stays in the row (or the table's first button).
  function focusAccountRow(agentId) {
    if (document.activeElement && document.activeElement !== document.body && document.activeElement.isConnected) return;
    const row = ui.accounts.querySelector(`tr[data-agent-id="${CSS.escape(agentId)}"]`);
    const target = (row && row.querySelector('.actions button')) || ui.accounts.querySelector('.actions button');
    if (target) target.focus();
  }

  const ROLES = [['agent', 'Agent', 'takes chats of their departments'], ['supervisor', 'Supervisor', 'watches queues, logs agents in and out'],
    ['admin', 'Admin', 'approves accounts, sets roles and departments']];
  let editing = null; // {account, mode: 'approve' | 'edit', opener}

  function accountDialog(a, mode) {
    editing = { account: a, mode, opener: document.activeElement };
    ui.accountTitle.textContent = mode === 'approve' ? `Approve ${a.displayName}` : `Edit ${a.displayName}`;
    ui.accountWho.textContent = `Login “${a.agentId}” · ${statusLabels[a.status] || a.status}` +
      (mode === 'approve' ? '. Choose what the account may do; it can sign in once approved.' : '');
    const box = (name, value, label, hint, checked) => {
      const id = `account-${name}-${value}`;
      return el('div', { class: 'option' }, el('input', { type: 'checkbox', id, name, value, checked }),
        el('label', { for: id, text: label }), hint ? el('span', { class: 'hint', text: ' ' + hint }) : '');
    };
    const legend = (fieldset) => fieldset.querySelector('legend');
    ui.accountRoles.replaceChildren(legend(ui.accountRoles), ...ROLES.map(([r, label, hint]) => box('role', r, label, hint, a.roles.includes(r))));
    const depts = [...departments.values()].sort((x, y) => x.displayName.localeCompare(y.displayName));
    ui.accountDepts.replaceChildren(legend(ui.accountDepts), ...depts.map((d) => box('dept', d.departmentId, d.displayName, '', a.departmentIds.includes(d.departmentId))));
    if (!depts.length) ui.accountDepts.append(el('p', { class: 'empty', text: 'No departments could be read.' }));
    ui.accountMax.value = a.maxChats || 0;
    ui.accountAway.value = a.awayAfterMinutes;
    ui.accountError.textContent = '';
    ui.accountSave.textContent = mode === 'approve' ? 'Approve' : 'Save';
    ui.accountSave.disabled = false;
    ui.accountDialog.returnValue = '';
    ui.accountDialog.showModal();
    ui.accountRoles.querySelector('input').focus();
  }

  async function saveAccount(e) {
    e.preventDefault();
    if (!editing) return;
    const { account: a, mode } = editing;
    const roles = [...ui.accountRoles.querySelectorAll('input:checked')].map((i) => i.value);
    const departmentIds = [...ui.accountDepts.querySelectorAll('input:checked')].map((i) => i.value);
    const maxChats = Number(ui.accountMax.value), away = Number(ui.accountAway.value);
    let problem = '';
    if (!roles.length) problem = 'Choose at least one role.';
    else if (ui.accountMax.value === '' || !Number.isInteger(maxChats) || maxChats < 0 || maxChats > 100) problem = 'Max. chats must be a whole number from 0 to 100.';
    else if (ui.accountAway.value === '' || !(away >= 0 && away <= 1440)) problem = 'Away after must be 0 to 1440 minutes.';
    if (problem) { ui.accountError.textContent = problem; return; }
    const change = { roles, departmentIds, maxChats, awayAfterMinutes: away };
    if (mode === 'approve') change.status = 'active';
    ui.accountSave.disabled = true;
    ui.accountError.textContent = '';
    try {
      await patchAccount(a.agentId, change);
      ui.accountDialog.close('saved');
      note(mode === 'approve' ? `${a.displayName} (${a.agentId}) is approved and can sign in.` : `${a.displayName}'s account was saved.`);
    } catch (err) {
      ui.accountError.textContent = `Could not ${mode === 'approve' ? 'approve' : 'save'} ${a.displayName}'s account: ${err.message}${codeOf(err)}`;
    } finally {
      ui.accountSave.disabled = false;
    }
  }

  function onAccountDialogClosed() {
    const was = editing;
    editing = null;
    if (!was) return;
    if (was.opener && was.opener.isConnected && !was.opener.disabled) was.opener.focus();
    else focusAccountRow(was.account.agentId);
  }

  const snippetOf = (departmentId) => `<script src="${location.origin}/widget.js" data-department="${departmentId}" async></script>`;

  async function copySnippet(li) {
    const area = li.querySelector('textarea'), status = li.querySelector('.copied'), name = li.querySelector('.dept-name').textContent;
    let copied = false;
    try {
      await navigator.clipboard.writeText(area.value);
      copied = true;
    } catch (e) { /* not allowed here: try the selection */ }
    if (!copied) {
      area.focus();
      area.select();
      try { copied = document.execCommand('copy'); } catch (e) { copied = false; }
    }
    status.textContent = copied ? `Copied the ${name} snippet.` : 'The browser did not allow copying: the snippet is selected, press Ctrl+C.';
  }

  // ---- Files: PDF transcripts and exports, fetched with the token and saved as downloads ----
  // Resolves to {blob, name, headers}; fails like `call` (the server's message and code).
  async function fetchFile(path, fallbackName) {
    let res;
    try {
      res = await fetch(API + path, { headers: { Authorization: 'Bearer ' + me.token } });
    } catch (e) {
      const err = new Error('The server cannot be reached.');
      err.code = 'network';
      throw err;
    }
    if (!res.ok) throw failure(res, await res.json().catch(() => ({})), false);
    const match = /filename="?([^";]+)"?/i.exec(res.headers.get('Content-Disposition') || '');
    return { blob: await res.blob(), name: match ? match[1] : fallbackName, headers: res.headers };
  }
  function saveBlob(blob, name) {
    const url = URL.createObjectURL(blob);
    const link = el('a', { href: url, download: name, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 30000);
  }
  const timeZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
  // Times in the archive: "15:04", or with the day when it is not the chat's first day.
  const clock = (iso) => new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  const when = (iso) => new Date(iso).toLocaleString([], { dateStyle: 'short', timeStyle: 'short', hourCycle: 'h23' });
  const sameDay = (a, b) => new Date(a).toDateString() === new Date(b).toDateString();
  const stamp = (iso, first) => (!first || sameDay(iso, first) ? clock(iso) : when(iso));
  const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

  // ---- The archive (E1-E5): search, a chat's story and transcript, PDF, e-mail, ticket, delete, export ----
  const archive = { asked: false, query: '', chats: [], next: null, loading: false, n: 0, detail: null, detailN: 0 };
  function resetArchive() {
    Object.assign(archive, { asked: false, query: '', chats: [], next: null, loading: false, detail: null });
    archive.n++;
    archive.detailN++;
    for (const list of [ui.archiveRows, ui.archivedStory, ui.archivedMessages]) list.textContent = '';
    for (const line of [ui.archiveStatus, ui.exportStatus, ui.deleteAllStatus]) line.textContent = '';
    ui.archiveQ.value = '';
    ui.archiveDept.value = ui.toolsDept.value = '';
    ui.archiveMine.checked = false;
  }

  // A query string with %20 for spaces (the gateway does not read "+" as a space).
  const queryOf = (params) => Object.entries(params).filter(([, v]) => v !== '' && v !== undefined && v !== null)
    .map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
  const archiveQuery = () => queryOf({ q: ui.archiveQ.value.trim(), departmentId: ui.archiveDept.value,
    mine: ui.archiveMine.checked ? 'true' : '', limit: 25 });

  // A new search (more: the next page of the last one, via nextCursor).
  async function archiveSearch(more) {
    if (!me) return;
    if (more && (!archive.next || archive.loading)) return;
    const n = more ? archive.n : ++archive.n;
    if (!more) archive.query = archiveQuery();
    const query = archive.query + (more ? '&cursor=' + encodeURIComponent(archive.next) : '');
    const before = archive.chats.length;
    archive.asked = true;
    archive.loading = true;
    setLine(ui.archiveStatus, more ? 'Loading more…' : 'Searching…');
    renderArchive();
    try {
      const answer = await call('GET', '/archive/chats?' + query);
      if (n !== archive.n) return; // a newer search was started meanwhile
      const known = new Set(more ? archive.chats.map((c) => c.chatId) : []);
      archive.chats = (more ? archive.chats : []).concat(answer.chats.filter((c) => !known.has(c.chatId)));
      archive.next = answer.nextCursor || null;
      countLine();
    } catch (err) {
      if (n !== archive.n) return;
      setLine(ui.archiveStatus, `Could not search the archive: ${err.message}${codeOf(err)}`, true);
    } finally {
      if (n === archive.n) {
        archive.loading = false;
        renderArchive();
        // Load more: the keyboard goes on with the first new chat.
        if (more) ui.archiveRows.children[before]?.querySelector('.archived-open')?.focus();
      }
    }
  }

  function countLine() {
    const count = archive.chats.length;
    setLine(ui.archiveStatus, count ? `${plural(count, 'chat')}${archive.next ? ' so far' : ''}, newest first.` : '');
  }

  function setLine(node, text, error) {
    node.textContent = text;
    node.classList.toggle('error', !!error);
  }

  // The department choices of a filter: the caller's departments (admins: all).
  function fillDepartments(select) {
    const ids = isAdmin() || !myDepartments() ? [...departments.keys()] : myDepartments();
    const list = ids.map((id) => [id, deptName(id)]).sort((a, b) => a[1].localeCompare(b[1]));
    const key = JSON.stringify(list) + isAdmin();
    if (select.dataset.key === key) return;
    select.dataset.key = key;
    const value = select.value;
    select.replaceChildren(el('option', { value: '', text: isAdmin() ? 'All departments' : 'All my departments' }),
      ...list.map(([id, name]) => el('option', { value: id, text: name })));
    select.value = list.some(([id]) => id === value) ? value : '';
  }

  const agentNames = (c) => (c.agents || []).map((a) => a.displayName).join(', ');
  const statusOf = (c) => (c.closedAt ? 'Closed' : 'Open');

  function renderArchive() {
    if (!me) return;
    const supervisor = isSupervisor();
    ui.archiveTools.hidden = !supervisor;
    ui.archivedDelete.hidden = !supervisor;
    fillDepartments(ui.archiveDept);
    fillDepartments(ui.toolsDept);
    if (screen !== 'archive') return;
    ui.archiveMore.hidden = !archive.next;
    ui.archiveMore.disabled = archive.loading;
    ui.archiveEmpty.hidden = !archive.asked || archive.loading || archive.chats.length > 0;
    const shown = archive.detail && archive.detail.chatId;
    syncList(ui.archiveRows, archive.chats, (c) => c.chatId, (c) => el('tr', { 'data-chat-id': c.chatId },
      el('td', { class: 'a-time' }), el('td', { class: 'a-dept' }),
      el('th', { scope: 'row', class: 'a-contact' }, button('', { class: 'link archived-open', onclick: () => openArchived(c.chatId, true) }),
        el('span', { class: 'contact-number' })),
      el('td', { class: 'a-agents' }), el('td', { class: 'a-count num' }), el('td', { class: 'a-status' })),
    (row, c) => {
      row.dataset.status = c.closedAt ? 'closed' : 'open';
      row.classList.toggle('current', shown === c.chatId);
      row.querySelector('.a-time').textContent = when(c.queuedAt);
      row.querySelector('.a-dept').textContent = deptName(c.departmentId);
      const open = row.querySelector('.archived-open');
      open.textContent = c.visitor.displayName;
      row.querySelector('.contact-number').textContent = contactOf(c.contact, c.visitor);
      open.setAttribute('aria-label', `${c.visitor.displayName}, ${when(c.queuedAt)}, ${deptName(c.departmentId)}: open the chat`);
      if (shown === c.chatId) open.setAttribute('aria-current', 'true'); else open.removeAttribute('aria-current');
      row.querySelector('.a-agents').textContent = agentNames(c) || '—';
      row.querySelector('.a-count').textContent = c.messageCount;
      const status = row.querySelector('.a-status');
      status.textContent = statusOf(c);
      status.title = c.closedAt ? `Ended ${when(c.closedAt)}${c.closedBy ? ' by ' + c.closedBy.displayName : ''}` : 'The chat has not ended';
    });
    ui.archivedPdf.disabled = busyButtons.has('archived-pdf');
    ui.archivedDelete.disabled = busyButtons.has('archived-delete');
    ui.deleteAll.disabled = busyButtons.has('delete-all');
    ui.exportGo.disabled = busyButtons.has('export');
  }

  async function openArchived(chatId, focus) {
    const n = ++archive.detailN;
    try {
      const chat = (await call('GET', '/archive/chats/' + encodeURIComponent(chatId))).chat;
      if (n !== archive.detailN || !me) return;
      archive.detail = chat;
      renderArchived();
      renderArchive();
      if (focus === 'title') ui.archivedTitle.focus();
    } catch (err) {
      if (n === archive.detailN && err.status !== 401) showError('Could not open the archived chat', err);
    }
  }

  // What happened to the chat, one line per step: "10:02 assigned to Alice Adams (manual_pick)".
  function storyLine(step, c) {
    const agent = step.agent ? step.agent.displayName : '';
    const by = agent ? ` by ${agent}` : '';
    const detail = step.detail ? ` (${step.detail})` : '';
    switch (step.type) {
      case 'chat.queued': return `queued in ${deptName(step.departmentId || c.departmentId)}${detail}`;
      case 'chat.offered': return `offered to ${agent || 'an agent'}${detail}`;
      case 'chat.assigned': return `assigned to ${agent || 'an agent'}${detail}`;
      case 'chat.parked': return `parked${by}${detail}`;
      case 'chat.unparked': return `unparked${by}${detail}`;
      case 'chat.transferred': return `transferred to ${agent || deptName(step.departmentId)}${detail}`;
      case 'chat.requeued': return `back in the queue${detail}`;
      case 'chat.agent_invited': return `${agent || 'an agent'} invited${detail}`;
      case 'chat.closed': return `closed${detail}`;
      case 'chat.wrapup_started': return `wrap-up started${by}${detail}`;
      case 'chat.wrapup_finished': return `wrap-up finished${by}${detail}`;
      default: return `${step.type.replace(/^chat\./, '').replace(/_/g, ' ')}${by}${detail}`;
    }
  }

  function renderArchived() {
    const c = archive.detail;
    ui.archivedEmpty.hidden = !!c;
    ui.archivedView.hidden = !c;
    if (!c) return;
    const name = c.visitor.displayName;
    ui.archivedView.dataset.chatId = c.chatId;
    ui.archivedTitle.textContent = name;
    const ended = c.closedAt ? `ended ${stamp(c.closedAt, c.queuedAt)}${c.closedBy ? ' by ' + c.closedBy.displayName : ''}` : 'not ended yet';
    ui.archivedMeta.replaceChildren(
      el('span', { class: 'line1', text: `${deptName(c.departmentId)} · ${when(c.queuedAt)} · ${ended} · ${plural(c.messageCount, 'message')}` }),
      el('br'),
      el('span', { class: 'line2', text: [`Agents: ${agentNames(c) || 'none'}`, c.contact ? `contact ${c.contact}` : '', c.contactEmail ? `e-mail ${c.contactEmail}` : '',
        `visitor id ${c.visitor.id}`, `chat id ${c.chatId}`].filter(Boolean).join(' · ') }));
    showPrechat(ui.archivedPrechat, ui.archivedPrechatList, c.preChat);
    ui.archivedStory.replaceChildren(...(c.story || []).map((step) => el('li', { 'data-type': step.type },
      el('time', { datetime: step.at, text: stamp(step.at, c.queuedAt) }), ' ', storyLine(step, c))));
    const messages = c.messages || [];
    ui.archivedNoMessages.hidden = messages.length > 0;
    ui.archivedMessages.replaceChildren(...messages.map((m) => {
      const visitor = m.sender.role === 'visitor';
      const node = el('li', { class: 'msg ' + (visitor ? 'visitor' : 'agent'), 'data-id': m.messageId },
        el('span', { class: 'sender', text: m.sender.displayName + (visitor ? '' : ' (agent)') }),
        el('span', { class: 'text', text: m.text }),
        el('span', { class: 'meta', text: stamp(m.sentAt, c.queuedAt) }));
      return node;
    }));
    ui.archivedEmail.setAttribute('aria-label', `E-mail the transcript of ${name}'s chat`);
    ui.archivedTicket.setAttribute('aria-label', `Create a ticket from ${name}'s chat`);
    ui.archivedPdf.setAttribute('aria-label', `Download the transcript of ${name}'s chat as PDF`);
    ui.archivedDelete.setAttribute('aria-label', `Delete ${name}'s chat from the archive`);
  }

  // A chat is gone from the archive: from the list, the detail and the earlier chats.
  function dropArchived(chatIds) {
    const gone = new Set(chatIds);
    archive.chats = archive.chats.filter((c) => !gone.has(c.chatId));
    if (archive.detail && gone.has(archive.detail.chatId)) { archive.detail = null; archive.detailN++; }
    for (const entry of earlier.values()) if (entry.chats) entry.chats = entry.chats.filter((c) => !gone.has(c.chatId));
    if (!archive.loading) countLine();
    renderArchived();
    render();
  }

  async function downloadArchivedPdf() {
    const c = archive.detail;
    if (!c) return;
    const file = await act('archived-pdf', `Could not download the transcript of ${c.visitor.displayName}'s chat`,
      () => fetchFile(`/chats/${encodeURIComponent(c.chatId)}/transcript.pdf?timeZone=${encodeURIComponent(timeZone())}`, `chat-${c.chatId.slice(0, 8)}.pdf`));
    if (!file) return;
    saveBlob(file.blob, file.name);
    note(`Downloaded ${file.name}.`);
  }

  function emailArchived() {
    const c = archive.detail;
    if (!c) return;
    return askDialog({
      title: `E-mail the transcript of ${c.visitor.displayName}'s chat`, kind: 'email', value: c.contactEmail || '', yes: 'Send',
      text: 'The transcript is sent as a PDF attachment, with the times in your time zone.',
      failed: 'Not sent',
      submit: async (email) => {
        if (!EMAIL.test(email)) throw new Error('Please enter an e-mail address such as name@example.com.');
        await call('POST', `/chats/${encodeURIComponent(c.chatId)}/transcript/email`, { email, timeZone: timeZone() });
        note(`Transcript sent to ${email}.`);
      },
    });
  }

  function ticketArchived() {
    const c = archive.detail;
    if (!c) return;
    return askDialog({
      title: `Create a ticket from ${c.visitor.displayName}'s chat`, kind: 'note', value: '', yes: 'Create ticket',
      text: 'The chat with its transcript goes to the ticket system, with your note.',
      failed: 'No ticket created',
      submit: async (text) => {
        await call('POST', `/chats/${encodeURIComponent(c.chatId)}/ticket`, { note: text });
        note(`A ticket was requested for ${c.visitor.displayName}'s chat.`);
      },
    });
  }

  async function deleteArchived() {
    const c = archive.detail;
    if (!c || !isSupervisor()) return;
    const name = c.visitor.displayName;
    if (!(await confirmDialog(`Delete ${name}'s chat?`,
      `The chat of ${when(c.queuedAt)} in ${deptName(c.departmentId)} is deleted from the archive for good, with its story and transcript.`, 'Delete'))) return;
    const res = await act('archived-delete', `Could not delete ${name}'s chat`, async () => {
      try {
        return await call('DELETE', `/archive/chats/${encodeURIComponent(c.chatId)}`).then(() => 'deleted');
      } catch (err) {
        if (err.code === 'chat_not_found') return 'gone'; // deleted meanwhile (elsewhere, or by retention)
        throw err;
      }
    });
    if (!res) return;
    dropArchived([c.chatId]);
    note(res === 'gone' ? `${name}'s chat is no longer in the archive.` : `${name}'s chat was deleted from the archive.`);
    ui.archiveQ.focus();
  }

  async function deleteAllClosed() {
    if (!isSupervisor()) return;
    const d = ui.toolsDept.value;
    const where = d ? deptName(d) : isAdmin() ? 'every department' : 'your departments';
    if (!(await confirmDialog('Delete all closed chats?',
      `Every closed chat of ${where} is deleted from the archive for good, with its story and transcript. Open chats stay.`, 'Delete all closed chats'))) return;
    setLine(ui.deleteAllStatus, '');
    const res = await act('delete-all', 'Could not delete the closed chats',
      () => call('DELETE', '/archive/chats?status=closed' + (d ? '&departmentId=' + encodeURIComponent(d) : '')));
    if (!res) return;
    const text = `Deleted ${plural(res.deleted, 'closed chat')} of ${where}.`;
    setLine(ui.deleteAllStatus, text);
    note(text);
    earlier.clear();
    if (archive.detail && archive.detail.closedAt && (!d || archive.detail.departmentId === d)) dropArchived([archive.detail.chatId]);
    archiveSearch();
  }

  // A local day from a date field as a time: its midnight (plus `days`), for from/to.
  function dayStart(value, days) {
    if (!value) return '';
    const [y, m, d] = value.split('-').map(Number);
    return new Date(y, m - 1, d + (days || 0)).toISOString();
  }

  async function exportArchive(e) {
    e.preventDefault();
    if (busyButtons.has('export')) return;
    const format = ui.exportForm.querySelector('input[name="export-format"]:checked').value;
    const p = queryOf({ format, from: dayStart(ui.exportFrom.value), departmentId: ui.toolsDept.value,
      to: dayStart(ui.exportTo.value, 1) }); // the "to" day is included
    busyButtons.add('export');
    setLine(ui.exportStatus, 'Exporting…');
    renderArchive();
    try {
      const file = await fetchFile('/archive/export?' + p, `chats.${format}`);
      saveBlob(file.blob, file.name);
      const count = file.headers.get('X-Archive-Chats');
      setLine(ui.exportStatus, `Exported ${count === null ? 'the chats' : plural(Number(count), 'chat')} as ${file.name}.`);
    } catch (err) {
      setLine(ui.exportStatus, `Could not export: ${err.message}${codeOf(err)}`, true);
    } finally {
      busyButtons.delete('export');
      renderArchive();
    }
  }

  // From the customer panel (or anywhere): the Archive view showing this chat.
  function openInArchive(chatId) {
    ui.archiveQ.value = chatId;
    ui.archiveDept.value = '';
    ui.archiveMine.checked = false;
    archive.asked = true;
    setScreen('archive');
    archiveSearch();
    openArchived(chatId, 'title');
  }

  // E2: "Guest-N" next to a name, unless the visitor is shown by it anyway.
  const contactOf = (contact, visitor) => (contact && contact !== visitor.displayName ? contact : '');

  // ---- A3: the visitor's pre-chat answers (Incoming, the customer panel, the archive) ----
  // [[label, value]]: the category first, then the answers in the form's order.
  const prechatPairs = (p) => (p ? (p.category ? [['Category', p.category]] : []).concat((p.answers || []).map((a) => [a.label, a.value])) : []);
  const short = (text, n = 60) => { const t = text.replace(/\s+/g, ' ').trim(); return t.length > n ? t.slice(0, n - 1) + '…' : t; };
  function showPrechat(box, list, p) {
    const pairs = prechatPairs(p);
    box.hidden = !pairs.length;
    const key = JSON.stringify(pairs);
    if (list.dataset.key === key) return;
    list.dataset.key = key;
    list.replaceChildren(...pairs.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v })]));
  }

  // ---- D2: the customer panel of the chat shown: the visitor and their earlier chats ----
  const earlier = new Map(); // chatId of the open chat -> {loading, chats, more, error}
  async function loadEarlier(c) {
    const entry = { loading: true, chats: null, more: false, error: null };
    earlier.set(c.chatId, entry);
    renderCustomer();
    try {
      const answer = await call('GET', `/archive/chats?visitorId=${encodeURIComponent(c.visitor.id)}&limit=20`);
      entry.chats = answer.chats.filter((x) => x.chatId !== c.chatId);
      entry.more = !!answer.nextCursor;
    } catch (err) {
      entry.error = err;
    } finally {
      entry.loading = false;
      if (earlier.get(c.chatId) === entry) renderCustomer();
    }
  }

  function renderCustomer() {
    const conv = selectedId && convs.get(selectedId);
    const c = conv && conv.chat;
    ui.customer.hidden = !c;
    if (!c) return;
    if (!earlier.has(c.chatId)) return void loadEarlier(c);
    const entry = earlier.get(c.chatId);
    ui.customer.dataset.chatId = c.chatId;
    ui.customerName.textContent = c.visitor.displayName;
    ui.customerId.textContent = c.visitor.id;
    ui.customerContact.textContent = c.visitor.contact || '';
    ui.customerContact.hidden = ui.customerContactLabel.hidden = !c.visitor.contact;
    ui.customerEmail.textContent = c.contactEmail || '';
    ui.customerEmail.hidden = ui.customerEmailLabel.hidden = !c.contactEmail;
    showPrechat(ui.customerPrechat, ui.customerPrechatList, c.preChat);
    const list = entry.chats || [];
    ui.customerSummary.textContent = `Customer: ${c.visitor.displayName}` +
      (entry.chats ? ` · ${list.length}${entry.more ? '+' : ''} earlier chat${list.length === 1 && !entry.more ? '' : 's'}` : '');
    setLine(ui.customerNote, entry.loading ? 'Reading the archive…'
      : entry.error ? `Could not read the earlier chats: ${entry.error.message}${codeOf(entry.error)}` : list.length ? '' : 'No earlier chats.', !!entry.error);
    ui.customerRefresh.disabled = entry.loading;
    syncList(ui.customerHistory, list, (x) => x.chatId,
      (x) => el('li', { 'data-chat-id': x.chatId }, button('', { class: 'link earlier-chat', onclick: () => openInArchive(x.chatId) })),
      (li, x) => {
        const open = li.firstChild;
        const agents = agentNames(x);
        open.textContent = `${when(x.queuedAt)} · ${deptName(x.departmentId)} · ${plural(x.messageCount, 'message')}${agents ? ' · ' + agents : ''}${x.closedAt ? '' : ' · open'}`;
        open.setAttribute('aria-label', `Earlier chat of ${when(x.queuedAt)}, ${deptName(x.departmentId)}, ${plural(x.messageCount, 'message')}: open it in the archive`);
      });
  }

  // ---- Admins (E4): how long each department keeps closed chats ----
  const retention = new Map(); // departmentId -> {settings, status, error, busy}
  async function loadRetention() {
    if (!isAdmin()) return;
    if (!departments.size) await refreshDepartments();
    await Promise.all([...departments.keys()].map(async (id) => {
      const entry = retention.get(id) || {};
      retention.set(id, entry);
      try {
        entry.settings = (await call('GET', `/departments/${encodeURIComponent(id)}/settings`)).settings;
        entry.fresh = entry.formFresh = true; // the fields show it at the next render
        Object.assign(entry, { formStatus: '', formError: false });
      } catch (err) {
        Object.assign(entry, { status: `Could not read the setting: ${err.message}${codeOf(err)}`, error: true });
        Object.assign(entry, { formStatus: `Could not read the form: ${err.message}${codeOf(err)}`, formError: true });
      }
    }));
    render();
  }

  async function saveRetention(id, form) {
    const input = form.querySelector('input');
    const entry = retention.get(id) || {};
    retention.set(id, entry);
    const raw = input.value.trim();
    if (input.validity.badInput) {
      Object.assign(entry, { status: 'Give a whole number of days, or leave the field empty to keep closed chats.', error: true });
      input.setAttribute('aria-invalid', 'true');
      return render();
    }
    entry.busy = true;
    render();
    try {
      entry.settings = (await call('PUT', `/departments/${encodeURIComponent(id)}/settings`, { retentionDays: raw === '' ? null : Number(raw) })).settings;
      entry.fresh = true;
      const days = entry.settings.retentionDays;
      Object.assign(entry, { status: days ? `Saved: closed chats are deleted ${plural(days, 'day')} after they ended.` : 'Saved: closed chats are kept.', error: false });
      input.removeAttribute('aria-invalid');
    } catch (err) {
      Object.assign(entry, { status: `Not saved: ${err.message}${codeOf(err)}`, error: true });
      input.setAttribute('aria-invalid', 'true');
    } finally {
      entry.busy = false;
      render();
    }
  }

  function renderRetention() {
    const depts = [...departments.values()].sort((a, b) => a.displayName.localeCompare(b.displayName));
    syncList(ui.retention, depts, (d) => d.departmentId, (d) => {
      const id = 'retention-' + d.departmentId;
      const form = el('form', { class: 'retention-form', novalidate: true },
        el('label', { for: id }, el('span', { class: 'dept-name' }), ': keep closed chats for'),
        el('input', { id, type: 'number', min: 1, max: 3650, step: 1, inputmode: 'numeric', class: 'retention-days', placeholder: 'keep', 'aria-describedby': id + '-status' }),
        el('span', { text: 'days' }),
        el('button', { type: 'submit', class: 'btn small retention-save' }, 'Save'),
        el('span', { id: id + '-status', class: 'retention-status', role: 'status' }));
      form.addEventListener('submit', (e) => { e.preventDefault(); saveRetention(d.departmentId, form); });
      return el('li', { 'data-department-id': d.departmentId }, form);
    }, (li, d) => {
      const entry = retention.get(d.departmentId) || {};
      li.querySelector('.dept-name').textContent = d.displayName;
      const input = li.querySelector('input');
      input.setAttribute('aria-label', `Keep closed chats of ${d.displayName} for how many days (empty: keep them)`);
      if (entry.fresh) { // as read or saved; the admin's typing is not overwritten otherwise
        entry.fresh = false;
        input.value = entry.settings.retentionDays ?? '';
      }
      li.querySelector('.retention-save').disabled = !!entry.busy;
      li.querySelector('.retention-save').setAttribute('aria-label', `Save how long ${d.displayName} keeps closed chats`);
      setLine(li.querySelector('.retention-status'), entry.status || '', entry.error);
    });
  }

  // ---- Admins (A3): each department's pre-chat form ----
  // The editor's DOM is the draft; it is filled from the server when read or saved.
  const KINDS = [['text', 'Text'], ['email', 'E-mail'], ['phone', 'Phone'], ['textarea', 'Several lines'], ['select', 'Choice']];
  const lines = (text) => text.split('\n').map((x) => x.trim()).filter(Boolean);
  const slug = (text) => text.normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase()
    .replace(/[^a-z0-9]+/g, '_').replace(/^_+/, '').slice(0, 32).replace(/_+$/, '');
  let fieldN = 0;

  function renderPrechatForms() {
    const depts = [...departments.values()].sort((a, b) => a.displayName.localeCompare(b.displayName));
    syncList(ui.prechatForms, depts, (d) => d.departmentId, (d) => {
      const id = 'prechat-' + d.departmentId;
      const form = el('form', { class: 'pc-form', novalidate: true, 'aria-labelledby': id + '-title' },
        el('h3', { id: id + '-title', class: 'pc-dept' }),
        el('ol', { class: 'pc-fields', 'aria-label': 'Fields' }),
        el('p', { class: 'empty pc-none', text: 'No fields: visitors give only their name.' }),
        button('Add field', { class: 'btn small pc-add' }),
        el('label', { for: id + '-categories', class: 'pc-label' }, 'Categories, one per line (none: visitors choose none)'),
        el('textarea', { id: id + '-categories', class: 'pc-categories', rows: 3, spellcheck: 'false' }),
        el('label', { class: 'check' }, el('input', { type: 'checkbox', class: 'pc-category-required' }), 'Visitors must choose a category'),
        el('div', { class: 'pc-save-row' }, el('button', { type: 'submit', class: 'btn small primary pc-save' }, 'Save form'),
          el('span', { id: id + '-status', class: 'pc-status', role: 'status' })));
      const edited = () => {
        const entry = retention.get(d.departmentId) || {};
        retention.set(d.departmentId, entry);
        Object.assign(entry, { formStatus: 'Changes not saved yet.', formError: false });
        setLine(form.querySelector('.pc-status'), entry.formStatus);
      };
      form.addEventListener('input', edited);
      form.addEventListener('change', edited);
      form.querySelector('.pc-add').addEventListener('click', () => {
        const li = fieldRow({ id: '', label: '', kind: 'text', required: false, options: [] });
        form.querySelector('.pc-fields').append(li);
        edited();
        refreshRows(form);
        li.querySelector('.pc-f-label').focus();
      });
      form.addEventListener('submit', (e) => { e.preventDefault(); savePrechat(d.departmentId, form); });
      return el('li', { 'data-department-id': d.departmentId }, form);
    }, (li, d) => {
      const entry = retention.get(d.departmentId) || {};
      const form = li.querySelector('form');
      form.querySelector('.pc-dept').textContent = d.displayName;
      if (entry.formFresh && entry.settings) { // as read or saved; the admin's draft is not overwritten otherwise
        entry.formFresh = false;
        fillForm(form, entry.settings.preChatForm || {});
      }
      form.querySelector('.pc-add').setAttribute('aria-label', `Add a field to the pre-chat form of ${d.displayName}`);
      form.querySelector('.pc-save').setAttribute('aria-label', `Save the pre-chat form of ${d.displayName}`);
      form.querySelector('.pc-save').disabled = !!entry.formBusy;
      setLine(form.querySelector('.pc-status'), entry.formStatus || '', entry.formError);
    });
  }

  function fillForm(form, f) {
    form.querySelector('.pc-fields').replaceChildren(...(f.fields || []).map(fieldRow));
    form.querySelector('.pc-categories').value = (f.categories || []).join('\n');
    form.querySelector('.pc-category-required').checked = !!f.categoryRequired;
    refreshRows(form);
  }

  // One field of the editor: label, id (from the label until edited), kind, required,
  // options (choices only), and its buttons.
  function fieldRow(f) {
    const id = 'pcf-' + ++fieldN;
    const label = el('input', { id: id + '-label', class: 'pc-f-label', maxlength: 80 });
    const key = el('input', { id: id + '-id', class: 'pc-f-id mono', maxlength: 32, spellcheck: 'false', autocomplete: 'off' });
    const kind = el('select', { id: id + '-kind', class: 'pc-f-kind' }, ...KINDS.map(([v, t]) => el('option', { value: v, text: t })));
    if (!KINDS.some(([v]) => v === f.kind)) kind.append(el('option', { value: f.kind, text: f.kind })); // kept as it is
    const required = el('input', { type: 'checkbox', id: id + '-required', class: 'pc-f-required' });
    const options = el('textarea', { id: id + '-options', class: 'pc-f-options', rows: 3, spellcheck: 'false' });
    label.value = f.label;
    key.value = f.id;
    key.dataset.auto = f.id ? '' : '1';
    kind.value = f.kind;
    required.checked = !!f.required;
    options.value = (f.options || []).join('\n');
    const li = el('li', { class: 'pc-field' },
      el('div', { class: 'pc-row' },
        el('div', { class: 'field grow' }, el('label', { for: label.id, text: 'Label' }), label),
        el('div', { class: 'field' }, el('label', { for: key.id, text: 'Id' }), key),
        el('div', { class: 'field' }, el('label', { for: kind.id, text: 'Kind' }), kind),
        el('label', { class: 'check', for: required.id }, required, 'Required')),
      el('div', { class: 'field pc-options' }, el('label', { for: options.id, text: 'Options, one per line' }), options),
      el('div', { class: 'pc-moves' }, button('Move up', { class: 'btn small pc-up' }), button('Move down', { class: 'btn small pc-down' }),
        button('Remove', { class: 'btn small pc-remove' })));
    label.addEventListener('input', () => {
      if (key.dataset.auto) key.value = uniqueId(li, slug(label.value));
      refreshRows(li.closest('form'));
    });
    key.addEventListener('input', () => { key.dataset.auto = ''; });
    kind.addEventListener('change', () => refreshRows(li.closest('form')));
    li.querySelector('.pc-up').addEventListener('click', () => moveRow(li, -1));
    li.querySelector('.pc-down').addEventListener('click', () => moveRow(li, 1));
    li.querySelector('.pc-remove').addEventListener('click', () => {
      const form = li.closest('form');
      const next = li.nextElementSibling || li.previousElementSibling;
      li.remove();
      refreshRows(form);
      (next ? next.querySelector('.pc-f-label') : form.querySelector('.pc-add')).focus();
      form.dispatchEvent(new Event('change'));
    });
    return li;
  }

  // An id no other field of the form has: company, company_2, ...
  function uniqueId(li, base) {
    const form = li.closest('form');
    const taken = new Set([...(form ? form.querySelectorAll('.pc-f-id') : [])].filter((x) => !li.contains(x)).map((x) => x.value));
    let id = base, n = 1;
    while (base && taken.has(id)) id = `${base.slice(0, 29)}_${++n}`;
    return id;
  }

  // Moves a field up or down; the other one moves, so the focused button keeps its focus.
  function moveRow(li, step) {
    const other = step < 0 ? li.previousElementSibling : li.nextElementSibling;
    if (!other) return;
    if (step < 0) li.parentElement.insertBefore(other, li.nextElementSibling);
    else li.parentElement.insertBefore(other, li);
    refreshRows(li.closest('form'));
    const focused = document.activeElement;
    if (focused && focused.disabled && li.contains(focused)) li.querySelector(step < 0 ? '.pc-down' : '.pc-up').focus();
    li.closest('form').dispatchEvent(new Event('change'));
  }

  // The buttons' names and states, and the options box for choices only.
  function refreshRows(form) {
    if (!form) return;
    const rows = [...form.querySelectorAll('.pc-field')];
    form.querySelector('.pc-none').hidden = rows.length > 0;
    rows.forEach((li, i) => {
      const name = li.querySelector('.pc-f-label').value.trim() || `field ${i + 1}`;
      li.querySelector('.pc-options').hidden = li.querySelector('.pc-f-kind').value !== 'select';
      const up = li.querySelector('.pc-up'), down = li.querySelector('.pc-down');
      up.disabled = i === 0;
      down.disabled = i === rows.length - 1;
      up.setAttribute('aria-label', `Move ${name} up`);
      down.setAttribute('aria-label', `Move ${name} down`);
      li.querySelector('.pc-remove').setAttribute('aria-label', `Remove ${name}`);
    });
  }

  function readForm(form) {
    return {
      fields: [...form.querySelectorAll('.pc-field')].map((li) => {
        const kind = li.querySelector('.pc-f-kind').value;
        return { id: li.querySelector('.pc-f-id').value.trim(), label: li.querySelector('.pc-f-label').value.trim(), kind,
          required: li.querySelector('.pc-f-required').checked, options: kind === 'select' ? lines(li.querySelector('.pc-f-options').value) : [] };
      }),
      categories: lines(form.querySelector('.pc-categories').value),
      categoryRequired: form.querySelector('.pc-category-required').checked,
    };
  }

  function describeForm(f) {
    const n = (f.fields || []).length, c = (f.categories || []).length;
    if (!n && !c) return 'no pre-chat form; visitors give only their name.';
    const required = (f.fields || []).filter((x) => x.required).length;
    return [n ? `${plural(n, 'field')}${required ? ` (${required} required)` : ''}` : '',
      c ? `${c === 1 ? '1 category' : c + ' categories'}${f.categoryRequired ? ' (one must be chosen)' : ''}` : ''].filter(Boolean).join(', ') + '.';
  }

  async function savePrechat(id, form) {
    const entry = retention.get(id) || {};
    retention.set(id, entry);
    if (entry.formBusy) return;
    entry.formBusy = true;
    render();
    try {
      // Only the form: the retention setting stays as it is.
      entry.settings = (await call('PUT', `/departments/${encodeURIComponent(id)}/settings`, { preChatForm: readForm(form) })).settings;
      entry.formFresh = true;
      Object.assign(entry, { formStatus: 'Saved: ' + describeForm(entry.settings.preChatForm || {}), formError: false });
    } catch (err) {
      Object.assign(entry, { formStatus: `Not saved: ${err.message}${codeOf(err)}`, formError: true });
    } finally {
      entry.formBusy = false;
      render();
    }
  }

  // A dialog asking for an e-mail address or a note; `submit` runs on OK and the dialog
  // stays open with the server's answer when it fails.
  let asking = null;
  function askDialog(spec) {
    asking = spec;
    const email = spec.kind === 'email';
    ui.askTitle.textContent = spec.title;
    ui.askText.textContent = spec.text || '';
    ui.askEmail.hidden = ui.askEmailLabel.hidden = !email;
    ui.askNote.hidden = ui.askNoteLabel.hidden = email;
    ui.askEmail.value = email ? spec.value || '' : '';
    ui.askNote.value = email ? '' : spec.value || '';
    for (const field of [ui.askEmail, ui.askNote]) field.removeAttribute('aria-invalid');
    ui.askError.textContent = '';
    ui.askYes.textContent = spec.yes;
    ui.askYes.disabled = false;
    ui.ask.returnValue = '';
    return openDialog(ui.ask, email ? ui.askEmail : ui.askNote).then((answer) => { asking = null; return answer; });
  }
  async function submitAsk(e) {
    e.preventDefault();
    const spec = asking;
    if (!spec || ui.askYes.disabled) return;
    const field = spec.kind === 'email' ? ui.askEmail : ui.askNote;
    const value = spec.kind === 'email' ? field.value.trim() : field.value;
    ui.askError.textContent = '';
    field.removeAttribute('aria-invalid');
    ui.askYes.disabled = true;
    try {
      await spec.submit(value);
      if (ui.ask.open) ui.ask.close('yes');
    } catch (err) {
      ui.askError.textContent = `${spec.failed}: ${err.message}${codeOf(err)}`;
      field.setAttribute('aria-invalid', 'true');
      field.focus();
    } finally {
      ui.askYes.disabled = false;
    }
  }

  // ---- Dialogs ----
  let opener = null;
  function openDialog(dialog, focus) {
    opener = document.activeElement;
    dialog.showModal();
    focus.focus();
    return new Promise((resolve) => {
      dialog.addEventListener('close', () => {
        if (opener && opener.isConnected && !opener.disabled) opener.focus();
        resolve(dialog.returnValue);
      }, { once: true });
    });
  }
  async function confirmDialog(title, text, yes) {
    ui.confirmTitle.textContent = title;
    ui.confirmText.textContent = text;
    ui.confirmYes.textContent = yes;
    ui.confirm.returnValue = '';
    return (await openDialog(ui.confirm, ui.confirmNo)) === 'yes';
  }
  // Radio choices in groups; resolves to the chosen value or null.
  async function pickDialog(title, groups, yes, none) {
    ui.pickTitle.textContent = title;
    ui.pickOptions.textContent = '';
    let first = null, n = 0;
    for (const group of groups) {
      if (!group.options.length) continue;
      const fieldset = el('fieldset', null, el('legend', { text: group.legend }));
      for (const option of group.options) {
        const id = 'pick-' + n++;
        const input = el('input', { type: 'radio', name: 'pick', id, value: option.value, required: true });
        first = first || input;
        fieldset.append(el('div', { class: 'option' }, input, el('label', { for: id, text: option.label }),
          option.hint ? el('span', { class: 'hint', text: ' ' + option.hint }) : ''));
      }
      ui.pickOptions.append(fieldset);
    }
    if (first) first.checked = true;
    ui.pickNone.hidden = !!first;
    ui.pickNone.textContent = first ? '' : none;
    ui.pickYes.textContent = yes;
    ui.pickYes.disabled = !first;
    ui.pick.returnValue = '';
    const answer = await openDialog(ui.pick, first || ui.pickNo);
    const chosen = ui.pickOptions.querySelector('input:checked');
    return answer === 'yes' && chosen ? chosen.value : null;
  }

  // ---- Selecting a chat ----
  function select(id) {
    const prev = selectedId && convs.get(selectedId);
    if (prev) prev.draft = ui.compose.value;
    selectedId = id && convs.has(id) ? id : null;
    const conv = selectedId && convs.get(selectedId);
    ui.log.textContent = '';
    if (conv) {
      ui.log.append(conv.list, conv.pend);
      ui.compose.value = conv.draft;
      markSeen(conv);
      ui.log.scrollTop = ui.log.scrollHeight;
    } else ui.compose.value = '';
    save();
    render();
  }
  function markSeen(conv) {
    const last = Math.max(0, ...conv.msgs.keys());
    conv.seen = Math.max(conv.seen, last);
    conv.unread = 0;
  }
  const orderedMine = () => [...mineBy('active'), ...mineBy('parked'), ...mineBy('wrapup')];
  function mineBy(group) {
    const list = [...convs.values()].filter((c) => c.mine && c.chat).filter((c) => groupOf(c.chat) === group);
    return list.sort((a, b) => ms(a.chat.queuedAt) - ms(b.chat.queuedAt) || a.id.localeCompare(b.id));
  }
  const groupOf = (c) => (c.status === 'closed' ? 'wrapup' : c.status === 'parked' ? 'parked' : 'active');

  // ---- Rendering ----
  let renderTimer = 0;
  function renderSoon() {
    if (!renderTimer) renderTimer = setTimeout(render, 30);
  }

  // Updates a list in place, keyed, so focused buttons survive re-renders.
  function syncList(parent, items, keyOf, make, update) {
    const old = new Map([...parent.children].map((n) => [n.dataset.key, n]));
    items.forEach((item, i) => {
      const key = keyOf(item);
      let node = old.get(key);
      if (node) old.delete(key);
      else { node = make(item); node.dataset.key = key; }
      update(node, item);
      if (parent.children[i] !== node) parent.insertBefore(node, parent.children[i] || null);
    });
    for (const node of old.values()) node.remove();
  }

  // A timer element: counts up from `base` seconds at `since` (ms), or down to `until` (ms).
  function timer(node, spec) {
    node.dataset.base = spec.base || 0;
    node.dataset.since = spec.since || '';
    node.dataset.until = spec.until || '';
    node.classList.add('tick');
    tickOne(node);
  }
  function tickOne(node) {
    const now = Date.now();
    if (node.dataset.until) {
      const left = Math.max(0, Math.ceil((Number(node.dataset.until) - now) / 1000));
      node.textContent = left + ' s';
      return left;
    }
    const since = Number(node.dataset.since) || 0;
    node.textContent = duration(Number(node.dataset.base) + (since ? Math.max(0, now - since) / 1000 : 0));
    return 1;
  }
  function tick() {
    let expired = false;
    for (const node of document.querySelectorAll('.tick')) if (tickOne(node) === 0) expired = true;
    if (expired) render(); // an offer ran out: its buttons go
  }

  function render() {
    clearTimeout(renderTimer);
    renderTimer = 0;
    if (!me) return;
    renderHeader();
    renderIncoming();
    renderMine();
    renderChat();
    renderQueues();
    renderPeople();
    renderAdmin();
    renderArchive();
  }

  const stateLabels = { available: 'Available', busy: 'Busy', away: 'Away', unavailable: 'Not available', offline: 'Offline' };
  const statusLabels = { pending: 'Waiting for approval', active: 'Active', disabled: 'Disabled', rejected: 'Rejected' };
  const roleLabels = { agent: 'Agent', supervisor: 'Supervisor', admin: 'Admin' };
  function renderHeader() {
    const person = myPerson();
    const agent = isAgent();
    const state = live ? (agent ? (person ? person.state : 'offline') : 'staff') : 'offline';
    ui.meState.dataset.state = state;
    ui.meState.textContent = !live ? (connectedOnce ? 'Reconnecting…' : 'Connecting…')
      : !agent ? 'Online · takes no chats'
        : person ? (person.status === 'online' ? 'Online · ' : '') + (stateLabels[state] || state) : 'Online';
    ui.meState.title = state === 'away' ? 'You were idle, so you get no new chats. Press a key, click or move the mouse to come back.' : '';
    ui.meRoles.textContent = (me.roles || []).filter((r) => r !== 'agent' || me.roles.length > 1).map((r) => roleLabels[r] || r).join(' · ');
    ui.available.hidden = ui.busy.hidden = !agent;
    $('mine-panel').hidden = !agent;
    $('staff-note').hidden = agent;
    $('agent-note').hidden = !agent;
    const admin = isAdmin();
    ui.screens.hidden = !admin;
    ui.chatsScreen.hidden = screen !== 'chats';
    ui.archive.hidden = screen !== 'archive';
    ui.admin.hidden = screen !== 'admin';
    ui.screenChats.setAttribute('aria-pressed', String(screen === 'chats'));
    ui.screenArchive.setAttribute('aria-pressed', String(screen === 'archive'));
    ui.screenAdmin.setAttribute('aria-pressed', String(screen === 'admin'));
    const pendingCount = [...accounts.values()].filter((a) => a.status === 'pending').length;
    ui.pendingBadge.hidden = !pendingCount;
    ui.pendingBadge.textContent = pendingCount || '';
    ui.screenAdmin.setAttribute('aria-label', `Accounts${pendingCount ? `, ${pendingCount} waiting for approval` : ''}`);
    const pending = busyButtons.has('availability');
    // Usable while disconnected too: the server says whether it applies (agent_offline).
    ui.available.disabled = ui.busy.disabled = !person || pending;
    ui.available.setAttribute('aria-pressed', String(!!(person && person.available)));
    ui.busy.setAttribute('aria-pressed', String(!!(person && person.busy)));
    ui.available.title = person && person.available ? 'You take new chats. Press to stop taking chats.' : 'You take no chats. Press to become available.';
    ui.busy.title = person && person.busy ? 'Busy: you keep your chats and get no new ones. Press to end.' : 'Press to keep your chats but get no new ones.';
    ui.mute.setAttribute('aria-pressed', String(muted));
    ui.mute.textContent = muted ? 'Sound off' : 'Sound on';
    ui.mute.setAttribute('aria-label', 'Mute notification sound');
    const permission = 'Notification' in window ? Notification.permission : 'unsupported';
    ui.notify.hidden = permission !== 'default';
    ui.banner.hidden = live || !connectedOnce;
    const wait = retryAt ? Math.max(0, Math.ceil((retryAt - Date.now()) / 1000)) : 0;
    ui.bannerText.textContent = ws ? 'Connection lost; reconnecting…' : `Connection lost; reconnecting${wait ? ` in ${wait} s` : ''}…`;
    const unread = [...convs.values()].reduce((n, c) => n + (c.mine ? c.unread : 0), 0);
    document.title = (unread ? `(${unread}) ` : '') + (waiting.size ? `${waiting.size} waiting · ` : '') + 'Agent console · livechat';
  }

  function renderIncoming() {
    const chats = [...waiting.values()].sort((a, b) => ms(a.queuedAt) - ms(b.queuedAt) || a.chatId.localeCompare(b.chatId));
    ui.incomingCount.textContent = chats.length;
    ui.incomingEmpty.hidden = chats.length > 0;
    syncList(ui.incoming, chats, (c) => c.chatId, (c) => {
      const node = el('li', { class: 'item waiting', 'data-chat-id': c.chatId });
      node.append(
        el('div', { class: 'line' }, el('strong', { class: 'name' }), el('span', { class: 'contact-number' }), el('span', { class: 'position' })),
        el('div', { class: 'line sub' }, el('span', { class: 'dept' }), el('span', null, 'waiting ', el('span', { class: 'waited' }))),
        el('p', { class: 'offer' }),
        el('p', { class: 'left-message', hidden: '' }),
        el('p', { class: 'prechat-line', hidden: '' }),
        el('div', { class: 'buttons' },
          button('Take', { class: 'btn primary take', onclick: () => take(waiting.get(c.chatId) || c) }),
          button('Accept', { class: 'btn primary accept', onclick: () => take(waiting.get(c.chatId) || c) }),
          button('Decline', { class: 'btn decline', onclick: () => decline(waiting.get(c.chatId) || c) })));
      return node;
    }, (node, c) => {
      const name = c.visitor.displayName, dept = deptName(c.departmentId);
      node.dataset.status = c.status;
      node.querySelector('.name').textContent = name;
      node.querySelector('.contact-number').textContent = contactOf(c.visitor.contact, c.visitor);
      node.querySelector('.position').textContent = c.position ? `#${c.position}` : '';
      node.querySelector('.position').title = c.position ? `Place ${c.position} in the ${dept} queue` : '';
      node.querySelector('.dept').textContent = dept;
      // A2: left while nobody was available; answer by e-mail (or here, if they are still on the page).
      const left = node.querySelector('.left-message');
      left.hidden = !c.contactEmail;
      if (c.contactEmail) left.textContent = `Offline message · reply to ${c.contactEmail}`;
      // A3: the category and the first two pre-chat answers.
      const pre = node.querySelector('.prechat-line'), p = c.preChat || {};
      const firsts = (p.answers || []).slice(0, 2).map((a) => `${a.label}: ${short(a.value)}`);
      const preKey = JSON.stringify([p.category, firsts]);
      if (pre.dataset.key !== preKey) {
        pre.dataset.key = preKey;
        pre.hidden = !p.category && !firsts.length;
        pre.replaceChildren(...(p.category ? [el('span', { class: 'category', text: p.category }), firsts.length ? ' ' : ''] : []), firsts.join(' · '));
        pre.title = prechatPairs(c.preChat).map(([k, v]) => `${k}: ${v}`).join('\n');
      }
      const waited = node.querySelector('.waited');
      if (waited.dataset.since !== String(ms(c.queuedAt))) timer(waited, { since: ms(c.queuedAt) });
      const toMe = c.status === 'offered' && c.offeredTo && c.offeredTo.id === me.id;
      const offeredToMe = toMe && ms(c.offerExpiresAt) > Date.now();
      const ranOut = toMe && !offeredToMe; // until the router withdraws it (within about 0.25 s)
      const offeredElsewhere = c.status === 'offered' && c.offeredTo && c.offeredTo.id !== me.id;
      const offer = node.querySelector('.offer');
      offer.hidden = !(toMe || offeredElsewhere);
      if (ranOut) offer.textContent = 'Your time to accept ran out.';
      else if (offeredToMe) {
        offer.textContent = 'Offered to you: ';
        const left = el('span', { class: 'countdown' });
        offer.append(left, ' left to accept');
        timer(left, { until: ms(c.offerExpiresAt) });
      } else if (offeredElsewhere) offer.textContent = `Offered to ${c.offeredTo.displayName}`;
      const takeBtn = node.querySelector('.take'), accept = node.querySelector('.accept'), declineBtn = node.querySelector('.decline');
      takeBtn.hidden = toMe || offeredElsewhere || !canTake(c);
      accept.hidden = declineBtn.hidden = !offeredToMe;
      takeBtn.disabled = accept.disabled = busyButtons.has('take-' + c.chatId);
      declineBtn.disabled = busyButtons.has('decline-' + c.chatId);
      takeBtn.setAttribute('aria-label', `Take chat with ${name} (${dept})`);
      accept.setAttribute('aria-label', `Accept chat with ${name} (${dept})`);
      declineBtn.setAttribute('aria-label', `Decline chat with ${name} (${dept})`);
    });
  }

  function renderMine() {
    let total = 0;
    for (const [group, list, title] of [['active', ui.active, ui.activeTitle], ['parked', ui.parked, ui.parkedTitle], ['wrapup', ui.wrapups, ui.wrapupTitle]]) {
      const convList = mineBy(group);
      total += convList.length;
      list.hidden = title.hidden = convList.length === 0;
      syncList(list, convList, (conv) => conv.id, (conv) => {
        const node = el('li', { class: 'item mine', 'data-chat-id': conv.id });
        const open = button('', { class: 'open', onclick: () => select(conv.id) });
        open.append(
          el('span', { class: 'line' }, el('strong', { class: 'name' }), el('span', { class: 'badge', hidden: true })),
          el('span', { class: 'line sub' }, el('span', { class: 'dept' }), el('span', { class: 'state' })));
        node.append(open);
        return node;
      }, (node, conv) => {
        const c = conv.chat, name = c.visitor.displayName;
        node.dataset.status = c.status;
        const open = node.querySelector('.open');
        if (conv.id === selectedId) open.setAttribute('aria-current', 'true'); else open.removeAttribute('aria-current');
        node.querySelector('.name').textContent = name;
        node.querySelector('.dept').textContent = deptName(c.departmentId);
        const badge = node.querySelector('.badge');
        badge.hidden = !conv.unread;
        badge.textContent = conv.unread || '';
        const state = node.querySelector('.state');
        setStateLine(state, c);
        const status = group === 'wrapup' ? 'in wrap-up' : group === 'parked' ? 'parked' : isOwner(c) ? 'active' : 'invited';
        open.setAttribute('aria-label', `${name}, ${deptName(c.departmentId)}, ${status}${conv.unread ? `, ${conv.unread} unread` : ''}`);
      });
    }
    ui.mineCount.textContent = total;
    ui.mineEmpty.hidden = total > 0;
  }

  // "Active 1:23", "Parked 1:23", "Wrap-up 0:12", "Invited · with Alice Adams".
  function setStateLine(node, c) {
    const key = [c.status, c.activeSince, c.handledSeconds, c.wrapUp && c.wrapUp.since, c.wrapUp && c.wrapUp.seconds, c.agent && c.agent.id].join('|');
    if (node.dataset.shape === key) return;
    node.dataset.shape = key;
    node.textContent = '';
    if (c.status === 'closed') {
      const t = el('span', { class: 'timer' });
      node.append('Wrap-up ', t, c.wrapUp && !c.wrapUp.since ? ' (paused)' : '');
      timer(t, { base: c.wrapUp ? c.wrapUp.seconds : 0, since: c.wrapUp && c.wrapUp.since ? ms(c.wrapUp.since) : 0 });
    } else if (!isOwner(c)) {
      node.append(`Invited · with ${c.agent ? c.agent.displayName : 'nobody'}`);
    } else {
      const t = el('span', { class: 'timer' });
      node.append(c.status === 'parked' ? 'Parked ' : 'Active ', t);
      timer(t, { base: c.handledSeconds, since: c.status === 'assigned' ? ms(c.activeSince) : 0 });
    }
  }

  function renderChat() {
    renderTyping();
    const conv = selectedId && convs.get(selectedId);
    ui.chatEmpty.hidden = !!conv;
    ui.chatView.hidden = !conv;
    if (!conv || !conv.chat) return;
    renderCustomer();
    const c = conv.chat, name = c.visitor.displayName, owner = isOwner(c);
    ui.chatView.dataset.chatId = c.chatId;
    ui.chatView.dataset.status = c.status;
    ui.chatTitle.textContent = name;
    const others = (c.invitedAgents || []).filter((a) => a.id !== me.id).map((a) => a.displayName);
    const metaKey = shape(c) + c.activeSince + c.handledSeconds;
    if (ui.chatMeta.dataset.key !== metaKey) {
      ui.chatMeta.dataset.key = metaKey;
      ui.chatMeta.textContent = '';
      ui.chatMeta.append(deptName(c.departmentId), ' · ');
      if (c.status === 'closed') ui.chatMeta.append('Ended');
      else {
        const t = el('span', { class: 'timer', id: 'handling-timer' });
        ui.chatMeta.append(c.status === 'parked' ? 'Parked · handling time ' : 'Active · handling time ', t, c.status === 'parked' ? ' (paused)' : '');
        timer(t, { base: c.handledSeconds, since: c.status === 'assigned' ? ms(c.activeSince) : 0 });
      }
      if (!owner && c.agent) ui.chatMeta.append(` · handled by ${c.agent.displayName}`);
      if (others.length) ui.chatMeta.append(` · invited: ${others.join(', ')}`);
      if (c.contactEmail) ui.chatMeta.append(` · offline message, reply to ${c.contactEmail}`);
    }
    const handling = owner && (c.status === 'assigned' || c.status === 'parked');
    ui.actions.hidden = !handling;
    ui.park.hidden = c.status !== 'assigned';
    ui.unpark.hidden = c.status !== 'parked';
    const inFlight = (a) => busyButtons.has(a + '-' + c.chatId);
    ui.park.disabled = inFlight('park');
    ui.unpark.disabled = inFlight('unpark');
    ui.transfer.disabled = inFlight('transfer');
    ui.invite.disabled = inFlight('invite');
    ui.ret.disabled = inFlight('return');
    ui.close.disabled = inFlight('close');
    const wrap = c.status === 'closed' && owner;
    ui.wrapBar.hidden = !wrap;
    if (wrap) {
      const running = !!(c.wrapUp && c.wrapUp.since);
      timer(ui.wrapTimer, { base: c.wrapUp ? c.wrapUp.seconds : 0, since: running ? ms(c.wrapUp.since) : 0 });
      ui.wrapPaused.textContent = c.wrapUp && !running ? '(paused)' : '';
      ui.wrapPause.hidden = !running;
      ui.wrapResume.hidden = !c.wrapUp || running;
      ui.wrapPause.disabled = inFlight('park');
      ui.wrapResume.disabled = inFlight('unpark');
      ui.wrapDone.disabled = inFlight('finish-wrapup');
    }
    ui.chatNote.hidden = owner;
    if (!owner) ui.chatNote.textContent = `You were invited into this chat: ${c.agent ? c.agent.displayName : 'another agent'} handles it. You can read and write.`;
    const writable = canWrite(conv);
    ui.compose.disabled = ui.send.disabled = !writable;
    ui.composeLabel.textContent = `Message to ${name} (Enter sends, Shift+Enter starts a new line)`;
    ui.compose.placeholder = writable ? 'Write a message… (Enter sends, Shift+Enter new line)' : 'This chat has ended.';
  }

  function renderQueues() {
    const rows = [...overview.values()].map((o) => o.queue).sort((a, b) => a.departmentId.localeCompare(b.departmentId));
    const mine = myPerson();
    syncList(ui.queues, rows, (q) => q.departmentId, (q) => el('tr', { 'data-department-id': q.departmentId },
      el('td', { class: 'login' }, el('input', { type: 'checkbox', class: 'queue-login', 'aria-label': `Logged in to ${q.displayName}`,
        onchange: (e) => setQueue(q.departmentId, e.target.checked) })),
      el('th', { scope: 'row' }), el('td', { class: 'waiting' }), el('td', { class: 'longest' }), el('td', { class: 'ongoing' }), el('td', { class: 'agents' })),
    (node, q) => {
      const o = overview.get(q.departmentId);
      node.dataset.open = String(q.open);
      const box = node.querySelector('.queue-login');
      box.checked = !mine || queuesOf(mine).includes(q.departmentId);
      box.disabled = !mine || busyButtons.has('queues');
      box.hidden = !isAgent() || !(myDepartments() || [q.departmentId]).includes(q.departmentId); // admins see every queue
      const head = node.children[1];
      head.textContent = q.displayName;
      head.append(el('span', { class: 'open-state', text: q.open ? ' open' : ' closed' }));
      node.querySelector('.waiting').textContent = q.waiting;
      const longest = node.querySelector('.longest');
      // longestWaitSeconds is as of the frame; it grows by itself while chats wait.
      timer(longest, { base: q.longestWaitSeconds, since: q.waiting > 0 ? o.at : 0 });
      node.querySelector('.ongoing').textContent = q.ongoing;
      const loggedIn = q.agentsLoggedIn ?? q.agentsOnline;
      node.querySelector('.agents').textContent = `${loggedIn} / ${q.agentsAvailable}`;
      node.querySelector('.agents').title = `${q.agentsOnline} online, ${loggedIn} logged in to this queue, ${q.agentsAvailable} available`;
    });
  }

  function renderPeople() {
    if (!people) return;
    // Accounts without the agent role do not take part in presence: not listed as offline.
    const shown = people.filter((p) => isAgent() || p.agentId !== me.id);
    syncList(ui.people, shown, (p) => p.agentId, (p) => el('li', { 'data-agent-id': p.agentId },
      el('span', { class: 'dot', 'aria-hidden': 'true' }), el('span', { class: 'name' }), el('span', { class: 'state' }), el('span', { class: 'depts' }),
      el('div', { class: 'supervise', hidden: true })),
    (node, p) => {
      node.dataset.state = p.state;
      node.querySelector('.dot').dataset.state = p.state;
      node.querySelector('.name').textContent = p.displayName + (p.agentId === me.id ? ' (you)' : '');
      node.querySelector('.state').textContent = stateLabels[p.state] || p.state;
      node.querySelector('.depts').textContent = p.departmentIds.map(deptName).join(', ');
      renderSupervision(node.querySelector('.supervise'), p);
    });
  }

  // A supervisor's controls for one agent: a log-in checkbox per queue of the supervisor's
  // departments, and Sign out. Built once per set of queues, so focus survives updates.
  function renderSupervision(box, p) {
    const show = canSupervise(p);
    box.hidden = !show;
    if (!show) { box.textContent = ''; box.dataset.key = ''; return; }
    const depts = supervisedOf(p);
    const key = depts.join('+');
    if (box.dataset.key !== key) {
      box.dataset.key = key;
      box.replaceChildren(
        el('span', { class: 'queue-boxes', role: 'group', 'aria-label': `Queues ${p.displayName} is logged in to` }, ...depts.map((d) => el('label', { class: 'agent-queue-label' },
          el('input', { type: 'checkbox', class: 'agent-queue', 'data-department-id': d,
            onchange: (e) => setAgentQueue((people || []).find((x) => x.agentId === p.agentId) || p, d, e.target.checked) }),
          el('span', { class: 'queue-name' })))),
        button('Sign out…', { class: 'btn small sign-out-agent', onclick: () => signOutAgent((people || []).find((x) => x.agentId === p.agentId) || p) }));
    }
    const busy = busyButtons.has('agent-queues-' + p.agentId);
    for (const input of box.querySelectorAll('.agent-queue')) {
      const d = input.dataset.departmentId;
      input.checked = queuesOf(p).includes(d);
      input.disabled = busy;
      input.setAttribute('aria-label', `${p.displayName} logged in to ${deptName(d)}`);
      input.nextSibling.textContent = deptName(d);
    }
    const out = box.querySelector('.sign-out-agent');
    out.disabled = busyButtons.has('sign-out-' + p.agentId);
    out.setAttribute('aria-label', `Sign out ${p.displayName}`);
    out.title = p.state === 'offline' ? `Ends ${p.displayName}'s sessions (offline now)` : `Ends all of ${p.displayName}'s sessions: offline at once, chats back to the queue`;
  }

  function renderAdmin() {
    if (!isAdmin() || screen !== 'admin') return;
    const order = { pending: 0, active: 1, disabled: 2 };
    const rows = [...accounts.values()].sort((a, b) => (order[a.status] ?? 3) - (order[b.status] ?? 3)
      || (a.status === 'pending' ? ms(a.registeredAt) - ms(b.registeredAt) : 0) || a.agentId.localeCompare(b.agentId));
    ui.accountsPending.textContent = rows.filter((a) => a.status === 'pending').length;
    ui.accountsEmpty.hidden = !accountsLoaded || rows.length > 0;
    syncList(ui.accounts, rows, (a) => a.agentId, (a) => el('tr', { 'data-agent-id': a.agentId },
      el('th', { scope: 'row', class: 'account-name' }), el('td', { class: 'account-login' }), el('td', { class: 'account-status' }, el('span', { class: 'status-pill' })),
      el('td', { class: 'account-roles' }), el('td', { class: 'account-depts' }), el('td', { class: 'account-max' }), el('td', { class: 'account-away' }),
      el('td', { class: 'account-registered' }),
      el('td', null, el('div', { class: 'actions' }))),
    (node, a) => {
      node.dataset.status = a.status;
      node.querySelector('.account-name').textContent = a.displayName + (a.agentId === me.id ? ' (you)' : '');
      node.querySelector('.account-login').textContent = a.agentId;
      const pill = node.querySelector('.status-pill');
      pill.dataset.status = a.status;
      pill.textContent = statusLabels[a.status] || a.status;
      node.querySelector('.account-roles').textContent = a.roles.map((r) => roleLabels[r] || r).join(', ');
      node.querySelector('.account-depts').textContent = a.departmentIds.length ? a.departmentIds.map(deptName).join(', ') : '—';
      node.querySelector('.account-max').textContent = a.maxChats ? String(a.maxChats) : '—';
      node.querySelector('.account-away').textContent = a.awayAfterMinutes ? `${a.awayAfterMinutes} min` : 'never';
      const at = ms(a.registeredAt);
      // Accounts from PRESENCE_AGENTS were never registered (their date is 1970).
      node.querySelector('.account-registered').textContent = at > 0 ? new Date(at).toLocaleString([], { dateStyle: 'short', timeStyle: 'short' }) : 'configured';
      const actions = node.querySelector('.actions');
      const busy = busyButtons.has('account-' + a.agentId);
      const self = a.agentId === me.id;
      const key = a.status + (self ? '-self' : '');
      if (actions.dataset.key !== key) {
        actions.dataset.key = key;
        const who = `${a.displayName} (${a.agentId})`;
        const b = (label, cls, aria, onclick) => button(label, { class: 'btn small ' + cls, 'aria-label': aria, onclick });
        const current = () => accounts.get(a.agentId) || a;
        const list = a.status === 'pending' ? [
          b('Approve…', 'primary approve', `Approve ${who}`, () => accountDialog(current(), 'approve')),
          b('Reject…', 'danger reject', `Reject ${who}`, () => accountAction(current(), 'reject'))]
          : a.status === 'active' ? [
            b('Edit…', 'edit', `Edit ${who}`, () => accountDialog(current(), 'edit')),
            b('End sessions…', 'end-sessions', `End the sessions of ${who}`, () => accountAction(current(), 'end')),
            self ? null : b('Disable…', 'danger disable', `Disable ${who}`, () => accountAction(current(), 'disable'))]
            : a.status === 'disabled' ? [
              b('Enable', 'primary enable', `Enable ${who}`, () => accountAction(current(), 'enable')),
              b('Edit…', 'edit', `Edit ${who}`, () => accountDialog(current(), 'edit'))] : [];
        actions.replaceChildren(...list.filter(Boolean));
      }
      for (const btn of actions.querySelectorAll('button')) btn.disabled = busy;
    });
    renderRetention();
    renderPrechatForms();
    renderSnippets();
  }

  function renderSnippets() {
    const depts = [...departments.values()].sort((a, b) => a.displayName.localeCompare(b.displayName));
    syncList(ui.snippets, depts, (d) => d.departmentId, (d) => {
      const id = 'snippet-' + d.departmentId;
      const li = el('li', { 'data-department-id': d.departmentId },
        el('label', { for: id, class: 'snippet-label' }, el('span', { class: 'dept-name' }), ' ', el('code', { class: 'dept-id' })),
        el('textarea', { id, class: 'snippet', readonly: true, rows: 2, spellcheck: 'false' }),
        el('div', { class: 'snippet-actions' }, button('Copy', { class: 'btn small copy' }), el('span', { class: 'copied', role: 'status' })));
      li.querySelector('.copy').addEventListener('click', () => copySnippet(li));
      return li;
    }, (li, d) => {
      li.querySelector('.dept-name').textContent = d.displayName;
      li.querySelector('.dept-id').textContent = d.departmentId;
      const area = li.querySelector('textarea');
      const text = snippetOf(d.departmentId);
      if (area.value !== text) area.value = text;
      li.querySelector('.copy').setAttribute('aria-label', `Copy the snippet for ${d.displayName}`);
    });
  }

  // ---- Keyboard ----
  function onComposeKey(e) {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      send();
    }
  }
  function onGlobalKey(e) {
    if (!me || screen !== 'chats' || !e.altKey || (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') || document.querySelector('dialog[open]')) return;
    const list = orderedMine();
    if (!list.length) return;
    e.preventDefault();
    const at = list.findIndex((c) => c.id === selectedId);
    const next = e.key === 'ArrowDown' ? (at + 1) % list.length : (at <= 0 ? list.length - 1 : at - 1);
    select(list[next].id);
    const item = document.querySelector(`.item.mine[data-chat-id="${CSS.escape(list[next].id)}"] .open`);
    if (item) item.focus();
  }

  // ---- Wiring ----
  ui.loginForm.addEventListener('submit', signIn);
  ui.showRegister.addEventListener('click', () => showCard('register'));
  ui.showLoginForm.addEventListener('click', () => { showCard('login'); ui.loginName.focus(); });
  ui.registerForm.addEventListener('submit', register);
  ui.registerSignIn.addEventListener('click', signInAfterRegistration);
  ui.registerDone.addEventListener('click', () => {
    const login = registration && registration.status === 'active' ? registration.login : '';
    forgetRegistration();
    showLogin('', login);
  });
  ui.screenChats.addEventListener('click', () => setScreen('chats'));
  ui.screenAdmin.addEventListener('click', () => setScreen('admin'));
  ui.screenArchive.addEventListener('click', () => setScreen('archive'));
  ui.archiveSearch.addEventListener('submit', (e) => { e.preventDefault(); archiveSearch(); });
  ui.archiveDept.addEventListener('change', () => archiveSearch());
  ui.archiveMine.addEventListener('change', () => archiveSearch());
  ui.archiveMore.addEventListener('click', () => archiveSearch(true));
  ui.archivedPdf.addEventListener('click', downloadArchivedPdf);
  ui.archivedEmail.addEventListener('click', emailArchived);
  ui.archivedTicket.addEventListener('click', ticketArchived);
  ui.archivedDelete.addEventListener('click', deleteArchived);
  ui.deleteAll.addEventListener('click', deleteAllClosed);
  ui.exportForm.addEventListener('submit', exportArchive);
  ui.askForm.addEventListener('submit', submitAsk);
  ui.askNo.addEventListener('click', () => ui.ask.close('cancel'));
  ui.customerRefresh.addEventListener('click', () => {
    const c = convs.get(selectedId)?.chat;
    if (c) loadEarlier(c);
  });
  ui.accountForm.addEventListener('submit', saveAccount);
  ui.accountCancel.addEventListener('click', () => ui.accountDialog.close('cancel'));
  ui.accountDialog.addEventListener('close', onAccountDialogClosed);
  for (const type of ['keydown', 'pointerdown', 'mousemove', 'wheel']) document.addEventListener(type, onActivity, { capture: true, passive: true });
  ui.signOut.addEventListener('click', signOut);

  // ---- Own settings: away time (B2) and password (B1) ----
  const settingsDialog = $('settings-dialog');
  $('open-settings').addEventListener('click', async () => {
    for (const id of ['password-current', 'password-new', 'password-confirm']) $(id).value = '';
    for (const id of ['password-error', 'password-status', 'away-status']) $(id).textContent = '';
    settingsDialog.showModal();
    try {
      const mine = await call('GET', '/agents/me');
      $('settings-away').value = String(mine.account.awayAfterMinutes);
    } catch (err) {
      $('away-status').textContent = `Could not read your settings: ${err.message}${codeOf(err)}`;
    }
  });
  $('settings-close').addEventListener('click', () => settingsDialog.close());
  $('away-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const minutes = Number($('settings-away').value);
    if (!Number.isFinite(minutes) || minutes < 0 || minutes > 1440) {
      $('away-status').textContent = 'Give 0 (never) to 1440 minutes.';
      return;
    }
    try {
      await call('PUT', '/agents/me/settings', { awayAfterMinutes: minutes });
      $('away-status').textContent = minutes ? `You show as away after ${minutes} idle minutes.` : 'You never show as away.';
    } catch (err) {
      $('away-status').textContent = `Not saved: ${err.message}${codeOf(err)}`;
    }
  });
  $('password-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const current = $('password-current').value, next = $('password-new').value;
    $('password-error').textContent = $('password-status').textContent = '';
    if (!current) { $('password-error').textContent = 'Give your current password.'; return $('password-current').focus(); }
    if (next.length < 8 || next.length > 128) { $('password-error').textContent = 'The new password needs 8 to 128 characters.'; return $('password-new').focus(); }
    if (next !== $('password-confirm').value) { $('password-error').textContent = 'The two new passwords differ.'; return $('password-confirm').focus(); }
    changingPassword = true;
    $('password-save').disabled = true;
    let changed = false;
    try {
      const session = await call('PUT', '/agents/me/password', { currentPassword: current, newPassword: next });
      me.token = session.token;
      changed = true;
      save();
      $('password-status').textContent = 'Password changed. Your other sessions are signed out.';
      for (const id of ['password-current', 'password-new', 'password-confirm']) $(id).value = '';
    } catch (err) {
      $('password-error').textContent = `Not changed: ${err.message}${codeOf(err)}`;
    } finally {
      changingPassword = false;
      $('password-save').disabled = false;
      if (changed || !ws) reconnectNow(); // the old session's socket closed with it
    }
  });
  ui.available.addEventListener('click', () => {
    const p = myPerson();
    if (p) setAvailability({ available: !p.available }, p.available ? 'become unavailable' : 'become available');
  });
  ui.busy.addEventListener('click', () => {
    const p = myPerson();
    if (p) setAvailability({ busy: !p.busy }, p.busy ? 'end busy' : 'become busy');
  });
  ui.mute.addEventListener('click', () => {
    muted = !muted;
    try { localStorage.setItem(MUTE_KEY, muted ? '1' : '0'); } catch (e) { /* memory only */ }
    render();
  });
  ui.notify.addEventListener('click', enableNotifications);
  ui.reconnectNow.addEventListener('click', reconnectNow);
  ui.composer.addEventListener('submit', (e) => { e.preventDefault(); send(); });
  ui.compose.addEventListener('keydown', onComposeKey);
  ui.compose.addEventListener('input', () => {
    const conv = convs.get(selectedId);
    if (!conv) return;
    conv.draft = ui.compose.value;
    signalTyping(conv.id, ui.compose.value.trim() !== '');
  });
  ui.park.addEventListener('click', () => ownerAction('park', 'park'));
  ui.unpark.addEventListener('click', () => ownerAction('unpark', 'unpark'));
  ui.wrapPause.addEventListener('click', () => ownerAction('park', 'pause the wrap-up of'));
  ui.wrapResume.addEventListener('click', () => ownerAction('unpark', 'resume the wrap-up of'));
  ui.wrapDone.addEventListener('click', async () => {
    const conv = convs.get(selectedId);
    const res = conv && await act('finish-wrapup-' + conv.id, `Could not finish the wrap-up of ${conv.chat.visitor.displayName}'s chat`, async () => {
      try {
        return await call('POST', `/chats/${encodeURIComponent(conv.id)}/finish-wrapup`);
      } catch (err) {
        if (err.code === 'chat_closed') { forget(conv.id); return null; } // nothing left to finish
        throw err;
      }
    });
    if (res) applyChat(res.chat);
  });
  ui.transfer.addEventListener('click', transferChat);
  ui.invite.addEventListener('click', inviteAgent);
  ui.ret.addEventListener('click', returnToQueue);
  ui.close.addEventListener('click', closeChat);
  document.addEventListener('keydown', onGlobalKey);
  // Browsers start audio only after a gesture: get it ready on the first one.
  document.addEventListener('pointerdown', unlockAudio, { once: true });
  document.addEventListener('keydown', unlockAudio, { once: true });
  document.addEventListener('visibilitychange', () => {
    const conv = convs.get(selectedId);
    if (conv && document.visibilityState === 'visible') { markSeen(conv); save(); render(); }
  });
  window.addEventListener('online', () => { if (me && !ws) reconnectNow(); });
  setInterval(() => { if (me) { tick(); if (!live) renderHeader(); } }, 1000);

  if (saved.token) {
    start({ token: saved.token, id: saved.id, displayName: saved.displayName, roles: saved.roles, departmentIds: saved.departmentIds });
  } else {
    showLogin('');
    if (registration && registration.status === 'pending') pollRegistration();
  }
})();
