// A page that was away while more was written than one `joined` reply holds
// (200 messages): when it comes back it shows every missed message, in order,
// once, read in pages from history (public/js/messages.js: with the server's
// `"partial": true`, or, from a server that does not send it, whenever the
// reply is full). The room in view stays at its newest message; a room not in
// view counts all it missed as unread. This file has its own chatd, without
// flood control (one user sends 1,500 messages at once).

import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import {
  ApiClient, ChatServer, assertNoDuplicates, browserTest, checkPage, launchBrowser, messages, openRoom, roomItem,
  screenshot, sendMessage, signUp, uniqueName, until, waitConn, waitForMessage,
} from './helpers.mjs';

const RECONNECT_TIMEOUT_MS = 45_000;   // backoff is 1 s doubling with jitter; the restart takes a few
const CATCH_UP_TIMEOUT_MS = 60_000;    // every page of the gap read and drawn
const MISSED = 1200;                   // messages missed in the room in view
const MISSED_OTHER = 300;              // in another room the user is in
// The away page's heartbeat, shortened (public/js/ws.js, window.__chatHeartbeat).
// Chromium's offline emulation lets no incoming frame through to an open
// WebSocket, the server's close included, so a page that does not also see
// the connection end notices only by its heartbeat: 3 s of silence, then a
// ping unanswered for 3 s (25 + 10 s by default, past the wait below).
const HEARTBEAT = { idleMs: 3000, pongMs: 3000, openMs: 15000 };

let server, browser;
before(async () => {
  server = new ChatServer({ args: ['--ws-rate', '0'] });
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

/**
 * Sends texts to room from page's origin over a WebSocket of its own
 * (the page's user), all at once, and returns their ids from the acks.
 */
async function sendBurst(page, room, texts, tag) {
  return page.evaluate(async ({ room, texts, tag }) => {
    const ws = new WebSocket(location.origin.replace(/^http/, 'ws') + '/ws');
    const acks = new Map();
    const failed = [];
    let joined, done;
    const joinedP = new Promise((r) => { joined = r; });
    const doneP = new Promise((r) => { done = r; });
    ws.onmessage = (ev) => {
      const f = JSON.parse(ev.data);
      if (f.type === 'joined' && f.room === room) joined();
      else if (f.type === 'ack') acks.set(f.cid, f.id);
      else if (f.type === 'error') failed.push(f);
      if (acks.size + failed.length === texts.length) done();
    };
    await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = () => reject(new Error('socket error')); });
    ws.send(JSON.stringify({ type: 'join', room }));
    await joinedP;
    texts.forEach((text, i) => ws.send(JSON.stringify({ type: 'send', room, text, cid: `${tag}-${i}` })));
    const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error(`acks: ${acks.size} of ${texts.length}`)), 60_000));
    await Promise.race([doneP, timeout]);
    ws.close();
    if (failed.length) throw new Error('refused: ' + JSON.stringify(failed.slice(0, 3)));
    return texts.map((_, i) => acks.get(`${tag}-${i}`));
  }, { room, texts, tag });
}

