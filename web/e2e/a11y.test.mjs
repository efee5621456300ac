// End-to-end accessibility: axe-core (injected through the DevTools protocol, see the harness) on
// every route and its tabs, dialogs and drawers, signed out (the public status page too) and in, as admin, viewer and kiosk,
// in the dark and the light theme, with no serious or critical violation; the canvas basics from
// the keyboard only (Tab from node to node, Enter opens the panel, Enter again moves focus into
// it, Escape goes back to the node); and a visible focus ring on every stop while tabbing through each
// screen. Real binary, real Chromium; screenshots.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ADMIN, screenshot, signIn, startApp, stopApp, waitFor } from './harness.mjs';

const VIEWER = { username: 'vera', password: 'viewer password 4 walls' };
const KIOSK = { username: 'wall', password: 'kiosk password on the wall' };
const THEMES = ['dark', 'light'];

/** A page in its own context, in `theme`, signed in as `user` (or signed out when null). */
async function pageIn(browser, server, theme, user, viewport = { width: 1360, height: 900 }) {
  const context = await browser.newContext({ viewport });
  await context.addInitScript((t) => localStorage.setItem('taylordash.theme', t), theme);
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  if (user) await signIn(page, server, user);
  return page;
}

/** Waits until the screen has settled: `ready` (a locator or function) shows, then a moment more. */
async function settle(page, ready) {
  if (typeof ready === 'function') await ready();
  else if (ready) await ready.waitFor();
  else await page.waitForLoadState('networkidle');
  await page.waitForTimeout(600);
}

const AXE = readFileSync(new URL('../node_modules/axe-core/axe.min.js', import.meta.url), 'utf8');

/**
 * axe's serious and critical findings on the page, as lines naming the screen, the elements and
 * (for contrast) the colours found. axe goes in through the DevTools protocol, as in the harness:
 * the app's CSP rightly refuses an injected inline script.
 */
async function serious(page, label) {
  if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) await page.evaluate(AXE);
  const found = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => {
        const where = v.nodes.slice(0, 5).map((n) => {
          const d = n.any.find((c) => c.data?.contrastRatio)?.data;
          return `${n.target.join(' ')}${d ? ` [${d.fgColor} on ${d.bgColor} = ${d.contrastRatio}:1]` : ''}`;
        });
        return `${v.impact} ${v.id} (${v.nodes.length}): ${v.help} at ${where.join(', ')}`;
      });
  });
  return found.map((f) => `${label}: ${f}`);
}

/**
 * What the focused element shows, in the page: its outline, or for a React Flow edge (an SVG
 * group, which draws no outline) its path's stroke.
 */
function focusLook() {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const s = getComputedStyle(el);
  const path = el.querySelector?.('.react-flow__edge-path');
  const text = (el.getAttribute('aria-label') || el.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 40);
  return {
    what: `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}.${[...el.classList].join('.')} “${text}”`,
    focusVisible: el.matches(':focus-visible'),
    outline: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 1 ? `${s.outlineStyle} ${s.outlineWidth} ${s.outlineColor}` : null,
    stroke: path ? `${getComputedStyle(path).stroke} ${getComputedStyle(path).strokeWidth}` : null,
  };
}

