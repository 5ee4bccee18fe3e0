// Community features in the browser: friends (request, accept, online state),
// direct messages live in both directions and in a second tab, unread counts
// kept by the server, search with a highlighted Chinese match that jumps to
// the message, message deletion and bans by an administrator, the e-mail
// switch, and the 375 px layout of the new parts. One chatd and one Chromium
// serve every test in this file; each test uses its own users and rooms.

import assert from 'node:assert/strict';
import { beforeEach } from 'node:test';
import {
  useSuite, PASSWORD, assertNoDuplicates, checkPage, friendItem, horizontalExtent, loginViaUI,
  messages, newTab, openDm, openRoom, requestItem, screenshot, sendMessage, signUp, uniqueName,
  until, waitConn, waitForMessage, waitSignedIn,
} from './helpers.mjs';

const suite = useSuite({ admin: true });
/** The file's chatd, Chromium and administrator, set before each test. */
let server, browser, admin, adminName;
beforeEach(() => ({ server, browser, admin, adminName } = suite));
/** Browser tests: each gets fresh contexts, closed when it ends. */
const test = suite.test;

async function freshRoom(prefix = 'room', topic = '') {
  return admin.createRoom(uniqueName(prefix), topic);
}

/** Makes two signed-in browser users friends over HTTP (their pages see it live). */
async function befriend(a, aName, b, bName) {
  const r1 = await a.context.request.post(server.url + '/api/friends', { data: { username: bName } });
  assert.equal(r1.status(), 200, `request: ${await r1.text()}`);
  const r2 = await b.context.request.post(server.url + '/api/friends', { data: { username: aName } });
  assert.equal(r2.status(), 200, `accept: ${await r2.text()}`);
  assert.equal((await r2.json()).state, 'friends');
}

/** Sends messages into a room over a second WebSocket of the page's session; returns their ids. */
function seedRoom(page, roomId, texts) {
  return page.evaluate(async ({ roomId, texts }) => {
    // A repeated cid would be acknowledged with the first message's id, so each seeding has its own.
    const tag = 'seed' + Math.random().toString(36).slice(2);
    const ws = new WebSocket(`ws://${location.host}/ws`);
    const acks = new Map();
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`seeding timed out with ${acks.size} acks`)), 60_000);
      ws.onerror = () => reject(new Error('seeding socket error'));
      ws.onmessage = (ev) => {
        const f = JSON.parse(ev.data);
        if (f.type === 'joined' && f.room === roomId) {
          texts.forEach((text, i) => ws.send(JSON.stringify({ type: 'send', room: roomId, text, cid: `${tag}-${i}` })));
        } else if (f.type === 'ack') {
          acks.set(f.cid, f.id);
          if (acks.size === texts.length) {
            clearTimeout(timer);
            ws.close();
            resolve(texts.map((_, i) => acks.get(`${tag}-${i}`)));
          }
        } else if (f.type === 'error') {
          reject(new Error(`seeding error frame ${ev.data}`));
        }
      };
      ws.onopen = () => ws.send(JSON.stringify({ type: 'join', room: roomId }));
    });
  }, { roomId, texts });
}

/** Whether the element's box is inside the message scroller's visible area. */
function inScrollerView(page, selector) {
  return page.evaluate((sel) => {
    const el = document.querySelector(sel);
    const s = document.getElementById('message-scroller');
    if (!el || !s) return false;
    const a = el.getBoundingClientRect();
    const b = s.getBoundingClientRect();
    return a.top >= b.top - 1 && a.bottom <= b.bottom + 1;
  }, selector);
}

