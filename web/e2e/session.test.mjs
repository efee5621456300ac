// End-to-end: signing out ends the session in the tab for good (from any screen, the login form
// is shown and stays; a reload keeps it), signing in survives reloads (and signing out then
// survives them too), and with the server down
// the dashboard stops claiming the stack is healthy (it says since when it knows nothing) and
// recovers by itself after a restart. Real binary, real Chromium; screenshots; axe.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, assertAccessible, screenshot, signedInPage, startApp, stopApp, waitFor } from './harness.mjs';

/** Checks `check` every 200 ms for `ms`: a state that must settle and then stay. */
async function stays(page, ms, check) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    await check();
    await page.waitForTimeout(200);
  }
  await check();
}

/** The login form is shown and nothing of the signed-in app is. */
async function onLoginPage(page, server, what) {
  const url = new URL(page.url());
  assert.equal(url.pathname, '/login', `${what}: address ${page.url()}`);
  assert.ok(await page.getByRole('form', { name: 'Sign in' }).isVisible(), `${what}: the sign-in form is shown`);
  assert.equal(await page.getByRole('navigation', { name: 'Main' }).count(), 0, `${what}: no navigation`);
  assert.equal(await page.getByRole('button', { name: 'admin (admin)', exact: true }).count(), 0, `${what}: no user menu`);
  assert.equal(await page.locator('.live-indicator').count(), 0, `${what}: no live indicator`);
  assert.equal(await page.getByText('NOT_AUTHENTICATED').count(), 0, `${what}: no failing widgets`);
}

/** The signed-in app is shown on `path` with `heading`, and no login form. */
async function signedInOn(page, path, heading, what) {
  const url = new URL(page.url());
  assert.equal(url.pathname, path, `${what}: address ${page.url()}`);
  assert.ok(await page.getByRole('heading', { name: heading, exact: true }).first().isVisible(), `${what}: "${heading}" is shown`);
  assert.ok(await page.getByRole('navigation', { name: 'Main' }).isVisible(), `${what}: the navigation is shown`);
  assert.ok(await page.getByRole('button', { name: 'admin (admin)', exact: true }).isVisible(), `${what}: the user menu is shown`);
  assert.equal(await page.getByRole('form', { name: 'Sign in' }).count(), 0, `${what}: no sign-in form`);
  assert.equal(await page.getByText('NOT_AUTHENTICATED').count(), 0, `${what}: no failing widgets`);
}

/** The status of `GET /api/v1/auth/me` from the page, with whatever credentials it holds. */
async function meStatus(page) {
  return page.evaluate(async () => (await fetch('/api/v1/auth/me')).status);
}

/** The stack-health badge's text ("healthy", "unknown", ...), or null while it has none. */
async function healthBadge(page) {
  const badge = page.locator('#hud-health .badge');
  return (await badge.count()) ? (await badge.first().textContent()).trim() : null;
}

