// Rooms v2: the rooms the user belongs to as the server keeps them (the
// same on every device), private rooms and group conversations, a room's
// members (the owner invites and removes), its announcement and pinned
// messages, mute (免打扰), leaving for good, and the live room list and
// counts (room_added, room_updated, room_removed, room_online frames).
// docs/PROTOCOL.md, "Rooms: membership, private rooms, groups".
import { $, h } from './dom.js';
import { t } from './i18n.js';
import { apiAuth, apiErrorText } from './http.js';
import { showNotice } from './notice.js';
import { updateTitle } from './notify.js';
import { learn, displayName, profileButton } from './people.js';
import { redirect } from './router.js';
import {
  state, makeRoom, roomFields, roomContent, isAdmin, me, roomName, currentRoom, convKey, clearConvTimers,
} from './state.js';
import { isOpen, sendJoin, wsSend } from './ws.js';
import { loadRooms, renderRoomList, removeRoom } from './views/lobby.js';
import { renderRoomHeader } from './views/room.js';

/* ---------- membership ---------- */

/** The server says the user is a member: subscribe here too. */
export function adoptMembership(room) {
  if (!room || !room.member || room.joined) return;
  room.joined = true;
  if (isOpen() && room.joinState === 'none') sendJoin(room);
}

/** The owner of room, or an administrator: may manage it. */
export function canManage(room) {
  return !!room && (isAdmin() || (!!room.owner && room.owner === me()));
}

// Forgets what the user had of a room they are no longer in (no leave frame:
// the server ended the subscription already, or the caller sent one).
function dropContent(room) {
  clearConvTimers(room);
  for (const p of room.pending) state.pendingByCid.delete(p.cid);
  Object.assign(room, roomContent());
  room.member = false;
  state.drafts.delete(convKey(room));
  if (state.current === room.id && state.view === 'room') {
    $('message-input').value = '';
    redirect('#/lobby');
  }
}

/** Leaves room for good (DELETE /api/rooms/{id}/members/{me}); everywhere. */
export async function leaveForGood(room) {
  if (isOpen() && room.joinState !== 'none') wsSend({ type: 'leave', room: room.id });
  try {
    await apiAuth('DELETE', '/api/rooms/' + room.id + '/members/' + encodeURIComponent(me()));
  } catch (e) {
    if (!(e && e.status === 404)) { showNotice(apiErrorText(e)); return; }
  }
  if (room.visibility === 'private') removeRoom(room.id);
  else dropContent(room);
  renderRoomList();
  updateTitle();
}

/* ---------- frames ---------- */

// Merges a room object of a frame; member and muted only when it has them.
function mergeRoom(obj) {
  if (!obj || !Number.isInteger(obj.id)) return null;
  let room = state.rooms.get(obj.id);
  const keep = room ? { member: room.member, muted: room.muted } : { member: false, muted: false };
  if (!room) {
    room = makeRoom(obj);
    state.rooms.set(obj.id, room);
  } else {
    room.name = obj.name || '';
    room.topic = obj.topic || '';
    if (Number.isInteger(obj.online)) room.online = obj.online;
    Object.assign(room, roomFields(obj));
  }
  if (!('member' in obj)) room.member = keep.member;
  if (!('muted' in obj)) room.muted = keep.muted;
  return room;
}

/** room_added: a public room an administrator made, or a private room the user is now in. */
export function onRoomAdded(f) {
  const room = mergeRoom(f.room);
  if (!room) return;
  adoptMembership(room);
  renderRoomList();
  if (currentRoom() === room) renderRoomHeader();
}

/** room_updated: name, topic, announcement, pins, members or the user's own mute. */
export function onRoomUpdated(f) {
  const room = mergeRoom(f.room);
  if (!room) return;
  renderRoomList();
  if (currentRoom() === room) {
    renderRoomHeader();
    if ($('view-room').classList.contains('show-members') || !$('room-manage').hidden) loadRoomMembers(room);
  }
}

