// Hash routing and which section of the page is shown. Addresses:
//   #/login  #/register                      signed out
//   #/lobby  #/room/ID  #/dm/USER  #/search/Q[/ROOM]  #/password   signed in
// The views register their entry points with setRoutes(); a signed-in route
// that returns false (e.g. a room that does not exist) goes to the lobby.
import { $ } from './dom.js';
import { state } from './state.js';

// Sections of the page; a direct-message conversation uses the room view.
const VIEWS = ['loading', 'login', 'register', 'lobby', 'room', 'password', 'search'];
const VIEW_SECTION = { dm: 'room' };
const SHELL_VIEWS = ['lobby', 'room', 'dm', 'password', 'search'];

let signedOut = {};         // login(), register()
let signedIn = new Map();   // lobby(), room(arg), dm(arg), search(arg, arg2), password()
let viewShown = () => {};
let afterLogin = null;   // hash to return to after signing in

/** Sets the views' entry points: { signedOut: {login, register}, signedIn: {...}, viewShown }. */
export function setRoutes(routes) {
  signedOut = routes.signedOut;
  signedIn = new Map(Object.entries(routes.signedIn));
  viewShown = routes.viewShown;
}

/** Shows the section of view name (one of VIEWS, or 'dm') and records it as state.view. */
export function showView(name) {
  const section = VIEW_SECTION[name] || name;
  for (const v of VIEWS) $('view-' + v).hidden = v !== section;
  $('app-shell').hidden = !SHELL_VIEWS.includes(name);
  document.body.dataset.view = name;
  state.view = name;
  viewShown();
}

export const dmHash = (user) => '#/dm/' + encodeURIComponent(user);

export function decodePart(s) {
  try { return decodeURIComponent(s || ''); } catch (_) { return ''; }
}

export function parseHash() {
  const parts = location.hash.replace(/^#\/?/, '').split('/');
  return { name: parts[0] || '', arg: parts[1], arg2: parts[2] };
}

/** Replaces the address (no history entry) and shows it. */
export function redirect(hash) {
  history.replaceState(null, '', hash);
  route();
}

/** The address a signed-out user asked for, once (null when none). */
export function takeAfterLogin() {
  const target = afterLogin;
  afterLogin = null;
  return target;
}

/** Shows the view of the current address. */
export function route() {
  const { name, arg, arg2 } = parseHash();
  if (!state.user) {
    if (name === 'register') { signedOut.register(); return; }
    if (name !== 'login') {
      if (name && name !== 'lobby') afterLogin = location.hash;
      history.replaceState(null, '', '#/login');
    }
    signedOut.login();
    return;
  }
  const open = signedIn.get(name);
  if (!open || open(arg, arg2) === false) redirect('#/lobby');
}
