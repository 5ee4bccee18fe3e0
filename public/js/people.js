// People: display names, the profile card, the add-friend autocomplete and
// the profile settings (display name, e-mail).
//
// Display names come from the API's user objects (GET /api/friends, GET
// /api/users?q=, GET /api/me); names() remembers them by username and the
// lists show them with the username as secondary text. A name not known yet
// is looked up once with GET /api/users?q=NAME (an exact match among the
// prefix results); when answers arrive, the hook set by main.js re-renders
// the lists. Text stays text: no innerHTML (see dom.js).
import { $, h } from './dom.js';
import { api, apiAuth, apiErrorText } from './http.js';
import { avatarEl } from './files.js';
import { lang } from './i18n.js';
import { announce } from './notice.js';
import { dmHash } from './router.js';
import { state, me } from './state.js';

const TEXT = {
  zh: {
    profileOf: '{name} 的资料',
    online: '在线',
    offline: '离线',
    sendDm: '发私信',
    addFriend: '加为好友',
    requestSent: '已发送好友请求',
    friendsAlready: '你们已经是好友',
    you: '这是你自己',
    close: '关闭',
    suggestions: '找到的用户',
    noMatch: '没有找到这个名字开头的用户',
    profileTitle: '个人资料',
    displayName: '显示名称',
    displayNameHint: '1–32 个字符，可以用中文和空格；留空则显示用户名。',
    email: '电子邮箱（可选）',
    emailHint: '用于离线消息的邮件提醒；留空则不发邮件。',
    save: '保存资料',
    saved: '资料已保存。',
    badName: '显示名称需为 1–32 个字符，不能包含控制字符或换行。',
    badEmail: '请输入有效的电子邮箱地址，或留空。',
    openProfile: '查看 {name} 的资料',
  },
  en: {
    profileOf: 'Profile of {name}',
    online: 'Online',
    offline: 'Offline',
    sendDm: 'Send a message',
    addFriend: 'Add friend',
    requestSent: 'Friend request sent',
    friendsAlready: 'You are friends',
    you: 'This is you',
    close: 'Close',
    suggestions: 'People found',
    noMatch: 'Nobody’s name starts with that',
    profileTitle: 'Profile',
    displayName: 'Display name',
    displayNameHint: '1–32 characters, any script, spaces allowed; empty shows your username.',
    email: 'Email (optional)',
    emailHint: 'For mail about messages you missed; leave empty for no mail.',
    save: 'Save profile',
    saved: 'Profile saved.',
    badName: 'Display names are 1–32 characters without control characters or line breaks.',
    badEmail: 'Enter a valid email address, or leave it empty.',
    openProfile: 'Show the profile of {name}',
  },
};

function tp(key, params) {
  let s = (TEXT[lang()] || TEXT.en)[key] ?? TEXT.en[key] ?? key;
  if (params) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in params ? String(params[k]) : m));
  return s;
}

/* ---------- display names ---------- */

const known = new Map();     // username -> {display_name, online?, at}
const asked = new Map();     // username -> when it was last looked up (ms)
const STALE_MS = 30_000;     // a name shown is looked up again after this
const RETRY_MS = 2_000;      // a lookup that failed is tried again after this, doubling
const failures = new Map();  // username -> lookups failed in a row
let hooks = { changed: () => {} };

/** main.js: changed() re-renders the lists when display names arrive. */
export function setPeopleHooks(h2) { hooks = Object.assign(hooks, h2); }

/** Remembers the display names of user objects (any API answer). */
export function learn(users) {
  let changed = false;
  for (const u of users || []) {
    if (!u || typeof u.username !== 'string') continue;
    const dn = typeof u.display_name === 'string' && u.display_name ? u.display_name : u.username;
    const old = known.get(u.username);
    // files: the avatar (a URL, or null), when the object has one.
    const avatar = 'avatar' in u ? (u.avatar || null) : (old ? old.avatar : null);
    if (!old || old.display_name !== dn || old.avatar !== avatar) changed = true;
    known.set(u.username, { display_name: dn, online: u.online, at: Date.now(), avatar });
  }
  return changed;
}

