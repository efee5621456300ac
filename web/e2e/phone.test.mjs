// End-to-end: TaylorDash on a phone. At 390×844 and at 360 px wide, no screen is wider than the
// viewport (every route, signed in and out, with data in it); the canvas on a touch screen has a
// readable zoom, no minimap, its side panel as a bottom sheet with a "connect" action instead of
// tiny handles; and the app installs to the home screen (a web app manifest with icons). Real
// binary, real Chromium with touch emulation; screenshots.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, screenshot, signIn, startApp, stopApp, waitFor } from './harness.mjs';

const PHONES = [
  { name: '390', viewport: { width: 390, height: 844 } },
  { name: '360', viewport: { width: 360, height: 780 } },
];

/** A touch-screen phone context (mobile viewport, touch events, a phone's pixel ratio). */
async function phone(browser, viewport) {
  const context = await browser.newContext({ viewport, hasTouch: true, isMobile: true, deviceScaleFactor: 2 });
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  return page;
}

/**
 * The page's width against the phone's, with the elements that stick out (for the message);
 * `null` when it fits. A mobile browser zooms a page that is too wide out until it fits, which
 * makes `innerWidth` grow with it: so the page must fit `innerWidth` and `innerWidth` must still
 * be the phone's width.
 */
async function overflow(page) {
  const width = page.viewportSize().width;
  return page.evaluate((width) => {
    const doc = document.documentElement;
    const view = window.innerWidth;
    if (view <= width && doc.scrollWidth <= view && document.body.scrollWidth <= view) return null;
    const culprits = [];
    for (const el of document.querySelectorAll('body *')) {
      const r = el.getBoundingClientRect();
      if (r.width > 0 && r.right > width + 1) {
        // Only the outermost element that sticks out, not each of its children.
        if (culprits.some((c) => c.el.contains(el))) continue;
        culprits.push({ el, what: `${el.tagName.toLowerCase()}.${[...el.classList].join('.')} right=${Math.round(r.right)}` });
      }
    }
    return { scrollWidth: doc.scrollWidth, innerWidth: view, phone: width, culprits: culprits.slice(0, 6).map((c) => c.what) };
  }, width);
}