/** room_removed: the user left or was removed (on any device), or the room is gone. */
export function onRoomRemoved(f) {
  const room = state.rooms.get(f.room);
  if (!room) return;
  const wasIn = room.joined || state.current === room.id;
  if (room.visibility === 'private') {
    const name = roomName(room);
    removeRoom(room.id);
    if (wasIn) showNotice(t('rooms.removed', { name }), 'warning');
  } else {
    // Left for good (the room stays listed) or deleted (the list no longer
    // has it): the server's list tells which.  A deleted room's own
    // room_deleted frame may come after this one, when the room is already
    // forgotten here: then the notice is given here.
    const name = roomName(room);
    dropContent(room);
    renderRoomList();
    loadRooms().then(() => {
      if (wasIn && !state.rooms.has(f.room)) showNotice(t('room.deleted', { name }), 'warning');
    }).catch(() => {});
  }
  updateTitle();
}

/** room_online: how many are in a room now (the sidebar and the lobby cards read the same count). */
export function onRoomOnline(f) {
  const room = state.rooms.get(f.room);
  if (!room || !Number.isInteger(f.online)) return;
  room.online = f.online;
  renderRoomList();
}

/* ---------- the room list ---------- */

/** What the sidebar shows after a room's name: the mute icon. */
export function roomListExtras(room) {
  return room.muted
    ? [h('span', { class: 'room-muted', 'data-testid': 'room-muted', title: t('rooms.mutedTitle') },
      h('span', { 'aria-hidden': 'true' }, '🔕'), h('span', { class: 'visually-hidden' }, t('rooms.mutedTitle')))]
    : [];
}

/* ---------- the room header: announcement, pins, mute ---------- */

/** Draws what rooms v2 adds to the header of room (called by renderRoomHeader; null for a DM). */
export function renderRoomExtras(room) {
  const banner = $('room-announcement');
  const pinsBtn = $('pins-toggle');
  const mute = $('mute-toggle');
  if (!room) {
    banner.hidden = true;
    pinsBtn.hidden = true;
    mute.hidden = true;
    $('pins-panel').hidden = true;
    $('room-manage').hidden = true;
    return;
  }
  const manage = canManage(room);
  banner.hidden = !room.announcement && !manage;
  banner.classList.toggle('empty', !room.announcement);
  $('announcement-text').textContent = room.announcement || t('rooms.noAnnouncement');
  $('announcement-edit').hidden = !manage;
  pinsBtn.hidden = room.pinned.length === 0;
  $('pins-count').textContent = String(room.pinned.length);
  pinsBtn.title = t('rooms.pinnedCount', { n: room.pinned.length });
  if (room.pinned.length === 0) { $('pins-panel').hidden = true; pinsBtn.setAttribute('aria-expanded', 'false'); }
  if (!$('pins-panel').hidden) renderPins(room);
  mute.hidden = !room.member;
  mute.setAttribute('aria-pressed', room.muted ? 'true' : 'false');
  mute.replaceChildren(h('span', { 'aria-hidden': 'true' }, room.muted ? '🔕' : '🔔'), ' ',
    h('span', { class: 'mute-label' }, t(room.muted ? 'rooms.unmute' : 'rooms.mute')));
  mute.title = t(room.muted ? 'rooms.unmuteTitle' : 'rooms.muteTitle');
  $('room-manage').hidden = false;
  $('invite-form').hidden = !manage;
  if (membersFor !== room.id) loadRoomMembers(room);
}

// The pinned messages: their text from what is loaded, else from history.
async function pinText(room, id) {
  const m = room.msgs.get(id);
  if (m) return m;
  try {
    const d = await apiAuth('GET', '/api/rooms/' + room.id + '/messages?before=' + (id + 1) + '&limit=1');
    const got = d && d.messages && d.messages.find((x) => x.id === id);
    return got || null;
  } catch (_) { return null; }
}

