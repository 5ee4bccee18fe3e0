// Chat single-page front end: hash routing, REST calls to /api/* and one
// WebSocket at /ws. All visible text comes from i18n.js; message text is only
// ever inserted as text nodes.
import { catalogue, detectLang, saveLang, translate, localeTag } from './i18n.js';

const MAX_TEXT = 4000;           // characters, after trimming
const PAGE = 50;                 // history page size
const TYPING_SEND_MS = 3000;     // at most one typing frame per room per 3 s
const TYPING_SHOW_MS = 6000;     // how long a typing hint stays without news
const ACK_TIMEOUT_MS = 15000;    // resend (same cid) when no ack by then
const BACKOFF_BASE_MS = 1000;
const BACKOFF_MAX_MS = 30000;
const STABLE_CONNECTION_MS = 10000;
const ROOMS_REFRESH_MS = 20000;
const NOTICE_MS = 8000;

let lang = detectLang();
const t = (key, params) => translate(lang, key, params);
const $ = (id) => document.getElementById(id);

/* ---------- DOM helpers ---------- */

// Builds an element; attrs values of null/undefined/false are skipped and
// string children become text nodes (never parsed as HTML).
function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) node.append(c);
  return node;
}

const URL_RE = /https?:\/\/[^\s<>"'\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]+/gi;
const TRAILING = '.,;:!?\'"]}>*_';

// Appends text to parent, turning http(s) URLs into safe links.
function appendLinkified(parent, text) {
  let last = 0;
  for (const match of text.matchAll(URL_RE)) {
    let url = match[0];
    while (url.length) {
      const ch = url[url.length - 1];
      if (ch === ')') {
        const opens = url.split('(').length - 1;
        const closes = url.split(')').length - 1;
        if (closes <= opens) break;
      } else if (!TRAILING.includes(ch)) break;
      url = url.slice(0, -1);
    }
    let href;
    try {
      const u = new URL(url);
      if ((u.protocol !== 'http:' && u.protocol !== 'https:') || !u.hostname) continue;
      href = u.href;
    } catch (_) { continue; }
    if (match.index > last) parent.append(text.slice(last, match.index));
    parent.append(h('a', { href, rel: 'noopener noreferrer', target: '_blank' }, url));
    last = match.index + url.length;
  }
  if (last < text.length) parent.append(text.slice(last));
}

let fmtTime, fmtDateTime, fmtYearDateTime, fmtFull;
function makeFormatters() {
  const tag = localeTag(lang);
  fmtTime = new Intl.DateTimeFormat(tag, { hour: '2-digit', minute: '2-digit' });
  fmtDateTime = new Intl.DateTimeFormat(tag, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
  fmtYearDateTime = new Intl.DateTimeFormat(tag, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
  fmtFull = new Intl.DateTimeFormat(tag, { dateStyle: 'full', timeStyle: 'medium' });
}

function timeEl(ts) {
  const d = new Date(ts);
  if (!Number.isFinite(d.getTime())) return h('time', { class: 'msg-time' });
  const now = new Date();
  let text;
  if (d.toDateString() === now.toDateString()) text = fmtTime.format(d);
  else if (d.getFullYear() === now.getFullYear()) text = fmtDateTime.format(d);
  else text = fmtYearDateTime.format(d);
  return h('time', { class: 'msg-time', datetime: d.toISOString(), title: fmtFull.format(d) }, text);
}

function codePoints(s) { return [...s].length; }

function newCid() {
  const b = new Uint8Array(12);
  crypto.getRandomValues(b);
  return 'c' + Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/* ---------- state ---------- */

const state = {
  user: null,
  rooms: new Map(),          // id -> room
  online: new Set(),         // usernames
  view: 'loading',
  current: null,             // id of the room in view
  pendingByCid: new Map(),
  drafts: new Map(),         // room id -> unsent composer text
  afterLogin: null,          // hash to return to after signing in
  adminEditing: null,        // room id whose admin row is in edit mode
  loginNotice: null,
};

function makeRoom(r) {
  return {
    id: r.id,
    name: r.name || String(r.id),
    topic: r.topic || '',
    online: Number(r.online) || 0,
    joined: false,           // the user wants to be in it (kept across reloads)
    joinState: 'none',       // none | joining | joined (on the current socket)
    joinSince: 0,
    historyLoaded: false,
    members: new Set(),
    msgs: new Map(),         // id -> message
    order: [],               // message ids, ascending
    lastId: 0,               // highest id seen from the server's message stream
    hasMore: false,
    loadingOlder: false,
    unread: 0,
    typing: new Map(),       // username -> expiry time
    pending: [],
    lastTypingSent: 0,
  };
}

const isAdmin = () => !!state.user && state.user.role === 'admin';
const me = () => (state.user ? state.user.username : '');
const roomName = (room) => (room.name === 'lobby' ? t('room.lobbyName') : room.name);
const currentRoom = () => (state.view === 'room' && state.current !== null ? state.rooms.get(state.current) || null : null);

function joinedKey() { return 'chat.joined.' + (state.user ? state.user.id : ''); }
function persistJoined() {
  if (!state.user) return;
  const ids = [...state.rooms.values()].filter((r) => r.joined).map((r) => r.id);
  try { localStorage.setItem(joinedKey(), JSON.stringify(ids)); } catch (_) { /* ignore */ }
}
function restoreJoined() {
  let ids = [];
  try { ids = JSON.parse(localStorage.getItem(joinedKey()) || '[]'); } catch (_) { ids = []; }
  if (!Array.isArray(ids)) return;
  for (const id of ids) {
    const room = state.rooms.get(id);
    if (room) room.joined = true;
  }
}

/* ---------- HTTP ---------- */

class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.serverMessage = message || '';
    this.retryAfter = retryAfter;
  }
}

function parseRetryAfter(v) {
  if (!v) return 0;
  const n = Number(v);
  if (Number.isFinite(n)) return Math.max(1, Math.ceil(n));
  const when = Date.parse(v);
  return Number.isFinite(when) ? Math.max(1, Math.ceil((when - Date.now()) / 1000)) : 0;
}

async function api(method, path, body) {
  const opts = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, opts);
  } catch (e) {
    throw new ApiError(0, 'network', String(e && e.message || e));
  }
  const text = res.status === 204 ? '' : await res.text().catch(() => '');
  let data = null;
  if (text) { try { data = JSON.parse(text); } catch (_) { data = null; } }
  if (!res.ok) {
    const err = (data && data.error) || {};
    throw new ApiError(res.status, err.code || 'http_' + res.status, err.message || '',
      parseRetryAfter(res.headers.get('Retry-After')));
  }
  return data;
}

// For calls that need a session: a 401 sends the user back to the login view.
async function apiAuth(method, path, body) {
  try {
    return await api(method, path, body);
  } catch (e) {
    if (e.status === 401 && state.user) sessionEnded('expired');
    throw e;
  }
}

function errorText(code, serverMessage, status) {
  if (code && ('err.' + code) in catalogue.en) {
    return t('err.' + code, { max: MAX_TEXT });
  }
  if (serverMessage) return serverMessage;
  return t('err.generic', { status: status || code });
}
const apiErrorText = (e) => errorText(e.code, e.serverMessage, e.status);

/* ---------- notices and live announcements ---------- */

let noticeTimer = null;
function showNotice(text, kind = 'danger') {
  const box = $('notice');
  box.className = 'alert alert-dismissible app-notice mb-0 alert-' + kind;
  box.dataset.kind = kind;
  $('notice-text').textContent = text;
  box.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(hideNotice, NOTICE_MS);
}
function hideNotice() {
  clearTimeout(noticeTimer);
  $('notice').hidden = true;
}

function announce(text) {
  const region = $('live-region');
  region.append(h('p', {}, text));
  while (region.childElementCount > 5) region.firstElementChild.remove();
}