/** files: the avatar URL of username (null: none, or not known yet). */
export function avatarOf(username) {
  if (state.user && username === me()) return state.user.avatar || null;
  const k = known.get(username);
  return k ? k.avatar : null;
}

/** files: a `user_updated` frame: a user's display name or avatar changed. */
export function onUserUpdated(f) {
  const u = f && f.user;
  if (!u || typeof u.username !== 'string') return;
  if (state.user && u.username === me()) state.user = Object.assign({}, state.user, { display_name: u.display_name, avatar: u.avatar });
  learn([u]);
  hooks.changed();
}

let pending = null;
/** The display name of username (the username itself until known). */
export function displayName(username) {
  if (state.user && username === me() && state.user.display_name) return state.user.display_name;
  const k = known.get(username);
  const now = Date.now();
  if ((!k || now - k.at > STALE_MS) && now - (asked.get(username) || 0) > STALE_MS && state.user) {
    asked.set(username, now);
    pending = pending || new Set();
    pending.add(username);
    queueMicrotask(flushLookups);
  }
  return k ? k.display_name : username;
}

/** The users named name (an empty list: none), or null if the lookup failed. */
async function lookup(name) {
  try {
    const d = await apiAuth('GET', '/api/users?q=' + encodeURIComponent(name));
    return (d && d.users ? d.users : []).filter((u) => u.username === name);
  } catch (_) { return null; }
}

async function flushLookups() {
  if (!pending) return;
  const all = [...pending];
  const names = all.slice(0, 50);
  // More than 50 at once: the rest go in the next round.
  pending = all.length > 50 ? new Set(all.slice(50)) : null;
  if (pending) queueMicrotask(flushLookups);
  const found = await Promise.all(names.map(lookup));
  // A failed lookup (the server busy or away) is tried again soon, not
  // after STALE_MS: the name is asked for again by the next render.
  let retry = 0;
  names.forEach((name, i) => {
    if (found[i] !== null) {
      failures.delete(name);
      return;
    }
    const n = (failures.get(name) || 0) + 1;
    failures.set(name, n);
    const wait = Math.min(STALE_MS, RETRY_MS * 2 ** (n - 1));
    asked.set(name, Date.now() - STALE_MS + wait);
    retry = retry ? Math.min(retry, wait) : wait;
  });
  if (learn(found.filter((f) => f !== null).flat())) hooks.changed();
  if (retry) setTimeout(() => hooks.changed(), retry + 10);
}

/** A name for a list: the display name, and the username as secondary text when they differ. */
export function nameNodes(username) {
  const dn = displayName(username);
  return dn === username
    ? [h('span', { class: 'person-name text-truncate', 'data-testid': 'display-name' }, username)]
    : [h('span', { class: 'person-name text-truncate', 'data-testid': 'display-name' }, dn),
      h('span', { class: 'person-username small text-muted ms-1 text-truncate', 'data-testid': 'person-username' }, '@' + username)];
}

/** A button opening the profile card of username (for lists and message senders). */
export function profileButton(username, ...children) {
  return h('button', {
    type: 'button', class: 'person-button', 'data-action': 'profile', 'data-user': username,
    'aria-haspopup': 'dialog', title: tp('openProfile', { name: displayName(username) }),
    'data-testid': 'profile-button',
  }, ...(children.length ? children : nameNodes(username)));
}

/* ---------- the profile card ---------- */

let card = null;
let cardReturn = null;

function closeCard() {
  if (!card) return;
  if (card.open) card.close();
  if (cardReturn && document.contains(cardReturn)) cardReturn.focus();
  cardReturn = null;
}

/** Opens the profile card of username. */
export async function showProfile(username, from) {
  if (!card) {
    card = h('dialog', { id: 'profile-card', class: 'profile-card', 'data-testid': 'profile-card',
      'aria-labelledby': 'profile-card-name' });
    card.addEventListener('cancel', (e) => { e.preventDefault(); closeCard(); });
    card.addEventListener('click', (e) => { if (e.target === card) closeCard(); });
    // Escape closes it wherever the focus went (a button just disabled).
    document.addEventListener('keydown', (e) => { if (e.key === 'Escape' && card.open) { e.preventDefault(); closeCard(); } });
    document.body.append(card);
  }
  cardReturn = from || document.activeElement;
  renderCard(username);
  if (!card.open) card.showModal();
  // Fresh online state and display name.
  const found = await lookup(username);
  if (found.length && learn(found)) hooks.changed();
  if (card.open && card.dataset.user === username) renderCard(username, found[0]);
}

