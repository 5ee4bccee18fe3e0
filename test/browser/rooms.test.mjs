// Rooms v2 in the browser: the unread badge right on a second device (rooms
// come from the server, not from one browser's storage); a room an
// administrator creates appearing live in another user's page, with the
// same online count in the sidebar and the lobby card; a private room made
// with the "new room" dialog and an invitation picked with the autocomplete,
// appearing live for the invitee; the announcement and a pinned message
// (with the jump to it) reaching the other member live; mute (免打扰) in
// the header and the room list; the same on a phone. In English and
// Chinese, with screenshots.

import assert from 'node:assert/strict';
import { beforeEach } from 'node:test';
import {
  useSuite, horizontalExtent, loginViaUI, openRoom, roomItem, screenshot, sendMessage, signUp, uniqueName, until,
  waitForMessage,
} from './helpers.mjs';

const suite = useSuite({ admin: true });
let server;
beforeEach(() => ({ server } = suite));
const test = suite.test;

async function lobbyId(page) {
  return page.evaluate(async () => {
    const d = await (await fetch('/api/rooms')).json();
    return d.rooms.find((x) => x.name === 'lobby').id;
  });
}

const unreadOf = (page, roomId) => roomItem(page, roomId).getAttribute('data-unread');

async function goLobby(page) {
  await page.evaluate(() => { location.hash = '#/lobby'; });
  await page.locator('#view-lobby').waitFor({ state: 'visible' });
}

