// Replies, @mentions, reactions, edits and recall in rooms and direct
// messages (docs/PROTOCOL.md, "Replies, mentions, reactions, edits,
// recall"). The message view (views/room.js) calls decorateMessage() for
// each bubble and handleExtrasAction() for its buttons; the composer gets a
// reply bar and @mention autocomplete; the socket's reaction,
// message_edited and message_deleted frames change the records here.
import { $, h } from './dom.js';
import { t } from './i18n.js';
import { apiAuth } from './http.js';
import { displayName, learn } from './people.js';
import { state, me, currentConv, convKey } from './state.js';
import { isOpen, wsSend } from './ws.js';
import { onMessageDeleted } from './messages.js';
import { continueJump, replaceMessageEl } from './views/room.js';

// The picker's emoji: common ones, built in (no network).
export const QUICK_EMOJI = ['👍', '❤️', '😂', '😮', '😢', '🎉', '🙏', '👏', '🔥', '✅', '👀', '💯', '😄', '🤔', '👌', '🙌'];
const QUOTE_CHARS = 100;          // the server cuts quoted text here too
const MENTION_MAX = 8;            // suggestions shown
const MENTION_DELAY_MS = 120;     // typing pause before asking the server

const cutChars = (s, n) => [...String(s)].slice(0, n).join('');

/* ---------- message records ---------- */

/** The extras of a server message object, for the record kept of it. */
export function extrasOf(m) {
  const r = {};
  if (m.deleted === true) { r.deleted = true; r.text = ''; }
  if (m.reply_to && typeof m.reply_to === 'object' && Number.isInteger(m.reply_to.id)) {
    r.reply_to = { id: m.reply_to.id, sender: String(m.reply_to.sender || ''),
      text: typeof m.reply_to.text === 'string' ? m.reply_to.text : null };
  }
  if (Array.isArray(m.mentions)) r.mentions = m.mentions.filter((x) => typeof x === 'string');
  if (Array.isArray(m.reactions)) {
    r.reactions = m.reactions.filter((x) => x && typeof x.emoji === 'string' && Array.isArray(x.users))
      .map((x) => ({ emoji: x.emoji, users: x.users.map(String) }));
  }
  if (Number.isFinite(m.edited_ts)) r.edited_ts = m.edited_ts;
  return r;
}

/** A new message that mentions the user counts as a mention in its conversation's badge. */
export function noteMention(conv, m) {
  if (Array.isArray(m.mentions) && m.mentions.includes(me())) conv.mentions = (conv.mentions || 0) + 1;
}

/** The "@N" badge of a room or conversation with unread mentions. */
export function mentionBadge(n) {
  if (!(n > 0)) return null;
  return h('span', { class: 'badge rounded-pill mention-badge', 'data-testid': 'mention-badge',
    title: t('extras.mentions', { n }) },
  h('span', { 'aria-hidden': 'true' }, '@' + (n > 99 ? '99+' : String(n))),
  h('span', { class: 'visually-hidden' }, t('extras.mentions', { n })));
}

/* ---------- drawing ---------- */

// Wraps each @name of names in the text nodes of body (links left alone).
function highlightMentions(body, names) {
  if (!names || !names.length) return;
  const esc = names.map((n) => n.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&')).sort((a, b) => b.length - a.length);
  const re = new RegExp('@(' + esc.join('|') + ')', 'giu');
  const walker = document.createTreeWalker(body, NodeFilter.SHOW_TEXT);
  const nodes = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) if (!n.parentElement.closest('a')) nodes.push(n);
  for (const node of nodes) {
    const text = node.nodeValue;
    re.lastIndex = 0;
    if (!re.test(text)) continue;
    re.lastIndex = 0;
    const frag = document.createDocumentFragment();
    let at = 0;
    for (let m = re.exec(text); m; m = re.exec(text)) {
      frag.append(text.slice(at, m.index));
      const mine = m[1].toLowerCase() === String(me()).toLowerCase();
      frag.append(h('span', { class: 'mention' + (mine ? ' mention-me' : ''), 'data-testid': 'mention' }, m[0]));
      at = m.index + m[0].length;
    }
    frag.append(text.slice(at));
    node.replaceWith(frag);
  }
}

