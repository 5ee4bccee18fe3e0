// Files and images in the browser: an image sent with the picker and one
// pasted into the message box show as thumbnails (for the sender and, live,
// for another user), a text file as a download chip with its name and size,
// the thumbnail opens the full image; the same on a phone; an avatar
// uploaded on the account page replaces the generated initials, and another
// user sees it change live. In English and Chinese, with screenshots.

import assert from 'node:assert/strict';
import { beforeEach } from 'node:test';
import zlib from 'node:zlib';
import {
  useSuite, horizontalExtent, openRoom, screenshot, signUp, uniqueName, until,
} from './helpers.mjs';

const suite = useSuite();
let server;
beforeEach(() => ({ server } = suite));
const test = suite.test;

/** A PNG of w x h pixels in one colour. */
function png(w, h, rgb = [220, 60, 40]) {
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: w }, () => rgb).flat())]);
  const raw = Buffer.concat(Array.from({ length: h }, () => row));
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => { let c = 0xffffffff; for (const b of buf) c = crcTable[(c ^ b) & 255] ^ (c >>> 8); return (c ^ 0xffffffff) >>> 0; };
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

async function lobbyId(page) {
  return page.evaluate(async () => (await (await fetch('/api/rooms')).json()).rooms.find((x) => x.name === 'lobby').id);
}

const images = (page) => page.locator('#message-list [data-testid="message-image"] img');

/** Waits until n message thumbnails are shown and loaded. */
async function waitImages(page, n, desc) {
  await until(async () => {
    const loaded = await images(page).evaluateAll((els) => els.filter((i) => i.complete && i.naturalWidth > 0).length);
    return loaded >= n;
  }, { desc, timeout: 30_000 });
}

/** Pastes an image file into the message box, as a screenshot paste does. */
async function pasteImage(page, bytes, name) {
  await page.evaluate(({ b64, name: n }) => {
    const bin = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bin], n, { type: 'image/png' }));
    const input = document.getElementById('message-input');
    input.focus();
    input.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
  }, { b64: bytes.toString('base64'), name });
}

