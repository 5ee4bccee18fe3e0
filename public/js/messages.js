// Live changes to rooms and conversations, as the socket reports them: joins
// with their history, new and deleted messages, acks and errors of the
// user's own sends, presence and typing; and the read markers sent back.
// The records change here; the room view (views/room.js) draws them.
import { t } from './i18n.js';
import { api, apiAuth, errorText } from './http.js';
import { JOIN_SINCE_MAX, PAGE } from './limits.js';
import { announce, showNotice, toast } from './notice.js';
import { notify, updateTitle } from './notify.js';
import {
  state, me, roomName, currentRoom, currentConv, normMsg, normRoomMsg, insertSorted, storeMessage,
} from './state.js';
import { convOfPending, dropPending, flushPending, retryPendingLater, sendJoin } from './ws.js';
import { renderFriends } from './views/dms.js';
import { refreshRoomsSoon, renderRoomList } from './views/lobby.js';
import {
  continueJump, insertMessageEl, insertMessageEls, removePendingEl, renderMembers, renderMessages,
  renderTyping, replaceMessageEl, replacePendingEl, updateHistoryTop, updateRoomEmpty,
} from './views/room.js';
import { removeSearchResult } from './views/search.js';
import { noteMention } from './extras.js';

const TYPING_SHOW_MS = 6000;           // how long a typing hint stays without news
const READ_DELAY_MS = 800;             // read markers are sent at most this often per conversation
const PRESENCE_TOAST_GAP_MS = 30000;   // one join notice per user and room in this period
const GAP_RETRY_MAX_MS = 30000;        // a gap whose page failed is tried again after at most this

let typingTimer = null;

