// Chatting in the browser: two users live, reload, history paging, text
// safety, Chinese UI, phone layout, typing indicator, unread counts, and a
// send that is refused. One chatd and one Chromium serve every test in this
// file; each test uses its own users and rooms.

import assert from 'node:assert/strict';
import { beforeEach } from 'node:test';
import {
  useSuite, PASSWORD, assertNoDuplicates, checkPage, horizontalExtent, loginViaUI, logoutViaUI,
  messages, openRoom, registerViaUI, roomItem, screenshot, sendMessage, signUp, uniqueName, until,
  waitForMessage,
} from './helpers.mjs';

const suite = useSuite({ admin: true });
/** The file's chatd, Chromium and administrator, set before each test. */
let server, browser, admin;
beforeEach(() => ({ server, browser, admin } = suite));
/** Browser tests: each gets fresh contexts, closed when it ends. */
const test = suite.test;

/** A fresh room for one test, made by the administrator over HTTP. */
async function freshRoom(prefix = 'room', topic = '') {
  return admin.createRoom(uniqueName(prefix), topic);
}

test('two users chat live in the same room', async (t, userPage) => {
  const room = await freshRoom('live', 'two users');
  const a = await userPage();
  const b = await userPage();
  const alice = uniqueName('alice');
  const bob = uniqueName('bob');

  await registerViaUI(a.page, server.url, { username: alice });
  await registerViaUI(b.page, server.url, { username: bob });
  // Both sign out and sign in again through the login form.
  await logoutViaUI(a.page);
  await loginViaUI(a.page, server.url, alice, PASSWORD, { navigate: false });
  await logoutViaUI(b.page);
  await loginViaUI(b.page, server.url, bob, PASSWORD, { navigate: false });

  await openRoom(a.page, room.id, alice);
  await openRoom(b.page, room.id, bob);
  // Each sees the other in the member list (join presence is live too).
  await a.page.locator(`#member-list li[data-user="${bob}"]`).waitFor({ state: 'attached' });
  await b.page.locator(`#member-list li[data-user="${alice}"]`).waitFor({ state: 'attached' });

  // Marks the documents: a reload would lose the marks.
  for (const p of [a.page, b.page]) await p.evaluate(() => { window.__noReload = true; });

  const m1 = `hello from ${alice}`;
  await sendMessage(a.page, m1);
  const seenByB = await waitForMessage(b.page, m1, { sender: alice });
  assert.equal(seenByB.own, false, 'a message from the other user is not marked as own');

  const m2 = `hi ${alice}, ${bob} here`;
  await sendMessage(b.page, m2, { via: 'enter' });
  const seenByA = await waitForMessage(a.page, m2, { sender: bob });
  assert.equal(seenByA.own, false);

  const m3 = `second line from ${alice}`;
  await sendMessage(a.page, m3, { via: 'enter' });
  await waitForMessage(b.page, m3, { sender: alice });

  for (const [p, self, other] of [[a.page, alice, bob], [b.page, bob, alice]]) {
    assert.equal(await p.evaluate(() => window.__noReload), true, 'the page was not reloaded');
    const list = await messages(p);
    assert.deepEqual(list.map((m) => m.text), [m1, m2, m3]);
    for (const m of list) {
      assert.equal(m.pending, false);
      assert.equal(m.own, m.sender === self, `own mark of ${JSON.stringify(m)}`);
    }
    assertNoDuplicates(list);
    // Own messages carry the "own" class and the "(you)" label; others do not.
    const marks = await p.$$eval('#message-list li[data-testid="message"]', (els) => els.map((li) => ({
      sender: li.dataset.sender, cls: li.classList.contains('own'), you: !!li.querySelector('.msg-you'),
    })));
    for (const mk of marks) {
      assert.equal(mk.cls, mk.sender === self, `class of a message from ${mk.sender}`);
      assert.equal(mk.you, mk.sender === self, `label of a message from ${mk.sender}`);
    }
    assert.ok(marks.some((mk) => mk.sender === other));
  }
  // Both messages by the same two ids on both sides.
  const idsA = (await messages(a.page)).map((m) => m.id);
  const idsB = (await messages(b.page)).map((m) => m.id);
  assert.deepEqual(idsA, idsB);

  await screenshot(a.page, t, 'alice');
  await screenshot(b.page, t, 'bob');
  checkPage(a.page, 'alice');
  checkPage(b.page, 'bob');
});

