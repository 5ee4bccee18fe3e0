// Files and images: uploads (a picker button, pasting, dropping files on the
// conversation), their progress and errors, files in messages (images as
// thumbnails that open full size, other files as a download chip with name
// and size), avatars (an uploaded image, or generated initials) and the
// avatar control of the account page.
//
// An upload is POST /api/files?name=NAME with the file's bytes as the body
// (XMLHttpRequest, for its progress events); once stored, the file goes out
// at once as a message of its own ({"type":"send"|"dm", "files":[id]}),
// through the same pending-send path as text (ws.js), so it is retried and
// shown as sending like any message. Text stays text: no innerHTML.
import { $, h } from './dom.js';
import { api, apiErrorText, at } from './http.js';
import { lang } from './i18n.js';
import { announce, showNotice } from './notice.js';
import { state, currentConv } from './state.js';

const TEXT = {
  zh: {
    attach: '发送文件或图片',
    uploading: '正在上传 {name}',
    tooLarge: '{name} 太大了：文件最大 {max}。',
    quota: '你的存储空间已满，无法再上传文件。',
    failed: '{name} 上传失败：{why}',
    network: '网络错误',
    open: '打开原图 {name}',
    download: '下载 {name}（{size}）',
    dropHere: '松开即可发送文件',
    avatar: '头像',
    avatarHint: '选择一张图片（JPEG、PNG、WebP 或 GIF）作为头像。',
    avatarChoose: '上传头像',
    avatarRemove: '移除头像',
    avatarSaved: '头像已更新。',
    avatarNotImage: '头像需要是一张图片。',
    avatarOf: '{name} 的头像',
  },
  en: {
    attach: 'Send a file or image',
    uploading: 'Uploading {name}',
    tooLarge: '{name} is too large: files are at most {max}.',
    quota: 'Your storage is full: no more files can be uploaded.',
    failed: 'Uploading {name} failed: {why}',
    network: 'network error',
    open: 'Open {name} full size',
    download: 'Download {name} ({size})',
    dropHere: 'Drop to send the files',
    avatar: 'Avatar',
    avatarHint: 'Pick an image (JPEG, PNG, WebP or GIF) to show as your avatar.',
    avatarChoose: 'Upload an avatar',
    avatarRemove: 'Remove avatar',
    avatarSaved: 'Avatar updated.',
    avatarNotImage: 'An avatar must be an image.',
    avatarOf: 'Avatar of {name}',
  },
};

function tf(key, params) {
  let s = (TEXT[lang()] || TEXT.en)[key] ?? TEXT.en[key] ?? key;
  if (params) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in params ? String(params[k]) : m));
  return s;
}

// The server's default limit (--file-max); a larger file is refused here
// before any byte goes out. A server with another limit still answers 413.
export const FILE_MAX = 10 * 1024 * 1024;

/** A size for people: 512 B, 3.4 KB, 1.2 MB. */
export function formatSize(n) {
  if (!Number.isFinite(n)) return '';
  if (n < 1024) return n + ' B';
  if (n < 1024 * 1024) return (n / 1024).toFixed(n < 10240 ? 1 : 0) + ' KB';
  return (n / 1024 / 1024).toFixed(1) + ' MB';
}

/* ---------- files in messages ---------- */

/** The file objects of a message kept by the front end (only well-formed ones). */
export function normFiles(files) {
  if (!Array.isArray(files)) return undefined;
  const out = files.filter((f) => f && Number.isInteger(f.id) && typeof f.url === 'string'
    && f.url.startsWith('/files/') && (f.thumb_url === null || (typeof f.thumb_url === 'string' && f.thumb_url.startsWith('/files/'))))
    .map((f) => ({ id: f.id, name: String(f.name || ''), size: f.size, type: String(f.type || ''), url: f.url, thumb_url: f.thumb_url || null }));
  return out.length ? out : undefined;
}

/** The files of a message: image thumbnails that open full size, chips for the rest; null without files. */
export function filesEl(files) {
  if (!files || !files.length) return null;
  const box = h('div', { class: 'msg-files', 'data-testid': 'message-files' });
  for (const f of files) {
    if (f.thumb_url) {
      box.append(h('a', { class: 'msg-image', href: at(f.url), target: '_blank', rel: 'noopener', tabindex: '-1',
        title: tf('open', { name: f.name }), 'aria-label': tf('open', { name: f.name }), 'data-testid': 'message-image' },
      h('img', { src: at(f.thumb_url), alt: f.name, loading: 'lazy', decoding: 'async' })));
    } else {
      box.append(h('a', { class: 'file-chip', href: at(f.url), download: f.name, tabindex: '-1',
        title: tf('download', { name: f.name, size: formatSize(f.size) }), 'data-testid': 'message-file' },
      h('span', { class: 'file-chip-icon', 'aria-hidden': 'true' }, '📄'),
      h('span', { class: 'file-chip-name text-truncate' }, f.name),
      h('span', { class: 'file-chip-size' }, formatSize(f.size))));
    }
  }
  return box;
}

