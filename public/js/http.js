// Calls to the JSON API under /api/. A failure is an ApiError carrying the
// HTTP status and the error code of the response body ('network' when no
// answer came); errorText() turns codes into the user's language.
import { t, hasText } from './i18n.js';
import { MAX_TEXT } from './limits.js';

class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.serverMessage = message || '';
    this.retryAfter = retryAfter;   // seconds, 0 when not given
  }
}

function parseRetryAfter(v) {
  if (!v) return 0;
  const n = Number(v);
  if (Number.isFinite(n)) return Math.max(1, Math.ceil(n));
  const when = Date.parse(v);
  return Number.isFinite(when) ? Math.max(1, Math.ceil((when - Date.now()) / 1000)) : 0;
}

/** One request; resolves to the parsed body (null when empty), rejects with an ApiError. */
export async function api(method, path, body) {
  const opts = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(at(path), opts);
  } catch (e) {
    throw new ApiError(0, 'network', String(e && e.message || e));
  }
  const text = res.status === 204 ? '' : await res.text().catch(() => '');
  let data = null;
  if (text) { try { data = JSON.parse(text); } catch (_) { data = null; } }
  if (!res.ok) {
    const err = (data && data.error) || {};
    throw new ApiError(res.status, err.code || 'http_' + res.status, err.message || '',
      parseRetryAfter(res.headers.get('Retry-After')));
  }
  return data;
}

// The mount point: the page's folder without its last "/" ('' when the chat
// is served at the root, '/chat' under /chat/). Every path the client asks
// for, and every path the server names in its answers ('/files/...'), is
// relative to it (README.md, "Embedding").
export const BASE = location.pathname.replace(/\/[^/]*$/, '');
/** A path of the server (starting with '/') as the browser must ask for it. */
export const at = (path) => BASE + path;

let unauthorized = () => {};

/** Sets what happens when a call that needs a session gets 401. */
export function onUnauthorized(fn) { unauthorized = fn; }

/** For calls that need a session: a 401 also calls the onUnauthorized handler. */
export async function apiAuth(method, path, body) {
  try {
    return await api(method, path, body);
  } catch (e) {
    if (e.status === 401) unauthorized();
    throw e;
  }
}

/** The text for an error code (of the API or of an `error` frame). */
export function errorText(code, serverMessage, status) {
  if (code && hasText('err.' + code)) {
    return t('err.' + code, { max: MAX_TEXT });
  }
  if (serverMessage) return serverMessage;
  return t('err.generic', { status: status || code });
}

export const apiErrorText = (e) => errorText(e.code, e.serverMessage, e.status);
