// A server that goes silent: chatd is frozen with SIGSTOP, so its kernel keeps
// the TCP connections up and the browser sees nothing wrong on its own. The
// page's heartbeat ({"type":"ping"} answered by {"type":"pong"}, with timings
// shortened through window.__chatHeartbeat) notices, shows that it is
// reconnecting, keeps a message typed meanwhile as pending, and reconnects by
// itself when chatd runs again (SIGCONT); the message then arrives once.
// chatd pings every second here, and Chromium's answers keep idle pages
// connected. This file has its own chatd.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before } from 'node:test';
import {
  ApiClient, ChatServer, browserTest, checkPage, launchBrowser, messages, openRoom, screenshot,
  sendMessage, signUp, uniqueName, until, waitConn, waitForMessage,
} from './helpers.mjs';

const HEARTBEAT = { idleMs: 1500, pongMs: 1500, openMs: 3000 };
const NOTICE_MS = 12_000;      // silence noticed: 3 s by the timings, plus a loaded machine
const RECONNECT_MS = 45_000;   // back online after SIGCONT (backoff up to 8 s here, plus a slow start)
const IDLE_WATCH_MS = 4_000;   // four of chatd's ping intervals

let server, browser;
before(async () => {
  server = new ChatServer({ args: ['--ws-ping-interval', '1'] });
  await server.start();
  browser = await launchBrowser();
});
after(async () => {
  if (browser) await browser.close();
  if (server) {
    if (server.child) server.child.kill('SIGCONT');
    await server.stopClean();
    server.cleanup();
  }
});
const test = browserTest(() => browser);

/** The connection states the page went through, recorded in the page. */
async function recordConnStates(page) {
  await page.evaluate(() => {
    window.__connStates = [document.getElementById('conn-status').dataset.state];
    new MutationObserver(() => {
      const s = document.getElementById('conn-status').dataset.state;
      if (window.__connStates.at(-1) !== s) window.__connStates.push(s);
    })
      .observe(document.getElementById('conn-status'), { attributes: true, attributeFilter: ['data-state'] });
  });
}

test('the page notices a frozen server and reconnects when it runs again', async (t, userPage) => {
  const adminName = uniqueName('admin');
  server.addUser(adminName, { admin: true });
  const admin = new ApiClient(server.url);
  await admin.login(adminName);
  const room = await admin.createRoom(uniqueName('frozen'));

  const a = await userPage();
  const b = await userPage();
  for (const { context } of [a, b]) await context.addInitScript((hb) => { window.__chatHeartbeat = hb; }, HEARTBEAT);
  const ada = await signUp(a.context, a.page, server.url, uniqueName('ada'));
  const bea = await signUp(b.context, b.page, server.url, uniqueName('bea'));
  await openRoom(a.page, room.id, ada.username);
  await openRoom(b.page, room.id, bea.username);
  for (const p of [a.page, b.page]) await p.evaluate(() => { window.__noReload = true; });

  const expected = ['ada before', 'bea before'];
  await sendMessage(a.page, expected[0]);
  await sendMessage(b.page, expected[1]);
  await waitForMessage(a.page, expected[1], { sender: bea.username });

  // Idle for several of chatd's ping intervals: Chromium answers them, the
  // page's own pings are answered, nobody is dropped or reconnects.
  for (const p of [a.page, b.page]) await recordConnStates(p);
  await new Promise((r) => setTimeout(r, IDLE_WATCH_MS));
  for (const [p, label] of [[a.page, 'ada'], [b.page, 'bea']]) {
    assert.deepEqual(await p.evaluate(() => window.__connStates), ['online'], `${label} stayed online while idle`);
  }
  assert.doesNotMatch(fs.readFileSync(server.logPath, 'utf8'), /dead peer/, 'no live page was taken for a dead peer');

  // Freeze chatd: the connections stay up, nothing answers.
  const frozenAt = Date.now();
  server.child.kill('SIGSTOP');
  let noticed;
  try {
    await waitConn(a.page, 'reconnecting', NOTICE_MS);
    noticed = Date.now() - frozenAt;
    await waitConn(b.page, 'reconnecting', NOTICE_MS);
    t.diagnostic(`the page noticed the frozen server after ${noticed} ms`);
    assert.match(await a.page.textContent('#conn-text'), /reconnecting|connecting/i);

    // A message typed meanwhile waits as pending.
    const frozenText = 'ada while the server is frozen';
    await a.page.locator('#message-input').fill(frozenText);
    await a.page.locator('#send-button').click();
    await a.page.locator('#message-list li[data-pending="true"]').filter({ hasText: frozenText }).waitFor({ state: 'attached' });
    expected.push(frozenText);
    await waitConn(a.page, 'reconnecting', NOTICE_MS);
    await screenshot(a.page, t, 'frozen');
    // Long enough for at least one reconnect attempt to time out unanswered.
    await new Promise((r) => setTimeout(r, HEARTBEAT.openMs + 1000));
    assert.notEqual(await a.page.getAttribute('#conn-status', 'data-state'), 'online');
  } finally {
    server.child.kill('SIGCONT');
  }
  assert.ok(noticed < NOTICE_MS, `noticed after ${noticed} ms`);

  // chatd runs again: both pages come back by themselves.
  await waitConn(a.page, 'online', RECONNECT_MS);
  await waitConn(b.page, 'online', RECONNECT_MS);
  await waitForMessage(a.page, expected[2], { sender: ada.username });
  await waitForMessage(b.page, expected[2], { sender: ada.username });
  const z = 'bea after';
  await sendMessage(b.page, z);
  await waitForMessage(a.page, z, { sender: bea.username });
  expected.push(z);

  for (const [p, label] of [[a.page, 'ada'], [b.page, 'bea']]) {
    assert.equal(await p.evaluate(() => window.__noReload), true, `${label}: the page was not reloaded`);
    const list = await messages(p);
    assert.deepEqual(list.map((m) => m.text), expected, `${label}: every message once, in order`);
    assert.ok(list.every((m) => !m.pending && m.id !== null), `${label}: nothing left pending`);
  }
  await until(async () => (await b.page.locator(`#member-list li[data-user="${ada.username}"]`).count()) === 1,
    { desc: 'ada back in the member list' });
  await screenshot(a.page, t);
  checkPage(a.page, 'ada');
  checkPage(b.page, 'bea');
});
