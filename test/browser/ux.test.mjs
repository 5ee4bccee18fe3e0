// What people expect of a chat page: sign-up with a two-character Chinese
// name, messages grouped by sender with day separators and a "new messages"
// divider, a placeholder for a deleted message, links that end at Chinese
// text, notices that float and go away with their reason, one Tab stop for
// the whole message list, arrow keys in the user menu, readable contrast and
// sizes. Chinese and English, light and dark, desktop and phone.

import assert from 'node:assert/strict';
import { beforeEach } from 'node:test';
import {
  useSuite, PASSWORD, checkPage, messages, openRoom, roomItem, screenshot, sendMessage, signUp, uniqueName,
  until, waitForMessage, waitSignedIn,
} from './helpers.mjs';

const suite = useSuite({ admin: true });
let server, admin;
beforeEach(() => ({ server, admin } = suite));
const test = suite.test;

const freshRoom = (prefix = 'ux') => admin.createRoom(uniqueName(prefix));
const zh = { locale: 'zh-CN' };
const dark = { colorScheme: 'dark' };
const phone = { viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true };

// Name headers actually shown (a grouped message keeps its name for screen readers only).
const shownSenders = (page) => page.$$eval('#message-list .msg-sender', (els) => els
  .filter((e) => e.getBoundingClientRect().width > 2).map((e) => e.textContent));

test('a two-character Chinese name signs up in the browser; a too short name is refused there', async (t, userPage) => {
  const { page } = await userPage(zh);
  await page.goto(server.url + '/#/register');
  await page.locator('#register-username').fill('ab');
  await page.locator('#register-email').fill('ab@example.org');
  await page.locator('#register-password').fill(PASSWORD);
  await page.locator('#register-submit').click();
  await until(async () => (await page.textContent('#register-username-error')).includes('用户名需为'), { desc: 'ab refused' });
  await screenshot(page, t, 'ab-refused-zh');
  await page.locator('#register-username').fill('张三');
  await page.locator('#register-email').fill('zhangsan@example.org');
  await page.locator('#register-submit').click();
  await waitSignedIn(page, '张三');
  await screenshot(page, t, 'signed-in-zh');
  checkPage(page);
});

test('messages are grouped by sender, with day separators, times and a new-messages divider', async (t, userPage) => {
  const room = await freshRoom('group');
  const a = await userPage(zh);
  const b = await userPage(dark);
  const ann = await signUp(a.context, a.page, server.url, uniqueName('ann'));
  const ben = await signUp(b.context, b.page, server.url, uniqueName('ben'));
  await openRoom(a.page, room.id, ann.username);
  await openRoom(b.page, room.id, ben.username);
  for (const text of ['第一条', 'second one', 'third one']) await sendMessage(b.page, text);
  await waitForMessage(a.page, 'third one');
  await sendMessage(a.page, '收到 https://example.com/x');

  for (const [p, today] of [[a.page, '今天'], [b.page, 'Today']]) {
    const list = await messages(p);
    assert.equal(list.length, 4);
    assert.deepEqual(await shownSenders(p), [ben.username, ann.username], 'one name header per run of a sender');
    const seps = await p.$$eval('#message-list [data-testid="day-separator"]', (els) => els.map((e) => e.textContent));
    assert.deepEqual(seps, [today]);
    const times = await p.$$eval('#message-list time.msg-time', (els) => els.map((e) => ({ text: e.textContent, title: e.title })));
    for (const tm of times) {
      assert.match(tm.text, /^\d{1,2}:\d{2}( [AP]M)?$/, 'a time of day in the bubble');
      assert.match(tm.title, /20\d\d/, 'the full date on hover');
    }
  }
  await screenshot(a.page, t, 'grouped-zh-light');
  await screenshot(b.page, t, 'grouped-en-dark');

  // Ann is elsewhere while Ben writes two more: the room opens at a divider above them.
  await a.page.goto(server.url + '/#/lobby');
  await a.page.locator('#view-lobby').waitFor({ state: 'visible' });
  await sendMessage(b.page, 'are you there?');
  await sendMessage(b.page, 'news for you');
  await until(async () => (await roomItem(a.page, room.id).getAttribute('data-unread')) === '2', { desc: 'two unread' });
  await openRoom(a.page, room.id, ann.username);
  const div = a.page.locator('#message-list [data-testid="new-divider"]');
  await div.waitFor({ state: 'visible' });
  assert.equal(await div.count(), 1);
  const first = await waitForMessage(a.page, 'are you there?');
  assert.equal(await a.page.locator(`#message-list li[data-id="${first.id}"] [data-testid="new-divider"]`).count(), 1, 'the divider is above the first unread message');
  assert.equal((await div.textContent()).trim(), '以下为新消息');
  assert.deepEqual(await shownSenders(a.page), [ben.username, ann.username, ben.username]);
  await screenshot(a.page, t, 'divider-zh');

  // Seen from a day later: the separator says yesterday, in English.
  const c = await userPage({ ...dark, ...phone });
  await c.page.clock.setFixedTime(new Date(Date.now() + 24 * 3600 * 1000));
  const cid = await signUp(c.context, c.page, server.url, uniqueName('cat'));
  await openRoom(c.page, room.id, cid.username);
  await waitForMessage(c.page, 'news for you');
  const seps = await c.page.$$eval('#message-list [data-testid="day-separator"]', (els) => els.map((e) => e.textContent));
  assert.deepEqual(seps, ['Yesterday']);
  await screenshot(c.page, t, 'yesterday-en-dark-phone');
  for (const p of [a.page, b.page, c.page]) checkPage(p);
});

