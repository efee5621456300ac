// End-to-end: what the dashboard tells a new user. Its live feed is the lab's events, never the
// audit trail's sign-ins (not even an admin's). Progress is one number wherever it is shown:
// derived from tasks when a component has tasks, typed by hand otherwise (and said so), the same
// on the canvas node, in its panel, in the overall progress and in the chart, with the definition
// in a tooltip. Real binary, real Chromium; screenshots.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { screenshot, signedInPage, startApp, stopApp, waitFor } from './harness.mjs';

const VIEWER = { username: 'vera', password: 'viewer password 4 walls' };

/** Checks `check` every 200 ms for `ms`: a state that must settle and then stay. */
async function stays(page, ms, check) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    await check();
    await page.waitForTimeout(200);
  }
  await check();
}

/** The kinds the dashboard's live feed lists, top to bottom. */
async function feedKinds(page) {
  return page.getByTestId('event-feed').locator('.feed-kind').allTextContents();
}

describe('dashboard', () => {
  let server;
  let browser;
  let token;

  before(async () => {
    // Progress is sampled for the chart every second here (15 s by default).
    ({ server, token, browser } = await startApp({ env: { TAYLORDASH_METRICS_PUSH_INTERVAL: '1' } }));
    await server.api('POST', '/auth/users', { token, body: { ...VIEWER, role: 'viewer' } });
  });

  after(() => stopApp({ server, browser }));

  test("the live feed shows the lab's events, not sign-ins", async () => {
    // The admin's own sign-in (through the page) is an audit event, as are the ones below.
    const page = await signedInPage(browser, server);
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    await page.getByText('Live', { exact: true }).waitFor();
    await server.api('POST', '/events', {
      token,
      body: { topic: 'tracker/events/lab/garage', kind: 'garage.door_opened', payload: { door: 'north' } },
    });
    // Sign-ins and a failed one while the dashboard is open: live audit events.
    await server.login(VIEWER);
    await server.api('POST', '/auth/login', { body: { username: 'vera', password: 'not the password' } }).catch(() => {});
    await server.login(VIEWER);
    await server.api('POST', '/events', {
      token,
      body: { topic: 'tracker/metrics/garage', kind: 'metrics.garage_temperature', payload: { celsius: 19 } },
    });
    await page.getByTestId('event-feed').getByText('metrics.garage_temperature').waitFor({ timeout: 10_000 });
    const settled = async (what) => {
      const kinds = await feedKinds(page);
      assert.ok(kinds.includes('garage.door_opened'), `${what}: the lab's event is listed: ${kinds}`);
      assert.ok(kinds.includes('metrics.garage_temperature'), `${what}: ${kinds}`);
      assert.deepEqual(kinds.filter((k) => k.startsWith('auth.')), [], `${what}: no sign-ins in the feed`);
    };
    await stays(page, 2500, () => settled('live'));
    // The audit events exist (the admin reads them on the Admin screen), the feed leaves them out.
    const audit = await server.api('GET', '/events?topic=tracker/events/auth/%23', { token });
    assert.ok(audit.events.some((e) => e.kind === 'auth.login_success'), 'sign-ins are stored');
    await screenshot(page, 'dashboard-feed');

    // The history the page fetches on load leaves them out as well.
    await page.reload();
    await page.getByTestId('event-feed').getByText('garage.door_opened').waitFor();
    await stays(page, 1500, () => settled('after a reload'));
    await page.context().close();
  });

  test('progress: one definition on the node, its panel, the overall progress and the chart', async () => {
    const api = (m, p, body) => server.api(m, p, { token, body });
    const project = await api('POST', '/projects', { name: 'Greenhouse', status: 'active' });
    // 0 % typed, 1 of 4 tasks done: 25 %. The other has no tasks: 40 % typed by hand.
    const sensors = await api('POST', `/projects/${project.id}/components`, {
      name: 'Sensors', progress: 0, position: { x: 0, y: 0 },
    });
    const pump = await api('POST', `/projects/${project.id}/components`, {
      name: 'Pump', progress: 40, position: { x: 320, y: 0 },
    });
    const tasks = [];
    for (const [name, status] of [['Wire probes', 'done'], ['Calibrate', 'todo'], ['Mount', 'todo'], ['Log', 'todo']]) {
      tasks.push(await api('POST', `/components/${sensors.id}/tasks`, { name, status }));
    }

    const page = await signedInPage(browser, server);
    await page.goto(`${server.url}/projects/${project.id}/canvas`);
    const node = (id) => page.locator(`.react-flow__node[data-id="${id}"]`);
    await node(sensors.id).waitFor();
    const nodeSays = async (id) => ({
      source: (await node(id).getByTestId('cv-task-count').textContent()).trim(),
      percent: (await node(id).getByTestId('cv-progress').textContent()).trim(),
      bar: await node(id).getByRole('progressbar').getAttribute('aria-valuenow'),
    });
    await stays(page, 1000, async () => {
      assert.deepEqual(await nodeSays(sensors.id), { source: '1/4 tasks done', percent: '25%', bar: '25' });
      assert.deepEqual(await nodeSays(pump.id), { source: 'No tasks · set by hand', percent: '40%', bar: '40' });
    });
    // The panel says where the number comes from, and has no field to type it over.
    await node(sensors.id).locator('.cv-node-type').click();
    const panel = page.getByRole('complementary', { name: 'Component Sensors' });
    await panel.getByTestId('progress-source').getByText('From tasks: 1 of 4 tasks done.').waitFor();
    assert.equal(await panel.getByTestId('panel-progress').textContent(), '25%');
    assert.equal(await panel.getByRole('spinbutton').count(), 0, 'no progress to type while it comes from tasks');
    await panel.getByRole('button', { name: 'How progress is computed' }).hover();
    const tip = panel.getByRole('tooltip');
    await tip.waitFor();
    assert.match(await tip.textContent(), /share of its tasks that are done.*typed by hand/s);
    await screenshot(page, 'canvas-progress');
    await panel.getByRole('button', { name: 'Close panel' }).click();
    await node(pump.id).locator('.cv-node-type').click();
    const pumpPanel = page.getByRole('complementary', { name: 'Component Pump' });
    await pumpPanel.getByText('Set by hand: this component has no tasks.').waitFor();
    assert.equal(await pumpPanel.getByLabel('Progress % (by hand)').inputValue(), '40');

    // The dashboard: (25 + 40) / 2 = 32.5, shown as 33 %, and the chart agrees.
    await page.goto(`${server.url}/`);
    const overall = page.getByTestId('overall-progress');
    await waitFor(async () => (await overall.textContent()) === '33%', 'overall progress 33%', 10_000);
    const chart = page.getByTestId('chart-progress');
    const legend = chart.locator('.ch-legend li', { hasText: 'Greenhouse' });
    await waitFor(
      async () => (await legend.count()) === 1 && (await legend.locator('.ch-value').textContent()).trim() === '33 %',
      'the chart at 33 %',
      40_000,
    );
    await stays(page, 1500, async () => {
      assert.equal(await overall.textContent(), '33%');
      assert.equal(await page.locator('progress[aria-label="Overall progress"]').getAttribute('value'), '33');
    });
    await page.locator('.hud-projects').getByRole('button', { name: 'How progress is computed' }).hover();
    await page.locator('.hud-projects').getByRole('tooltip').waitFor();
    await screenshot(page, 'dashboard-progress');

    // A task done elsewhere: 2 of 4 → 50 %, overall (50 + 40) / 2 = 45 %, live.
    await api('PUT', `/tasks/${tasks[1].id}`, { status: 'done' });
    await waitFor(async () => (await overall.textContent()) === '45%', 'overall progress 45% after a task is done', 10_000);
    await page.context().close();
  });
});