// Makes a private room through the dialog, inviting `invitee` picked from the autocomplete.
async function createPrivateRoom(page, t, name, invitee, lang) {
  await page.locator('#new-room-btn').click();
  await page.locator('#room-dialog-dialog').waitFor({ state: 'visible' });
  await page.locator('#room-dialog-name').fill(name);
  await page.locator('#room-dialog-people').fill(invitee.slice(0, 4));
  const option = page.locator(`#room-dialog-suggestions li[data-user="${invitee}"]`);
  await option.waitFor({ state: 'visible' });
  await option.click();
  await page.locator(`#room-dialog-chosen li[data-user="${invitee}"]`).waitFor({ state: 'visible' });
  await screenshot(page, t, `new-room-dialog-${lang}`);
  await page.locator('#room-dialog-create').click();
  await page.locator('#room-dialog-dialog').waitFor({ state: 'hidden' });
  await until(async () => /^#\/room\/\d+$/.test(await page.evaluate(() => location.hash)), { desc: 'route to the new room' });
  return Number((await page.evaluate(() => location.hash)).split('/')[2]);
}

for (const lang of ['en', 'zh']) {
  const locale = lang === 'zh' ? 'zh-CN' : 'en-US';

  test(`second device unread badge and a live room list (${lang})`, async (t, userPage) => {
    const a1 = await userPage({ locale });
    const b = await userPage({ locale });
    const na = uniqueName(lang === 'zh' ? '王' : 'amy');
    const nb = uniqueName('bob');
    const { password } = await signUp(a1.context, a1.page, server.url, na);
    await signUp(b.context, b.page, server.url, nb);
    const lobby = await lobbyId(a1.page);
    // The first device joins the lobby (a stored membership) and moves on.
    await openRoom(a1.page, lobby, na);
    await goLobby(a1.page);
    await a1.page.close();
    // A second device: a fresh browser profile, nothing stored locally.
    const a2 = await userPage({ locale });
    await loginViaUI(a2.page, server.url, na, password);
    await until(async () => (await roomItem(a2.page, lobby).getAttribute('data-joined')) === 'true',
      { desc: 'the lobby is joined on the second device' });
    await openRoom(b.page, lobby, nb);
    await sendMessage(b.page, 'first for the badge');
    await sendMessage(b.page, 'second for the badge');
    await until(async () => (await unreadOf(a2.page, lobby)) === '2', { desc: 'live badge 2 on the second device' });
    await a2.page.reload();
    await until(async () => (await unreadOf(a2.page, lobby)) === '2', { desc: 'badge 2 after a reload (from the server)' });
    await screenshot(a2.page, t, `second-device-badge-${lang}`);

    // An administrator's new room appears at once, in the sidebar and as a card.
    const name = lang === 'zh' ? uniqueName('读书会') : uniqueName('book-club');
    const room = await suite.admin.createRoom(name, lang === 'zh' ? '每周读一本书' : 'One book a week');
    await roomItem(a2.page, room.id).waitFor({ state: 'attached' });
    await a2.page.locator(`#room-cards li[data-room-card="${room.id}"]`).waitFor({ state: 'attached' });
    // Counts agree between sidebar and card, and follow a join and a leave.
    await openRoom(b.page, room.id, nb);
    const counts = async () => a2.page.evaluate((id) => ({
      side: document.querySelector(`#room-list li[data-room="${id}"] [data-testid="room-online"] > span[aria-hidden="true"]:not(.online-dot)`).textContent,
      card: document.querySelector(`#room-cards li[data-room-card="${id}"] .room-online`).textContent.replace(/\D+/g, ''),
    }), room.id);
    await until(async () => { const c = await counts(); return c.side === '1' && c.card === '1'; }, { desc: 'online 1 in both' });
    await screenshot(a2.page, t, `live-room-list-${lang}`);
    await b.page.locator('#leave-room').click();
    await until(async () => { const c = await counts(); return c.side === '0' && c.card === '0'; }, { desc: 'online 0 in both' });
    // Deleted: gone without a reload.
    const del = await suite.admin.call('DELETE', `/api/rooms/${room.id}`);
    assert.equal(del.status, 204);
    await roomItem(a2.page, room.id).waitFor({ state: 'detached' });
    assert.deepEqual(a2.page.problems, []);
    assert.deepEqual(b.page.problems, []);
  });

  test(`private room, invitation, announcement, pin and mute (${lang})`, async (t, userPage) => {
    const a = await userPage({ locale });
    const b = await userPage({ locale });
    const na = uniqueName('own');
    const nb = uniqueName(lang === 'zh' ? '赵' : 'gus');
    await signUp(a.context, a.page, server.url, na);
    await signUp(b.context, b.page, server.url, nb);
    const title = lang === 'zh' ? uniqueName('项目组') : uniqueName('project');
    const rid = await createPrivateRoom(a.page, t, title, nb, lang);
    // The invitee's page shows it at once, as a private room.
    await roomItem(b.page, rid).waitFor({ state: 'attached' });
    assert.equal(await roomItem(b.page, rid).getAttribute('data-visibility'), 'private');
    await a.page.locator(`#room-member-list li[data-user="${nb}"]`).waitFor({ state: 'attached' });
    await a.page.locator(`#room-member-list li[data-user="${na}"][data-role="owner"]`).waitFor({ state: 'attached' });
    await sendMessage(a.page, lang === 'zh' ? '请大家看公告' : 'please read the announcement');
    await openRoom(b.page, rid, nb);

    // The announcement (群公告), edited by the owner, reaches the member live.
    const notice = lang === 'zh' ? '周五下午三点开会' : 'Meeting on Friday at 3 pm';
    await a.page.locator('#announcement-edit').click();
    await a.page.locator('#announce-input').fill(notice);
    await a.page.locator('[data-testid="announce-save"]').click();
    await until(async () => (await b.page.textContent('#announcement-text')) === notice, { desc: 'announcement live' });
    assert.equal(await b.page.locator('#announcement-edit').isVisible(), false);

    // A pin by the owner: the member sees the pinned list and jumps to it.
    const text = lang === 'zh' ? '这条要置顶' : 'pin this one';
    await sendMessage(a.page, text);
    const msg = a.page.locator('#message-list li[data-testid="message"]').filter({ hasText: text });
    await msg.hover();
    await msg.locator('[data-testid="pin-message"]').click();
    await b.page.locator('#pins-toggle').waitFor({ state: 'visible' });
    assert.equal(await b.page.textContent('#pins-count'), '1');
    await b.page.locator('#pins-toggle').click();
    const pin = b.page.locator('#pins-list li[data-testid="pin-item"]');
    await pin.filter({ hasText: text }).waitFor({ state: 'visible' });
    await pin.locator('.pin-jump').click();
    await b.page.locator('#message-list li.msg-highlight').filter({ hasText: text }).waitFor({ state: 'attached' });
    await screenshot(b.page, t, `announcement-and-pin-${lang}`);

    // Mute (免打扰): the header button and the room list's icon.
    await b.page.locator('#mute-toggle').click();
    await until(async () => (await b.page.getAttribute('#mute-toggle', 'aria-pressed')) === 'true', { desc: 'muted' });
    await until(async () => (await roomItem(b.page, rid).getAttribute('data-muted')) === 'true', { desc: 'muted in the list' });
    await roomItem(b.page, rid).locator('[data-testid="room-muted"]').waitFor({ state: 'attached' });
    const me = await b.page.evaluate(async (id) => (await (await fetch('/api/rooms/' + id)).json()).room.muted, rid);
    assert.equal(me, true);
    await screenshot(b.page, t, `muted-${lang}`);

    // The owner removes the member: the room leaves the member's page.
    await a.page.locator(`#room-member-list li[data-user="${nb}"] [data-testid="remove-member"]`).click();
    await roomItem(b.page, rid).waitFor({ state: 'detached' });
    assert.deepEqual(a.page.problems, []);
    assert.deepEqual(b.page.problems, []);
  });

  test(`phone layout: a group room's header, announcement and pins (${lang})`, async (t, userPage) => {
    const phone = { locale, viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };
    const a = await userPage(phone);
    const b = await userPage({ locale });
    const na = uniqueName('pho');
    const nb = uniqueName(lang === 'zh' ? '钱' : 'ivy');
    await signUp(a.context, a.page, server.url, na);
    await signUp(b.context, b.page, server.url, nb);
    // A group conversation (no name) made over HTTP by the other member.
    const room = await b.page.evaluate(async (who) => {
      const r = await fetch('/api/rooms', { method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ members: [who] }) });
      return (await r.json()).room;
    }, na);
    await roomItem(a.page, room.id).waitFor({ state: 'attached' });
    // Shown by the other member's name.
    assert.match(await roomItem(a.page, room.id).textContent(), new RegExp(nb));
    await openRoom(b.page, room.id, nb);
    await sendMessage(b.page, lang === 'zh' ? '群聊第一条' : 'first in the group');
    await b.page.evaluate(async (id) => {
      await fetch('/api/rooms/' + id, { method: 'PATCH', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ announcement: 'Bring your laptop · 带上电脑' }) });
    }, room.id);
    await a.page.evaluate((id) => { location.hash = '#/room/' + id; }, room.id);
    await a.page.locator('#view-room').waitFor({ state: 'visible' });
    await waitForMessage(a.page, lang === 'zh' ? '群聊第一条' : 'first in the group');
    await until(async () => (await a.page.textContent('#announcement-text')).includes('带上电脑'), { desc: 'announcement' });
    await a.page.locator('#mute-toggle').click();
    await until(async () => (await a.page.getAttribute('#mute-toggle', 'aria-pressed')) === 'true', { desc: 'muted' });
    const ext = await horizontalExtent(a.page);
    assert.ok(ext.scrollWidth <= ext.innerWidth + 1, `no sideways scrolling: ${JSON.stringify(ext)}`);
    await screenshot(a.page, t, `phone-room-${lang}`);
    await a.page.locator('#members-toggle').click();
    await a.page.locator(`#room-member-list li[data-user="${nb}"][data-role="owner"]`).waitFor({ state: 'visible' });
    await screenshot(a.page, t, `phone-members-${lang}`);
    await goLobby(a.page);
    await a.page.locator('#new-room-btn').click();
    await a.page.locator('#room-dialog-dialog').waitFor({ state: 'visible' });
    await screenshot(a.page, t, `phone-new-room-${lang}`);
    assert.deepEqual(a.page.problems, []);
  });
}
