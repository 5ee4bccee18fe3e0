// Chat single-page front end: hash routing, REST calls to /api/* and one
// WebSocket at /ws, as native ES modules (no build step). This module wires
// them together and starts the app.
//
//   i18n.js catalogue.js   the language and its text
//   dom.js                 element helpers (text only ever as text nodes)
//   state.js limits.js     the one state object and its records
//   http.js ws.js          the API and the socket (reconnects, pending sends)
//   router.js notice.js notify.js   addresses and views, notices, title and notifications
//   session.js messages.js          a session's lifecycle; live changes to conversations
//   views/                 lobby, room (+ composer), dms (friends), search, admin, account
//
// The lower modules (everything outside views/, but session.js and
// messages.js) import no view; they reach the views through the hooks set
// here. Modules only define things when imported: nothing runs until init().
import { $ } from './dom.js';
import { applyI18n, lang, setLang } from './i18n.js';
import { onUnauthorized } from './http.js';
import { hideNotice } from './notice.js';
import { requestNotifications, updateTitle } from './notify.js';
import { route, setRoutes } from './router.js';
import { state, currentConv } from './state.js';
import { markOffline, reconnectNow, renderConnState, setSocketHooks } from './ws.js';
import {
  clearTyping, onAck, onErrorFrame, onJoined, onMessage, onMessageDeleted, onPresence, onTyping, scheduleRead,
} from './messages.js';
import { boot, onSocketOpen, sessionEnded } from './session.js';
import { bindAccount, showLogin, showPassword, showRegister, updateUserUi } from './views/account.js';
import { bindAdmin, renderAdmin, renderAdminUsers } from './views/admin.js';
import { bindComposer } from './views/composer.js';
import { bindDms, onDmFrame, onFriendFrame, renderFriends, routeDm } from './views/dms.js';
import {
  onOnline, onRoomDeleted, renderHomeTitle, renderOnline, renderRoomList, showLobby,
} from './views/lobby.js';
import { bindRoom, renderMembers, rerenderConversation, routeRoom } from './views/room.js';
import { bindSearch, renderSearch, routeSearch, updateSearchScope } from './views/search.js';
import { bindExtras, onDeleted, onEdited, onReaction } from './extras.js';
import { bindPeople, onUserUpdated, renderProfileText, setPeopleHooks, showProfileForm } from './people.js';
import { bindFiles, renderAvatarSection, renderFilesText, setAvatarHooks, setFilesHooks } from './files.js';
import { createPending, trySend } from './ws.js';
import { showPending } from './views/room.js';
import { bindRooms, onRoomAdded, onRoomOnline, onRoomRemoved, onRoomUpdated } from './rooms.js';

// Server frames by type.
const FRAMES = new Map([
  ['joined', onJoined],
  ['message', onMessage],
  ['ack', onAck],
  ['presence', onPresence],
  ['typing', onTyping],
  ['online', onOnline],
  ['room_deleted', onRoomDeleted],
  ['message_deleted', onDeleted],   // rooms and conversations (extras.js)
  ['reaction', onReaction],
  ['message_edited', onEdited],
  ['dm', onDmFrame],
  ['friend', onFriendFrame],
  ['error', onErrorFrame],
  ['user_updated', onUserUpdated],   // files: a profile changed
  // Rooms v2: the live room list and counts.
  ['room_added', onRoomAdded],
  ['room_updated', onRoomUpdated],
  ['room_removed', onRoomRemoved],
  ['room_online', onRoomOnline],
]);

function handleFrame(f) {
  const handle = FRAMES.get(f.type);
  if (handle) handle(f);
}

// Redraws everything in the language now in use.
function renderAll() {
  updateUserUi();
  renderConnState();
  renderRoomList(true);
  renderOnline();
  renderFriends(true);
  renderAdmin(true);
  renderAdminUsers();
  updateSearchScope();
  if (state.view === 'search') renderSearch();
  if (state.view === 'lobby' && state.user) renderHomeTitle();
  renderFilesText();   // files
  if (state.view === 'login') showLogin();
  rerenderConversation();
  renderProfileText();
  updateTitle();
}

function bindEvents() {
  // A notice belongs to the page it was shown on: moving on clears it.
  window.addEventListener('hashchange', () => { hideNotice(); route(); });
  $('lang-switch').addEventListener('click', () => { setLang(lang() === 'zh' ? 'en' : 'zh'); renderAll(); });
  $('notice-close').addEventListener('click', hideNotice);
  $('loading-retry').addEventListener('click', () => { boot(); });
  $('reconnect-now').addEventListener('click', reconnectNow);
  $('notify-btn').addEventListener('click', requestNotifications);
  bindAccount();
  bindAdmin();
  bindRoom();
  bindComposer();
  bindExtras();   // the reply bar and @mention autocomplete (extras.js)
  bindSearch();
  bindDms();
  bindPeople();
  // files: uploads go out as messages of their own; the avatar control.
  bindFiles();
  setFilesHooks({ send: (conv, f) => { const p = createPending(conv, ''); p.files = [f]; showPending(conv, p); trySend(p); } });
  setAvatarHooks({ saved: () => { updateUserUi(); rerenderConversation(); } });
  bindRooms();
  setPeopleHooks({ changed: () => { renderOnline(); renderMembers(); renderFriends(true); rerenderConversation(); } });

  document.addEventListener('visibilitychange', () => {
    if (document.hidden) return;
    const room = currentConv();
    if (room && room.unread) { room.unread = 0; room.mentions = 0; renderRoomList(); renderFriends(); updateTitle(); }
    if (room) scheduleRead(room);
    reconnectNow();
  });
  window.addEventListener('online', reconnectNow);
  window.addEventListener('offline', markOffline);
}

function init() {
  setRoutes({
    signedOut: { login: showLogin, register: showRegister },
    signedIn: { lobby: showLobby, room: routeRoom, dm: routeDm, search: routeSearch, password: () => { showPassword(); showProfileForm(); renderAvatarSection(); } },
    viewShown: updateSearchScope,
  });
  setSocketHooks({ frame: handleFrame, open: onSocketOpen, closed: clearTyping, ended: sessionEnded });
  onUnauthorized(() => { if (state.user) sessionEnded('expired'); });
  applyI18n();
  bindEvents();
  boot();
}

init();
