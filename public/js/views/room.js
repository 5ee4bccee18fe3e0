// The message view, for a room or a direct-message conversation: header,
// members, typing hint, the message list with the user's pending sends,
// paging back through history, and jumping to a message found by search.
import { avatarEl, filesEl } from '../files.js';
import { $, h, appendLinkified, sortNames } from '../dom.js';
import { t, dateFormats } from '../i18n.js';
import { apiAuth, apiErrorText } from '../http.js';
import { PAGE } from '../limits.js';
import { showNotice } from '../notice.js';
import { updateTitle } from '../notify.js';
import { showView } from '../router.js';
import {
  state, isAdmin, me, roomName, currentRoom, currentConv, convKey, convAlive, normMsg, storeMessage,
} from '../state.js';
import { canManage, leaveForGood, pinButton, renderRoomExtras, resetRoomsView } from '../rooms.js';
import { dropPending, joinRoom, resetPending, trySend } from '../ws.js';
import { onMessageDeleted, scheduleRead } from '../messages.js';
import { avatarOf, displayName, profileButton } from '../people.js';
import { restoreDraft, updateCharCount } from './composer.js';
import { dmPath, renderFriends } from './dms.js';
import { refreshRoomsSoon, renderRoomList, userItem } from './lobby.js';
import { decorateMessage, handleExtrasAction, recallText, renderReplyBar } from '../extras.js';

const JUMP_PAGE = 200;   // page size while looking for a search result's message
const GROUP_MS = 5 * 60 * 1000;   // a sender's messages this close together share one header

// Whether the view should follow new content: true while the user is at the bottom.
let stickToBottom = true;
let highlightTimer = null;

/* ---------- entering and leaving ---------- */

/** Route #/room/ID: false (after a notice) for a room that does not exist. */
export function routeRoom(arg) {
  const room = state.rooms.get(Number(arg));
  if (!room) {
    showNotice(t('room.notFound'), 'warning');
    return false;
  }
  openRoom(room);
  return true;
}

function openRoom(room) {
  const changed = state.view !== 'room' || state.current !== room.id;
  state.current = room.id;
  state.dmUser = null;
  showView('room');
  if (!room.joined) joinRoom(room);
  enterConversation(room, changed);
}

/** Shows a room or direct-message conversation in the message view (changed: a different one than before). */
export function enterConversation(conv, changed) {
  if (changed) {
    // The "new messages" divider goes above the first of the unread messages.
    conv.dividerId = 0;
    conv.dividerCount = document.hidden ? 0 : conv.unread;
  }
  if (!document.hidden) { conv.unread = 0; conv.mentions = 0; }
  renderReplyBar();   // extras.js: a reply being written belongs to its conversation
  if (changed) {
    resetRoomsView();   // rooms v2: the member list and pins of the room before
    $('view-room').classList.remove('show-members');
    $('members-toggle').setAttribute('aria-expanded', 'false');
    restoreDraft(conv);
    renderRoomHeader();
    renderMessages();
    renderMembers();
    renderTyping();
    if (window.matchMedia('(pointer: fine)').matches) $('message-input').focus();
  }
  renderRoomList();
  renderFriends();
  updateTitle();
  scheduleRead(conv);
  continueJump();
}

/* ---------- header, members, typing ---------- */

