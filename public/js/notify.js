// What draws the user's attention from outside the page: the unread count in
// the window title and desktop notifications.
import { $ } from './dom.js';
import { t, localeTag } from './i18n.js';
import { dmHash } from './router.js';
import { state, currentConv, currentDm, roomName } from './state.js';

/** "(unread) where · app name" */
export function updateTitle() {
  let total = 0;
  for (const r of state.rooms.values()) total += r.unread;
  for (const c of state.dms.values()) if (state.friends.has(c.user) || currentDm() === c) total += c.unread;
  const conv = currentConv();
  const label = conv ? (conv.kind === 'dm' ? conv.user : roomName(conv)) : '';
  const base = label ? label + ' · ' + t('appName') : t('appName');
  document.title = (total > 0 ? `(${total}) ` : '') + base;
}

/** The bell button is offered while notifications could still be allowed. */
export function updateNotifyButton() {
  const supported = 'Notification' in window;
  $('notify-btn').hidden = !state.user || !supported || Notification.permission !== 'default';
}

export async function requestNotifications() {
  if (!('Notification' in window)) return;
  try { await Notification.requestPermission(); } catch (_) { /* ignore */ }
  updateNotifyButton();
}

/** A desktop notification for a room message or direct message that is not in view. */
export function notify(conv, m) {
  if (!('Notification' in window) || Notification.permission !== 'granted') return;
  if (currentConv() === conv && !document.hidden) return;
  if (conv.muted) return;   // rooms v2: a muted room (免打扰) never notifies
  const dm = conv.kind === 'dm';
  const short = m.text.length > 140 ? m.text.slice(0, 140) + '…' : m.text;
  const title = dm ? t('dm.notifyTitle', { name: conv.user }) : roomName(conv) + ' · ' + t('appName');
  try {
    const n = new Notification(title, {
      body: dm ? short : m.sender + ': ' + short, tag: dm ? 'dm-' + conv.user : 'room-' + conv.id, lang: localeTag(),
    });
    n.onclick = () => {
      window.focus();
      location.hash = dm ? dmHash(conv.user) : '#/room/' + conv.id;
      n.close();
    };
  } catch (_) { /* some platforms only allow notifications from a service worker */ }
}