/* ---------- i18n ---------- */

function applyI18n() {
  document.documentElement.lang = localeTag(lang);
  for (const node of document.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n);
  for (const node of document.querySelectorAll('[data-i18n-placeholder]')) node.placeholder = t(node.dataset.i18nPlaceholder);
  for (const node of document.querySelectorAll('[data-i18n-aria-label]')) node.setAttribute('aria-label', t(node.dataset.i18nAriaLabel));
  for (const node of document.querySelectorAll('[data-i18n-title]')) node.title = t(node.dataset.i18nTitle);
  const sw = $('lang-switch');
  sw.textContent = t('langSwitch');
  sw.setAttribute('aria-label', t('langSwitchAria'));
  sw.lang = lang === 'zh' ? 'en' : 'zh-CN';
}

function setLang(next) {
  lang = next;
  saveLang(lang);
  makeFormatters();
  applyI18n();
  renderAll();
}

/* ---------- views and routing ---------- */

const VIEWS = ['loading', 'login', 'register', 'lobby', 'room', 'password'];
const SHELL_VIEWS = ['lobby', 'room', 'password'];

function showView(name) {
  for (const v of VIEWS) $('view-' + v).hidden = v !== name;
  $('app-shell').hidden = !SHELL_VIEWS.includes(name);
  document.body.dataset.view = name;
  state.view = name;
}

function parseHash() {
  const parts = location.hash.replace(/^#\/?/, '').split('/');
  return { name: parts[0] || '', arg: parts[1] };
}

function redirect(hash) {
  history.replaceState(null, '', hash);
  route();
}

function route() {
  const { name, arg } = parseHash();
  if (!state.user) {
    if (name === 'register') { showView('register'); return; }
    if (name !== 'login') {
      if (name && name !== 'lobby') state.afterLogin = location.hash;
      history.replaceState(null, '', '#/login');
    }
    showLogin();
    return;
  }
  if (name === 'room') {
    const room = state.rooms.get(Number(arg));
    if (room) { openRoom(room); return; }
    showNotice(t('room.notFound'), 'warning');
    redirect('#/lobby');
    return;
  }
  if (name === 'password') { showPassword(); return; }
  if (name !== 'lobby') { redirect('#/lobby'); return; }
  showLobby();
}

function showLogin() {
  showView('login');
  const note = $('login-notice');
  note.hidden = !state.loginNotice;
  note.textContent = state.loginNotice || '';
  const f = $('login-username');
  if (!f.value) f.focus(); else $('login-password').focus();
}

function showLobby() {
  state.current = null;
  showView('lobby');
  $('home-title').textContent = t('home.title', { name: me() });
  renderRoomList();
  renderAdmin(true);
  updateTitle();
}

function showPassword() {
  state.current = null;
  showView('password');
  renderRoomList();
  updateTitle();
  $('old-password').focus();
}

function openRoom(room) {
  const changed = state.view !== 'room' || state.current !== room.id;
  const input = $('message-input');
  if (changed && state.current !== null) state.drafts.set(state.current, input.value);
  state.current = room.id;
  showView('room');
  if (!room.joined) joinRoom(room);
  if (!document.hidden) room.unread = 0;
  if (changed) {
    $('view-room').classList.remove('show-members');
    $('members-toggle').setAttribute('aria-expanded', 'false');
    input.value = state.drafts.get(room.id) || '';
    autoGrow();
    updateCharCount();
    renderRoomHeader();
    renderMessages();
    renderMembers();
    renderTyping();
    if (window.matchMedia('(pointer: fine)').matches) input.focus();
  }
  renderRoomList();
  updateTitle();
}

/* ---------- session ---------- */

function init() {
  makeFormatters();
  applyI18n();
  bindEvents();
  boot();
}

// Asks the server who is signed in, then shows the app or the login view.
async function boot() {
  showView('loading');
  $('loading-error').hidden = true;
  let user = null;
  try {
    const d = await api('GET', '/api/me');
    user = d && d.user;
  } catch (e) {
    if (e.status !== 401) {
      $('loading-error').hidden = false;
      return;
    }
  }
  if (user) await startSession(user);
  else route();
}

async function startSession(user) {
  state.user = user;
  state.loginNotice = null;
  updateUserUi();
  try {
    await Promise.all([loadRooms(), loadOnline()]);
  } catch (e) {
    if (!state.user) return;
    showNotice(apiErrorText(e));
  }
  if (!state.user) return;
  restoreJoined();
  conn.wanted = true;
  connect();
  startTimers();
  const target = state.afterLogin;
  state.afterLogin = null;
  const { name } = parseHash();
  if (target && (name === 'login' || name === 'register' || !name)) redirect(target);
  else if (name === 'login' || name === 'register' || !name) redirect('#/lobby');
  else route();
}

function stopSocket() {
  conn.wanted = false;
  clearTimeout(conn.timer);
  conn.timer = null;
  const ws = conn.ws;
  conn.ws = null;
  if (ws) { try { ws.close(1000); } catch (_) { /* ignore */ } }
}

function teardown() {
  stopSocket();
  stopTimers();
  for (const room of state.rooms.values()) clearRoomTimers(room);
  state.user = null;
  state.rooms.clear();
  state.online.clear();
  state.pendingByCid.clear();
  state.drafts.clear();
  state.current = null;
  state.adminEditing = null;
  adminSignature = '';
  roomListSignature = '';
  $('message-input').value = '';
  $('message-list').replaceChildren();
  $('room-list').replaceChildren();
  $('online-users').replaceChildren();
  $('member-list').replaceChildren();
  $('live-region').replaceChildren();
  hideNotice();
  closeUserMenu(false);
  updateUserUi();
  updateTitle();
}

function sessionEnded(reason) {
  if (!state.user) return;
  teardown();
  state.loginNotice = t('session.' + reason);
  history.replaceState(null, '', '#/login');
  route();
}

async function logout() {
  stopSocket();
  try { await api('POST', '/api/logout'); } catch (_) { /* the session may already be gone */ }
  teardown();
  state.loginNotice = t('session.loggedOut');
  history.replaceState(null, '', '#/login');
  route();
}

// The user menu is a disclosure: a button that shows a list of links.
function openUserMenu() {
  $('user-menu-list').classList.add('show');
  $('user-menu-btn').setAttribute('aria-expanded', 'true');
  const first = $('user-menu-list').querySelector('a, button');
  if (first) first.focus();
}
function closeUserMenu(refocus) {
  const list = $('user-menu-list');
  if (!list.classList.contains('show')) return;
  list.classList.remove('show');
  $('user-menu-btn').setAttribute('aria-expanded', 'false');
  if (refocus) $('user-menu-btn').focus();
}

function updateUserUi() {
  const u = state.user;
  $('user-menu').hidden = !u;
  $('conn-wrap').hidden = !u;
  $('current-user').textContent = u ? u.username : '';
  $('user-menu-btn').setAttribute('aria-label', u ? t('nav.userMenu', { name: u.username }) : '');
  updateNotifyButton();
}

/* ---------- data loading ---------- */

async function loadRooms() {
  const d = await apiAuth('GET', '/api/rooms');
  const seen = new Set();
  for (const r of (d && d.rooms) || []) {
    seen.add(r.id);
    const room = state.rooms.get(r.id);
    if (room) {
      room.name = r.name;
      room.topic = r.topic || '';
      room.online = Number(r.online) || 0;
    } else {
      state.rooms.set(r.id, makeRoom(r));
    }
  }
  for (const id of [...state.rooms.keys()]) {
    if (!seen.has(id)) {
      const room = state.rooms.get(id);
      const wasVisible = state.current === id && state.view === 'room';
      const name = roomName(room);
      removeRoom(id);
      if (room.joined || wasVisible) showNotice(t('room.deleted', { name }), 'warning');
    }
  }
  renderRoomList();
  renderAdmin();
  if (currentRoom()) renderRoomHeader();
}

let roomsRefreshTimer = null;
function refreshRoomsSoon() {
  clearTimeout(roomsRefreshTimer);
  roomsRefreshTimer = setTimeout(() => { if (state.user) loadRooms().catch(() => {}); }, 1500);
}

async function loadOnline() {
  const d = await apiAuth('GET', '/api/users/online');
  state.online = new Set(((d && d.users) || []).map((u) => u.username));
  renderOnline();
}

function removeRoom(id) {
  const room = state.rooms.get(id);
  if (!room) return;
  clearRoomTimers(room);
  for (const p of room.pending) state.pendingByCid.delete(p.cid);
  state.rooms.delete(id);
  state.drafts.delete(id);
  if (state.adminEditing === id) state.adminEditing = null;
  persistJoined();
  if (state.current === id) {
    state.current = null;
    if (state.view === 'room') redirect('#/lobby');
  }
  renderRoomList();
  renderAdmin();
  updateTitle();
}

function clearRoomTimers(room) {
  for (const p of room.pending) clearTimeout(p.retryTimer);
}

/* ---------- WebSocket ---------- */

const conn = {
  ws: null, wanted: false, attempt: 0, timer: null, retryAt: 0,
  state: 'connecting', opened: false, openedAt: 0, everOpened: false,
};

function wsUrl() {
  return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws';
}
const isOpen = () => !!conn.ws && conn.ws.readyState === WebSocket.OPEN;

function wsSend(obj) {
  if (!isOpen()) return false;
  try { conn.ws.send(JSON.stringify(obj)); return true; } catch (_) { return false; }
}

function connect() {
  clearTimeout(conn.timer);
  conn.timer = null;
  if (!conn.wanted || conn.ws) return;
  setConnState('connecting');
  let ws;
  try { ws = new WebSocket(wsUrl()); } catch (_) { scheduleReconnect(); return; }
  conn.ws = ws;
  conn.opened = false;
  ws.onopen = () => {
    if (conn.ws !== ws) return;
    conn.opened = true;
    conn.openedAt = Date.now();
    setConnState('online');
    onSocketOpen();
  };
  ws.onmessage = (ev) => {
    if (conn.ws !== ws) return;
    let frame;
    try { frame = JSON.parse(ev.data); } catch (_) { return; }
    if (frame && typeof frame === 'object') handleFrame(frame);
  };
  ws.onclose = (ev) => {
    if (conn.ws !== ws) return;
    conn.ws = null;
    onSocketClose(ev);
  };
}

function onSocketOpen() {
  const reconnect = conn.everOpened;
  conn.everOpened = true;
  for (const room of state.rooms.values()) if (room.joined) sendJoin(room);
  loadOnline().catch(() => {});
  if (reconnect) loadRooms().catch(() => {});
}

function onSocketClose(ev) {
  for (const room of state.rooms.values()) {
    room.joinState = 'none';
    room.typing.clear();
  }
  renderTyping();
  if (!conn.wanted) return;
  if (conn.opened && Date.now() - conn.openedAt > STABLE_CONNECTION_MS) conn.attempt = 0;
  if (ev.code === 1008) { sessionEnded('revoked'); return; }
  if (!conn.opened) {
    // The upgrade is refused with 401 when the session is gone.
    setConnState('reconnecting');
    api('GET', '/api/me').then(scheduleReconnect, (e) => {
      if (e.status === 401) sessionEnded('expired');
      else scheduleReconnect();
    });
    return;
  }
  scheduleReconnect();
}

function scheduleReconnect() {
  if (!conn.wanted || conn.ws) return;
  clearTimeout(conn.timer);
  const cap = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** conn.attempt);
  const delay = cap / 2 + Math.random() * (cap / 2);
  conn.attempt = Math.min(conn.attempt + 1, 16);
  conn.retryAt = Date.now() + delay;
  conn.timer = setTimeout(connect, delay);
  setConnState(navigator.onLine === false ? 'offline' : 'reconnecting');
}

