// The one WebSocket at /ws: connecting, reconnecting with jittered backoff,
// the connection status in the header, room subscriptions (join frames) and
// the sends that wait for their ack. A pending send keeps its cid, so when it
// is sent again (after a timeout, a reconnect or a rejoin) the server stores
// it once.
//
// What the rest of the app does on socket events is given with
// setSocketHooks(): frame(f) for every frame, open(reconnect) when a socket
// opens, closed() when one closes, ended(reason) when the server ended the
// session ('banned', 'revoked' or 'expired').
//
// Heartbeat: the browser answers the server's WebSocket pings by itself but
// never shows them to the page, and a server that froze (or whose network
// went away without a word) leaves the socket open for minutes. So when
// nothing has arrived for 25 s (heartbeat.idleMs) the page sends
// {"type":"ping"}, which the server answers {"type":"pong"}; when nothing
// arrives within 10 s after that (pongMs), or a socket does not open within
// 15 s (openMs), the socket is given up and the usual reconnect (backoff,
// rejoin with since, pending sends) begins.
// Tests shorten the timings with window.__chatHeartbeat = { idleMs, pongMs,
// openMs }, set before this module loads.
import { $ } from './dom.js';
import { t } from './i18n.js';
import { api, at } from './http.js';
import { state, persistJoined } from './state.js';

const ACK_TIMEOUT_MS = 15000;    // resend (same cid) when no ack by then
const ACK_CHECK_MS = 5000;
const BACKOFF_BASE_MS = 1000;
const BACKOFF_MAX_MS = 30000;
const STABLE_CONNECTION_MS = 10000;
const heartbeat = { idleMs: 25000, pongMs: 10000, openMs: 15000 };

const conn = {
  ws: null, wanted: false, attempt: 0, timer: null, retryAt: 0,
  state: 'connecting', opened: false, openedAt: 0, everOpened: false,
  intervals: [],
  startedAt: 0,     // when the socket being opened was made
  heardAt: 0,       // when the open socket last brought anything
  pingAt: 0,        // when a ping went out that nothing has answered yet (0: none)
  checkedAt: 0,     // the heartbeat's last look
};

const hooks = { frame() {}, open() {}, closed() {}, ended() {} };

export function setSocketHooks(h) { Object.assign(hooks, h); }

function wsUrl() {
  return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + at('/ws');
}

export const isOpen = () => !!conn.ws && conn.ws.readyState === WebSocket.OPEN;

/** Sends a frame; false when the socket is not open (nothing is queued). */
export function wsSend(obj) {
  if (!isOpen()) return false;
  try { conn.ws.send(JSON.stringify(obj)); return true; } catch (_) { return false; }
}

/** Connects, and keeps reconnecting until stopSocket(). */
export function startSocket() {
  conn.wanted = true;
  Object.assign(heartbeat, window.__chatHeartbeat || {});
  connect();
  for (const id of conn.intervals) clearInterval(id);
  const every = Math.max(50, Math.min(1000, heartbeat.idleMs / 4, heartbeat.pongMs / 4));
  conn.checkedAt = Date.now();
  conn.intervals = [setInterval(checkAckTimeouts, ACK_CHECK_MS), setInterval(updateCountdown, 1000),
    setInterval(() => checkHeartbeat(every), every)];
}

