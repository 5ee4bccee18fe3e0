// Replies, @mentions, reactions, edits and recall in the browser: a reply
// with its quote and a jump to the original, @mention autocomplete picked
// with the keyboard, the mention highlighted and counted in a separate "@N"
// badge, a reaction from the emoji picker seen live with who reacted on the
// other user's page, an inline edit shown as edited, and a recall notice.
// One user in Chinese and one in English; on a desktop and on a phone.

import assert from 'node:assert/strict';
import { beforeEach } from 'node:test';
import {
  useSuite, checkPage, messages, openRoom, roomItem, screenshot, sendMessage, signUp, uniqueName, until,
  waitForMessage,
} from './helpers.mjs';

const suite = useSuite({ admin: true });
let server, admin;
beforeEach(() => ({ server, admin } = suite));
const test = suite.test;

const phone = { viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true };
const msgEl = (page, id) => page.locator(`#message-list li[data-id="${id}"]`);

// Shows a message's actions (hover on a desktop, a tap on a phone) and clicks one.
async function act(page, id, action, mobile) {
  const li = msgEl(page, id);
  if (mobile) await li.locator('.msg-bubble').click({ position: { x: 8, y: 8 } });
  else await li.hover();
  await li.locator(`[data-action="${action}"]`).first().click();
}