test('a deleted message leaves a placeholder, live for everyone', async (t, userPage) => {
  const room = await freshRoom('del');
  const a = await userPage({ ...zh, allowDialogs: true });
  const b = await userPage();
  const ann = await signUp(a.context, a.page, server.url, uniqueName('ann'));
  const ben = await signUp(b.context, b.page, server.url, uniqueName('ben'));
  await openRoom(a.page, room.id, ann.username);
  await openRoom(b.page, room.id, ben.username);
  await sendMessage(a.page, '发错了');
  await sendMessage(a.page, '这条留着');
  const gone = await waitForMessage(b.page, '发错了');
  await waitForMessage(b.page, '这条留着');
  await a.page.locator(`#message-list li[data-id="${gone.id}"]`).hover();
  await a.page.locator(`#message-list [data-action="delete-message"][data-id="${gone.id}"]`).click();
  for (const [p, text] of [[a.page, '你撤回了一条消息'], [b.page, `${ann.username} recalled a message`]]) {
    const ph = p.locator(`#message-list li[data-id="${gone.id}"][data-testid="message-deleted"]`);
    await ph.waitFor({ state: 'visible' });
    assert.equal((await ph.locator(".msg-deleted-text").textContent()).trim(), text);
    assert.deepEqual((await messages(p)).map((m) => m.text), ['这条留着']);
  }
  await screenshot(a.page, t, 'placeholder-zh');
  await screenshot(b.page, t, 'placeholder-en');
  checkPage(a.page);
  checkPage(b.page);
});

test('links end where Chinese text begins, but Chinese paths stay in the link', async (t, userPage) => {
  const room = await freshRoom('link');
  const a = await userPage(zh);
  const ann = await signUp(a.context, a.page, server.url, uniqueName('ann'));
  await openRoom(a.page, room.id, ann.username);
  const text = '看https://a.com/x这个，还有 https://example.com/路径 和（https://b.org/y）。';
  await sendMessage(a.page, text);
  const links = await a.page.$$eval('#message-list .msg-text a', (els) => els.map((e) => [e.textContent, e.getAttribute('href')]));
  assert.deepEqual(links, [
    ['https://a.com/x', 'https://a.com/x'],
    ['https://example.com/路径', 'https://example.com/%E8%B7%AF%E5%BE%84'],
    ['https://b.org/y', 'https://b.org/y'],
  ]);
  assert.equal(await a.page.textContent('#message-list .msg-text'), text, 'the text is unchanged');
  await screenshot(a.page, t);
  checkPage(a.page);
});

