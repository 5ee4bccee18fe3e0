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
  for (const [p, text] of [[a.page, '消息已被撤回/删除'], [b.page, 'This message was deleted']]) {
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