for (const [lang, device] of [['zh', 'desktop'], ['en', 'phone']]) {
  const mobile = device === 'phone';
  const other = lang === 'zh' ? 'en' : 'zh';
  const opts = (l) => ({ locale: l === 'zh' ? 'zh-CN' : 'en-US', ...(mobile ? phone : {}), allowDialogs: true });

  test(`reply, mention, reaction, edit and recall (${lang} and ${other}, ${device})`, async (t, userPage) => {
    const room = await admin.createRoom(uniqueName('ex'));
    const side = await admin.createRoom(uniqueName('side'));
    const a = await userPage(opts(lang));
    const b = await userPage(opts(other));
    const ann = await signUp(a.context, a.page, server.url, uniqueName(lang === 'zh' ? '安' : 'ann'));
    const ben = await signUp(b.context, b.page, server.url, uniqueName(lang === 'zh' ? 'ben' : '本'));
    if (mobile) {
      // The sidebar is a drawer on a phone: open rooms through their address.
      for (const [p, u] of [[a, ann], [b, ben]]) {
        await p.page.goto(`${server.url}/#/room/${room.id}`);
        await p.page.locator(`#member-list li[data-user="${u.username}"]`).waitFor({ state: 'attached' });
      }
    } else {
      await openRoom(a.page, room.id, ann.username);
      await openRoom(b.page, room.id, ben.username);
    }

    // A reply: the quote is shown on both sides and jumps to the original.
    await sendMessage(a.page, '原来的消息 the original');
    for (let i = 0; i < 6; i++) await sendMessage(a.page, `filler ${i}`);
    const orig = await waitForMessage(b.page, '原来的消息 the original');
    await waitForMessage(b.page, 'filler 5');
    await act(b.page, orig.id, 'reply', mobile);
    await b.page.locator('#reply-bar').waitFor({ state: 'visible' });
    assert.match(await b.page.textContent('#reply-bar'), /原来的消息/);
    await screenshot(b.page, t, `reply-bar-${other}-${device}`);
    await sendMessage(b.page, '我同意 agreed');
    const reply = await waitForMessage(a.page, '我同意 agreed');
    for (const p of [a.page, b.page]) {
      const quote = msgEl(p, reply.id).locator('[data-testid="reply-quote"]');
      await quote.waitFor({ state: 'visible' });
      assert.match(await quote.textContent(), /原来的消息 the original/);
    }
    assert.equal(await b.page.locator('#reply-bar').isHidden(), true);
    await msgEl(a.page, reply.id).locator('[data-testid="reply-quote"]').click();
    await until(async () => (await msgEl(a.page, orig.id).getAttribute('class')).includes('msg-highlight'),
      { desc: 'the original highlighted' });
    await screenshot(a.page, t, `reply-jump-${lang}-${device}`);

    // A mention, picked from the autocomplete with the keyboard, while ann
    // is in another room: counted there as "@1" beside the unread count.
    if (mobile) await a.page.goto(`${server.url}/#/room/${side.id}`);
    else await a.page.goto(`${server.url}/#/room/${side.id}`);
    await a.page.locator('#view-room').waitFor({ state: 'visible' });
    await until(async () => (await a.page.evaluate(() => location.hash)) === `#/room/${side.id}`, { desc: 'side room' });
    const input = b.page.locator('#message-input');
    await input.fill('');
    await input.pressSequentially('hi @' + [...ann.username].slice(0, 2).join(''));
    const option = b.page.locator(`#mention-list li[data-username="${ann.username}"]`);
    await option.waitFor({ state: 'visible' });
    await screenshot(b.page, t, `mention-autocomplete-${other}-${device}`);
    await input.press('ArrowDown');
    await input.press('ArrowUp');
    await until(async () => (await option.getAttribute('aria-selected')) === 'true', { desc: 'option active' });
    await input.press('Enter');
    assert.equal(await input.inputValue(), `hi @${ann.username} `);
    assert.equal(await b.page.locator('#mention-list').isHidden(), true);
    await input.pressSequentially('看这里');
    await input.press('Enter');
    const mentionText = `hi @${ann.username} 看这里`;
    await waitForMessage(b.page, mentionText);
    if (!mobile) {
      const badge = roomItem(a.page, room.id).locator('[data-testid="mention-badge"]');
      await badge.waitFor({ state: 'visible' });
      assert.equal((await badge.locator('[aria-hidden="true"]').textContent()).trim(), '@1');
      await screenshot(a.page, t, `mention-badge-${lang}-${device}`);
    } else {
      await until(async () => a.page.evaluate((id) => {
        // eslint-disable-next-line no-undef
        const li = document.querySelector(`#room-list li[data-room="${id}"] [data-testid="mention-badge"]`);
        return !!li;
      }, room.id), { desc: 'mention badge in the room list' });
    }
    await a.page.goto(`${server.url}/#/room/${room.id}`);
    const mention = await waitForMessage(a.page, mentionText);
    const hl = msgEl(a.page, mention.id).locator('.mention.mention-me');
    await hl.waitFor({ state: 'visible' });
    assert.equal(await hl.textContent(), '@' + ann.username);
    await until(async () => (await roomItem(a.page, room.id).locator('[data-testid="mention-badge"]').count()) === 0,
      { desc: 'badge cleared once read' });

    // A reaction from the picker, live on the other page with who reacted.
    await act(a.page, mention.id, 'react-picker', mobile);
    await a.page.locator('[data-testid="emoji-picker"]').waitFor({ state: 'visible' });
    await screenshot(a.page, t, `emoji-picker-${lang}-${device}`);
    await a.page.locator('[data-testid="emoji-picker"] [data-emoji="👍"]').click();
    const bReaction = msgEl(b.page, mention.id).locator('[data-testid="reaction"][data-emoji="👍"]');
    await bReaction.waitFor({ state: 'visible' });
    assert.equal((await bReaction.locator('.reaction-count').textContent()).trim(), '1');
    assert.match(await bReaction.getAttribute('title'), new RegExp(ann.username));
    await bReaction.click();   // ben adds his own
    const aReaction = msgEl(a.page, mention.id).locator('[data-testid="reaction"][data-emoji="👍"]');
    await until(async () => (await aReaction.locator('.reaction-count').textContent()).trim() === '2', { desc: 'two reactions' });
    assert.equal(await aReaction.getAttribute('aria-pressed'), 'true');
    await screenshot(b.page, t, `reactions-${other}-${device}`);

    // An edit of one's own message: inline, Enter saves, shown as edited.
    const mine = await waitForMessage(a.page, 'filler 5');
    await act(a.page, mine.id, 'edit-message', mobile);
    const editor = msgEl(a.page, mine.id).locator('[data-testid="edit-input"]');
    await editor.waitFor({ state: 'visible' });
    await screenshot(a.page, t, `edit-inline-${lang}-${device}`);
    await editor.press('Escape');   // cancels
    await until(async () => (await msgEl(a.page, mine.id).locator('[data-testid="edit-input"]').count()) === 0, { desc: 'editor closed' });
    await act(a.page, mine.id, 'edit-message', mobile);
    await editor.fill('filler 5, corrected');
    await editor.press('Enter');
    await waitForMessage(b.page, 'filler 5, corrected');
    const mark = msgEl(b.page, mine.id).locator('[data-testid="edit-mark"], [data-testid="edited-mark"]');
    await mark.waitFor({ state: 'visible' });
    assert.equal((await mark.textContent()).trim(), other === 'zh' ? '（已编辑）' : '(edited)');
    await screenshot(b.page, t, `edited-${other}-${device}`);

    // A recall: a notice on both sides; the reply's quote says the original is gone.
    await act(a.page, orig.id, 'delete-message', mobile);
    const notice = (p) => msgEl(p, orig.id).locator('.msg-deleted-text');
    await notice(b.page).waitFor({ state: 'visible' });
    const annName = ann.username;
    assert.equal((await notice(b.page).textContent()).trim(),
      other === 'zh' ? `${annName} 撤回了一条消息` : `${annName} recalled a message`);
    assert.equal((await notice(a.page).textContent()).trim(), lang === 'zh' ? '你撤回了一条消息' : 'You recalled a message');
    const goneQuote = msgEl(b.page, reply.id).locator('.msg-quote-text.gone');
    await goneQuote.waitFor({ state: 'visible' });
    assert.ok(!(await messages(b.page)).some((m) => m.text.includes('原来的消息')));
    await screenshot(a.page, t, `recall-${lang}-${device}`);
    await screenshot(b.page, t, `recall-${other}-${device}`);

    // After a reload the server's history shows the same.
    await b.page.reload();
    await notice(b.page).waitFor({ state: 'visible' });
    await msgEl(b.page, mention.id).locator('[data-testid="reaction"][data-emoji="👍"]').waitFor({ state: 'visible' });
    await msgEl(b.page, mine.id).locator('[data-testid="edited-mark"]').waitFor({ state: 'visible' });
    checkPage(a.page);
    checkPage(b.page);
  });
}

