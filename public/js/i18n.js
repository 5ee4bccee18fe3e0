// The language in use (zh or en) and its text. t() looks keys up in
// catalogue.js; applyI18n() fills the page's data-i18n* attributes;
// dateFormats() follows the language. Nothing here touches the chat state.
import { catalogue } from './catalogue.js';

const STORAGE_KEY = 'chat.lang';

/** The saved choice, else the first of the browser's languages that is zh or en, else en. */
function detectLang() {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (saved && catalogue[saved]) return saved;
  } catch (_) { /* storage may be unavailable */ }
  const prefs = (navigator.languages && navigator.languages.length)
    ? navigator.languages : [navigator.language || ''];
  for (const p of prefs) {
    const l = String(p).toLowerCase();
    if (l.startsWith('zh')) return 'zh';
    if (l.startsWith('en')) return 'en';
  }
  return 'en';
}

let current = detectLang();
let formats = null;   // Intl formatters for `current`, made when first needed

export const lang = () => current;

/** BCP 47 tag of the language in use, for the html lang attribute and Intl. */
export const localeTag = () => (current === 'zh' ? 'zh-CN' : 'en');

/** Text for key with {placeholders} filled; falls back to English, then to the key. */
export function t(key, params) {
  let s = catalogue[current][key];
  if (s === undefined) s = catalogue.en[key];
  if (s === undefined) return key;
  if (params) {
    s = s.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
  }
  return s;
}

/** Whether the catalogue has a text for key. */
export const hasText = (key) => key in catalogue.en;

/** Switches the language, remembers the choice and relabels the static page. */
export function setLang(next) {
  current = next;
  try { localStorage.setItem(STORAGE_KEY, next); } catch (_) { /* ignore */ }
  formats = null;
  applyI18n();
}

/** Fills every data-i18n, -placeholder, -aria-label and -title attribute of the page. */
export function applyI18n() {
  document.documentElement.lang = localeTag();
  for (const node of document.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n);
  for (const node of document.querySelectorAll('[data-i18n-placeholder]')) node.placeholder = t(node.dataset.i18nPlaceholder);
  for (const node of document.querySelectorAll('[data-i18n-aria-label]')) node.setAttribute('aria-label', t(node.dataset.i18nAriaLabel));
  for (const node of document.querySelectorAll('[data-i18n-title]')) node.title = t(node.dataset.i18nTitle);
  const sw = document.getElementById('lang-switch');
  sw.textContent = t('langSwitch');
  sw.setAttribute('aria-label', t('langSwitchAria'));
  sw.lang = current === 'zh' ? 'en' : 'zh-CN';
}

/** Date and time formats of the language in use: time, dateTime, yearDateTime, full. */
export function dateFormats() {
  if (!formats) {
    const tag = localeTag();
    formats = {
      time: new Intl.DateTimeFormat(tag, { hour: '2-digit', minute: '2-digit' }),
      dateTime: new Intl.DateTimeFormat(tag, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' }),
      yearDateTime: new Intl.DateTimeFormat(tag, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' }),
      full: new Intl.DateTimeFormat(tag, { dateStyle: 'full', timeStyle: 'medium' }),
    };
  }
  return formats;
}
