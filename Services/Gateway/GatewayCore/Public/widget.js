/* livechat visitor widget. A site owner pastes one tag into any page:
     <script src="https://chat.example.com/widget.js" data-department="support" async></script>
   Plain JavaScript, no dependencies. It talks to the gateway it was loaded from (the HTTP
   API in docs/openapi.yaml, the WebSocket protocol in docs/realtime.md) and draws itself in
   a shadow root, so the page's styles and the widget's do not mix. Message text is only
   ever set with textContent. */
(() => {
  'use strict';
  const me = document.currentScript;
  if (!me || !me.src) return;
  const origin = new URL(me.src, location.href).origin;
  const dept = me.dataset.department || 'support';
  const registry = (window.__livechat = window.__livechat || {});
  if (registry[dept]) return; // pasted twice
  registry[dept] = true;
  const api = origin + '/api/v1';
  const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

  // What survives a reload, in the page's localStorage: the visitor (one per gateway) and
  // the chat with this department. Falls back to memory where storage is blocked.
  const memory = {};
  const load = (key) => {
    try { return JSON.parse(localStorage.getItem(key)) || {}; } catch (e) { return memory[key] || {}; }
  };
  const store = (key, value) => {
    memory[key] = value;
    try { localStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* memory only */ }
  };
  const whoKey = 'livechat:' + origin, chatKey = whoKey + ':' + dept;
  const who = load(whoKey); // {token, name, muted}
  const cs = load(chatKey); // {chatId, seq, pending: [{id, text}], open}
  cs.pending = cs.pending || [];
  const saveWho = () => store(whoKey, who), saveChat = () => store(chatKey, cs);

  let department = null; // Department from the gateway
  let chat = null; // the Chat we are in, as last reported
  let held = 0; // highest seq of cs.chatId shown on this page (messages arrive in seq order)
  let quiet = cs.seq || 0; // agent messages up to this seq were heard before: no sound
  let ws = null, live = false, tries = 0, retryTimer = 0;
  let busy = false, requeued = false, unread = 0, audio = null, warned = false;
  let leaving = false; // writing an offline message (A2)
  const outbox = new Map(); // clientMessageId -> bubble of own messages not yet delivered

  const el = (tag, props, ...kids) => {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (key === 'text') node.textContent = value;
      else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value);
    }
    node.append(...kids); // strings become text nodes
    return node;
  };
  const button = (label, props) => el('button', Object.assign({ type: 'button' }, props), label);

  // ---- The interface ----
  const host = el('div', { 'data-livechat': dept });
  host.style.display = 'none'; // until the stylesheet is there
  const root = host.attachShadow({ mode: 'open' });
  const css = el('link', { rel: 'stylesheet', href: origin + '/widget.css' });
  css.onload = css.onerror = () => { host.style.display = ''; };
  const badge = el('span', { class: 'badge', 'aria-hidden': 'true', hidden: '' });
  const launcher = button('', { class: 'launcher', 'aria-controls': 'lc-panel', 'aria-expanded': 'false', hidden: '', onclick: () => showPanel(true) });
  launcher.append(el('span', { 'aria-hidden': 'true', text: '\u{1F4AC} ' }), 'Chat with us', badge);
  const leaveBtn = button('Leave a message', { class: 'btn leave', onclick: () => { leaving = true; showPanel(true); } });
  const offline = el('p', { class: 'offline', role: 'status', hidden: '' }, 'Our team is offline right now. ', leaveBtn);
  const title = el('h2', { id: 'lc-title', text: 'Chat' });
  const muteBtn = button('', { class: 'icon mute', 'aria-label': 'Mute notification sound', 'aria-pressed': 'false', onclick: toggleMute });
  const minBtn = button('\u2013', { class: 'icon min', 'aria-label': 'Minimize chat', onclick: () => showPanel(false) });
  const privacyBtn = button('Privacy', { class: 'icon text privacy-open', 'aria-controls': 'lc-privacy', 'aria-expanded': 'false', onclick: () => showPrivacy(privacy.hidden) });
  const status = el('p', { class: 'status', role: 'status' });

  const nameIn = el('input', { id: 'lc-name', name: 'name', required: '', maxlength: '80', autocomplete: 'name', 'aria-describedby': 'lc-err' });
  const formErr = el('p', { id: 'lc-err', class: 'err', role: 'alert' });
  const startBtn = el('button', { type: 'submit', class: 'btn' }, 'Start chat');
  // A3: the department's own fields and category (preChatForm), drawn by showForm.
  const extra = el('div', { class: 'fields', hidden: '' });
  const prechat = el('form', { class: 'prechat', novalidate: '', onsubmit: startChat },
    el('p', { text: 'Hello! Tell us your name and we will connect you with our team.' }),
    el('label', { for: 'lc-name' }, 'Your name (required)'), nameIn, formErr, extra, startBtn);

  // A2: while nobody is available, a message (name, e-mail, text) that waits in the queue.
  const offName = el('input', { id: 'lc-off-name', required: '', maxlength: '80', autocomplete: 'name' });
  const offEmail = el('input', { id: 'lc-off-email', type: 'email', required: '', maxlength: '254', autocomplete: 'email' });
  const offText = el('textarea', { id: 'lc-off-text', rows: '4', required: '' });
  const offErr = el('p', { id: 'lc-off-err', class: 'err', role: 'alert' });
  const offBtn = el('button', { type: 'submit', class: 'btn' }, 'Send message');
  const offlineForm = el('form', { class: 'prechat offline-form', novalidate: '', hidden: '', onsubmit: leaveMessage },
    el('p', { text: 'Nobody is available right now. Leave us a message and we will answer by e-mail.' }),
    el('label', { for: 'lc-off-name' }, 'Your name (required)'), offName,
    el('label', { for: 'lc-off-email' }, 'Your e-mail (required)'), offEmail,
    el('label', { for: 'lc-off-text' }, 'Your message (required)'), offText, offErr, offBtn);

  const msgs = el('div', { class: 'msgs' }), pend = el('div', { class: 'msgs' });
  const log = el('div', { class: 'log', role: 'log', 'aria-label': 'Messages', tabindex: '0' }, msgs, pend);
  const text = el('textarea', { id: 'lc-text', rows: '2', placeholder: 'Write a message\u2026', onkeydown: onKey, oninput: onTyping });
  // "<agent> is typing…", shown while the agent types (A4).
  const typingLine = el('p', { class: 'typing', 'aria-live': 'polite', hidden: '' });
  const sendBtn = el('button', { type: 'submit', class: 'btn' }, 'Send');
  const composer = el('form', { class: 'composer', onsubmit: (e) => { e.preventDefault(); send(); } },
    el('label', { for: 'lc-text', class: 'sr' }, 'Message (Enter sends, Shift+Enter starts a new line)'), text, sendBtn);
  const endBtn = button('End chat', { class: 'btn ghost end', onclick: () => confirmEnd(true) });
  const yesBtn = button('Yes, end chat', { class: 'btn danger yes', onclick: endChat });
  const noBtn = button('Cancel', { class: 'btn ghost no', onclick: () => confirmEnd(false) });
  const confirmBox = el('div', { class: 'confirm', role: 'alertdialog', 'aria-labelledby': 'lc-confirm', hidden: '' },
    el('span', { id: 'lc-confirm', text: 'End this chat?' }), yesBtn, noBtn);
  const againBtn = button('Start a new chat', { class: 'btn again', hidden: '', onclick: newChat });
  const pdfBtn = button('Download transcript (PDF)', { class: 'btn ghost pdf', hidden: '', onclick: downloadTranscript });
  // A7: after the chat ended, the transcript as a PDF by e-mail.
  const mailIn = el('input', { id: 'lc-mail', type: 'email', maxlength: '254', autocomplete: 'email', spellcheck: 'false', 'aria-describedby': 'lc-mail-status' });
  const mailBtn = el('button', { type: 'submit', class: 'btn', 'aria-label': 'Send the transcript by e-mail' }, 'Send');
  const mailStatus = el('p', { id: 'lc-mail-status', class: 'mail-status', role: 'status' });
  const mailForm = el('form', { class: 'mail', novalidate: '', hidden: '', onsubmit: emailTranscript },
    el('label', { for: 'lc-mail' }, 'E-mail me the transcript'), el('div', { class: 'row' }, mailIn, mailBtn), mailStatus);
  const conv = el('div', { class: 'conv', hidden: '' }, log, typingLine, confirmBox, composer, mailForm, el('div', { class: 'bar' }, endBtn, pdfBtn, againBtn));
  // A6: "Delete my data" (DELETE /visitors/me), asked first; refused while a chat is open.
  const eraseBtn = button('Delete my data', { class: 'btn danger erase', onclick: () => confirmErase(true) });
  const eraseYes = button('Yes, delete', { class: 'btn danger erase-yes', onclick: eraseData });
  const eraseNo = button('Cancel', { class: 'btn ghost erase-no', onclick: () => confirmErase(false) });
  const eraseConfirm = el('div', { class: 'confirm erase-confirm', role: 'alertdialog', 'aria-labelledby': 'lc-erase-q', hidden: '' },
    el('span', { id: 'lc-erase-q', text: 'Delete all your chats and messages? This cannot be undone.' }), eraseYes, eraseNo);
  const privacyMsg = el('p', { class: 'privacy-msg', role: 'status' });
  const privacyBack = button('Back', { class: 'btn ghost privacy-back', onclick: () => showPrivacy(false) });
  const privacy = el('section', { id: 'lc-privacy', class: 'privacy', 'aria-labelledby': 'lc-privacy-title', hidden: '' },
    el('h3', { id: 'lc-privacy-title', text: 'Your data' }),
    el('p', { text: 'We keep your chats and messages so our team can help you. You can delete them, and what this browser remembers about you, at any time. An ongoing chat has to end first.' }),
    el('div', { class: 'privacy-actions' }, eraseBtn, privacyBack), eraseConfirm, privacyMsg);
  const panel = el('section', { id: 'lc-panel', class: 'panel', role: 'dialog', 'aria-labelledby': 'lc-title', hidden: '',
    onkeydown: (e) => { if (e.key === 'Escape') showPanel(false); } },
  el('header', null, title, privacyBtn, muteBtn, minBtn), status, prechat, offlineForm, conv, privacy);
  root.append(css, launcher, offline, panel);

  function render() {
    const open = !!(department && department.open);
    const active = !!(chat && chat.status !== 'closed');
    const ended = !!(chat && chat.status === 'closed');
    const shown = !!cs.open;
    panel.hidden = !shown;
    launcher.hidden = shown || !(open || active);
    launcher.setAttribute('aria-expanded', String(shown));
    launcher.setAttribute('aria-label', unread ? `Chat with us, ${unread} new` : 'Chat with us');
    badge.hidden = !unread;
    badge.textContent = unread;
    offline.hidden = shown || !department || open || active;
    const private_ = !privacy.hidden;
    prechat.hidden = !!cs.chatId || leaving || private_;
    offlineForm.hidden = !!cs.chatId || !leaving || private_;
    offBtn.disabled = busy;
    conv.hidden = !cs.chatId || private_;
    privacyBtn.setAttribute('aria-expanded', String(private_));
    eraseBtn.hidden = !eraseConfirm.hidden;
    mailForm.hidden = !ended;
    startBtn.disabled = busy || !open;
    text.disabled = sendBtn.disabled = ended;
    mailBtn.disabled = mailBusy;
    endBtn.hidden = !active || !confirmBox.hidden;
    againBtn.hidden = !ended;
    pdfBtn.hidden = !ended;
    muteBtn.setAttribute('aria-pressed', String(!!who.muted));
    muteBtn.textContent = who.muted ? '\u{1F515}' : '\u{1F514}';
    let line = '';
    if (!cs.chatId) line = department && !open ? 'Our team is offline right now.' : '';
    else if (!chat) line = '';
    else if (chat.contactEmail && chat.status === 'queued') line = `Thank you! We will answer you at ${chat.contactEmail}.`;
    else if (chat.status === 'queued' || chat.status === 'offered') {
      const place = chat.position ? `You are number ${chat.position} in the queue` : '';
      const wait = chat.estimatedWaitSeconds ? ` (about ${Math.ceil(chat.estimatedWaitSeconds / 60)} min)` : '';
      if (chat.status === 'offered' || requeued) line = 'Still looking for a free agent\u2026' + (place ? ` ${place}${wait}.` : '');
      else line = place ? place + wait + '.' : 'Waiting in the queue\u2026';
    } else if (chat.status === 'assigned') line = `You are chatting with ${agentNames()}`;
    else if (chat.status === 'parked') line = `${agentName()} will be right back.`;
    else if (chat.status === 'transferring') line = 'We are passing your chat to another team; please stay with us.';
    else if (ended) line = 'The chat has ended. Thank you!';
    if (cs.chatId && !live && !ended && (tries || !chat)) line = tries ? 'Connection lost; reconnecting\u2026' : 'Connecting\u2026';
    if (status.textContent !== line) status.textContent = line;
    status.hidden = !line;
  }

  const agentName = () => (chat && chat.agent ? chat.agent.displayName : 'An agent');
  const agentNames = () => [agentName()].concat((chat.invitedAgents || []).map((a) => a.displayName)).join(' and ');

  function showPanel(show) {
    cs.open = show;
    saveChat();
    if (show) { unread = 0; unlockAudio(); }
    render();
    if (show) { log.scrollTop = log.scrollHeight; (!privacy.hidden ? eraseBtn : cs.chatId ? text : leaving ? offName : nameIn).focus(); } else (launcher.hidden ? leaveBtn : launcher).focus();
  }

  // ---- HTTP ----
  async function call(method, path, body, anonymous) {
    const headers = {};
    if (body) headers['Content-Type'] = 'application/json';
    if (who.token && !anonymous) headers.Authorization = 'Bearer ' + who.token;
    const res = await fetch(api + path, { method, headers, body: body ? JSON.stringify(body) : undefined });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) {
      const err = new Error((data.error && data.error.message) || 'HTTP ' + res.status);
      err.status = res.status;
      err.code = data.error && data.error.code;
      err.field = data.error && data.error.field; // prechat_invalid: which field
      throw err;
    }
    return data;
  }

  // A7: the transcript as a PDF by e-mail (the archiver renders and sends it; 503
  // not_configured when the system has no mail relay).
  let mailBusy = false;
  async function emailTranscript(e) {
    e.preventDefault();
    const email = mailIn.value.trim();
    if (!EMAIL.test(email)) {
      say(mailStatus, 'Please enter a valid e-mail address.', 'error');
      mailIn.setAttribute('aria-invalid', 'true');
      mailIn.focus();
      return;
    }
    mailIn.removeAttribute('aria-invalid');
    if (!cs.chatId || mailBusy) return;
    mailBusy = true;
    say(mailStatus, 'Sending\u2026');
    render();
    try {
      const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
      await call('POST', `/chats/${encodeURIComponent(cs.chatId)}/transcript/email`, { email, timeZone: zone });
      say(mailStatus, `Transcript sent to ${email}.`, 'ok');
    } catch (err) {
      say(mailStatus, 'Could not send the transcript: ' + err.message, 'error');
    } finally {
      mailBusy = false;
      render();
    }
  }

  // A status line: its text, and whether it is good news or an error (colour).
  function say(node, line, kind) {
    node.textContent = line;
    node.dataset.kind = kind || '';
  }

  // ---- Privacy (A6): delete my data ----
  function showPrivacy(show) {
    privacy.hidden = !show;
    eraseConfirm.hidden = true;
    if (show) say(privacyMsg, '');
    render();
    if (show) eraseBtn.focus();
    else (cs.chatId ? text : leaving ? offName : nameIn).focus();
  }

  function confirmErase(show) {
    eraseConfirm.hidden = !show;
    if (show) say(privacyMsg, '');
    render();
    (show ? eraseNo : eraseBtn).focus();
  }

  async function eraseData() {
    eraseConfirm.hidden = true;
    say(privacyMsg, '');
    render();
    if (!who.token) {
      say(privacyMsg, 'This browser holds no chats of yours: there is nothing to delete.');
      eraseBtn.focus();
      return;
    }
    eraseYes.disabled = true;
    try {
      await call('DELETE', '/visitors/me');
      // Forget the visitor: the next chat starts as someone new.
      who.token = null;
      who.name = '';
      saveWho();
      nameIn.value = '';
      for (const r of rows) r.input.value = '';
      forgetChat();
      reconnect(); // a watcher socket from now on
      say(privacyMsg, 'Your data was deleted.', 'ok');
    } catch (err) {
      // 409 chat_open: the server says to end the chat first.
      say(privacyMsg, err.status === 409 ? err.message : 'Could not delete your data: ' + err.message, 'error');
    } finally {
      eraseYes.disabled = false;
      render();
      eraseBtn.focus();
    }
  }

  // A7: the archived transcript as a PDF, with times in the visitor's time zone. The
  // archive may need a moment after the chat ended; the visitor is told and retries.
  async function downloadTranscript() {
    if (!cs.chatId || !who.token) return;
    pdfBtn.disabled = true;
    try {
      const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
      const res = await fetch(`${api}/chats/${encodeURIComponent(cs.chatId)}/transcript.pdf?timeZone=${encodeURIComponent(zone)}`,
        { headers: { Authorization: 'Bearer ' + who.token } });
      if (!res.ok) {
        const data = await res.json().catch(() => ({}));
        const code = data.error && data.error.code;
        system(code === 'transcript_not_found' ? 'The transcript is not ready yet; try again in a moment.'
          : 'Could not download the transcript: ' + ((data.error && data.error.message) || 'HTTP ' + res.status));
        return;
      }
      const url = URL.createObjectURL(await res.blob());
      const link = el('a', { href: url, download: 'chat-transcript.pdf', hidden: '' });
      root.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (err) {
      system('Could not download the transcript: ' + err.message);
    } finally {
      pdfBtn.disabled = false;
    }
  }

  async function refreshDepartments() {
    try {
      const found = (await call('GET', '/departments', null, true)).departments.find((d) => d.departmentId === dept);
      if (found) setDepartment(found);
      else if (!warned) { warned = true; console.warn(`livechat: the gateway has no department '${dept}'`); }
    } catch (e) {
      if (!warned) { warned = true; console.warn('livechat: cannot reach ' + api, e); }
    }
  }

  function setDepartment(d) {
    department = d;
    title.textContent = d.displayName;
    showForm(d.preChatForm);
    render();
  }

  // ---- A3: the pre-chat form the admin defined (fields in order, then the category) ----
  let form = { fields: [], categories: [] }, formKey = '[]';
  let rows = []; // {f (null: the category), input, err}, in the form's order

  // Draws the form again when it changed (a department frame), keeping what was typed.
  function showForm(next) {
    next = next || { fields: [], categories: [] };
    next.fields = next.fields || [];
    next.categories = next.categories || [];
    const key = JSON.stringify(next);
    if (key === formKey) return;
    const typed = new Map(rows.map((r) => [keyOf(r), r.input.value]));
    const focused = rows.find((r) => r.input === root.activeElement);
    const was = focused && keyOf(focused);
    form = next;
    formKey = key;
    rows = [];
    const kids = [];
    next.fields.forEach((f, i) => {
      const other = { email: ['email', 'email'], phone: ['tel', 'tel'] }[f.kind] || ['text'];
      const input = f.kind === 'textarea' ? el('textarea', { rows: '3', maxlength: '2000' })
        : f.kind === 'select' ? el('select', null, el('option', { value: '' }, 'Choose\u2026'), ...(f.options || []).map((o) => el('option', { value: o }, o)))
          : el('input', Object.assign({ type: other[0], maxlength: '200' }, other[1] ? { autocomplete: other[1] } : {}));
      kids.push(...field({ f, input }, 'lc-f' + i, f.label, f.required));
    });
    if (next.categories.length) {
      const input = el('select', null, el('option', { value: '' }, 'Choose\u2026'), ...next.categories.map((c) => el('option', { value: c }, c)));
      kids.push(...field({ f: null, input }, 'lc-cat', 'Category', next.categoryRequired));
    }
    extra.replaceChildren(...kids);
    extra.hidden = !kids.length;
    for (const r of rows) {
      const value = typed.get(keyOf(r));
      if (value && (r.input.tagName !== 'SELECT' || [...r.input.options].some((o) => o.value === value))) r.input.value = value;
      if (was && keyOf(r) === was) r.input.focus();
    }
  }
  const keyOf = (r) => (r.f ? 'f:' + r.f.id : 'category');

  function field(r, id, label, required) {
    r.err = el('p', { id: id + '-err', class: 'err' });
    Object.assign(r.input, { id, name: r.f ? r.f.id : 'category' });
    r.input.setAttribute('aria-describedby', r.err.id);
    if (required) r.input.required = true;
    r.required = required;
    rows.push(r);
    return [el('label', { for: id }, label + (required ? ' (required)' : '')), r.input, r.err];
  }

  // The same rules as the server's; '' when the value is fine.
  function problem(r) {
    const v = r.input.value.trim(), f = r.f;
    if (!v) return r.required ? (f ? f.label + ' is required.' : 'Please choose a category.') : '';
    if (!f) return form.categories.includes(v) ? '' : 'Please choose a category.';
    const max = f.kind === 'textarea' ? 2000 : 200;
    if (v.length > max) return `${f.label}: at most ${max} characters, please.`;
    if (f.kind === 'email' && !EMAIL.test(v)) return 'Please enter a valid e-mail address.';
    if (f.kind === 'phone' && !(/^[\d +()./-]{4,30}$/.test(v) && v.replace(/\D/g, '').length >= 4)) return 'Please enter a valid phone number.';
    if (f.kind === 'select' && !(f.options || []).includes(v)) return 'Please choose one of the options.';
    return '';
  }

  function mark(r, text) {
    r.err.textContent = text;
    if (text) r.input.setAttribute('aria-invalid', 'true'); else r.input.removeAttribute('aria-invalid');
  }

  // {fields, category} for POST /chats, or null when the department asks for nothing.
  function answers() {
    const fields = {};
    let category;
    for (const r of rows) {
      const v = r.input.value.trim();
      if (v && r.f) fields[r.f.id] = v;
      else if (v) category = v;
    }
    return rows.length ? Object.assign({ fields }, category ? { category } : {}) : null;
  }

  async function startChat(e) {
    e.preventDefault();
    const name = nameIn.value.trim();
    let first = null;
    formErr.textContent = name ? '' : 'Please enter your name.';
    if (name) nameIn.removeAttribute('aria-invalid');
    else { nameIn.setAttribute('aria-invalid', 'true'); first = nameIn; }
    for (const r of rows) {
      const text = problem(r);
      mark(r, text);
      if (text && !first) first = r.input;
    }
    if (first) return first.focus();
    busy = true;
    render();
    try {
      if (!who.token) await signIn(name);
      const body = { departmentId: dept, displayName: name };
      const pre = answers();
      if (pre) body.preChat = pre;
      let res;
      try {
        res = await call('POST', '/chats', body);
      } catch (err) {
        if (err.status !== 401) throw err;
        await signIn(name); // the token expired: a new visitor
        res = await call('POST', '/chats', body);
      }
      who.name = name;
      saveWho();
      beginChat(res.chat);
      text.focus();
    } catch (err) {
      // prechat_invalid: the server's words next to the field it names (fields first, as it checks them).
      const r = err.code === 'prechat_invalid' && rows.find((x) => (x.f ? x.f.id : 'category') === err.field);
      if (r) { mark(r, err.message); r.input.focus(); } else {
        formErr.textContent = err.code === 'department_closed' ? 'Sorry, nobody is available right now.' : 'Could not start the chat: ' + err.message;
      }
      if (err.code === 'prechat_invalid') refreshDepartments(); // the form may have changed
    } finally {
      busy = false;
      render();
    }
  }

  async function leaveMessage(e) {
    e.preventDefault();
    const name = offName.value.trim(), email = offEmail.value.trim(), message = offText.value;
    const missing = !name ? offName : !EMAIL.test(email) ? offEmail : !message.trim() ? offText : null;
    for (const field of [offName, offEmail, offText]) field.removeAttribute('aria-invalid');
    if (missing) {
      offErr.textContent = missing === offName ? 'Please enter your name.' : missing === offEmail ? 'Please enter a valid e-mail address.' : 'Please write your message.';
      missing.setAttribute('aria-invalid', 'true');
      missing.focus();
      return;
    }
    offErr.textContent = '';
    busy = true;
    render();
    try {
      if (!who.token) await signIn(name);
      const body = { departmentId: dept, displayName: name, offlineMessage: { email, text: message } };
      let res;
      try {
        res = await call('POST', '/chats', body);
      } catch (err) {
        if (err.status !== 401) throw err;
        await signIn(name);
        res = await call('POST', '/chats', body);
      }
      leaving = false;
      beginChat(res.chat);
    } catch (err) {
      offErr.textContent = 'Could not send the message: ' + err.message;
    } finally {
      busy = false;
      render();
    }
  }

  async function signIn(name) {
    const res = await call('POST', '/visitors', { displayName: name }, true);
    who.token = res.token;
    who.name = name;
    saveWho();
  }

  // After a page load: the chat and its messages so far over HTTP, so the conversation
  // shows even before (or without) the socket. Both paths feed onMessage, which keeps seq order.
  async function backfill() {
    const id = cs.chatId;
    try {
      const res = await call('GET', '/chats/' + encodeURIComponent(id));
      if (id !== cs.chatId) return;
      if (!chat) setChat(res.chat);
      for (;;) {
        const page = (await call('GET', `/chats/${encodeURIComponent(id)}/messages?afterSeq=${held}`)).messages;
        if (id !== cs.chatId) return;
        page.forEach(onMessage);
        if (page.length < 500) return;
      }
    } catch (err) {
      if (err.status === 404 && id === cs.chatId) forgetChat();
    }
  }

  async function checkChat() {
    const id = cs.chatId;
    try {
      const res = await call('GET', '/chats/' + encodeURIComponent(id));
      if (id === cs.chatId) setChat(res.chat);
    } catch (err) {
      if (err.status === 404 && id === cs.chatId) forgetChat();
    }
  }

  function confirmEnd(show) {
    confirmBox.hidden = !show;
    render();
    (show ? noBtn : endBtn).focus();
  }

  async function endChat() {
    confirmBox.hidden = true;
    try {
      const res = await call('POST', `/chats/${encodeURIComponent(cs.chatId)}/close`);
      if (res.chat.chatId === cs.chatId) setChat(res.chat);
    } catch (err) {
      if (err.code === 'chat_closed') checkChat(); else system('Could not end the chat: ' + err.message);
    }
    render();
    againBtn.focus();
  }

  // ---- Chat state ----
  function beginChat(c) {
    forgetChat();
    cs.chatId = c.chatId;
    quiet = 0;
    saveChat();
    setChat(c);
    reconnect(); // resume=<chat>:0 so everything already stored in it comes too
  }

  function forgetChat() {
    Object.assign(cs, { chatId: null, seq: 0, pending: [] });
    saveChat();
    chat = null;
    held = 0;
    requeued = false;
    msgs.textContent = pend.textContent = '';
    outbox.clear();
    say(mailStatus, '');
    mailIn.removeAttribute('aria-invalid');
    render();
  }

  function newChat() {
    forgetChat();
    nameIn.focus();
  }

  // What to tell the visitor when the chat changes (docs/realtime.md, "Suggested sentences").
  const sentences = {
    assigned: () => `${agentName()} has joined the chat.`,
    returned_to_queue: () => 'Your chat is back in the queue; the next free agent will answer.',
    agent_offline: () => 'Your agent lost their connection. Your chat is back in the queue; the next free agent will answer.',
    transferred: (c) => (c.status === 'transferring' ? 'We are passing your chat to another team; please stay with us.' : `${agentName()} has taken over your chat.`),
    parked: () => `${agentName()} will be right back.`,
    unparked: () => `${agentName()} is back.`,
    agent_invited: (c) => `${c.invitedAgents[c.invitedAgents.length - 1].displayName} joined the chat.`,
    closed: () => 'The chat has ended. Thank you!',
  };
  const shape = (c) => [c.status, c.agent && c.agent.id, (c.invitedAgents || []).length].join('|');

  // `change` comes with chat.updated frames; state read after a reconnect has none, so it
  // is worked out from the difference.
  function setChat(c, change) {
    const prev = chat;
    chat = c;
    const was = prev ? prev.status : '', waiting = c.status === 'queued' || c.status === 'offered';
    if (prev && shape(prev) !== shape(c)) {
      if (!change) {
        const sameAgent = !!(prev.agent && c.agent && prev.agent.id === c.agent.id);
        if (c.status === 'closed') change = 'closed';
        else if (c.status !== was) {
          if (c.status === 'transferring' || c.status === 'parked') change = c.status === 'parked' ? 'parked' : 'transferred';
          else if (c.status === 'assigned') change = was === 'parked' && sameAgent ? 'unparked' : 'assigned';
          else if (waiting) change = was === 'transferring' ? 'queued' : was === 'assigned' || was === 'parked' ? 'returned_to_queue' : '';
        } else if (c.agent && !sameAgent) change = 'transferred';
        else if ((c.invitedAgents || []).length > (prev.invitedAgents || []).length) change = 'agent_invited';
      }
      if (change === 'queued' && was === 'transferring') system(`You have been put through to the right team${c.position ? `; you are number ${c.position} in their queue` : ''}.`);
      else if (sentences[change] && (change !== 'agent_invited' || (c.invitedAgents || []).length)) system(sentences[change](c));
    }
    if (waiting && (was === 'assigned' || was === 'parked' || was === 'transferring')) requeued = true;
    if (!waiting) requeued = false;
    if (c.status === 'closed') {
      if (!mailIn.value && c.contactEmail) mailIn.value = c.contactEmail;
      for (const node of outbox.values()) setState(node, 'failed', 'Not sent: the chat has ended');
      outbox.clear();
      cs.pending = [];
      saveChat();
    }
    render();
  }

  // ---- Messages ----
  function bubble(t, own, sender) {
    const node = el('div', { class: own ? 'msg own' : 'msg' });
    if (sender) node.append(el('span', { class: 'who', text: sender }));
    node.append(el('span', { class: 'text', text: t }), el('span', { class: 'meta' }));
    return node;
  }

  function setState(node, state, note) {
    node.dataset.state = state;
    if (state === 'failed') node.classList.add('failed');
    const labels = { sending: 'Sending\u2026', sent: 'Sent', delivered: 'Delivered' };
    node.lastChild.textContent = [node.dataset.time, note || labels[state]].filter(Boolean).join(' \u00b7 ');
  }

  function put(parent, node) {
    const stick = log.scrollHeight - log.scrollTop - log.clientHeight < 60;
    parent.append(node);
    if (stick) log.scrollTop = log.scrollHeight;
  }

  function system(t) {
    put(msgs, el('p', { class: 'sys', text: t }));
  }

  // Typing signals: one "typing" at most every 2 s while the visitor types, "stopped" when
  // the text is sent or emptied. The gateway drops extras too.
  let typingSentAt = 0, typingHideTimer = 0;
  function signalTyping(typing) {
    if (!live || !cs.chatId || (chat && chat.status === 'closed')) return;
    if (typing && Date.now() - typingSentAt < 2000) return;
    if (!typing && !typingSentAt) return;
    typingSentAt = typing ? Date.now() : 0;
    ws.send(JSON.stringify({ type: 'typing', chatId: cs.chatId, typing }));
  }
  function onTyping() { signalTyping(text.value.trim() !== ''); }
  function showTyping(f) {
    clearTimeout(typingHideTimer);
    if (!f || !f.typing) { typingLine.hidden = true; return; }
    typingLine.textContent = `${f.sender.displayName} is typing\u2026`;
    typingLine.hidden = false;
    typingHideTimer = setTimeout(() => { typingLine.hidden = true; }, 6000);
  }

  function send() {
    const t = text.value;
    if (!t.trim() || !cs.chatId || (chat && chat.status === 'closed')) return;
    signalTyping(false);
    const p = { id: uuid(), text: t };
    cs.pending.push(p);
    saveChat();
    queue(p);
    text.value = '';
    transmit(p);
  }

  function queue(p) {
    const node = bubble(p.text, true);
    setState(node, 'sending');
    outbox.set(p.id, node);
    put(pend, node);
  }

  function transmit(p) {
    if (live) ws.send(JSON.stringify({ type: 'message.send', chatId: cs.chatId, clientMessageId: p.id, text: p.text }));
  }

  function onMessage(m) {
    if (m.chatId !== cs.chatId || m.seq <= held) return; // already shown
    if (m.seq > held + 1) return reconnect(); // a gap: ask again from what we hold
    held = m.seq;
    if (held > (cs.seq || 0)) cs.seq = held;
    const own = m.sender.role === 'visitor';
    let node = outbox.get(m.messageId);
    if (node) {
      outbox.delete(m.messageId);
      cs.pending = cs.pending.filter((p) => p.id !== m.messageId);
    } else {
      node = bubble(m.text, own, own ? '' : m.sender.displayName);
    }
    saveChat();
    node.dataset.seq = m.seq;
    node.dataset.id = m.messageId;
    node.dataset.time = new Date(m.sentAt).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    setState(node, own ? 'delivered' : 'received');
    put(msgs, node);
    if (!own) showTyping(null); // their message is here: they stopped typing
    if (!own && m.seq > quiet) {
      quiet = m.seq;
      if (!cs.open) unread++;
      beep();
      render();
    }
  }

  function onKey(e) {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      send();
    }
  }

  // ---- The socket ----
  function connect() {
    clearTimeout(retryTimer);
    if (ws) return;
    // Without a visitor token yet, a watcher socket: department.updated frames only.
    const token = who.token;
    let url = origin.replace(/^http/, 'ws') + '/api/v1/socket';
    if (token) url += '?token=' + encodeURIComponent(token);
    if (token && cs.chatId) url += '&resume=' + encodeURIComponent(cs.chatId + ':' + held);
    const s = (ws = new WebSocket(url));
    s.onmessage = (e) => {
      if (ws !== s) return;
      let frame;
      try { frame = JSON.parse(e.data); } catch (err) { return; }
      onFrame(frame);
    };
    s.onclose = (e) => {
      if (ws !== s) return;
      ws = null;
      live = false;
      render();
      if (e.code === 1008) {
        if (!token && e.reason === 'unauthorized') return; // a gateway without watchers: polling it is
        if (e.reason === 'unauthorized') { // the token expired: the next chat gets a new visitor
          who.token = null;
          saveWho();
          forgetChat();
          formErr.textContent = 'Your chat session has expired.';
          return;
        }
        if (e.reason !== 'malformed resume') return console.warn('livechat: the gateway refused the socket: ' + e.reason);
        forgetChat();
      }
      retryTimer = setTimeout(connect, Math.min(15000, 500 * 2 ** tries++) * (0.75 + Math.random() / 2));
    };
  }

  function reconnect() {
    const s = ws;
    ws = null;
    live = false;
    if (s) s.close();
    connect();
  }

  function onFrame(f) {
    switch (f.type) {
      case 'hello': {
        live = true;
        tries = 0;
        if (f.role === 'watcher') {
          const d = (f.departments || []).find((x) => x.departmentId === dept);
          if (d) setDepartment(d);
          break;
        }
        refreshDepartments(); // department.updated frames missed while away are not replayed
        const mine = (f.chats || []).find((c) => c.chatId === cs.chatId);
        if (mine) setChat(mine);
        else if (cs.chatId) checkChat(); // it ended meanwhile (or is not ours)
        else {
          const other = (f.chats || []).find((c) => c.departmentId === dept);
          if (other && !busy) return beginChat(other); // started in another tab
        }
        for (const p of cs.pending) transmit(p); // same clientMessageId: stored once
        render();
        break;
      }
      case 'chat.updated':
        if (f.chat.chatId === cs.chatId) setChat(f.chat, f.change);
        else if (f.chat.departmentId === dept && f.chat.status !== 'closed' && !busy && (!cs.chatId || (chat && chat.status === 'closed'))) beginChat(f.chat);
        break;
      case 'message':
        onMessage(f.message);
        break;
      case 'typing':
        if (f.chatId === cs.chatId && f.sender.role !== 'visitor') showTyping(f);
        break;
      case 'message.accepted': {
        const node = outbox.get(f.clientMessageId);
        if (node && f.chatId === cs.chatId) setState(node, 'sent');
        break;
      }
      case 'department.updated':
        if (f.department.departmentId === dept) setDepartment(f.department);
        break;
      case 'error': {
        const node = f.clientMessageId && outbox.get(f.clientMessageId);
        if (node) {
          if (f.code === 'unavailable' || f.code === 'internal') {
            setTimeout(() => { const p = cs.pending.find((x) => x.id === f.clientMessageId); if (p) transmit(p); }, 2000);
          } else {
            outbox.delete(f.clientMessageId);
            cs.pending = cs.pending.filter((p) => p.id !== f.clientMessageId);
            saveChat();
            setState(node, 'failed', 'Not sent: ' + f.message);
          }
        } else if (f.code === 'chat_not_found' && f.chatId === cs.chatId) forgetChat();
        break;
      }
    }
  }

  // ---- Sound ----
  function unlockAudio() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      if (audio.state === 'suspended') audio.resume();
    } catch (e) { /* no audio */ }
  }

  function beep() {
    if (who.muted) return;
    unlockAudio();
    if (!audio) return;
    const osc = audio.createOscillator(), gain = audio.createGain(), t = audio.currentTime;
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.12, t);
    gain.gain.exponentialRampToValueAtTime(0.001, t + 0.2);
    osc.connect(gain).connect(audio.destination);
    osc.start(t);
    osc.stop(t + 0.2);
  }

  function toggleMute() {
    who.muted = !who.muted;
    saveWho();
    render();
  }

  function uuid() {
    if (crypto.randomUUID) return crypto.randomUUID(); // only in secure contexts
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64;
    b[8] = (b[8] & 63) | 128;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  function init() {
    nameIn.value = who.name || '';
    if (cs.chatId && !who.token) forgetChat();
    if (!cs.chatId) cs.open = false;
    for (const p of cs.pending) queue(p);
    document.body.append(host);
    render();
    refreshDepartments();
    if (cs.chatId) backfill();
    // While the widget has no socket (or the gateway offers no watcher sockets), ask every 2 s.
    setInterval(() => { if (!live && !document.hidden) refreshDepartments(); }, 2000);
    document.addEventListener('visibilitychange', () => { if (!document.hidden && !live) refreshDepartments(); });
    window.addEventListener('online', () => { if (!ws) connect(); });
    connect();
  }

  if (document.body) init(); else document.addEventListener('DOMContentLoaded', init);
})();