test('the message list keeps one Tab stop with the new buttons', async (t, userPage) => {
  const room = await admin.createRoom(uniqueName('tab'));
  const a = await userPage({ locale: 'en-US' });
  const ann = await signUp(a.context, a.page, server.url, uniqueName('tab'));
  await openRoom(a.page, room.id, ann.username);
  await sendMessage(a.page, 'one');
  await sendMessage(a.page, 'two');
  const tabbable = await a.page.$$eval('#message-list button, #message-list a',
    (els) => els.filter((e) => e.tabIndex >= 0).length);
  assert.equal(tabbable, 0);
  // Arrow keys reach a message's reply button; Enter on it opens the reply bar.
  const two = await waitForMessage(a.page, 'two');
  await msgEl(a.page, two.id).focus();
  await a.page.keyboard.press('Enter');   // the first control: the sender's name
  const action = () => a.page.evaluate(() => document.activeElement && document.activeElement.dataset.action);
  for (let i = 0; i < 6 && (await action()) !== 'reply'; i++) await a.page.keyboard.press('ArrowRight');
  assert.equal(await action(), 'reply');
  await a.page.keyboard.press('Enter');
  await a.page.locator('#reply-bar').waitFor({ state: 'visible' });
  assert.equal(await a.page.evaluate(() => document.activeElement.id), 'message-input');
  await a.page.keyboard.press('Escape');
  await until(async () => a.page.locator('#reply-bar').isHidden(), { desc: 'reply bar closed by Esc' });
  checkPage(a.page);
});

test('a quote of an old message jumps there, loading older pages', async (t, userPage) => {
  const room = await admin.createRoom(uniqueName('old'));
  const a = await userPage({ locale: 'zh-CN' });
  const b = await userPage({ locale: 'en-US' });
  const ann = await signUp(a.context, a.page, server.url, uniqueName('old'));
  const ben = await signUp(b.context, b.page, server.url, uniqueName('late'));
  // ann writes the original, 60 more and then a reply to the original, on a socket of her own.
  const ids = await a.page.evaluate(async (roomId) => {
    const ws = new WebSocket(location.origin.replace(/^http/, 'ws') + '/ws');
    const acks = new Map();
    await new Promise((ok, fail) => { ws.onopen = ok; ws.onerror = fail; });
    ws.onmessage = (e) => {
      const f = JSON.parse(e.data);
      if (f.type === 'ack' && acks.has(f.cid)) acks.get(f.cid)(f.id);
      if (f.type === 'error' && acks.has(f.cid)) acks.get(f.cid)(-1);
    };
    const joined = new Promise((ok) => {
      const prev = ws.onmessage;
      ws.onmessage = (e) => { prev(e); if (JSON.parse(e.data).type === 'joined') ok(); };
    });
    ws.send(JSON.stringify({ type: 'join', room: roomId }));
    await joined;
    const send = (text, extra = {}) => new Promise((ok) => {
      const cid = 'x' + Math.random().toString(36).slice(2);
      acks.set(cid, ok);
      ws.send(JSON.stringify({ type: 'send', room: roomId, text, cid, ...extra }));
    });
    const orig = await send('很久以前的消息 long ago');
    for (let i = 0; i < 60; i++) await send(`later ${i}`);
    const reply = await send('回复很久以前的 a late reply', { reply_to: orig });
    ws.close();
    return { orig, reply };
  }, room.id);
  assert.ok(ids.orig > 0 && ids.reply > ids.orig, JSON.stringify(ids));
  await openRoom(b.page, room.id, ben.username);
  await waitForMessage(b.page, '回复很久以前的 a late reply');
  assert.equal(await msgEl(b.page, ids.orig).count(), 0, 'the original is not loaded yet');
  await msgEl(b.page, ids.reply).locator('[data-testid="reply-quote"]').click();
  await msgEl(b.page, ids.orig).waitFor({ state: 'visible' });
  await until(async () => (await msgEl(b.page, ids.orig).getAttribute('class')).includes('msg-highlight'),
    { desc: 'the old original highlighted' });
  await screenshot(b.page, t, 'old-original-en-desktop');
  void ann;
  checkPage(a.page);
  checkPage(b.page);
});
