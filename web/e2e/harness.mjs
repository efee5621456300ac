// End-to-end harness: runs the real `taylordash` binary on a fresh data directory and a free
// port, and drives the system Chromium with playwright-core. Used by every e2e/*.test.mjs: a suite
// starts with `startApp()` (server, first admin, browser) and ends with `stopApp()`.
//
// TAYLORDASH_BIN   the binary (CI: the release build); default: $CARGO_TARGET_DIR/release/taylordash
// CHROMIUM         the browser; default /usr/bin/chromium
// E2E_SCREENSHOTS  where screenshots go; default e2e/screenshots
// The server inherits this process's environment (e.g. VICTORIA_METRICS_URL); a suite's own
// `env` is laid over it.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const here = new URL('.', import.meta.url).pathname;
export const BIN =
  process.env.TAYLORDASH_BIN ??
  join(process.env.CARGO_TARGET_DIR ?? join(here, '../../target'), 'release/taylordash');
export const SCREENSHOTS = process.env.E2E_SCREENSHOTS ?? join(here, 'screenshots');
export const ADMIN = { username: 'admin', password: 'correct horse battery staple' };

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/**
 * A running server. `start()` spawns it (again, after `stop()`, on the same data dir and port,
 * to test restarts); the setup token printed on first start is in `setupToken`.
 */
export class Server {
  constructor({ env = {} } = {}) {
    this.dataDir = mkdtempSync(join(tmpdir(), 'taylordash-e2e-'));
    this.env = env;
    this.output = '';
    this.setupToken = null;
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  async start() {
    this.port ??= await freePort();
    this.proc = spawn(BIN, ['serve'], {
      env: {
        ...process.env,
        TAYLORDASH_BIND: `127.0.0.1:${this.port}`,
        TAYLORDASH_DATA_DIR: this.dataDir,
        TAYLORDASH_LOG: 'warn',
        ...this.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const collect = (chunk) => {
      this.output += chunk.toString();
      const m = this.output.match(/\/setup\?token=([A-Za-z0-9_-]+)/);
      if (m) this.setupToken = m[1];
    };
    this.proc.stdout.on('data', collect);
    this.proc.stderr.on('data', collect);
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (this.proc.exitCode !== null) throw new Error(`taylordash exited:\n${this.output}`);
      try {
        const r = await fetch(`${this.url}/health/ready`);
        if (r.ok) return this;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`taylordash did not become ready:\n${this.output}`);
  }

  async stop() {
    if (!this.proc || this.proc.exitCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGTERM');
    await exited;
  }

  async dispose() {
    await this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** JSON API call with a bearer token (or none); throws on non-2xx with the server's detail. */
  async api(method, path, { token, body } = {}) {
    const r = await fetch(`${this.url}/api/v1${path}`, {
      method,
      headers: {
        ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await r.text();
    const json = text ? JSON.parse(text) : null;
    if (!r.ok) throw Object.assign(new Error(`${method} ${path}: ${r.status} ${text}`), { status: r.status, json });
    return json;
  }

  /** Creates the first admin through the setup API (not the page) and returns a session token. */
  async createAdmin(user = ADMIN) {
    if (!this.setupToken) throw new Error('no setup token in the server output');
    await this.api('POST', '/auth/setup', { body: { token: this.setupToken, ...user } });
    return this.login(user);
  }

  async login({ username, password }) {
    const r = await this.api('POST', '/auth/login', { body: { username, password } });
    return r.session_token;
  }
}

/**
 * The prelude of every suite: a server started with `env` over the inherited environment, its
 * first admin's session `token` (unless `admin: false`, for a suite that sets up through the
 * page) and a browser. Nothing is left running when a step fails.
 */
export async function startApp({ env = {}, admin = true } = {}) {
  const server = new Server({ env });
  try {
    await server.start();
    const token = admin ? await server.createAdmin() : null;
    const browser = await launchBrowser();
    return { server, token, browser };
  } catch (e) {
    await server.dispose();
    throw e;
  }
}

/** Closes what `startApp` opened (either may be missing when the prelude failed). */
export async function stopApp({ server, browser } = {}) {
  await browser?.close();
  await server?.dispose();
}

/** Polls `fn` until it returns something truthy, and returns that; fails naming `what` after `ms`. */
export async function waitFor(fn, what, ms = 30_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}

/** Signs in through the login page. */
export async function signIn(page, server, { username, password } = ADMIN) {
  await page.goto(`${server.url}/login`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => !u.pathname.startsWith('/login'));
}

/**
 * A page signed in as `user` (the admin by default) in a browser context of its own, waiting
 * up to 30 s for anything. `options` go to the context (viewport 1360×900 unless given).
 */
export async function signedInPage(browser, server, user = ADMIN, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1360, height: 900 }, ...options });
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  await signIn(page, server, user);
  return page;
}

/** Saves a full-page screenshot under SCREENSHOTS/<name>.png. */
export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

const AXE_SOURCE = readFileSync(new URL('../node_modules/axe-core/axe.min.js', import.meta.url), 'utf8');

/**
 * Runs axe-core on the page: fails on critical violations, prints the others (`# axe …`) and
 * returns them all.
 */
export async function assertAccessible(page, label) {
  // Evaluated through the DevTools protocol: the app's CSP (script-src 'self') rightly refuses an
  // injected inline <script>, and the test must not weaken it.
  if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length,
      where: v.nodes.slice(0, 4).map((n) => n.target.join(' ')).join(', '),
    }));
  });
  const critical = result.filter((v) => v.impact === 'critical');
  if (critical.length) {
    throw new Error(`${label}: critical accessibility violations: ${JSON.stringify(critical, null, 2)}`);
  }
  for (const v of result) console.log(`# axe ${label}: ${v.impact} ${v.id} (${v.nodes}): ${v.help} at ${v.where}`);
  return result;
}