function reconnectNow() {
  if (!conn.wanted || conn.ws) return;
  connect();
}

function setConnState(s) {
  conn.state = s;
  $('conn-status').dataset.state = s;
  $('conn-text').textContent = t('conn.' + s);
  $('reconnect-now').hidden = !(s === 'reconnecting' || s === 'offline') || !!conn.ws;
  updateCountdown();
}

function updateCountdown() {
  const el = $('conn-countdown');
  if ((conn.state === 'reconnecting' || conn.state === 'offline') && conn.timer && !conn.ws) {
    const s = Math.max(0, Math.ceil((conn.retryAt - Date.now()) / 1000));
    el.textContent = t('conn.retryIn', { s });
  } else {
    el.textContent = '';
  }
}

function sendJoin(room) {
  const frame = { type: 'join', room: room.id };
  if (room.lastId > 0) frame.since = room.lastId;
  room.joinSince = room.lastId;
  room.joinState = 'joining';
  wsSend(frame);
}

function joinRoom(room) {
  room.joined = true;
  persistJoined();
  if (isOpen() && room.joinState === 'none') sendJoin(room);
}

function leaveRoom(room) {
  if (isOpen() && room.joinState !== 'none') wsSend({ type: 'leave', room: room.id });
  clearRoomTimers(room);
  for (const p of room.pending) state.pendingByCid.delete(p.cid);
  Object.assign(room, {
    joined: false, joinState: 'none', joinSince: 0, historyLoaded: false, members: new Set(),
    msgs: new Map(), order: [], lastId: 0, hasMore: false, unread: 0, typing: new Map(), pending: [],
  });
  state.drafts.delete(room.id);
  persistJoined();
  if (state.current === room.id) {
    $('message-input').value = '';
    redirect('#/lobby');
  }
  renderRoomList();
  updateTitle();
}

function handleFrame(f) {
  switch (f.type) {
    case 'joined': onJoined(f); break;
    case 'message': onMessage(f); break;
    case 'ack': onAck(f); break;
    case 'presence': onPresence(f); break;
    case 'typing': onTyping(f); break;
    case 'online': onOnline(f); break;
    case 'room_deleted': onRoomDeleted(f); break;
    case 'message_deleted': onMessageDeleted(f); break;
    case 'error': onErrorFrame(f); break;
    default: break;
  }
}

function onJoined(f) {
  const room = state.rooms.get(f.room);
  if (!room) { refreshRoomsSoon(); return; }
  if (!room.joined) return;   // left while the join was in flight
  const catchUp = room.historyLoaded && room.joinSince > 0;
  room.joinState = 'joined';
  room.members = new Set(Array.isArray(f.members) ? f.members : []);
  room.online = room.members.size;
  const history = Array.isArray(f.history) ? f.history : [];
  const visible = currentRoom() === room;
  if (catchUp) {
    for (const m of history) addMessage(room, m, true);
  } else {
    for (const m of history) storeMessage(room, m);
    room.hasMore = history.length >= PAGE;
    room.historyLoaded = true;
    if (visible) renderMessages();
  }
  if (visible) { renderMembers(); updateHistoryTop(); }
  renderRoomList();
  flushPending(room);
}

// Records a message in the room; false when it was already there.
function storeMessage(room, m) {
  if (!m || typeof m.id !== 'number' || room.msgs.has(m.id)) return false;
  room.msgs.set(m.id, m);
  insertSorted(room.order, m.id);
  if (m.id > room.lastId) room.lastId = m.id;
  return true;
}

function insertSorted(arr, id) {
  let lo = 0, hi = arr.length;
  if (!hi || arr[hi - 1] < id) { arr.push(id); return; }
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (arr[mid] < id) lo = mid + 1; else hi = mid;
  }
  arr.splice(lo, 0, id);
}