test('two users become friends through the UI and see each other online', async (t, userPage) => {
  const a = await userPage();
  const b = await userPage();
  const amy = await signUp(a.context, a.page, server.url, uniqueName('amy'));
  const ben = await signUp(b.context, b.page, server.url, uniqueName('ben'));
  for (const p of [a.page, b.page]) await p.evaluate(() => { window.__noReload = true; });
  await a.page.locator('#friends-empty').waitFor({ state: 'visible' });

  // Errors are shown next to the field: an unknown user and oneself.
  const ghost = uniqueName('ghost');
  await a.page.locator('#add-friend-input').fill(ghost);
  await a.page.locator('#add-friend-btn').click();
  await until(async () => (await a.page.textContent('#add-friend-error')).trim() === `There is no user called “${ghost}”.`,
    { desc: 'no_such_user error' });
  assert.equal(await a.page.getAttribute('#add-friend-input', 'aria-invalid'), 'true');
  await a.page.locator('#add-friend-input').fill(amy.username);
  await a.page.locator('#add-friend-input').press('Enter');
  await until(async () => (await a.page.textContent('#add-friend-error')).trim() === 'You cannot add yourself as a friend.',
    { desc: 'bad_request error for oneself' });
  await a.page.locator('#add-friend-input').fill('   ');
  await a.page.locator('#add-friend-btn').click();
  await until(async () => (await a.page.textContent('#add-friend-error')).trim() === 'Enter a username.', { desc: 'empty field error' });
  await screenshot(a.page, t, 'errors');

  // Amy asks Ben; the request shows on both sides live.
  await a.page.locator('#add-friend-input').fill(ben.username);
  await a.page.locator('#add-friend-btn').click();
  await until(async () => (await a.page.textContent('#add-friend-status')).trim() === `Friend request sent to ${ben.username}.`,
    { desc: 'request sent status' });
  assert.equal((await a.page.textContent('#add-friend-error')).trim(), '');
  assert.equal(await a.page.inputValue('#add-friend-input'), '', 'the field is cleared');
  await requestItem(a.page, ben.username, 'outgoing').waitFor({ state: 'visible' });
  await requestItem(b.page, amy.username, 'incoming').waitFor({ state: 'visible' });
  await b.page.locator('#toasts [data-testid="toast"]').filter({ hasText: `${amy.username} sent you a friend request.` })
    .waitFor({ state: 'attached' });
  assert.equal(await friendItem(a.page, ben.username).count(), 0, 'not friends yet');
  await screenshot(b.page, t, 'incoming-request');

  // Ben accepts with the keyboard-reachable button.
  const accept = b.page.locator(`#friend-requests [data-action="accept"][data-user="${amy.username}"]`);
  await accept.focus();
  await b.page.keyboard.press('Enter');
  await friendItem(b.page, amy.username).waitFor({ state: 'visible' });
  await friendItem(a.page, ben.username).waitFor({ state: 'visible' });
  await requestItem(a.page, ben.username, 'outgoing').waitFor({ state: 'detached' });
  await requestItem(b.page, amy.username, 'incoming').waitFor({ state: 'detached' });

  // Both are online, and each sees the other so.
  await until(async () => (await friendItem(a.page, ben.username).getAttribute('data-online')) === 'true', { desc: 'Ben online for Amy' });
  await until(async () => (await friendItem(b.page, amy.username).getAttribute('data-online')) === 'true', { desc: 'Amy online for Ben' });
  assert.equal((await a.page.textContent('#friends-online-count')).trim(), '1');
  await screenshot(a.page, t, 'friends-online');

  // Ben goes away and comes back: Amy's list follows live.
  await b.page.goto('about:blank');
  await until(async () => (await friendItem(a.page, ben.username).getAttribute('data-online')) === 'false',
    { desc: 'Ben offline for Amy' });
  await b.page.goto(server.url + '/#/lobby');
  await waitSignedIn(b.page, ben.username);
  await until(async () => (await friendItem(a.page, ben.username).getAttribute('data-online')) === 'true',
    { desc: 'Ben online again for Amy' });
  await friendItem(b.page, amy.username).waitFor({ state: 'visible' });
  assert.equal(await a.page.evaluate(() => window.__noReload), true, 'Amy\'s page was live all along');

  // A declined request disappears on both sides.
  const cy = await userPage();
  const cyd = await signUp(cy.context, cy.page, server.url, uniqueName('cyd'));
  await cy.page.locator('#add-friend-input').fill(amy.username);
  await cy.page.locator('#add-friend-btn').click();
  await requestItem(a.page, cyd.username, 'incoming').waitFor({ state: 'visible' });
  await a.page.locator(`#friend-requests [data-action="decline"][data-user="${cyd.username}"]`).click();
  await requestItem(a.page, cyd.username, 'incoming').waitFor({ state: 'detached' });
  await requestItem(cy.page, amy.username, 'outgoing').waitFor({ state: 'detached' });
  assert.equal(await friendItem(cy.page, amy.username).count(), 0);

  await screenshot(a.page, t);
  await screenshot(b.page, t, 'ben');
  checkPage(a.page, 'amy');
  checkPage(b.page, 'ben');
  checkPage(cy.page, 'cyd');
});

