// Search: the sidebar's search form (optionally within the room in view), the
// results view with the match highlighted, and opening a result in its room
// or conversation (room.js brings the message into view).
import { $, h, setFormError, timeEl } from '../dom.js';
import { t } from '../i18n.js';
import { apiAuth, apiErrorText } from '../http.js';
import { showNotice } from '../notice.js';
import { updateTitle } from '../notify.js';
import { decodePart, dmHash, route, showView } from '../router.js';
import { state, me, roomName, currentRoom } from '../state.js';
import { renderFriends } from './dms.js';
import { renderRoomList } from './lobby.js';

const SEARCH_EXCERPT = 280;   // longer result texts are cut around the match

/** The scope checkbox is offered while a room is in view. */
export function updateSearchScope() {
  const room = currentRoom();
  const wrap = $('search-scope-wrap');
  wrap.hidden = !room;
  if (room) $('search-in-room-label').textContent = t('search.inRoom', { room: roomName(room) });
  else $('search-in-room').checked = false;
}

function onSearchSubmit(e) {
  e.preventDefault();
  const input = $('search-input');
  const q = input.value.trim();
  if (!q) { input.focus(); return; }
  const room = currentRoom();
  const scoped = room && $('search-in-room').checked ? room.id : null;
  const hash = '#/search/' + encodeURIComponent(q) + (scoped ? '/' + scoped : '');
  state.search = null;   // a new submit always asks the server again
  if (location.hash === hash) route(); else location.hash = hash;
}

/** Route #/search/Q[/ROOM]: false for an empty query. */
export function routeSearch(arg, arg2) {
  const q = decodePart(arg).trim();
  if (!q) return false;
  showSearch(q, arg2 ? Number(arg2) || null : null);
  return true;
}

function showSearch(q, roomId) {
  state.current = null;
  state.dmUser = null;
  showView('search');
  $('search-input').value = q;
  const s = state.search;
  if (!s || s.q !== q || s.room !== roomId) runSearch(q, roomId);
  else renderSearch();
  renderRoomList();
  renderFriends();
  updateTitle();
}

async function runSearch(q, roomId) {
  // This search is current while state.search is this object: a newer
  // search or the end of the session replaces it.
  const s = { q, room: roomId, results: null, loading: true, error: '' };
  state.search = s;
  renderSearch();
  try {
    let path = '/api/search?q=' + encodeURIComponent(q);
    if (roomId) path += '&room=' + roomId;
    const d = await apiAuth('GET', path);
    if (state.search !== s) return;
    const list = ((d && d.messages) || []).filter((m) => m && typeof m.id === 'number');
    // Newest first; room and direct-message ids are separate sequences, so by time.
    list.sort((a, b) => (b.ts - a.ts) || (b.id - a.id));
    s.results = list;
  } catch (err) {
    if (state.search !== s) return;
    s.error = err.code === 'network' ? t('err.network') : apiErrorText(err);
  }
  s.loading = false;
  renderSearch();
}

const asciiLower = (s) => s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));

// Appends text with every match of q (ASCII case-insensitive, as the server
// matches) wrapped in <mark>; text nodes only.
function appendHighlighted(parent, text, q) {
  const hay = asciiLower(text);
  const needle = asciiLower(q);
  let pos = 0;
  if (needle) {
    for (let i = hay.indexOf(needle); i >= 0; i = hay.indexOf(needle, pos)) {
      if (i > pos) parent.append(text.slice(pos, i));
      parent.append(h('mark', {}, text.slice(i, i + needle.length)));
      pos = i + needle.length;
    }
  }
  if (pos < text.length) parent.append(text.slice(pos));
}

// A long text cut to a window around its first match.
function excerpt(text, q) {
  if (text.length <= SEARCH_EXCERPT) return text;
  const i = Math.max(0, asciiLower(text).indexOf(asciiLower(q)));
  let start = Math.max(0, i - 100);
  let end = Math.min(text.length, start + SEARCH_EXCERPT);
  const low = (k) => { const c = text.charCodeAt(k); return c >= 0xdc00 && c <= 0xdfff; };
  if (start > 0 && low(start)) start -= 1;
  if (end < text.length && low(end)) end += 1;
  return (start > 0 ? '…' : '') + text.slice(start, end) + (end < text.length ? '…' : '');
}