function reactionsEl(m) {
  if (!m.reactions || !m.reactions.length) return null;
  return h('div', { class: 'msg-reactions', 'data-testid': 'reactions' }, ...m.reactions.map((r) => {
    const mine = r.users.includes(me());
    const names = r.users.map((u) => displayName(u)).join(', ');
    return h('button', {
      type: 'button', class: 'reaction' + (mine ? ' mine' : ''), 'data-action': 'toggle-reaction',
      'data-emoji': r.emoji, 'aria-pressed': mine ? 'true' : 'false', tabindex: '-1', 'data-testid': 'reaction',
      title: t('extras.reactedBy', { names, emoji: r.emoji }), 'aria-label': t('extras.reactedBy', { names, emoji: r.emoji }),
    }, h('span', { 'aria-hidden': 'true' }, r.emoji), h('span', { class: 'reaction-count', 'aria-hidden': 'true' }, String(r.users.length)));
  }));
}

const actionBtn = (action, label, text, testid) => h('button', {
  type: 'button', class: 'btn btn-sm msg-' + action, 'data-action': action, tabindex: '-1',
  'data-testid': testid, 'aria-label': label, title: label,
}, text);

/** Adds a message's reply quote, mention highlights, edited mark, reactions and actions to its bubble. */
export function decorateMessage(bubble, m) {
  const meta = bubble.querySelector('.msg-meta');
  const body = bubble.querySelector('.msg-text');
  if (m.reply_to) {
    const r = m.reply_to;
    const quote = h('button', {
      type: 'button', class: 'msg-quote', 'data-action': 'jump-reply', 'data-id': r.id, tabindex: '-1',
      'data-testid': 'reply-quote', title: t('extras.jump'),
    }, h('span', { class: 'msg-quote-sender' }, displayName(r.sender)),
    h('span', { class: 'msg-quote-text' + (r.text === null ? ' gone' : '') }, r.text === null ? t('extras.quoteGone') : r.text));
    if (meta) meta.after(quote); else bubble.prepend(quote);
  }
  if (body) highlightMentions(body, m.mentions);
  if (meta && m.edited_ts) {
    meta.append(h('span', { class: 'msg-edited', 'data-testid': 'edited-mark',
      title: new Date(m.edited_ts).toLocaleString() }, t('extras.edited')));
  }
  const reactions = reactionsEl(m);
  if (reactions) bubble.append(reactions);
  let actions = bubble.querySelector('.msg-actions');
  if (!actions) { actions = h('span', { class: 'msg-actions' }); bubble.append(actions); }
  const mine = m.sender === me();
  const own = [
    actionBtn('reply', t('extras.replyAria'), t('extras.reply'), 'reply-button'),
    actionBtn('react-picker', t('extras.reactAria'), '☺', 'react-button'),
  ];
  if (mine) own.push(actionBtn('edit-message', t('extras.editAria'), t('extras.edit'), 'edit-button'));
  if (mine && m.to !== undefined) own.push(actionBtn('recall-dm', t('extras.recallAria'), t('extras.recall'), 'recall-button'));
  actions.prepend(...own);
}

/** The text of a recalled message's notice. */
export function recallText(m) {
  return m.sender === me() ? t('extras.recalledMine') : t('extras.recalled', { name: displayName(m.sender) });
}

/* ---------- actions on a message ---------- */

function where(conv) {
  return conv.kind === 'dm' ? { to: conv.user } : { room: conv.id };
}

function send(frame) {
  if (!isOpen()) return false;
  wsSend(frame);
  return true;
}

function react(conv, m, emoji) {
  const r = (m.reactions || []).find((x) => x.emoji === emoji);
  const on = !(r && r.users.includes(me()));
  send({ type: 'react', ...where(conv), id: m.id, emoji, on });
}