/** Closes the socket (1000) and stops reconnecting. */
export function stopSocket() {
  conn.wanted = false;
  clearTimeout(conn.timer);
  conn.timer = null;
  for (const id of conn.intervals) clearInterval(id);
  conn.intervals = [];
  const ws = conn.ws;
  conn.ws = null;
  if (ws) { try { ws.close(1000); } catch (_) { /* ignore */ } }
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
  conn.startedAt = Date.now();
  conn.pingAt = 0;
  ws.onopen = () => {
    if (conn.ws !== ws) return;
    conn.opened = true;
    conn.openedAt = Date.now();
    conn.heardAt = conn.openedAt;
    setConnState('online');
    const reconnect = conn.everOpened;
    conn.everOpened = true;
    hooks.open(reconnect);
  };
  ws.onmessage = (ev) => {
    if (conn.ws !== ws) return;
    conn.heardAt = Date.now();
    conn.pingAt = 0;
    let frame;
    try { frame = JSON.parse(ev.data); } catch (_) { return; }
    if (frame && typeof frame === 'object' && frame.type !== 'pong') hooks.frame(frame);
  };
  ws.onclose = (ev) => {
    if (conn.ws !== ws) return;
    conn.ws = null;
    onSocketClose(ev);
  };
}

function onSocketClose(ev, { silent = false } = {}) {
  for (const room of state.rooms.values()) room.joinState = 'none';
  hooks.closed();
  if (!conn.wanted) return;
  if (conn.opened && Date.now() - conn.openedAt > STABLE_CONNECTION_MS) conn.attempt = 0;
  if (ev.code === 1008) { hooks.ended(/\bban/i.test(ev.reason || '') ? 'banned' : 'revoked'); return; }
  if (!conn.opened && !silent) {
    // The upgrade is refused with 401 when the session is gone.
    setConnState('reconnecting');
    api('GET', '/api/me').then(scheduleReconnect, (e) => {
      if (e.status === 401) hooks.ended('expired');
      else scheduleReconnect();
    });
    return;
  }
  scheduleReconnect();
}

/**
 * The heartbeat's look at the socket, every `every` ms. A look that comes
 * much later than that (a sleeping laptop, a throttled background tab) gives
 * nothing up, since what arrived meanwhile may not have reached the page
 * yet: it starts the waits afresh instead.
 */
function checkHeartbeat(every) {
  const now = Date.now();
  const late = now - conn.checkedAt > 3 * every + 1000;
  conn.checkedAt = now;
  const ws = conn.ws;
  if (!ws) return;
  if (!conn.opened) {
    if (late) conn.startedAt = now;
    else if (now - conn.startedAt > heartbeat.openMs) giveUp(ws);
  } else if (conn.pingAt) {
    if (late) conn.pingAt = now;
    else if (now - conn.pingAt > heartbeat.pongMs) giveUp(ws);
  } else if (now - conn.heardAt > heartbeat.idleMs) {
    conn.pingAt = now;
    wsSend({ type: 'ping' });
  }
}

/**
 * The server went silent: drops the socket at once (not waiting for a close
 * handshake nobody answers) and reconnects without asking the server first.
 */
