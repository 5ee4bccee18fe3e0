// Shared pieces of the browser end-to-end tests: a real chatd on an ephemeral
// loopback port with a temporary SQLite store, headless Chromium through
// playwright-core, and small UI helpers built on the front end's element hooks.
//
// Environment:
//   CHATD           chatd binary (default: ../../build/chatd)
//   CHAT_PUBLIC     front-end folder (default: ../../public)
//   SCREENSHOT_DIR  where full-page screenshots go (default: ../../build/screenshots)
//   CHROMIUM        browser binary (default: /usr/bin/chromium)
//
// Every wait is bounded by a timeout.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');

export const CHATD = path.resolve(process.env.CHATD || path.join(ROOT, 'build', 'chatd'));
export const PUBLIC = path.resolve(process.env.CHAT_PUBLIC || path.join(ROOT, 'public'));
export const SCREENSHOT_DIR = path.resolve(process.env.SCREENSHOT_DIR || path.join(ROOT, 'build', 'screenshots'));
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

export const START_TIMEOUT_MS = 30_000;   // until the readiness line appears
export const STOP_TIMEOUT_MS = 20_000;    // a SIGTERM'd chatd must exit by then
export const UI_TIMEOUT_MS = 15_000;      // default bound for one UI expectation
export const TEST_TIMEOUT_MS = 120_000;   // bound for one whole test
export const PASSWORD = 'correct horse battery';

const READY_RE = /chatd listening on https?:\/\/127\.0\.0\.1:(\d+)/;
const SETPRIV = '/usr/bin/setpriv';

/* ---------- cleanup on exit ---------- */

const liveChildren = new Set();
const tempDirs = new Set();

function cleanupNow() {
  for (const child of liveChildren) {
    try { child.kill('SIGKILL'); } catch (_) { /* already gone */ }
  }
  liveChildren.clear();
  for (const dir of tempDirs) {
    try { fs.rmSync(dir, { recursive: true, force: true }); } catch (_) { /* ignore */ }
  }
  tempDirs.clear();
}
process.on('exit', cleanupNow);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => { cleanupNow(); process.exit(128 + os.constants.signals[sig]); });
}

/* ---------- small utilities ---------- */

let nameCounter = 0;
const runTag = (process.pid % 1000).toString(36) + Date.now().toString(36).slice(-3);

/** A username (or room name) unique within this run: prefix, a run tag and a counter. */
export function uniqueName(prefix = 'u') {
  nameCounter += 1;
  return `${prefix}_${runTag}${nameCounter}`;
}