function openPicker(li, m) {
  const old = li.querySelector('.emoji-picker');
  if (old) { old.remove(); return; }
  const picker = h('div', { class: 'emoji-picker', role: 'group', 'aria-label': t('extras.reactAria'), 'data-testid': 'emoji-picker' },
    ...QUICK_EMOJI.map((e) => h('button', { type: 'button', class: 'emoji-choice', 'data-action': 'pick-emoji',
      'data-emoji': e, tabindex: '-1', 'aria-label': e, 'data-testid': 'emoji-choice' }, e)));
  li.querySelector('.msg-bubble').append(picker);
  picker.firstChild.focus();
  void m;
}

function startEdit(li, conv, m) {
  const body = li.querySelector('.msg-text');
  if (!body || li.querySelector('.edit-input')) return;
  const input = h('textarea', { class: 'form-control edit-input', 'data-testid': 'edit-input', rows: '2',
    'aria-label': t('extras.editAria') });
  input.value = m.text;
  const hint = h('div', { class: 'edit-hint small text-muted' }, t('extras.editHint'));
  body.replaceWith(input);
  input.after(hint);
  input.focus();
  input.addEventListener('keydown', (e) => {
    e.stopPropagation();   // the list's arrow keys are not for the editor
    if (e.isComposing || e.keyCode === 229) return;
    if (e.key === 'Escape') {
      e.preventDefault();
      replaceMessageEl(m);
      const again = $('message-list').querySelector(`li[data-id="${m.id}"]`);
      if (again) again.focus();
    } else if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      const text = input.value.trim();
      if (!text) return;
      if (text !== m.text) send({ type: 'edit', ...where(conv), id: m.id, text });
      replaceMessageEl(m);
      $('message-input').focus();
    }
  });
}

/** A button of a message; true when it was one of the extras'. */
export function handleExtrasAction(action, btn, li, conv) {
  const id = Number(li.dataset.id);
  const m = conv.msgs.get(id);
  switch (action) {
    case 'reply':
      if (m) setReply(conv, m);
      return true;
    case 'jump-reply':
      state.jump = { key: convKey(conv), id: Number(btn.dataset.id), pages: 0 };
      continueJump();
      return true;
    case 'react-picker':
      if (m) openPicker(li, m);
      return true;
    case 'pick-emoji':
    case 'toggle-reaction':
      if (m) react(conv, m, btn.dataset.emoji);
      if (action === 'pick-emoji') { const p = li.querySelector('.emoji-picker'); if (p) p.remove(); li.focus(); }
      return true;
    case 'edit-message':
      if (m) startEdit(li, conv, m);
      return true;
    case 'recall-dm':
      if (m && window.confirm(t('msg.confirmDelete'))) send({ type: 'delete', to: conv.user, id: m.id });
      return true;
    default:
      return false;
  }
}

/* ---------- frames ---------- */

function convOf(f) {
  if (f.to !== undefined) return state.dms.get(String(f.to)) || null;
  return state.rooms.get(f.room) || null;
}

function redraw(conv, m) {
  if (currentConv() === conv) replaceMessageEl(m);
}

// Replies in conv quoting message id get its new text (null: recalled).
function fixQuotes(conv, id, text) {
  for (const m of conv.msgs.values()) {
    if (m.reply_to && m.reply_to.id === id) {
      m.reply_to.text = text === null ? null : cutChars(text, QUOTE_CHARS);
      redraw(conv, m);
    }
  }
}

/** A `reaction` frame. */
export function onReaction(f) {
  const conv = convOf(f);
  const m = conv && conv.msgs.get(f.id);
  if (!m || typeof f.emoji !== 'string' || typeof f.user !== 'string') return;
  const list = m.reactions || (m.reactions = []);
  let r = list.find((x) => x.emoji === f.emoji);
  if (f.on) {
    if (!r) { r = { emoji: f.emoji, users: [] }; list.push(r); }
    if (!r.users.includes(f.user)) r.users.push(f.user);
  } else if (r) {
    r.users = r.users.filter((u) => u !== f.user);
    if (!r.users.length) list.splice(list.indexOf(r), 1);
  }
  redraw(conv, m);
}

