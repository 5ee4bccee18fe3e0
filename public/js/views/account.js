// The account: the login and register forms, the password view, and the user
// menu in the header (password, logout, the e-mail notification switch).
import { $, setFieldError, setFormError } from '../dom.js';
import { t } from '../i18n.js';
import { api, apiAuth, apiErrorText } from '../http.js';
import { usernameOk } from '../limits.js';
import { announce, showNotice } from '../notice.js';
import { updateNotifyButton, updateTitle } from '../notify.js';
import { showView } from '../router.js';
import { state } from '../state.js';
import { logout, startSession } from '../session.js';
import { renderFriends } from './dms.js';
import { renderRoomList } from './lobby.js';
import { bindChannels, fillChannels } from './channels.js';

const REGISTER_FIELD = {
  invalid_username: 'register-username',
  username_taken: 'register-username',
  invalid_email: 'register-email',
  weak_password: 'register-password',
};

/* ---------- views ---------- */

export function showLogin() {
  showView('login');
  const note = $('login-notice');
  note.hidden = !state.loginNotice;
  note.textContent = state.loginNotice || '';
  const f = $('login-username');
  if (!f.value) f.focus(); else $('login-password').focus();
}

export function showRegister() {
  showView('register');
}

export function showPassword() {
  state.current = null;
  state.dmUser = null;
  state.jump = null;
  showView('password');
  fillChannels();  /* notification channels */
  renderRoomList();
  renderFriends();
  updateTitle();
  $('old-password').focus();
}

/* ---------- forms ---------- */

// Disables a submit button for the Retry-After period, counting down in the error box.
function lockout(btn, errorId, seconds) {
  const until = Date.now() + seconds * 1000;
  btn.disabled = true;
  const tick = () => {
    const left = Math.ceil((until - Date.now()) / 1000);
    if (left <= 0) {
      btn.disabled = false;
      setFormError(errorId, '');
      return;
    }
    setFormError(errorId, t('err.rate_limited_wait', { s: left }));
    setTimeout(tick, 1000);
  };
  tick();
}

function showApiFormError(err, errorId, btn) {
  if (err.code === 'rate_limited' && err.retryAfter > 0) lockout(btn, errorId, err.retryAfter);
  else setFormError(errorId, err.code === 'network' ? t('err.network') : apiErrorText(err));
}

async function onLogin(e) {
  e.preventDefault();
  const btn = $('login-submit');
  if (btn.disabled) return;
  setFormError('login-error', '');
  const username = $('login-username').value.trim();
  const password = $('login-password').value;
  if (!username || !password) {
    setFormError('login-error', t('err.required'));
    (username ? $('login-password') : $('login-username')).focus();
    return;
  }
  btn.disabled = true;
  let user = null;
  try {
    const d = await api('POST', '/api/login', { username, password });
    user = d && d.user;
  } catch (err) {
    btn.disabled = false;
    showApiFormError(err, 'login-error', btn);
    $('login-password').select();
    return;
  }
  btn.disabled = false;
  $('login-password').value = '';
  $('login-notice').hidden = true;
  if (user) await startSession(user);
}

async function onRegister(e) {
  e.preventDefault();
  const btn = $('register-submit');
  if (btn.disabled) return;
  setFormError('register-error', '');
  for (const id of ['register-username', 'register-email', 'register-password']) setFieldError(id, '');
  const username = $('register-username').value.trim();
  const email = $('register-email').value.trim();
  const password = $('register-password').value;
  const problems = [];
  if (!usernameOk(username)) problems.push(['register-username', t('err.invalid_username')]);
  if (email && !/^[^\s@]+@[^\s@]+$/.test(email)) problems.push(['register-email', t('err.invalid_email')]);
  const plen = new TextEncoder().encode(password).length;
  if (plen < 8 || plen > 128) problems.push(['register-password', t('err.weak_password')]);
  if (problems.length) {
    for (const [id, text] of problems) setFieldError(id, text);
    $(problems[0][0]).focus();
    return;
  }
  btn.disabled = true;
  try {
    await api('POST', '/api/register', { username, password, email });
  } catch (err) {
    btn.disabled = false;
    const field = REGISTER_FIELD[err.code];
    if (field) { setFieldError(field, apiErrorText(err)); $(field).focus(); } else showApiFormError(err, 'register-error', btn);
    return;
  }
  let user = null;
  try {
    const d = await api('POST', '/api/login', { username, password });
    user = d && d.user;
  } catch (err) {
    btn.disabled = false;
    showApiFormError(err, 'register-error', btn);
    return;
  }
  btn.disabled = false;
  $('register-form').reset();
  if (user) await startSession(user);
}

