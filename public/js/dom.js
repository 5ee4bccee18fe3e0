// DOM helpers shared by the views. The rule they keep: text from users (and
// from the server) only ever becomes text nodes or attribute values, never
// markup: there is no innerHTML anywhere in the front end.
import { t, dateFormats, localeTag } from './i18n.js';

export const $ = (id) => document.getElementById(id);

/**
 * Builds an element; attrs values of null/undefined/false are skipped (true
 * makes an empty attribute) and string children become text nodes.
 */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) node.append(c);
  return node;
}

/** An attribute selector with the value escaped, e.g. [data-user="..."]. */
export const attrSel = (name, value) => `[${name}="${CSS.escape(String(value))}"]`;

// CJK punctuation and fullwidth forms always end a link.
const URL_RE = /https?:\/\/[^\s<>"'\u3000-\u303f\uff00-\uffef]+/gi;
// Chinese, Japanese and Korean letters.
const CJK_RE = /[\u1100-\u11ff\u3040-\u30ff\u3100-\u31ff\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7af\uf900-\ufaff\u{20000}-\u{3fffd}]/u;

/**
 * The part of a candidate URL that belongs to it: a run of CJK letters
 * stays in it only where it starts a host, path segment, query or fragment
 * part (https://example.com/路径); CJK right after other characters ends
 * it (看https://a.com/x这个 links https://a.com/x).
 */
function cutAtCjk(url) {
  const chars = [...url];
  let out = '';
  let inRun = false;
  for (const ch of chars) {
    if (CJK_RE.test(ch)) {
      const prev = out[out.length - 1];
      if (!inRun && !'/?=&#'.includes(prev)) break;
      inRun = true;
    } else {
      inRun = false;
    }
    out += ch;
  }
  return out;
}
const TRAILING = '.,;:!?\'"]}>*_';

/** Appends text to parent, turning http(s) URLs into safe links. */
export function appendLinkified(parent, text) {
  let last = 0;
  for (const match of text.matchAll(URL_RE)) {
    let url = cutAtCjk(match[0]);
    while (url.length) {
      const ch = url[url.length - 1];
      if (ch === ')') {
        const opens = url.split('(').length - 1;
        const closes = url.split(')').length - 1;
        if (closes <= opens) break;
      } else if (!TRAILING.includes(ch)) break;
      url = url.slice(0, -1);
    }
    let href;
    try {
      const u = new URL(url);
      if ((u.protocol !== 'http:' && u.protocol !== 'https:') || !u.hostname) continue;
      href = u.href;
    } catch (_) { continue; }
    if (match.index > last) parent.append(text.slice(last, match.index));
    parent.append(h('a', { href, rel: 'noopener noreferrer', target: '_blank' }, url));
    last = match.index + url.length;
  }
  if (last < text.length) parent.append(text.slice(last));
}

/** A <time> for ts (ms): the time today, the date this year, else the full date. */
export function timeEl(ts) {
  const d = new Date(ts);
  if (!Number.isFinite(d.getTime())) return h('time', { class: 'msg-time' });
  const f = dateFormats();
  const now = new Date();
  let text;
  if (d.toDateString() === now.toDateString()) text = f.time.format(d);
  else if (d.getFullYear() === now.getFullYear()) text = f.dateTime.format(d);
  else text = f.yearDateTime.format(d);
  return h('time', { class: 'msg-time', datetime: d.toISOString(), title: f.full.format(d) }, text);
}

/** The unread-count pill (null for none); key names the spoken text, e.g. 'rooms.unread'. */
export function unreadBadge(n, key) {
  if (!(n > 0)) return null;
  return h('span', { class: 'badge rounded-pill unread-badge', 'data-testid': 'unread', title: t(key, { n }) },
    h('span', { 'aria-hidden': 'true' }, n > 99 ? '99+' : String(n)),
    h('span', { class: 'visually-hidden' }, t(key, { n })));
}

/** Names sorted for the language in use. */
export function sortNames(names) {
  const tag = localeTag();
  return [...names].sort((a, b) => a.localeCompare(b, tag));
}

/** Marks a form field invalid with text (or valid with ''), in #<inputId>-error. */
export function setFieldError(inputId, text) {
  const input = $(inputId);
  const fb = $(inputId + '-error');
  input.classList.toggle('is-invalid', !!text);
  if (text) input.setAttribute('aria-invalid', 'true'); else input.removeAttribute('aria-invalid');
  if (fb) fb.textContent = text || '';
}

/** Shows text in a form's error box, or hides the box for ''. */
export function setFormError(id, text) {
  const el = $(id);
  el.textContent = text || '';
  el.hidden = !text;
}