test('a page away for 1,500 messages shows every one once, in order', async (t, userPage) => {
  const adminName = uniqueName('admin');
  server.addUser(adminName, { admin: true });
  const admin = new ApiClient(server.url);
  await admin.login(adminName);
  const room = await admin.createRoom(uniqueName('long'));
  const other = await admin.createRoom(uniqueName('side'));

  const a = await userPage();
  const b = await userPage();
  await a.context.addInitScript((hb) => { window.__chatHeartbeat = hb; }, HEARTBEAT);
  const ann = await signUp(a.context, a.page, server.url, uniqueName('ann'));
  const ben = uniqueName('ben');
  for (const [p, d] of [['/api/register', { username: ben, password: 'correct horse battery', email: `${ben}@example.org` }],
    ['/api/login', { username: ben, password: 'correct horse battery' }]]) {
    const r = await b.context.request.post(server.url + p, { data: d, timeout: 30_000 });
    assert.ok(r.ok(), `${p} ${ben}: ${r.status()} ${await r.text()}`);
  }
  // Ben writes from a plain page of the origin, without the app.
  await b.page.goto(server.url + '/favicon.svg');

  // Ann is in both rooms and looks at the first one.
  await openRoom(a.page, other.id, ann.username);
  await openRoom(a.page, room.id, ann.username);
  await a.page.evaluate(() => { window.__noReload = true; });
  const expected = [];
  const first = 'ann before the gap';
  await sendMessage(a.page, first);
  expected.push(first);
  const early = ['ben before the gap 1', 'ben before the gap 2'];
  await sendBurst(b.page, room.id, early, 'early');
  for (const x of early) await waitForMessage(a.page, x, { sender: ben });
  expected.push(...early);
  assert.equal(await roomItem(a.page, other.id).getAttribute('data-unread'), '0');

  // Ann's browser loses its network; chatd restarts meanwhile (so her socket is gone) and Ben writes.
  await a.context.setOffline(true);
  await server.stop();
  await server.start();
  await until(async () => (await a.page.getAttribute('#conn-status', 'data-state')) !== 'online', { desc: 'ann disconnected' });
  const missed = Array.from({ length: MISSED }, (_, i) => `missed ${i + 1} of ${MISSED}`);
  const missedIds = await sendBurst(b.page, room.id, missed, 'gap');
  const side = Array.from({ length: MISSED_OTHER }, (_, i) => `side ${i + 1}`);
  const sideIds = await sendBurst(b.page, other.id, side, 'side');
  assert.deepEqual(missedIds, [...missedIds].sort((x, y) => x - y), 'acks in id order');
  assert.notEqual(await a.page.getAttribute('#conn-status', 'data-state'), 'online');
  expected.push(...missed);

  // The network returns: the page reconnects and reads what it missed.
  const started = Date.now();
  await a.context.setOffline(false);
  await waitConn(a.page, 'online', RECONNECT_TIMEOUT_MS);
  await until(async () => (await messages(a.page)).length >= expected.length,
    { timeout: CATCH_UP_TIMEOUT_MS, interval: 250, desc: `all ${expected.length} messages shown` });
  const caughtUpMs = Date.now() - started;
  const after = 'ben after the gap';
  await sendBurst(b.page, room.id, [after], 'after');
  await waitForMessage(a.page, after, { sender: ben });
  expected.push(after);

  const list = await messages(a.page);
  assert.equal(list.length, expected.length, 'no message twice and none left out');
  assert.deepEqual(list.map((m) => m.text), expected, 'every missed message once, in order');
  assertNoDuplicates(list, 'ann');
  const shownMissed = list.filter((m) => m.text.startsWith('missed ')).map((m) => m.id);
  assert.deepEqual(shownMissed, missedIds, 'the ids of the acks');
  assert.ok(list.every((m) => !m.pending && m.id !== null), 'nothing pending');

  // The room in view stays at its newest message; nothing asks to jump.
  const view = await a.page.evaluate(() => {
    const s = document.getElementById('message-scroller');
    return { fromBottom: s.scrollHeight - s.scrollTop - s.clientHeight, jump: document.getElementById('jump-latest').hidden };
  });
  assert.ok(view.fromBottom < 60, `scrolled to the newest message (${view.fromBottom} px from the bottom)`);
  assert.equal(view.jump, true, '"new messages" is not offered at the bottom');
  await screenshot(a.page, t);

  // The other room counts every missed message as unread, and shows them all when opened.
  let unreadShown = null;
  await until(async () => (unreadShown = await roomItem(a.page, other.id).getAttribute('data-unread')) === String(MISSED_OTHER),
    { timeout: CATCH_UP_TIMEOUT_MS, desc: `${MISSED_OTHER} unread in the other room` })
    .catch((e) => { throw new Error(`${e.message}; data-unread is ${unreadShown}`); });
  await screenshot(a.page, t, 'unread');
  await openRoom(a.page, other.id, ann.username);
  await until(async () => (await messages(a.page)).length === MISSED_OTHER, { desc: 'the other room\'s messages' });
  const sideList = await messages(a.page);
  assert.deepEqual(sideList.map((m) => m.text), side);
  assert.deepEqual(sideList.map((m) => m.id), sideIds);
  assertNoDuplicates(sideList, 'ann, other room');
  await until(async () => (await roomItem(a.page, other.id).getAttribute('data-unread')) === '0', { desc: 'read once opened' });

  assert.equal(await a.page.evaluate(() => window.__noReload), true, 'the page was not reloaded');
  t.diagnostic(`caught up on ${MISSED + MISSED_OTHER} messages in ${caughtUpMs} ms`);
  checkPage(a.page, 'ann');
});