test('friends exchange direct messages live; a second tab shows each once', async (t, userPage) => {
  const a = await userPage();
  const b = await userPage({ allowDialogs: true });
  const dan = await signUp(a.context, a.page, server.url, uniqueName('dan'));
  const eve = await signUp(b.context, b.page, server.url, uniqueName('eve'));
  await befriend(a, dan.username, b, eve.username);
  await friendItem(a.page, eve.username).waitFor({ state: 'visible' });
  await friendItem(b.page, dan.username).waitFor({ state: 'visible' });

  // Eve's second tab, signed in through the same cookie.
  const b2 = await newTab(b.context);
  await b2.goto(server.url + '/#/lobby');
  await waitSignedIn(b2, eve.username);
  await friendItem(b2, dan.username).waitFor({ state: 'visible' });
  for (const p of [a.page, b.page, b2]) await p.evaluate(() => { window.__noReload = true; });

  // Dan writes first; Eve's tabs are in the lobby and count it as unread.
  await openDm(a.page, eve.username);
  assert.equal(await a.page.locator('#leave-room').isVisible(), false, 'no leave button in a DM');
  assert.equal((await a.page.textContent('#room-title')).trim(), eve.username);
  const d1 = `hi ${eve.username}, this is ${dan.username}`;
  await sendMessage(a.page, d1);
  for (const p of [b.page, b2]) {
    await until(async () => (await friendItem(p, dan.username).getAttribute('data-unread')) === '1', { desc: 'one unread DM' });
    await friendItem(p, dan.username).locator('[data-testid="unread"]').waitFor({ state: 'visible' });
  }
  await screenshot(b.page, t, 'unread-dm');

  // Eve opens the conversation in both tabs.
  await openDm(b.page, dan.username);
  await openDm(b2, dan.username);
  await waitForMessage(b.page, d1, { sender: dan.username });
  await waitForMessage(b2, d1, { sender: dan.username });
  await until(async () => (await friendItem(b.page, dan.username).getAttribute('data-unread')) === '0', { desc: 'unread cleared' });

  // Back and forth, including a burst from each side.
  const e1 = `hello ${dan.username}! 你好`;
  await sendMessage(b.page, e1, { via: 'enter' });
  await waitForMessage(a.page, e1, { sender: eve.username });
  await waitForMessage(b2, e1, { sender: eve.username });
  const burstA = ['dan 1', 'dan 2', 'dan 3'];
  const burstB = ['eve 1', 'eve 2'];
  for (const x of burstA) await sendMessage(a.page, x);
  for (const x of burstB) await sendMessage(b2, x);
  const all = [d1, e1, ...burstA, ...burstB];
  for (const p of [a.page, b.page, b2]) {
    for (const x of all) await waitForMessage(p, x);
  }
  for (const [p, self, label] of [[a.page, dan.username, 'dan'], [b.page, eve.username, 'eve'], [b2, eve.username, 'eve tab 2']]) {
    const list = await messages(p);
    assert.deepEqual(list.map((m) => m.text), all, `${label}: every DM once, in order`);
    assertNoDuplicates(list, label);
    for (const m of list) {
      assert.equal(m.pending, false);
      assert.equal(m.own, m.sender === self, `${label}: own mark of ${JSON.stringify(m)}`);
    }
    assert.equal(await p.evaluate(() => window.__noReload), true, `${label}: no reload`);
  }
  assert.deepEqual((await messages(a.page)).map((m) => m.id), (await messages(b2)).map((m) => m.id), 'same ids everywhere');
  await screenshot(a.page, t, 'dan');
  await screenshot(b2, t, 'eve-tab-2');

  // Read markers live on the server: a reload shows no unread, a DM that
  // arrives while Eve is elsewhere is unread after a reload too.
  await b.page.locator('#brand').click();
  await b2.locator('#brand').click();
  await b.page.locator('#view-lobby').waitFor({ state: 'visible' });
  await b.page.waitForTimeout(1200);
  await b.page.reload();
  await waitSignedIn(b.page, eve.username);
  await friendItem(b.page, dan.username).waitFor({ state: 'visible' });
  assert.equal(await friendItem(b.page, dan.username).getAttribute('data-unread'), '0', 'nothing unread after reading');
  const d2 = 'are you there?';
  await sendMessage(a.page, d2);
  await until(async () => (await friendItem(b.page, dan.username).getAttribute('data-unread')) === '1', { desc: 'live unread' });
  await b.page.reload();
  await waitSignedIn(b.page, eve.username);
  await until(async () => (await friendItem(b.page, dan.username).getAttribute('data-unread')) === '1', { desc: 'unread from the server' });

  // Once Eve removes Dan, his next DM is refused with a visible error.
  await friendItem(b.page, dan.username).locator('[data-action="remove-friend"]').click();
  await friendItem(b.page, dan.username).waitFor({ state: 'detached' });
  await friendItem(a.page, eve.username).waitFor({ state: 'detached' });
  assert.match(b.page.dialogs.at(-1).message, new RegExp(`Remove ${dan.username} from your friends`));
  await until(async () => (await a.page.textContent('#room-topic')).includes('not friends'), { desc: 'DM header says not friends' });
  await a.page.locator('#message-input').fill('still there?');
  await a.page.locator('#send-button').click();
  const failed = a.page.locator('#message-list li[data-pending="true"].failed');
  await failed.waitFor({ state: 'visible' });
  assert.match(await failed.locator('[data-testid="message-status"]').textContent(), /Direct messages are for friends only/);
  await failed.locator('[data-testid="retry-send"]').waitFor({ state: 'visible' });
  await screenshot(a.page, t, 'not-friends');

  await screenshot(b.page, t);
  checkPage(a.page, 'dan');
  checkPage(b.page, 'eve');
  checkPage(b2, 'eve tab 2');
});

