// Chatting over HTTPS and WSS: chatd with a certificate made for this run
// (scripts/make-cert.sh), and Chromium trusting exactly that certificate's
// key (--ignore-certificate-errors-spki-list), not every certificate.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before } from 'node:test';
import {
  ChatServer, browserTest, checkPage, launchBrowser, openRoom, registerViaUI, screenshot,
  sendMessage, uniqueName, waitForMessage,
} from './helpers.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

let server, browser, certDir;

before(async () => {
  certDir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatd-e2e-tls-'));
  const made = spawnSync(path.join(ROOT, 'scripts', 'make-cert.sh'), [certDir, 'chatd e2e'],
    { encoding: 'utf8', timeout: 60_000 });
  assert.equal(made.status, 0, `make-cert.sh: ${made.stderr}`);
  const cert = path.join(certDir, 'cert.pem');
  // The SHA-256 of the certificate's public key, worked out here as well.
  const spkiDer = new crypto.X509Certificate(fs.readFileSync(cert)).publicKey.export({ type: 'spki', format: 'der' });
  const spki = crypto.createHash('sha256').update(spkiDer).digest('base64');
  assert.equal(spki, fs.readFileSync(path.join(certDir, 'spki.txt'), 'utf8').trim());

  server = new ChatServer({ args: ['--tls-cert', cert, '--tls-key', path.join(certDir, 'key.pem')], scheme: 'https' });
  await server.start();
  browser = await launchBrowser([`--ignore-certificate-errors-spki-list=${spki}`]);
});

after(async () => {
  if (browser) await browser.close();
  if (server) {
    await server.stopClean();
    server.cleanup();
  }
  if (certDir) fs.rmSync(certDir, { recursive: true, force: true });
});

const test = browserTest(() => browser);

test('two users log in and chat over https and wss', async (t, userPage) => {
  const a = await userPage();
  const b = await userPage();
  const sockets = [];
  for (const p of [a.page, b.page]) p.on('websocket', (ws) => sockets.push(ws.url()));
  const alice = uniqueName('alice');
  const bob = uniqueName('bob');

  await registerViaUI(a.page, server.url, { username: alice });
  await registerViaUI(b.page, server.url, { username: bob });
  assert.equal(await a.page.evaluate(() => location.protocol), 'https:');

  // The session cookie is Secure and HttpOnly.
  const sid = (await a.context.cookies()).find((c) => c.name === 'sid');
  assert.ok(sid, 'a session cookie');
  assert.equal(sid.secure, true);
  assert.equal(sid.httpOnly, true);
  // Responses carry HSTS.
  const hsts = await a.page.evaluate(async () => (await fetch('/api/me')).headers.get('strict-transport-security'));
  assert.match(hsts || '', /^max-age=\d+/);

  const lobby = await a.page.evaluate(async () => {
    const r = await fetch('/api/rooms');
    return (await r.json()).rooms.find((room) => room.name === 'lobby').id;
  });
  await openRoom(a.page, lobby, alice);
  await openRoom(b.page, lobby, bob);
  await a.page.locator(`#member-list li[data-user="${bob}"]`).waitFor({ state: 'attached' });

  const hello = `hello over TLS from ${alice}`;
  await sendMessage(a.page, hello);
  await waitForMessage(b.page, hello, { sender: alice });
  const reply = `你好 ${alice}, wss works`;
  await sendMessage(b.page, reply, { via: 'enter' });
  await waitForMessage(a.page, reply, { sender: bob });

  assert.ok(sockets.length >= 2, `WebSockets opened: ${JSON.stringify(sockets)}`);
  for (const url of sockets) assert.ok(url.startsWith(`wss://127.0.0.1:${server.port}/`), url);
  await screenshot(a.page, t, 'alice');
  await screenshot(b.page, t, 'bob');
  checkPage(a.page, 'alice');
  checkPage(b.page, 'bob');
});
