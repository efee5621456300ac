// End-to-end: the public status page. An editor turns it on from the project page and copies the
// link; a fresh browser (no session, no cookies) opens it and sees the components' states on a
// wall screen (1920×1080) and a phone (360 px, no horizontal scroll) without any navigation;
// the JSON behind it names nothing sensitive; a stopped server makes the page say it is stale,
// and a restarted one clears that; turned off, the link shows "not found". Real binary, real
// checks against loopback ports, real Chromium; screenshots.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { assertAccessible, freePort, screenshot, signedInPage, startApp, stopApp, waitFor } from './harness.mjs';

/** Every key the public JSON may have, at any depth. */
const ALLOWED_KEYS = new Set([
  'project', 'status', 'components', 'last_checked_at', 'generated_at',
  'name', 'uptime_24h', 'uptime_30d', 'days', 'day', 'uptime', 'outage',
]);

function keysOf(value, out = new Set()) {
  if (Array.isArray(value)) value.forEach((v) => keysOf(v, out));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      out.add(k);
      keysOf(v, out);
    }
  }
  return out;
}

/** Checks `check` every 200 ms for `ms`: a state that must settle and then stay. */
async function stays(page, ms, check) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    await check();
    await page.waitForTimeout(200);
  }
  await check();
}

/** How far the page scrolls sideways (0: not at all). */
const sideways = (page) => page.evaluate(() => document.documentElement.scrollWidth - innerWidth);