function renderCard(username, fresh) {
  const k = known.get(username) || {};
  const online = fresh ? !!fresh.online : (state.online && state.online.has ? state.online.has(username) : !!k.online);
  const self = username === me();
  const friend = state.friends && state.friends.has(username);
  const outgoing = state.outgoing && state.outgoing.has(username);
  card.dataset.user = username;
  const status = h('div', { class: 'small profile-status', 'data-testid': 'profile-online', 'data-online': online ? 'true' : 'false' },
    h('span', { class: online ? 'online-dot' : 'offline-dot', 'aria-hidden': 'true' }), ' ', tp(online ? 'online' : 'offline'));
  const actions = h('div', { class: 'profile-actions d-flex flex-wrap gap-2 mt-3' });
  if (self) {
    actions.append(h('p', { class: 'small mb-0' }, tp('you')));
  } else {
    if (friend) {
      const dm = h('a', { class: 'btn btn-primary btn-sm', href: dmHash(username), 'data-testid': 'profile-dm' }, tp('sendDm'));
      dm.addEventListener('click', () => { if (card.open) card.close(); });
      actions.append(dm);
    }
    if (!friend) {
      const add = h('button', { type: 'button', class: 'btn btn-outline-primary btn-sm', 'data-testid': 'profile-add-friend',
        disabled: outgoing }, tp(outgoing ? 'requestSent' : 'addFriend'));
      add.addEventListener('click', async () => {
        add.disabled = true;
        try {
          const d = await apiAuth('POST', '/api/friends', { username });
          const st = d && d.state;
          add.textContent = tp(st === 'friends' ? 'friendsAlready' : 'requestSent');
          announce(add.textContent);
          closeBtn.focus();
        } catch (err) {
          add.disabled = false;
          msg.textContent = apiErrorText(err);
        }
      });
      actions.append(add);
    }
  }
  const msg = h('div', { class: 'small text-danger mt-2', role: 'alert', 'data-testid': 'profile-error' });
  const closeBtn = h('button', { type: 'button', class: 'btn-close profile-close', 'aria-label': tp('close'), 'data-testid': 'profile-close' });
  closeBtn.addEventListener('click', closeCard);
  card.replaceChildren(h('div', { class: 'card-body' },
    h('div', { class: 'd-flex align-items-start' },
      avatarEl(username, displayName(username), avatarOf(username), 'lg'),
      h('div', { class: 'flex-grow-1 ms-2 min-w-0' },
        h('h2', { id: 'profile-card-name', class: 'h5 mb-0 text-break', 'data-testid': 'profile-display-name' }, displayName(username)),
        h('div', { class: 'small text-muted text-break', 'data-testid': 'profile-username' }, '@' + username),
        status),
      closeBtn),
    actions, msg));
  (actions.querySelector('a,button:not([disabled])') || closeBtn).focus();
}


/* ---------- the add-friend autocomplete ---------- */

let acTimer = 0;
let acSeq = 0;

function acList() { return $('add-friend-suggestions'); }

function hideSuggestions() {
  const list = acList();
  if (!list) return;
  list.hidden = true;
  list.replaceChildren();
  $('add-friend-input').setAttribute('aria-expanded', 'false');
}