// Presses Tab from the skip link until the message box has focus; the number of presses.
async function tabsToComposer(page) {
  await page.locator('#skip-link').focus();
  const seen = [];
  for (let i = 1; i <= 200; i++) {
    await page.keyboard.press('Tab');
    const where = await page.evaluate(() => {
      const el = document.activeElement;
      return { id: el.id, inList: !!el.closest('#message-list'), tag: el.tagName };
    });
    seen.push(where);
    if (where.id === 'message-input') return { count: i, seen };
  }
  throw new Error('the message box was not reached with Tab');
}

test('the message list is one Tab stop however long; arrow keys move through messages and the user menu', async (t, userPage) => {
  const room = await freshRoom('keys');
  const { page, context } = await userPage({ allowDialogs: true });
  const ann = await signUp(context, page, server.url, uniqueName('ann'));
  await openRoom(page, room.id, ann.username);
  await sendMessage(page, 'message 1');
  const few = await tabsToComposer(page);
  const input = page.locator('#message-input');
  for (let i = 2; i <= 50; i++) {
    await input.fill(`message ${i} https://example.com/${i}`);
    await input.press('Enter');
  }
  await until(async () => (await messages(page)).filter((m) => m.id !== null && !m.pending).length === 50, { timeout: 60_000, desc: '50 messages' });
  const many = await tabsToComposer(page);
  t.diagnostic(`Tab presses from the skip link to the message box: ${few.count} with 1 message, ${many.count} with 50`);
  assert.equal(many.count, few.count, 'the number of Tab stops does not grow with the messages');
  assert.ok(many.count <= 30, `${many.count} Tab stops`);
  assert.equal(many.seen.filter((s) => s.inList).length, 0, 'nothing inside the message list is a Tab stop');

  // The skip link goes straight to the message box.
  await page.locator('#skip-link').focus();
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'message-input');

  // Arrow keys in the list: newest message, the one before, its controls.
  await page.locator('#message-scroller').focus();
  await page.keyboard.press('ArrowUp');
  const focusedText = () => page.evaluate(() => {
    const li = document.activeElement.closest('#message-list > li');
    return li && li.querySelector('[data-testid="message-text"]').textContent;
  });
  assert.equal(await focusedText(), 'message 50 https://example.com/50');
  await page.keyboard.press('ArrowUp');
  assert.equal(await focusedText(), 'message 49 https://example.com/49');
  // Inside a message: the sender's profile button, the link, then the actions (reply, react,
  // edit, delete), in that order.
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement.dataset.action), 'profile');
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.evaluate(() => document.activeElement.tagName), 'A');
  for (const action of ['reply', 'react-picker', 'edit-message', 'delete-message']) {
    await page.keyboard.press('ArrowRight');
    assert.equal(await page.evaluate(() => document.activeElement.dataset.action), action);
  }
  assert.equal(await page.locator('#message-list li:focus-within .msg-actions').evaluate((e) => getComputedStyle(e).opacity), '1', 'the actions show on focus');
  await screenshot(page, t, 'delete-focused');
  await page.keyboard.press('Enter');
  const deleted = page.locator('#message-list [data-testid="message-deleted"]');
  await deleted.waitFor({ state: 'visible' });
  assert.equal(page.dialogs.filter((d) => d.type === 'confirm').length, 1);

  // Jumping to an old search result shows no "new messages" button.
  await page.locator('#search-input').fill('message 3');
  await page.locator('#search-input').press('Enter');
  const hit = page.locator('#search-results .search-hit').filter({ hasText: 'message 3 ' });
  await hit.first().click();
  await page.locator('#message-list li.msg-highlight').waitFor({ state: 'attached' });
  await page.waitForTimeout(300);
  assert.equal(await page.locator('#jump-latest').isVisible(), false, 'no "new messages" button after a jump');

  // The user menu: arrow keys move between its items.
  await page.locator('#user-menu-btn').click();
  assert.equal(await page.evaluate(() => document.activeElement.id), 'nav-password');
  await page.keyboard.press('ArrowDown');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'logout-btn');
  await page.keyboard.press('ArrowUp');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'nav-password');
  await page.keyboard.press('End');
  assert.notEqual(await page.evaluate(() => document.activeElement.id), 'nav-password');
  await page.keyboard.press('Escape');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'user-menu-btn');
  checkPage(page);
});