test('reload keeps the history', async (t, userPage) => {
  const room = await freshRoom('reload');
  const a = await userPage();
  const b = await userPage();
  const carol = await signUp(a.context, a.page, server.url, uniqueName('carol'));
  const dave = await signUp(b.context, b.page, server.url, uniqueName('dave'));
  await openRoom(a.page, room.id, carol.username);
  await openRoom(b.page, room.id, dave.username);

  const texts = [];
  for (let i = 1; i <= 3; i++) {
    const mine = `carol says ${i}`;
    await sendMessage(a.page, mine);
    texts.push(mine);
    const theirs = `dave answers ${i}`;
    await sendMessage(b.page, theirs);
    texts.push(theirs);
  }
  await waitForMessage(a.page, texts.at(-1));
  const before = await messages(a.page);

  await a.page.reload();
  await a.page.locator('#view-room').waitFor({ state: 'visible' });
  await until(async () => (await messages(a.page)).length >= texts.length, { desc: 'history after reload' });
  const afterReload = await messages(a.page);
  assert.deepEqual(afterReload.map((m) => m.text), texts, 'each earlier message once, in order');
  assert.deepEqual(afterReload.map((m) => m.id), before.map((m) => m.id));
  assertNoDuplicates(afterReload);
  for (const m of afterReload) assert.equal(m.own, m.sender === carol.username);

  // The reloaded page is live again.
  const live = 'dave after the reload';
  await sendMessage(b.page, live);
  await waitForMessage(a.page, live, { sender: dave.username });
  assertNoDuplicates(await messages(a.page));

  await screenshot(a.page, t);
  checkPage(a.page, 'carol');
  checkPage(b.page, 'dave');
});

test('scrolling up loads older pages until the first message', async (t, userPage) => {
  const room = await freshRoom('history');
  const { context, page } = await userPage();
  const erin = await signUp(context, page, server.url, uniqueName('erin'));
  const TOTAL = 130;

  // Seeds the room over a second WebSocket of the same session, opened in the page.
  const seeded = await page.evaluate(async ({ roomId, total }) => {
    const ws = new WebSocket(`ws://${location.host}/ws`);
    const acks = new Map();
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`seeding timed out with ${acks.size} acks`)), 60_000);
      ws.onerror = () => reject(new Error('seeding socket error'));
      ws.onmessage = (ev) => {
        const f = JSON.parse(ev.data);
        if (f.type === 'joined' && f.room === roomId) {
          for (let i = 1; i <= total; i++) {
            ws.send(JSON.stringify({ type: 'send', room: roomId, text: `seed ${String(i).padStart(3, '0')}`, cid: `seed-${i}` }));
          }
        } else if (f.type === 'ack') {
          acks.set(f.cid, f.id);
          if (acks.size === total) {
            clearTimeout(timer);
            ws.close();
            resolve([...acks.values()].sort((x, y) => x - y));
          }
        } else if (f.type === 'error') {
          reject(new Error(`seeding error frame ${ev.data}`));
        }
      };
      ws.onopen = () => ws.send(JSON.stringify({ type: 'join', room: roomId }));
    });
  }, { roomId: room.id, total: TOTAL });
  assert.equal(seeded.length, TOTAL);

  await openRoom(page, room.id, erin.username);
  const expected = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => `seed ${String(from + i).padStart(3, '0')}`);

  // Only the newest page is shown at first.
  await until(async () => (await messages(page)).length === 50, { desc: 'newest page of 50' });
  let list = await messages(page);
  assert.deepEqual(list.map((m) => m.text), expected(TOTAL - 49, TOTAL));
  assert.deepEqual(list.map((m) => m.id), seeded.slice(-50));
  await page.locator('#load-older').waitFor({ state: 'visible' });
  assert.equal(await page.locator('#history-start').isVisible(), false);
  const atBottom = await page.$eval('#message-scroller', (s) => s.scrollHeight - s.scrollTop - s.clientHeight < 60);
  assert.ok(atBottom, 'the room opens at the newest message');
  await screenshot(page, t, 'newest-page');

  // Scrolls to the top until the beginning of the room is reached.
  let scrolls = 0;
  await until(async () => {
    if (await page.locator('#history-start').isVisible()) return true;
    scrolls += 1;
    await page.locator('#message-scroller').evaluate((s) => { s.scrollTop = 0; });
    return false;
  }, { timeout: 30_000, interval: 250, desc: 'the beginning of the history' });
  assert.ok(scrolls >= 2, 'two older pages were needed');

  list = await messages(page);
  assert.equal(list.length, TOTAL);
  assert.deepEqual(list.map((m) => m.text), expected(1, TOTAL));
  assert.deepEqual(list.map((m) => m.id), seeded);
  const uniqueIds = await page.$$eval('#message-list li[data-testid="message"][data-id]', (els) => new Set(els.map((e) => e.dataset.id)).size);
  assert.equal(uniqueIds, TOTAL);
  assertNoDuplicates(list);
  assert.equal(await page.locator('#load-older').isVisible(), false);
  // Older pages keep the reading position; one more scroll to the top shows the first message.
  await page.locator('#message-scroller').evaluate((s) => { s.scrollTop = 0; });
  await page.locator('#message-list li[data-testid="message"]').first().waitFor({ state: 'visible' });
  const firstInView = await page.$eval('#message-scroller', (s) => {
    const li = s.querySelector('#message-list li[data-testid="message"]');
    const a = li.getBoundingClientRect();
    const b = s.getBoundingClientRect();
    return a.bottom > b.top && a.top < b.bottom;
  });
  assert.ok(firstInView, 'the first message is scrolled into view');

  await screenshot(page, t);
  checkPage(page, 'erin');
});