async function suggest() {
  const input = $('add-friend-input');
  const q = input.value.trim();
  const seq = ++acSeq;
  if (!q) { hideSuggestions(); return; }
  let users = [];
  try {
    const d = await apiAuth('GET', '/api/users?q=' + encodeURIComponent(q));
    users = (d && d.users) || [];
  } catch (_) { users = []; }
  if (seq !== acSeq) return;   // a newer query is on its way
  if (learn(users)) hooks.changed();
  users = users.filter((u) => u.username !== me());
  const list = acList();
  list.replaceChildren(...(users.length ? users.map((u, i) => h('li', {
    id: 'add-friend-opt-' + i, role: 'option', class: 'suggestion', 'data-user': u.username, 'data-testid': 'friend-suggestion',
    'aria-selected': 'false',
  }, h('span', { class: u.online ? 'online-dot' : 'offline-dot', 'aria-hidden': 'true' }),
  h('span', { class: 'person-name' }, u.display_name || u.username),
  h('span', { class: 'person-username small text-muted ms-1' }, '@' + u.username)))
    : [h('li', { class: 'suggestion-empty small text-muted', 'data-testid': 'friend-suggestion-empty' }, tp('noMatch'))]));
  list.hidden = false;
  input.setAttribute('aria-expanded', 'true');
}

function pick(li) {
  const input = $('add-friend-input');
  input.value = li.dataset.user;
  hideSuggestions();
  input.focus();
}

function moveActive(delta) {
  const opts = [...acList().querySelectorAll('[role=option]')];
  if (!opts.length) return;
  let i = opts.findIndex((o) => o.getAttribute('aria-selected') === 'true');
  if (i >= 0) opts[i].setAttribute('aria-selected', 'false');
  i = (i + delta + opts.length) % opts.length;
  opts[i].setAttribute('aria-selected', 'true');
  $('add-friend-input').setAttribute('aria-activedescendant', opts[i].id);
}

function bindAutocomplete() {
  const input = $('add-friend-input');
  const form = $('add-friend-form');
  if (!input || !form) return;
  const list = h('ul', { id: 'add-friend-suggestions', class: 'friend-suggestions list-unstyled', role: 'listbox',
    'aria-label': tp('suggestions'), 'data-testid': 'friend-suggestions', hidden: true });
  // Inside the input group the list would break the layout: after it.
  input.closest('.input-group').after(list);
  input.setAttribute('role', 'combobox');
  input.setAttribute('aria-autocomplete', 'list');
  input.setAttribute('aria-controls', list.id);
  input.setAttribute('aria-expanded', 'false');
  input.addEventListener('input', () => { clearTimeout(acTimer); acTimer = setTimeout(suggest, 150); });
  input.addEventListener('keydown', (e) => {
    if (list.hidden) return;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') { e.preventDefault(); moveActive(e.key === 'ArrowDown' ? 1 : -1); }
    else if (e.key === 'Escape') { e.preventDefault(); hideSuggestions(); }
    else if (e.key === 'Enter') {
      const sel = list.querySelector('[aria-selected=true]');
      if (sel) { e.preventDefault(); pick(sel); }
    }
  });
  list.addEventListener('mousedown', (e) => e.preventDefault());   // keep the focus in the input
  list.addEventListener('click', (e) => { const li = e.target.closest('[role=option]'); if (li) pick(li); });
  input.addEventListener('blur', () => setTimeout(hideSuggestions, 150));
  form.addEventListener('submit', () => { clearTimeout(acTimer); acSeq++; hideSuggestions(); });
}

/* ---------- profile settings (on the password page) ---------- */

function bindProfileForm() {
  const pw = $('password-form');
  if (!pw || $('profile-form')) return;
  const form = h('form', { id: 'profile-form', class: 'auth-card card mb-3', 'data-testid': 'profile-form', novalidate: true },
    h('div', { class: 'card-body' },
      h('h2', { id: 'profile-title', class: 'h4 mb-3' }),
      h('div', { id: 'profile-status', class: 'alert alert-success', role: 'status', 'data-testid': 'profile-saved', hidden: true }),
      h('div', { class: 'mb-3' },
        h('label', { for: 'profile-display-name', id: 'profile-display-name-label', class: 'form-label' }),
        h('input', { id: 'profile-display-name', class: 'form-control', type: 'text', maxlength: 64, autocomplete: 'nickname',
          'data-testid': 'profile-display-name-input', 'aria-describedby': 'profile-display-name-hint profile-display-name-error' }),
        h('div', { id: 'profile-display-name-hint', class: 'form-text' }),
        h('div', { id: 'profile-display-name-error', class: 'invalid-feedback', 'data-testid': 'profile-display-name-error' })),
      h('div', { class: 'mb-3' },
        h('label', { for: 'profile-email', id: 'profile-email-label', class: 'form-label' }),
        h('input', { id: 'profile-email', class: 'form-control', type: 'email', autocomplete: 'email',
          'data-testid': 'profile-email-input', 'aria-describedby': 'profile-email-hint profile-email-error' }),
        h('div', { id: 'profile-email-hint', class: 'form-text' }),
        h('div', { id: 'profile-email-error', class: 'invalid-feedback', 'data-testid': 'profile-email-error' })),
      h('button', { id: 'profile-submit', class: 'btn btn-primary w-100', type: 'submit', 'data-testid': 'profile-submit' })));
  pw.before(form);
  form.addEventListener('submit', onProfileSubmit);
  renderProfileText();
}