// Every shown text: its contrast with the colour behind it, and its size.
function textAudit(page) {
  return page.evaluate(() => {
    const parse = (c) => { const m = c.match(/[\d.]+/g); return m ? m.map(Number) : [0, 0, 0, 0]; };
    const lum = ([r, g, b]) => {
      const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const bgOf = (el) => {
      for (let e = el; e; e = e.parentElement) {
        const c = parse(getComputedStyle(e).backgroundColor);
        if (c.length < 4 || c[3] > 0.5) return c;
      }
      return [255, 255, 255];
    };
    const out = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      if (!n.textContent.trim()) continue;
      const el = n.parentElement;
      const r = el.getBoundingClientRect();
      const cs = getComputedStyle(el);
      if (r.width < 2 || r.height < 2 || cs.visibility === 'hidden' || Number(cs.opacity) === 0) continue;
      if (el.closest('[hidden], .visually-hidden, button:disabled, input:disabled, .btn-primary, .unread-badge')) continue;
      const fg = parse(cs.color);
      const bg = bgOf(el);
      const [l1, l2] = [lum(fg), lum(bg)].sort((a, b) => b - a);
      out.push({ text: n.textContent.trim().slice(0, 30), ratio: (l1 + 0.05) / (l2 + 0.05), size: parseFloat(cs.fontSize), cls: el.className });
    }
    return out;
  });
}

test('light and dark: secondary texts have a contrast of 4.5:1 and nothing is smaller than 11 px', async (t, userPage) => {
  const room = await freshRoom('contrast');
  for (const [opts, label] of [[{ ...zh }, 'zh-light'], [{ colorScheme: 'dark' }, 'en-dark']]) {
    const { page, context } = await userPage(opts);
    const u = await signUp(context, page, server.url, uniqueName('eve'));
    await openRoom(page, room.id, u.username);
    await sendMessage(page, `hello ${label}`);
    await page.locator('#message-input').fill('x'.repeat(4001));
    await page.locator('#message-input').press('Enter');
    await page.locator('#notice').waitFor({ state: 'visible' });
    for (const view of ['room', 'lobby']) {
      if (view === 'lobby') { await page.goto(server.url + '/#/lobby'); await page.locator('#view-lobby').waitFor({ state: 'visible' }); }
      const audit = await textAudit(page);
      const low = audit.filter((a) => a.ratio < 4.5);
      const small = audit.filter((a) => a.size < 11);
      assert.deepEqual(low, [], `${label} ${view}: texts below 4.5:1`);
      assert.deepEqual(small, [], `${label} ${view}: texts under 11 px`);
      await screenshot(page, t, `${label}-${view}`);
    }
    checkPage(page);
  }
});

