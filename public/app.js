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
const READ_DELAY_MS = 800;       // read markers are sent at most this often per conversation
const TOAST_MS = 5000;
const TOAST_MAX = 3;
const PRESENCE_TOAST_GAP_MS = 30000;   // one join notice per user and room in this period
const JUMP_PAGE = 200;           // page size while looking for a search result's message
const SEARCH_EXCERPT = 280;      // longer result texts are cut around the match

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
  friends: new Map(),        // username -> { online }
  incoming: new Set(),       // usernames who asked to be friends
  outgoing: new Set(),       // usernames asked by the user
  dms: new Map(),            // username -> direct-message conversation
  dmUser: null,              // partner of the conversation in view
  search: null,              // { q, room, results, loading, error }
  jump: null,                // { key, id, pages } message to bring into view
  adminUsers: null,          // rows of the admin users table
  presenceToasts: new Map(), // 'room|user' -> time of the last join notice
};

function makeRoom(r) {
  return {
    kind: 'room',
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
    readSent: 0,             // highest id reported with POST /api/read
    readTimer: null,
  };
}

// A direct-message conversation with one user; shares the fields the message
// view needs with rooms.
function makeDm(user) {
  return {
    kind: 'dm',
    user,
    msgs: new Map(),
    order: [],
    lastId: 0,
    hasMore: false,
    historyLoaded: false,
    loading: false,          // newest page being fetched
    loadingOlder: false,
    unread: 0,
    pending: [],
    readSent: 0,
    readTimer: null,
  };
}

function getDm(user) {
  let conv = state.dms.get(user);
  if (!conv) {
    conv = makeDm(user);
    state.dms.set(user, conv);
  }
  return conv;
}

const isAdmin = () => !!state.user && state.user.role === 'admin';
const me = () => (state.user ? state.user.username : '');
const roomName = (room) => (room.name === 'lobby' ? t('room.lobbyName') : room.name);
const currentRoom = () => (state.view === 'room' && state.current !== null ? state.rooms.get(state.current) || null : null);
const currentDm = () => (state.view === 'dm' && state.dmUser !== null ? state.dms.get(state.dmUser) || null : null);
// The room or direct-message conversation in view, or null.
const currentConv = () => currentRoom() || currentDm();
const convKey = (conv) => (conv.kind === 'dm' ? 'dm:' + conv.user : 'room:' + conv.id);
const dmHash = (user) => '#/dm/' + encodeURIComponent(user);

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