/** A `joined` frame: the room's members and its history (all of it, or what came since). */
export function onJoined(f) {
  const room = state.rooms.get(f.room);
  if (!room) { refreshRoomsSoon(); return; }
  if (!room.joined) return;   // left while the join was in flight
  // After an absence: what came since the newest message known (or, in a
  // room that had none, everything: that join asked for the newest PAGE).
  const catchUp = room.historyLoaded && (room.joinSince > 0 || room.order.length === 0);
  room.joinState = 'joined';
  room.members = new Set(Array.isArray(f.members) ? f.members : []);
  room.online = room.members.size;
  const history = Array.isArray(f.history) ? f.history : [];
  const visible = currentRoom() === room;
  if (catchUp) {
    const since = room.joinSince;
    const got = history.filter((m) => m && Number.isInteger(m.id) && m.id > since).sort((a, b) => a.id - b.id);
    for (const m of got) addMessage(room, m, true);
    if (got.length && gapLeft(f, got, since, room)) room.gaps.push({ after: since, before: got[0].id });
  } else {
    for (const m of history) if (m) storeMessage(room, normRoomMsg(m));
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
  fillGaps(room);
}

/*
 * Resuming after a long absence. `joined` after `since` holds at most the
 * newest JOIN_SINCE_MAX messages of what was missed; the rest is read from
 * history (GET .../messages?before=), newest page first, until the page
 * reaches `since`. Each page goes into the list where it belongs, so the
 * page stays usable meanwhile. A gap is remembered in room.gaps until it is
 * closed: a page that fails is tried again later, and the next `joined`
 * takes up what is left.
 */

/**
 * Whether the catch-up history `got` (ascending, all > since) of a `joined`
 * frame may be only the newest part of what was missed (since 0: a join
 * without `since`, answered with the newest PAGE). A server that knows
 * says so with `partial`. One that does not (older versions) gives no sign:
 * a full reply may then be all of the gap or its newest part, so unless the
 * room's `seq` shows the two ends adjacent, history is asked; a gap that was
 * complete costs one page.
 */
function gapLeft(f, got, since, room) {
  if (f.partial === true) return true;
  if (f.partial === false || got.length < (since > 0 ? JOIN_SINCE_MAX : PAGE)) return false;
  const oldest = got[0];
  if (oldest.id <= since + 1) return false;
  const last = room.msgs.get(since);
  if (last && Number.isInteger(last.seq) && Number.isInteger(oldest.seq)) return oldest.seq > last.seq + 1;
  return true;
}

/** Reads the room's open gaps from history, one page at a time, newest gap first. */
async function fillGaps(room) {
  if (room.filling || !room.gaps.length) return;
  const gaps = room.gaps;   // leaving the room replaces the array: this run then stops
  const alive = () => state.rooms.get(room.id) === room && room.gaps === gaps && room.joined;
  room.filling = true;
  let failed = false;
  try {
    while (gaps.length && alive()) {
      const gap = gaps[gaps.length - 1];
      const d = await apiAuth('GET', `/api/rooms/${room.id}/messages?before=${gap.before}&limit=${JOIN_SINCE_MAX}`);
      if (!alive()) return;
      const page = ((d && d.messages) || []).filter((m) => m && Number.isInteger(m.id)).sort((a, b) => a.id - b.id);
      const inGap = page.filter((m) => m.id > gap.after && m.id < gap.before);
      addCatchUpPage(room, inGap);
      room.gapRetryMs = 0;
      if (inGap.length < page.length || page.length < JOIN_SINCE_MAX) gaps.splice(gaps.indexOf(gap), 1);
      else gap.before = page[0].id;
    }
  } catch (e) {
    if (e.status === 404) {         // the room is gone
      gaps.length = 0;
      refreshRoomsSoon();
    } else if (e.status !== 401) {  // 401: the session ended
      failed = true;
    }
  } finally {
    if (room.gaps === gaps) room.filling = false;
    if (failed && alive() && gaps.length) {
      room.gapRetryMs = Math.min(GAP_RETRY_MAX_MS, (room.gapRetryMs || 1000) * 2);
      setTimeout(() => { if (alive()) fillGaps(room); }, room.gapRetryMs / 2 + Math.random() * room.gapRetryMs / 2);
    }
    if (!gaps.length && alive() && currentRoom() === room) continueJump();
  }
}

// Messages read from history into a gap (ascending, all older than the newest shown).
function addCatchUpPage(room, raws) {
  const added = [];
  for (const raw of raws) {
    const m = normRoomMsg(raw);
    const existing = room.msgs.get(m.id);
    if (existing) {
      if (existing.provisional) {
        Object.assign(existing, m, { provisional: false });
        if (currentRoom() === room) replaceMessageEl(existing);
      }
      continue;
    }
    if (storeMessage(room, m)) added.push(m);
  }
  if (!added.length) return;
  const visible = currentRoom() === room;
  if (visible) insertMessageEls(added);
  const others = added.filter((m) => m.sender !== me()).length;
  if (!others) return;
  if (!visible || document.hidden) {
    room.unread += others;
    renderRoomList();
    updateTitle();
  } else {
    scheduleRead(room);
  }
}

/** A `message` frame. */
export function onMessage(f) {
  const room = state.rooms.get(f.room);
  if (!room || !room.joined) return;
  addMessage(room, f, false);
}

/** A message from the live stream (or, with catchUp, from catch-up after a reconnect). */
export function addMessage(conv, raw, catchUp) {
  const m = normMsg(conv, raw);
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
    noteMention(conv, m);   // extras.js
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

/**
 * An `ack` frame: the user's send is stored. Until the `message` frame brings
 * it, it is shown from what was sent (provisional).
 */
export function onAck(f) {
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
    if (p.files) m.files = p.files;   // files
    conv.msgs.set(m.id, m);
    insertSorted(conv.order, m.id);
    if (visible) insertMessageEl(m, true);
  }
  if (visible) updateRoomEmpty();
}

/** A `message_deleted` frame (also used when the user deleted the message here). */
export function onMessageDeleted(f) {
  removeSearchResult('room', f.id);
  const room = state.rooms.get(f.room);
  const m = room && room.msgs.get(f.id);
  if (!m || m.deleted) return;
  // A placeholder stays where the message was (history from the server omits it later).
  m.deleted = true;
  m.text = '';
  if (currentRoom() === room) replaceMessageEl(m);
}

/** An `error` frame: a send is retried, rejoined or marked failed; the user is told. */
export function onErrorFrame(f) {
  const code = String(f.code || '');
  const text = errorText(code, f.message);
  const p = f.cid ? state.pendingByCid.get(f.cid) : null;
  if (p) {
    const room = p.kind === 'room' ? state.rooms.get(p.room) : null;
    if ((code === 'rate_limited' || code === 'store_unavailable') && p.tries < 4) {
      retryPendingLater(p);
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

// The send stays in the list with the reason and buttons to retry or discard it.
function markFailed(p, code, text) {
  clearTimeout(p.retryTimer);
  p.retryTimer = null;
  p.state = 'failed';
  p.error = text || errorText(code);
  const conv = convOfPending(p);
  if (conv && currentConv() === conv) replacePendingEl(p);
}

/* ---------- presence and typing ---------- */

/** A `presence` frame: someone joined or left a room. */
export function onPresence(f) {
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

/** A `typing` frame. */
export function onTyping(f) {
  const room = state.rooms.get(f.room);
  if (!room || !f.user || f.user === me()) return;
  room.typing.set(f.user, Date.now() + TYPING_SHOW_MS);
  if (currentRoom() === room) {
    renderTyping();
    clearTimeout(typingTimer);
    typingTimer = setTimeout(renderTyping, TYPING_SHOW_MS + 100);
  }
}

/** Nobody is typing any more (the socket closed). */
export function clearTyping() {
  for (const room of state.rooms.values()) room.typing.clear();
  renderTyping();
}

export function cancelTypingTimer() {
  clearTimeout(typingTimer);
}

/* ---------- read markers ---------- */

/**
 * Reports the newest message of the conversation in view as read, at most
 * once per READ_DELAY_MS; the server keeps markers for every device.
 */
export function scheduleRead(conv) {
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