/** A `message_edited` frame. */
export function onEdited(f) {
  const conv = convOf(f);
  if (!conv || typeof f.text !== 'string') return;
  const m = conv.msgs.get(f.id);
  if (m && !m.deleted) {
    m.text = f.text;
    m.edited_ts = f.edited_ts;
    redraw(conv, m);
  }
  fixQuotes(conv, f.id, f.text);
}

/** A `message_deleted` frame, of a room or (with "to") of a conversation. */
export function onDeleted(f) {
  if (f.to === undefined) onMessageDeleted(f);
  const conv = convOf(f);
  if (!conv) return;
  const m = conv.msgs.get(f.id);
  if (m && f.to !== undefined && !m.deleted) {
    m.deleted = true;
    m.text = '';
    redraw(conv, m);
  }
  if (m) { delete m.reactions; delete m.reply_to; }
  fixQuotes(conv, f.id, null);
}

/* ---------- the composer: the reply bar ---------- */

function setReply(conv, m) {
  state.reply = { key: convKey(conv), id: m.id, sender: m.sender, text: m.text };
  renderReplyBar();
  $('message-input').focus();
}

/** Forgets the reply being written. */
export function clearReply() {
  state.reply = null;
  renderReplyBar();
}

/** The message id the next send of conv replies to (taken: the bar closes). */
export function takeReply(conv) {
  const r = state.reply;
  if (!r || r.key !== convKey(conv)) return null;
  clearReply();
  return r.id;
}

/** Shows the reply bar when the conversation in view has a reply being written. */
export function renderReplyBar() {
  const bar = $('reply-bar');
  if (!bar) return;
  const conv = currentConv();
  const r = state.reply;
  const show = !!(r && conv && r.key === convKey(conv));
  bar.hidden = !show;
  if (!show) return;
  bar.querySelector('.reply-bar-text').replaceChildren(
    h('span', { class: 'reply-bar-label' }, t('extras.replyingTo', { name: displayName(r.sender) })),
    h('span', { class: 'reply-bar-quote' }, cutChars(r.text, QUOTE_CHARS)));
}

/* ---------- the composer: @mention autocomplete ---------- */

const ac = { open: false, items: [], active: 0, start: -1, query: '', timer: null, composing: false, seq: 0 };