async function renderPins(room) {
  const ul = $('pins-list');
  const ids = [...room.pinned];
  const items = await Promise.all(ids.map((id) => pinText(room, id)));
  if (currentRoom() !== room) return;
  const manage = canManage(room);
  ul.replaceChildren(...ids.map((id, i) => {
    const m = items[i];
    const text = m ? (m.deleted ? t('msg.deleted') : String(m.text || '')) : '…';
    return h('li', { class: 'pin-item', 'data-id': id, 'data-testid': 'pin-item' },
      h('button', { type: 'button', class: 'btn btn-link btn-sm pin-jump', 'data-action': 'jump-pin', 'data-id': id },
        m ? h('span', { class: 'pin-sender' }, displayName(m.sender) + ': ') : null,
        h('span', { class: 'pin-text' }, text.length > 120 ? text.slice(0, 120) + '…' : text)),
      manage ? h('button', { type: 'button', class: 'btn btn-sm btn-link text-danger pin-remove', 'data-action': 'unpin',
        'data-id': id, 'data-testid': 'unpin', title: t('rooms.unpin'), 'aria-label': t('rooms.unpin') }, '✕') : null);
  }));
}

function togglePins() {
  const room = currentRoom();
  if (!room) return;
  const panel = $('pins-panel');
  panel.hidden = !panel.hidden;
  $('pins-toggle').setAttribute('aria-expanded', panel.hidden ? 'false' : 'true');
  if (!panel.hidden) renderPins(room);
}

async function onPinsClick(e) {
  const btn = e.target.closest('button[data-action]');
  const room = currentRoom();
  if (!btn || !room) return;
  const id = Number(btn.dataset.id);
  if (btn.dataset.action === 'jump-pin') {
    state.jump = { key: convKey(room), id, pages: 0 };
    const { continueJump } = await import('./views/room.js');
    continueJump();
  } else if (btn.dataset.action === 'unpin') {
    try {
      const d = await apiAuth('DELETE', '/api/rooms/' + room.id + '/pins/' + id);
      if (d && d.room) onRoomUpdated({ room: d.room });
    } catch (err) { showNotice(apiErrorText(err)); }
  }
}

/** The pin action of a message in the list (owners and administrators), or null. */
export function pinButton(m) {
  const room = currentRoom();
  if (!room || m.to !== undefined || !canManage(room) || room.pinned.includes(m.id)) return null;
  return h('button', { type: 'button', class: 'btn btn-sm msg-pin', 'data-action': 'pin-message', 'data-id': m.id,
    tabindex: '-1', 'data-testid': 'pin-message', 'aria-label': t('rooms.pin'), title: t('rooms.pin') }, '📌');
}

async function onMessageListClick(e) {
  const btn = e.target.closest('button[data-action="pin-message"]');
  const room = currentRoom();
  if (!btn || !room) return;
  try {
    const d = await apiAuth('POST', '/api/rooms/' + room.id + '/pins', { id: Number(btn.dataset.id) });
    if (d && d.room) onRoomUpdated({ room: d.room });
    showNotice(t('rooms.pinnedDone'), 'info');
  } catch (err) { showNotice(apiErrorText(err)); }
}

async function toggleMute() {
  const room = currentRoom();
  if (!room) return;
  try {
    const d = await apiAuth('PATCH', '/api/rooms/' + room.id + '/settings', { muted: !room.muted });
    if (d && d.room) onRoomUpdated({ room: d.room });
  } catch (e) { showNotice(apiErrorText(e)); }
}

function editAnnouncement() {
  const room = currentRoom();
  if (!room) return;
  $('announce-input').value = room.announcement;
  $('announce-error').hidden = true;
  $('announce-dialog').showModal();
  $('announce-input').focus();
}