function onMessage(f) {
  const room = state.rooms.get(f.room);
  if (!room || !room.joined) return;
  addMessage(room, f, false);
}

// A message from the live stream (or from catch-up after a reconnect).
function addMessage(room, raw, catchUp) {
  const m = { id: raw.id, room: raw.room, sender: String(raw.sender || ''), text: String(raw.text ?? ''), ts: raw.ts };
  const existing = room.msgs.get(m.id);
  if (existing) {
    if (existing.provisional) {
      Object.assign(existing, m, { provisional: false });
      if (m.id > room.lastId) room.lastId = m.id;
      if (currentRoom() === room) replaceMessageEl(existing);
    }
    return;
  }
  if (!storeMessage(room, m)) return;
  const mine = m.sender === me();
  if (!mine && room.typing.delete(m.sender)) renderTyping();
  const visible = currentRoom() === room;
  if (visible) insertMessageEl(m, mine);
  if (mine) return;
  if (!visible || document.hidden) {
    room.unread += 1;
    renderRoomList();
    updateTitle();
  }
  if (!catchUp) {
    if (visible) announce(t('msg.announce', { sender: m.sender, text: m.text.slice(0, 200) }));
    notify(room, m);
  }
}

function onAck(f) {
  const p = f.cid ? state.pendingByCid.get(f.cid) : null;
  if (!p || typeof f.id !== 'number') return;
  const room = state.rooms.get(p.room);
  dropPending(p);
  if (!room) return;
  const visible = currentRoom() === room;
  if (visible) removePendingEl(p);
  if (!room.msgs.has(f.id)) {
    const m = { id: f.id, room: room.id, sender: me(), text: p.text, ts: p.createdAt, provisional: true };
    room.msgs.set(m.id, m);
    insertSorted(room.order, m.id);
    if (visible) insertMessageEl(m, true);
  }
  if (visible) updateRoomEmpty();
}

function onPresence(f) {
  const room = state.rooms.get(f.room);
  if (!room || !f.user) return;
  if (f.event === 'join') room.members.add(f.user);
  else {
    room.members.delete(f.user);
    if (room.typing.delete(f.user) && currentRoom() === room) renderTyping();
  }
  room.online = room.members.size;
  if (currentRoom() === room) renderMembers();
  renderRoomList();
}

let typingTimer = null;
function onTyping(f) {
  const room = state.rooms.get(f.room);
  if (!room || !f.user || f.user === me()) return;
  room.typing.set(f.user, Date.now() + TYPING_SHOW_MS);
  if (currentRoom() === room) {
    renderTyping();
    clearTimeout(typingTimer);
    typingTimer = setTimeout(renderTyping, TYPING_SHOW_MS + 100);
  }
}

function onOnline(f) {
  if (!f.user) return;
  if (f.online) state.online.add(f.user); else state.online.delete(f.user);
  renderOnline();
  refreshRoomsSoon();
}

function onRoomDeleted(f) {
  const room = state.rooms.get(f.room);
  if (!room) return;
  const name = roomName(room);
  const relevant = room.joined || state.current === room.id;
  removeRoom(room.id);
  if (relevant) showNotice(t('room.deleted', { name }), 'warning');
}

function onMessageDeleted(f) {
  const room = state.rooms.get(f.room);
  if (!room || !room.msgs.has(f.id)) return;
  room.msgs.delete(f.id);
  const i = room.order.indexOf(f.id);
  if (i >= 0) room.order.splice(i, 1);
  if (currentRoom() === room) {
    const el = $('message-list').querySelector(`li[data-id="${f.id}"]`);
    if (el) el.remove();
    updateRoomEmpty();
  }
}

function onErrorFrame(f) {
  const code = String(f.code || '');
  const text = errorText(code, f.message);
  const p = f.cid ? state.pendingByCid.get(f.cid) : null;
  if (p) {
    const room = state.rooms.get(p.room);
    if ((code === 'rate_limited' || code === 'store_unavailable') && p.tries < 4) {
      p.sentAt = 0;
      clearTimeout(p.retryTimer);
      p.retryTimer = setTimeout(() => { p.retryTimer = null; trySend(p); },
        1500 * p.tries + Math.random() * 1000);
      showNotice(text, 'warning');
      return;
    }
    if (code === 'not_member' && room && room.joined && p.tries < 4) {
      p.sentAt = 0;
      if (room.joinState === 'joined') sendJoin(room);
      return;
    }
    markFailed(p, code, text);
    if (code === 'no_such_room') refreshRoomsSoon();
  } else if (code === 'no_such_room' || code === 'not_member') {
    refreshRoomsSoon();
  }
  showNotice(text);
}

/* ---------- sending ---------- */

function queueSend(room, text) {
  const p = {
    cid: newCid(), room: room.id, text, createdAt: Date.now(),
    sentAt: 0, tries: 0, state: 'sending', error: '', retryTimer: null,
  };
  room.pending.push(p);
  state.pendingByCid.set(p.cid, p);
  if (currentRoom() === room) {
    $('message-list').append(pendingEl(p));
    updateRoomEmpty();
    scrollToBottom();
  }
  trySend(p);
}

function trySend(p) {
  const room = state.rooms.get(p.room);
  if (!room || p.state !== 'sending' || !state.pendingByCid.has(p.cid)) return;
  if (!room.joined) joinRoom(room);
  if (!isOpen() || room.joinState !== 'joined') return;   // sent again once joined
  p.tries += 1;
  p.sentAt = Date.now();
  wsSend({ type: 'send', room: room.id, text: p.text, cid: p.cid });
}

function flushPending(room) {
  for (const p of room.pending) if (p.state === 'sending' && !p.retryTimer) trySend(p);
}

function checkAckTimeouts() {
  const now = Date.now();
  for (const p of state.pendingByCid.values()) {
    if (p.state === 'sending' && p.sentAt && now - p.sentAt > ACK_TIMEOUT_MS) trySend(p);
  }
}

function dropPending(p) {
  clearTimeout(p.retryTimer);
  state.pendingByCid.delete(p.cid);
  const room = state.rooms.get(p.room);
  if (room) room.pending = room.pending.filter((x) => x !== p);
}

function markFailed(p, code, text) {
  clearTimeout(p.retryTimer);
  p.retryTimer = null;
  p.state = 'failed';
  p.error = text || errorText(code);
  const room = state.rooms.get(p.room);
  if (room && currentRoom() === room) {
    const old = findPendingEl(p);
    if (old) old.replaceWith(pendingEl(p));
  }
}

function sendFromComposer() {
  const room = currentRoom();
  if (!room) return;
  const input = $('message-input');
  const text = input.value.trim();
  if (!text) return;
  if (codePoints(text) > MAX_TEXT) {
    showNotice(t('err.text_too_long', { max: MAX_TEXT }));
    return;
  }
  queueSend(room, text);
  input.value = '';
  state.drafts.delete(room.id);
  room.lastTypingSent = 0;
  autoGrow();
  updateCharCount();
}

function maybeSendTyping() {
  const room = currentRoom();
  if (!room || !$('message-input').value.trim()) return;
  const now = Date.now();
  if (now - room.lastTypingSent < TYPING_SEND_MS) return;
  if (isOpen() && room.joinState === 'joined') {
    room.lastTypingSent = now;
    wsSend({ type: 'typing', room: room.id });
  }
}

/* ---------- rendering: sidebar ---------- */

function sortedRooms() {
  const tag = localeTag(lang);
  return [...state.rooms.values()].sort((a, b) => {
    if (a.name === 'lobby') return -1;
    if (b.name === 'lobby') return 1;
    return a.name.localeCompare(b.name, tag) || a.id - b.id;
  });
}