test('search finds a Chinese message, highlights the match and jumps to it', async (t, userPage) => {
  const room = await freshRoom('search');
  const other = await freshRoom('search-other');
  const a = await userPage({ locale: 'zh-CN' });
  const b = await userPage();
  const fei = await signUp(a.context, a.page, server.url, uniqueName('fei'));
  const gil = await signUp(b.context, b.page, server.url, uniqueName('gil'));

  const target = '我家在上海东边';
  await openRoom(a.page, room.id, fei.username);
  await sendMessage(a.page, target);
  const targetId = (await waitForMessage(a.page, target)).id;
  // Enough newer messages that the target is not on the first page.
  const fillers = Array.from({ length: 80 }, (_, i) => `填充消息 ${i + 1}`);
  await seedRoom(a.page, room.id, fillers);
  await seedRoom(a.page, other.id, ['上海 is in another room too']);

  // Gil (never in the room) searches from the lobby.
  await b.page.locator('#search-input').fill('上海');
  await b.page.locator('#search-input').press('Enter');
  await b.page.locator('#view-search').waitFor({ state: 'visible' });
  const hit = b.page.locator(`#search-results li[data-id="${targetId}"][data-kind="room"]`);
  await hit.waitFor({ state: 'visible' });
  const results = await b.page.$$eval('#search-results li', (els) => els.map((li) => ({
    id: Number(li.dataset.id), kind: li.dataset.kind, room: Number(li.dataset.room),
    text: li.querySelector('[data-testid="search-text"]').textContent,
    marks: [...li.querySelectorAll('mark')].map((m) => m.textContent),
    where: li.querySelector('[data-testid="search-where"]').textContent,
    time: !!li.querySelector('time[datetime]'),
  })));
  assert.equal(results.length, 2, JSON.stringify(results));
  assert.equal(results[0].room, other.id, 'newest first');
  const r = results.find((x) => x.id === targetId);
  assert.equal(r.text, target);
  assert.deepEqual(r.marks, ['上海'], 'the match is highlighted');
  assert.equal(r.where, '#' + room.name);
  assert.ok(r.time, 'the result shows its time');
  // The highlight is text in a <mark>, nothing else.
  const markup = await hit.locator('[data-testid="search-text"]').evaluate((el) => el.innerHTML);
  assert.equal(markup, '我家在<mark>上海</mark>东边');
  await screenshot(b.page, t, 'results');

  // Clicking the result opens the room and brings the message into view.
  await hit.locator('button').click();
  await until(async () => (await b.page.evaluate(() => location.hash)) === `#/room/${room.id}`, { desc: 'route to the room' });
  const sel = `#message-list li[data-id="${targetId}"]`;
  await b.page.locator(sel).waitFor({ state: 'attached', timeout: 20_000 });
  await until(() => inScrollerView(b.page, sel), { desc: 'the message scrolled into view' });
  assert.equal(await b.page.locator(sel).evaluate((el) => el.classList.contains('msg-highlight')), true, 'briefly highlighted');
  const list = await messages(b.page);
  assert.ok(list.length > 50, `older pages were loaded (${list.length} messages)`);
  assertNoDuplicates(list);
  await screenshot(b.page, t, 'jumped');

  // Within the current room only, in the Chinese UI.
  await openRoom(a.page, room.id, fei.username);
  await a.page.locator('#search-scope-wrap').waitFor({ state: 'visible' });
  await a.page.locator('#search-in-room').check();
  await a.page.locator('#search-input').fill('上海');
  await a.page.locator('#search-btn').click();
  await a.page.locator(`#search-results li[data-id="${targetId}"]`).waitFor({ state: 'visible' });
  assert.equal(await a.page.locator('#search-results li').count(), 1, 'only the room in view');
  assert.equal((await a.page.textContent('#search-title')).trim(), '搜索「上海」');
  assert.match(await a.page.textContent('#search-scope'), new RegExp(room.name));
  await screenshot(a.page, t, 'in-room-zh');

  // A blank search asks nothing; one without hits says so.
  await a.page.locator('#search-input').fill('没有这个词');
  await a.page.locator('#search-input').press('Enter');
  await until(async () => (await a.page.textContent('#search-status')).includes('没有找到'), { desc: 'no results' });
  assert.equal(await a.page.locator('#search-results li').count(), 0);

  await screenshot(b.page, t);
  checkPage(a.page, 'fei');
  checkPage(b.page, 'gil');
});

