// The front end mounted under a prefix (chatd --url-prefix /chat, as a host
// embedding the library mounts it): the page at /chat/ registers, connects
// its WebSocket, chats, sends an image and sets an avatar, and every request
// it makes stays under /chat/. Two users (en and zh) see each other live.
// This file has its own chatd.

import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { after, before } from 'node:test';
import {
  ChatServer, browserTest, checkPage, launchBrowser, openRoom, registerViaUI, screenshot,
  sendMessage, uniqueName, until, waitForMessage,
} from './helpers.mjs';

let server, browser;
before(async () => {
  server = new ChatServer({ args: ['--url-prefix', '/chat'] });
  await server.start();
  browser = await launchBrowser();
});
after(async () => {
  if (browser) await browser.close();
  if (server) {
    await server.stopClean();
    server.cleanup();
  }
});
const test = browserTest(() => browser);

/** A PNG of w x h pixels in one colour. */
function png(w, h, rgb) {
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: w }, () => rgb).flat())]);
  const raw = Buffer.concat(Array.from({ length: h }, () => row));
  const table = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => { let c = 0xffffffff; for (const b of buf) c = table[(c ^ b) & 255] ^ (c >>> 8); return (c ^ 0xffffffff) >>> 0; };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const c = Buffer.alloc(4); c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr[8] = 8; ihdr[9] = 2;
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

/** Records the path of every request the page makes (http and ws). */
function recordRequests(page) {
  const seen = [];
  page.on('request', (r) => { const u = new URL(r.url()); if (u.protocol.startsWith('http')) seen.push(u.pathname); });
  page.on('websocket', (ws) => seen.push(new URL(ws.url()).pathname));
  return seen;
}

test('the front end under /chat/: register, WebSocket, messages, an image and an avatar (en, zh)', async (t, userPage) => {
  const base = server.url + '/chat';
  const a = await userPage({ locale: 'en-US' });
  const b = await userPage({ locale: 'zh-CN' });
  const pathsA = recordRequests(a.page);
  const pathsB = recordRequests(b.page);
  const na = uniqueName('mount');
  const nb = uniqueName('挂载');
  await registerViaUI(a.page, base, { username: na });
  await registerViaUI(b.page, base, { username: nb });
  const room = await a.page.evaluate(async () =>
    (await (await fetch('api/rooms')).json()).rooms.find((x) => x.name === 'lobby').id);
  await openRoom(a.page, room, na);
  await openRoom(b.page, room, nb);

  const text = 'hello from under a prefix ' + uniqueName('m');
  await sendMessage(a.page, text);
  await waitForMessage(b.page, text, { sender: na });
  const reply = '前缀下的回复 ' + uniqueName('r');
  await sendMessage(b.page, reply);
  await waitForMessage(a.page, reply, { sender: nb });

  // An image: uploaded to /chat/api/files, its thumbnail loaded from /chat/files/...
  await a.page.locator('#file-input').setInputFiles({ name: 'photo.png', mimeType: 'image/png', buffer: png(320, 200, [220, 60, 40]) });
  const thumbs = (page) => page.locator('#message-list [data-testid="message-image"] img');
  for (const p of [a.page, b.page]) {
    await until(async () => (await thumbs(p).evaluateAll((els) => els.filter((i) => i.complete && i.naturalWidth > 0).length)) >= 1,
      { desc: 'the image under the prefix', timeout: 30_000 });
    const src = await thumbs(p).last().getAttribute('src');
    assert.match(src, /^\/chat\/files\//);
  }

  // An avatar, on the account page.
  await a.page.goto(base + '/#/password');
  await a.page.locator('#avatar-section').waitFor({ state: 'visible' });
  await a.page.locator('#avatar-input').setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: png(120, 120, [30, 160, 90]) });
  const avatar = a.page.locator('#avatar-preview img[data-testid="avatar-image"]');
  await avatar.waitFor({ state: 'visible', timeout: 30_000 });
  await until(async () => avatar.evaluate((i) => i.complete && i.naturalWidth > 0),
    { desc: 'avatar loaded under the prefix', timeout: 30_000 });
  assert.match(await avatar.getAttribute('src'), /^\/chat\/files\//);
  await a.page.goto(base + `/#/room/${room}`);
  await a.page.locator('#message-list li[data-testid="message"]').filter({ hasText: reply }).waitFor({ state: 'visible' });
  await until(async () => (await thumbs(a.page).evaluateAll((els) => els.filter((i) => i.complete && i.naturalWidth > 0).length)) >= 1,
    { desc: 'the image again', timeout: 30_000 });

  await screenshot(a.page, t, 'en');
  await screenshot(b.page, t, 'zh');
  for (const [who, paths] of [['en', pathsA], ['zh', pathsB]]) {
    const outside = paths.filter((p) => !p.startsWith('/chat/'));
    assert.deepEqual(outside, [], `${who}: requests outside /chat/`);
    assert.ok(paths.includes('/chat/ws'), `${who}: the WebSocket at /chat/ws`);
  }
  checkPage(a.page, 'en');
  checkPage(b.page, 'zh');
});