test('a reader scrolled up keeps its place while the gap is filled', async (t, userPage) => {
  const adminName = uniqueName('admin');
  server.addUser(adminName, { admin: true });
  const admin = new ApiClient(server.url);
  await admin.login(adminName);
  const room = await admin.createRoom(uniqueName('still'));

  const a = await userPage();
  const b = await userPage();
  await a.context.addInitScript((hb) => { window.__chatHeartbeat = hb; }, HEARTBEAT);
  const cat = await signUp(a.context, a.page, server.url, uniqueName('cat'));
  const dan = uniqueName('dan');
  for (const [p, d] of [['/api/register', { username: dan, password: 'correct horse battery', email: `${dan}@example.org` }],
    ['/api/login', { username: dan, password: 'correct horse battery' }]]) {
    const r = await b.context.request.post(server.url + p, { data: d, timeout: 30_000 });
    assert.ok(r.ok(), `${p} ${dan}: ${r.status()} ${await r.text()}`);
  }
  await b.page.goto(server.url + '/favicon.svg');
  const earlier = Array.from({ length: 40 }, (_, i) => `earlier ${i + 1}`);
  await sendBurst(b.page, room.id, earlier, 'earlier');
  await openRoom(a.page, room.id, cat.username);
  await waitForMessage(a.page, earlier.at(-1), { sender: dan });
  // Without Chromium's own scroll anchoring (Safari has none), so that the page's keeps the place.
  await a.page.evaluate(() => { document.getElementById('message-scroller').style.overflowAnchor = 'none'; });

  // Cat is away for 500 messages.
  await a.context.setOffline(true);
  await server.stop();
  await server.start();
  await until(async () => (await a.page.getAttribute('#conn-status', 'data-state')) !== 'online', { desc: 'cat disconnected' });
  const missed = Array.from({ length: 500 }, (_, i) => `while away ${i + 1}`);
  await sendBurst(b.page, room.id, missed, 'away');

  // Back online, with the history pages held until Cat has scrolled up into the newest 200.
  let release;
  const gate = new Promise((r) => { release = r; });
  let held = 0;
  await a.page.route(/\/api\/rooms\/\d+\/messages\?/, async (route) => { held += 1; await gate; await route.continue(); });
  await a.context.setOffline(false);
  await waitConn(a.page, 'online', RECONNECT_TIMEOUT_MS);
  await waitForMessage(a.page, missed.at(-1), { sender: dan });
  await until(() => held > 0, { desc: 'a history page asked for' });
  assert.equal((await messages(a.page)).length, earlier.length + 200, 'joined brought the newest 200');
  const anchorText = 'while away 350';
  const anchorTop = () => a.page.evaluate((text) => {
    const li = [...document.querySelectorAll('#message-list li[data-testid="message"]')]
      .find((el) => el.querySelector('[data-testid="message-text"]').textContent === text);
    return li.getBoundingClientRect().top;
  }, anchorText);
  await a.page.evaluate((text) => {
    const li = [...document.querySelectorAll('#message-list li[data-testid="message"]')]
      .find((el) => el.querySelector('[data-testid="message-text"]').textContent === text);
    li.scrollIntoView({ block: 'start' });
  }, anchorText);
  await until(async () => a.page.evaluate(() => {
    const s = document.getElementById('message-scroller');
    return s.scrollHeight - s.scrollTop - s.clientHeight > 200;
  }), { desc: 'scrolled up' });
  const before = await anchorTop();
  await screenshot(a.page, t, 'before-pages');

  // The pages come in above what Cat reads: it does not move.
  release();
  await until(async () => (await messages(a.page)).length === earlier.length + missed.length,
    { timeout: CATCH_UP_TIMEOUT_MS, interval: 250, desc: 'every message shown' });
  const list = await messages(a.page);
  assert.deepEqual(list.map((m) => m.text), [...earlier, ...missed]);
  assertNoDuplicates(list, 'cat');
  const now = await anchorTop();
  assert.ok(Math.abs(now - before) < 2, `the message read stays in place (${before} -> ${now})`);
  await screenshot(a.page, t);

  // A new message while scrolled up: "new messages" is offered and brings it into view.
  const live = 'dan writes now';
  await sendBurst(b.page, room.id, [live], 'live');
  await waitForMessage(a.page, live, { sender: dan });
  await a.page.locator('#jump-latest').waitFor({ state: 'visible' });
  await a.page.locator('#jump-latest').click();
  await until(async () => a.page.evaluate(() => {
    const s = document.getElementById('message-scroller');
    return s.scrollHeight - s.scrollTop - s.clientHeight < 60;
  }), { desc: 'at the newest message after "new messages"' });
  await screenshot(a.page, t, 'latest');
  checkPage(a.page, 'cat');
});