test('an admin deletes a message and the other user sees it replaced by a placeholder', async (t, userPage) => {
  const room = await freshRoom('moderated');
  const adm = await userPage({ allowDialogs: true });
  const u = await userPage({ allowDialogs: true });
  await loginViaUI(adm.page, server.url, adminName);
  const hana = await signUp(u.context, u.page, server.url, uniqueName('hana'));

  await openRoom(adm.page, room.id, adminName);
  await openRoom(u.page, room.id, hana.username);
  // The admin is told, unobtrusively, that Hana joined.
  await adm.page.locator('#toasts [data-testid="toast"]').filter({ hasText: `${hana.username} joined ${room.name}` })
    .waitFor({ state: 'attached' });
  for (const p of [adm.page, u.page]) await p.evaluate(() => { window.__noReload = true; });

  await sendMessage(u.page, 'this one breaks the rules');
  await sendMessage(u.page, 'this one is fine');
  await sendMessage(adm.page, 'a word from the admin');
  const bad = await waitForMessage(adm.page, 'this one breaks the rules', { sender: hana.username });
  await waitForMessage(u.page, 'a word from the admin', { sender: adminName });

  // Delete buttons: the admin on every message, Hana only on her own.
  assert.equal(await adm.page.locator('#message-list [data-action="delete-message"]').count(), 3);
  const ownButtons = await u.page.$$eval('#message-list [data-action="delete-message"]', (els) => els.map((b) => Number(b.dataset.id)));
  const hanaIds = (await messages(u.page)).filter((m) => m.sender === hana.username).map((m) => m.id);
  assert.deepEqual(ownButtons.sort(), hanaIds.sort());

  await adm.page.locator(`#message-list [data-action="delete-message"][data-id="${bad.id}"]`).click();
  await adm.page.locator(`#message-list li[data-id="${bad.id}"][data-deleted="true"]`).waitFor({ state: 'attached' });
  await u.page.locator(`#message-list li[data-id="${bad.id}"][data-deleted="true"]`).waitFor({ state: 'attached' });
  assert.equal(adm.page.dialogs.filter((d) => d.type === 'confirm').length, 1, 'asked for confirmation first');
  assert.deepEqual((await messages(u.page)).map((m) => m.text), ['this one is fine', 'a word from the admin']);
  assert.equal(await u.page.evaluate(() => window.__noReload), true, 'removed live');
  await screenshot(u.page, t, 'gone-live');

  // Hana deletes her own message too; it is gone after a reload as well.
  const fine = await waitForMessage(u.page, 'this one is fine');
  await u.page.locator(`#message-list [data-action="delete-message"][data-id="${fine.id}"]`).click();
  await adm.page.locator(`#message-list li[data-id="${fine.id}"][data-deleted="true"]`).waitFor({ state: 'attached' });
  await u.page.reload();
  await u.page.locator('#view-room').waitFor({ state: 'visible' });
  await waitForMessage(u.page, 'a word from the admin');
  assert.deepEqual((await messages(u.page)).map((m) => m.text), ['a word from the admin']);

  await screenshot(adm.page, t);
  checkPage(adm.page, 'admin');
  checkPage(u.page, 'hana');
});