describe('accessibility', () => {
  let server;
  let browser;
  let token;
  let project;
  let usedToken;
  let eventId;
  let statusPath;
  const c = {};

  before(async () => {
    ({ server, browser } = await startApp({ admin: false }));
    usedToken = server.setupToken;
  });

  after(() => stopApp({ server, browser }));

  const api = (method, path, body) => server.api(method, path, { token, body });

  // The lab the tests look at, made once by the first test that needs it (after the setup page
  // was checked without an admin).
  let labMade;
  const lab = () => (labMade ??= makeLab());
  async function makeLab() {
    token = await server.createAdmin();
    project = await api('POST', '/projects', { name: 'Workshop', description: 'Tools and dust', status: 'active' });
    await api('POST', '/projects', { name: 'Rack rebuild', status: 'planning' });
    c.saw = await api('POST', `/projects/${project.id}/components`, { name: 'Band saw', type: 'machine', position: { x: 0, y: 0 } });
    c.dust = await api('POST', `/projects/${project.id}/components`, { name: 'Dust extractor', type: 'machine', position: { x: 300, y: 0 } });
    c.power = await api('POST', `/projects/${project.id}/components`, { name: 'Power', type: 'service', position: { x: 150, y: 200 } });
    await api('POST', `/components/${c.dust.id}/dependencies`, { depends_on_id: c.saw.id });
    await api('POST', `/components/${c.saw.id}/dependencies`, { depends_on_id: c.power.id });
    await api('POST', `/components/${c.saw.id}/tasks`, { name: 'Change the blade' });
    await api('POST', '/events', { topic: 'tracker/events/lab/workshop', kind: 'lab.saw_started', payload: { rpm: 3000 } });
    eventId = await waitFor(async () => (await api('GET', '/events?topic=tracker/events/lab/workshop')).events[0]?.id, 'the event stored');
    await api('POST', '/auth/api-keys', { name: 'a11y key', scope: 'read' });
    await api('POST', '/logs/test');
    // A check (a push one: nothing to reach), so the lab section, the node and the component
    // page show a service state.
    await api('POST', `/components/${c.saw.id}/checks`, { name: 'saw controller heartbeat', kind: 'push', interval_secs: 3600 });
    statusPath = new URL((await api('POST', `/projects/${project.id}/status-page`)).page_path, server.url).pathname;
    await api('POST', '/auth/users', { ...VIEWER, role: 'viewer' });
    await api('POST', '/auth/users', { ...KIOSK, role: 'viewer', single_view_mode: true, default_view: 'dashboard' });
  }

  test('setup page (before the first admin) in both themes: no serious or critical violation', async () => {
    const problems = [];
    for (const theme of THEMES) {
      const page = await pageIn(browser, server, theme, null);
      await page.goto(`${server.url}/setup?token=${usedToken}`);
      await settle(page, page.getByRole('button', { name: 'Create administrator' }));
      problems.push(...(await serious(page, `setup (${theme})`)));
      await page.goto(`${server.url}/login`);
      await settle(page, page.getByText('No administrator exists yet'));
      problems.push(...(await serious(page, `login before setup (${theme})`)));
      await page.context().close();
    }
    assert.deepEqual(problems, [], problems.join('\n'));
  });

  for (const theme of THEMES) {
    test(`every route in the ${theme} theme: no serious or critical violation`, async () => {
      await lab();
      const problems = [];
      const check = async (page, label, ready) => {
        await settle(page, ready);
        problems.push(...(await serious(page, `${label} (${theme})`)));
      };
      const heading = (page, name) => page.getByRole('heading', { name, exact: true }).first();

      // Signed out.
      const out = await pageIn(browser, server, theme, null);
      await out.goto(`${server.url}/login`);
      await check(out, 'login', out.getByRole('button', { name: 'Sign in' }));
      await out.goto(`${server.url}/setup?token=${usedToken}`);
      await check(out, 'setup, done', out.getByText('This installation already has an administrator.'));
      // A project's public status page, and a link that no longer works.
      await out.goto(`${server.url}${statusPath}`);
      await check(out, 'status page', out.locator('main[data-state="ready"]'));
      await out.goto(`${server.url}/status/${'0'.repeat(64)}`);
      await check(out, 'status page not found', out.getByRole('heading', { name: 'Status page not found' }));
      await out.context().close();

      // The admin: every screen, its tabs, dialogs and drawers.
      const page = await pageIn(browser, server, theme, ADMIN);
      const routes = [
        ['/', 'dashboard', () => page.getByTestId('event-feed').waitFor()],
        ['/projects', 'projects', () => heading(page, 'Projects').waitFor()],
        ['/projects?new=1', 'new project dialog', () => page.getByRole('dialog', { name: 'New project' }).waitFor()],
        [`/projects/${project.id}`, 'project detail', () => heading(page, 'Workshop').waitFor()],
        [`/projects/${project.id}/canvas`, 'canvas', () => page.locator('.react-flow__node').nth(2).waitFor()],
        ['/canvas', 'canvas picker', () => heading(page, 'Canvas').waitFor()],
        [`/projects/${project.id}/components/${c.saw.id}`, 'component page', () => page.getByRole('heading', { name: 'Checks' }).waitFor()],
        ['/events', 'events live', () => heading(page, 'Events').waitFor()],
        ['/events?tab=history', 'events history', () => page.getByText('lab.saw_started').first().waitFor()],
        [`/events?tab=history&event=${eventId}`, 'event detail', () => page.getByRole('dialog').waitFor()],
        ['/events?tab=dlq', 'dead letters', () => page.getByText(/dead letters? waiting for replay/).waitFor()],
        ['/settings', 'settings profile', () => heading(page, 'Settings').waitFor()],
        ['/settings?tab=sessions', 'settings sessions', () => page.getByRole('tab', { name: 'Sessions', selected: true }).waitFor()],
        ['/settings?tab=keys', 'settings API keys', () => page.getByText('a11y key').first().waitFor()],
        ['/admin', 'admin users', () => page.getByRole('table', { name: 'Users' }).waitFor()],
        ['/admin?tab=audit', 'admin audit', () => page.getByRole('table', { name: 'Audit log' }).waitFor()],
        ['/logs', 'logs', () => heading(page, 'Logs').waitFor()],
        ['/no-such-screen', 'not found', () => heading(page, 'Not found').waitFor()],
      ];
      for (const [path, label, ready] of routes) {
        await page.goto(`${server.url}${path}`);
        await check(page, label, ready);
      }
      // The canvas with its side panel and the "Add component" dialog open.
      await page.goto(`${server.url}/projects/${project.id}/canvas`);
      await page.locator(`.react-flow__node[data-id="${c.saw.id}"]`).click();
      await check(page, 'canvas side panel', () => page.getByRole('complementary', { name: 'Component Band saw' }).waitFor());
      await page.goto(`${server.url}/projects/${project.id}/canvas?add=1`);
      await check(page, 'add component dialog', () => page.getByRole('dialog', { name: 'Add component' }).waitFor());
      // A log record's drawer.
      await page.goto(`${server.url}/logs`);
      await page.locator('.lv-open').first().click();
      await check(page, 'log detail', () => page.getByRole('dialog').waitFor());
      await page.context().close();

      // A viewer on an admin screen; the kiosk.
      const viewer = await pageIn(browser, server, theme, VIEWER);
      await viewer.goto(`${server.url}/admin`);
      await check(viewer, 'admins only (viewer)', () => heading(viewer, 'For administrators only').waitFor());
      await viewer.goto(`${server.url}/projects/${project.id}/canvas`);
      await check(viewer, 'canvas (viewer)', () => viewer.locator('.react-flow__node').nth(2).waitFor());
      await viewer.context().close();
      const kiosk = await pageIn(browser, server, theme, KIOSK, { width: 1280, height: 800 });
      await kiosk.waitForURL(`${server.url}/kiosk`);
      await check(kiosk, 'kiosk', () => kiosk.getByTestId('event-feed').waitFor());
      // On a 1280×800 wall with the lab section on top, the live feed still has room for a
      // whole row, and no panel runs into the charts below.
      const fit = await kiosk.evaluate(() => {
        const box = (el) => el.getBoundingClientRect();
        const row = document.querySelector('[data-testid="event-feed"] li');
        const charts = document.querySelector('.dashboard-kiosk > .ch-grid');
        const panels = [...document.querySelectorAll('.hud-grid > .panel')];
        return {
          rowShown: row ? Math.min(box(row).bottom, box(row.parentElement).bottom) - box(row).top >= box(row).height - 1 : false,
          overlapping: charts ? panels.filter((p) => box(p).bottom > box(charts).top + 1).map((p) => p.className) : [],
        };
      });
      assert.deepEqual(fit, { rowShown: true, overlapping: [] }, `kiosk layout (${theme})`);
      await kiosk.context().close();

      assert.deepEqual(problems, [], `serious or critical accessibility violations:\n${problems.join('\n')}`);
    });
  }

  test('the canvas from the keyboard: Tab walks the nodes, Enter opens the panel (twice: goes in), Escape returns', async () => {
    await lab();
    const page = await pageIn(browser, server, 'dark', ADMIN);
    await page.goto(`${server.url}/projects/${project.id}/canvas`);
    await page.locator('.react-flow__node').nth(2).waitFor();
    // From the "Add component" button, Tab reaches the first node, then the next.
    await page.getByRole('button', { name: 'Add component' }).focus();
    const focusedNode = () => page.evaluate(() => document.activeElement?.closest('.react-flow__node')?.getAttribute('data-id') ?? null);
    let first = null;
    for (let i = 0; i < 10 && !first; i++) {
      await page.keyboard.press('Tab');
      first = await focusedNode();
    }
    assert.ok(first, 'Tab reaches a node');
    const look = await page.evaluate(focusLook);
    assert.ok(look.focusVisible && look.outline, `the focused node shows it: ${JSON.stringify(look)}`);
    await page.keyboard.press('Tab');
    const second = await focusedNode();
    assert.ok(second && second !== first, `Tab moves to another node (${first} → ${second})`);
    await screenshot(page, 'a11y-canvas-node-focus');

    // Enter opens its panel, focus staying on the node (the arrow keys move it); Enter again
    // moves focus into the panel.
    const names = { [c.saw.id]: 'Band saw', [c.dust.id]: 'Dust extractor', [c.power.id]: 'Power' };
    await page.keyboard.press('Enter');
    const panel = page.getByRole('complementary', { name: `Component ${names[second]}` });
    await panel.waitFor();
    assert.equal(await focusedNode(), second, 'focus stays on the node');
    await page.keyboard.press('Enter');
    await waitFor(() => page.evaluate(() => !!document.activeElement?.closest('.cv-panel')), 'focus in the panel', 5000);
    await page.keyboard.press('Tab');
    assert.ok(await page.evaluate(() => !!document.activeElement?.closest('.cv-panel')), 'Tab stays in the panel');
    await screenshot(page, 'a11y-canvas-panel-keyboard');

    // Escape closes it and puts focus back on the node; Tab and Space open the next one.
    await page.keyboard.press('Escape');
    await panel.waitFor({ state: 'detached' });
    assert.equal(await focusedNode(), second, 'focus is back on the node');
    await page.keyboard.press('Shift+Tab');
    assert.equal(await focusedNode(), first, 'Shift+Tab goes back a node');
    await page.keyboard.press(' ');
    await page.getByRole('complementary', { name: `Component ${names[first]}` }).waitFor();
    await page.context().close();
  });

  test('focus is visible on every stop while tabbing through each screen', async () => {
    await lab();
    const problems = [];
    for (const theme of THEMES) {
      const page = await pageIn(browser, server, theme, ADMIN);
      const screens = [
        ['/', () => page.getByTestId('event-feed').waitFor()],
        ['/projects', () => page.getByRole('link', { name: 'Workshop', exact: true }).waitFor()],
        [`/projects/${project.id}`, null],
        [`/projects/${project.id}/canvas`, () => page.locator('.react-flow__node').nth(2).waitFor()],
        [`/projects/${project.id}/components/${c.saw.id}`, () => page.getByRole('heading', { name: 'Checks' }).waitFor()],
        ['/events?tab=history', () => page.getByText('lab.saw_started').first().waitFor()],
        ['/events?tab=dlq', null],
        ['/settings', null],
        ['/settings?tab=keys', () => page.getByText('a11y key').first().waitFor()],
        ['/admin', () => page.getByRole('table', { name: 'Users' }).waitFor()],
        ['/admin?tab=audit', () => page.getByRole('table', { name: 'Audit log' }).waitFor()],
        ['/logs', () => page.locator('.lv-open').first().waitFor()],
      ];
      for (const [path, ready] of screens) {
        await page.goto(`${server.url}${path}`);
        await settle(page, ready);
        const seen = new Set();
        for (let i = 0; i < 60; i++) {
          await page.keyboard.press('Tab');
          const look = await page.evaluate(focusLook);
          if (!look) continue;
          if (seen.has(look.what) && i > 5) break;
          seen.add(look.what);
          const edge = look.stroke !== null;
          const visible = look.focusVisible && (look.outline !== null || (edge && /3(px)?$/.test(look.stroke)));
          if (!visible) problems.push(`${path} (${theme}): ${look.what}: ${JSON.stringify(look)}`);
        }
        assert.ok(seen.size > 3, `${path}: Tab went through ${seen.size} elements`);
      }
      await page.context().close();
    }
    assert.deepEqual(problems, [], `focus not visible:\n${problems.join('\n')}`);
  });
});