function resultWhere(m) {
  if (m.to !== undefined && m.room === undefined) {
    const partner = m.sender === me() ? m.to : m.sender;
    return { kind: 'dm', partner, label: t('dm.with', { name: partner }) };
  }
  const room = state.rooms.get(m.room);
  return { kind: 'room', room: m.room, label: '#' + (room ? roomName(room) : String(m.room)) };
}

function searchItem(m, q) {
  const where = resultWhere(m);
  const text = h('span', { class: 'search-hit-text', 'data-testid': 'search-text' });
  const full = String(m.text ?? '');
  appendHighlighted(text, excerpt(full, q), q);
  return h('li', {
    'data-id': m.id, 'data-kind': where.kind, 'data-room': where.kind === 'room' ? m.room : null,
    'data-user': where.kind === 'dm' ? where.partner : null, 'data-testid': 'search-result',
  },
  h('button', { type: 'button', class: 'search-hit', 'data-action': 'open-result' },
    h('span', { class: 'search-hit-meta' },
      h('span', { class: 'search-where', 'data-testid': 'search-where' }, where.label),
      h('span', { class: 'msg-sender' }, String(m.sender || '')),
      timeEl(m.ts)),
    text));
}

export function renderSearch() {
  const s = state.search;
  if (!s) return;
  const scopeRoom = s.room ? state.rooms.get(s.room) : null;
  $('search-title').textContent = t('search.title', { q: s.q });
  $('search-scope').textContent = s.room
    ? t('search.scopeRoom', { room: scopeRoom ? roomName(scopeRoom) : String(s.room) })
    : t('search.scopeAll');
  $('search-all').hidden = !s.room;
  setFormError('search-error', s.error);
  let status = '';
  if (s.loading) status = t('search.loading');
  else if (s.results) status = s.results.length ? t('search.count', { n: s.results.length }) : t('search.none', { q: s.q });
  $('search-status').textContent = status;
  $('search-results').setAttribute('aria-busy', s.loading ? 'true' : 'false');
  $('search-results').replaceChildren(...(s.results || []).map((m) => searchItem(m, s.q)));
}

/** Drops a deleted message from the results. */
export function removeSearchResult(kind, id) {
  const s = state.search;
  if (!s || !s.results) return;
  const before = s.results.length;
  s.results = s.results.filter((m) => !(m.id === id && resultWhere(m).kind === kind));
  if (s.results.length !== before && state.view === 'search') renderSearch();
}

// Opens the result's room or conversation and brings the message into view.
function onSearchResultsClick(e) {
  const btn = e.target.closest('button[data-action="open-result"]');
  if (!btn) return;
  const li = btn.closest('li');
  const id = Number(li.dataset.id);
  if (li.dataset.kind === 'dm') {
    const user = li.dataset.user;
    state.jump = { key: 'dm:' + user, id, pages: 0 };
    location.hash = dmHash(user);
  } else {
    const roomId = Number(li.dataset.room);
    if (!state.rooms.has(roomId)) { showNotice(t('room.notFound'), 'warning'); return; }
    state.jump = { key: 'room:' + roomId, id, pages: 0 };
    location.hash = '#/room/' + roomId;
  }
}

/** Empties the results and the search box (the session ended). */
export function clearSearch() {
  $('search-results').replaceChildren();
  $('search-input').value = '';
}

export function bindSearch() {
  $('search-form').addEventListener('submit', onSearchSubmit);
  $('search-results').addEventListener('click', onSearchResultsClick);
  $('search-all').addEventListener('click', () => {
    const s = state.search;
    if (s) location.hash = '#/search/' + encodeURIComponent(s.q);
  });
}
