// End-to-end: what the dashboard tells a new user. Its live feed is the lab's events, never the
// audit trail's sign-ins (not even an admin's). Real binary, real Chromium; screenshots.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { screenshot, signedInPage, startApp, stopApp } from './harness.mjs';

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
    ({ server, token, browser } = await startApp());
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
});
