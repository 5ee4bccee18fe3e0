// Notification channels on the account view (#/password): the phone number
// (E.164, handed to the webhook, e.g. an SMS gateway) and the two switches,
// e-mail (email_notify) and webhook / SMS (webhook_notify), saved with
// PATCH /api/me.
import { $, setFieldError, setFormError } from '../dom.js';
import { t } from '../i18n.js';
import { apiAuth, apiErrorText } from '../http.js';
import { announce } from '../notice.js';
import { state } from '../state.js';

/** "+" and 8 to 15 digits, the first not 0 (the server checks the same). */
export const PHONE_RE = /^\+[1-9][0-9]{7,14}$/;

/** Fills the form from the signed-in user (GET /api/me's fields). */
export function fillChannels() {
  const u = state.user || {};
  $('channels-phone').value = u.phone || '';
  $('channels-email').checked = u.email_notify !== false;
  $('channels-webhook').checked = u.webhook_notify !== false;
  setFieldError('channels-phone', '');
  setFormError('channels-error', '');
  $('channels-success').hidden = true;
}

async function onSubmit(e) {
  e.preventDefault();
  const phone = $('channels-phone').value.trim();
  setFormError('channels-error', '');
  $('channels-success').hidden = true;
  if (phone && !PHONE_RE.test(phone)) {
    setFieldError('channels-phone', t('err.invalid_phone'));
    $('channels-phone').focus();
    return;
  }
  setFieldError('channels-phone', '');
  const btn = $('channels-submit');
  btn.disabled = true;
  try {
    const d = await apiAuth('PATCH', '/api/me', {
      phone: phone || null,
      email_notify: $('channels-email').checked,
      webhook_notify: $('channels-webhook').checked,
    });
    if (state.user && d && d.user) state.user = Object.assign({}, state.user, d.user);
    fillChannels();
    $('channels-success').textContent = t('channels.saved');
    $('channels-success').hidden = false;
    announce(t('channels.saved'));
    // The header's e-mail switch shows the same setting.
    const box = $('email-notify');
    if (box && state.user) box.checked = !!state.user.email_notify;
  } catch (err) {
    if (err.status === 401) return;
    if (err.code === 'invalid_phone') setFieldError('channels-phone', apiErrorText(err));
    else setFormError('channels-error', apiErrorText(err));
  } finally {
    btn.disabled = false;
  }
}

export function bindChannels() {
  $('channels-form').addEventListener('submit', onSubmit);
}
