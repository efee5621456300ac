// End-to-end: the dashboard charts against the real binary without VictoriaMetrics (the local
// samples table). Events published over the API raise taylor_ingest_total, which the binary
// also writes to the local table every push interval (1 s here), with each open project's
// progress (taylordash_project_progress); HTTP p95 comes from histogram_quantile over the latency buckets.
// With VICTORIA_METRICS_URL set (e.g. a local victoria-metrics started with
// -search.latencyOffset=0s) the same test runs against VictoriaMetrics.
// Screenshot `dashboard-charts` and axe.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Server, assertAccessible, launchBrowser, screenshot, signIn } from './harness.mjs';

let server;
let browser;
let token;

before(async () => {
  server = new Server({ env: { TAYLORDASH_METRICS_PUSH_INTERVAL: '1' } });
  await server.start();
  token = await server.createAdmin();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.dispose();
});

async function waitFor(fn, what, ms = 30_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function range(query) {
  const end = Math.floor(Date.now() / 1000);
  const q = new URLSearchParams({ query, start: String(end - 600), end: String(end), step: '30' });
  return (await server.api('GET', `/metrics/query_range?${q}`, { token })).data.result;
}

test('dashboard charts show events/s, dead letters, HTTP p95 and project progress', async () => {
  // A project whose components average 40% progress: sampled as taylordash_project_progress.
  const project = await server.api('POST', '/projects', { token, body: { name: 'Rover' } });
  for (const progress of [20, 60]) {
    await server.api('POST', `/projects/${project.id}/components`, { token, body: { name: `part ${progress}`, progress } });
  }
  // Two rounds of events with pushes in between so the counter rises between samples.
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < 10; i++) {
      await server.api('POST', '/events', { token, body: { topic: 'tracker/events/e2e/charts', kind: 'e2e.charts', payload: { i } } });
    }
    await new Promise((r) => setTimeout(r, 1500));
  }
  await waitFor(
    async () => (await range('sum(rate(taylor_ingest_total[5m]))')).some((s) => s.values.some(([, v]) => Number(v) > 0)),
    'a non-zero ingest rate in the local samples',
  );
  await waitFor(
    async () => (await range('max by (project) (taylordash_project_progress)')).some((s) => s.values.some(([, v]) => v === '40')),
    'the project progress sample',
  );

  const context = await browser.newContext({ viewport: { width: 1360, height: 1100 } });
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  await signIn(page, server);
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();

  const events = page.getByTestId('chart-events');
  await events.locator('.ch-line, .ch-dot').first().waitFor({ state: 'attached' }).catch(async (e) => {
    await screenshot(page, 'dashboard-charts-failed');
    console.log(await page.getByLabel('Charts').innerText());
    throw e;
  });
  assert.ok((await events.locator('.ch-legend li').count()) >= 1);
  await page.getByTestId('chart-dlq').locator('.ch-line, .ch-dot').waitFor({ state: 'attached' });
  await page.getByTestId('chart-dlq').getByText('dead letters', { exact: true }).waitFor();
  const progress = page.getByTestId('chart-progress');
  await progress.getByText('Rover').waitFor();
  await progress.getByText('40 %').waitFor();
  // p95: histogram_quantile over the latency buckets (summed by le in local mode).
  await page.getByTestId('chart-p95').locator('.ch-line, .ch-dot').first().waitFor({ state: 'attached' });
  await page.getByTestId('chart-p95').getByText(/\d ms$/).waitFor();

  await screenshot(page, 'dashboard-charts');
  await assertAccessible(page, 'dashboard charts');
  await context.close();
});
