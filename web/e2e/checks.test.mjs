// End-to-end: service checks in the UI, against the real binary, a real HTTP target served by
// this test on loopback and the system Chromium. A component with an HTTP check turns green on the
// canvas; the test stops its target → the node turns red live (no reload), the one depending on
// it shows "impacted", a check.down event appears, and the dashboard leads with it; the target
// comes back → green again. The check editor's "test now" shows a result, a bad interval gets the
// server's own words, a push check's URL is shown once and works; the component page shows the
// history; a viewer sees no edit controls. Screenshots and axe.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { assertAccessible, freePort, screenshot, signedInPage, startApp, stopApp, waitFor } from './harness.mjs';

const VIEWER = { username: 'vic', password: 'a viewer password that is long' };

/** A tiny web service on loopback that can be stopped and started again on the same port. */
class Target {
  constructor(port) {
    this.port = port;
    this.server = null;
  }

  get url() {
    return `http://127.0.0.1:${this.port}/`;
  }

  async start() {
    this.server = createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<h1>NAS</h1><p>Storage is healthy</p>');
    });
    await new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', resolve);
    });
  }

  async stop() {
    if (!this.server) return;
    const s = this.server;
    this.server = null;
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
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

const nodeSel = (id) => `.react-flow__node[data-id="${id}"] [data-testid="cv-node"]`;
const health = (page, id) => page.locator(nodeSel(id)).getAttribute('data-health');

/** Waits until the node of `id` shows `want` (polling; the check runs every 10 s). */
async function nodeTurns(page, id, want, ms = 45_000) {
  await waitFor(async () => (await health(page, id)) === want, `node ${id} to be ${want}`, ms);
}

describe('service checks', () => {
  let server;
  let browser;
  let token;
  let target;
  let project;
  const c = {};
  const cspViolations = [];

  before(async () => {
    ({ server, token, browser } = await startApp());
    target = new Target(await freePort());
    await target.start();
    const api = (m, p, body) => server.api(m, p, { token, body });
    project = await api('POST', '/projects', { name: 'Home lab' });
    const add = async (key, body) => {
      c[key] = await api('POST', `/projects/${project.id}/components`, body);
    };
    await add('nas', {
      name: 'NAS', type: 'storage', icon: 'nas', url: target.url, host: '127.0.0.1',
      description: 'The file server', position: { x: 0, y: 0 },
    });
    await add('media', { name: 'Jellyfin', type: 'media', icon: 'media', position: { x: 320, y: 0 } });
    await add('router', { name: 'Router', type: 'network', icon: 'router', position: { x: 0, y: 200 } });
    // "Jellyfin depends on NAS": when the NAS is down, Jellyfin is impacted.
    await api('POST', `/components/${c.media.id}/dependencies`, { depends_on_id: c.nas.id });
    c.check = await api('POST', `/components/${c.nas.id}/checks`, {
      kind: 'http', name: 'NAS web UI', target: { url: target.url, keyword: 'healthy' },
      interval_secs: 10, timeout_secs: 2, retries: 0,
    });
    await api('POST', '/auth/users', { ...VIEWER, role: 'viewer' });
  });

  after(async () => {
    await target?.stop();
    await stopApp({ server, browser });
    assert.deepEqual(cspViolations, [], 'no CSP violation on the checks screens');
  });

  async function page(user, options) {
    const p = await signedInPage(browser, server, user, options);
    p.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });
    return p;
  }

  test('the node goes green, turns red live when its target stops, and green again; the dashboard leads with it', async () => {
    const canvas = await page();
    await canvas.goto(`${server.url}/projects/${project.id}/canvas`);
    await canvas.waitForFunction(() => document.documentElement.dataset.canvasReady === 'true');
    await nodeTurns(canvas, c.nas.id, 'up');
    const nas = canvas.locator(nodeSel(c.nas.id));
    // State in words beside the dot, latency, the day's uptime bar, the icon, the link.
    assert.equal(await nas.getByTestId('cv-health-label').textContent(), 'Up');
    assert.match(await nas.getByTestId('cv-latency').textContent(), /^\d+(\.\d)? ms$/);
    // The day's bar counts the runs so far (fetched just after the state change arrives).
    const bar = nas.getByTestId('uptime-bar');
    await waitFor(async () => /over the last 24 hours: [12] hours? up/.test((await bar.getAttribute('aria-label')) ?? ''), 'a run in the uptime bar', 15_000);
    assert.equal(await nas.locator('svg[data-icon="nas"]').count(), 1);
    const link = nas.getByRole('link', { name: 'Open NAS in a new tab' });
    assert.equal(await link.getAttribute('href'), target.url);
    assert.equal(await link.getAttribute('target'), '_blank');
    assert.match(await link.getAttribute('rel'), /noopener/);
    assert.equal(await health(canvas, c.media.id), 'none', 'Jellyfin has no checks and nothing it needs is down');
    // Edges still end in an arrowhead.
    assert.ok(await canvas.locator('.react-flow__edge path[marker-end]').count() >= 1, 'the dependency has an arrowhead');
    await screenshot(canvas, 'checks-canvas-up');

    const dash = await page();
    await dash.getByTestId('lab-summary').waitFor();
    assert.match(await dash.getByTestId('lab-summary').textContent(), /All 1 checked service is up/);
    await dash.getByTestId('lab-rest').getByText('NAS').waitFor();
    // Neither page reloads from here on: a marker on window survives only without a reload.
    await canvas.evaluate(() => (window.__noReload = true));
    await dash.evaluate(() => (window.__noReload = true));

    await target.stop();
    await nodeTurns(canvas, c.nas.id, 'down');
    await nodeTurns(canvas, c.media.id, 'impacted', 5_000);
    await stays(canvas, 2_000, async () => {
      assert.equal(await health(canvas, c.nas.id), 'down');
      assert.equal(await health(canvas, c.media.id), 'impacted');
    });
    assert.equal(await nas.getByTestId('cv-health-label').textContent(), 'Down');
    assert.equal(await canvas.locator(nodeSel(c.media.id)).getByTestId('cv-impact').textContent(), 'needs NAS');
    assert.equal(await health(canvas, c.router.id), 'none');
    await screenshot(canvas, 'checks-canvas-down');

    // The dashboard: the event in the live feed, and the lab first, the down NAS at its top.
    await dash.getByTestId('event-feed').getByText('check.down').waitFor({ timeout: 15_000 });
    await waitFor(async () => (await dash.getByTestId('lab-item').count()) === 2, 'two lab items needing attention', 15_000);
    await stays(dash, 1_000, async () => {
      const items = dash.getByTestId('lab-item');
      assert.equal(await items.nth(0).getAttribute('data-id'), c.nas.id);
      assert.equal(await items.nth(0).getAttribute('data-health'), 'down');
      assert.equal(await items.nth(1).getAttribute('data-id'), c.media.id);
      assert.equal(await items.nth(1).getAttribute('data-health'), 'impacted');
    });
    assert.match(await dash.getByTestId('lab-summary').textContent(), /1 down · 1 impacted/);
    assert.match(await dash.getByTestId('lab-item').nth(1).textContent(), /needs NAS, which is down/);
    const labTop = (await dash.getByTestId('lab').boundingBox()).y;
    const stackTop = (await dash.locator('.hud-health').boundingBox()).y;
    assert.ok(labTop < stackTop, `the lab (${labTop}) comes before the stack health (${stackTop})`);
    await screenshot(dash, 'checks-dashboard-down');
    await assertAccessible(dash, 'dashboard with an outage');

    await target.start();
    await nodeTurns(canvas, c.nas.id, 'up');
    await nodeTurns(canvas, c.media.id, 'none', 5_000);
    await dash.getByTestId('lab-allgood').waitFor({ timeout: 15_000 });
    await stays(canvas, 1_000, async () => assert.equal(await health(canvas, c.nas.id), 'up'));
    assert.equal(await canvas.evaluate(() => window.__noReload), true, 'the canvas did not reload');
    assert.equal(await dash.evaluate(() => window.__noReload), true, 'the dashboard did not reload');
    await screenshot(dash, 'checks-dashboard-up');
    // The side panel: the component's fields (link, host, icon) and its checks.
    await nas.locator('.cv-node-type').click();
    const panel = canvas.getByRole('complementary', { name: 'Component NAS' });
    await panel.getByTestId('panel-checks-link').waitFor();
    assert.equal(await panel.getByLabel('Icon').inputValue(), 'nas');
    assert.equal(await panel.getByLabel('Address (opens the service)').inputValue(), target.url);
    await panel.getByText('NAS web UI').waitFor();
    await screenshot(canvas, 'checks-side-panel');
    await canvas.context().close();
    await dash.context().close();
  });

  test('an uploaded image as a component icon: the node shows it', async () => {
    // A 16×16 PNG, uploaded as an artifact of the project and set as the router's icon.
    const png = Buffer.from(
      'iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAYAAAAf8/9hAAAAGUlEQVR4nGOQ63j6nxLMMGrAqAGjBgwXAwAhWYof1QOemQAAAABJRU5ErkJggg==',
      'base64',
    );
    const r = await fetch(`${server.url}/api/v1/projects/${project.id}/artifacts?name=router.png`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'image/png' },
      body: png,
    });
    const text = await r.text();
    assert.equal(r.status, 201, text);
    const artifact = JSON.parse(text);
    await server.api('PUT', `/components/${c.router.id}`, { token, body: { icon: artifact.id } });
    const canvas = await page();
    await canvas.goto(`${server.url}/projects/${project.id}/canvas`);
    await canvas.waitForFunction(() => document.documentElement.dataset.canvasReady === 'true');
    const img = canvas.locator(nodeSel(c.router.id)).locator('img.cv-node-icon');
    await img.waitFor();
    assert.equal(await img.getAttribute('src'), `/api/v1/artifacts/${artifact.id}`);
    // Loaded (with the browser's session) and decoded: the image's own 16×16 pixels.
    await waitFor(
      async () => (await img.evaluate((el) => el.complete && el.naturalWidth)) === 16,
      'the uploaded icon to load',
      10_000,
    );
    // Visible on the node, and the pixels are the uploaded ones (same origin: readable).
    assert.ok(await img.isVisible(), 'the icon is visible');
    const box = await img.boundingBox();
    assert.ok(box && box.width > 0 && box.height > 0, 'the icon takes room on the node');
    const rgb = await img.evaluate((el) => {
      const cv = document.createElement('canvas');
      cv.width = el.naturalWidth;
      cv.height = el.naturalHeight;
      const ctx = cv.getContext('2d');
      ctx.drawImage(el, 0, 0);
      return Array.from(ctx.getImageData(8, 8, 1, 1).data.slice(0, 3));
    });
    assert.deepEqual(rgb, [0x1e, 0x88, 0xe5]);
    await screenshot(canvas, 'checks-canvas-uploaded-icon');
    await canvas.context().close();
  });

  test('the editor: test now shows a result, a refusal shows the server’s words, a push URL is shown once', async () => {
    const p = await page();
    await p.goto(`${server.url}/projects/${project.id}/components/${c.router.id}`);
    await p.getByRole('heading', { name: 'Router' }).waitFor();
    await p.getByRole('button', { name: 'Add check' }).click();
    const editor = p.getByTestId('check-editor');
    await editor.getByLabel('URL', { exact: true }).fill(target.url);
    await editor.getByRole('button', { name: 'Test now' }).click();
    const result = editor.getByTestId('test-result');
    await result.waitFor();
    assert.equal(await result.getAttribute('data-status'), 'up');
    assert.match(await result.textContent(), /Test: Up/);
    await screenshot(p, 'checks-editor-test');
    // A closed port: down, with the reason.
    const closed = await freePort();
    await editor.getByLabel('Kind', { exact: true }).selectOption('tcp');
    await editor.getByLabel('Host').fill('127.0.0.1');
    await editor.getByLabel('Port').fill(String(closed));
    await editor.getByRole('button', { name: 'Test now' }).click();
    await waitFor(async () => (await result.getAttribute('data-status').catch(() => null)) === 'down', 'a failed test');
    assert.ok((await result.textContent()).length > 'Test: Down'.length, 'the failure says why');
    // Below the interval floor: the server's 422 detail, shown as it is.
    await editor.getByLabel('Interval (s)').fill('5');
    const refused = p.waitForResponse((r) => r.url().endsWith(`/components/${c.router.id}/checks`) && r.request().method() === 'POST');
    await editor.getByRole('button', { name: 'Add check' }).click();
    const r = await refused;
    assert.equal(r.status(), 422);
    const body = await r.json();
    await editor.getByRole('alert').getByText(body.detail).waitFor();
    // A push check: its URL is shown once, and calling it makes the check up.
    await editor.getByLabel('Kind', { exact: true }).selectOption('push');
    await editor.getByLabel('Expected every (s)').fill('3600');
    await editor.getByRole('button', { name: 'Add check' }).click();
    const shown = p.getByTestId('push-url');
    await shown.waitFor();
    const url = await shown.getByLabel('Push URL').inputValue();
    assert.match(url, /\/api\/v1\/checks\/push\/[A-Za-z0-9_-]{20,}$/);
    await screenshot(p, 'checks-push-url');
    const pushed = await fetch(url, { method: 'POST' });
    assert.equal(pushed.status, 200);
    const card = p.getByTestId('check-card').first();
    await waitFor(async () => (await card.getAttribute('data-status')) === 'up', 'the push check to be up', 15_000);
    await shown.getByRole('button', { name: 'Done' }).click();
    await p.reload();
    await p.getByTestId('check-card').first().waitFor();
    assert.equal(await p.getByTestId('push-url').count(), 0, 'the push URL is not shown again');
    await assertAccessible(p, 'component page (editor)');
    await p.context().close();
  });

  test('the component page shows uptime, the latency chart and the outage', async () => {
    const p = await page();
    await p.goto(`${server.url}/projects/${project.id}/components/${c.nas.id}`);
    const history = p.getByTestId('check-history');
    await history.waitFor();
    assert.match(await p.getByTestId('uptime-24').textContent(), /%$/);
    await history.locator('figure svg polyline, figure svg circle').first().waitFor();
    const outages = p.getByTestId('outages');
    await outages.waitFor();
    assert.ok((await outages.locator('tbody tr').count()) >= 1, 'the outage is listed');
    assert.equal(await p.getByTestId('component-health').getAttribute('data-health'), 'up');
    await screenshot(p, 'checks-component-history');
    await assertAccessible(p, 'component page (history)');
    await p.context().close();
  });

  test('a viewer sees the checks and their history, without edit controls', async () => {
    const p = await page(VIEWER);
    await p.goto(`${server.url}/projects/${project.id}/components/${c.nas.id}`);
    await p.getByTestId('check-card').first().waitFor();
    await p.getByTestId('check-history').waitFor();
    for (const name of ['Add check', 'Edit', 'Delete', 'Test now', 'Pause', 'New push URL']) {
      assert.equal(await p.getByRole('button', { name, exact: true }).count(), 0, `no ${name} for a viewer`);
    }
    assert.equal(await p.getByTestId('check-editor').count(), 0);
    await screenshot(p, 'checks-component-viewer');
    // On the canvas, the side panel lists the checks and links to their history.
    await p.goto(`${server.url}/projects/${project.id}/canvas`);
    await p.waitForFunction(() => document.documentElement.dataset.canvasReady === 'true');
    await p.locator(nodeSel(c.nas.id)).locator('.cv-node-type').click();
    const panel = p.getByRole('complementary', { name: 'Component NAS' });
    await panel.getByTestId('panel-checks-link').waitFor();
    assert.equal(await panel.getByTestId('panel-checks-link').textContent(), 'Checks and history →');
    assert.equal(await panel.getByRole('textbox').count(), 0, 'no fields to edit');
    await p.context().close();
  });
});
