// Notification channels on the account page (#/password): the phone number
// (E.164, refused next to the field when malformed) and the e-mail and
// SMS / webhook switches, saved with PATCH /api/me and shown again after a
// reload. In English and Chinese, with screenshots.

import assert from 'node:assert/strict';
import { beforeEach } from 'node:test';
import { useSuite, screenshot, signUp, uniqueName, until } from './helpers.mjs';

const suite = useSuite();
let server;
beforeEach(() => ({ server } = suite));
const test = suite.test;

const me = (page) => page.evaluate(async () => (await (await fetch('/api/me')).json()).user);

for (const lang of ['en', 'zh']) {
  const locale = lang === 'zh' ? 'zh-CN' : 'en-US';

  test(`phone number and notification channels on the account page (${lang})`, async (t, userPage) => {
    const { context, page } = await userPage({ locale });
    const name = uniqueName(lang === 'zh' ? '王' : 'pia');
    await signUp(context, page, server.url, name);
    await page.goto(server.url + '/#/password');
    await page.locator('#channels-form').waitFor({ state: 'visible' });
    assert.match(await page.textContent('#channels-title'), lang === 'zh' ? /离线通知方式/ : /Notifications while offline/);
    assert.equal(await page.inputValue('#channels-phone'), '');
    assert.equal(await page.isChecked('#channels-email'), true);
    assert.equal(await page.isChecked('#channels-webhook'), true);

    // A malformed number is refused next to the field; nothing is stored.
    await page.locator('#channels-phone').fill('138 0013 8000');
    await page.locator('#channels-submit').click();
    await until(async () => (await page.getAttribute('#channels-phone', 'aria-invalid')) === 'true',
      { desc: 'phone refused' });
    assert.match(await page.textContent('#channels-phone-error'), lang === 'zh' ? /国际格式/ : /international format/);
    await screenshot(page, t, 'phone-refused');
    assert.equal((await me(page)).phone, null);

    // The server refuses what the form would let through, with invalid_phone too.
    const direct = await page.evaluate(async () => {
      const r = await fetch('/api/me', { method: 'PATCH', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ phone: '+0123' }) });
      return { status: r.status, body: await r.json() };
    });
    assert.equal(direct.status, 400);
    assert.equal(direct.body.error.code, 'invalid_phone');

    const phone = lang === 'zh' ? '+8613800138000' : '+12025550123';
    await page.locator('#channels-phone').fill(phone);
    await page.locator('#channels-webhook').uncheck();
    await page.locator('#channels-submit').click();
    await page.locator('#channels-success').waitFor({ state: 'visible' });
    assert.match(await page.textContent('#channels-success'), lang === 'zh' ? /通知设置已保存/ : /Notification settings saved/);
    assert.equal(await page.getAttribute('#channels-phone', 'aria-invalid'), null);
    await screenshot(page, t, 'saved');
    let u = await me(page);
    assert.equal(u.phone, phone);
    assert.equal(u.webhook_notify, false);
    assert.equal(u.email_notify, true);

    // After a reload the form shows what is stored; e-mail off, webhook on.
    await page.reload();
    await page.locator('#channels-form').waitFor({ state: 'visible' });
    await until(async () => (await page.inputValue('#channels-phone')) === phone, { desc: 'phone shown again' });
    assert.equal(await page.isChecked('#channels-webhook'), false);
    await page.locator('#channels-email').uncheck();
    await page.locator('#channels-webhook').check();
    await page.locator('#channels-phone').fill('');
    await page.locator('#channels-submit').click();
    await until(async () => { const x = await me(page); return x.email_notify === false && x.webhook_notify === true && x.phone === null; },
      { desc: 'channels saved' });
    assert.deepEqual(page.problems, []);
  });
}