let roomListSignature = '';
function renderRoomList(force = false) {
  const rooms = sortedRooms();
  const sig = lang + '|' + state.view + '|' + state.current + '|' + rooms.map((r) =>
    [r.id, r.name, r.topic, r.online, r.unread, r.joined].join(':')).join('\u0001');
  if (!force && sig === roomListSignature) return;
  roomListSignature = sig;
  const ul = $('room-list');
  const focused = document.activeElement && document.activeElement.closest
    ? document.activeElement.closest('#room-list li') : null;
  const focusedId = focused ? focused.dataset.room : null;
  ul.replaceChildren(...rooms.map((room) => {
    const active = state.view === 'room' && state.current === room.id;
    const link = h('a', {
      class: 'room-link' + (active ? ' active' : ''),
      href: '#/room/' + room.id,
      'aria-current': active ? 'page' : null,
    },
    h('span', { class: 'room-hash', 'aria-hidden': 'true' }, '#'),
    h('span', { class: 'room-name' }, roomName(room)),
    room.joined ? h('span', { class: 'visually-hidden' }, t('rooms.joined')) : null,
    h('span', { class: 'room-online', title: t('rooms.online', { n: room.online }), 'data-testid': 'room-online' },
      h('span', { class: 'online-dot', 'aria-hidden': 'true' }),
      h('span', { 'aria-hidden': 'true' }, String(room.online)),
      h('span', { class: 'visually-hidden' }, t('rooms.online', { n: room.online }))),
    room.unread > 0
      ? h('span', { class: 'badge rounded-pill unread-badge', 'data-testid': 'unread', title: t('rooms.unread', { n: room.unread }) },
        h('span', { 'aria-hidden': 'true' }, room.unread > 99 ? '99+' : String(room.unread)),
        h('span', { class: 'visually-hidden' }, t('rooms.unread', { n: room.unread })))
      : null);
    return h('li', {
      'data-room': room.id, 'data-testid': 'room-item', 'data-name': room.name,
      'data-unread': room.unread, 'data-joined': room.joined ? 'true' : 'false',
      class: room.joined ? 'room-joined' : null,
    }, link);
  }));
  $('rooms-empty').hidden = rooms.length > 0;
  if (focusedId) {
    const again = ul.querySelector(`li[data-room="${focusedId}"] a`);
    if (again) again.focus();
  }
  renderRoomCards(rooms);
}

// The home view's grid of rooms with topics (wide screens only).
function renderRoomCards(rooms) {
  const box = $('room-cards');
  const focused = document.activeElement && box.contains(document.activeElement)
    ? document.activeElement.closest('li').dataset.roomCard : null;
  box.replaceChildren(...rooms.map((room) => h('li', { 'data-room-card': room.id, 'data-testid': 'room-card' },
    h('a', { class: 'room-card', href: '#/room/' + room.id },
      h('span', { class: 'room-card-title' },
        h('span', { class: 'room-name' }, roomName(room)),
        room.unread > 0 ? h('span', { class: 'badge rounded-pill unread-badge' }, t('rooms.unread', { n: room.unread })) : null),
      h('span', { class: 'room-card-topic' }, room.topic),
      h('span', { class: 'room-online' }, h('span', { class: 'online-dot', 'aria-hidden': 'true' }),
        t('rooms.online', { n: room.online }))))));
  if (focused) {
    const again = box.querySelector(`li[data-room-card="${focused}"] a`);
    if (again) again.focus();
  }
}

function userItem(name, online) {
  return h('li', { 'data-user': name, 'data-testid': 'user-item' },
    h('span', { class: online ? 'online-dot' : 'conn-dot', 'aria-hidden': 'true' }),
    h('span', { class: 'text-truncate' }, name),
    name === me() ? h('span', { class: 'user-you' }, t('you')) : null);
}

function sortNames(names) {
  const tag = localeTag(lang);
  return [...names].sort((a, b) => a.localeCompare(b, tag));
}

function renderOnline() {
  const names = sortNames(state.online);
  $('online-users').replaceChildren(...names.map((n) => userItem(n, true)));
  $('online-count').textContent = String(names.length);
  $('users-empty').hidden = names.length > 0;
}

/* ---------- rendering: admin panel ---------- */

let adminSignature = '';
function renderAdmin(force = false) {
  const panel = $('admin-panel');
  panel.hidden = !isAdmin();
  if (!isAdmin()) return;
  const rooms = sortedRooms();
  const sig = lang + '|' + state.adminEditing + '|' + rooms.map((r) => [r.id, r.name, r.topic].join(':')).join('\u0001');
  if (!force && sig === adminSignature) return;
  const list = $('admin-room-list');
  if (!force && list.contains(document.activeElement) && state.adminEditing !== null) return;
  adminSignature = sig;
  list.replaceChildren(...rooms.map((room) => {
    const label = roomName(room);
    if (state.adminEditing === room.id) {
      const nameId = 'edit-name-' + room.id;
      const topicId = 'edit-topic-' + room.id;
      return h('li', { class: 'list-group-item', 'data-admin-room': room.id, 'data-testid': 'admin-room' },
        h('form', { class: 'admin-edit-form', 'data-action': 'save', 'data-id': room.id, novalidate: true },
          h('label', { class: 'visually-hidden', for: nameId }, t('admin.name')),
          h('input', { id: nameId, class: 'form-control form-control-sm', name: 'name', value: room.name, required: true, 'data-testid': 'edit-room-name' }),
          h('label', { class: 'visually-hidden', for: topicId }, t('admin.topic')),
          h('input', { id: topicId, class: 'form-control form-control-sm', name: 'topic', value: room.topic, placeholder: t('admin.topic'), 'data-testid': 'edit-room-topic' }),
          h('button', { class: 'btn btn-sm btn-primary', type: 'submit', 'data-testid': 'save-room' }, t('admin.save')),
          h('button', { class: 'btn btn-sm btn-outline-secondary', type: 'button', 'data-action': 'cancel' }, t('admin.cancel'))));
    }
    return h('li', { class: 'list-group-item', 'data-admin-room': room.id, 'data-testid': 'admin-room' },
      h('div', { class: 'admin-room-info' },
        h('div', { class: 'fw-semibold text-truncate' }, label,
          room.name === 'lobby' ? h('span', { class: 'text-muted fw-normal small ms-1' }, '(lobby)') : null),
        h('div', { class: 'topic' }, room.topic || t('admin.noTopic'))),
      h('div', { class: 'admin-room-actions' },
        h('button', { class: 'btn btn-sm btn-outline-secondary', type: 'button', 'data-action': 'edit', 'data-id': room.id,
          'aria-label': t('admin.editFor', { name: label }), 'data-testid': 'edit-room' }, t('admin.edit')),
        h('button', { class: 'btn btn-sm btn-outline-danger', type: 'button', 'data-action': 'delete', 'data-id': room.id,
          'aria-label': t('admin.deleteFor', { name: label }), 'data-testid': 'delete-room' }, t('admin.delete'))));
  }));
  if (state.adminEditing !== null) {
    const input = $('edit-name-' + state.adminEditing);
    if (input) input.focus();
  }
}

function adminMessage(kind, text) {
  $('admin-error').hidden = kind !== 'error';
  $('admin-status').hidden = kind !== 'ok';
  if (kind === 'error') $('admin-error').textContent = text;
  if (kind === 'ok') $('admin-status').textContent = text;
}

async function onCreateRoom(e) {
  e.preventDefault();
  const nameEl = $('new-room-name');
  const name = nameEl.value.trim();
  const topic = $('new-room-topic').value.trim();
  if (!name) { adminMessage('error', t('err.invalid_name')); nameEl.focus(); return; }
  const btn = $('create-room-btn');
  btn.disabled = true;
  try {
    const d = await apiAuth('POST', '/api/rooms', { name, topic });
    $('room-create-form').reset();
    adminMessage('ok', t('admin.created', { name: (d && d.room && d.room.name) || name }));
    await loadRooms();
  } catch (err) {
    adminMessage('error', apiErrorText(err));
  } finally {
    btn.disabled = false;
  }
}

