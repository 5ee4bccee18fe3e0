// A chatd crash mid-conversation: the pages show that they are reconnecting,
// reconnect by themselves when chatd is back on the same port and database,
// and show every message exactly once. This file has its own chatd.

import assert from 'node:assert/strict';
import { beforeEach } from 'node:test';
import {
  useSuite, ApiClient, assertNoDuplicates, checkPage, messages, openRoom, screenshot, sendMessage,
  signUp, uniqueName, until, waitConn, waitForMessage,
} from './helpers.mjs';

const RECONNECT_TIMEOUT_MS = 45_000;   // backoff is 1 s doubling with jitter; the restart takes a few

const suite = useSuite();
/** The file's chatd, Chromium, set before each test. */
let server, browser;
beforeEach(() => ({ server, browser } = suite));
/** Browser tests: each gets fresh contexts, closed when it ends. */
const test = suite.test;

test('chatd is killed and restarted mid-conversation', async (t, userPage) => {
  const adminName = uniqueName('admin');
  server.addUser(adminName, { admin: true });
  const admin = new ApiClient(server.url);
  await admin.login(adminName);
  const room = await admin.createRoom(uniqueName('crash'));

  const a = await userPage();
  const b = await userPage();
  const rae = await signUp(a.context, a.page, server.url, uniqueName('rae'));
  const sam = await signUp(b.context, b.page, server.url, uniqueName('sam'));
  await openRoom(a.page, room.id, rae.username);
  await openRoom(b.page, room.id, sam.username);
  for (const p of [a.page, b.page]) await p.evaluate(() => { window.__noReload = true; });

  const expected = [];
  for (let i = 1; i <= 3; i++) {
    const x = `rae before ${i}`;
    await sendMessage(a.page, x);
    expected.push(x);
    const y = `sam before ${i}`;
    await sendMessage(b.page, y);
    expected.push(y);
  }
  await waitForMessage(a.page, expected.at(-1));
  await waitForMessage(b.page, expected.at(-2));

  // Crash.
  await server.kill();
  await waitConn(a.page, 'reconnecting');
  await waitConn(b.page, 'reconnecting');
  assert.match(await a.page.textContent('#conn-text'), /reconnecting/i);
  await screenshot(a.page, t, 'reconnecting');

  // A message typed while the server is down waits as pending.
  const offline = 'rae while the server is down';
  await a.page.locator('#message-input').fill(offline);
  await a.page.locator('#send-button').click();
  await a.page.locator('#message-list li[data-pending="true"]').filter({ hasText: offline }).waitFor({ state: 'attached' });
  await screenshot(a.page, t, 'pending');

  // Restart on the same port and database; both pages come back by themselves.
  await server.start();
  await waitConn(a.page, 'online', RECONNECT_TIMEOUT_MS);
  await waitConn(b.page, 'online', RECONNECT_TIMEOUT_MS);

  // The pending message is delivered once, to both.
  await waitForMessage(a.page, offline, { sender: rae.username });
  await waitForMessage(b.page, offline, { sender: rae.username });
  expected.push(offline);

  // The other user writes after the restart; the page shows it live.
  for (let i = 1; i <= 2; i++) {
    const y = `sam after ${i}`;
    await sendMessage(b.page, y);
    await waitForMessage(a.page, y, { sender: sam.username });
    expected.push(y);
  }
  const z = 'rae after';
  await sendMessage(a.page, z);
  await waitForMessage(b.page, z, { sender: rae.username });
  expected.push(z);

  for (const [p, label] of [[a.page, 'rae'], [b.page, 'sam']]) {
    assert.equal(await p.evaluate(() => window.__noReload), true, `${label}: the page was not reloaded`);
    const list = await messages(p);
    assert.deepEqual(list.map((m) => m.text), expected, `${label}: every message once, in order`);
    assert.ok(list.every((m) => !m.pending && m.id !== null), `${label}: nothing left pending`);
    assertNoDuplicates(list, label);
  }
  assert.deepEqual((await messages(a.page)).map((m) => m.id), (await messages(b.page)).map((m) => m.id));

  // A reload after all this shows the same history from the store.
  await a.page.reload();
  await a.page.locator('#view-room').waitFor({ state: 'visible' });
  await until(async () => (await messages(a.page)).length === expected.length, { desc: 'history after reload' });
  assert.deepEqual((await messages(a.page)).map((m) => m.text), expected);

  await screenshot(a.page, t);
  await screenshot(b.page, t, 'sam');
  checkPage(a.page, 'rae');
  checkPage(b.page, 'sam');
});

test('a page that was away during the restart catches up on what it missed', async (t, userPage) => {
  const adminName = uniqueName('admin');
  server.addUser(adminName, { admin: true });
  const admin = new ApiClient(server.url);
  await admin.login(adminName);
  const room = await admin.createRoom(uniqueName('away'));

  const a = await userPage();
  const b = await userPage();
  const tia = await signUp(a.context, a.page, server.url, uniqueName('tia'));
  const uma = await signUp(b.context, b.page, server.url, uniqueName('uma'));
  await openRoom(a.page, room.id, tia.username);
  await openRoom(b.page, room.id, uma.username);
  await a.page.evaluate(() => { window.__noReload = true; });

  const expected = ['tia before', 'uma before'];
  await sendMessage(a.page, expected[0]);
  await sendMessage(b.page, expected[1]);
  await waitForMessage(a.page, expected[1], { sender: uma.username });

  // Tia's browser loses its network, then chatd crashes and comes back.
  await a.context.setOffline(true);
  await server.kill();
  await until(async () => ['reconnecting', 'offline'].includes(await a.page.getAttribute('#conn-status', 'data-state')),
    { desc: 'tia disconnected' });
  await waitConn(b.page, 'reconnecting');
  await server.start();
  await waitConn(b.page, 'online', RECONNECT_TIMEOUT_MS);

  // Uma writes while Tia is still away.
  for (const x of ['uma while tia is away 1', 'uma while tia is away 2']) {
    await sendMessage(b.page, x);
    expected.push(x);
  }
  assert.notEqual(await a.page.getAttribute('#conn-status', 'data-state'), 'online');

  // Tia's network returns: the page reconnects and shows the missed messages once.
  await a.context.setOffline(false);
  await waitConn(a.page, 'online', RECONNECT_TIMEOUT_MS);
  for (const x of expected.slice(2)) await waitForMessage(a.page, x, { sender: uma.username });
  const back = 'tia is back';
  await sendMessage(a.page, back);
  await waitForMessage(b.page, back, { sender: tia.username });
  expected.push(back);

  for (const [p, label] of [[a.page, 'tia'], [b.page, 'uma']]) {
    const list = await messages(p);
    assert.deepEqual(list.map((m) => m.text), expected, `${label}: every message once, in order`);
    assertNoDuplicates(list, label);
  }
  assert.equal(await a.page.evaluate(() => window.__noReload), true, 'the page was not reloaded');

  await screenshot(a.page, t);
  checkPage(a.page, 'tia');
  checkPage(b.page, 'uma');
});