test('an admin bans a user whose page is open', async (t, userPage) => {
  const adm = await userPage({ allowDialogs: true });
  const v = await userPage();
  const ivan = await signUp(v.context, v.page, server.url, uniqueName('ivan'));
  await loginViaUI(adm.page, server.url, adminName);

  await adm.page.locator('#admin-users-panel').waitFor({ state: 'visible' });
  const row = adm.page.locator(`#admin-users tr[data-user="${ivan.username}"]`);
  await row.waitFor({ state: 'visible' });
  assert.equal(await row.getAttribute('data-banned'), 'false');
  assert.match(await row.textContent(), new RegExp(`${ivan.email}`));
  await until(async () => (await row.getAttribute('data-online')) === 'true', { desc: 'Ivan shown online' });
  // No ban button for oneself.
  assert.equal(await adm.page.locator(`#admin-users tr[data-user="${adminName}"] button`).count(), 0);
  await screenshot(adm.page, t, 'users-table');

  await row.locator('[data-action="ban"]').click();
  await until(async () => (await row.getAttribute('data-banned')) === 'true', { desc: 'banned in the table' });
  assert.match(adm.page.dialogs.at(-1).message, new RegExp(`Ban ${ivan.username}\\?`));
  await row.locator('[data-action="unban"]').waitFor({ state: 'visible' });

  // Ivan's open page is sent to the login view with a notice.
  await v.page.locator('#login-form').waitFor({ state: 'visible' });
  await v.page.locator('#login-notice').waitFor({ state: 'visible' });
  assert.match(await v.page.textContent('#login-notice'), /banned|session has ended/i);
  assert.equal(await v.page.locator('#user-menu').isVisible(), false);
  await screenshot(v.page, t, 'banned-page');

  // He cannot sign in again.
  await v.page.locator('#login-username').fill(ivan.username);
  await v.page.locator('#login-password').fill(PASSWORD);
  await v.page.locator('#login-submit').click();
  await until(async () => (await v.page.textContent('#login-error')).trim() === 'This account has been banned.', { desc: 'banned on login' });
  await screenshot(v.page, t, 'login-refused');

  // Unbanned, he can.
  await row.locator('[data-action="unban"]').click();
  await until(async () => (await row.getAttribute('data-banned')) === 'false', { desc: 'unbanned in the table' });
  await v.page.locator('#login-submit').click();
  await waitSignedIn(v.page, ivan.username);

  await screenshot(adm.page, t);
  checkPage(adm.page, 'admin');
  checkPage(v.page, 'ivan');
});