describe('public status page', () => {
  let server;
  let browser;
  let token;
  let project;
  let ids;
  let listener;
  let closedPort;

  before(async () => {
    ({ server, token, browser } = await startApp());
    // A TCP service that is up (this test's listener) and one that is down (a closed port).
    listener = createServer((socket) => socket.destroy());
    await new Promise((r) => listener.listen(0, '127.0.0.1', r));
    closedPort = await freePort();
    project = await server.api('POST', '/projects', { token, body: { name: 'Home lab' } });
    const component = (name) => server.api('POST', `/projects/${project.id}/components`, { token, body: { name } });
    const nas = await component('NAS');
    const router = await component('Router');
    const camera = await component('Camera');
    const check = (c, body) => server.api('POST', `/components/${c.id}/checks`, { token, body: { interval_secs: 10, ...body } });
    const up = await check(nas, { name: 'nas smb', kind: 'tcp', target: { host: '127.0.0.1', port: listener.address().port } });
    const down = await check(router, { name: 'router admin ui', kind: 'tcp', target: { host: '127.0.0.1', port: closedPort } });
    const push = await check(camera, { name: 'camera upload cron', kind: 'push', interval_secs: 3600 });
    await fetch(`${server.url}${push.push_path}`, { method: 'POST' });
    ids = [project.id, nas.id, router.id, camera.id, up.id, down.id, push.id];
    // The scheduler's first runs: NAS up, Router down.
    await waitFor(async () => {
      const o = await server.api('GET', `/projects/${project.id}/checks`, { token });
      const state = Object.fromEntries(o.components.map((c) => [c.component_id, c.status]));
      return state[nas.id] === 'up' && state[router.id] === 'down' && state[camera.id] === 'up';
    }, 'the first check results', 40_000);
  });

  after(async () => {
    listener?.close();
    await stopApp({ server, browser });
  });

  test('turned on by an editor, seen without a session, turned off', async () => {
    const admin = await signedInPage(browser, server);
    await admin.goto(`${server.url}/projects/${project.id}`);
    const panel = admin.getByRole('region', { name: 'Public status page' });
    await panel.getByTestId('status-page-state').getByText('Off').waitFor();
    await panel.getByRole('button', { name: 'Turn on and get the link' }).click();
    const linkInput = panel.getByLabel('Status page link');
    await linkInput.waitFor();
    const link = await linkInput.inputValue();
    assert.match(link, new RegExp(`^${server.url}/status/[0-9a-f]{64}$`));
    await panel.getByTestId('status-page-state').getByText('On').waitFor();
    await screenshot(admin, 'statuspage-settings');
    const apiPath = new URL(link).pathname.replace('/status/', '/api/v1/status/');

    // A fresh browser context: no cookie, no session, a wall screen.
    const wall = await browser.newContext({ viewport: { width: 1920, height: 1080 } });
    const page = await wall.newPage();
    page.setDefaultTimeout(30_000);
    const cspErrors = [];
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) cspErrors.push(m.text());
    });
    const requests = [];
    page.on('request', (r) => requests.push(new URL(r.url()).pathname));
    const response = await page.goto(`${link}?refresh=5`);
    assert.equal(response.status(), 200);
    assert.match(response.headers()['content-security-policy'] ?? '', /script-src 'self'/);
    await page.locator('main[data-state="ready"]').waitFor();
    assert.equal(new URL(page.url()).pathname, new URL(link).pathname, 'no redirect to the login page');
    await page.getByRole('heading', { name: 'Home lab' }).waitFor();
    const item = (name) => page.getByRole('listitem').filter({ has: page.getByRole('heading', { name, exact: true }) });
    await stays(page, 2000, async () => {
      assert.equal(await item('NAS').getAttribute('data-status'), 'up');
      assert.equal(await item('Router').getAttribute('data-status'), 'down');
      assert.equal(await item('Camera').getAttribute('data-status'), 'up');
      assert.match(await item('Router').textContent(), /Down/);
      assert.match(await item('NAS').textContent(), /Operational/);
      assert.match(await page.getByRole('status').first().textContent(), /1 of 3 services down/);
    });
    // Nothing of the signed-in app: no navigation, no sign-in, no session call, no live stream.
    assert.equal(await page.getByRole('navigation').count(), 0);
    assert.equal(await page.getByRole('link', { name: /sign in/i }).count(), 0);
    assert.ok(!requests.some((p) => p.startsWith('/api/v1/auth') || p.startsWith('/api/v1/events')), requests.join(' '));
    assert.equal(await sideways(page), 0);
    await assertAccessible(page, 'status page');
    await screenshot(page, 'statuspage-wall');

    // A phone: one column, nothing wider than the screen.
    await page.setViewportSize({ width: 360, height: 740 });
    await stays(page, 600, async () => assert.equal(await sideways(page), 0, 'no horizontal scroll at 360 px'));
    await screenshot(page, 'statuspage-phone');

    // The JSON names components, states and uptime, nothing else.
    const r = await fetch(`${server.url}${apiPath}`);
    assert.equal(r.status, 200);
    const body = await r.json();
    const text = JSON.stringify(body);
    const extra = [...keysOf(body)].filter((k) => !ALLOWED_KEYS.has(k));
    assert.deepEqual(extra, [], `unexpected fields: ${extra}`);
    for (const secret of [...ids, '127.0.0.1', 'refused', 'smb', 'admin ui', 'cron', 'admin', 'push', 'tcp']) {
      assert.ok(!text.includes(secret), `${secret} in ${text}`);
    }
    assert.equal(body.components.find((c) => c.name === 'Router').status, 'down');

    // The server goes away: the page keeps what it showed, marked stale; back: fresh again.
    await server.stop();
    await page.getByText(/Stale: the server has not answered since/).waitFor({ timeout: 20_000 });
    assert.equal(await item('NAS').getAttribute('data-status'), 'up', 'the last answer stays on screen');
    await screenshot(page, 'statuspage-stale');
    await server.start();
    await page.getByText(/Stale:/).waitFor({ state: 'detached', timeout: 20_000 });

    // Turned off by the editor: the open page and the link say "not found".
    await admin.reload();
    await panel.getByTestId('status-page-state').getByText('On').waitFor();
    await panel.getByRole('button', { name: 'Turn off' }).click();
    await admin.getByRole('dialog').getByRole('button', { name: 'Turn off' }).click();
    await panel.getByTestId('status-page-state').getByText('Off').waitFor();
    const gone = await fetch(`${server.url}${apiPath}`);
    assert.equal(gone.status, 404);
    assert.equal((await gone.json()).code, 'NOT_FOUND');
    await page.getByRole('heading', { name: 'Status page not found' }).waitFor({ timeout: 20_000 });
    const fresh = await (await browser.newContext({ viewport: { width: 360, height: 740 } })).newPage();
    await fresh.goto(link);
    await fresh.getByRole('heading', { name: 'Status page not found' }).waitFor();
    assert.equal(await sideways(fresh), 0);
    await screenshot(fresh, 'statuspage-not-found');
    assert.deepEqual(cspErrors, [], 'no CSP violations');
    await wall.close();
  });
});
