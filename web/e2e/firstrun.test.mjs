// End-to-end: what a new user meets first, and the small things that tripped one up. The setup
// page can show the password; an empty dashboard says what to do next (create a project, then add
// its components), each action one click away, and the dialogs submit with Enter; error boxes
// show the server's words; a viewer who opens an admin screen is told why and stays there; the
// "Default view" list names each view once; audit details are fields, not JSON; the kiosk fits a
// 1920×1080 and a 1280×800 screen without scrolling, with no tile text overflowing. Real binary,
// real Chromium; screenshots.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, screenshot, signIn, signedInPage, startApp, stopApp, waitFor } from './harness.mjs';

const VIEWER = { username: 'vera', password: 'viewer password 4 walls' };
const KIOSK = { username: 'wall', password: 'kiosk password on the wall' };

/** Runs `check` every 200 ms for `ms`: a state that must settle and then stay. */
async function stays(page, ms, check) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    await check();
    await page.waitForTimeout(200);
  }
  await check();
}

describe('first run', () => {
  let server;
  let browser;
  let token;
  let project;

  before(async () => {
    // No admin yet: the first test creates it through the setup page.
    ({ server, browser } = await startApp({ admin: false }));
  });

  after(() => stopApp({ server, browser }));

  // The admin's session: made by the setup test through the page, or here when that test failed
  // before creating the admin (so each test stands on its own).
  // The viewer is made with it.
  const api = async (method, path, body) => {
    if (!token) {
      token = await server.createAdmin().catch(() => server.login(ADMIN));
      await server.api('POST', '/auth/users', { token, body: { ...VIEWER, role: 'viewer' } });
    }
    return server.api(method, path, { token, body });
  };

  test('setup: the password can be shown before the administrator is created', async () => {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 860 } })).newPage();
    page.setDefaultTimeout(30_000);
    await page.goto(`${server.url}/setup?token=${server.setupToken}`);
    await page.getByLabel('Username').fill(ADMIN.username);
    await page.getByLabel('Password', { exact: true }).fill(ADMIN.password);
    await page.getByLabel('Confirm password').fill(ADMIN.password);
    const toggle = page.getByRole('button', { name: 'Show password' });
    await toggle.click();
    await page.getByRole('button', { name: 'Hide password' }).waitFor();
    assert.equal(await page.getByLabel('Password', { exact: true }).getAttribute('type'), 'text');
    assert.equal(await page.getByLabel('Confirm password').getAttribute('type'), 'text');
    assert.equal(await page.getByRole('button', { name: 'Hide password' }).getAttribute('aria-pressed'), 'true');
    assert.equal(await page.getByLabel('Password', { exact: true }).inputValue(), ADMIN.password);
    await screenshot(page, 'firstrun-setup-show-password');
    await page.getByRole('button', { name: 'Hide password' }).click();
    assert.equal(await page.getByLabel('Password', { exact: true }).getAttribute('type'), 'password');
    assert.equal(await page.getByLabel('Confirm password').getAttribute('type'), 'password');
    await page.getByRole('button', { name: 'Create administrator' }).click();
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    await page.context().close();
  });

  test('an empty dashboard says what to do next, one click away; Enter submits the dialogs', async () => {
    await api('GET', '/auth/me');
    // A viewer is told what will appear, without actions it could not take.
    const vp = await signedInPage(browser, server, VIEWER);
    const viewerHint = vp.getByTestId('get-started');
    await viewerHint.getByText('There are no projects yet.').waitFor();
    await viewerHint.getByText(/role is viewer/).waitFor();
    assert.equal(await viewerHint.getByRole('link').count(), 0);
    await vp.context().close();

    const page = await signedInPage(browser, server);
    const hint = page.getByTestId('get-started');
    await hint.getByRole('heading', { name: 'Welcome to TaylorDash' }).waitFor();
    await stays(page, 1000, async () => assert.equal(await hint.getByRole('link', { name: 'Create a project' }).count(), 1));
    await screenshot(page, 'firstrun-dashboard-empty');

    // One click: the "New project" form is open; Enter in its name field creates the project.
    await hint.getByRole('link', { name: 'Create a project' }).click();
    const newProject = page.getByRole('dialog', { name: 'New project' });
    await newProject.getByLabel('Name').fill('Garage workshop');
    await newProject.getByLabel('Name').press('Enter');
    await page.getByText('Created “Garage workshop”').waitFor();
    await newProject.waitFor({ state: 'hidden' });
    await page.getByRole('link', { name: 'Garage workshop', exact: true }).waitFor();
    assert.equal(new URL(page.url()).searchParams.get('new'), null, 'the address no longer asks for the form');
    project = (await api('GET', '/projects')).projects[0];

    // Back on the dashboard: next, add components, one click away.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Dashboard' }).click();
    await hint.getByRole('heading', { name: 'Next: add components' }).waitFor();
    const add = hint.getByRole('link', { name: 'Add components to “Garage workshop”' });
    await add.waitFor();
    await screenshot(page, 'firstrun-dashboard-add-components');
    await add.click();
    await page.waitForURL((u) => u.pathname === `/projects/${project.id}/canvas`);
    // The "Add component" form is open; Enter in the name field adds it.
    const dialog = page.getByRole('dialog', { name: 'Add component' });
    await dialog.getByLabel('Name').fill('Band saw');
    await dialog.getByLabel('Name').press('Enter');
    await page.locator('[data-testid="cv-node"]', { hasText: 'Band saw' }).waitFor();
    await dialog.waitFor({ state: 'hidden' });
    await page.getByRole('button', { name: 'Add component' }).click();
    await dialog.getByLabel('Name').fill('Dust extractor');
    await dialog.getByLabel('Type').fill('machine');
    await dialog.getByLabel('Type').press('Enter');
    await page.locator('[data-testid="cv-node"]', { hasText: 'Dust extractor' }).waitFor();
    const stored = (await api('GET', `/projects/${project.id}/components`)).components ?? [];
    assert.deepEqual(stored.map((c) => c.name).sort(), ['Band saw', 'Dust extractor']);

    // With components there is progress to show: the guidance is gone, and stays gone.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Dashboard' }).click();
    await page.getByTestId('overall-progress').getByText('0%').waitFor();
    await stays(page, 1000, async () => assert.equal(await hint.count(), 0));
    await page.context().close();
  });

  test("error boxes show the server's words, not only a code", async () => {
    await api('GET', '/auth/me');
    const page = await signedInPage(browser, server);
    await page.goto(`${server.url}/admin`);
    const form = page.getByRole('form', { name: 'Create a user' });
    await form.getByLabel('New user name').fill('weak');
    await form.getByLabel('Initial password').fill('short');
    await form.getByRole('button', { name: 'Create user' }).click();
    const refused = await api('POST', '/auth/users', { username: 'weak', password: 'short', role: 'viewer' }).catch((e) => e.json);
    assert.ok(refused?.detail && refused.code && refused.detail !== refused.code, JSON.stringify(refused));
    const alert = form.getByRole('alert');
    await alert.getByText(refused.detail, { exact: true }).waitFor();
    await screenshot(page, 'firstrun-error-detail');
    await page.context().close();

    // A failed sign-in says what failed in words.
    const out = await (await browser.newContext()).newPage();
    await out.goto(`${server.url}/login`);
    await out.getByLabel('Username').fill(ADMIN.username);
    await out.getByLabel('Password', { exact: true }).fill('not the password at all');
    await out.getByRole('button', { name: 'Sign in' }).click();
    const login = await server.api('POST', '/auth/login', { body: { username: 'admin', password: 'not the password at all' } }).catch((e) => e.json);
    await out.getByRole('alert').getByText(login.detail, { exact: true }).waitFor();
    await out.context().close();
  });

  test('a viewer who opens an admin screen is told why, and stays there', async () => {
    await api('GET', '/auth/me');
    const page = await signedInPage(browser, server, VIEWER);
    for (const [path, name] of [['/admin', 'Administration'], ['/logs', 'The log viewer']]) {
      await page.goto(`${server.url}${path}`);
      await page.getByRole('heading', { name: 'For administrators only' }).waitFor();
      await stays(page, 1500, async () => {
        assert.equal(new URL(page.url()).pathname, path, 'not sent elsewhere');
        const text = await page.locator('main').textContent();
        assert.match(text, new RegExp(`${name} is open to administrators only`), text);
        assert.match(text, /signed in as vera, whose role is viewer/, text);
      });
      if (path === '/admin') await screenshot(page, 'firstrun-admins-only');
    }
    await page.getByRole('link', { name: 'Back to the dashboard' }).click();
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    await page.context().close();
  });

  test('the "Default view" list names each view once', async () => {
    await api('GET', '/auth/me');
    const page = await signedInPage(browser, server);
    await page.goto(`${server.url}/admin`);
    const same = (label) => label.toLowerCase().replace(/\(default\)/, '').trim();
    const options = async (select) => {
      await select.locator('option').first().waitFor({ state: 'attached' });
      return select.locator('option').evaluateAll((os) => os.map((o) => ({ value: o.value, label: o.textContent })));
    };
    const create = await options(page.getByRole('form', { name: 'Create a user' }).getByLabel('Default view'));
    assert.deepEqual(create.map((o) => same(o.label)), ['dashboard', 'projects', 'events'], JSON.stringify(create));
    assert.equal(new Set(create.map((o) => o.value)).size, create.length);

    // A kiosk user whose default view is stored as "dashboard" shows that one choice selected.
    await api('POST', '/auth/users', { ...KIOSK, role: 'viewer', single_view_mode: true, default_view: 'dashboard' });
    await page.reload();
    await page.getByTestId('user-wall').getByRole('button', { name: 'Edit wall' }).click();
    const select = page.getByRole('dialog', { name: 'Edit wall' }).getByLabel('Default view');
    const edit = await options(select);
    assert.deepEqual(edit.map((o) => same(o.label)), ['dashboard', 'projects', 'events'], JSON.stringify(edit));
    assert.equal(await select.evaluate((s) => s.selectedOptions[0]?.textContent), 'Dashboard (default)');
    await page.getByRole('dialog', { name: 'Edit wall' }).getByRole('button', { name: 'Cancel' }).click();
    await page.context().close();
  });

  test('audit details are labelled fields, not raw JSON', async () => {
    const viewer = (await api('GET', '/auth/users')).find((u) => u.username === VIEWER.username);
    await api('PUT', `/auth/users/${viewer.id}`, { role: 'editor' });
    await api('PUT', `/auth/users/${viewer.id}`, { role: 'viewer' });
    const page = await signedInPage(browser, server);
    await page.goto(`${server.url}/admin?tab=audit&action=role_changed`);
    const table = page.getByRole('table', { name: 'Audit log' });
    const row = table.locator('tbody tr').first();
    await row.getByText('role_changed').waitFor();
    const details = row.locator('td').last();
    await details.locator('dl').waitFor();
    const terms = await details.locator('dt').allTextContents();
    const values = await details.locator('dd').allTextContents();
    // The newest entry: back from editor to viewer.
    assert.deepEqual(Object.fromEntries(terms.map((t, i) => [t, values[i]])), { 'Old role': 'editor', 'New role': 'viewer' });
    // No row shows JSON.
    await page.goto(`${server.url}/admin?tab=audit`);
    await table.locator('tbody tr').first().waitFor();
    const cells = await table.locator('tbody tr td:last-child').allTextContents();
    assert.ok(cells.length > 3, `${cells.length} audit rows`);
    for (const c of cells) assert.doesNotMatch(c, /[{}]|":/, `details shown as JSON: ${c}`);
    await screenshot(page, 'firstrun-audit-fields');
    await page.context().close();
  });

  test('the kiosk fits 1920×1080 and 1280×800 without scrolling, and no tile text overflows', async () => {
    // The kiosk user (made by the default-view test, unless that failed first).
    await api('POST', '/auth/users', { ...KIOSK, role: 'viewer', single_view_mode: true, default_view: 'dashboard' }).catch(() => {});
    // A lab with things in every panel, long names included.
    for (const [name, status] of [
      ['Greenhouse automation with a rather long project name', 'active'],
      ['Rack rebuild', 'planning'],
      ['NAS migration', 'on_hold'],
      ['Old router', 'completed'],
    ]) {
      await api('POST', '/projects', { name, status });
    }
    for (let i = 0; i < 20; i++) {
      await api('POST', '/events', { topic: `tracker/events/lab/sensor_${i}_${'greenhouse'.repeat(4)}`, kind: `lab.reading_number_${i}_of_a_long_kind`, payload: { i } });
    }
    const active = (await api('GET', '/projects?status=active&limit=1')).total;
    for (const viewport of [{ width: 1920, height: 1080 }, { width: 1280, height: 800 }]) {
      const context = await browser.newContext({ viewport, hasTouch: true });
      const page = await context.newPage();
      page.setDefaultTimeout(30_000);
      await signIn(page, server, KIOSK);
      await page.waitForURL(`${server.url}/kiosk`);
      await page.getByText('Live', { exact: true }).waitFor();
      await page.getByTestId('count-active').getByText(String(active), { exact: true }).waitFor();
      await page.getByTestId('event-feed').getByText('lab.reading_number_19_of_a_long_kind').waitFor();
      await page.waitForLoadState('networkidle');
      const size = `${viewport.width}×${viewport.height}`;
      await stays(page, 1500, async () => {
        const m = await page.evaluate(() => {
          const doc = document.scrollingElement;
          const over = [];
          const BOXES = '.tile, .count, .panel, .kiosk-header';
          const name = (el) => `${el.tagName.toLowerCase()}.${[...el.classList].join('.')} “${el.textContent.trim().slice(0, 30)}”`;
          // Every tile, count and panel lies whole inside its panel and the screen.
          for (const el of document.querySelectorAll(BOXES)) {
            const r = el.getBoundingClientRect();
            const outer = el.parentElement.closest(BOXES)?.getBoundingClientRect() ?? { left: 0, top: 0, right: innerWidth, bottom: innerHeight };
            if (r.left < outer.left - 1 || r.top < outer.top - 1 || r.right > outer.right + 1 || r.bottom > outer.bottom + 1) over.push(`${name(el)} not inside`);
          }
          // Text stays inside its box: it may be cut off only at the bottom of a list that shows
          // the rows that fit (hidden rows are skipped), never sideways.
          for (const el of document.querySelectorAll('.kiosk .panel *, .kiosk-header *')) {
            if (![...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim())) continue;
            const r = el.getBoundingClientRect();
            if (r.width === 0 || r.height === 0) continue;
            const boxEl = el.closest(BOXES);
            const box = boxEl.getBoundingClientRect();
            let bottom = r.bottom;
            let top = r.top;
            for (let a = el.parentElement; a && a !== boxEl; a = a.parentElement) {
              if (getComputedStyle(a).overflowY === 'visible') continue;
              const ar = a.getBoundingClientRect();
              bottom = Math.min(bottom, ar.bottom);
              top = Math.max(top, ar.top);
            }
            if (bottom <= top) continue;
            if (r.left < box.left - 1 || r.right > box.right + 1) over.push(`${name(el)} sticks out sideways`);
            else if (bottom > box.bottom + 1) over.push(`${name(el)} sticks out below`);
            else if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== 'visible') over.push(`${name(el)} cut off`);
          }
          return { scrollHeight: doc.scrollHeight, scrollWidth: doc.scrollWidth, innerHeight, innerWidth, over: over.slice(0, 8) };
        });
        assert.ok(m.scrollHeight <= m.innerHeight, `${size}: the kiosk scrolls: ${JSON.stringify(m)}`);
        assert.ok(m.scrollWidth <= m.innerWidth, `${size}: the kiosk scrolls sideways: ${JSON.stringify(m)}`);
        assert.deepEqual(m.over, [], `${size}: text overflows`);
      });
      await screenshot(page, `firstrun-kiosk-${viewport.width}x${viewport.height}`);
      await context.close();
    }
  });
});
