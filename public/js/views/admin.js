// The administrators' panels in the lobby view: creating, renaming and
// deleting rooms, and the users table with bans. Hidden for everyone else
// (the server checks the role anyway).
import { $, h, attrSel } from '../dom.js';
import { t, lang } from '../i18n.js';
import { apiAuth, apiErrorText } from '../http.js';
import { state, isAdmin, me, roomName, currentRoom } from '../state.js';
import { loadRooms, refreshRoomsSoon, removeRoom, renderRoomList, sortedRooms } from './lobby.js';
import { renderRoomHeader } from './room.js';

let adminUsersSeq = 0;   // the users table shows the answer to the newest request only

/* ---------- rooms ---------- */

/** The rooms panel; force re-renders an unchanged list. */
export function renderAdmin(force = false) {
  const panel = $('admin-panel');
  panel.hidden = !isAdmin();
  $('admin-users-panel').hidden = !isAdmin();
  if (!isAdmin()) return;
  const rooms = sortedRooms();
  const sig = lang() + '|' + state.adminEditing + '|' + rooms.map((r) => [r.id, r.name, r.topic].join(':')).join('\u0001');
  if (!force && sig === state.rendered.admin) return;
  const list = $('admin-room-list');
  if (!force && list.contains(document.activeElement) && state.adminEditing !== null) return;
  state.rendered.admin = sig;
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

// kind: 'error', 'ok' or 'none' (hides both boxes).
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

/* ---------- users and bans ---------- */

export async function loadAdminUsers() {
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

// kind: 'error', 'ok' or 'none' (hides both boxes).
function adminUsersMessage(kind, text) {
  $('admin-users-error').hidden = kind !== 'error';
  $('admin-users-status').hidden = kind !== 'ok';
  if (kind === 'error') $('admin-users-error').textContent = text;
  if (kind === 'ok') $('admin-users-status').textContent = text;
}

export function renderAdminUsers() {
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

/** Empties the users table (the session ended). */
export function clearAdmin() {
  $('admin-users').replaceChildren();
}

export function bindAdmin() {
  $('room-create-form').addEventListener('submit', onCreateRoom);
  $('admin-room-list').addEventListener('click', onAdminClick);
  $('admin-room-list').addEventListener('submit', onAdminSubmit);
  $('admin-users').addEventListener('click', onAdminUsersClick);
  $('admin-users-refresh').addEventListener('click', () => { adminUsersMessage('none'); loadAdminUsers(); });
}