describe('the phone', () => {
  let server;
  let browser;
  let token;
  let project;
  const c = {};

  before(async () => {
    ({ server, token, browser } = await startApp());
    const api = (m, p, body) => server.api(m, p, { token, body });
    project = await api('POST', '/projects', {
      name: 'Greenhouse automation with a rather long project name',
      description: 'Sensors, pumps and a dashboard on the wall of the greenhouse, with a long description too',
      status: 'active',
    });
    c.sensors = await api('POST', `/projects/${project.id}/components`, { name: 'Sensors', type: 'device', position: { x: 0, y: 0 } });
    c.pump = await api('POST', `/projects/${project.id}/components`, { name: 'Pump', type: 'device', position: { x: 320, y: 0 } });
    c.hub = await api('POST', `/projects/${project.id}/components`, { name: 'MQTT hub', type: 'service', position: { x: 160, y: 200 } });
    await api('POST', `/components/${c.pump.id}/dependencies`, { depends_on_id: c.hub.id });
    await api('POST', `/components/${c.sensors.id}/tasks`, { name: 'Calibrate the humidity probe' });
    await api('POST', '/events', { topic: `tracker/events/lab/${'greenhouse'.repeat(8)}`, kind: 'lab.a_rather_long_event_kind_name', payload: {} });
    await api('POST', '/auth/api-keys', { name: 'phone e2e key with a long name', scope: 'read' });
    await api('POST', '/logs/test');
  });

  after(() => stopApp({ server, browser }));

  for (const { name, viewport } of PHONES) {
    test(`no screen is wider than a ${name} px phone`, async () => {
      const page = await phone(browser, viewport);
      // Every screen is measured; the failures are reported together.
      const problems = [];
      const check = async (path) => {
        const o = await overflow(page);
        if (o) problems.push(`${path} at ${name} px: ${JSON.stringify(o)}`);
        return o === null;
      };
      // Signed out.
      for (const path of ['/login', `/setup?token=not-a-real-token`]) {
        await page.goto(`${server.url}${path}`);
        await page.getByRole('heading').first().waitFor();
        await check(path);
      }
      await signIn(page, server, ADMIN);
      const routes = [
        ['/', 'Dashboard'],
        ['/projects', 'Projects'],
        [`/projects/${project.id}`, project.name],
        [`/projects/${project.id}/canvas`, null],
        ['/canvas', null],
        ['/events', 'Events'],
        ['/events?tab=history', 'Events'],
        ['/events?tab=dlq', 'Events'],
        ['/settings', 'Settings'],
        ['/settings?tab=sessions', 'Settings'],
        ['/settings?tab=keys', 'Settings'],
        ['/admin', 'Administration'],
        ['/admin?tab=audit', 'Administration'],
        ['/logs', 'Logs'],
        ['/kiosk', null],
        ['/no-such-screen', 'Not found'],
      ];
      for (const [path, heading] of routes) {
        await page.goto(`${server.url}${path}`);
        if (heading) await page.getByRole('heading', { name: heading, exact: true }).first().waitFor();
        else await page.waitForLoadState('networkidle');
        // Let lists, charts and the canvas settle, then measure twice.
        await page.waitForTimeout(700);
        if (await check(path)) {
          await page.waitForTimeout(300);
          await check(path);
        }
        if (name === '390' && ['/', '/projects', '/events?tab=history'].includes(path)) {
          await screenshot(page, `phone${path === '/' ? '-dashboard' : path.replace(/[/?=]+/g, '-')}`);
        }
      }
      // The navigation opens from the menu button and fits too.
      await page.goto(`${server.url}/`);
      await page.getByRole('button', { name: 'Menu' }).click();
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Projects' }).waitFor();
      await check('/ with the menu open');
      assert.deepEqual(problems, [], `screens wider than the phone:\n${problems.join('\n')}`);
      await page.context().close();
    });
  }

  test('the canvas on a touch phone: readable, no minimap, a bottom sheet, connect without handles', async () => {
    const page = await phone(browser, { width: 390, height: 844 });
    await signIn(page, server, ADMIN);
    await page.goto(`${server.url}/projects/${project.id}/canvas`);
    const node = (id) => page.locator(`.react-flow__node[data-id="${id}"]`);
    await node(c.sensors.id).waitFor();
    await page.waitForFunction(() => document.documentElement.dataset.canvasReady === 'true');
    await page.waitForTimeout(500);
    assert.equal(await page.locator('.react-flow__minimap').count(), 0, 'no minimap on a phone');
    const box = await node(c.sensors.id).boundingBox();
    assert.ok(box.width >= 0.7 * 220 - 1, `a node is readable: ${box.width.toFixed(0)} px wide`);
    const flowBefore = await page.getByTestId('canvas').boundingBox();
    assert.ok(flowBefore.height >= 400, `the canvas has the screen: ${flowBefore.height} px tall`);
    // Handles are big enough for a finger.
    const handle = await node(c.sensors.id).locator('.react-flow__handle.source').boundingBox();
    assert.ok(handle.width >= 24 && handle.height >= 24, `handle ${handle.width}×${handle.height}`);

    // A tap opens the panel as a bottom sheet over the canvas, which keeps its size.
    await node(c.sensors.id).locator('.cv-node-type').tap();
    const panel = page.getByRole('complementary', { name: 'Component Sensors' });
    await panel.waitFor();
    await page.waitForTimeout(400);
    const sheet = await panel.boundingBox();
    assert.equal(await panel.evaluate((el) => getComputedStyle(el).position), 'fixed');
    assert.ok(Math.abs(sheet.y + sheet.height - 844) <= 1, `the sheet sits on the bottom edge: ${JSON.stringify(sheet)}`);
    assert.ok(sheet.width >= 388, `the sheet spans the screen: ${sheet.width}`);
    assert.ok(sheet.height <= 0.65 * 844, `and leaves the canvas in sight: ${sheet.height}`);
    assert.deepEqual(await page.getByTestId('canvas').boundingBox(), flowBefore, 'the canvas did not shrink');
    assert.equal(await overflow(page), null);
    await screenshot(page, 'phone-canvas-sheet');

    // "Sensors depends on MQTT hub", from the sheet: no handle to hit.
    await panel.getByLabel('Add a dependency of Sensors').selectOption({ label: 'MQTT hub' });
    const linked = page.waitForResponse((r) => r.url().endsWith(`/components/${c.sensors.id}/dependencies`));
    await panel.getByRole('button', { name: 'Connect' }).tap();
    assert.equal((await linked).status(), 201);
    await page.locator(`.react-flow__edge[data-id="${c.hub.id}->${c.sensors.id}"]`).waitFor({ state: 'attached' });
    await panel.getByRole('listitem').filter({ hasText: 'MQTT hub' }).waitFor();
    await page.getByRole('button', { name: 'Close panel' }).tap();
    await panel.waitFor({ state: 'detached' });
    await screenshot(page, 'phone-canvas');
    await page.context().close();
  });

  test('it installs to the home screen: a web app manifest with icons', async () => {
    const page = await phone(browser, { width: 390, height: 844 });
    await page.goto(`${server.url}/login`);
    const href = await page.locator('link[rel="manifest"]').getAttribute('href');
    assert.equal(href, '/manifest.webmanifest');
    assert.equal(await page.locator('meta[name="theme-color"]').getAttribute('content'), '#0b1220');
    // The browser itself reads it without complaint.
    const cdp = await page.context().newCDPSession(page);
    const { url, errors, data } = await cdp.send('Page.getAppManifest');
    assert.equal(url, `${server.url}/manifest.webmanifest`);
    assert.deepEqual(errors, [], 'the manifest parses cleanly');
    const manifest = JSON.parse(data);
    assert.equal(manifest.name, 'TaylorDash');
    assert.equal(manifest.display, 'standalone');
    assert.equal(manifest.start_url, '/');
    // Each PNG icon is served and is the size it says; there is a 192 and a 512 and a maskable one.
    const pngs = manifest.icons.filter((i) => i.type === 'image/png');
    for (const size of ['192x192', '512x512']) assert.ok(pngs.some((i) => i.sizes === size && i.purpose === 'any'), size);
    assert.ok(pngs.some((i) => i.purpose === 'maskable'));
    for (const icon of [...pngs, { src: '/icons/apple-touch-icon.png', sizes: '180x180' }]) {
      const got = await page.evaluate(async (src) => {
        const r = await fetch(src);
        const bitmap = await createImageBitmap(await r.blob());
        return { status: r.status, type: r.headers.get('content-type'), size: `${bitmap.width}x${bitmap.height}` };
      }, icon.src);
      assert.deepEqual(got, { status: 200, type: 'image/png', size: icon.sizes }, icon.src);
    }
    const ios = await page.locator('link[rel="apple-touch-icon"]').getAttribute('href');
    assert.equal(ios, '/icons/apple-touch-icon.png');
    await page.context().close();
  });
});