/** The header of the message view, for a room or a direct-message conversation. */
export function renderRoomHeader() {
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
  renderRoomExtras(dm ? null : conv);   // rooms v2: announcement, pins, mute
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

export function renderMembers() {
  const room = currentRoom();
  if (!room) return;
  const names = sortNames(room.members);
  $('member-list').replaceChildren(...(names.length
    ? names.map((n) => userItem(n))
    : [h('li', { class: 'text-muted' }, t('room.membersEmpty'))]));
  $('member-count').textContent = String(names.length);
  $('member-count-2').textContent = String(names.length);
}

/** The typing hint of the room in view (expired entries are dropped). */
export function renderTyping() {
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

/* ---------- message elements ---------- */

// Room messages can be deleted by their sender, the room's owner and admins.
function canDelete(m) {
  return m.to === undefined && (isAdmin() || m.sender === me() || canManage(currentRoom()));
}

// The time of day inside a bubble, the full date in its title.
function msgTimeEl(ts) {
  const d = new Date(ts);
  if (!Number.isFinite(d.getTime())) return h('time', { class: 'msg-time' });
  const f = dateFormats();
  return h('time', { class: 'msg-time', datetime: d.toISOString(), title: f.full.format(d) }, f.time.format(d));
}

// Links inside messages are reached with the arrow keys, not with Tab (see onListKey).
function messageBody(text) {
  const body = h('div', { class: 'msg-text', 'data-testid': 'message-text' });
  appendLinkified(body, text);
  for (const a of body.querySelectorAll('a')) a.tabIndex = -1;
  return body;
}

function messageEl(m) {
  if (m.deleted) return deletedEl(m);
  const mine = m.sender === me();
  // Like links and actions, the sender's profile button is reached with the arrow keys, not Tab.
  const sender = profileButton(m.sender, displayName(m.sender));
  sender.tabIndex = -1;
  const meta = h('div', { class: 'msg-meta' },
    avatarEl(m.sender, displayName(m.sender), avatarOf(m.sender)),   // files: the sender's avatar
    h('span', { class: 'msg-sender' }, sender),
    mine ? h('span', { class: 'msg-you' }, t('you')) : null,
    msgTimeEl(m.ts));
  const bubble = h('div', { class: 'msg-bubble' }, meta, m.text ? messageBody(m.text) : null, filesEl(m.files));
  const pin = pinButton(m);   // rooms v2: owners and admins pin
  if (pin || canDelete(m)) {
    bubble.append(h('span', { class: 'msg-actions' }, pin, canDelete(m)
      ? h('button', { type: 'button', class: 'btn btn-sm msg-delete', 'data-action': 'delete-message', 'data-id': m.id,
        tabindex: '-1', 'data-testid': 'delete-message', 'aria-label': t('msg.deleteAria'), title: t('msg.deleteAria') }, t('msg.delete'))
      : null));
  }
  decorateMessage(bubble, m);   // replies, mentions, reactions, edits (extras.js)
  return h('li', {
    class: 'msg' + (mine ? ' own' : ''), 'data-id': m.id, 'data-testid': 'message',
    'data-sender': m.sender, 'data-own': mine ? 'true' : null, 'data-ts': m.ts, tabindex: '-1',
  }, bubble);
}

// What is left of a deleted message: a placeholder where it was.
function deletedEl(m) {
  return h('li', {
    class: 'msg msg-deleted' + (m.sender === me() ? ' own' : ''), 'data-id': m.id, 'data-testid': 'message-deleted',
    'data-deleted': 'true', 'data-sender': m.sender, 'data-ts': m.ts, tabindex: '-1',
  }, h('div', { class: 'msg-bubble' }, h('span', { class: 'msg-deleted-text' }, recallText(m))));
}

function pendingEl(p) {
  const failed = p.state === 'failed';
  const meta = h('div', { class: 'msg-meta' },
    h('span', { class: 'msg-sender' }, me()),
    h('span', { class: 'msg-you' }, t('you')),
    h('span', { class: 'msg-status', 'data-testid': 'message-status' },
      failed ? t('msg.failed') + (p.error ? ' · ' + p.error : '') : t('msg.sending')));
  if (failed) {
    meta.append(h('span', { class: 'msg-pending-actions' },
      h('button', { type: 'button', class: 'btn btn-link btn-sm', 'data-action': 'retry', 'data-testid': 'retry-send', tabindex: '-1' }, t('msg.retry')),
      h('button', { type: 'button', class: 'btn btn-link btn-sm', 'data-action': 'discard', 'data-testid': 'discard-send', tabindex: '-1' }, t('msg.discard'))));
  }
  return h('li', {
    class: 'msg own pending' + (failed ? ' failed' : ''), 'data-cid': p.cid, 'data-testid': 'message',
    'data-pending': 'true', 'data-own': 'true', 'data-sender': me(), 'aria-busy': failed ? null : 'true',
    'data-ts': p.createdAt, tabindex: '-1',
  }, h('div', { class: 'msg-bubble' }, meta, p.text ? messageBody(p.text) : null, filesEl(p.files)));
}

/* ---------- grouping, day separators, the "new messages" divider ---------- */

const dayKey = (ts) => { const d = new Date(ts); return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`; };

// 今天 / 昨天 / the date (with the year when it is not this year).
function dayLabel(ts) {
  const d = new Date(ts);
  const now = new Date();
  if (dayKey(ts) === dayKey(now.getTime())) return t('day.today');
  const y = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 1);
  if (dayKey(ts) === dayKey(y.getTime())) return t('day.yesterday');
  const opts = { weekday: 'short', month: 'long', day: 'numeric' };
  if (d.getFullYear() !== now.getFullYear()) opts.year = 'numeric';
  return new Intl.DateTimeFormat(dateFormats().full.resolvedOptions().locale, opts).format(d);
}

// The one child element of li with class cls, made by make() when want, removed otherwise.
function ensurePart(li, cls, want, make, after) {
  let el = li.querySelector(':scope > .' + cls);
  if (!want) { if (el) el.remove(); return; }
  if (!el) {
    el = make();
    if (after && after.parentNode === li) after.after(el); else li.prepend(el);
  }
  return el;
}

/**
 * Sets li's day separator, "new messages" divider and whether it continues
 * the previous item's group (same sender, same day, within GROUP_MS): a
 * grouped message shows no name or time of its own.
 */
function decorate(li) {
  if (!li) return;
  const conv = currentConv();
  const prev = li.previousElementSibling;
  const ts = Number(li.dataset.ts);
  const prevTs = prev ? Number(prev.dataset.ts) : NaN;
  const known = Number.isFinite(ts) && ts > 0;
  const newDay = known && (!prev || !Number.isFinite(prevTs) || dayKey(prevTs) !== dayKey(ts));
  const sep = ensurePart(li, 'day-sep', newDay,
    () => h('div', { class: 'day-sep', role: 'separator', 'data-testid': 'day-separator' }, h('span', {})));
  if (sep) sep.firstChild.textContent = dayLabel(ts);
  const divider = !!(conv && conv.dividerId && li.dataset.id !== undefined && Number(li.dataset.id) === conv.dividerId);
  const div = ensurePart(li, 'new-divider', divider,
    () => h('div', { class: 'new-divider', role: 'separator', 'data-testid': 'new-divider' }, h('span', {})), sep);
  if (div) div.firstChild.textContent = t('room.newDivider');
  const grouped = !!prev && !newDay && !divider && prev.dataset.deleted !== 'true' && li.dataset.deleted !== 'true'
    && prev.dataset.sender === li.dataset.sender && ts >= prevTs && ts - prevTs < GROUP_MS;
  li.classList.toggle('grouped', grouped);
}

/** Decorates el and the n - 1 items after it, and the one after those (whose group may have changed). */
function decorateRun(el, n = 1) {
  for (let i = 0; el && i <= n; i++, el = el.nextElementSibling) decorate(el);
}

function decorateAll() {
  for (const li of $('message-list').children) decorate(li);
}

// Finds the first unread message for the divider once the history is there.
function placeDivider(conv) {
  if (!conv.dividerCount || !conv.historyLoaded || !conv.order.length) return;
  let left = conv.dividerCount;
  let id = conv.order[0];
  for (let i = conv.order.length - 1; i >= 0; i--) {
    const m = conv.msgs.get(conv.order[i]);
    if (m && m.sender !== me()) {
      id = m.id;
      if (--left === 0) break;
    }
  }
  conv.dividerId = id;
  conv.dividerCount = 0;
}

// Every message of conv, then its pending sends.
function messageItems(conv) {
  const items = conv.order.map((id) => messageEl(conv.msgs.get(id)));
  for (const p of conv.pending) items.push(pendingEl(p));
  return items;
}

const findPendingEl = (p) => $('message-list').querySelector(`li[data-cid="${p.cid}"]`);
const findMessageEl = (id) => $('message-list').querySelector(`li[data-id="${id}"]`);

/** Adds a new pending send of conv at the end of the list, if conv is in view. */
export function showPending(conv, p) {
  if (currentConv() !== conv) return;
  const el = pendingEl(p);
  $('message-list').append(el);
  decorate(el);
  updateRoomEmpty();
  scrollToBottom();
}

/** Redraws a pending send whose state changed (the caller checks that it is in view). */
export function replacePendingEl(p) {
  const old = findPendingEl(p);
  if (!old) return;
  const el = pendingEl(p);
  old.replaceWith(el);
  decorate(el);
}

export function removePendingEl(p) {
  const el = findPendingEl(p);
  if (!el) return;
  const next = el.nextElementSibling;
  el.remove();
  decorate(next);
}

/** Puts a message element in id order, before any pending items; follows it if the view is at the bottom. */
export function insertMessageEl(m, forceScroll) {
  const list = $('message-list');
  const stick = forceScroll || stickToBottom || isNearBottom();
  let before = null;
  for (let node = list.lastElementChild; node; node = node.previousElementSibling) {
    if (node.dataset.id === undefined || Number(node.dataset.id) > m.id) { before = node; continue; }
    break;
  }
  const el = messageEl(m);
  list.insertBefore(el, before);
  decorateRun(el);
  updateRoomEmpty();
  if (stick) scrollToBottom();
  else $('jump-latest').hidden = false;
}

// The first child of the list whose id is above id (pending sends, at the end, count as above all), or null.
function firstElAfter(list, id) {
  const kids = list.children;
  let lo = 0, hi = kids.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const v = kids[mid].dataset.id;
    if (v !== undefined && Number(v) <= id) lo = mid + 1; else hi = mid;
  }
  return kids[lo] || null;
}

// The first list item shown at the top of the scroller (or null).
function firstVisibleEl(list, s) {
  const top = s.getBoundingClientRect().top;
  const kids = list.children;
  let lo = 0, hi = kids.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (kids[mid].getBoundingClientRect().bottom <= top) lo = mid + 1; else hi = mid;
  }
  return kids[lo] || null;
}

/**
 * Puts many messages of the conversation in view into the list at once
 * (msgs ascending, none shown yet: a page read into a resume gap), each run
 * of them that falls between two shown messages as one fragment. At the
 * bottom the view stays there; elsewhere what the user is reading stays where
 * it is, and "new messages" appears when some landed below it.
 */
export function insertMessageEls(msgs) {
  if (!msgs.length) return;
  const list = $('message-list');
  const s = $('message-scroller');
  const stick = stickToBottom || isNearBottom();
  const anchor = stick ? null : firstVisibleEl(list, s);
  const anchorTop = anchor ? anchor.getBoundingClientRect().top : 0;
  let last = null;
  for (let i = 0; i < msgs.length;) {
    const at = firstElAfter(list, msgs[i].id);
    const limit = at && at.dataset.id !== undefined ? Number(at.dataset.id) : Infinity;
    const frag = document.createDocumentFragment();
    const start = i;
    for (; i < msgs.length && msgs[i].id < limit; i++) frag.append(last = messageEl(msgs[i]));
    const first = frag.firstElementChild;
    list.insertBefore(frag, at);
    decorateRun(first, i - start);
  }
  updateRoomEmpty();
  if (stick) { scrollToBottom(); return; }
  if (anchor) s.scrollTop += anchor.getBoundingClientRect().top - anchorTop;
  if (last && last.getBoundingClientRect().top >= s.getBoundingClientRect().bottom) $('jump-latest').hidden = false;
}

export function replaceMessageEl(m) {
  const old = findMessageEl(m.id);
  if (!old) return;
  const el = messageEl(m);
  old.replaceWith(el);
  decorateRun(el);
}

export function removeMessageEl(id) {
  const el = findMessageEl(id);
  if (!el) return;
  const next = el.nextElementSibling;
  el.remove();
  decorate(next);
}

/* ---------- the list ---------- */

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

/** Draws the whole list of the conversation in view, scrolled to the newest message. */
export function renderMessages() {
  const room = currentConv();
  if (!room) return;
  placeDivider(room);
  $('message-list').replaceChildren(...messageItems(room));
  decorateAll();
  updateRoomEmpty();
  updateHistoryTop();
  scrollToBottom();
  fillViewport();
}

/** Redraws the conversation in view in place (after a language switch), keeping the scroll position. */
export function rerenderConversation() {
  const room = currentConv();
  if (!room) return;
  const s = $('message-scroller');
  const fromBottom = s.scrollHeight - s.scrollTop;
  renderRoomHeader();
  renderMembers();
  renderTyping();
  $('message-list').replaceChildren(...messageItems(room));
  decorateAll();
  updateHistoryTop();
  updateRoomEmpty();
  updateCharCount();
  s.scrollTop = s.scrollHeight - fromBottom;
}

export function updateRoomEmpty() {
  const room = currentConv();
  $('room-empty').hidden = !room || !room.historyLoaded || room.order.length > 0 || room.pending.length > 0;
}

/** The top of the list: a button for older messages, or the note that this is the start. */
export function updateHistoryTop() {
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

// Fetches the page before the oldest message shown and puts it above, keeping the view still.
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
    const added = msgs.filter((m) => storeMessage(room, normMsg(room, m)));
    if (currentConv() === room && added.length) {
      const s = $('message-scroller');
      const prevHeight = s.scrollHeight;
      const prevTop = s.scrollTop;
      const list = $('message-list');
      const firstOld = list.querySelector('li[data-id]');
      const frag = document.createDocumentFragment();
      for (const m of added) frag.append(messageEl(room.msgs.get(m.id)));
      const first = frag.firstElementChild;
      list.insertBefore(frag, firstOld || list.firstChild);
      decorateRun(first, added.length);
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

/**
 * Brings state.jump's message into view once its conversation is shown,
 * loading older pages until it is there.
 */
export function continueJump() {
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
  if (conv.gaps && conv.gaps.length) return;   // continued when the resume gap is read (messages.js)
  const oldest = conv.order.length ? conv.order[0] : Infinity;
  if (conv.hasMore && j.id < oldest && j.pages < 500) {
    j.pages += 1;
    loadOlder(JUMP_PAGE);
    return;
  }
  state.jump = null;
  showNotice(t('search.gone'), 'warning');
}

function revealMessage(id) {
  const el = findMessageEl(id);
  if (!el) return;
  for (const old of $('message-list').querySelectorAll('.msg-highlight')) old.classList.remove('msg-highlight');
  el.classList.add('msg-highlight');
  el.dataset.highlight = 'true';
  el.scrollIntoView({ block: 'center' });
  el.focus({ preventScroll: true });
  stickToBottom = isNearBottom();
  $('jump-latest').hidden = true;   // shown again only when new messages arrive below
  clearTimeout(highlightTimer);
  highlightTimer = setTimeout(() => {
    el.classList.remove('msg-highlight');
    delete el.dataset.highlight;
  }, 4000);
}

/* ---------- actions ---------- */

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
  if (handleExtrasAction(action, btn, li, room)) return;   // extras.js
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
    resetPending(p);
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

/** Empties the list and the members (the session ended). */
export function clearRoomView() {
  $('message-list').replaceChildren();
  $('member-list').replaceChildren();
}

/*
 * Keyboard: the message list is one Tab stop (the scroller). Up and Down move
 * through the messages, Home and End go to the oldest and newest shown; on
 * a message, Enter or Right reaches its links and buttons (Left and Right
 * move among them), Delete asks to delete it; Escape goes back a level.
 */
function focusItem(li) {
  if (!li) return;
  li.tabIndex = -1;
  li.focus({ preventScroll: true });
  li.scrollIntoView({ block: 'nearest' });
}

function itemControls(li) {
  return [...li.querySelectorAll('.msg-text a, .msg-files a, button')].filter((el) => !el.disabled);
}

function onListKey(e) {
  if (e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) return;
  const list = $('message-list');
  const active = document.activeElement;
  const li = active && active.closest ? active.closest('#message-list > li') : null;
  const onItem = li && active === li;
  const inItem = li && active !== li;
  let handled = true;
  switch (e.key) {
    case 'ArrowUp':
      if (li) focusItem(li.previousElementSibling || li);
      else if (active === $('message-scroller')) focusItem(list.lastElementChild);
      else handled = false;
      break;
    case 'ArrowDown':
      if (li) focusItem(li.nextElementSibling || li);
      else if (active === $('message-scroller')) focusItem(list.lastElementChild);
      else handled = false;
      break;
    case 'Home':
      if (li) focusItem(list.firstElementChild); else handled = false;
      break;
    case 'End':
      if (li) focusItem(list.lastElementChild); else handled = false;
      break;
    case 'Enter':
      if (onItem) { const c = itemControls(li); if (c.length) c[0].focus(); } else handled = false;
      break;
    case 'ArrowRight':
    case 'ArrowLeft': {
      if (!li) { handled = false; break; }
      const c = itemControls(li);
      if (!c.length) break;
      const i = c.indexOf(active);
      if (e.key === 'ArrowRight') c[i < 0 ? 0 : Math.min(i + 1, c.length - 1)].focus();
      else if (i <= 0) focusItem(li);
      else c[i - 1].focus();
      break;
    }
    case 'Delete': {
      const btn = onItem ? li.querySelector('button[data-action="delete-message"]') : null;
      if (btn) btn.click(); else handled = false;
      break;
    }
    case 'Escape':
      if (inItem) focusItem(li);
      else if (onItem) $('message-scroller').focus({ preventScroll: true });
      else handled = false;
      break;
    default:
      handled = false;
  }
  if (handled) e.preventDefault();
}

// The skip link goes to the message box in a conversation, else to the view's content.
function onSkipLink(e) {
  e.preventDefault();
  if ((state.view === 'room' || state.view === 'dm') && !$('message-input').disabled) {
    $('message-input').focus();
    return;
  }
  const section = [...document.querySelectorAll('#main > section, #app-shell > section')]
    .find((el) => !el.hidden && el.getClientRects().length > 0);
  const target = section && [...section.querySelectorAll('input:not([type=hidden]), textarea, button, a[href], [tabindex="0"]')]
    .find((el) => !el.disabled && el.getClientRects().length > 0);
  (target || $('main')).focus();
}

export function bindRoom() {
  $('skip-link').addEventListener('click', onSkipLink);
  $('message-scroller').addEventListener('keydown', onListKey);
  $('message-list').addEventListener('click', onMessageListClick);
  $('load-older').addEventListener('click', () => { loadOlder(); });
  $('jump-latest').addEventListener('click', () => { scrollToBottom(); $('message-input').focus(); });
  // Rooms v2: Leave ends the membership, on every device.
  $('leave-room').addEventListener('click', () => { const r = currentRoom(); if (r) leaveForGood(r); });
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
}