async function saveAnnouncement(e) {
  e.preventDefault();
  const room = currentRoom();
  if (!room) { $('announce-dialog').close(); return; }
  try {
    const d = await apiAuth('PATCH', '/api/rooms/' + room.id, { announcement: $('announce-input').value.trim() });
    if (d && d.room) onRoomUpdated({ room: d.room });
    $('announce-dialog').close();
  } catch (err) {
    $('announce-error').textContent = apiErrorText(err);
    $('announce-error').hidden = false;
  }
}

/* ---------- members: the list, invite, remove ---------- */

let membersFor = null;   // the room whose member list is shown
let membersSeq = 0;

/** Fetches and draws room's members (GET /api/rooms/{id}/members). */
export async function loadRoomMembers(room) {
  membersFor = room.id;
  const seq = ++membersSeq;
  let d;
  try { d = await apiAuth('GET', '/api/rooms/' + room.id + '/members'); } catch (_) { return; }
  if (seq !== membersSeq || currentRoom() !== room || !d) return;
  const list = d.members || [];
  learn(list.map((m) => ({ username: m.username, display_name: m.display_name })));
  const manage = canManage(room);
  $('room-member-count').textContent = String(list.length);
  $('room-member-list').replaceChildren(...list.map((m) => h('li', {
    'data-user': m.username, 'data-testid': 'room-member', 'data-role': m.role,
  },
  h('span', { class: m.online ? 'online-dot' : 'offline-dot', 'aria-hidden': 'true' }),
  profileButton(m.username),
  m.role === 'owner' ? h('span', { class: 'badge rounded-pill owner-badge' }, t('rooms.owner')) : null,
  manage && m.username !== me() ? h('button', {
    type: 'button', class: 'btn btn-sm btn-link text-danger member-remove', 'data-action': 'remove-member',
    'data-user': m.username, 'data-testid': 'remove-member', title: t('rooms.remove'), 'aria-label': t('rooms.removeAria', { name: m.username }),
  }, '✕') : null)));
}

async function onMemberListClick(e) {
  const btn = e.target.closest('button[data-action="remove-member"]');
  const room = currentRoom();
  if (!btn || !room) return;
  try {
    await apiAuth('DELETE', '/api/rooms/' + room.id + '/members/' + encodeURIComponent(btn.dataset.user));
    loadRoomMembers(room);
  } catch (err) { showNotice(apiErrorText(err)); }
}

// A small autocomplete over GET /api/users?q= for an input and its list.
function autocomplete(input, list, onPick) {
  let seq = 0;
  const hide = () => { list.hidden = true; list.replaceChildren(); };
  input.addEventListener('input', async () => {
    const q = input.value.trim();
    const mine = ++seq;
    if (!q) { hide(); return; }
    let users = [];
    try {
      const d = await apiAuth('GET', '/api/users?q=' + encodeURIComponent(q));
      users = (d && d.users) || [];
    } catch (_) { users = []; }
    if (mine !== seq) return;
    learn(users);
    users = users.filter((u) => u.username !== me());
    list.replaceChildren(...(users.length ? users.map((u) => h('li', {
      role: 'option', class: 'suggestion', 'data-user': u.username, 'data-testid': 'people-suggestion', tabindex: '-1',
    }, h('span', { class: u.online ? 'online-dot' : 'offline-dot', 'aria-hidden': 'true' }),
    h('span', { class: 'person-name' }, u.display_name || u.username),
    h('span', { class: 'person-username small text-muted ms-1' }, '@' + u.username)))
      : [h('li', { class: 'suggestion-empty small text-muted' }, t('rooms.noMatch'))]));
    list.hidden = false;
  });
  list.addEventListener('mousedown', (e) => e.preventDefault());
  list.addEventListener('click', (e) => {
    const li = e.target.closest('li[data-user]');
    if (!li) return;
    onPick(li.dataset.user);
    hide();
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') hide();
    if (e.key === 'ArrowDown') {
      const first = list.querySelector('li[data-user]');
      if (first) { e.preventDefault(); onPick(first.dataset.user); hide(); }
    }
  });
  input.addEventListener('blur', () => setTimeout(hide, 150));
}