async function onAdminClick(e) {
  const btn = e.target.closest('button[data-action]');
  if (!btn) return;
  const action = btn.dataset.action;
  if (action === 'cancel') { state.adminEditing = null; renderAdmin(true); return; }
  const room = state.rooms.get(Number(btn.dataset.id));
  if (!room) return;
  if (action === 'edit') {
    state.adminEditing = room.id;
    adminMessage('none');
    renderAdmin(true);
  } else if (action === 'delete') {
    const name = roomName(room);
    if (!window.confirm(t('admin.confirmDelete', { name }))) return;
    btn.disabled = true;
    try {
      await apiAuth('DELETE', '/api/rooms/' + room.id);
      adminMessage('ok', t('admin.deleted', { name }));
      removeRoom(room.id);
      refreshRoomsSoon();
    } catch (err) {
      btn.disabled = false;
      adminMessage('error', apiErrorText(err));
      if (err.code === 'no_such_room') refreshRoomsSoon();
    }
  }
}

async function onAdminSubmit(e) {
  const form = e.target.closest('form[data-action="save"]');
  if (!form) return;
  e.preventDefault();
  const id = Number(form.dataset.id);
  const name = form.elements.name.value.trim();
  const topic = form.elements.topic.value.trim();
  if (!name) { adminMessage('error', t('err.invalid_name')); form.elements.name.focus(); return; }
  for (const b of form.querySelectorAll('button')) b.disabled = true;
  try {
    const d = await apiAuth('PATCH', '/api/rooms/' + id, { name, topic });
    const room = state.rooms.get(id);
    if (room && d && d.room) { room.name = d.room.name; room.topic = d.room.topic || ''; }
    state.adminEditing = null;
    adminMessage('ok', t('admin.saved', { name: room ? roomName(room) : name }));
    renderAdmin(true);
    renderRoomList();
    if (currentRoom()) renderRoomHeader();
    await loadRooms();
  } catch (err) {
    for (const b of form.querySelectorAll('button')) b.disabled = false;
    adminMessage('error', apiErrorText(err));
  }
}

/* ---------- rendering: room view ---------- */

function renderRoomHeader() {
  const room = currentRoom();
  if (!room) return;
  const name = roomName(room);
  $('room-title').textContent = name;
  $('room-topic').textContent = room.topic;
  $('room-topic').hidden = !room.topic;
  $('message-scroller').setAttribute('aria-label', t('room.messagesLabel', { name }));
  $('message-input').placeholder = t('composer.placeholder', { room: name });
}

function renderMembers() {
  const room = currentRoom();
  if (!room) return;
  const names = sortNames(room.members);
  $('member-list').replaceChildren(...(names.length
    ? names.map((n) => userItem(n, true))
    : [h('li', { class: 'text-muted' }, t('room.membersEmpty'))]));
  $('member-count').textContent = String(names.length);
  $('member-count-2').textContent = String(names.length);
}

function renderTyping() {
  const room = currentRoom();
  const el = $('typing-indicator');
  if (!room) { el.textContent = ''; return; }
  const now = Date.now();
  for (const [u, exp] of room.typing) if (exp <= now) room.typing.delete(u);
  const names = [...room.typing.keys()];
  let text = '';
  if (names.length === 1) text = t('typing.one', { a: names[0] });
  else if (names.length === 2) text = t('typing.two', { a: names[0], b: names[1] });
  else if (names.length > 2) text = t('typing.many', { n: names.length });
  el.textContent = text;
}

function canDelete(m) {
  return isAdmin() || m.sender === me();
}

function messageEl(m) {
  const mine = m.sender === me();
  const meta = h('div', { class: 'msg-meta' },
    h('span', { class: 'msg-sender' }, m.sender),
    mine ? h('span', { class: 'msg-you' }, t('you')) : null,
    timeEl(m.ts));
  if (canDelete(m)) {
    meta.append(h('span', { class: 'msg-actions' },
      h('button', { type: 'button', class: 'btn btn-link btn-sm msg-delete', 'data-action': 'delete-msg',
        'aria-label': t('msg.deleteAria'), title: t('msg.deleteAria') }, t('msg.delete'))));
  }
  const body = h('div', { class: 'msg-text', 'data-testid': 'message-text' });
  appendLinkified(body, m.text);
  return h('li', {
    class: 'msg' + (mine ? ' own' : ''), 'data-id': m.id, 'data-testid': 'message',
    'data-sender': m.sender, 'data-own': mine ? 'true' : null,
  }, meta, body);
}

function pendingEl(p) {
  const failed = p.state === 'failed';
  const meta = h('div', { class: 'msg-meta' },
    h('span', { class: 'msg-sender' }, me()),
    h('span', { class: 'msg-you' }, t('you')),
    h('span', { class: 'msg-status', 'data-testid': 'message-status' },
      failed ? t('msg.failed') + (p.error ? ' · ' + p.error : '') : t('msg.sending')));
  if (failed) {
    meta.append(h('span', { class: 'msg-actions' },
      h('button', { type: 'button', class: 'btn btn-link btn-sm', 'data-action': 'retry', 'data-testid': 'retry-send' }, t('msg.retry')),
      h('button', { type: 'button', class: 'btn btn-link btn-sm', 'data-action': 'discard', 'data-testid': 'discard-send' }, t('msg.discard'))));
  }
  const body = h('div', { class: 'msg-text', 'data-testid': 'message-text' });
  appendLinkified(body, p.text);
  return h('li', {
    class: 'msg own pending' + (failed ? ' failed' : ''), 'data-cid': p.cid, 'data-testid': 'message',
    'data-pending': 'true', 'data-own': 'true', 'data-sender': me(), 'aria-busy': failed ? null : 'true',
  }, meta, body);
}

function findPendingEl(p) {
  return $('message-list').querySelector(`li[data-cid="${p.cid}"]`);
}
function removePendingEl(p) {
  const el = findPendingEl(p);
  if (el) el.remove();
}

// Whether the view should follow new content: true while the user is at the bottom.
let stickToBottom = true;

function isNearBottom() {
  const s = $('message-scroller');
  return s.scrollHeight - s.scrollTop - s.clientHeight < 60;
}
function scrollToBottom() {
  const s = $('message-scroller');
  s.scrollTop = s.scrollHeight;
  stickToBottom = true;
  $('jump-latest').hidden = true;
}

// Puts a message element in id order, before any pending items.
function insertMessageEl(m, forceScroll) {
  const list = $('message-list');
  const stick = forceScroll || stickToBottom || isNearBottom();
  let before = null;
  for (let node = list.lastElementChild; node; node = node.previousElementSibling) {
    if (node.dataset.id === undefined || Number(node.dataset.id) > m.id) { before = node; continue; }
    break;
  }
  list.insertBefore(messageEl(m), before);
  updateRoomEmpty();
  if (stick) scrollToBottom();
  else $('jump-latest').hidden = false;
}

function replaceMessageEl(m) {
  const old = $('message-list').querySelector(`li[data-id="${m.id}"]`);
  if (old) old.replaceWith(messageEl(m));
}

function renderMessages() {
  const room = currentRoom();
  if (!room) return;
  const items = room.order.map((id) => messageEl(room.msgs.get(id)));
  for (const p of room.pending) items.push(pendingEl(p));
  $('message-list').replaceChildren(...items);
  updateRoomEmpty();
  updateHistoryTop();
  scrollToBottom();
  fillViewport();
}

function updateRoomEmpty() {
  const room = currentRoom();
  $('room-empty').hidden = !room || !room.historyLoaded || room.order.length > 0 || room.pending.length > 0;
}