describe('session and connection state', () => {
  let server;
  let browser;

  before(async () => {
    ({ server, browser } = await startApp());
  });

  after(() => stopApp({ server, browser }));

  for (const [start, heading] of [['/', 'Dashboard'], ['/admin', 'Administration'], ['/projects', 'Projects']]) {
    test(`sign out from ${start}: the login form is shown and stays, also after a reload`, async () => {
      const page = await signedInPage(browser, server);
      await page.goto(`${server.url}${start}`);
      await page.getByRole('heading', { name: heading, exact: true }).first().waitFor();
      await page.getByText('Live', { exact: true }).waitFor();

      await page.getByRole('button', { name: 'admin (admin)', exact: true }).click();
      await page.getByRole('menuitem', { name: 'Sign out' }).click();
      await page.getByRole('form', { name: 'Sign in' }).waitFor();
      // Settled, and it stays: nothing sends the browser back to the signed-in screens.
      await stays(page, 2500, () => onLoginPage(page, server, `after sign-out from ${start}`));
      const me = await page.evaluate(async () => (await fetch('/api/v1/auth/me')).status);
      assert.equal(me, 401, 'the session is gone for the server too');
      if (start === '/admin') {
        await screenshot(page, 'session-signed-out');
        await assertAccessible(page, 'signed out');
      }

      await page.reload();
      await page.getByRole('form', { name: 'Sign in' }).waitFor();
      await stays(page, 1000, () => onLoginPage(page, server, `reload after sign-out from ${start}`));
      // A signed-in address leads to the login page too (and back there after signing in).
      await page.goto(`${server.url}${start}`);
      await page.getByRole('form', { name: 'Sign in' }).waitFor();
      assert.equal(new URL(page.url()).pathname, '/login');
      await page.context().close();
    });
  }

  test('sign in, reload: still signed in; sign out, reload: still signed out', async () => {
    const page = await signedInPage(browser, server);
    for (const [path, heading] of [['/', 'Dashboard'], ['/projects', 'Projects']]) {
      await page.goto(`${server.url}${path}`);
      await page.getByRole('heading', { name: heading, exact: true }).first().waitFor();
      // Twice: the first reload must not spend the session either.
      for (const round of [1, 2]) {
        await page.reload();
        await page.getByRole('heading', { name: heading, exact: true }).first().waitFor();
        await page.getByText('Live', { exact: true }).waitFor();
        // Settled, and it stays: no late "who am I" answer sends the user to the login page.
        await stays(page, 2000, () => signedInOn(page, path, heading, `reload ${round} of ${path} while signed in`));
      }
    }
    assert.equal(await meStatus(page), 200, 'the server still knows the session');

    await page.getByRole('button', { name: 'admin (admin)', exact: true }).click();
    await page.getByRole('menuitem', { name: 'Sign out' }).click();
    await page.getByRole('form', { name: 'Sign in' }).waitFor();
    await stays(page, 1000, () => onLoginPage(page, server, 'after signing out'));
    for (const round of [1, 2]) {
      await page.reload();
      await page.getByRole('form', { name: 'Sign in' }).waitFor();
      await stays(page, 2000, () => onLoginPage(page, server, `reload ${round} after signing out`));
    }
    assert.equal(await meStatus(page), 401, 'the session is gone for the server too');

    // Signing in again from there works, and a reload keeps that session as well.
    await page.getByLabel('Username').fill(ADMIN.username);
    await page.getByLabel('Password', { exact: true }).fill(ADMIN.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Dashboard', exact: true }).first().waitFor();
    await page.reload();
    await page.getByRole('heading', { name: 'Dashboard', exact: true }).first().waitFor();
    await stays(page, 2000, () => signedInOn(page, '/', 'Dashboard', 'reload after signing in again'));
    await page.context().close();
  });

  test('with the server down the stack health is not "healthy" but stale, and it recovers', async () => {
    const page = await signedInPage(browser, server);
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    await waitFor(async () => (await healthBadge(page)) === 'healthy', 'the stack to be healthy');
    await page.getByText('Live', { exact: true }).waitFor();
    assert.equal(await page.getByTestId('stale-mark').count(), 0, 'nothing is stale while connected');

    await server.stop();
    const stoppedAt = Date.now();
    // Within a bounded time the badge stops claiming anything, and says since when.
    await waitFor(async () => (await healthBadge(page)) === 'unknown', 'the badge to say "unknown"', 10_000);
    const mark = page.locator('#hud-health').getByTestId('stale-mark');
    await mark.waitFor();
    assert.match(await mark.textContent(), /^stale since \d{1,2}:\d{2}:\d{2}/);
    // The other live panels say it too, and the header says the stream is offline.
    for (const panel of ['#hud-projects', '#hud-dlq', '#hud-feed']) {
      await page.locator(panel).getByTestId('stale-mark').waitFor();
    }
    await page.locator('.live-indicator[data-status="offline"], .live-indicator[data-status="connecting"]').waitFor();
    // And it stays so while the server is down (no refetch or retry brings "healthy" back).
    await stays(page, 3000, async () => {
      const b = await healthBadge(page);
      assert.notEqual(b, 'healthy', `badge says "${b}" ${Date.now() - stoppedAt} ms after the server stopped`);
    });
    await page.getByText('Connection to the server lost').waitFor();
    await screenshot(page, 'dashboard-offline-stale');

    await server.start();
    await waitFor(async () => (await healthBadge(page)) === 'healthy', 'the badge to recover after the restart', 45_000);
    await page.getByText('Live', { exact: true }).waitFor({ timeout: 10_000 });
    await waitFor(async () => (await page.getByTestId('stale-mark').count()) === 0, 'the stale marks to go', 10_000);
    await page.context().close();
  });
});
