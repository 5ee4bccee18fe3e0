// People in the browser: sign-up without e-mail, setting a display name and
// e-mail on the settings page, display names in the lists with the username
// as secondary text, the profile card from the member list (→ add friend,
// → direct message) and from a message's sender, and the add-friend
// autocomplete finding a Chinese display name as it is typed, and a name
// lookup that failed (503) being tried again within seconds. In English and
// Chinese, with screenshots.

import assert from 'node:assert/strict';
import { beforeEach } from 'node:test';
import {
  useSuite, PASSWORD, friendItem, openRoom, requestItem, screenshot, sendMessage, signUp, uniqueName, until,
  waitSignedIn,
} from './helpers.mjs';

const suite = useSuite();
let server;
beforeEach(() => ({ server } = suite));
const test = suite.test;

async function lobbyId(page) {
  return page.evaluate(async () => {
    const r = await fetch('/api/rooms');
    const d = await r.json();
    return d.rooms.find((x) => x.name === 'lobby').id;
  });
}

async function setDisplayName(page, name, lang) {
  await page.goto(page.url().replace(/#.*$/, '') + '#/password');
  await page.locator('#profile-form').waitFor({ state: 'visible' });
  await page.locator('#profile-display-name').fill(name);
  await page.locator('#profile-submit').click();
  await page.locator('#profile-status').waitFor({ state: 'visible' });
  assert.match(await page.textContent('#profile-status'), lang === 'zh' ? /资料已保存/ : /Profile saved/);
}

// Two pages a and b signed up with fresh names made from the prefixes pa and
// pb, b's display name set to shown.
async function twoUsers(userPage, locale, lang, shown, pa, pb) {
  const a = await userPage({ locale });
  const b = await userPage({ locale });
  const na = uniqueName(pa);
  const nb = uniqueName(pb);
  await signUp(a.context, a.page, server.url, na);
  await signUp(b.context, b.page, server.url, nb);
  await setDisplayName(b.page, shown, lang);
  return { a, b, na, nb };
}

// twoUsers, then a's page reloaded (so it knows no names yet) and both in the
// lobby room. beforeReload(a, nb) runs just before a's reload. Returns the
// users and b's entry in a's member list.
async function twoInLobby(userPage, locale, lang, shown, beforeReload) {
  const { a, b, na, nb } = await twoUsers(userPage, locale, lang, shown, 'ann', 'bo');
  const room = await lobbyId(a.page);
  if (beforeReload) await beforeReload(a, nb);
  // Names are looked up when shown (and again when 30 s old): a fresh
  // page knows the new one.
  await a.page.reload();
  await waitSignedIn(a.page, na);
  await b.page.goto(server.url + '/#/lobby');
  await openRoom(b.page, room, nb);
  await openRoom(a.page, room, na);
  const member = a.page.locator(`#member-list li[data-user="${nb}"]`);
  await member.waitFor({ state: 'attached' });
  return { a, b, na, nb, room, member };
}

for (const lang of ['en', 'zh']) {
  const locale = lang === 'zh' ? 'zh-CN' : 'en-US';

  test(`sign-up without e-mail and a display name on the settings page (${lang})`, async (t, userPage) => {
    const { page } = await userPage({ locale });
    const name = uniqueName(lang === 'zh' ? '李' : 'sam');
    await page.goto(server.url + '/#/register');
    await page.locator('#register-username').fill(name);
    await page.locator('#register-password').fill(PASSWORD);
    await page.locator('#register-submit').click();
    await waitSignedIn(page, name);
    const me = await page.evaluate(async () => (await (await fetch('/api/me')).json()).user);
    assert.equal(me.email, '');
    assert.equal(me.display_name, name);

    await page.goto(server.url + '/#/password');
    await page.locator('#profile-form').waitFor({ state: 'visible' });
    assert.equal(await page.inputValue('#profile-display-name'), '');
    assert.equal(await page.inputValue('#profile-email'), '');
    // A refused name (too long) is told next to the field.
    await page.locator('#profile-display-name').fill('x'.repeat(33));
    await page.locator('#profile-submit').click();
    await until(async () => (await page.getAttribute('#profile-display-name', 'aria-invalid')) === 'true',
      { desc: 'display name refused' });
    const display = lang === 'zh' ? '李 小龙' : 'Sam Smith';
    await page.locator('#profile-display-name').fill('  ' + display + '  ');
    await page.locator('#profile-email').fill(name.toLowerCase().replace(/[^a-z0-9]/g, 'x') + '@example.org');
    await page.locator('#profile-submit').click();
    await page.locator('#profile-status').waitFor({ state: 'visible' });
    await screenshot(page, t, 'profile-saved');
    const after = await page.evaluate(async () => (await (await fetch('/api/me')).json()).user);
    assert.equal(after.display_name, display);
    assert.match(after.email, /@example\.org$/);
    assert.deepEqual(page.problems, []);
  });

  test(`profile card from the member list and a sender name, add friend, then DM (${lang})`, async (t, userPage) => {
    const shown = lang === 'zh' ? '张三丰' : 'Bo Jackson';
    const { a, b, na, nb, member } = await twoInLobby(userPage, locale, lang, shown);
    // The member list shows the display name, the username as secondary text.
    await until(async () => (await member.locator('[data-testid="display-name"]').textContent()) === shown,
      { desc: 'display name in the member list' });
    assert.equal(await member.locator('[data-testid="person-username"]').textContent(), '@' + nb);
    await screenshot(a.page, t, 'member-list');

    // The card from the member list: name, username, online, add friend.
    await member.locator('[data-action="profile"]').click();
    const card = a.page.locator('#profile-card');
    await card.waitFor({ state: 'visible' });
    assert.equal(await card.locator('[data-testid="profile-display-name"]').textContent(), shown);
    assert.equal(await card.locator('[data-testid="profile-username"]').textContent(), '@' + nb);
    await until(async () => (await card.locator('[data-testid="profile-online"]').getAttribute('data-online')) === 'true',
      { desc: 'online in the card' });
    await screenshot(a.page, t, 'profile-card');
    await card.locator('[data-testid="profile-add-friend"]').click();
    await until(async () => await card.locator('[data-testid="profile-add-friend"]').isDisabled(), { desc: 'request sent' });
    await a.page.keyboard.press('Escape');
    await card.waitFor({ state: 'hidden' });

    // b accepts; the card then offers the DM.
    await requestItem(b.page, na, 'incoming').locator('[data-action="accept"]').click();
    await friendItem(a.page, nb).waitFor({ state: 'attached' });
    await until(async () => (await friendItem(a.page, nb).locator('.room-name').textContent()) === shown,
      { desc: 'display name in the friend list' });

    // From a message's sender name.
    const text = 'hello ' + uniqueName('m');
    await sendMessage(b.page, text);
    const msg = a.page.locator('#message-list li[data-testid="message"]').filter({ hasText: text });
    await msg.waitFor({ state: 'visible' });
    await msg.locator('[data-action="profile"]').click();
    await card.waitFor({ state: 'visible' });
    await card.locator('[data-testid="profile-dm"]').waitFor({ state: 'visible' });
    await card.locator('[data-testid="profile-dm"]').click();
    await until(async () => (await a.page.evaluate(() => location.hash)) === '#/dm/' + encodeURIComponent(nb),
      { desc: 'the DM view' });
    assert.equal(await card.isVisible(), false);
    await screenshot(a.page, t, 'dm-from-card');
    assert.deepEqual(a.page.problems, []);
    assert.deepEqual(b.page.problems, []);
  });

  test(`a name lookup that failed is tried again within seconds (${lang})`, async (t, userPage) => {
    const shown = lang === 'zh' ? '李四' : 'Bo Busy';
    // The first lookup of b's name answers 503, as a busy server would; the
    // ones after it go through.
    let refused = 0;
    const { a, member } = await twoInLobby(userPage, locale, lang, shown, (a, nb) =>
      a.page.route((url) => url.pathname === '/api/users' && url.searchParams.get('q') === nb,
        async (route) => {
          if (refused === 0) {
            refused += 1;
            await route.fulfill({ status: 503, contentType: 'application/json',
              body: JSON.stringify({ error: 'busy', message: 'try again' }) });
          } else {
            await route.continue();
          }
        }));
    // Well before the 30 s after which a shown name is looked up again anyway.
    await until(async () => (await member.locator('[data-testid="display-name"]').textContent()) === shown,
      { desc: 'display name after a failed lookup', timeout: 10_000 });
    assert.equal(refused, 1);
    assert.deepEqual(a.page.problems, []);
  });

  test(`add-friend autocomplete finds a Chinese display name as it is typed (${lang})`, async (t, userPage) => {
    const shown = '王' + uniqueName('五');
    const { a, na, nb } = await twoUsers(userPage, locale, lang, shown, 'cy', 'dz');
    await a.page.goto(server.url + '/#/lobby');
    await waitSignedIn(a.page, na);
    const input = a.page.locator('#add-friend-input');
    await input.click();
    await input.pressSequentially('王', { delay: 50 });
    const option = a.page.locator(`#add-friend-suggestions [role="option"][data-user="${nb}"]`);
    await option.waitFor({ state: 'visible' });
    assert.equal(await option.locator('.person-name').textContent(), shown);
    assert.equal(await input.getAttribute('aria-expanded'), 'true');
    await screenshot(a.page, t, 'autocomplete');
    // Arrow down + Enter picks it; the form sends the username.
    await until(async () => {
      await input.press('ArrowDown');
      return (await option.getAttribute('aria-selected')) === 'true';
    }, { desc: 'option selected' });
    await input.press('Enter');
    await until(async () => (await input.inputValue()) === nb, { desc: 'username filled in' });
    await a.page.locator('#add-friend-btn').click();
    await requestItem(a.page, nb, 'outgoing').waitFor({ state: 'attached' });
    // Nobody by that prefix: said so.
    await input.fill('');
    await input.pressSequentially('zzq' + Date.now(), { delay: 10 });
    await a.page.locator('[data-testid="friend-suggestion-empty"]').waitFor({ state: 'visible' });
    assert.deepEqual(a.page.problems, []);
  });
}