/** Fills the profile form's labels (language) and, with fill, its values. */
export function renderProfileText(fill = false) {
  if (!$('profile-form')) return;
  $('profile-title').textContent = tp('profileTitle');
  $('profile-display-name-label').textContent = tp('displayName');
  $('profile-display-name-hint').textContent = tp('displayNameHint');
  $('profile-email-label').textContent = tp('email');
  $('profile-email-hint').textContent = tp('emailHint');
  $('profile-submit').textContent = tp('save');
  if (fill && state.user) {
    const u = state.user;
    $('profile-display-name').value = u.display_name && u.display_name !== u.username ? u.display_name : '';
    $('profile-display-name').placeholder = u.username;
    $('profile-email').value = u.email || '';
    $('profile-status').hidden = true;
  }
}

/** The password page was shown: fresh values in the profile form. */
export async function showProfileForm() {
  renderProfileText(true);
  try {
    const d = await apiAuth('GET', '/api/me');
    if (d && d.user && state.user) { state.user = Object.assign({}, state.user, d.user); renderProfileText(true); }
  } catch (_) { /* the values known stay */ }
}

function setErr(id, text) {
  const input = $(id);
  input.classList.toggle('is-invalid', !!text);
  input.setAttribute('aria-invalid', text ? 'true' : 'false');
  $(id + '-error').textContent = text || '';
}

async function onProfileSubmit(e) {
  e.preventDefault();
  const btn = $('profile-submit');
  if (btn.disabled) return;
  $('profile-status').hidden = true;
  setErr('profile-display-name', '');
  setErr('profile-email', '');
  const name = $('profile-display-name').value.trim();
  const email = $('profile-email').value.trim();
  // eslint-disable-next-line no-control-regex
  if ([...name].length > 32 || /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(name)) {
    setErr('profile-display-name', tp('badName'));
    $('profile-display-name').focus();
    return;
  }
  if (email && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) {
    setErr('profile-email', tp('badEmail'));
    $('profile-email').focus();
    return;
  }
  btn.disabled = true;
  try {
    const d = await api('PATCH', '/api/me', { display_name: name || null, email });
    if (d && d.user && state.user) state.user = Object.assign({}, state.user, d.user);
    if (state.user) learn([state.user]);
    renderProfileText(true);
    $('profile-status').textContent = tp('saved');
    $('profile-status').hidden = false;
    announce(tp('saved'));
    hooks.changed();
  } catch (err) {
    if (err.code === 'invalid_display_name') { setErr('profile-display-name', tp('badName')); $('profile-display-name').focus(); }
    else if (err.code === 'invalid_email') { setErr('profile-email', tp('badEmail')); $('profile-email').focus(); }
    else setErr('profile-display-name', apiErrorText(err));
  } finally {
    btn.disabled = false;
  }
}

/* ---------- binding ---------- */

/** Once, at start: the autocomplete, the profile form and the card's clicks. */
export function bindPeople() {
  bindAutocomplete();
  bindProfileForm();
  // Any name marked as a profile button, anywhere (lists, message senders).
  document.addEventListener('click', (e) => {
    const b = e.target.closest && e.target.closest('[data-action="profile"][data-user]');
    if (!b) return;
    e.preventDefault();
    showProfile(b.dataset.user, b);
  });
}
