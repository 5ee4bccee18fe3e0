// The message composer under the message view: Enter sends (Shift+Enter is a
// new line, and nothing is sent while an input method is composing), the box
// grows with its text, a counter appears near the length limit, typing
// frames go out at most every few seconds, and each conversation keeps its
// unsent draft.
import { $ } from '../dom.js';
import { t } from '../i18n.js';
import { MAX_TEXT, codePoints } from '../limits.js';
import { hideNotice, showNotice } from '../notice.js';
import { state, currentConv, currentRoom, convKey } from '../state.js';
import { createPending, isOpen, trySend, wsSend } from '../ws.js';
import { showPending } from './room.js';
import { takeReply } from '../extras.js';

const TYPING_SEND_MS = 3000;   // at most one typing frame per room per 3 s

function sendFromComposer() {
  const room = currentConv();
  if (!room) return;
  const input = $('message-input');
  const text = input.value.trim();
  if (!text) return;
  if (codePoints(text) > MAX_TEXT) {
    showNotice(t('err.text_too_long', { max: MAX_TEXT }));
    return;
  }
  hideNotice();   // a valid send clears a "too long" (or earlier) notice
  const p = createPending(room, text);
  p.replyTo = takeReply(room);   // extras.js
  showPending(room, p);
  trySend(p);
  input.value = '';
  state.drafts.delete(convKey(room));
  room.lastTypingSent = 0;
  autoGrow();
  updateCharCount();
}

function maybeSendTyping() {
  const room = currentRoom();
  if (!room || !$('message-input').value.trim()) return;
  const now = Date.now();
  if (now - room.lastTypingSent < TYPING_SEND_MS) return;
  if (isOpen() && room.joinState === 'joined') {
    room.lastTypingSent = now;
    wsSend({ type: 'typing', room: room.id });
  }
}

function autoGrow() {
  const input = $('message-input');
  input.style.height = 'auto';
  input.style.height = Math.min(input.scrollHeight + 2, 160) + 'px';
}

export function updateCharCount() {
  const n = codePoints($('message-input').value.trim());
  const el = $('char-count');
  const show = n > MAX_TEXT - 500;
  el.textContent = show ? t('composer.count', { n, max: MAX_TEXT }) : '';
  el.classList.toggle('over', n > MAX_TEXT);
}

/** Puts conv's unsent draft (or nothing) in the composer. */
export function restoreDraft(conv) {
  $('message-input').value = state.drafts.get(convKey(conv)) || '';
  autoGrow();
  updateCharCount();
}

/** Empties the composer (the session ended). */
export function clearComposer() {
  $('message-input').value = '';
}

export function bindComposer() {
  const input = $('message-input');
  $('send-form').addEventListener('submit', (e) => { e.preventDefault(); sendFromComposer(); input.focus(); });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      sendFromComposer();
    }
  });
  input.addEventListener('input', () => {
    autoGrow();
    updateCharCount();
    maybeSendTyping();
    const conv = currentConv();
    if (conv) state.drafts.set(convKey(conv), input.value);
  });
}