/** Polls fn (sync or async) until it returns a truthy value; fails after timeout with desc. */
export async function until(fn, { timeout = UI_TIMEOUT_MS, interval = 50, desc = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() >= deadline) {
      const shown = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeout} ms waiting for ${desc} (last: ${shown})`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

function waitForExit(child, timeout) {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve({ code: child.exitCode, signal: child.signalCode });
      return;
    }
    const timer = setTimeout(() => reject(new Error(`process ${child.pid} did not exit within ${timeout} ms`)), timeout);
    child.once('exit', (code, signal) => { clearTimeout(timer); resolve({ code, signal }); });
  });
}

/* ---------- chatd ---------- */

/**
 * One chatd process (restartable on the same port and database).  args: more
 * chatd arguments; scheme: 'https' for a chatd given a certificate.
 */
export class ChatServer {
  constructor({ args = [], scheme = 'http' } = {}) {
    this.extraArgs = args;
    this.scheme = scheme;
    assert.ok(fs.existsSync(CHATD), `chatd binary not found: ${CHATD} (set CHATD)`);
    assert.ok(fs.existsSync(path.join(PUBLIC, 'index.html')), `front end not found: ${PUBLIC} (set CHAT_PUBLIC)`);
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatd-e2e-'));
    tempDirs.add(this.dir);
    this.db = path.join(this.dir, 'chat.db');
    this.logPath = path.join(this.dir, 'chatd.log');
    this.port = 0;
    this.child = null;
    this.starts = 0;
  }

  get url() { return `${this.scheme}://127.0.0.1:${this.port}`; }

  /** Starts chatd (on the previous port after the first start) and waits for readiness. */
  async start() {
    assert.equal(this.child, null, 'chatd is already running');
    // Every user of a test file registers from 127.0.0.1: the per-address
    // registration limit (10 an hour by default) is raised for the tests.
    const args = ['--listen', `127.0.0.1:${this.port}`, '--db', this.db, '--public', PUBLIC,
      '--register-limit', '1000/3600', ...this.extraArgs];
    // chatd gets SIGKILL when this process dies, however it dies.
    const [cmd, argv] = fs.existsSync(SETPRIV)
      ? [SETPRIV, ['--pdeathsig', 'KILL', '--', CHATD, ...args]]
      : [CHATD, args];
    const log = fs.openSync(this.logPath, 'a');
    fs.writeSync(log, `\n=== start ${this.starts + 1}: ${CHATD} ${args.join(' ')} ===\n`);
    const child = spawn(cmd, argv, { cwd: this.dir, stdio: ['ignore', 'pipe', log] });
    fs.closeSync(log);
    this.child = child;
    this.starts += 1;
    liveChildren.add(child);
    child.once('exit', () => liveChildren.delete(child));

    const port = await new Promise((resolve, reject) => {
      let buf = '';
      const timer = setTimeout(() => finish(new Error(`chatd not ready within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
      const onData = (chunk) => {
        buf += chunk.toString('utf8');
        const m = READY_RE.exec(buf);
        if (m) finish(null, Number(m[1]));
      };
      const onExit = (code, signal) => finish(new Error(`chatd exited before it was ready (code ${code}, signal ${signal})`));
      function finish(err, value) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        child.off('exit', onExit);
        if (err) reject(err); else resolve(value);
      }
      child.stdout.on('data', onData);
      child.once('exit', onExit);
    }).catch((e) => {
      try { child.kill('SIGKILL'); } catch (_) { /* ignore */ }
      this.child = null;
      throw new Error(`${e.message}\n${this.logTail()}`);
    });
    child.stdout.resume();   // keep draining later output
    if (this.port) assert.equal(port, this.port, 'chatd came back on another port');
    this.port = port;
    return port;
  }

  /** SIGTERM, then waits for the exit; returns { code, signal }. */
  async stop() {
    const child = this.child;
    if (!child) return { code: null, signal: null };
    this.child = null;
    child.kill('SIGTERM');
    try {
      return await waitForExit(child, STOP_TIMEOUT_MS);
    } catch (e) {
      child.kill('SIGKILL');
      await waitForExit(child, 5000).catch(() => {});
      throw new Error(`${e.message}\n${this.logTail()}`);
    }
  }

  /** SIGKILL (a crash), then waits for the exit. */
  async kill() {
    const child = this.child;
    if (!child) return;
    this.child = null;
    child.kill('SIGKILL');
    await waitForExit(child, STOP_TIMEOUT_MS);
  }

  /** Stops with SIGTERM and asserts a clean exit (status 0: no sanitizer report). */
  async stopClean() {
    const { code, signal } = await this.stop();
    assert.equal(code, 0, `chatd exit status ${code} (signal ${signal})\n${this.logTail()}`);
  }

  /** Creates a user with `chatd user add` (password on stdin). */
  addUser(name, { password = PASSWORD, admin = false, email = `${name}@example.org` } = {}) {
    const args = ['user', 'add', name, ...(admin ? ['--admin'] : []), '--email', email, '--db', this.db];
    const r = spawnSync(CHATD, args, { input: password + '\n', timeout: 60_000, encoding: 'utf8' });
    assert.equal(r.status, 0, `chatd user add ${name} failed (status ${r.status}, ${r.error || ''}): ${r.stdout}${r.stderr}`);
    return { username: name, password, email };
  }

  logTail(n = 4000) {
    try {
      const text = fs.readFileSync(this.logPath, 'utf8');
      return 'chatd log (tail):\n' + text.slice(-n);
    } catch (_) {
      return '(no chatd log)';
    }
  }

  /** Removes the temporary folder (the server must be stopped). */
  cleanup() {
    fs.rmSync(this.dir, { recursive: true, force: true });
    tempDirs.delete(this.dir);
  }
}

/** A minimal HTTP client with a session cookie, for setup steps outside the UI. */
export class ApiClient {
  constructor(base) {
    this.base = base;
    this.cookie = '';
  }

  async call(method, p, body) {
    const headers = { Accept: 'application/json' };
    if (this.cookie) headers.Cookie = this.cookie;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(this.base + p, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(20_000),
    });
    const setCookie = res.headers.get('set-cookie');
    const m = setCookie && /(?:^|,\s*)sid=([^;]*)/.exec(setCookie);
    if (m) this.cookie = `sid=${m[1]}`;
    const text = await res.text();
    let data = null;
    if (text) { try { data = JSON.parse(text); } catch (_) { data = text; } }
    return { status: res.status, data };
  }

  async login(username, password = PASSWORD) {
    const r = await this.call('POST', '/api/login', { username, password });
    assert.equal(r.status, 200, `login ${username}: ${JSON.stringify(r.data)}`);
    return r.data.user;
  }

  async createRoom(name, topic = '') {
    const r = await this.call('POST', '/api/rooms', { name, topic });
    assert.equal(r.status, 201, `create room ${name}: ${JSON.stringify(r.data)}`);
    return r.data.room;
  }
}

/* ---------- browser ---------- */

export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

/** Headless Chromium (with extraArgs too); every context made from it is a fresh profile. */
export async function launchBrowser(extraArgs = []) {
  assert.ok(fs.existsSync(CHROMIUM), `Chromium not found: ${CHROMIUM}`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_ARGS, ...extraArgs], timeout: 60_000 });
}

/**
 * A fresh browser context (one user) and its page. Uncaught page errors and
 * dialogs are recorded in page.problems; checkPage() fails on any.
 */
export async function newUserPage(browser, options = {}) {
  const { allowDialogs = false, ...ctxOptions } = options;
  const context = await browser.newContext({
    locale: 'en-US', timezoneId: 'UTC', viewport: { width: 1280, height: 800 }, ...ctxOptions,
  });
  context.setDefaultTimeout(UI_TIMEOUT_MS);
  const page = await context.newPage();
  page.problems = [];
  page.dialogs = [];
  page.on('pageerror', (err) => page.problems.push(`page error: ${err.message}`));
  page.on('dialog', async (d) => {
    page.dialogs.push({ type: d.type(), message: d.message() });
    if (allowDialogs && d.type() === 'confirm') await d.accept();
    else {
      page.problems.push(`unexpected ${d.type()} dialog: ${d.message()}`);
      await d.dismiss();
    }
  });
  return { context, page };
}

/**
 * A second tab in an existing context (same user, same cookie), recording
 * problems like newUserPage; dialogs are accepted only when allowDialogs is set.
 */
export async function newTab(context, { allowDialogs = false } = {}) {
  const page = await context.newPage();
  page.problems = [];
  page.dialogs = [];
  page.on('pageerror', (err) => page.problems.push(`page error: ${err.message}`));
  page.on('dialog', async (d) => {
    page.dialogs.push({ type: d.type(), message: d.message() });
    if (allowDialogs && d.type() === 'confirm') await d.accept();
    else {
      page.problems.push(`unexpected ${d.type()} dialog: ${d.message()}`);
      await d.dismiss();
    }
  });
  return page;
}

/** Fails when the page had an uncaught error or an unexpected dialog. */
export function checkPage(page, label = 'page') {
  assert.deepEqual(page.problems, [], `${label} had problems`);
}

function slug(s) {
  return String(s).normalize('NFKC').replace(/[^\p{L}\p{N}._-]+/gu, '-').replace(/^-+|-+$/g, '').slice(0, 100);
}

/** Saves a full-page screenshot named after the test (plus an optional suffix). */
export async function screenshot(page, t, suffix = '') {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, slug(t.name) + (suffix ? '--' + slug(suffix) : '') + '.png');
  await page.screenshot({ path: file, fullPage: true, timeout: 30_000 });
  return file;
}

/* ---------- UI helpers ---------- */

/** Waits until the page shows the signed-in shell for username with a live socket. */
export async function waitSignedIn(page, username) {
  await page.locator('#current-user').filter({ hasText: username }).waitFor({ state: 'visible' });
  await waitConn(page, 'online');
}

export async function waitConn(page, state, timeout = UI_TIMEOUT_MS) {
  await page.locator(`#conn-status[data-state="${state}"]`).waitFor({ state: 'attached', timeout });
}

/** Registers through the register form (which also signs in). */
export async function registerViaUI(page, base, { username, email = `${username}@example.org`, password = PASSWORD }) {
  await page.goto(base + '/#/register');
  await page.locator('#register-username').fill(username);
  await page.locator('#register-email').fill(email);
  await page.locator('#register-password').fill(password);
  await page.locator('#register-submit').click();
  await waitSignedIn(page, username);
}

/** Signs in through the login form. */
export async function loginViaUI(page, base, username, password = PASSWORD, { navigate = true } = {}) {
  if (navigate) await page.goto(base + '/#/login');
  await page.locator('#login-form').waitFor({ state: 'visible' });
  await page.locator('#login-username').fill(username);
  await page.locator('#login-password').fill(password);
  await page.locator('#login-submit').click();
  await waitSignedIn(page, username);
}

/** Registers and signs in over HTTP inside the browser context (shares its cookie), then opens the app. */
export async function signUp(context, page, base, username, password = PASSWORD) {
  const email = `${username}@example.org`;
  const reg = await context.request.post(base + '/api/register', { data: { username, password, email }, timeout: 30_000 });
  assert.equal(reg.status(), 201, `register ${username}: ${await reg.text()}`);
  const login = await context.request.post(base + '/api/login', { data: { username, password }, timeout: 30_000 });
  assert.equal(login.status(), 200, `login ${username}: ${await login.text()}`);
  await page.goto(base + '/#/lobby');
  await waitSignedIn(page, username);
  return { username, password, email };
}

/** Opens the user menu and signs out. */
export async function logoutViaUI(page) {
  await page.locator('#user-menu-btn').click();
  await page.locator('#logout-btn').click();
  await page.locator('#login-form').waitFor({ state: 'visible' });
}

export const friendItem = (page, user) => page.locator(`#friend-list li[data-user="${user}"]`);
export const requestItem = (page, user, kind) => page.locator(`#friend-requests li[data-user="${user}"][data-kind="${kind}"]`);

/** Opens the direct-message conversation with user from the friends list. */
export async function openDm(page, user) {
  await friendItem(page, user).locator('[data-action="open-dm"]').click();
  await page.locator(`#message-list[data-dm="${user}"]`).waitFor({ state: 'attached' });
  await until(async () => (await page.evaluate(() => location.hash)) === `#/dm/${encodeURIComponent(user)}`, { desc: `route to the DM with ${user}` });
  await page.locator('#view-room').waitFor({ state: 'visible' });
}

export const roomItem = (page, roomId) => page.locator(`#room-list li[data-testid="room-item"][data-room="${roomId}"]`);

/** Opens a room from the sidebar and waits until the server confirmed the join. */
export async function openRoom(page, roomId, username) {
  await roomItem(page, roomId).locator('a').click();
  await page.locator('#view-room').waitFor({ state: 'visible' });
  await until(async () => (await page.evaluate(() => location.hash)) === `#/room/${roomId}`, { desc: `route to room ${roomId}` });
  await page.locator(`#member-list li[data-user="${username}"]`).waitFor({ state: 'attached' });
}

/** The message list as plain data. */
export function messages(page) {
  return page.$$eval('#message-list li[data-testid="message"]', (els) => els.map((li) => ({
    id: li.dataset.id === undefined ? null : Number(li.dataset.id),
    sender: li.dataset.sender,
    own: li.dataset.own === 'true',
    pending: li.dataset.pending === 'true',
    text: li.querySelector('[data-testid="message-text"]').textContent,
  })));
}

/** Waits until a confirmed (stored) message with this text is shown. */
export async function waitForMessage(page, text, { sender, timeout = UI_TIMEOUT_MS } = {}) {
  return until(async () => (await messages(page)).find((m) => m.id !== null && m.text === text && (!sender || m.sender === sender)),
    { timeout, desc: `message ${JSON.stringify(text.slice(0, 60))}${sender ? ' from ' + sender : ''}` });
}

/** Types and sends a message with the composer, then waits until it is acknowledged. */
export async function sendMessage(page, text, { via = 'button' } = {}) {
  const input = page.locator('#message-input');
  await input.fill(text);
  if (via === 'enter') await input.press('Enter');
  else await page.locator('#send-button').click();
  await until(async () => {
    const list = await messages(page);
    return !list.some((m) => m.pending && m.text === text) && list.find((m) => m.id !== null && m.own && m.text === text);
  }, { desc: `ack of ${JSON.stringify(text.slice(0, 60))}` });
}

/** Asserts that every shown message has a unique id and no text is shown twice (texts are unique in the tests). */
export function assertNoDuplicates(list, label = 'message list') {
  const ids = list.filter((m) => m.id !== null).map((m) => m.id);
  assert.equal(new Set(ids).size, ids.length, `${label}: duplicate ids ${JSON.stringify(ids)}`);
  const texts = list.map((m) => m.text);
  assert.equal(new Set(texts).size, texts.length, `${label}: duplicate texts ${JSON.stringify(texts)}`);
  const sorted = [...ids].sort((a, b) => a - b);
  assert.deepEqual(ids, sorted, `${label}: ids out of order`);
}

/** Horizontal overflow of the document (scrollWidth and the viewport width). */
export function horizontalExtent(page) {
  return page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    bodyScrollWidth: document.body.scrollWidth,
    innerWidth: window.innerWidth,
  }));
}

/**
 * Returns test(name, body) for browser tests: body(t, userPage) gets userPage(options),
 * which opens a fresh context and page. On failure every page the test opened
 * is saved as a screenshot; the contexts are closed when the test ends.
 */
export function browserTest(getBrowser) {
  return (name, body) => test(name, { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const opened = [];
    const userPage = async (options) => {
      const r = await newUserPage(getBrowser(), options);
      opened.push(r);
      return r;
    };
    try {
      await body(t, userPage);
    } catch (e) {
      for (const [i, r] of opened.entries()) await screenshot(r.page, t, `failure-${i + 1}`).catch(() => {});
      throw e;
    } finally {
      for (const r of opened) await r.context.close().catch(() => {});
    }
  });
}

/**
 * One chatd and one Chromium for a test file: started before its first test,
 * stopped (SIGTERM, exit 0 checked) after its last.  With admin, an
 * administrator is created and logged in over HTTP.  The returned object's
 * fields are set once the file's tests run; suite.test makes browser tests.
 */
export function useSuite({ admin = false } = {}) {
  const suite = { server: null, browser: null, admin: null, adminName: null };
  before(async () => {
    suite.server = new ChatServer();
    await suite.server.start();
    if (admin) {
      suite.adminName = uniqueName('admin');
      suite.server.addUser(suite.adminName, { admin: true });
      suite.admin = new ApiClient(suite.server.url);
      await suite.admin.login(suite.adminName);
    }
    suite.browser = await launchBrowser();
  });
  after(async () => {
    if (suite.browser) await suite.browser.close();
    if (suite.server) {
      await suite.server.stopClean();
      suite.server.cleanup();
    }
  });
  suite.test = browserTest(() => suite.browser);
  return suite;
}
