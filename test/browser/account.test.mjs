// Accounts and administration in the browser: changing the password, and the
// admin panel (create, rename, delete a room; members of a deleted room are
// told). One chatd and one Chromium serve this file; each test has its own users.

import assert from 'node:assert/strict';
import { beforeEach } from 'node:test';
import {
  useSuite, PASSWORD, checkPage, loginViaUI, logoutViaUI, openRoom, registerViaUI, roomItem,
  screenshot, sendMessage, signUp, uniqueName, until, waitForMessage, waitSignedIn,
} from './helpers.mjs';

const suite = useSuite();
/** The file's chatd, Chromium, set before each test. */
let server, browser;
beforeEach(() => ({ server, browser } = suite));
/** Browser tests: each gets fresh contexts, closed when it ends. */
const test = suite.test;

test('changing the password: the old one fails, the new one works', async (t, userPage) => {
  const { page } = await userPage();
  const other = await userPage();
  const pat = uniqueName('pat');
  const newPassword = 'a brand new passphrase';
  await registerViaUI(page, server.url, { username: pat });
  // A second browser signed in as the same user.
  await loginViaUI(other.page, server.url, pat);

  await page.locator('#user-menu-btn').click();
  await page.locator('#nav-password').click();
  await page.locator('#view-password').waitFor({ state: 'visible' });
  assert.equal(await page.evaluate(() => location.hash), '#/password');

  // A wrong current password is refused next to the field.
  await page.locator('#old-password').fill('not my password');
  await page.locator('#new-password').fill(newPassword);
  await page.locator('#confirm-password').fill(newPassword);
  await page.locator('#password-submit').click();
  await until(async () => (await page.textContent('#old-password-error')).trim() === 'The current password is wrong.',
    { desc: 'wrong-password error' });
  assert.equal(await page.getAttribute('#old-password', 'aria-invalid'), 'true');
  assert.equal(await page.locator('#password-success').isVisible(), false);

  // Mismatched confirmation is caught before anything is sent.
  await page.locator('#old-password').fill(PASSWORD);
  await page.locator('#new-password').fill(newPassword);
  await page.locator('#confirm-password').fill(newPassword + 'x');
  await page.locator('#password-submit').click();
  await until(async () => (await page.textContent('#confirm-password-error')).trim() === 'The new passwords do not match.',
    { desc: 'mismatch error' });

  await page.locator('#confirm-password').fill(newPassword);
  await page.locator('#password-submit').click();
  await page.locator('#password-success').waitFor({ state: 'visible' });
  assert.match(await page.textContent('#password-success'), /Password changed/);
  assert.equal(await page.inputValue('#old-password'), '', 'the form is cleared');
  await screenshot(page, t, 'changed');

  // The other session is signed out and told why.
  await other.page.locator('#login-form').waitFor({ state: 'visible' });
  await other.page.locator('#login-notice').waitFor({ state: 'visible' });
  assert.match(await other.page.textContent('#login-notice'), /session has ended/);

  // This session stays signed in until it signs out.
  await page.locator('#brand').click();
  await page.locator('#view-lobby').waitFor({ state: 'visible' });
  await logoutViaUI(page);
  assert.match(await page.textContent('#login-notice'), /signed out/);

  await page.locator('#login-username').fill(pat);
  await page.locator('#login-password').fill(PASSWORD);
  await page.locator('#login-submit').click();
  await page.locator('#login-error').waitFor({ state: 'visible' });
  assert.equal((await page.textContent('#login-error')).trim(), 'Wrong username or password.');
  assert.equal(await page.locator('#user-menu').isVisible(), false);
  await screenshot(page, t, 'old-password-refused');

  await page.locator('#login-password').fill(newPassword);
  await page.locator('#login-submit').click();
  await waitSignedIn(page, pat);
  assert.equal(await page.locator('#login-error').isVisible(), false);
  await page.locator('#view-lobby').waitFor({ state: 'visible' });

  await screenshot(page, t);
  checkPage(page, 'pat');
  checkPage(other.page, 'pat elsewhere');
});