/* ---------- avatars ---------- */

/** The first character (grapheme) of a name, for a generated avatar. */
export function initials(name) {
  const s = String(name || '?');
  const seg = typeof Intl.Segmenter === 'function' ? new Intl.Segmenter(undefined, { granularity: 'grapheme' }) : null;
  const first = seg ? (seg.segment(s)[Symbol.iterator]().next().value || {}).segment : [...s][0];
  return (first || '?').toUpperCase();
}

// A colour per name, so generated avatars tell people apart.
function hue(name) {
  let x = 0;
  for (const c of String(name)) x = (x * 31 + c.codePointAt(0)) >>> 0;
  return x % 360;
}

/** An avatar: the image at url, or the initials of name on a colour of its own. */
export function avatarEl(username, name, url, size = 'sm') {
  const cls = 'avatar avatar-' + size;
  if (url && typeof url === 'string' && url.startsWith('/files/')) {
    return h('img', { class: cls, src: at(url), alt: '', 'aria-hidden': 'true', 'data-testid': 'avatar-image', 'data-user': username });
  }
  const el = h('span', { class: cls + ' avatar-initials', 'aria-hidden': 'true', 'data-testid': 'avatar-initials', 'data-user': username }, initials(name || username));
  el.style.setProperty('--avatar-hue', String(hue(username)));
  return el;
}

/* ---------- uploads ---------- */

/** Uploads one file; resolves to its file object, rejects with {code, message}. */
export function uploadFile(file, onProgress) {
  return new Promise((resolve, reject) => {
    if (file.size > FILE_MAX) { reject({ code: 'file_too_large' }); return; }
    const xhr = new XMLHttpRequest();
    xhr.open('POST', at('/api/files?name=') + encodeURIComponent(file.name || 'file'));
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    xhr.upload.onprogress = (e) => { if (e.lengthComputable && onProgress) onProgress(e.loaded / e.total); };
    xhr.onload = () => {
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch (_) { data = null; }
      if (xhr.status === 201 && data && data.file) resolve(data.file);
      else reject({ code: (data && data.error && data.error.code) || 'http_' + xhr.status, message: data && data.error && data.error.message, status: xhr.status });
    };
    // A server closing on a too-large body looks like a network error.
    xhr.onerror = () => reject({ code: file.size > FILE_MAX / 2 ? 'file_too_large' : 'network' });
    xhr.send(file);
  });
}

function uploadErrorText(err, name) {
  if (err.code === 'file_too_large') return tf('tooLarge', { name, max: formatSize(FILE_MAX) });
  if (err.code === 'quota_exceeded') return tf('quota');
  if (err.code === 'network') return tf('failed', { name, why: tf('network') });
  return tf('failed', { name, why: apiErrorText({ code: err.code, serverMessage: err.message || '', status: err.status || 0 }) });
}

let hooks = { send: () => {} };
/** main.js: send(conv, file) sends an uploaded file as a message of conv. */
export function setFilesHooks(h2) { hooks = Object.assign(hooks, h2); }

function tray() {
  let el = $('upload-tray');
  if (!el) {
    el = h('ul', { id: 'upload-tray', class: 'upload-tray list-unstyled', 'data-testid': 'upload-tray', 'aria-live': 'polite' });
    $('send-form').before(el);
  }
  return el;
}

/** Uploads files and sends each to the conversation open now. */
export async function sendFiles(list) {
  const conv = currentConv();
  if (!conv) return;
  for (const file of [...list]) {
    const bar = h('progress', { max: '1', value: '0' });
    const row = h('li', { class: 'upload-row small', 'data-testid': 'upload-row' },
      h('span', { class: 'upload-name text-truncate' }, tf('uploading', { name: file.name })), bar);
    tray().append(row);
    try {
      const f = await uploadFile(file, (x) => { bar.value = x; });
      row.remove();
      hooks.send(conv, f);
    } catch (err) {
      row.remove();
      const text = uploadErrorText(err, file.name);
      showNotice(text);
      announce(text);
    }
  }
}

