// Friends and direct messages: the sidebar's friends section (requests,
// accept, decline, remove, add by name) and the direct-message conversations,
// which the room view shows (room.js).
import { $, h, attrSel, sortNames, unreadBadge } from '../dom.js';
import { t, lang, localeTag } from '../i18n.js';
import { apiAuth, apiErrorText } from '../http.js';
import { PAGE } from '../limits.js';
import { showNotice, toast } from '../notice.js';
import { updateTitle } from '../notify.js';
import { decodePart, dmHash, showView } from '../router.js';
import { state, getDm, me, currentDm, normDm, storeMessage } from '../state.js';
import { addMessage, scheduleRead } from '../messages.js';
import { displayName, learn, profileButton } from '../people.js';
import { continueJump, enterConversation, renderMessages, renderRoomHeader } from './room.js';
import { mentionBadge } from '../extras.js';

/* ---------- friends ---------- */

export async function loadFriends() {
  const d = await apiAuth('GET', '/api/friends');
  if (!state.user || !d) return;
  state.friends = new Map();
  learn(d.friends);
  for (const f of d.friends || []) {
    if (f && f.username) state.friends.set(f.username, { online: !!f.online });
  }
  state.incoming = new Set((d.incoming || []).filter((u) => typeof u === 'string'));
  state.outgoing = new Set((d.outgoing || []).filter((u) => typeof u === 'string'));
  renderFriends();
  if (currentDm()) renderRoomHeader();
  updateTitle();
}

// Friends first by online state, then by name.
function sortedFriends() {
  const tag = localeTag();
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
  h('span', { class: 'room-name' }, displayName(name)),
  displayName(name) !== name ? h('span', { class: 'person-username small text-muted ms-1 text-truncate' }, '@' + name) : null,
  h('span', { class: 'visually-hidden' }, ', ' + status),
  unreadBadge(unread, 'dm.unread'),
  mentionBadge(conv ? conv.mentions : 0)),   // extras.js
  profileButton(name, h('span', { 'aria-hidden': 'true' }, 'ⓘ')),
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

/** The friends section; force re-renders an unchanged one. */
export function renderFriends(force = false) {
  if (!state.user) return;
  const names = sortedFriends();
  const incoming = sortNames(state.incoming);
  const outgoing = sortNames(state.outgoing);
  const sig = [lang(), state.view, state.dmUser,
    names.map((n) => [n, state.friends.get(n).online, state.dms.get(n) ? state.dms.get(n).unread : 0,
      state.dms.get(n) ? state.dms.get(n).mentions : 0].join(':')).join('\u0001'),
    incoming.join('\u0001'), outgoing.join('\u0001')].join('|');
  if (!force && sig === state.rendered.friends) return;
  state.rendered.friends = sig;

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

/** Applies a friendship state (as the server reports it from this user's side). */
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

/**
 * A `friend` frame: a change from the other user (incoming, friends, none)
 * or from this user's other tabs (outgoing, friends, none).
 */
export function onFriendFrame(f) {
  const user = f.user;
  if (!user || typeof user !== 'string' || !state.user) return;
  const wasOutgoing = state.outgoing.has(user);
  const wasIncoming = state.incoming.has(user);
  const st = ['friends', 'incoming', 'outgoing'].includes(f.state) ? f.state : 'none';
  setFriendState(user, st);
  if (st === 'friends' && wasOutgoing) toast(t('friends.toastAccepted', { name: user }));
  else if (st === 'incoming' && !wasIncoming) toast(t('friends.toastRequest', { name: user }));
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

/* ---------- direct-message conversations ---------- */

/** Route #/dm/USER: false for no user or the user themself. */
export function routeDm(arg) {
  const user = decodePart(arg);
  if (!user || user === me()) return false;
  openDm(user);
  return true;
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

/** The history address of a conversation for query (before=, limit=). */
export const dmPath = (conv, query) => `/api/dm/${encodeURIComponent(conv.user)}/messages?${query}`;

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

/** After a reconnect: direct messages sent while the socket was down. */
export async function catchUpDm(conv) {
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

/** A `dm` frame, from any tab or instance of either user; each is shown once (by id). */
export function onDmFrame(f) {
  if (typeof f.id !== 'number' || !state.user) return;
  const peer = f.sender === me() ? f.to : f.sender;
  if (!peer || typeof peer !== 'string') return;
  addMessage(getDm(peer), f, false);
}

/** Empties the friends section (the session ended). */
export function clearDms() {
  $('friend-list').replaceChildren();
  $('incoming-requests').replaceChildren();
  $('outgoing-requests').replaceChildren();
  $('add-friend-input').value = '';
  setAddFriendMessage('', '');
}

export function bindDms() {
  $('add-friend-form').addEventListener('submit', onAddFriend);
  $('friends-section').addEventListener('click', onFriendsClick);
}