function updateHistoryTop() {
  const room = currentRoom();
  const btn = $('load-older');
  if (!room) return;
  btn.hidden = !room.historyLoaded || !room.hasMore;
  btn.disabled = room.loadingOlder;
  btn.textContent = room.loadingOlder ? t('room.loadingOlder') : t('room.loadOlder');
  $('history-start').hidden = !room.historyLoaded || room.hasMore || room.order.length === 0;
}

// Loads older pages while the history does not fill the scroller.
function fillViewport() {
  const room = currentRoom();
  const s = $('message-scroller');
  if (room && room.hasMore && !room.loadingOlder && s.scrollHeight <= s.clientHeight + 10) loadOlder();
}

async function loadOlder() {
  const room = currentRoom();
  if (!room || room.loadingOlder || !room.hasMore) return;
  const oldest = room.order[0];
  if (!oldest) { room.hasMore = false; updateHistoryTop(); return; }
  room.loadingOlder = true;
  updateHistoryTop();
  try {
    const d = await apiAuth('GET', `/api/rooms/${room.id}/messages?before=${oldest}&limit=${PAGE}`);
    if (state.rooms.get(room.id) !== room || !room.joined) return;
    const msgs = ((d && d.messages) || []).slice().sort((a, b) => a.id - b.id);
    room.hasMore = msgs.length >= PAGE;
    const added = msgs.filter((m) => storeMessage(room, {
      id: m.id, room: m.room, sender: String(m.sender || ''), text: String(m.text ?? ''), ts: m.ts,
    }));
    if (currentRoom() === room && added.length) {
      const s = $('message-scroller');
      const prevHeight = s.scrollHeight;
      const prevTop = s.scrollTop;
      const list = $('message-list');
      const firstOld = list.querySelector('li[data-id]');
      const frag = document.createDocumentFragment();
      for (const m of added) frag.append(messageEl(room.msgs.get(m.id)));
      list.insertBefore(frag, firstOld || list.firstChild);
      s.scrollTop = prevTop + (s.scrollHeight - prevHeight);
    }
  } catch (e) {
    if (e.status !== 401) showNotice(apiErrorText(e));
    if (e.code === 'no_such_room') refreshRoomsSoon();
  } finally {
    room.loadingOlder = false;
    if (currentRoom() === room) {
      updateHistoryTop();
      updateRoomEmpty();
      fillViewport();
    }
  }
}

async function onMessageListClick(e) {
  const btn = e.target.closest('button[data-action]');
  if (!btn) {
    // A tap on a message reveals its actions on touch screens.
    const li = e.target.closest('li.msg');
    if (li && !e.target.closest('a')) li.classList.toggle('actions-open');
    return;
  }
  const li = btn.closest('li');
  const room = currentRoom();
  if (!li || !room) return;
  const action = btn.dataset.action;
  if (action === 'retry' || action === 'discard') {
    const p = state.pendingByCid.get(li.dataset.cid);
    if (!p) { li.remove(); return; }
    if (action === 'discard') {
      dropPending(p);
      li.remove();
      updateRoomEmpty();
      $('message-input').focus();
      return;
    }
    p.state = 'sending';
    p.error = '';
    p.tries = 0;
    p.sentAt = 0;
    li.replaceWith(pendingEl(p));
    trySend(p);
  } else if (action === 'delete-msg') {
    const id = Number(li.dataset.id);
    if (!window.confirm(t('msg.confirmDelete'))) return;
    try {
      await apiAuth('DELETE', `/api/rooms/${room.id}/messages/${id}`);
      onMessageDeleted({ room: room.id, id });
    } catch (err) {
      if (err.status !== 401) showNotice(apiErrorText(err));
    }
  }
}

/* ---------- composer ---------- */

function autoGrow() {
  const input = $('message-input');
  input.style.height = 'auto';
  input.style.height = Math.min(input.scrollHeight + 2, 160) + 'px';
}

function updateCharCount() {
  const n = codePoints($('message-input').value.trim());
  const el = $('char-count');
  const show = n > MAX_TEXT - 500;
  el.textContent = show ? t('composer.count', { n, max: MAX_TEXT }) : '';
  el.classList.toggle('over', n > MAX_TEXT);
}

/* ---------- title, notifications ---------- */

function updateTitle() {
  let total = 0;
  for (const r of state.rooms.values()) total += r.unread;
  const room = currentRoom();
  const base = room ? roomName(room) + ' · ' + t('appName') : t('appName');
  document.title = (total > 0 ? `(${total}) ` : '') + base;
}

function updateNotifyButton() {
  const supported = 'Notification' in window;
  $('notify-btn').hidden = !state.user || !supported || Notification.permission !== 'default';
}

async function requestNotifications() {
  if (!('Notification' in window)) return;
  try { await Notification.requestPermission(); } catch (_) { /* ignore */ }
  updateNotifyButton();
}

function notify(room, m) {
  if (!('Notification' in window) || Notification.permission !== 'granted') return;
  if (currentRoom() === room && !document.hidden) return;
  const body = m.sender + ': ' + (m.text.length > 140 ? m.text.slice(0, 140) + '…' : m.text);
  try {
    const n = new Notification(roomName(room) + ' · ' + t('appName'), { body, tag: 'room-' + room.id, lang: localeTag(lang) });
    n.onclick = () => {
      window.focus();
      location.hash = '#/room/' + room.id;
      n.close();
    };
  } catch (_) { /* some platforms only allow notifications from a service worker */ }
}

/* ---------- forms ---------- */

function setFieldError(inputId, text) {
  const input = $(inputId);
  const fb = $(inputId + '-error');
  input.classList.toggle('is-invalid', !!text);
  if (text) input.setAttribute('aria-invalid', 'true'); else input.removeAttribute('aria-invalid');
  if (fb) fb.textContent = text || '';
}

function setFormError(id, text) {
  const el = $(id);
  el.textContent = text || '';
  el.hidden = !text;
}

// Disables a submit button for the Retry-After period, counting down in the error box.
function lockout(btn, errorId, seconds) {
  const until = Date.now() + seconds * 1000;
  btn.disabled = true;
  const tick = () => {
    const left = Math.ceil((until - Date.now()) / 1000);
    if (left <= 0) {
      btn.disabled = false;
      setFormError(errorId, '');
      return;
    }
    setFormError(errorId, t('err.rate_limited_wait', { s: left }));
    setTimeout(tick, 1000);
  };
  tick();
}

function showApiFormError(err, errorId, btn) {
  if (err.code === 'rate_limited' && err.retryAfter > 0) lockout(btn, errorId, err.retryAfter);
  else setFormError(errorId, err.code === 'network' ? t('err.network') : apiErrorText(err));
}

async function onLogin(e) {
  e.preventDefault();
  const btn = $('login-submit');
  if (btn.disabled) return;
  setFormError('login-error', '');
  const username = $('login-username').value.trim();
  const password = $('login-password').value;
  if (!username || !password) {
    setFormError('login-error', t('err.required'));
    (username ? $('login-password') : $('login-username')).focus();
    return;
  }
  btn.disabled = true;
  let user = null;
  try {
    const d = await api('POST', '/api/login', { username, password });
    user = d && d.user;
  } catch (err) {
    btn.disabled = false;
    showApiFormError(err, 'login-error', btn);
    $('login-password').select();
    return;
  }
  btn.disabled = false;
  $('login-password').value = '';
  $('login-notice').hidden = true;
  if (user) await startSession(user);
}

const REGISTER_FIELD = {
  invalid_username: 'register-username',
  username_taken: 'register-username',
  invalid_email: 'register-email',
  weak_password: 'register-password',
};