test('admin creates, renames and deletes a room; members are told', async (t, userPage) => {
  const adminName = uniqueName('root');
  server.addUser(adminName, { admin: true });
  const adm = await userPage({ allowDialogs: true });
  const page = adm.page;
  await loginViaUI(page, server.url, adminName);
  await page.locator('#admin-panel').waitFor({ state: 'visible' });
  await screenshot(page, t, 'panel');

  // Create.
  const name = uniqueName('project');
  await page.locator('#new-room-name').fill(name);
  await page.locator('#new-room-topic').fill('planning and news');
  await page.locator('#create-room-btn').click();
  await page.locator('#admin-status').waitFor({ state: 'visible' });
  assert.equal((await page.textContent('#admin-status')).trim(), `Room “${name}” created.`);
  const item = page.locator(`#room-list li[data-testid="room-item"][data-name="${name}"]`);
  await item.waitFor({ state: 'attached' });
  const roomId = Number(await item.getAttribute('data-room'));
  assert.ok(roomId > 0);
  const adminRow = page.locator(`#admin-room-list li[data-admin-room="${roomId}"]`);
  await adminRow.waitFor({ state: 'visible' });
  assert.match(await adminRow.textContent(), /planning and news/);
  assert.equal(await page.inputValue('#new-room-name'), '', 'the create form is cleared');

  // The same name again is refused in the panel.
  await page.locator('#new-room-name').fill(name);
  await page.locator('#create-room-btn').click();
  await page.locator('#admin-error').waitFor({ state: 'visible' });
  assert.equal((await page.textContent('#admin-error')).trim(), 'A room with that name already exists.');
  await page.locator('#new-room-name').fill('');

  // A regular user joins the new room and chats; the panel is not shown to them.
  const mem = await userPage();
  const quinn = await signUp(mem.context, mem.page, server.url, uniqueName('quinn'));
  assert.equal(await mem.page.locator('#admin-panel').isVisible(), false);
  await openRoom(mem.page, roomId, quinn.username);
  await sendMessage(mem.page, 'is this the project room?');

  // Rename.
  const renamed = uniqueName('renamed');
  await page.locator(`#admin-room-list [data-action="edit"][data-id="${roomId}"]`).click();
  const edit = page.locator(`#edit-name-${roomId}`);
  await edit.waitFor({ state: 'visible' });
  assert.equal(await edit.inputValue(), name);
  await edit.fill(renamed);
  await page.locator(`#admin-room-list li[data-admin-room="${roomId}"] [data-testid="save-room"]`).click();
  await until(async () => (await page.textContent('#admin-status')).trim() === `Room “${renamed}” saved.`, { desc: 'saved status' });
  await until(async () => (await roomItem(page, roomId).getAttribute('data-name')) === renamed, { desc: 'renamed in the sidebar' });
  assert.match(await adminRow.textContent(), new RegExp(renamed));
  assert.equal(await edit.count(), 0, 'the edit form is closed');
  await screenshot(page, t, 'renamed');

  // The member sees the new name after a reload, with the history kept.
  await mem.page.reload();
  await mem.page.locator('#view-room').waitFor({ state: 'visible' });
  await until(async () => (await mem.page.textContent('#room-title')).trim() === renamed, { desc: 'new room title' });
  await waitForMessage(mem.page, 'is this the project room?');
  await mem.page.locator(`#member-list li[data-user="${quinn.username}"]`).waitFor({ state: 'attached' });

  // The lobby cannot be deleted.
  const lobbyId = await page.locator('#room-list li[data-name="lobby"]').getAttribute('data-room');
  await page.locator(`#admin-room-list [data-action="delete"][data-id="${lobbyId}"]`).click();
  await page.locator('#admin-error').waitFor({ state: 'visible' });
  assert.ok((await page.textContent('#admin-error')).trim().length > 0);
  await roomItem(page, lobbyId).waitFor({ state: 'attached' });

  // Delete: the member viewing the room is sent to the lobby and told.
  await page.locator(`#admin-room-list [data-action="delete"][data-id="${roomId}"]`).click();
  await until(async () => (await page.textContent('#admin-status')).trim() === `Room “${renamed}” deleted.`, { desc: 'deleted status' });
  await adminRow.waitFor({ state: 'detached' });
  await roomItem(page, roomId).waitFor({ state: 'detached' });
  const confirms = page.dialogs.filter((d) => d.type === 'confirm');
  assert.equal(confirms.length, 2, 'each delete asked for confirmation');
  assert.match(confirms[1].message, new RegExp(`Delete the room “${renamed}”`));

  await mem.page.locator('#notice').waitFor({ state: 'visible' });
  assert.equal((await mem.page.textContent('#notice-text')).trim(), `The room “${renamed}” was deleted.`);
  await mem.page.locator('#view-lobby').waitFor({ state: 'visible' });
  assert.equal(await mem.page.evaluate(() => location.hash), '#/lobby');
  await roomItem(mem.page, roomId).waitFor({ state: 'detached' });
  assert.equal(await mem.page.locator('#view-room').isVisible(), false, 'the deleted room is no longer shown');
  await screenshot(mem.page, t, 'member-told');

  await screenshot(page, t);
  checkPage(page, 'admin');
  checkPage(mem.page, 'member');
});
