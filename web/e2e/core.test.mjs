// End-to-end: first-run setup through the page, sign-in/out, the dashboard's live feed, project
// CRUD with an edit conflict, a viewer's read-only screens (and the API refusing its writes), and
// a kiosk that survives a server restart. Real binary, real Chromium; screenshots; axe.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, assertAccessible, screenshot, signIn, startApp, stopApp } from './harness.mjs';

const VIEWER = { username: 'vera', password: 'viewer password 4 walls' };
const KIOSK = { username: 'wall', password: 'kiosk password on the wall' };

describe('core UI', () => {
  let server;
  let browser;
  let page;
  let adminToken;

  before(async () => {
    // No admin yet: the first test creates it through the setup page.
    ({ server, browser } = await startApp({ admin: false }));
    page = await (await browser.newContext({ viewport: { width: 1280, height: 860 } })).newPage();
  });

  after(() => stopApp({ server, browser }));

  test('first-run setup through the page signs the new admin in', async () => {
    assert.ok(server.setupToken, 'the server printed a setup URL');
    // Without an admin, the login page points to setup (and shows no credentials).
    await page.goto(`${server.url}/login`);
    await page.getByText('No administrator exists yet').waitFor();
    assert.equal(await page.getByText(/admin123|demo credentials/i).count(), 0);

    await page.goto(`${server.url}/setup?token=${server.setupToken}`);
    await page.getByLabel('Username').fill(ADMIN.username);
    await page.getByLabel('Password', { exact: true }).fill(ADMIN.password);
    await page.getByLabel('Confirm password').fill(ADMIN.password);
    await screenshot(page, 'core-setup');
    await assertAccessible(page, 'setup');
    await page.getByRole('button', { name: 'Create administrator' }).click();
    await page.waitForURL(`${server.url}/`);
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Admin' }).waitFor();

    // The token works once.
    const again = await fetch(`${server.url}/api/v1/auth/setup`);
    assert.equal((await again.json()).setup_required, false);
    adminToken = await server.login(ADMIN);
  });

  test('the dashboard shows an event posted to the API without a reload', async () => {
    await page.getByText('Live', { exact: true }).waitFor();
    await page.evaluate(() => {
      window.__noReload = true;
    });
    await server.api('POST', '/events', {
      token: adminToken,
      body: { topic: 'tracker/metrics/garage', kind: 'metrics.garage_temperature', payload: { celsius: 21.5 } },
    });
    await page.getByTestId('event-feed').getByText('metrics.garage_temperature').waitFor({ timeout: 10_000 });
    assert.equal(await page.evaluate(() => window.__noReload), true, 'the page was not reloaded');
  });

  test('projects: create, edit, conflict, delete; counts update live', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Projects' }).click();
    await page.getByRole('heading', { name: 'Projects' }).waitFor();
    await page.getByText('No projects yet').waitFor();

    await page.getByRole('button', { name: 'New project' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Name').fill('Garage solar');
    await dialog.getByLabel('Description').fill('Panels, inverter and a battery for the garage');
    await dialog.getByLabel('Status').selectOption('active');
    await screenshot(page, 'core-project-new');
    await dialog.getByRole('button', { name: 'Create' }).click();
    await page.getByRole('cell', { name: /^Garage solar/ }).waitFor();
    for (const name of ['Rack cabling', 'Backup NAS']) {
      await server.api('POST', '/projects', { token: adminToken, body: { name, status: 'planning' } });
    }
    await page.getByRole('cell', { name: /^Backup NAS/ }).waitFor();
    await screenshot(page, 'core-projects');
    await assertAccessible(page, 'projects');

    // Search and filter are in the URL.
    await page.getByLabel('Search').fill('rack');
    await page.waitForURL(/q=rack/);
    await page.getByRole('cell', { name: /^Rack cabling/ }).waitFor();
    await page.getByRole('cell', { name: /^Garage solar/ }).waitFor({ state: 'detached' });
    await page.getByLabel('Search').fill('');
    await page.getByLabel('Status').selectOption('active');
    await page.waitForURL(/status=active/);
    await page.getByRole('cell', { name: /^Garage solar/ }).waitFor();
    await page.getByRole('cell', { name: /^Backup NAS/ }).waitFor({ state: 'detached' });
    await page.getByLabel('Status').selectOption('');
    await page.getByRole('cell', { name: /^Backup NAS/ }).waitFor();

    // Edit while someone else saves: 409 → "changed elsewhere", then overwrite.
    await page.getByRole('button', { name: 'Edit Garage solar' }).click();
    const list = await server.api('GET', '/projects?search=Garage', { token: adminToken });
    const p = list.projects[0];
    await server.api('PUT', `/projects/${p.id}`, { token: adminToken, body: { status: 'on_hold', version: p.version } });
    await dialog.getByLabel('Name').fill('Garage solar array');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.getByText('Changed elsewhere').waitFor();
    await screenshot(page, 'core-project-conflict');
    await dialog.getByRole('button', { name: 'Overwrite with mine' }).click();
    await page.getByRole('cell', { name: /^Garage solar array/ }).waitFor();
    const saved = await server.api('GET', `/projects/${p.id}`, { token: adminToken });
    assert.equal(saved.name, 'Garage solar array');
    assert.equal(saved.status, 'active', 'mine overwrote theirs');

    // Delete with confirmation.
    await page.getByRole('button', { name: 'Delete Backup NAS' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete project' }).click();
    await page.getByText('Deleted “Backup NAS”').waitFor();
    await page.getByRole('cell', { name: /^Backup NAS/ }).waitFor({ state: 'detached' });

    // A link to each project's canvas.
    assert.equal(
      await page.getByRole('link', { name: 'Open canvas of Garage solar array' }).getAttribute('href'),
      `/projects/${p.id}/canvas`,
    );

    // The dashboard counts follow, live.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Dashboard' }).click();
    await page.getByTestId('count-active').getByText('1').waitFor();
    await server.api('POST', '/projects', { token: adminToken, body: { name: 'Greenhouse sensors', status: 'active' } });
    await page.getByTestId('count-active').getByText('2').waitFor({ timeout: 10_000 });
    await page.getByText('Project “Greenhouse sensors” created').waitFor({ timeout: 10_000 });
    await screenshot(page, 'core-dashboard');
    await assertAccessible(page, 'dashboard');
  });

  test('theme toggle is remembered; sign out and back in', async () => {
    await page.getByRole('button', { name: /admin/ }).click();
    await page.getByRole('menuitem', { name: 'Light theme' }).click();
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'light');
    await page.reload();
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'light');
    await screenshot(page, 'core-dashboard-light');
    await page.getByRole('button', { name: /admin/ }).click();
    await page.getByRole('menuitem', { name: 'Dark theme' }).click();
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
    // The menu stays open after a theme switch.
    await page.getByRole('menuitem', { name: 'Sign out' }).click();
    // The login form is shown and stays (it used to flash, then the dashboard came back).
    await page.getByRole('form', { name: 'Sign in' }).waitFor();
    await page.waitForTimeout(2000);
    assert.equal(new URL(page.url()).pathname, '/login');
    assert.ok(await page.getByRole('form', { name: 'Sign in' }).isVisible(), 'the login form stays');
    assert.equal(await page.getByRole('navigation', { name: 'Main' }).count(), 0, 'no signed-in chrome');
    // The old session is gone for the server too.
    const me = await page.evaluate(async () => (await fetch('/api/v1/auth/me')).status);
    assert.equal(me, 401);
    await page.goto(`${server.url}/projects`);
    await page.waitForURL(/\/login\?next=%2Fprojects/);
    await screenshot(page, 'core-login');
    await assertAccessible(page, 'login');
    await page.getByLabel('Username').fill(ADMIN.username);
    await page.getByLabel('Password', { exact: true }).fill('wrong password, clearly');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').getByText(/invalid username or password/i).waitFor();
    await page.getByLabel('Password', { exact: true }).fill(ADMIN.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${server.url}/projects`);
  });

  test('a viewer sees no edit controls and the API refuses its writes', async () => {
    await server.api('POST', '/auth/users', { token: adminToken, body: { ...VIEWER, role: 'viewer' } });
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const vp = await ctx.newPage();
    await signIn(vp, server, VIEWER);
    await vp.getByRole('heading', { name: 'Dashboard' }).waitFor();
    assert.equal(await vp.getByRole('link', { name: 'Admin' }).count(), 0);
    await vp.goto(`${server.url}/projects`);
    await vp.getByRole('cell', { name: /^Garage solar array/ }).waitFor();
    assert.equal(await vp.getByRole('button', { name: 'New project' }).count(), 0);
    assert.equal(await vp.getByRole('button', { name: /^Edit / }).count(), 0);
    assert.equal(await vp.getByRole('button', { name: /^Delete / }).count(), 0);
    await screenshot(vp, 'core-projects-viewer');

    // The same writes with the viewer's own session, from the page (cookie, same origin): 403.
    const statuses = await vp.evaluate(async () => {
      const json = { 'Content-Type': 'application/json' };
      const create = await fetch('/api/v1/projects', { method: 'POST', headers: json, body: JSON.stringify({ name: 'x' }) });
      const list = await (await fetch('/api/v1/projects')).json();
      const id = list.projects[0].id;
      const del = await fetch(`/api/v1/projects/${id}`, { method: 'DELETE' });
      const ev = await fetch('/api/v1/events', {
        method: 'POST', headers: json, body: JSON.stringify({ topic: 'tracker/metrics/x', kind: 'x' }),
      });
      return [create.status, del.status, ev.status, (await create.json()).code];
    });
    assert.deepEqual(statuses, [403, 403, 403, 'INSUFFICIENT_ROLE']);
    // An admin-only screen tells the viewer why it is not shown.
    await vp.goto(`${server.url}/admin`);
    await vp.getByRole('heading', { name: 'For administrators only' }).waitFor();
    assert.equal(await vp.getByRole('table', { name: 'Users' }).count(), 0);
    await ctx.close();
  });

  test('the API docs page lists the operations, under the strict script policy', async () => {
    const docs = await (await browser.newContext()).newPage();
    const violations = [];
    docs.on('console', (m) => {
      if (m.type() === 'error') violations.push(m.text());
    });
    await docs.goto(`${server.url}/docs`);
    assert.equal(new URL(docs.url()).pathname, '/docs/');
    await docs.getByRole('heading', { name: /TaylorDash/ }).first().waitFor();
    const list = docs.locator('.opblock-summary-path[data-path="/api/v1/projects"]').first();
    await list.waitFor();
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(await list.isVisible(), 'the projects operations stay listed');
    assert.deepEqual(violations, [], 'no script errors or policy violations');
    await screenshot(docs, 'core-api-docs');
    await docs.context().close();
  });

  test('kiosk: only the default view, and it recovers alone after a server restart', async () => {
    await server.api('POST', '/auth/users', {
      token: adminToken,
      body: { ...KIOSK, role: 'viewer', single_view_mode: true, default_view: 'dashboard' },
    });
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, hasTouch: true });
    const kp = await ctx.newPage();
    await signIn(kp, server, KIOSK);
    await kp.waitForURL(`${server.url}/kiosk`);
    await kp.getByText('Live', { exact: true }).waitFor();
    assert.equal(await kp.getByRole('navigation', { name: 'Main' }).count(), 0, 'no navigation');
    // Any other address leads back to the kiosk view.
    await kp.goto(`${server.url}/projects`);
    await kp.waitForURL(`${server.url}/kiosk`);
    await kp.getByRole('button', { name: 'Fullscreen' }).waitFor();
    const height = await kp.getByRole('button', { name: 'Fullscreen' }).evaluate((b) => b.getBoundingClientRect().height);
    assert.ok(height >= 48, `touch target ${height}px`);
    await kp.getByTestId('count-active').getByText('2').waitFor();
    await kp.evaluate(() => {
      window.__noReload = true;
    });
    await screenshot(kp, 'core-kiosk');
    await assertAccessible(kp, 'kiosk');

    await server.stop();
    await kp.getByText('Connection to the server lost').waitFor({ timeout: 20_000 });
    await screenshot(kp, 'core-kiosk-offline');
    await server.start();
    await kp.getByText('Live', { exact: true }).waitFor({ timeout: 40_000 });
    await kp.getByText('Connection to the server lost').waitFor({ state: 'detached', timeout: 10_000 });

    // Changes made after the restart still arrive live.
    const token = await server.login(ADMIN);
    await server.api('POST', '/projects', { token, body: { name: 'After restart', status: 'active' } });
    await kp.getByTestId('count-active').getByText('3').waitFor({ timeout: 10_000 });
    await server.api('POST', '/events', {
      token,
      body: { topic: 'tracker/metrics/after', kind: 'metrics.after_restart', payload: {} },
    });
    await kp.getByTestId('event-feed').getByText('metrics.after_restart').waitFor({ timeout: 10_000 });
    assert.equal(await kp.evaluate(() => window.__noReload), true, 'the kiosk was not reloaded');
    await ctx.close();
  });
});