async function onRegister(e) {
  e.preventDefault();
  const btn = $('register-submit');
  if (btn.disabled) return;
  setFormError('register-error', '');
  for (const id of ['register-username', 'register-email', 'register-password']) setFieldError(id, '');
  const username = $('register-username').value.trim();
  const email = $('register-email').value.trim();
  const password = $('register-password').value;
  const problems = [];
  const ulen = codePoints(username);
  if (ulen < 3 || ulen > 32 || !/^[\p{L}\p{M}\p{N}_.-]+$/u.test(username)) problems.push(['register-username', t('err.invalid_username')]);
  if (!/^[^\s@]+@[^\s@]+$/.test(email)) problems.push(['register-email', t('err.invalid_email')]);
  const plen = new TextEncoder().encode(password).length;
  if (plen < 8 || plen > 128) problems.push(['register-password', t('err.weak_password')]);
  if (problems.length) {
    for (const [id, text] of problems) setFieldError(id, text);
    $(problems[0][0]).focus();
    return;
  }
  btn.disabled = true;
  try {
    await api('POST', '/api/register', { username, password, email });
  } catch (err) {
    btn.disabled = false;
    const field = REGISTER_FIELD[err.code];
    if (field) { setFieldError(field, apiErrorText(err)); $(field).focus(); } else showApiFormError(err, 'register-error', btn);
    return;
  }
  let user = null;
  try {
    const d = await api('POST', '/api/login', { username, password });
    user = d && d.user;
  } catch (err) {
    btn.disabled = false;
    showApiFormError(err, 'register-error', btn);
    return;
  }
  btn.disabled = false;
  $('register-form').reset();
  if (user) await startSession(user);
}

async function onPasswordChange(e) {
  e.preventDefault();
  const btn = $('password-submit');
  setFormError('password-error', '');
  $('password-success').hidden = true;
  for (const id of ['old-password', 'new-password', 'confirm-password']) setFieldError(id, '');
  const oldPw = $('old-password').value;
  const newPw = $('new-password').value;
  const confirmPw = $('confirm-password').value;
  const problems = [];
  if (!oldPw) problems.push(['old-password', t('err.required')]);
  const plen = new TextEncoder().encode(newPw).length;
  if (plen < 8 || plen > 128) problems.push(['new-password', t('err.weak_password')]);
  else if (newPw !== confirmPw) problems.push(['confirm-password', t('err.passwordMismatch')]);
  if (problems.length) {
    for (const [id, text] of problems) setFieldError(id, text);
    $(problems[0][0]).focus();
    return;
  }
  btn.disabled = true;
  try {
    await apiAuth('POST', '/api/password', { old_password: oldPw, new_password: newPw });
  } catch (err) {
    btn.disabled = false;
    if (err.code === 'wrong_password') { setFieldError('old-password', apiErrorText(err)); $('old-password').focus(); }
    else if (err.code === 'weak_password') { setFieldError('new-password', apiErrorText(err)); $('new-password').focus(); }
    else if (err.status !== 401) showApiFormError(err, 'password-error', btn);
    return;
  }
  btn.disabled = false;
  $('password-form').reset();
  const ok = $('password-success');
  ok.textContent = t('password.success');
  ok.hidden = false;
  ok.focus();
}

/* ---------- timers and events ---------- */

let timers = [];
function startTimers() {
  stopTimers();
  timers.push(setInterval(() => { if (state.user && !document.hidden) loadRooms().catch(() => {}); }, ROOMS_REFRESH_MS));
  timers.push(setInterval(checkAckTimeouts, 5000));
  timers.push(setInterval(updateCountdown, 1000));
}
function stopTimers() {
  for (const id of timers) clearInterval(id);
  timers = [];
  clearTimeout(roomsRefreshTimer);
  clearTimeout(typingTimer);
}

function renderAll() {
  updateUserUi();
  setConnState(conn.state);
  renderRoomList(true);
  renderOnline();
  renderAdmin(true);
  if (state.view === 'lobby' && state.user) $('home-title').textContent = t('home.title', { name: me() });
  if (state.view === 'login') showLogin();
  const room = currentRoom();
  if (room) {
    const s = $('message-scroller');
    const fromBottom = s.scrollHeight - s.scrollTop;
    renderRoomHeader();
    renderMembers();
    renderTyping();
    const items = room.order.map((id) => messageEl(room.msgs.get(id)));
    for (const p of room.pending) items.push(pendingEl(p));
    $('message-list').replaceChildren(...items);
    updateHistoryTop();
    updateRoomEmpty();
    updateCharCount();
    s.scrollTop = s.scrollHeight - fromBottom;
  }
  updateTitle();
}

function bindEvents() {
  window.addEventListener('hashchange', () => { hideNoticeIfStale(); route(); });
  $('lang-switch').addEventListener('click', () => setLang(lang === 'zh' ? 'en' : 'zh'));
  $('notice-close').addEventListener('click', hideNotice);
  $('loading-retry').addEventListener('click', () => { boot(); });
  $('reconnect-now').addEventListener('click', reconnectNow);
  $('notify-btn').addEventListener('click', requestNotifications);
  $('logout-btn').addEventListener('click', () => { closeUserMenu(false); logout(); });
  $('user-menu-btn').addEventListener('click', () => {
    if ($('user-menu-list').classList.contains('show')) closeUserMenu(false); else openUserMenu();
  });
  $('user-menu-list').addEventListener('click', (e) => { if (e.target.closest('a')) closeUserMenu(false); });
  document.addEventListener('click', (e) => { if (!$('user-menu').contains(e.target)) closeUserMenu(false); });
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && $('user-menu-list').classList.contains('show')) closeUserMenu(true);
  });
  $('login-form').addEventListener('submit', onLogin);
  $('register-form').addEventListener('submit', onRegister);
  $('password-form').addEventListener('submit', onPasswordChange);
  $('room-create-form').addEventListener('submit', onCreateRoom);
  $('admin-room-list').addEventListener('click', onAdminClick);
  $('admin-room-list').addEventListener('submit', onAdminSubmit);
  $('message-list').addEventListener('click', onMessageListClick);
  $('load-older').addEventListener('click', loadOlder);
  $('jump-latest').addEventListener('click', () => { scrollToBottom(); $('message-input').focus(); });
  $('leave-room').addEventListener('click', () => { const r = currentRoom(); if (r) leaveRoom(r); });
  $('members-toggle').addEventListener('click', () => {
    const v = $('view-room');
    const open = v.classList.toggle('show-members');
    $('members-toggle').setAttribute('aria-expanded', open ? 'true' : 'false');
  });
  $('message-scroller').addEventListener('scroll', () => {
    const s = $('message-scroller');
    if (s.scrollTop < 80) loadOlder();
    stickToBottom = isNearBottom();
    if (stickToBottom) $('jump-latest').hidden = true;
  }, { passive: true });
  if ('ResizeObserver' in window) {
    // Keeps the newest message in view when the layout changes size.
    const ro = new ResizeObserver(() => {
      if (stickToBottom && currentRoom()) $('message-scroller').scrollTop = $('message-scroller').scrollHeight;
    });
    ro.observe($('message-scroller'));
    ro.observe($('message-list'));
  }

  const input = $('message-input');
  $('send-form').addEventListener('submit', (e) => { e.preventDefault(); sendFromComposer(); input.focus(); });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      sendFromComposer();
    }
  });
  input.addEventListener('input', () => {
    autoGrow();
    updateCharCount();
    maybeSendTyping();
    if (state.current !== null) state.drafts.set(state.current, input.value);
  });

  document.addEventListener('visibilitychange', () => {
    if (document.hidden) return;
    const room = currentRoom();
    if (room && room.unread) { room.unread = 0; renderRoomList(); updateTitle(); }
    if (conn.wanted && !conn.ws) reconnectNow();
  });
  window.addEventListener('online', () => { if (conn.wanted && !conn.ws) reconnectNow(); });
  window.addEventListener('offline', () => { if (conn.wanted && !conn.ws) setConnState('offline'); });
}

function hideNoticeIfStale() {
  const box = $('notice');
  if (!box.hidden && box.dataset.kind === 'danger') hideNotice();
}

init();