function mentionQuery(input) {
  const caret = input.selectionStart;
  if (caret !== input.selectionEnd) return null;
  const before = input.value.slice(0, caret);
  const m = /(^|[\s(（「，,])@([^\s@]{1,32})$/u.exec(before);
  if (!m) return null;
  return { start: caret - m[2].length - 1, query: m[2] };
}

function closeMentions() {
  ac.open = false;
  ac.items = [];
  const list = $('mention-list');
  if (list) { list.hidden = true; list.replaceChildren(); }
  $('message-input').removeAttribute('aria-activedescendant');
  $('message-input').setAttribute('aria-expanded', 'false');
}

function renderMentions() {
  const list = $('mention-list');
  if (!ac.items.length) { closeMentions(); return; }
  ac.open = true;
  list.hidden = false;
  list.replaceChildren(...ac.items.map((u, i) => h('li', {
    id: 'mention-opt-' + i, role: 'option', class: 'mention-option' + (i === ac.active ? ' active' : ''),
    'aria-selected': i === ac.active ? 'true' : 'false', 'data-testid': 'mention-option', 'data-username': u.username,
  }, h('span', { class: 'mention-option-name' }, u.display_name || u.username),
  h('span', { class: 'mention-option-user text-muted' }, '@' + u.username))));
  $('message-input').setAttribute('aria-expanded', 'true');
  $('message-input').setAttribute('aria-activedescendant', 'mention-opt-' + ac.active);
}

async function lookupMentions() {
  const input = $('message-input');
  const q = mentionQuery(input);
  if (!q) { closeMentions(); return; }
  ac.start = q.start;
  ac.query = q.query;
  const seq = ++ac.seq;
  let users = [];
  try {
    const d = await apiAuth('GET', '/api/users?q=' + encodeURIComponent(q.query));
    users = (d && Array.isArray(d.users)) ? d.users : [];
    learn(users);
  } catch (e) {
    users = [];
  }
  if (seq !== ac.seq || ac.composing) return;   // a newer query, or the IME took over
  ac.items = users.filter((u) => u.username !== me()).slice(0, MENTION_MAX);
  ac.active = 0;
  renderMentions();
}

function pickMention(i) {
  const u = ac.items[i];
  if (!u) return;
  const input = $('message-input');
  const caret = input.selectionStart;
  const text = '@' + u.username + ' ';
  input.value = input.value.slice(0, ac.start) + text + input.value.slice(caret);
  const at = ac.start + text.length;
  input.setSelectionRange(at, at);
  closeMentions();
  input.dispatchEvent(new Event('input'));
  input.focus();
}

function onComposerKey(e) {
  if (e.target !== $('message-input')) return;
  if (e.isComposing || e.keyCode === 229 || ac.composing) return;
  if (ac.open) {
    let handled = true;
    if (e.key === 'ArrowDown') ac.active = (ac.active + 1) % ac.items.length;
    else if (e.key === 'ArrowUp') ac.active = (ac.active - 1 + ac.items.length) % ac.items.length;
    else if (e.key === 'Enter' || e.key === 'Tab') { pickMention(ac.active); }
    else if (e.key === 'Escape') closeMentions();
    else handled = false;
    if (handled) {
      e.preventDefault();
      e.stopPropagation();
      if (ac.open) renderMentions();
    }
    return;
  }
  if (e.key === 'Escape' && state.reply) { e.preventDefault(); e.stopPropagation(); clearReply(); }
}

/** The composer's extra parts: the reply bar and the mention list; called once at start. */
export function bindExtras() {
  const form = $('send-form');
  const input = $('message-input');
  const bar = h('div', { id: 'reply-bar', class: 'reply-bar', 'data-testid': 'reply-bar', hidden: '' },
    h('span', { class: 'reply-bar-text' }),
    h('button', { type: 'button', class: 'btn-close reply-bar-cancel', 'data-testid': 'reply-cancel',
      'aria-label': t('extras.cancelReply'), title: t('extras.cancelReply') }));
  bar.hidden = true;
  bar.querySelector('button').addEventListener('click', () => { clearReply(); input.focus(); });
  const list = h('ul', { id: 'mention-list', class: 'mention-list', role: 'listbox', 'data-testid': 'mention-list',
    'aria-label': t('extras.mentionList') });
  list.hidden = true;
  list.addEventListener('mousedown', (e) => {
    const li = e.target.closest('li[role="option"]');
    if (!li) return;
    e.preventDefault();
    pickMention(ac.items.findIndex((u) => u.username === li.dataset.username));
  });
  form.prepend(bar, list);
  input.setAttribute('role', 'combobox');
  input.setAttribute('aria-autocomplete', 'list');
  input.setAttribute('aria-controls', 'mention-list');
  input.setAttribute('aria-expanded', 'false');
  form.addEventListener('keydown', onComposerKey, true);
  input.addEventListener('compositionstart', () => { ac.composing = true; clearTimeout(ac.timer); });
  input.addEventListener('compositionend', () => {
    ac.composing = false;
    clearTimeout(ac.timer);
    ac.timer = setTimeout(lookupMentions, MENTION_DELAY_MS);
  });
  input.addEventListener('input', (e) => {
    if (ac.composing || e.isComposing) return;
    clearTimeout(ac.timer);
    ac.timer = setTimeout(lookupMentions, MENTION_DELAY_MS);
  });
  input.addEventListener('blur', () => setTimeout(closeMentions, 150));
}