for (const lang of ['en', 'zh']) {
  const locale = lang === 'zh' ? 'zh-CN' : 'en-US';

  for (const device of ['desktop', 'phone']) {
    const viewport = device === 'phone' ? { width: 390, height: 844 } : { width: 1280, height: 800 };

    test(`images by picker and paste, a file chip, seen live by another user (${lang}, ${device})`, async (t, userPage) => {
      const a = await userPage({ locale, viewport, isMobile: device === 'phone', hasTouch: device === 'phone' });
      const b = await userPage({ locale, viewport });
      const na = uniqueName(lang === 'zh' ? '图' : 'pic');
      const nb = uniqueName(lang === 'zh' ? '看' : 'see');
      await signUp(a.context, a.page, server.url, na);
      await signUp(b.context, b.page, server.url, nb);
      const room = await lobbyId(a.page);
      await openRoom(b.page, room, nb);
      await openRoom(a.page, room, na);
      const imgBefore = await images(a.page).count();

      // The picker: an image.
      await a.page.locator('#attach-button').waitFor({ state: 'visible' });
      await a.page.locator('#file-input').setInputFiles({ name: lang === 'zh' ? '照片.png' : 'photo.png', mimeType: 'image/png', buffer: png(640, 420) });
      await waitImages(a.page, imgBefore + 1, 'picked image on the sender');
      await waitImages(b.page, imgBefore + 1, 'picked image, live, on the other user');

      // Pasting: a second image.
      await pasteImage(a.page, png(300, 500, [40, 120, 220]), 'screenshot.png');
      await waitImages(a.page, imgBefore + 2, 'pasted image');
      await waitImages(b.page, imgBefore + 2, 'pasted image, live');

      // A text file: a chip with its name and size.
      const fname = lang === 'zh' ? '会议记录.txt' : 'minutes.txt';
      await a.page.locator('#file-input').setInputFiles({ name: fname, mimeType: 'text/plain', buffer: Buffer.from('line one\n第二行\n'.repeat(40)) });
      const chip = b.page.locator('#message-list [data-testid="message-file"]').filter({ hasText: fname }).last();
      await chip.waitFor({ state: 'visible', timeout: 30_000 });
      assert.match(await chip.textContent(), /KB|B/);
      assert.equal(await chip.getAttribute('download'), fname);

      // Nothing overflows sideways (the phone especially).
      const ext = await horizontalExtent(a.page);
      assert.ok(ext.scrollWidth <= ext.innerWidth + 1, JSON.stringify(ext));
      await screenshot(a.page, t, 'sender');
      await screenshot(b.page, t, 'receiver');

      // The thumbnail opens the full image (a new tab with the original bytes).
      const link = b.page.locator('#message-list [data-testid="message-image"]').last();
      const href = await link.getAttribute('href');
      assert.match(href, /^\/files\/\d+\//);
      const full = await b.context.request.get(server.url + href);
      assert.equal(full.status(), 200);
      assert.equal(full.headers()['content-type'], 'image/png');
      assert.deepEqual(a.page.problems, []);
      assert.deepEqual(b.page.problems, []);
    });
  }

  test(`too large a file is refused with a clear message (${lang})`, async (t, userPage) => {
    const a = await userPage({ locale });
    const na = uniqueName('big');
    await signUp(a.context, a.page, server.url, na);
    const room = await lobbyId(a.page);
    await openRoom(a.page, room, na);
    await a.page.locator('#file-input').setInputFiles({ name: 'huge.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(10 * 1024 * 1024 + 1) });
    const notice = a.page.locator('#notice');
    await until(async () => /huge\.bin/.test((await notice.textContent().catch(() => '')) || ''), { desc: 'too-large notice' });
    assert.match(await notice.textContent(), lang === 'zh' ? /太大/ : /too large/);
    await screenshot(a.page, t, 'too-large');
  });

  test(`an avatar from the account page, seen live by another user (${lang})`, async (t, userPage) => {
    const a = await userPage({ locale });
    const b = await userPage({ locale });
    const na = uniqueName(lang === 'zh' ? '头' : 'ava');
    const nb = uniqueName('obs');
    await signUp(a.context, a.page, server.url, na);
    await signUp(b.context, b.page, server.url, nb);
    const room = await lobbyId(a.page);
    await openRoom(a.page, room, na);
    await openRoom(b.page, room, nb);
    // a says something: b sees a's generated initials next to it.
    const text = 'hi ' + uniqueName('m');
    await a.page.locator('#message-input').fill(text);
    await a.page.locator('#send-button').click();
    const msg = b.page.locator('#message-list li[data-testid="message"]').filter({ hasText: text });
    await msg.waitFor({ state: 'visible' });
    await msg.locator('[data-testid="avatar-initials"]').waitFor({ state: 'attached' });

    await a.page.goto(server.url + '/#/password');
    await a.page.locator('#avatar-section').waitFor({ state: 'visible' });
    await a.page.locator('#avatar-preview [data-testid="avatar-initials"]').waitFor({ state: 'visible' });
    await a.page.locator('#avatar-input').setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: png(200, 200, [30, 160, 90]) });
    await a.page.locator('#avatar-preview img[data-testid="avatar-image"]').waitFor({ state: 'visible', timeout: 30_000 });
    await a.page.locator('#avatar-status').waitFor({ state: 'visible' });
    assert.match(await a.page.textContent('#avatar-status'), lang === 'zh' ? /头像已更新/ : /Avatar updated/);
    await screenshot(a.page, t, 'account-avatar');

    // b's view updates without a reload: the message shows the image now.
    const img = msg.locator('img[data-testid="avatar-image"]');
    await img.waitFor({ state: 'attached', timeout: 30_000 });
    await until(async () => img.evaluate((i) => i.complete && i.naturalWidth > 0), { desc: 'avatar image loaded' });
    // And the profile card.
    await msg.locator('[data-action="profile"]').click();
    await b.page.locator('#profile-card img[data-testid="avatar-image"]').waitFor({ state: 'visible' });
    await screenshot(b.page, t, 'profile-card-avatar');
    assert.deepEqual(a.page.problems, []);
    assert.deepEqual(b.page.problems, []);
  });
}
