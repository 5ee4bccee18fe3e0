// What the page tells the user besides the views: the notice bar under the
// header, short toasts, and the live region that screen readers follow.
import { $, h } from './dom.js';

const NOTICE_MS = 8000;
const TOAST_MS = 5000;
const TOAST_MAX = 3;

let noticeTimer = null;

/** Shows text in the notice bar (kind: a Bootstrap alert colour) for a few seconds. */
export function showNotice(text, kind = 'danger') {
  const box = $('notice');
  box.className = 'alert alert-dismissible app-notice mb-0 alert-' + kind;
  box.dataset.kind = kind;
  $('notice-text').textContent = text;
  box.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(hideNotice, NOTICE_MS);
}

export function hideNotice() {
  clearTimeout(noticeTimer);
  $('notice').hidden = true;
}

/** Hides an error notice when the user moves on (warnings stay their time). */
export function hideNoticeIfStale() {
  const box = $('notice');
  if (!box.hidden && box.dataset.kind === 'danger') hideNotice();
}

/** Says text to screen readers. */
export function announce(text) {
  const region = $('live-region');
  region.append(h('p', {}, text));
  while (region.childElementCount > 5) region.firstElementChild.remove();
}

/**
 * A small notice that goes away by itself; it takes no clicks, so it never
 * covers a control. Screen readers hear it through the live region.
 */
export function toast(text) {
  const box = $('toasts');
  const el = h('div', { class: 'app-toast', 'data-testid': 'toast' }, text);
  box.append(el);
  while (box.childElementCount > TOAST_MAX) box.firstElementChild.remove();
  setTimeout(() => el.remove(), TOAST_MS);
  announce(text);
}

/** Removes every notice, toast and announcement (the session ended). */
export function clearNotices() {
  $('live-region').replaceChildren();
  $('toasts').replaceChildren();
  hideNotice();
}