function giveUp(ws) {
  conn.ws = null;
  try { ws.close(4000, 'no answer'); } catch (_) { /* ignore */ }
  onSocketClose({ code: 1006, reason: 'no answer from the server' }, { silent: true });
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

/** Connects at once when a socket is wanted and none is open or opening. */
export function reconnectNow() {
  if (!conn.wanted || conn.ws) return;
  connect();
}

/** The browser went offline: says so while waiting to reconnect. */
export function markOffline() {
  if (conn.wanted && !conn.ws) setConnState('offline');
}

function setConnState(s) {
  conn.state = s;
  $('conn-status').dataset.state = s;
  $('conn-text').textContent = t('conn.' + s);
  $('reconnect-now').hidden = !(s === 'reconnecting' || s === 'offline') || !!conn.ws;
  updateCountdown();
}

/** Redraws the connection status (after a language switch). */
export function renderConnState() { setConnState(conn.state); }

function updateCountdown() {
  const el = $('conn-countdown');
  if ((conn.state === 'reconnecting' || conn.state === 'offline') && conn.timer && !conn.ws) {
    const s = Math.max(0, Math.ceil((conn.retryAt - Date.now()) / 1000));
    el.textContent = t('conn.retryIn', { s });
  } else {
    el.textContent = '';
  }
}

/* ---------- room subscriptions ---------- */

/** Asks for the room's messages after the newest one known (all recent ones at first). */
export function sendJoin(room) {
  const frame = { type: 'join', room: room.id };
  if (room.lastId > 0) frame.since = room.lastId;
  room.joinSince = room.lastId;
  room.joinState = 'joining';
  wsSend(frame);
}

/** The user is in room from now on (remembered across reloads). */
export function joinRoom(room) {
  room.joined = true;
  persistJoined();
  if (isOpen() && room.joinState === 'none') sendJoin(room);
}

/* ---------- sends waiting for their ack ---------- */

/**
 * A new client id for a send: the time first (base 36, fixed width), then 64 random bits, so
 * ids grow as time goes on (the server's de-duplication index then only appends) and never
 * repeat.
 */
function newCid() {
  const b = new Uint8Array(8);
  crypto.getRandomValues(b);
  return 'c' + Date.now().toString(36).padStart(9, '0') +
    Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** The room or conversation a pending send belongs to (null when it is gone). */
export function convOfPending(p) {
  return p.kind === 'dm' ? state.dms.get(p.dm) || null : state.rooms.get(p.room) || null;
}

/** Records a send of text to conv; trySend() sends it. */
export function createPending(conv, text) {
  const p = {
    cid: newCid(), kind: conv.kind, room: conv.kind === 'room' ? conv.id : null,
    dm: conv.kind === 'dm' ? conv.user : null, text, createdAt: Date.now(),
    sentAt: 0, tries: 0, state: 'sending', error: '', retryTimer: null,
  };
  conv.pending.push(p);
  state.pendingByCid.set(p.cid, p);
  return p;
}

/** Sends p now if it can go: otherwise it goes when the socket opens or the room is joined. */
export function trySend(p) {
  const conv = convOfPending(p);
  if (!conv || p.state !== 'sending' || !state.pendingByCid.has(p.cid)) return;
  if (conv.kind === 'dm') {
    if (!isOpen()) return;   // sent again when the socket opens
    p.tries += 1;
    p.sentAt = Date.now();
    wsSend({ type: 'dm', to: conv.user, text: p.text, cid: p.cid, ...(p.replyTo ? { reply_to: p.replyTo } : {}), ...(p.files ? { files: p.files.map((f) => f.id) } : {}) });
    return;
  }
  if (!conv.joined) joinRoom(conv);
  if (!isOpen() || conv.joinState !== 'joined') return;   // sent again once joined
  p.tries += 1;
  p.sentAt = Date.now();
  wsSend({ type: 'send', room: conv.id, text: p.text, cid: p.cid, ...(p.replyTo ? { reply_to: p.replyTo } : {}), ...(p.files ? { files: p.files.map((f) => f.id) } : {}) });
}

/** Sends every waiting send of conv that has no retry timer of its own. */
export function flushPending(conv) {
  for (const p of conv.pending) if (p.state === 'sending' && !p.retryTimer) trySend(p);
}

function checkAckTimeouts() {
  const now = Date.now();
  for (const p of state.pendingByCid.values()) {
    if (p.state === 'sending' && p.sentAt && now - p.sentAt > ACK_TIMEOUT_MS) trySend(p);
  }
}

/** Sends p again after a pause that grows with its tries (the server asked to slow down). */
export function retryPendingLater(p) {
  p.sentAt = 0;
  clearTimeout(p.retryTimer);
  p.retryTimer = setTimeout(() => { p.retryTimer = null; trySend(p); },
    1500 * p.tries + Math.random() * 1000);
}

/** A failed send the user retries: it starts over (same cid). */
export function resetPending(p) {
  p.state = 'sending';
  p.error = '';
  p.tries = 0;
  p.sentAt = 0;
}

/** Forgets p (acked or discarded). */
export function dropPending(p) {
  clearTimeout(p.retryTimer);
  state.pendingByCid.delete(p.cid);
  const conv = convOfPending(p);
  if (conv) conv.pending = conv.pending.filter((x) => x !== p);
}