async function onPasswordChange(e) {
  e.preventDefault();
  const btn = $('password-submit');
  setFormError('password-error', '');
  $('password-success').hidden = true;
  for (const id of ['old-password', 'new-password', 'confirm-password']) setFieldError(id, '');
  const oldPw = $('old-password').value;
  const newPw = $('new-password').value;
  const confirmPw = $('confirm-password').value;
  const problems = [];
  if (!oldPw) problems.push(['old-password', t('err.required')]);
  const plen = new TextEncoder().encode(newPw).length;
  if (plen < 8 || plen > 128) problems.push(['new-password', t('err.weak_password')]);
  else if (newPw !== confirmPw) problems.push(['confirm-password', t('err.passwordMismatch')]);
  if (problems.length) {
    for (const [id, text] of problems) setFieldError(id, text);
    $(problems[0][0]).focus();
    return;
  }
  btn.disabled = true;
  try {
    await apiAuth('POST', '/api/password', { old_password: oldPw, new_password: newPw });
  } catch (err) {
    btn.disabled = false;
    if (err.code === 'wrong_password') { setFieldError('old-password', apiErrorText(err)); $('old-password').focus(); }
    else if (err.code === 'weak_password') { setFieldError('new-password', apiErrorText(err)); $('new-password').focus(); }
    else if (err.status !== 401) showApiFormError(err, 'password-error', btn);
    return;
  }
  btn.disabled = false;
  $('password-form').reset();
  const ok = $('password-success');
  ok.textContent = t('password.success');
  ok.hidden = false;
  ok.focus();
}

/* ---------- the user menu ---------- */

// The user menu is a disclosure: a button that shows a list of links.
function openUserMenu() {
  $('user-menu-list').classList.add('show');
  $('user-menu-btn').setAttribute('aria-expanded', 'true');
  const first = $('user-menu-list').querySelector('a, button');
  if (first) first.focus();
}

export function closeUserMenu(refocus) {
  const list = $('user-menu-list');
  if (!list.classList.contains('show')) return;
  list.classList.remove('show');
  $('user-menu-btn').setAttribute('aria-expanded', 'false');
  if (refocus) $('user-menu-btn').focus();
}

/** The header's signed-in parts: user menu, connection status, e-mail switch, bell. */
export function updateUserUi() {
  const u = state.user;
  $('user-menu').hidden = !u;
  $('conn-wrap').hidden = !u;
  $('current-user').textContent = u ? u.username : '';
  $('user-menu-btn').setAttribute('aria-label', u ? t('nav.userMenu', { name: u.username }) : '');
  const known = !!u && typeof u.email_notify === 'boolean';
  $('email-notify-item').hidden = !known;
  $('email-notify').checked = known && u.email_notify;
  updateNotifyButton();
}

/** Fetches the user's settings (email_notify) when the login answer lacked them. */
export async function loadMe() {
  const d = await apiAuth('GET', '/api/me');
  if (d && d.user && state.user && d.user.id === state.user.id) {
    state.user = Object.assign({}, state.user, d.user);
    updateUserUi();
  }
}

async function onEmailNotifyChange() {
  const box = $('email-notify');
  const want = box.checked;
  box.disabled = true;
  try {
    const d = await apiAuth('PATCH', '/api/me', { email_notify: want });
    const got = d && d.user && typeof d.user.email_notify === 'boolean' ? d.user.email_notify : want;
    if (state.user) state.user = Object.assign({}, state.user, d && d.user ? d.user : {}, { email_notify: got });
    announce(t(got ? 'settings.emailOn' : 'settings.emailOff'));
  } catch (err) {
    if (err.status !== 401) showNotice(apiErrorText(err));
  } finally {
    box.disabled = false;
    updateUserUi();
  }
}

export function bindAccount() {
  $('login-form').addEventListener('submit', onLogin);
  $('register-form').addEventListener('submit', onRegister);
  $('password-form').addEventListener('submit', onPasswordChange);
  $('logout-btn').addEventListener('click', () => { closeUserMenu(false); logout(); });
  $('user-menu-btn').addEventListener('click', () => {
    if ($('user-menu-list').classList.contains('show')) closeUserMenu(false); else openUserMenu();
  });
  $('user-menu-list').addEventListener('click', (e) => { if (e.target.closest('a')) closeUserMenu(false); });
  document.addEventListener('click', (e) => { if (!$('user-menu').contains(e.target)) closeUserMenu(false); });
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && $('user-menu-list').classList.contains('show')) closeUserMenu(true);
  });
  $('user-menu-list').addEventListener('keydown', onUserMenuKey);
  $('email-notify').addEventListener('change', onEmailNotifyChange);
  bindChannels();
}

// Arrow keys, Home and End move between the menu's items (wrapping around).
function onUserMenuKey(e) {
  if (!['ArrowDown', 'ArrowUp', 'Home', 'End'].includes(e.key)) return;
  const items = [...$('user-menu-list').querySelectorAll('a, button, input')]
    .filter((el) => !el.disabled && el.getClientRects().length > 0);
  if (!items.length) return;
  e.preventDefault();
  const i = items.indexOf(document.activeElement);
  let next;
  if (e.key === 'Home') next = 0;
  else if (e.key === 'End') next = items.length - 1;
  else if (e.key === 'ArrowDown') next = i < 0 ? 0 : (i + 1) % items.length;
  else next = i < 0 ? items.length - 1 : (i - 1 + items.length) % items.length;
  items[next].focus();
}