test('the load-older button pages back too', async (t, userPage) => {
  const room = await freshRoom('older');
  const { context, page } = await userPage();
  const fay = await signUp(context, page, server.url, uniqueName('fay'));
  await page.evaluate(async ({ roomId }) => {
    const ws = new WebSocket(`ws://${location.host}/ws`);
    await new Promise((resolve, reject) => {
      let n = 0;
      const timer = setTimeout(() => reject(new Error('seeding timed out')), 30_000);
      ws.onmessage = (ev) => {
        const f = JSON.parse(ev.data);
        if (f.type === 'joined') for (let i = 1; i <= 60; i++) ws.send(JSON.stringify({ type: 'send', room: roomId, text: `old ${i}`, cid: `o${i}` }));
        if (f.type === 'ack' && ++n === 60) { clearTimeout(timer); ws.close(); resolve(); }
      };
      ws.onopen = () => ws.send(JSON.stringify({ type: 'join', room: roomId }));
    });
  }, { roomId: room.id });
  await openRoom(page, room.id, fay.username);
  await until(async () => (await messages(page)).length === 50, { desc: 'newest page' });
  await page.locator('#load-older').waitFor({ state: 'attached' });
  assert.equal(await page.locator('#load-older').isHidden(), false, 'the button is offered');
  // Activated in place: scrolling it into view would load the older page by itself.
  await page.locator('#load-older').evaluate((b) => b.click());
  await page.locator('#history-start').waitFor({ state: 'visible' });
  const list = await messages(page);
  assert.deepEqual(list.map((m) => m.text), Array.from({ length: 60 }, (_, i) => `old ${i + 1}`));
  assertNoDuplicates(list);
  await screenshot(page, t);
  checkPage(page, 'fay');
});