test('e-mail notifications can be switched off and on', async (t, userPage) => {
  const { context, page } = await userPage();
  const jo = await signUp(context, page, server.url, uniqueName('jo'));
  await page.locator('#user-menu-btn').click();
  const sw = page.locator('#email-notify');
  await sw.waitFor({ state: 'visible' });
  assert.equal(await sw.isChecked(), true, 'on by default');
  await screenshot(page, t, 'menu');
  await sw.click();
  await until(async () => {
    const r = await context.request.get(server.url + '/api/me');
    return (await r.json()).user.email_notify === false;
  }, { desc: 'email_notify stored as false' });
  await page.reload();
  await waitSignedIn(page, jo.username);
  await page.locator('#user-menu-btn').click();
  assert.equal(await page.locator('#email-notify').isChecked(), false, 'off after a reload');
  await page.locator('#email-notify').press('Space');
  await until(async () => {
    const r = await context.request.get(server.url + '/api/me');
    return (await r.json()).user.email_notify === true;
  }, { desc: 'email_notify stored as true' });
  await screenshot(page, t);
  checkPage(page, 'jo');
});

test('friends, direct messages and search fit a phone screen', async (t, userPage) => {
  const phone = await userPage({ viewport: { width: 375, height: 667 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  const desk = await userPage();
  const kai = await signUp(phone.context, phone.page, server.url, uniqueName('kai'));
  const lia = await signUp(desk.context, desk.page, server.url, uniqueName('lia'));
  const page = phone.page;
  async function noOverflow(where) {
    const e = await horizontalExtent(page);
    assert.ok(e.scrollWidth <= 375, `${where}: document is ${e.scrollWidth}px wide (${JSON.stringify(e)})`);
  }

  // A pending request with a long name and a friend.
  const longName = uniqueName('a_rather_long_username');
  const mo = await userPage();
  await signUp(mo.context, mo.page, server.url, longName);
  await mo.page.locator('#add-friend-input').fill(kai.username);
  await mo.page.locator('#add-friend-btn').click();
  await befriend(phone, kai.username, desk, lia.username);
  await requestItem(page, longName, 'incoming').waitFor({ state: 'visible' });
  await friendItem(page, lia.username).waitFor({ state: 'visible' });
  await noOverflow('lobby with friends');
  await screenshot(page, t, 'lobby');

  // The conversation view.
  await friendItem(page, lia.username).locator('[data-action="open-dm"]').tap();
  await page.locator(`#message-list[data-dm="${lia.username}"]`).waitFor({ state: 'attached' });
  assert.equal(await page.locator('#sidebar').isVisible(), false, 'the sidebar is hidden in a DM on a phone');
  await page.locator('#message-input').fill('sent from a phone, 手机发的');
  await page.locator('#send-button').tap();
  await waitForMessage(page, 'sent from a phone, 手机发的');
  await openDm(desk.page, kai.username);
  await waitForMessage(desk.page, 'sent from a phone, 手机发的', { sender: kai.username });
  await noOverflow('DM');
  await screenshot(page, t, 'dm');

  // Search from the lobby.
  await page.locator('#back-to-lobby').tap();
  await page.locator('#search-input').fill('手机');
  await page.locator('#search-input').press('Enter');
  const hit = page.locator('#search-results li[data-kind="dm"]');
  await hit.first().waitFor({ state: 'visible' });
  assert.equal(await hit.first().getAttribute('data-user'), lia.username);
  assert.deepEqual(await hit.first().locator('mark').allTextContents(), ['手机']);
  await noOverflow('search results');
  await screenshot(page, t, 'search');
  await hit.first().locator('button').tap();
  await until(async () => (await page.evaluate(() => location.hash)) === `#/dm/${encodeURIComponent(lia.username)}`, { desc: 'route to the DM' });
  await page.locator('#message-list li.msg-highlight').waitFor({ state: 'attached' });
  await waitConn(page, 'online');

  await screenshot(page, t);
  checkPage(page, 'phone');
  checkPage(desk.page, 'desk');
  checkPage(mo.page, 'mo');
});