function bindComposerFiles() {
  const form = $('send-form');
  if (!form || $('attach-button')) return;
  const input = h('input', { id: 'file-input', type: 'file', multiple: true, hidden: true, 'data-testid': 'file-input' });
  const btn = h('button', { id: 'attach-button', type: 'button', class: 'btn btn-outline-secondary attach-button',
    'data-testid': 'attach-button', 'aria-label': tf('attach'), title: tf('attach') }, '📎');
  btn.addEventListener('click', () => input.click());
  input.addEventListener('change', () => { if (input.files.length) sendFiles(input.files); input.value = ''; });
  $('message-input').before(btn);
  form.classList.add('has-attach');
  form.append(input);
  // Pasting an image (a screenshot) or files sends them; pasted text stays text.
  $('message-input').addEventListener('paste', (e) => {
    const files = e.clipboardData && e.clipboardData.files;
    if (!files || !files.length) return;
    e.preventDefault();
    sendFiles(files);
  });
  // Dropping files anywhere on the open conversation.
  const area = form.closest('section') || document.body;
  let depth = 0;
  const hasFiles = (e) => e.dataTransfer && [...(e.dataTransfer.types || [])].includes('Files');
  area.addEventListener('dragenter', (e) => { if (!hasFiles(e)) return; e.preventDefault(); depth += 1; area.classList.add('drop-target'); area.dataset.dropText = tf('dropHere'); });
  area.addEventListener('dragover', (e) => { if (hasFiles(e)) e.preventDefault(); });
  area.addEventListener('dragleave', () => { depth = Math.max(0, depth - 1); if (!depth) area.classList.remove('drop-target'); });
  area.addEventListener('drop', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth = 0;
    area.classList.remove('drop-target');
    if (e.dataTransfer.files.length) sendFiles(e.dataTransfer.files);
  });
}

/** The language changed: the texts this module put on the page. */
export function renderFilesText() {
  const btn = $('attach-button');
  if (btn) { btn.title = tf('attach'); btn.setAttribute('aria-label', tf('attach')); }
  if ($('avatar-section')) renderAvatarSection();
}

/* ---------- the avatar control (account page) ---------- */

let avatarHooks = { saved: () => {} };
/** people.js: saved(user) after the avatar changed. */
export function setAvatarHooks(h2) { avatarHooks = Object.assign(avatarHooks, h2); }

function renderAvatarSection() {
  const sec = $('avatar-section');
  if (!sec || !state.user) return;
  const u = state.user;
  $('avatar-label').textContent = tf('avatar');
  $('avatar-hint').textContent = tf('avatarHint');
  $('avatar-choose').textContent = tf('avatarChoose');
  $('avatar-remove').textContent = tf('avatarRemove');
  $('avatar-remove').hidden = !u.avatar;
  $('avatar-preview').replaceChildren(avatarEl(u.username, u.display_name || u.username, u.avatar, 'lg'));
}

async function setAvatar(id) {
  const status = $('avatar-status');
  status.hidden = true;
  try {
    const d = await api('PATCH', '/api/me', { avatar: id });
    if (d && d.user && state.user) state.user = Object.assign({}, state.user, d.user);
    renderAvatarSection();
    status.className = 'alert alert-success small mt-2';
    status.textContent = tf('avatarSaved');
    status.hidden = false;
    announce(tf('avatarSaved'));
    avatarHooks.saved(state.user);
  } catch (err) {
    status.className = 'alert alert-danger small mt-2';
    status.textContent = apiErrorText(err);
    status.hidden = false;
  }
}

/** Adds the avatar control at the top of the profile form (once the form exists). */
export function bindAvatarForm() {
  const form = $('profile-form');
  if (!form || $('avatar-section')) return;
  const input = h('input', { id: 'avatar-input', type: 'file', accept: 'image/jpeg,image/png,image/webp,image/gif', hidden: true, 'data-testid': 'avatar-input' });
  const choose = h('button', { id: 'avatar-choose', type: 'button', class: 'btn btn-outline-primary btn-sm', 'data-testid': 'avatar-choose' });
  const remove = h('button', { id: 'avatar-remove', type: 'button', class: 'btn btn-link btn-sm', 'data-testid': 'avatar-remove' });
  const sec = h('div', { id: 'avatar-section', class: 'mb-3 avatar-section', 'data-testid': 'avatar-section' },
    h('div', { id: 'avatar-label', class: 'form-label' }),
    h('div', { class: 'd-flex align-items-center gap-3' },
      h('div', { id: 'avatar-preview', 'data-testid': 'avatar-preview' }),
      h('div', { class: 'd-flex flex-wrap gap-2' }, choose, remove)),
    h('div', { id: 'avatar-hint', class: 'form-text' }),
    h('div', { id: 'avatar-status', class: 'alert small mt-2', role: 'status', 'data-testid': 'avatar-status', hidden: true }),
    input);
  choose.addEventListener('click', () => input.click());
  remove.addEventListener('click', () => setAvatar(null));
  input.addEventListener('change', async () => {
    const file = input.files[0];
    input.value = '';
    if (!file) return;
    const status = $('avatar-status');
    try {
      const f = await uploadFile(file);
      if (!f.thumb_url) throw { code: 'not_image' };
      await setAvatar(f.id);
    } catch (err) {
      status.className = 'alert alert-danger small mt-2';
      status.textContent = err.code === 'not_image' ? tf('avatarNotImage') : uploadErrorText(err, file.name);
      status.hidden = false;
    }
  });
  const title = $('profile-title');
  if (title) title.after(sec); else form.querySelector('.card-body').prepend(sec);
  renderAvatarSection();
}

/** Once, at start. */
export function bindFiles() {
  bindComposerFiles();
  bindAvatarForm();
}

export { renderAvatarSection };
