// End-to-end: the dashboard charts against the real binary, in one of two modes.
// - Local (no VICTORIA_METRICS_URL): events published over the API raise taylor_ingest_total,
//   which the binary writes to its local samples table every push interval (1 s here), with each
//   open project's progress (taylordash_project_progress). Screenshot `dashboard-charts`.
// - VictoriaMetrics (VICTORIA_METRICS_URL set, e.g. a local victoria-metrics started with
//   -search.latencyOffset=0s; the server inherits the variable): the same samples go to
//   VictoriaMetrics, which the test asks directly to prove they are there, and the server must
//   report it healthy. Screenshot `dashboard-charts-victoriametrics`, so neither mode overwrites
//   the other's.
// HTTP p95 comes from histogram_quantile over the latency buckets in both. Axe in both.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, assertAccessible, screenshot, signedInPage, startApp, stopApp, waitFor } from './harness.mjs';

const VM = process.env.VICTORIA_METRICS_URL?.replace(/\/+$/, '') || null;
const MODE = VM ? 'VictoriaMetrics' : 'local samples';
const SHOT = VM ? 'dashboard-charts-victoriametrics' : 'dashboard-charts';
// A new series can take 10-20 s to show in VictoriaMetrics' query_range: the waits allow a minute.
const DEADLINE = 60_000;

let server;
let browser;
let token;

before(async () => {
  ({ server, token, browser } = await startApp({ env: { TAYLORDASH_METRICS_PUSH_INTERVAL: '1' } }));
});

after(() => stopApp({ server, browser }));

/** The server's `query_range` over the last ten minutes (local table or VictoriaMetrics). */
async function range(query) {
  const end = Math.floor(Date.now() / 1000);
  const q = new URLSearchParams({ query, start: String(end - 600), end: String(end), step: '30' });
  return (await server.api('GET', `/metrics/query_range?${q}`, { token })).data.result;
}

/** An instant query straight to VictoriaMetrics, bypassing the server. */
async function vmQuery(query) {
  const r = await fetch(`${VM}/api/v1/query?${new URLSearchParams({ query })}`);
  const text = await r.text();
  assert.equal(r.status, 200, `VictoriaMetrics ${query}: ${text}`);
  const body = JSON.parse(text);
  assert.equal(body.status, 'success', `VictoriaMetrics ${query}: ${text}`);
  return body.data.result;
}

test(`dashboard charts show events/s, dead letters, HTTP p95 and project progress (${MODE})`, async () => {
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
  // The mode is what the server itself says: VictoriaMetrics configured and answering, or not used.
  const stack = await server.api('GET', '/health/stack', { token });
  assert.equal(stack.services.victoria_metrics.status, VM ? 'healthy' : 'not_configured', JSON.stringify(stack.services.victoria_metrics));
  if (VM) {
    // The samples really are in VictoriaMetrics, not only somewhere the server answers from: the
    // 20 events counted (under kind="other", as kinds the server does not know are), and this
    // run's project (by id: the same VictoriaMetrics may hold earlier runs) at 40 %.
    await waitFor(
      async () => (await vmQuery('taylor_ingest_total')).reduce((n, s) => n + Number(s.value[1]), 0) >= 20,
      'taylor_ingest_total (20 events or more) in VictoriaMetrics',
      DEADLINE,
    );
    await waitFor(
      async () => (await vmQuery('taylordash_project_progress')).some((s) => s.metric.project_id === project.id && s.value[1] === '40'),
      `taylordash_project_progress{project_id="${project.id}"} = 40 in VictoriaMetrics`,
      DEADLINE,
    );
  }
  // The page asks once on load and then every 30 s: have every chart's data before opening it.
  await waitFor(
    async () => (await range('sum(rate(taylor_ingest_total[5m]))')).some((s) => s.values.some(([, v]) => Number(v) > 0)),
    `a non-zero ingest rate (${MODE})`,
    DEADLINE,
  );
  await waitFor(
    async () => (await range('max by (project) (taylordash_project_progress)')).some((s) => s.values.some(([, v]) => v === '40')),
    `the project progress sample (${MODE})`,
    DEADLINE,
  );
  await waitFor(
    async () =>
      (await range('histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))')).some((s) =>
        s.values.some(([, v]) => Number(v) > 0),
      ),
    `an HTTP p95 latency (${MODE})`,
    DEADLINE,
  );

  const page = await signedInPage(browser, server, ADMIN, { viewport: { width: 1360, height: 1100 } });
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();

  const events = page.getByTestId('chart-events');
  await events.locator('.ch-line, .ch-dot').first().waitFor({ state: 'attached' }).catch(async (e) => {
    await screenshot(page, `${SHOT}-failed`);
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

  await screenshot(page, SHOT);
  await assertAccessible(page, `dashboard charts (${MODE})`);
  await page.context().close();
});