// A small notice that goes away by itself; it takes no clicks, so it never
// covers a control. Screen readers hear it through the live region.
function toast(text) {
  const box = $('toasts');
  const el = h('div', { class: 'app-toast', 'data-testid': 'toast' }, text);
  box.append(el);
  while (box.childElementCount > TOAST_MAX) box.firstElementChild.remove();
  setTimeout(() => el.remove(), TOAST_MS);
  announce(text);
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

// Sections of the page; a direct-message conversation uses the room view.
const VIEWS = ['loading', 'login', 'register', 'lobby', 'room', 'password', 'search'];
const VIEW_SECTION = { dm: 'room' };
const SHELL_VIEWS = ['lobby', 'room', 'dm', 'password', 'search'];

function showView(name) {
  const section = VIEW_SECTION[name] || name;
  for (const v of VIEWS) $('view-' + v).hidden = v !== section;
  $('app-shell').hidden = !SHELL_VIEWS.includes(name);
  document.body.dataset.view = name;
  state.view = name;
  updateSearchScope();
}

function decodePart(s) {
  try { return decodeURIComponent(s || ''); } catch (_) { return ''; }
}

function parseHash() {
  const parts = location.hash.replace(/^#\/?/, '').split('/');
  return { name: parts[0] || '', arg: parts[1], arg2: parts[2] };
}

function redirect(hash) {
  history.replaceState(null, '', hash);
  route();
}

function route() {
  const { name, arg, arg2 } = parseHash();
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
  if (name === 'dm') {
    const user = decodePart(arg);
    if (user && user !== me()) { openDm(user); return; }
    redirect('#/lobby');
    return;
  }
  if (name === 'search') {
    const q = decodePart(arg).trim();
    if (q) { showSearch(q, arg2 ? Number(arg2) || null : null); return; }
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
  state.dmUser = null;
  state.jump = null;
  showView('lobby');
  $('home-title').textContent = t('home.title', { name: me() });
  renderRoomList();
  renderFriends();
  renderAdmin(true);
  if (isAdmin()) loadAdminUsers();
  updateTitle();
}

function showPassword() {
  state.current = null;
  state.dmUser = null;
  state.jump = null;
  showView('password');
  renderRoomList();
  renderFriends();
  updateTitle();
  $('old-password').focus();
}

function openRoom(room) {
  const changed = state.view !== 'room' || state.current !== room.id;
  state.current = room.id;
  state.dmUser = null;
  showView('room');
  if (!room.joined) joinRoom(room);
  enterConversation(room, changed);
}

function openDm(user) {
  const conv = getDm(user);
  const changed = state.view !== 'dm' || state.dmUser !== user;
  state.current = null;
  state.dmUser = user;
  showView('dm');
  if (!conv.historyLoaded) loadDmHistory(conv);
  enterConversation(conv, changed);
}

// Shows a room or direct-message conversation in the message view.
function enterConversation(conv, changed) {
  if (!document.hidden) conv.unread = 0;
  if (changed) {
    const input = $('message-input');
    $('view-room').classList.remove('show-members');
    $('members-toggle').setAttribute('aria-expanded', 'false');
    input.value = state.drafts.get(convKey(conv)) || '';
    autoGrow();
    updateCharCount();
    renderRoomHeader();
    renderMessages();
    renderMembers();
    renderTyping();
    if (window.matchMedia('(pointer: fine)').matches) input.focus();
  }
  renderRoomList();
  renderFriends();
  updateTitle();
  scheduleRead(conv);
  continueJump();
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
  // The community parts load on their own: one failing does not stop the rest.
  await Promise.all([
    loadFriends().catch(() => {}),
    loadUnread().catch(() => {}),
    'email_notify' in user ? null : loadMe().catch(() => {}),
  ]);
  if (!state.user) return;
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
  for (const conv of state.dms.values()) clearRoomTimers(conv);
  state.user = null;
  state.rooms.clear();
  state.online.clear();
  state.pendingByCid.clear();
  state.drafts.clear();
  state.current = null;
  state.adminEditing = null;
  state.friends.clear();
  state.incoming.clear();
  state.outgoing.clear();
  state.dms.clear();
  state.dmUser = null;
  state.search = null;
  state.jump = null;
  state.adminUsers = null;
  state.presenceToasts.clear();
  searchSeq += 1;
  adminSignature = '';
  roomListSignature = '';
  friendsSignature = '';
  $('message-input').value = '';
  $('message-list').replaceChildren();
  $('room-list').replaceChildren();
  $('online-users').replaceChildren();
  $('member-list').replaceChildren();
  $('friend-list').replaceChildren();
  $('incoming-requests').replaceChildren();
  $('outgoing-requests').replaceChildren();
  $('admin-users').replaceChildren();
  $('search-results').replaceChildren();
  $('search-input').value = '';
  $('add-friend-input').value = '';
  setAddFriendMessage('', '');
  $('live-region').replaceChildren();
  $('toasts').replaceChildren();
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
  const known = !!u && typeof u.email_notify === 'boolean';
  $('email-notify-item').hidden = !known;
  $('email-notify').checked = known && u.email_notify;
  updateNotifyButton();
}

async function loadMe() {
  const d = await apiAuth('GET', '/api/me');
  if (d && d.user && state.user && d.user.id === state.user.id) {
    state.user = Object.assign({}, state.user, d.user);
    updateUserUi();
  }
}

async function onEmailNotifyChange() {
  const box = $('email-notify');
  const want = box.checked;
  box.disabled = true;
  try {
    const d = await apiAuth('PATCH', '/api/me', { email_notify: want });
    const got = d && d.user && typeof d.user.email_notify === 'boolean' ? d.user.email_notify : want;
    if (state.user) state.user = Object.assign({}, state.user, d && d.user ? d.user : {}, { email_notify: got });
    announce(t(got ? 'settings.emailOn' : 'settings.emailOff'));
  } catch (err) {
    if (err.status !== 401) showNotice(apiErrorText(err));
  } finally {
    box.disabled = false;
    updateUserUi();
  }
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

async function loadFriends() {
  const d = await apiAuth('GET', '/api/friends');
  if (!state.user || !d) return;
  state.friends = new Map();
  for (const f of d.friends || []) {
    if (f && f.username) state.friends.set(f.username, { online: !!f.online });
  }
  state.incoming = new Set((d.incoming || []).filter((u) => typeof u === 'string'));
  state.outgoing = new Set((d.outgoing || []).filter((u) => typeof u === 'string'));
  renderFriends();
  if (currentDm()) renderRoomHeader();
  updateTitle();
}

// Unread counts as the server keeps them (right across devices). Rooms and
// conversations it does not list have none.
async function loadUnread() {
  const d = await apiAuth('GET', '/api/unread');
  if (!state.user || !d) return;
  const rooms = new Map((d.rooms || []).map((r) => [r.room, Number(r.count) || 0]));
  const dms = new Map((d.dms || []).map((r) => [r.user, Number(r.count) || 0]));
  for (const room of state.rooms.values()) {
    if (currentRoom() === room && !document.hidden) continue;
    room.unread = rooms.get(room.id) || 0;
  }
  for (const [user, n] of dms) if (typeof user === 'string') getDm(user);
  for (const conv of state.dms.values()) {
    if (currentDm() === conv && !document.hidden) continue;
    conv.unread = dms.get(conv.user) || 0;
  }
  renderRoomList();
  renderFriends();
  updateTitle();
}

const normDm = (m) => ({ id: m.id, sender: String(m.sender || ''), to: String(m.to || ''), text: String(m.text ?? ''), ts: m.ts });
const dmPath = (conv, query) => `/api/dm/${encodeURIComponent(conv.user)}/messages?${query}`;

// Fetches the newest page of a direct-message conversation (first view).
async function loadDmHistory(conv) {
  if (conv.loading) return;
  conv.loading = true;
  try {
    const d = await apiAuth('GET', dmPath(conv, `limit=${PAGE}`));
    if (state.dms.get(conv.user) !== conv) return;
    const msgs = ((d && d.messages) || []).slice().sort((a, b) => a.id - b.id);
    for (const m of msgs) storeMessage(conv, normDm(m));
    conv.hasMore = msgs.length >= PAGE;
    conv.historyLoaded = true;
  } catch (e) {
    if (e.status !== 401) showNotice(apiErrorText(e));
  } finally {
    conv.loading = false;
    if (currentDm() === conv) {
      renderMessages();
      scheduleRead(conv);
      continueJump();
    }
  }
}

// After a reconnect: direct messages sent while the socket was down.
async function catchUpDm(conv) {
  if (!conv.historyLoaded || conv.loading) return;
  const d = await apiAuth('GET', dmPath(conv, `limit=${PAGE}`));
  if (state.dms.get(conv.user) !== conv) return;
  const msgs = ((d && d.messages) || []).map(normDm).sort((a, b) => a.id - b.id);
  if (msgs.length >= PAGE && conv.lastId && msgs[0].id > conv.lastId + 1) {
    // More were missed than one page holds: start again from the newest page.
    const visible = currentDm() === conv;
    conv.msgs = new Map();
    conv.order = [];
    conv.lastId = 0;
    for (const m of msgs) storeMessage(conv, m);
    conv.hasMore = true;
    if (visible) renderMessages();
    return;
  }
  for (const m of msgs) addMessage(conv, m, true);
}

function removeRoom(id) {
  const room = state.rooms.get(id);
  if (!room) return;
  clearRoomTimers(room);
  for (const p of room.pending) state.pendingByCid.delete(p.cid);
  state.rooms.delete(id);
  state.drafts.delete(convKey(room));
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

function clearRoomTimers(conv) {
  for (const p of conv.pending) clearTimeout(p.retryTimer);
  clearTimeout(conv.readTimer);
  conv.readTimer = null;
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
  for (const conv of state.dms.values()) flushPending(conv);
  loadOnline().catch(() => {});
  if (reconnect) {
    loadRooms().catch(() => {});
    loadFriends().catch(() => {});
    for (const conv of state.dms.values()) catchUpDm(conv).catch(() => {});
  }
}

function onSocketClose(ev) {
  for (const room of state.rooms.values()) {
    room.joinState = 'none';
    room.typing.clear();
  }
  renderTyping();
  if (!conn.wanted) return;
  if (conn.opened && Date.now() - conn.openedAt > STABLE_CONNECTION_MS) conn.attempt = 0;
  if (ev.code === 1008) { sessionEnded(/\bban/i.test(ev.reason || '') ? 'banned' : 'revoked'); return; }
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
  state.drafts.delete(convKey(room));
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
    case 'dm': onDmFrame(f); break;
    case 'friend': onFriendFrame(f); break;
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
  if (visible) {
    scheduleRead(room);
    continueJump();
  }
}

// Records a message in a room or conversation; false when it was already there.
function storeMessage(conv, m) {
  if (!m || typeof m.id !== 'number' || conv.msgs.has(m.id)) return false;
  conv.msgs.set(m.id, m);
  insertSorted(conv.order, m.id);
  if (m.id > conv.lastId) conv.lastId = m.id;
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

// Direct messages of every tab and instance of both users; each is shown once (by id).
function onDmFrame(f) {
  if (typeof f.id !== 'number' || !state.user) return;
  const peer = f.sender === me() ? f.to : f.sender;
  if (!peer || typeof peer !== 'string') return;
  addMessage(getDm(peer), f, false);
}

// A message from the live stream (or from catch-up after a reconnect).
function addMessage(conv, raw, catchUp) {
  const m = conv.kind === 'dm' ? normDm(raw)
    : { id: raw.id, room: raw.room, sender: String(raw.sender || ''), text: String(raw.text ?? ''), ts: raw.ts };
  const existing = conv.msgs.get(m.id);
  if (existing) {
    if (existing.provisional) {
      Object.assign(existing, m, { provisional: false });
      if (m.id > conv.lastId) conv.lastId = m.id;
      if (currentConv() === conv) replaceMessageEl(existing);
    }
    return;
  }
  if (!storeMessage(conv, m)) return;
  const mine = m.sender === me();
  if (!mine && conv.kind === 'room' && conv.typing.delete(m.sender)) renderTyping();
  const visible = currentConv() === conv;
  if (visible) insertMessageEl(m, mine);
  if (mine) return;
  if (!visible || document.hidden) {
    conv.unread += 1;
    if (conv.kind === 'dm') renderFriends(); else renderRoomList();
    updateTitle();
  } else {
    scheduleRead(conv);
  }
  if (!catchUp) {
    if (visible) announce(t('msg.announce', { sender: m.sender, text: m.text.slice(0, 200) }));
    notify(conv, m);
  }
}

function onAck(f) {
  const p = f.cid ? state.pendingByCid.get(f.cid) : null;
  if (!p || typeof f.id !== 'number') return;
  const conv = convOfPending(p);
  dropPending(p);
  if (!conv) return;
  const visible = currentConv() === conv;
  if (visible) removePendingEl(p);
  if (!conv.msgs.has(f.id)) {
    const m = conv.kind === 'dm'
      ? { id: f.id, sender: me(), to: conv.user, text: p.text, ts: p.createdAt, provisional: true }
      : { id: f.id, room: conv.id, sender: me(), text: p.text, ts: p.createdAt, provisional: true };
    conv.msgs.set(m.id, m);
    insertSorted(conv.order, m.id);
    if (visible) insertMessageEl(m, true);
  }
  if (visible) updateRoomEmpty();
}

function onPresence(f) {
  const room = state.rooms.get(f.room);
  if (!room || !f.user) return;
  if (f.event === 'join') {
    const fresh = !room.members.has(f.user);
    room.members.add(f.user);
    if (fresh && room.joined && f.user !== me()) presenceToast(room, f.user);
  } else {
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

// "bob joined #room", at most once per user and room in PRESENCE_TOAST_GAP_MS.
function presenceToast(room, user) {
  const key = room.id + '|' + user;
  const now = Date.now();
  const last = state.presenceToasts.get(key);
  if (last && now - last < PRESENCE_TOAST_GAP_MS) return;
  state.presenceToasts.set(key, now);
  if (state.presenceToasts.size > 500) state.presenceToasts.clear();
  toast(t('presence.joined', { user, room: roomName(room) }));
}

function onOnline(f) {
  if (!f.user) return;
  const online = !!f.online;
  if (online) state.online.add(f.user); else state.online.delete(f.user);
  renderOnline();
  const friend = state.friends.get(f.user);
  if (friend && friend.online !== online) {
    friend.online = online;
    renderFriends();
    if (currentDm() && state.dmUser === f.user) renderRoomHeader();
  }
  const row = state.adminUsers && state.adminUsers.find((u) => u.username === f.user);
  if (row && row.online !== online) {
    row.online = online;
    renderAdminUsers();
  }
  refreshRoomsSoon();
}

// Friendship changes, from the other user (incoming, friends, none) or from
// this user's other tabs (outgoing, friends, none).
function onFriendFrame(f) {
  const user = f.user;
  if (!user || typeof user !== 'string' || !state.user) return;
  const wasOutgoing = state.outgoing.has(user);
  const wasIncoming = state.incoming.has(user);
  const st = ['friends', 'incoming', 'outgoing'].includes(f.state) ? f.state : 'none';
  setFriendState(user, st);
  if (st === 'friends' && wasOutgoing) toast(t('friends.toastAccepted', { name: user }));
  else if (st === 'incoming' && !wasIncoming) toast(t('friends.toastRequest', { name: user }));
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
  removeSearchResult('room', f.id);
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
    const room = p.kind === 'room' ? state.rooms.get(p.room) : null;
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

// The room or conversation a pending send belongs to (null when it is gone).
function convOfPending(p) {
  return p.kind === 'dm' ? state.dms.get(p.dm) || null : state.rooms.get(p.room) || null;
}

function queueSend(conv, text) {
  const p = {
    cid: newCid(), kind: conv.kind, room: conv.kind === 'room' ? conv.id : null,
    dm: conv.kind === 'dm' ? conv.user : null, text, createdAt: Date.now(),
    sentAt: 0, tries: 0, state: 'sending', error: '', retryTimer: null,
  };
  conv.pending.push(p);
  state.pendingByCid.set(p.cid, p);
  if (currentConv() === conv) {
    $('message-list').append(pendingEl(p));
    updateRoomEmpty();
    scrollToBottom();
  }
  trySend(p);
}

function trySend(p) {
  const conv = convOfPending(p);
  if (!conv || p.state !== 'sending' || !state.pendingByCid.has(p.cid)) return;
  if (conv.kind === 'dm') {
    if (!isOpen()) return;   // sent again when the socket opens
    p.tries += 1;
    p.sentAt = Date.now();
    wsSend({ type: 'dm', to: conv.user, text: p.text, cid: p.cid });
    return;
  }
  if (!conv.joined) joinRoom(conv);
  if (!isOpen() || conv.joinState !== 'joined') return;   // sent again once joined
  p.tries += 1;
  p.sentAt = Date.now();
  wsSend({ type: 'send', room: conv.id, text: p.text, cid: p.cid });
}

function flushPending(conv) {
  for (const p of conv.pending) if (p.state === 'sending' && !p.retryTimer) trySend(p);
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
  const conv = convOfPending(p);
  if (conv) conv.pending = conv.pending.filter((x) => x !== p);
}

function markFailed(p, code, text) {
  clearTimeout(p.retryTimer);
  p.retryTimer = null;
  p.state = 'failed';
  p.error = text || errorText(code);
  const conv = convOfPending(p);
  if (conv && currentConv() === conv) {
    const old = findPendingEl(p);
    if (old) old.replaceWith(pendingEl(p));
  }
}

function sendFromComposer() {
  const room = currentConv();
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
  state.drafts.delete(convKey(room));
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

/* ---------- rendering and actions: friends ---------- */

const attrSel = (name, value) => `[${name}="${CSS.escape(String(value))}"]`;

function unreadBadge(n, key) {
  if (!(n > 0)) return null;
  return h('span', { class: 'badge rounded-pill unread-badge', 'data-testid': 'unread', title: t(key, { n }) },
    h('span', { 'aria-hidden': 'true' }, n > 99 ? '99+' : String(n)),
    h('span', { class: 'visually-hidden' }, t(key, { n })));
}

// Friends first by online state, then by name.
function sortedFriends() {
  const tag = localeTag(lang);
  return [...state.friends.keys()].sort((a, b) => {
    const oa = state.friends.get(a).online;
    const ob = state.friends.get(b).online;
    if (oa !== ob) return oa ? -1 : 1;
    return a.localeCompare(b, tag);
  });
}

function friendItem(name) {
  const f = state.friends.get(name);
  const conv = state.dms.get(name);
  const unread = conv ? conv.unread : 0;
  const active = state.view === 'dm' && state.dmUser === name;
  const status = t(f.online ? 'friends.online' : 'friends.offline');
  return h('li', {
    class: 'friend-item', 'data-user': name, 'data-online': f.online ? 'true' : 'false',
    'data-unread': unread, 'data-testid': 'friend-item',
  },
  h('a', {
    class: 'room-link friend-link' + (active ? ' active' : ''), href: dmHash(name),
    'data-action': 'open-dm', 'data-user': name, 'aria-current': active ? 'page' : null,
    title: t('friends.messageAria', { name, status }),
  },
  h('span', { class: f.online ? 'online-dot' : 'offline-dot', 'aria-hidden': 'true' }),
  h('span', { class: 'room-name' }, name),
  h('span', { class: 'visually-hidden' }, ', ' + status),
  unreadBadge(unread, 'dm.unread')),
  h('button', {
    type: 'button', class: 'btn btn-link btn-sm friend-remove', 'data-action': 'remove-friend', 'data-user': name,
    'aria-label': t('friends.removeFor', { name }), title: t('friends.removeFor', { name }), 'data-testid': 'remove-friend',
  }, h('span', { 'aria-hidden': 'true' }, '×')));
}

function requestItem(name, kind) {
  const actions = kind === 'incoming'
    ? [h('button', { type: 'button', class: 'btn btn-sm btn-primary', 'data-action': 'accept', 'data-user': name,
      'aria-label': t('friends.acceptFor', { name }), 'data-testid': 'accept-friend' }, t('friends.accept')),
    h('button', { type: 'button', class: 'btn btn-sm btn-outline-secondary', 'data-action': 'decline', 'data-user': name,
      'aria-label': t('friends.declineFor', { name }), 'data-testid': 'decline-friend' }, t('friends.decline'))]
    : [h('button', { type: 'button', class: 'btn btn-sm btn-outline-secondary', 'data-action': 'cancel', 'data-user': name,
      'aria-label': t('friends.cancelFor', { name }), 'data-testid': 'cancel-friend' }, t('friends.cancel'))];
  return h('li', { class: 'request-item', 'data-user': name, 'data-kind': kind, 'data-testid': 'friend-request' },
    h('span', { class: 'request-name' }, h('span', { class: 'text-truncate' }, name),
      kind === 'outgoing' ? h('span', { class: 'request-note' }, t('friends.waiting')) : null),
    h('span', { class: 'request-actions' }, ...actions));
}

let friendsSignature = '';
function renderFriends(force = false) {
  if (!state.user) return;
  const names = sortedFriends();
  const incoming = sortNames(state.incoming);
  const outgoing = sortNames(state.outgoing);
  const sig = [lang, state.view, state.dmUser,
    names.map((n) => [n, state.friends.get(n).online, state.dms.get(n) ? state.dms.get(n).unread : 0].join(':')).join('\u0001'),
    incoming.join('\u0001'), outgoing.join('\u0001')].join('|');
  if (!force && sig === friendsSignature) return;
  friendsSignature = sig;

  // Keeps keyboard focus on the same control (or a sensible neighbour) across the re-render.
  const section = $('friends-section');
  const active = document.activeElement;
  const focus = active && section.contains(active) && active.dataset && active.dataset.action
    ? { action: active.dataset.action, user: active.dataset.user } : null;

  $('friend-list').replaceChildren(...names.map(friendItem));
  const onlineCount = names.filter((n) => state.friends.get(n).online).length;
  const pill = $('friends-online-count');
  pill.textContent = String(onlineCount);
  pill.title = t('friends.onlineCount', { n: onlineCount });
  $('friends-empty').hidden = names.length > 0;
  $('incoming-requests').replaceChildren(...incoming.map((n) => requestItem(n, 'incoming')));
  $('outgoing-requests').replaceChildren(...outgoing.map((n) => requestItem(n, 'outgoing')));
  $('incoming-heading').hidden = incoming.length === 0;
  $('outgoing-heading').hidden = outgoing.length === 0;

  if (focus && !section.contains(document.activeElement)) {
    const again = section.querySelector(attrSel('data-action', focus.action) + attrSel('data-user', focus.user))
      || (focus.action === 'accept' ? section.querySelector('[data-action="open-dm"]' + attrSel('data-user', focus.user)) : null);
    (again || $('add-friend-input')).focus();
  }
}

// Applies a friendship state (as the server reports it from this user's side).
function setFriendState(user, st) {
  state.incoming.delete(user);
  state.outgoing.delete(user);
  if (st === 'friends') {
    if (!state.friends.has(user)) state.friends.set(user, { online: state.online.has(user) });
  } else {
    state.friends.delete(user);
    if (st === 'incoming') state.incoming.add(user);
    else if (st === 'outgoing') state.outgoing.add(user);
  }
  renderFriends();
  if (currentDm() && state.dmUser === user) renderRoomHeader();
  updateTitle();
}

function setAddFriendMessage(error, status) {
  const input = $('add-friend-input');
  $('add-friend-error').textContent = error || '';
  $('add-friend-status').textContent = status || '';
  input.classList.toggle('is-invalid', !!error);
  if (error) input.setAttribute('aria-invalid', 'true'); else input.removeAttribute('aria-invalid');
}

function friendErrorText(err, name) {
  if (err.code === 'no_such_user') return t('friends.err.no_such_user', { name });
  if (err.code === 'bad_request') return t('friends.err.bad_request');
  if (err.code === 'network') return t('err.network');
  return apiErrorText(err);
}

async function onAddFriend(e) {
  e.preventDefault();
  const input = $('add-friend-input');
  const btn = $('add-friend-btn');
  const name = input.value.trim();
  setAddFriendMessage('', '');
  if (!name) { setAddFriendMessage(t('friends.err.empty')); input.focus(); return; }
  if (btn.disabled) return;
  btn.disabled = true;
  try {
    const d = await apiAuth('POST', '/api/friends', { username: name });
    const user = (d && typeof d.username === 'string' && d.username) || name;
    const st = d && d.state === 'friends' ? 'friends' : 'outgoing';
    setFriendState(user, st);
    input.value = '';
    setAddFriendMessage('', t(st === 'friends' ? 'friends.nowFriends' : 'friends.requestSent', { name: user }));
  } catch (err) {
    if (err.status !== 401) {
      setAddFriendMessage(friendErrorText(err, name));
      input.focus();
    }
  } finally {
    btn.disabled = false;
  }
}

async function onFriendsClick(e) {
  const btn = e.target.closest('button[data-action]');
  if (!btn || btn.disabled) return;
  const user = btn.dataset.user;
  const action = btn.dataset.action;
  if (!user) return;
  if (action === 'accept') {
    btn.disabled = true;
    setAddFriendMessage('', '');
    try {
      const d = await apiAuth('POST', '/api/friends', { username: user });
      const st = d && d.state === 'outgoing' ? 'outgoing' : 'friends';
      setFriendState(user, st);
      if (st === 'friends') setAddFriendMessage('', t('friends.nowFriends', { name: user }));
    } catch (err) {
      btn.disabled = false;
      if (err.status !== 401) setAddFriendMessage(friendErrorText(err, user));
      if (err.code === 'no_such_user') setFriendState(user, 'none');
    }
  } else if (action === 'decline' || action === 'cancel' || action === 'remove-friend') {
    if (action === 'remove-friend' && !window.confirm(t('friends.confirmRemove', { name: user }))) return;
    btn.disabled = true;
    setAddFriendMessage('', '');
    try {
      await apiAuth('DELETE', '/api/friends/' + encodeURIComponent(user));
      setFriendState(user, 'none');
      if (action === 'remove-friend') setAddFriendMessage('', t('friends.removed', { name: user }));
    } catch (err) {
      btn.disabled = false;
      if (err.status !== 401) setAddFriendMessage(friendErrorText(err, user));
      if (err.code === 'no_such_user') setFriendState(user, 'none');
    }
  }
}

/* ---------- rendering: admin panel ---------- */

let adminSignature = '';
function renderAdmin(force = false) {
  const panel = $('admin-panel');
  panel.hidden = !isAdmin();
  $('admin-users-panel').hidden = !isAdmin();
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

/* ---------- admin: users and bans ---------- */

let adminUsersSeq = 0;
async function loadAdminUsers() {
  if (!isAdmin()) return;
  const seq = ++adminUsersSeq;
  try {
    const d = await apiAuth('GET', '/api/admin/users');
    if (seq !== adminUsersSeq || !isAdmin()) return;
    state.adminUsers = ((d && d.users) || []).filter((u) => u && typeof u.username === 'string').map((u) => ({
      id: u.id, username: u.username, email: u.email || '', role: u.role || 'user', banned: !!u.banned, online: !!u.online,
    }));
    renderAdminUsers();
  } catch (err) {
    if (seq === adminUsersSeq && err.status !== 401) adminUsersMessage('error', apiErrorText(err));
  }
}

function adminUsersMessage(kind, text) {
  $('admin-users-error').hidden = kind !== 'error';
  $('admin-users-status').hidden = kind !== 'ok';
  if (kind === 'error') $('admin-users-error').textContent = text;
  if (kind === 'ok') $('admin-users-status').textContent = text;
}

function renderAdminUsers() {
  const panel = $('admin-users-panel');
  panel.hidden = !isAdmin();
  if (!isAdmin()) return;
  const body = $('admin-users');
  const users = state.adminUsers;
  const active = document.activeElement;
  const focus = active && body.contains(active) && active.dataset ? active.dataset.user : null;
  if (!users) { body.replaceChildren(); return; }
  if (!users.length) {
    body.replaceChildren(h('tr', {}, h('td', { colspan: 6, class: 'text-muted' }, t('admin.usersEmpty'))));
    return;
  }
  body.replaceChildren(...users.map((u) => {
    const self = u.username === me();
    const action = u.banned ? 'unban' : 'ban';
    return h('tr', {
      'data-user': u.username, 'data-banned': u.banned ? 'true' : 'false', 'data-online': u.online ? 'true' : 'false',
      'data-testid': 'admin-user', class: u.banned ? 'user-banned' : null,
    },
    h('th', { scope: 'row', class: 'admin-user-name' }, u.username, self ? h('span', { class: 'user-you ms-1' }, t('you')) : null),
    h('td', { class: 'admin-user-email' }, u.email),
    h('td', {}, t(u.role === 'admin' ? 'admin.role.admin' : 'admin.role.user')),
    h('td', {}, u.banned
      ? h('span', { class: 'badge text-bg-danger', 'data-testid': 'banned-badge' }, t('admin.banned'))
      : h('span', { class: 'text-muted' }, t('admin.active'))),
    h('td', {}, h('span', { class: u.online ? 'online-dot' : 'offline-dot', 'aria-hidden': 'true' }),
      h('span', { class: 'ms-1' }, t(u.online ? 'admin.online' : 'admin.offline'))),
    h('td', { class: 'text-end' }, self ? null : h('button', {
      type: 'button', class: 'btn btn-sm ' + (u.banned ? 'btn-outline-secondary' : 'btn-outline-danger'),
      'data-action': action, 'data-user': u.username, 'data-testid': action + '-user',
      'aria-label': t(u.banned ? 'admin.unbanFor' : 'admin.banFor', { name: u.username }),
    }, t(u.banned ? 'admin.unban' : 'admin.ban'))));
  }));
  if (focus) {
    const again = body.querySelector('button' + attrSel('data-user', focus));
    if (again) again.focus();
  }
}

async function onAdminUsersClick(e) {
  const btn = e.target.closest('button[data-action]');
  if (!btn || btn.disabled) return;
  const user = btn.dataset.user;
  const action = btn.dataset.action;
  if (!user || (action !== 'ban' && action !== 'unban')) return;
  const ban = action === 'ban';
  if (!window.confirm(t(ban ? 'admin.confirmBan' : 'admin.confirmUnban', { name: user }))) return;
  btn.disabled = true;
  try {
    await apiAuth('POST', `/api/admin/users/${encodeURIComponent(user)}/${action}`);
    const row = state.adminUsers && state.adminUsers.find((u) => u.username === user);
    if (row) {
      row.banned = ban;
      if (ban) row.online = false;
    }
    adminUsersMessage('ok', t(ban ? 'admin.didBan' : 'admin.didUnban', { name: user }));
    renderAdminUsers();
    loadAdminUsers();
  } catch (err) {
    btn.disabled = false;
    if (err.status !== 401) adminUsersMessage('error', apiErrorText(err));
  }
}

/* ---------- rendering: room view ---------- */

// The header of the message view, for a room or a direct-message conversation.
function renderRoomHeader() {
  const conv = currentConv();
  if (!conv) return;
  const dm = conv.kind === 'dm';
  const view = $('view-room');
  const list = $('message-list');
  view.dataset.mode = dm ? 'dm' : 'room';
  if (dm) { view.dataset.dm = conv.user; list.dataset.dm = conv.user; } else { delete view.dataset.dm; delete list.dataset.dm; }
  $('members-toggle').hidden = dm;
  $('leave-room').hidden = dm;
  $('members-panel').hidden = dm;
  if (dm) {
    const name = conv.user;
    const friend = state.friends.get(name);
    $('room-title').textContent = name;
    const sub = $('room-topic');
    sub.textContent = friend ? t(friend.online ? 'friends.online' : 'friends.offline') : t('dm.notFriend');
    sub.hidden = false;
    sub.dataset.state = friend ? (friend.online ? 'online' : 'offline') : 'not-friend';
    $('message-scroller').setAttribute('aria-label', t('dm.messagesLabel', { name }));
    $('message-input').placeholder = t('dm.placeholder', { name });
    return;
  }
  const room = conv;
  const name = roomName(room);
  delete $('room-topic').dataset.state;
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

// Room messages can be deleted by their sender and by admins.
function canDelete(m) {
  return m.to === undefined && (isAdmin() || m.sender === me());
}

function messageEl(m) {
  const mine = m.sender === me();
  const meta = h('div', { class: 'msg-meta' },
    h('span', { class: 'msg-sender' }, m.sender),
    mine ? h('span', { class: 'msg-you' }, t('you')) : null,
    timeEl(m.ts));
  if (canDelete(m)) {
    meta.append(h('span', { class: 'msg-actions' },
      h('button', { type: 'button', class: 'btn btn-link btn-sm msg-delete', 'data-action': 'delete-message', 'data-id': m.id,
        'data-testid': 'delete-message', 'aria-label': t('msg.deleteAria'), title: t('msg.deleteAria') }, t('msg.delete'))));
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
  const room = currentConv();
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
  const room = currentConv();
  $('room-empty').hidden = !room || !room.historyLoaded || room.order.length > 0 || room.pending.length > 0;
}

function updateHistoryTop() {
  const room = currentConv();
  const btn = $('load-older');
  if (!room) return;
  btn.hidden = !room.historyLoaded || !room.hasMore;
  btn.disabled = room.loadingOlder;
  btn.textContent = room.loadingOlder ? t('room.loadingOlder') : t('room.loadOlder');
  const start = $('history-start');
  start.textContent = t(room.kind === 'dm' ? 'dm.historyStart' : 'room.historyStart');
  start.hidden = !room.historyLoaded || room.hasMore || room.order.length === 0;
}

// Loads older pages while the history does not fill the scroller.
function fillViewport() {
  const room = currentConv();
  const s = $('message-scroller');
  if (room && room.hasMore && !room.loadingOlder && s.scrollHeight <= s.clientHeight + 10) loadOlder();
}

function convAlive(conv) {
  return conv.kind === 'dm' ? state.dms.get(conv.user) === conv : state.rooms.get(conv.id) === conv && conv.joined;
}

async function loadOlder(limit = PAGE) {
  const room = currentConv();
  if (!room || room.loadingOlder || !room.hasMore) return;
  const oldest = room.order[0];
  if (!oldest) { room.hasMore = false; updateHistoryTop(); return; }
  room.loadingOlder = true;
  updateHistoryTop();
  try {
    const query = `before=${oldest}&limit=${limit}`;
    const d = await apiAuth('GET', room.kind === 'dm' ? dmPath(room, query) : `/api/rooms/${room.id}/messages?${query}`);
    if (!convAlive(room)) return;
    const msgs = ((d && d.messages) || []).slice().sort((a, b) => a.id - b.id);
    room.hasMore = msgs.length >= limit;
    const added = msgs.filter((m) => storeMessage(room, room.kind === 'dm' ? normDm(m) : {
      id: m.id, room: m.room, sender: String(m.sender || ''), text: String(m.text ?? ''), ts: m.ts,
    }));
    if (currentConv() === room && added.length) {
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
    if (currentConv() === room) {
      updateHistoryTop();
      updateRoomEmpty();
      if (state.jump) continueJump(); else fillViewport();
    }
  }
}

/* ---------- jumping to a message (from search) ---------- */

// Brings state.jump's message into view once its conversation is shown,
// loading older pages until it is there.
function continueJump() {
  const j = state.jump;
  if (!j) return;
  const conv = currentConv();
  if (!conv) return;
  if (convKey(conv) !== j.key) { state.jump = null; return; }   // the user went elsewhere
  if (!conv.historyLoaded) return;
  if (conv.msgs.has(j.id)) {
    state.jump = null;
    revealMessage(j.id);
    return;
  }
  if (conv.loadingOlder) return;   // continued when the page is in
  const oldest = conv.order.length ? conv.order[0] : Infinity;
  if (conv.hasMore && j.id < oldest && j.pages < 500) {
    j.pages += 1;
    loadOlder(JUMP_PAGE);
    return;
  }
  state.jump = null;
  showNotice(t('search.gone'), 'warning');
}

let highlightTimer = null;
function revealMessage(id) {
  const el = $('message-list').querySelector(`li[data-id="${id}"]`);
  if (!el) return;
  for (const old of $('message-list').querySelectorAll('.msg-highlight')) old.classList.remove('msg-highlight');
  el.classList.add('msg-highlight');
  el.dataset.highlight = 'true';
  el.tabIndex = -1;
  el.scrollIntoView({ block: 'center' });
  el.focus({ preventScroll: true });
  stickToBottom = isNearBottom();
  $('jump-latest').hidden = stickToBottom;
  clearTimeout(highlightTimer);
  highlightTimer = setTimeout(() => {
    el.classList.remove('msg-highlight');
    delete el.dataset.highlight;
  }, 4000);
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
  const room = currentConv();
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
  } else if (action === 'delete-message' && room.kind === 'room') {
    const id = Number(btn.dataset.id || li.dataset.id);
    if (!id || !window.confirm(t('msg.confirmDelete'))) return;
    btn.disabled = true;
    try {
      await apiAuth('DELETE', `/api/rooms/${room.id}/messages/${id}`);
      onMessageDeleted({ room: room.id, id });
    } catch (err) {
      btn.disabled = false;
      if (err.status !== 401) showNotice(apiErrorText(err));
      // Already gone on the server: show that here too.
      if (err.code === 'not_found') onMessageDeleted({ room: room.id, id });
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

/* ---------- read markers ---------- */

// Reports the newest message of the conversation in view as read, at most
// once per READ_DELAY_MS; the server keeps markers for every device.
function scheduleRead(conv) {
  if (!conv || !state.user || document.hidden || currentConv() !== conv || conv.readTimer) return;
  conv.readTimer = setTimeout(() => {
    conv.readTimer = null;
    sendRead(conv);
  }, READ_DELAY_MS);
}

async function sendRead(conv) {
  const id = conv.lastId;
  if (!state.user || !id || id <= conv.readSent || currentConv() !== conv || document.hidden) return;
  const before = conv.readSent;
  conv.readSent = id;
  const body = conv.kind === 'dm' ? { dm: conv.user, id } : { room: conv.id, id };
  try {
    await api('POST', '/api/read', body);
  } catch (_) {
    if (conv.readSent === id) conv.readSent = before;   // tried again with the next view or message
  }
}

/* ---------- search ---------- */

let searchSeq = 0;

// The scope checkbox is offered while a room is in view.
function updateSearchScope() {
  const room = currentRoom();
  const wrap = $('search-scope-wrap');
  wrap.hidden = !room;
  if (room) $('search-in-room-label').textContent = t('search.inRoom', { room: roomName(room) });
  else $('search-in-room').checked = false;
}

function onSearchSubmit(e) {
  e.preventDefault();
  const input = $('search-input');
  const q = input.value.trim();
  if (!q) { input.focus(); return; }
  const room = currentRoom();
  const scoped = room && $('search-in-room').checked ? room.id : null;
  const hash = '#/search/' + encodeURIComponent(q) + (scoped ? '/' + scoped : '');
  state.search = null;   // a new submit always asks the server again
  if (location.hash === hash) route(); else location.hash = hash;
}

function showSearch(q, roomId) {
  state.current = null;
  state.dmUser = null;
  showView('search');
  $('search-input').value = q;
  const s = state.search;
  if (!s || s.q !== q || s.room !== roomId) runSearch(q, roomId);
  else renderSearch();
  renderRoomList();
  renderFriends();
  updateTitle();
}

async function runSearch(q, roomId) {
  const seq = ++searchSeq;
  state.search = { q, room: roomId, results: null, loading: true, error: '' };
  renderSearch();
  try {
    let path = '/api/search?q=' + encodeURIComponent(q);
    if (roomId) path += '&room=' + roomId;
    const d = await apiAuth('GET', path);
    if (seq !== searchSeq) return;
    const list = ((d && d.messages) || []).filter((m) => m && typeof m.id === 'number');
    // Newest first; room and direct-message ids are separate sequences, so by time.
    list.sort((a, b) => (b.ts - a.ts) || (b.id - a.id));
    state.search.results = list;
  } catch (err) {
    if (seq !== searchSeq) return;
    state.search.error = err.code === 'network' ? t('err.network') : apiErrorText(err);
  }
  state.search.loading = false;
  renderSearch();
}

const asciiLower = (s) => s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));

// Appends text with every match of q (ASCII case-insensitive, as the server
// matches) wrapped in <mark>; text nodes only.
function appendHighlighted(parent, text, q) {
  const hay = asciiLower(text);
  const needle = asciiLower(q);
  let pos = 0;
  if (needle) {
    for (let i = hay.indexOf(needle); i >= 0; i = hay.indexOf(needle, pos)) {
      if (i > pos) parent.append(text.slice(pos, i));
      parent.append(h('mark', {}, text.slice(i, i + needle.length)));
      pos = i + needle.length;
    }
  }
  if (pos < text.length) parent.append(text.slice(pos));
}

// A long text cut to a window around its first match.
function excerpt(text, q) {
  if (text.length <= SEARCH_EXCERPT) return text;
  const i = Math.max(0, asciiLower(text).indexOf(asciiLower(q)));
  let start = Math.max(0, i - 100);
  let end = Math.min(text.length, start + SEARCH_EXCERPT);
  const low = (k) => { const c = text.charCodeAt(k); return c >= 0xdc00 && c <= 0xdfff; };
  if (start > 0 && low(start)) start -= 1;
  if (end < text.length && low(end)) end += 1;
  return (start > 0 ? '…' : '') + text.slice(start, end) + (end < text.length ? '…' : '');
}

function resultWhere(m) {
  if (m.to !== undefined && m.room === undefined) {
    const partner = m.sender === me() ? m.to : m.sender;
    return { kind: 'dm', partner, label: t('dm.with', { name: partner }) };
  }
  const room = state.rooms.get(m.room);
  return { kind: 'room', room: m.room, label: '#' + (room ? roomName(room) : String(m.room)) };
}

function searchItem(m, q) {
  const where = resultWhere(m);
  const text = h('span', { class: 'search-hit-text', 'data-testid': 'search-text' });
  const full = String(m.text ?? '');
  appendHighlighted(text, excerpt(full, q), q);
  return h('li', {
    'data-id': m.id, 'data-kind': where.kind, 'data-room': where.kind === 'room' ? m.room : null,
    'data-user': where.kind === 'dm' ? where.partner : null, 'data-testid': 'search-result',
  },
  h('button', { type: 'button', class: 'search-hit', 'data-action': 'open-result' },
    h('span', { class: 'search-hit-meta' },
      h('span', { class: 'search-where', 'data-testid': 'search-where' }, where.label),
      h('span', { class: 'msg-sender' }, String(m.sender || '')),
      timeEl(m.ts)),
    text));
}

function renderSearch() {
  const s = state.search;
  if (!s) return;
  const scopeRoom = s.room ? state.rooms.get(s.room) : null;
  $('search-title').textContent = t('search.title', { q: s.q });
  $('search-scope').textContent = s.room
    ? t('search.scopeRoom', { room: scopeRoom ? roomName(scopeRoom) : String(s.room) })
    : t('search.scopeAll');
  $('search-all').hidden = !s.room;
  setFormError('search-error', s.error);
  let status = '';
  if (s.loading) status = t('search.loading');
  else if (s.results) status = s.results.length ? t('search.count', { n: s.results.length }) : t('search.none', { q: s.q });
  $('search-status').textContent = status;
  $('search-results').setAttribute('aria-busy', s.loading ? 'true' : 'false');
  $('search-results').replaceChildren(...(s.results || []).map((m) => searchItem(m, s.q)));
}

function removeSearchResult(kind, id) {
  const s = state.search;
  if (!s || !s.results) return;
  const before = s.results.length;
  s.results = s.results.filter((m) => !(m.id === id && resultWhere(m).kind === kind));
  if (s.results.length !== before && state.view === 'search') renderSearch();
}

// Opens the result's room or conversation and brings the message into view.
function onSearchResultsClick(e) {
  const btn = e.target.closest('button[data-action="open-result"]');
  if (!btn) return;
  const li = btn.closest('li');
  const id = Number(li.dataset.id);
  if (li.dataset.kind === 'dm') {
    const user = li.dataset.user;
    state.jump = { key: 'dm:' + user, id, pages: 0 };
    location.hash = dmHash(user);
  } else {
    const roomId = Number(li.dataset.room);
    if (!state.rooms.has(roomId)) { showNotice(t('room.notFound'), 'warning'); return; }
    state.jump = { key: 'room:' + roomId, id, pages: 0 };
    location.hash = '#/room/' + roomId;
  }
}

/* ---------- title, notifications ---------- */

function updateTitle() {
  let total = 0;
  for (const r of state.rooms.values()) total += r.unread;
  for (const c of state.dms.values()) if (state.friends.has(c.user) || currentDm() === c) total += c.unread;
  const conv = currentConv();
  const label = conv ? (conv.kind === 'dm' ? conv.user : roomName(conv)) : '';
  const base = label ? label + ' · ' + t('appName') : t('appName');
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

// A desktop notification for a room message or direct message that is not in view.
function notify(conv, m) {
  if (!('Notification' in window) || Notification.permission !== 'granted') return;
  if (currentConv() === conv && !document.hidden) return;
  const dm = conv.kind === 'dm';
  const short = m.text.length > 140 ? m.text.slice(0, 140) + '…' : m.text;
  const title = dm ? t('dm.notifyTitle', { name: conv.user }) : roomName(conv) + ' · ' + t('appName');
  try {
    const n = new Notification(title, {
      body: dm ? short : m.sender + ': ' + short, tag: dm ? 'dm-' + conv.user : 'room-' + conv.id, lang: localeTag(lang),
    });
    n.onclick = () => {
      window.focus();
      location.hash = dm ? dmHash(conv.user) : '#/room/' + conv.id;
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
  renderFriends(true);
  renderAdmin(true);
  renderAdminUsers();
  updateSearchScope();
  if (state.view === 'search') renderSearch();
  if (state.view === 'lobby' && state.user) $('home-title').textContent = t('home.title', { name: me() });
  if (state.view === 'login') showLogin();
  const room = currentConv();
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
  $('search-form').addEventListener('submit', onSearchSubmit);
  $('search-results').addEventListener('click', onSearchResultsClick);
  $('search-all').addEventListener('click', () => {
    const s = state.search;
    if (s) location.hash = '#/search/' + encodeURIComponent(s.q);
  });
  $('add-friend-form').addEventListener('submit', onAddFriend);
  $('friends-section').addEventListener('click', onFriendsClick);
  $('admin-users').addEventListener('click', onAdminUsersClick);
  $('admin-users-refresh').addEventListener('click', () => { adminUsersMessage('none'); loadAdminUsers(); });
  $('email-notify').addEventListener('change', onEmailNotifyChange);
  $('load-older').addEventListener('click', () => { loadOlder(); });
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
      if (stickToBottom && currentConv()) $('message-scroller').scrollTop = $('message-scroller').scrollHeight;
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
    const conv = currentConv();
    if (conv) state.drafts.set(convKey(conv), input.value);
  });

  document.addEventListener('visibilitychange', () => {
    if (document.hidden) return;
    const room = currentConv();
    if (room && room.unread) { room.unread = 0; renderRoomList(); renderFriends(); updateTitle(); }
    if (room) scheduleRead(room);
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
