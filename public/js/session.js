// A signed-in session from start to end: asking the server who is signed in,
// loading what the app shows, keeping the socket, and the end (logout, or
// the server ending it), after which the state starts over.
import { $ } from './dom.js';
import { t } from './i18n.js';
import { api, apiAuth, apiErrorText } from './http.js';
import { clearNotices, showNotice } from './notice.js';
import { updateTitle } from './notify.js';
import { parseHash, redirect, route, showView, takeAfterLogin } from './router.js';
import {
  state, resetState, getDm, currentRoom, currentDm, clearConvTimers, restoreJoined,
} from './state.js';
import { flushPending, sendJoin, startSocket, stopSocket } from './ws.js';
import { cancelTypingTimer } from './messages.js';
import { clearAdmin } from './views/admin.js';
import { closeUserMenu, loadMe, updateUserUi } from './views/account.js';
import { clearComposer } from './views/composer.js';
import { catchUpDm, clearDms, loadFriends, renderFriends } from './views/dms.js';
import {
  cancelRoomsRefresh, clearLobby, loadOnline, loadRooms, renderRoomList,
} from './views/lobby.js';
import { clearRoomView } from './views/room.js';
import { clearSearch } from './views/search.js';

const ROOMS_REFRESH_MS = 20000;

let roomsInterval = null;

/** Asks the server who is signed in, then shows the app or the login view. */
export async function boot() {
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

/** Starts the session of user (just signed in, or found by boot). */
export async function startSession(user) {
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
  startSocket();
  clearInterval(roomsInterval);
  roomsInterval = setInterval(() => { if (state.user && !document.hidden) loadRooms().catch(() => {}); }, ROOMS_REFRESH_MS);
  const target = takeAfterLogin();
  const { name } = parseHash();
  if (target && (name === 'login' || name === 'register' || !name)) redirect(target);
  else if (name === 'login' || name === 'register' || !name) redirect('#/lobby');
  else route();
}

/**
 * Unread counts as the server keeps them (right across devices). Rooms and
 * conversations it does not list have none.
 */
async function loadUnread() {
  const d = await apiAuth('GET', '/api/unread');
  if (!state.user || !d) return;
  const rooms = new Map((d.rooms || []).map((r) => [r.room, Number(r.count) || 0]));
  const mentions = new Map((d.rooms || []).map((r) => [r.room, Number(r.mentions) || 0]));
  const dms = new Map((d.dms || []).map((r) => [r.user, Number(r.count) || 0]));
  const dmMentions = new Map((d.dms || []).map((r) => [r.user, Number(r.mentions) || 0]));
  for (const room of state.rooms.values()) {
    if (currentRoom() === room && !document.hidden) continue;
    room.unread = rooms.get(room.id) || 0;
    room.mentions = mentions.get(room.id) || 0;   // extras
  }
  for (const [user] of dms) if (typeof user === 'string') getDm(user);
  for (const conv of state.dms.values()) {
    if (currentDm() === conv && !document.hidden) continue;
    conv.unread = dms.get(conv.user) || 0;
    conv.mentions = dmMentions.get(conv.user) || 0;   // extras
  }
  renderRoomList();
  renderFriends();
  updateTitle();
}

/** A socket opened: subscribe again, send what waited, and (after an outage) catch up. */
export function onSocketOpen(reconnect) {
  for (const room of state.rooms.values()) if (room.joined) sendJoin(room);
  for (const conv of state.dms.values()) flushPending(conv);
  loadOnline().catch(() => {});
  if (reconnect) {
    loadRooms().catch(() => {});
    loadFriends().catch(() => {});
    for (const conv of state.dms.values()) catchUpDm(conv).catch(() => {});
  }
}

// Stops everything of the session and starts over with a fresh state and empty views.
function teardown() {
  stopSocket();
  clearInterval(roomsInterval);
  roomsInterval = null;
  cancelRoomsRefresh();
  cancelTypingTimer();
  for (const room of state.rooms.values()) clearConvTimers(room);
  for (const conv of state.dms.values()) clearConvTimers(conv);
  resetState();
  clearComposer();
  clearRoomView();
  clearLobby();
  clearDms();
  clearAdmin();
  clearSearch();
  clearNotices();
  closeUserMenu(false);
  updateUserUi();
  updateTitle();
}

/** The server ended the session: reason is 'expired', 'revoked' or 'banned'. */
export function sessionEnded(reason) {
  if (!state.user) return;
  teardown();
  state.loginNotice = t('session.' + reason);
  history.replaceState(null, '', '#/login');
  route();
}

export async function logout() {
  stopSocket();
  try { await api('POST', '/api/logout'); } catch (_) { /* the session may already be gone */ }
  teardown();
  state.loginNotice = t('session.loggedOut');
  history.replaceState(null, '', '#/login');
  route();
}
