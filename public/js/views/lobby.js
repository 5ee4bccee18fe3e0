// The lobby: the home view (room cards) and the sidebar's room list and
// people online, with the room list kept in step with the server.
import { $, h, sortNames, unreadBadge } from '../dom.js';
import { t, lang, localeTag } from '../i18n.js';
import { apiAuth } from '../http.js';
import { showNotice } from '../notice.js';
import { updateTitle } from '../notify.js';
import { redirect, showView } from '../router.js';
import {
  state, makeRoom, isAdmin, me, roomName, currentRoom, currentDm, convKey, clearConvTimers, persistJoined,
  roomFields,
} from '../state.js';
import { adoptMembership, roomListExtras } from '../rooms.js';
import { renderAdmin, renderAdminUsers, loadAdminUsers } from './admin.js';
import { renderFriends } from './dms.js';
import { profileButton } from '../people.js';
import { renderRoomHeader } from './room.js';
import { mentionBadge } from '../extras.js';

let roomsRefreshTimer = null;

export function showLobby() {
  state.current = null;
  state.dmUser = null;
  state.jump = null;
  showView('lobby');
  renderHomeTitle();
  renderRoomList();
  renderFriends();
  renderAdmin(true);
  if (isAdmin()) loadAdminUsers();
  updateTitle();
}

export function renderHomeTitle() {
  $('home-title').textContent = t('home.title', { name: me() });
}

/* ---------- rooms ---------- */

/** Fetches the rooms; rooms gone from the list are removed (with a notice if the user was in one). */
export async function loadRooms() {
  const d = await apiAuth('GET', '/api/rooms');
  const seen = new Set();
  for (const r of (d && d.rooms) || []) {
    seen.add(r.id);
    const room = state.rooms.get(r.id);
    if (room) {
      room.name = r.name;
      room.topic = r.topic || '';
      room.online = Number(r.online) || 0;
      Object.assign(room, roomFields(r));
    } else {
      state.rooms.set(r.id, makeRoom(r));
    }
    // A member elsewhere (another device, an invitation): subscribed here too.
    adoptMembership(state.rooms.get(r.id));
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

/** Reloads the room list in a moment (several reasons in a row make one request). */
export function refreshRoomsSoon() {
  clearTimeout(roomsRefreshTimer);
  roomsRefreshTimer = setTimeout(() => { if (state.user) loadRooms().catch(() => {}); }, 1500);
}

export function cancelRoomsRefresh() {
  clearTimeout(roomsRefreshTimer);
}

/** Forgets a room that no longer exists; leaves its view if it was shown. */
export function removeRoom(id) {
  const room = state.rooms.get(id);
  if (!room) return;
  clearConvTimers(room);
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

/** A `room_deleted` frame. */
export function onRoomDeleted(f) {
  const room = state.rooms.get(f.room);
  if (!room) return;
  const name = roomName(room);
  const relevant = room.joined || state.current === room.id;
  removeRoom(room.id);
  if (relevant) showNotice(t('room.deleted', { name }), 'warning');
}

/** The lobby first, then by name. */
export function sortedRooms() {
  const tag = localeTag();
  return [...state.rooms.values()].sort((a, b) => {
    if (a.name === 'lobby') return -1;
    if (b.name === 'lobby') return 1;
    return roomName(a).localeCompare(roomName(b), tag) || a.id - b.id;
  });
}

/** The sidebar's room list (and the home view's cards); force re-renders an unchanged list. */
export function renderRoomList(force = false) {
  const rooms = sortedRooms();
  const sig = lang() + '|' + state.view + '|' + state.current + '|' + rooms.map((r) =>
    [r.id, r.name, r.topic, r.online, r.unread, r.joined, r.muted, r.visibility, roomName(r), r.mentions].join(':')).join('\u0001');
  if (!force && sig === state.rendered.roomList) return;
  state.rendered.roomList = sig;
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
    h('span', { class: 'room-hash', 'aria-hidden': 'true' }, room.visibility === 'private' ? '🔒' : '#'),
    h('span', { class: 'room-name' }, roomName(room)),
    ...roomListExtras(room),
    room.joined ? h('span', { class: 'visually-hidden' }, t('rooms.joined')) : null,
    h('span', { class: 'room-online', title: t('rooms.online', { n: room.online }), 'data-testid': 'room-online' },
      h('span', { class: 'online-dot', 'aria-hidden': 'true' }),
      h('span', { 'aria-hidden': 'true' }, String(room.online)),
      h('span', { class: 'visually-hidden' }, t('rooms.online', { n: room.online }))),
    unreadBadge(room.unread, 'rooms.unread'),
    mentionBadge(room.mentions));   // extras.js
    return h('li', {
      'data-room': room.id, 'data-testid': 'room-item', 'data-name': room.name,
      'data-unread': room.unread, 'data-joined': room.joined ? 'true' : 'false',
      'data-visibility': room.visibility, 'data-muted': room.muted ? 'true' : 'false',
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

/* ---------- people online ---------- */

/** A person in a list of users who are online (the online list, room members). */
export function userItem(name) {
  return h('li', { 'data-user': name, 'data-testid': 'user-item' },
    h('span', { class: 'online-dot', 'aria-hidden': 'true' }),
    profileButton(name),
    name === me() ? h('span', { class: 'user-you' }, t('you')) : null);
}

export async function loadOnline() {
  const d = await apiAuth('GET', '/api/users/online');
  state.online = new Set(((d && d.users) || []).map((u) => u.username));
  renderOnline();
}

export function renderOnline() {
  const names = sortNames(state.online);
  $('online-users').replaceChildren(...names.map((n) => userItem(n)));
  $('online-count').textContent = String(names.length);
  $('users-empty').hidden = names.length > 0;
}

/** An `online` frame: a user came online or went offline (lobby, friends, admin table). */
export function onOnline(f) {
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

/** Empties the lists (the session ended). */
export function clearLobby() {
  $('room-list').replaceChildren();
  $('online-users').replaceChildren();
}
