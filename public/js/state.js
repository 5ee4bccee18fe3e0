// The front end's state: one object, made whole by createState(). When a
// session ends, resetState() replaces it with a fresh one, so nothing of one
// user's session reaches the next. Modules read it through the live binding
// `state` and read it again after every await: the object may have been
// replaced meanwhile. Also here: the room and conversation records, and the
// small questions asked of the state from everywhere.
import { normFiles } from './files.js';
import { t } from './i18n.js';
import { extrasOf } from './extras.js';

export function createState() {
  return {
    user: null,                // the signed-in user, null when signed out
    rooms: new Map(),          // id -> room (makeRoom)
    online: new Set(),         // usernames
    view: 'loading',
    current: null,             // id of the room in view
    pendingByCid: new Map(),   // cid -> send waiting for its ack (ws.js)
    drafts: new Map(),         // convKey -> unsent composer text
    adminEditing: null,        // room id whose admin row is in edit mode
    loginNotice: null,         // shown above the login form
    friends: new Map(),        // username -> { online }
    incoming: new Set(),       // usernames who asked to be friends
    outgoing: new Set(),       // usernames asked by the user
    dms: new Map(),            // username -> direct-message conversation (makeDm)
    dmUser: null,              // partner of the conversation in view
    search: null,              // { q, room, results, loading, error }
    jump: null,                // { key, id, pages } message to bring into view
    adminUsers: null,          // rows of the admin users table
    presenceToasts: new Map(), // 'room|user' -> time of the last join notice
    rendered: { roomList: '', friends: '', admin: '' },   // what those lists show now (skips equal re-renders)
  };
}

export let state = createState();

/** Starts over with a fresh state (timers of the old one must be cleared first). */
export function resetState() {
  state = createState();
}

export function makeRoom(r) {
  return {
    kind: 'room',
    id: r.id,
    name: r.name || (r.visibility === 'private' ? '' : String(r.id)),
    topic: r.topic || '',
    online: Number(r.online) || 0,
    ...roomContent(),
    loadingOlder: false,
    lastTypingSent: 0,
    readSent: 0,             // highest id reported with POST /api/read
    readTimer: null,
    ...roomFields(r),
  };
}

/** Rooms v2: what the server says of a room besides id, name and topic (rooms.js). */
export function roomFields(r) {
  return {
    visibility: r.visibility === 'private' ? 'private' : 'public',
    owner: typeof r.owner === 'string' ? r.owner : null,
    member: !!r.member,      // a member, as the server keeps it (the same on every device)
    muted: !!r.muted,
    announcement: String(r.announcement || ''),
    pinned: Array.isArray(r.pinned) ? r.pinned.filter((x) => Number.isInteger(x)) : [],
    memberNames: Array.isArray(r.member_names) ? r.member_names.map(String) : null,
  };
}

/** What a room holds while the user is in it; leaving the room starts it over. */
export function roomContent() {
  return {
    joined: false,           // the user wants to be in it (kept across reloads)
    joinState: 'none',       // none | joining | joined (on the current socket)
    joinSince: 0,
    historyLoaded: false,
    members: new Set(),
    msgs: new Map(),         // id -> message
    order: [],               // message ids, ascending
    lastId: 0,               // highest id seen from the server's message stream
    hasMore: false,
    unread: 0,
    typing: new Map(),       // username -> expiry time
    pending: [],
    gaps: [],                // { after, before }: ids between them may be missing (a long resume; messages.js)
    filling: false,          // a gap is being read from history
    gapRetryMs: 0,           // the pause before a failed gap page is asked again
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

/** The conversation with user, made when first asked for. */
export function getDm(user) {
  let conv = state.dms.get(user);
  if (!conv) {
    conv = makeDm(user);
    state.dms.set(user, conv);
  }
  return conv;
}

export const isAdmin = () => !!state.user && state.user.role === 'admin';
export const me = () => (state.user ? state.user.username : '');
export const roomName = (room) => {
  if (room.name === 'lobby') return t('room.lobbyName');
  if (!room.name && room.memberNames) {
    // A group conversation: the others' names.
    const others = room.memberNames.filter((n) => n !== me());
    return (others.length ? others : room.memberNames).join(t('rooms.nameSep')) || t('rooms.group');
  }
  return room.name || String(room.id);
};
export const currentRoom = () => (state.view === 'room' && state.current !== null ? state.rooms.get(state.current) || null : null);
export const currentDm = () => (state.view === 'dm' && state.dmUser !== null ? state.dms.get(state.dmUser) || null : null);
/** The room or direct-message conversation in view, or null. */
export const currentConv = () => currentRoom() || currentDm();
export const convKey = (conv) => (conv.kind === 'dm' ? 'dm:' + conv.user : 'room:' + conv.id);

/** Whether conv is still part of the state (a room the user is in, or a conversation). */
export function convAlive(conv) {
  return conv.kind === 'dm' ? state.dms.get(conv.user) === conv : state.rooms.get(conv.id) === conv && conv.joined;
}

/** Stops a room's or conversation's timers (resends and the read marker). */
export function clearConvTimers(conv) {
  for (const p of conv.pending) clearTimeout(p.retryTimer);
  clearTimeout(conv.readTimer);
  conv.readTimer = null;
}

/* ---------- rooms the user is in: the server's membership ---------- */

// Before membership was stored, each browser kept its own list here; the
// server's list replaces it (the same on every device).
function joinedKey() { return 'chat.joined.' + (state.user ? state.user.id : ''); }

/** Nothing to keep: the server stores membership. Drops the old local list. */
export function persistJoined() {
  if (!state.user) return;
  try { localStorage.removeItem(joinedKey()); } catch (_) { /* ignore */ }
}

/** The rooms the user is in are the rooms the server says they are a member of. */
export function restoreJoined() {
  for (const room of state.rooms.values()) if (room.member) room.joined = true;
  persistJoined();
}

/* ---------- messages ---------- */

/** The fields the front end keeps of a room message from the server. */
export const normRoomMsg = (m) => {
  const r = { id: m.id, room: m.room, sender: String(m.sender || ''), text: String(m.text ?? ''), ts: m.ts };
  if (Number.isInteger(m.seq)) r.seq = m.seq;   // the room's own sequence, from servers that send it
  const files = normFiles(m.files);               // files: the message's files
  if (files) r.files = files;
  return Object.assign(r, extrasOf(m));   // replies, mentions, reactions, edits, tombstones
};
/** The fields the front end keeps of a direct message from the server. */
export const normDm = (m) => {
  const r = { id: m.id, sender: String(m.sender || ''), to: String(m.to || ''), text: String(m.text ?? ''), ts: m.ts };
  const files = normFiles(m.files);               // files: the message's files
  if (files) r.files = files;
  return Object.assign(r, extrasOf(m));   // replies, mentions, reactions, edits, tombstones
};
export const normMsg = (conv, m) => (conv.kind === 'dm' ? normDm(m) : normRoomMsg(m));

export function insertSorted(arr, id) {
  let lo = 0, hi = arr.length;
  if (!hi || arr[hi - 1] < id) { arr.push(id); return; }
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (arr[mid] < id) lo = mid + 1; else hi = mid;
  }
  arr.splice(lo, 0, id);
}

/** Records a message in a room or conversation; false when it was already there. */
export function storeMessage(conv, m) {
  if (!m || typeof m.id !== 'number' || conv.msgs.has(m.id)) return false;
  conv.msgs.set(m.id, m);
  insertSorted(conv.order, m.id);
  if (m.id > conv.lastId) conv.lastId = m.id;
  return true;
}
