// End-to-end: the log viewer (/logs) against the real binary. Requests made over the API become
// stored log records; the page lists them, tails new ones without reload, filters, opens a
// record's detail and follows its trace id to the Events history; warnings and errors are one
// click away, and the app's own routine requests are not INFO records. Screenshots and axe.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { assertAccessible, screenshot, signedInPage, startApp, stopApp, waitFor } from './harness.mjs';

const VIEWER = { username: 'vera', password: 'viewer password 123' };

let server;
let browser;
let token;

// The stdout filter (TAYLORDASH_LOG) also bounds what reaches the database: keep INFO records.
before(async () => {
  ({ server, token, browser } = await startApp({ env: { TAYLORDASH_LOG: 'info' } }));
});

after(() => stopApp({ server, browser }));

/** A request that fails with 404: stored as a WARN record whose message names the path. */
async function miss(path) {
  const r = await fetch(`${server.url}/api/v1/${path}`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(r.status, 404);
}

const logs = (query) => server.api('GET', `/logs?${query}`, { token });
const adminPage = () => signedInPage(browser, server);

describe('log viewer', () => {
  const trace = randomUUID();

  before(async () => {
    for (let i = 0; i < 3; i++) await server.api('GET', '/projects', { token });
    await miss('nothing-here-e2e');
    await server.api('POST', '/logs/test', { token });
    await server.api('POST', '/events', {
      token,
      body: { topic: 'tracker/events/e2e/traced', kind: 'e2e.traced', trace_id: trace, payload: { from: 'logs e2e' } },
    });
    await waitFor(async () => (await logs(`trace_id=${trace}`)).total > 0 && (await logs('search=nothing-here-e2e')).total > 0, 'the records to be written');
  });

  test('lists real records with the error-rate chart, tails new ones, filters, opens a detail', async () => {
    const page = await adminPage();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Logs', exact: true }).click();
    await page.waitForURL(`${server.url}/logs`);
    await page.getByRole('heading', { name: 'Logs' }).waitFor();
    const table = page.getByRole('table', { name: 'Log records, newest first' });
    await table.getByRole('button', { name: 'GET /api/v1/nothing-here-e2e 404' }).waitFor();
    await table.getByRole('button', { name: 'GET /api/v1/projects 200' }).first().waitFor();
    await table.getByRole('button', { name: 'Test error log entry' }).waitFor();
    const { total } = await logs('');
    assert.ok(total >= 8, `expected several records, got ${total}`);
    await page.getByTestId('logs-status').getByText(new RegExp(`of ${total}|of ${total + 1}|of \\d+, newest first`)).waitFor();
    // The chart counts the test error among the hour's records.
    const summary = await page.getByTestId('error-summary').textContent();
    const m = summary.match(/(\d+) errors? in (\d+) records?/);
    assert.ok(m && Number(m[1]) >= 1 && Number(m[2]) >= Number(m[1]), `chart summary: ${summary}`);
    assert.ok((await page.locator('svg rect.lv-bar-err').count()) >= 1, 'an error bar is drawn');
    // The viewer's own polling is not logged at INFO: nothing tails itself.
    assert.equal((await logs('level=info&search=GET%20%2Fapi%2Fv1%2Flogs')).total, 0);
    await screenshot(page, 'logs');
    await assertAccessible(page, 'logs');

    // Live tail: a new record shows up without reload.
    await page.evaluate(() => {
      window.__notReloaded = true;
    });
    await miss('tail-check-e2e');
    await table.getByRole('button', { name: 'GET /api/v1/tail-check-e2e 404' }).waitFor({ timeout: 20_000 });
    assert.equal(await page.evaluate(() => window.__notReloaded), true);

    // Filter by level: only warnings remain, and the filter is in the URL.
    await page.getByLabel('Level').selectOption('WARN');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL(/level=WARN/);
    await waitFor(async () => {
      const levels = await table.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.level));
      return levels.length > 0 && levels.every((l) => l === 'WARN');
    }, 'only WARN rows');
    assert.equal(await table.getByRole('button', { name: 'Test error log entry' }).count(), 0);
    // Search narrows it to one record.
    await page.getByLabel('Search').fill('nothing-here-e2e');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL(/search=nothing-here-e2e/);
    await waitFor(async () => (await table.locator('tbody tr').count()) === 1, 'one matching row');
    await page.getByTestId('logs-status').getByText('1–1 of 1, newest first').waitFor();
    await screenshot(page, 'logs-filtered');

    // Detail drawer: every field and the context as formatted JSON.
    await table.getByRole('button', { name: 'GET /api/v1/nothing-here-e2e 404' }).click();
    const drawer = page.getByRole('dialog', { name: /Log record #\d+/ });
    await drawer.waitFor();
    await page.waitForURL(/log=\d+/);
    await drawer.getByText('404', { exact: true }).waitFor();
    const ctx = await drawer.getByTestId('log-context').textContent();
    assert.equal(typeof JSON.parse(ctx), 'object');
    assert.match(ctx, /\n {2}"/, 'context is indented JSON');
    await screenshot(page, 'logs-detail');
    await assertAccessible(page, 'logs detail');
    await page.keyboard.press('Escape');
    await drawer.waitFor({ state: 'detached' });
    assert.doesNotMatch(page.url(), /log=/);

    // A reloaded link keeps the filters.
    await page.reload();
    assert.equal(await page.getByLabel('Level').inputValue(), 'WARN');
    assert.equal(await page.getByLabel('Search').inputValue(), 'nothing-here-e2e');
    await page.getByRole('button', { name: 'Reset' }).click();
    await page.waitForURL(`${server.url}/logs`);
    await page.context().close();
  });

  test("warnings and errors in one click; the app's own files, health and polling are not INFO", async () => {
    // A user opens the dashboard (assets, favicon, stack health, charts, dead letters) and the
    // dead-letter tab, which polls: all of it routine.
    const page = await adminPage();
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    await page.getByTestId('chart-progress').waitFor();
    await page.goto(`${server.url}/events?tab=dlq`);
    await page.getByText(/dead letters? waiting for replay/).waitFor();
    await page.waitForTimeout(6000); // one more poll of the dead letters (every 5 s)
    await server.api('GET', '/projects', { token });
    await waitFor(async () => (await logs('level=INFO&search=GET%20%2Fapi%2Fv1%2Fprojects')).total > 0, 'a real read at INFO');
    for (const routine of ['GET /assets/', 'GET /favicon', 'GET / ', 'GET /api/v1/health/stack', 'GET /api/v1/metrics/', 'GET /api/v1/dlq 200']) {
      const found = await logs(`level=INFO&search=${encodeURIComponent(routine)}&limit=5`);
      assert.equal(found.total, 0, `"${routine}" is not an INFO record: ${JSON.stringify(found.logs.map((l) => l.message))}`);
    }

    await page.goto(`${server.url}/logs`);
    const table = page.getByRole('table', { name: 'Log records, newest first' });
    await table.getByRole('button', { name: 'GET /api/v1/projects 200' }).first().waitFor();
    const view = page.getByRole('button', { name: 'Warnings and errors' });
    assert.equal(await view.getAttribute('aria-pressed'), 'false');
    await view.click();
    await page.waitForURL((u) => u.searchParams.get('level') === 'ERROR,WARN');
    const levels = () => table.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.level));
    await waitFor(async () => {
      const l = await levels();
      return l.length > 0 && l.every((x) => x === 'ERROR' || x === 'WARN');
    }, 'only warnings and errors');
    await table.getByRole('button', { name: 'Test error log entry' }).waitFor();
    await table.getByRole('button', { name: 'GET /api/v1/nothing-here-e2e 404' }).waitFor();
    assert.equal(await view.getAttribute('aria-pressed'), 'true');
    assert.equal(await page.getByLabel('Level').inputValue(), 'ERROR,WARN');
    // It stays so while the tail polls.
    for (let i = 0; i < 8; i++) {
      const l = await levels();
      assert.ok(l.length > 0 && l.every((x) => x === 'ERROR' || x === 'WARN'), `levels: ${l}`);
      await page.waitForTimeout(500);
    }
    const { total } = await logs('level=ERROR,WARN');
    await page.getByTestId('logs-status').getByText(new RegExp(`of ${total}, newest first`)).waitFor();
    await screenshot(page, 'logs-warnings-and-errors');
    await assertAccessible(page, 'logs warnings and errors');
    // One more click shows everything again.
    await view.click();
    await page.waitForURL((u) => !u.searchParams.has('level'));
    await page.context().close();
  });

  test('a record with a trace id links to the events of that trace', async () => {
    const page = await adminPage();
    await page.goto(`${server.url}/logs?search=${encodeURIComponent('POST /api/v1/events')}`);
    await page.getByRole('button', { name: 'POST /api/v1/events 202' }).click();
    const drawer = page.getByRole('dialog', { name: /Log record #\d+/ });
    await drawer.getByText(trace).waitFor();
    await drawer.getByRole('link', { name: 'Events with this trace' }).click();
    await page.waitForURL((u) => u.pathname === '/events' && u.searchParams.get('tab') === 'history' && u.searchParams.get('trace_id') === trace);
    await page.getByText('tracker/events/e2e/traced').first().waitFor();
    await screenshot(page, 'logs-trace-events');
    await page.context().close();
  });

  test('only admins see the viewer', async () => {
    await server.api('POST', '/auth/users', { token, body: { ...VIEWER, role: 'viewer' } });
    const page = await signedInPage(browser, server, VIEWER, { viewport: { width: 1280, height: 860 } });
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    assert.equal(await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Logs', exact: true }).count(), 0);
    await page.goto(`${server.url}/logs`);
    await page.getByRole('heading', { name: 'For administrators only' }).waitFor();
    assert.equal(await page.getByRole('table').count(), 0);
    await page.context().close();
  });
});