test('layout: badges leave room names readable, pop-ups and notices cover nothing, notices go with their reason, phones reach every button', async (t, userPage) => {
  const room = await admin.createRoom('产品讨论组' + uniqueName('').slice(1, 4));
  const a = await userPage(zh);
  const b = await userPage();
  const ann = await signUp(a.context, a.page, server.url, uniqueName('ann'));
  const ben = await signUp(b.context, b.page, server.url, uniqueName('ben'));
  await openRoom(a.page, room.id, ann.username);
  // Ben joins: Ann's join pop-up does not cover Leave.
  await openRoom(b.page, room.id, ben.username);
  const toast = a.page.locator('#toasts [data-testid="toast"]').first();
  await toast.waitFor({ state: 'visible' });
  const tb = await toast.boundingBox();
  for (const sel of ['#leave-room', '#send-button', '#members-toggle']) {
    const box = await a.page.locator(sel).boundingBox();
    if (!box) continue;
    const overlap = tb.x < box.x + box.width && box.x < tb.x + tb.width && tb.y < box.y + box.height && box.y < tb.y + tb.height;
    assert.equal(overlap, false, `the pop-up covers ${sel}`);
  }
  // Unread badge: the name keeps room to be read.
  await a.page.goto(server.url + '/#/lobby');
  for (let i = 0; i < 3; i++) await sendMessage(b.page, `ping ${i}`);
  await until(async () => (await roomItem(a.page, room.id).getAttribute('data-unread')) === '3', { desc: 'unread 3' });
  const nameW = await roomItem(a.page, room.id).locator('.room-name').evaluate((e) => ({ w: e.getBoundingClientRect().width, full: e.scrollWidth }));
  assert.ok(nameW.w >= 60, `room name squeezed to ${nameW.w}px`);
  await screenshot(a.page, t, 'badge-zh');

  // A too-long send: the notice floats (the page does not move) and the next valid send clears it.
  await openRoom(b.page, room.id, ben.username);
  const top0 = await b.page.locator('#app-shell').evaluate((e) => e.getBoundingClientRect().top);
  await b.page.locator('#message-input').fill('y'.repeat(4001));
  await b.page.locator('#send-button').click();
  await b.page.locator('#notice').waitFor({ state: 'visible' });
  assert.equal(await b.page.locator('#app-shell').evaluate((e) => e.getBoundingClientRect().top), top0, 'the notice does not push the page down');
  await screenshot(b.page, t, 'too-long-en');
  await sendMessage(b.page, 'a fine one');
  assert.equal(await b.page.locator('#notice').isVisible(), false, 'a valid send clears the notice');
  // A notice does not follow the user to another page.
  await b.page.locator('#message-input').fill('y'.repeat(4001));
  await b.page.locator('#send-button').click();
  await b.page.locator('#notice').waitFor({ state: 'visible' });
  await b.page.locator('#user-menu-btn').click();
  await b.page.locator('#nav-password').click();
  await b.page.locator('#password-form').waitFor({ state: 'visible' });
  assert.equal(await b.page.locator('#notice').isVisible(), false, 'the notice stayed behind');

  // Phone: Leave on one line; the admin's user table reaches its ban buttons.
  const p = await userPage({ ...zh, ...phone });
  const pu = await signUp(p.context, p.page, server.url, uniqueName('pat'));
  await openRoom(p.page, room.id, pu.username);
  const leave = await p.page.locator('#leave-room').evaluate((e) => ({ h: e.getBoundingClientRect().height, lh: parseFloat(getComputedStyle(e).lineHeight) }));
  assert.ok(leave.h < leave.lh * 2, `Leave wraps (${leave.h}px)`);
  await screenshot(p.page, t, 'phone-room-zh');
  const ad = await userPage({ ...phone });
  await ad.page.goto(server.url + '/#/login');
  await ad.page.locator('#login-username').fill(suite.adminName);
  await ad.page.locator('#login-password').fill(PASSWORD);
  await ad.page.locator('#login-submit').click();
  await waitSignedIn(ad.page, suite.adminName);
  await ad.page.locator('#admin-users-panel').waitFor({ state: 'visible' });
  const row = ad.page.locator(`#admin-users tr[data-user="${pu.username}"]`);
  await row.waitFor({ state: 'visible' });
  const btn = row.locator('button').first();
  await btn.scrollIntoViewIfNeeded();
  const bb = await btn.boundingBox();
  assert.ok(bb && bb.x >= 0 && bb.x + bb.width <= 375, `ban button at ${JSON.stringify(bb)}`);
  const hitOk = await btn.evaluate((e) => { const r = e.getBoundingClientRect(); return e.contains(document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2)); });
  assert.ok(hitOk, 'the ban button can be tapped');
  const nb = await row.locator('.admin-user-name').boundingBox();
  assert.ok(nb && nb.x >= 0 && nb.x + nb.width <= 375 && Math.abs(nb.y - bb.y) < 120, 'the name shows next to its ban button');
  const ext = await ad.page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(ext <= 375, `page is ${ext}px wide`);
  await screenshot(ad.page, t, 'phone-admin-users');
  for (const pg of [a.page, b.page, p.page, ad.page]) checkPage(pg);
});