async function invite(e) {
  e.preventDefault();
  const room = currentRoom();
  const name = $('invite-input').value.trim();
  if (!room || !name) return;
  try {
    await apiAuth('POST', '/api/rooms/' + room.id + '/members', { username: name });
    $('invite-input').value = '';
    showNotice(t('rooms.invited', { name: displayName(name) }), 'info');
    loadRoomMembers(room);
  } catch (err) { showNotice(apiErrorText(err)); }
}

/* ---------- new room: a private room or a group conversation ---------- */

let chosen = [];

function renderChosen() {
  $('room-dialog-chosen').replaceChildren(...chosen.map((name) => h('li', { class: 'chosen-person', 'data-user': name, 'data-testid': 'chosen-person' },
    h('span', {}, displayName(name)),
    h('button', { type: 'button', class: 'btn btn-sm btn-link', 'data-user': name, 'aria-label': t('rooms.removeAria', { name }) }, '✕'))));
}

function openNewRoom() {
  chosen = [];
  $('room-dialog-name').value = '';
  $('room-dialog-people').value = '';
  $('room-dialog-error').hidden = true;
  renderChosen();
  $('room-dialog-dialog').showModal();
  $('room-dialog-name').focus();
}

async function createRoom(e) {
  e.preventDefault();
  const name = $('room-dialog-name').value.trim();
  const typed = $('room-dialog-people').value.trim();
  if (typed && !chosen.includes(typed)) chosen.push(typed);
  const err = $('room-dialog-error');
  if (!name && chosen.length === 0) {
    err.textContent = t('rooms.needNameOrPeople');
    err.hidden = false;
    return;
  }
  try {
    const d = await apiAuth('POST', '/api/rooms', { name, visibility: 'private', members: chosen });
    const room = mergeRoom(d.room);
    adoptMembership(room);
    $('room-dialog-dialog').close();
    renderRoomList();
    location.hash = '#/room/' + room.id;
  } catch (ex) {
    err.textContent = apiErrorText(ex);
    err.hidden = false;
  }
}

/** Wires the rooms v2 controls (once, at start). */
export function bindRooms() {
  $('new-room-btn').addEventListener('click', openNewRoom);
  $('room-dialog-form').addEventListener('submit', createRoom);
  $('room-dialog-cancel').addEventListener('click', () => $('room-dialog-dialog').close());
  $('room-dialog-chosen').addEventListener('click', (e) => {
    const b = e.target.closest('button[data-user]');
    if (!b) return;
    chosen = chosen.filter((n) => n !== b.dataset.user);
    renderChosen();
  });
  autocomplete($('room-dialog-people'), $('room-dialog-suggestions'), (name) => {
    if (!chosen.includes(name)) chosen.push(name);
    $('room-dialog-people').value = '';
    renderChosen();
    $('room-dialog-people').focus();
  });
  autocomplete($('invite-input'), $('invite-suggestions'), (name) => { $('invite-input').value = name; });
  $('invite-form').addEventListener('submit', invite);
  $('room-member-list').addEventListener('click', onMemberListClick);
  $('pins-toggle').addEventListener('click', togglePins);
  $('pins-list').addEventListener('click', onPinsClick);
  $('mute-toggle').addEventListener('click', toggleMute);
  $('announcement-edit').addEventListener('click', editAnnouncement);
  $('announce-form').addEventListener('submit', saveAnnouncement);
  $('announce-cancel').addEventListener('click', () => $('announce-dialog').close());
  $('message-list').addEventListener('click', onMessageListClick);
}

/** Forgets the member list shown (a new room in view, or the session ended). */
export function resetRoomsView() {
  membersFor = null;
  $('room-member-list').replaceChildren();
  $('pins-panel').hidden = true;
  $('pins-toggle').setAttribute('aria-expanded', 'false');
}