test('markup in a message is shown as text and runs nothing', async (t, userPage) => {
  const room = await freshRoom('xss');
  const a = await userPage();
  const b = await userPage();
  const gus = await signUp(a.context, a.page, server.url, uniqueName('gus'));
  const hal = await signUp(b.context, b.page, server.url, uniqueName('hal'));
  await openRoom(a.page, room.id, gus.username);
  await openRoom(b.page, room.id, hal.username);

  const payloads = [
    '<img src=x onerror=alert(1)>',
    '<script>alert(2)</script><b>bold?</b>',
    '"><svg onload=alert(3)> https://example.org/<img src=x onerror=alert(4)>',
  ];
  for (const text of payloads) await sendMessage(a.page, text);
  for (const text of payloads) await waitForMessage(b.page, text, { sender: gus.username });

  async function check(page, label) {
    const list = await messages(page);
    assert.deepEqual(list.map((m) => m.text), payloads, `${label}: literal text`);
    const injected = await page.$$eval('#message-list img, #message-list script, #message-list svg, #message-list b',
      (els) => els.map((e) => e.outerHTML));
    assert.deepEqual(injected, [], `${label}: no element made from message text`);
    // The only link is the URL's safe prefix, opened in a new tab without opener.
    const links = await page.$$eval('#message-list a', (els) => els.map((e) => ({ href: e.getAttribute('href'), rel: e.rel, text: e.textContent })));
    for (const l of links) {
      assert.match(l.href, /^https:\/\/example\.org\//, `${label}: link ${JSON.stringify(l)}`);
      assert.ok(!/[<>"]/.test(l.href), `${label}: link href without markup`);
      assert.match(l.rel, /noopener/);
    }
    assert.equal(await page.evaluate(() => document.images.length), 0, `${label}: no images in the document`);
    assert.deepEqual(page.dialogs, [], `${label}: no dialog opened`);
    checkPage(page, label);
  }
  await check(a.page, 'sender');
  await check(b.page, 'receiver');
  // Rendering from stored history is as safe as the live stream.
  await b.page.reload();
  await b.page.locator('#view-room').waitFor({ state: 'visible' });
  await until(async () => (await messages(b.page)).length === payloads.length, { desc: 'history after reload' });
  await check(b.page, 'receiver after reload');

  await screenshot(b.page, t);
});

test('the Chinese UI shows Chinese text and a Chinese message round-trips', async (t, userPage) => {
  const room = await admin.createRoom(uniqueName('中文房间'), '用中文聊天');
  const a = await userPage({ locale: 'zh-CN' });
  const b = await userPage({ locale: 'zh-CN' });

  await a.page.goto(server.url + '/');
  await a.page.locator('#login-form').waitFor({ state: 'visible' });
  assert.equal(await a.page.getAttribute('html', 'lang'), 'zh-CN');
  assert.equal((await a.page.textContent('#login-title')).trim(), '登录');
  assert.equal((await a.page.textContent('#login-submit')).trim(), '登录');
  assert.equal((await a.page.textContent('#to-register')).trim(), '注册一个');
  assert.equal((await a.page.textContent('#lang-switch')).trim(), 'English');
  await screenshot(a.page, t, 'login');

  // A Chinese username, registered through the Chinese form.
  const zhang = uniqueName('张三');
  await a.page.locator('#to-register').click();
  assert.equal((await a.page.textContent('#register-submit')).trim(), '注册并登录');
  await registerViaUI(a.page, server.url, { username: zhang, email: 'zhang@example.org' });
  const li = await signUp(b.context, b.page, server.url, uniqueName('李四'));

  // The lobby room is called 大厅; the sidebar and buttons are Chinese.
  const lobby = a.page.locator('#room-list li[data-testid="room-item"][data-name="lobby"] .room-name');
  assert.equal((await lobby.textContent()).trim(), '大厅');
  assert.equal((await a.page.textContent('#rooms-heading')).trim(), '聊天室');
  assert.equal((await a.page.textContent('#conn-text')).trim(), '已连接');
  assert.equal((await a.page.textContent('#home-title')).trim(), `欢迎，${zhang}`);

  await openRoom(a.page, room.id, zhang);
  await openRoom(b.page, room.id, li.username);
  assert.equal((await a.page.textContent('#send-button')).trim(), '发送');
  assert.equal((await a.page.textContent('#leave-room')).trim(), '离开');
  assert.equal(await a.page.getAttribute('#message-input', 'placeholder'), `发消息到「${room.name}」`);

  const text = '你好，世界！这是一条中文消息：汉字、標點「」和 emoji 🀄。';
  await sendMessage(a.page, text);
  const got = await waitForMessage(b.page, text, { sender: zhang });
  assert.equal(got.text, text);
  // The own-message label is Chinese too.
  assert.equal((await a.page.locator('#message-list li[data-own="true"] .msg-you').first().textContent()).trim(), '（我）');

  const reply = '收到，谢谢！';
  await sendMessage(b.page, reply, { via: 'enter' });
  await waitForMessage(a.page, reply, { sender: li.username });

  // After a reload the stored text is the same.
  await b.page.reload();
  await b.page.locator('#view-room').waitFor({ state: 'visible' });
  await until(async () => (await messages(b.page)).length === 2, { desc: 'history after reload' });
  assert.deepEqual((await messages(b.page)).map((m) => m.text), [text, reply]);

  // Switching the language changes the labels.
  await a.page.locator('#lang-switch').click();
  await until(async () => (await a.page.textContent('#send-button')).trim() === 'Send', { desc: 'English labels' });
  await a.page.locator('#lang-switch').click();
  await until(async () => (await a.page.textContent('#send-button')).trim() === '发送', { desc: 'Chinese labels again' });

  await screenshot(a.page, t);
  checkPage(a.page, '张三');
  checkPage(b.page, '李四');
});

test('a phone-sized screen can sign in, chat and does not overflow', async (t, userPage) => {
  const room = await freshRoom('phone');
  const ivy = uniqueName('ivy');
  server.addUser(ivy);
  const phone = await userPage({ viewport: { width: 375, height: 667 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  const desk = await userPage();
  const jon = await signUp(desk.context, desk.page, server.url, uniqueName('jon'));
  await openRoom(desk.page, room.id, jon.username);

  const page = phone.page;
  async function noOverflow(where) {
    const e = await horizontalExtent(page);
    assert.ok(e.scrollWidth <= 375, `${where}: document is ${e.scrollWidth}px wide (${JSON.stringify(e)})`);
  }

  await page.goto(server.url + '/');
  await page.locator('#login-form').waitFor({ state: 'visible' });
  await noOverflow('login');
  await page.locator('#login-username').tap();
  await loginViaUI(page, server.url, ivy, PASSWORD, { navigate: false });
  await noOverflow('lobby');
  await screenshot(page, t, 'lobby');

  // On a phone the room list is the home view; tapping a room opens it.
  await roomItem(page, room.id).locator('a').tap();
  await page.locator('#view-room').waitFor({ state: 'visible' });
  await page.locator(`#member-list li[data-user="${ivy}"]`).waitFor({ state: 'attached' });
  assert.equal(await page.locator('#sidebar').isVisible(), false, 'the sidebar is hidden in a room on a phone');
  await page.locator('#back-to-lobby').waitFor({ state: 'visible' });

  const mine = 'sent from a phone';
  await page.locator('#message-input').tap();
  await page.locator('#message-input').fill(mine);
  await page.locator('#send-button').tap();
  await waitForMessage(page, mine);
  await waitForMessage(desk.page, mine, { sender: ivy });

  const long = 'a-very-long-word-without-spaces-'.repeat(12) + ' https://example.org/' + 'x'.repeat(150);
  await sendMessage(desk.page, 'read on a phone');
  await sendMessage(desk.page, long);
  await waitForMessage(page, 'read on a phone', { sender: jon.username });
  await waitForMessage(page, long, { sender: jon.username });
  const last = page.locator('#message-list li[data-testid="message"]').last();
  await last.waitFor({ state: 'visible' });
  const box = await last.boundingBox();
  assert.ok(box && box.x >= 0 && box.x + box.width <= 375, `the last message fits the screen: ${JSON.stringify(box)}`);
  await noOverflow('room');
  // The composer and send button are on screen.
  const send = await page.locator('#send-button').boundingBox();
  assert.ok(send && send.x + send.width <= 375 && send.y + send.height <= 667, `send button on screen: ${JSON.stringify(send)}`);

  // The members panel opens as an overlay without widening the page.
  await page.locator('#members-toggle').tap();
  await page.locator('#members-panel').waitFor({ state: 'visible' });
  await noOverflow('members panel');
  await screenshot(page, t, 'members');
  await page.locator('#members-toggle').tap();
  await page.locator('#members-panel').waitFor({ state: 'hidden' });

  await screenshot(page, t);
  await page.locator('#back-to-lobby').tap();
  await page.locator('#view-lobby').waitFor({ state: 'visible' });
  await noOverflow('back in the lobby');
  checkPage(page, 'phone');
  checkPage(desk.page, 'desktop');
});

test('the typing indicator shows who is typing', async (t, userPage) => {
  const room = await freshRoom('typing');
  const a = await userPage();
  const b = await userPage();
  const kim = await signUp(a.context, a.page, server.url, uniqueName('kim'));
  const lou = await signUp(b.context, b.page, server.url, uniqueName('lou'));
  await openRoom(a.page, room.id, kim.username);
  await openRoom(b.page, room.id, lou.username);

  assert.equal((await b.page.textContent('#typing-indicator')).trim(), '');
  await a.page.locator('#message-input').pressSequentially('typing something', { delay: 10 });
  await until(async () => (await b.page.textContent('#typing-indicator')).trim() === `${kim.username} is typing…`,
    { desc: 'typing indicator on the other page' });
  // The typist does not see themself typing.
  assert.equal((await a.page.textContent('#typing-indicator')).trim(), '');
  await screenshot(b.page, t, 'typing');

  // The hint goes away when the message arrives.
  await a.page.locator('#message-input').press('Enter');
  await waitForMessage(b.page, 'typing something', { sender: kim.username });
  await until(async () => (await b.page.textContent('#typing-indicator')).trim() === '', { desc: 'typing indicator cleared' });

  await screenshot(b.page, t);
  checkPage(a.page, 'kim');
  checkPage(b.page, 'lou');
});

test('unread counts grow on another joined room and clear when opened', async (t, userPage) => {
  const r1 = await freshRoom('unread1');
  const r2 = await freshRoom('unread2');
  const a = await userPage();
  const b = await userPage();
  const max = await signUp(a.context, a.page, server.url, uniqueName('max'));
  const ned = await signUp(b.context, b.page, server.url, uniqueName('ned'));
  await openRoom(a.page, r2.id, max.username);
  // Ned joins both rooms and stays in the first.
  await openRoom(b.page, r2.id, ned.username);
  await openRoom(b.page, r1.id, ned.username);
  await until(async () => (await roomItem(b.page, r2.id).getAttribute('data-joined')) === 'true', { desc: 'joined second room' });
  assert.equal(await roomItem(b.page, r2.id).getAttribute('data-unread'), '0');
  assert.equal(await roomItem(b.page, r2.id).locator('[data-testid="unread"]').count(), 0);

  await sendMessage(a.page, 'unread one');
  await sendMessage(a.page, 'unread two');
  await sendMessage(a.page, 'unread three');
  await until(async () => (await roomItem(b.page, r2.id).getAttribute('data-unread')) === '3', { desc: 'three unread' });
  const badge = roomItem(b.page, r2.id).locator('[data-testid="unread"]');
  await badge.waitFor({ state: 'visible' });
  assert.match(await badge.textContent(), /^3/);
  // The room in view and the creator's own room stay at zero.
  assert.equal(await roomItem(b.page, r1.id).getAttribute('data-unread'), '0');
  assert.equal(await roomItem(a.page, r2.id).getAttribute('data-unread'), '0');
  assert.match(await b.page.title(), /^\(3\) /);
  await screenshot(b.page, t, 'badge');

  await openRoom(b.page, r2.id, ned.username);
  await until(async () => (await roomItem(b.page, r2.id).getAttribute('data-unread')) === '0', { desc: 'unread cleared' });
  assert.equal(await roomItem(b.page, r2.id).locator('[data-testid="unread"]').count(), 0);
  assert.deepEqual((await messages(b.page)).map((m) => m.text), ['unread one', 'unread two', 'unread three']);
  assert.doesNotMatch(await b.page.title(), /^\(/);

  await screenshot(b.page, t);
  checkPage(a.page, 'max');
  checkPage(b.page, 'ned');
});

test('a message over 4000 characters is refused visibly', async (t, userPage) => {
  const room = await freshRoom('toolong');
  const { context, page } = await userPage();
  const oz = await signUp(context, page, server.url, uniqueName('oz'));
  await openRoom(page, room.id, oz.username);

  const tooLong = 'x'.repeat(4001);
  await page.locator('#message-input').fill(tooLong);
  await until(async () => (await page.textContent('#char-count')).trim() === '4001/4000', { desc: 'character count' });
  assert.equal(await page.locator('#char-count').evaluate((e) => e.classList.contains('over')), true);
  await page.locator('#send-button').click();
  await page.locator('#notice').waitFor({ state: 'visible' });
  assert.match(await page.textContent('#notice-text'), /too long.*4000/);
  // Nothing was sent and the text is kept for editing.
  assert.equal((await messages(page)).length, 0);
  assert.equal((await page.inputValue('#message-input')).length, 4001);
  await screenshot(page, t);

  // Exactly 4000 characters (Chinese characters count as one each) are accepted.
  const max = '字'.repeat(4000);
  await sendMessage(page, max);
  assert.equal((await messages(page))[0].text.length, 4000);
  checkPage(page, 'oz');
});
