// End-to-end: the project canvas against the real binary and the system Chromium.
// Drag then reload keeps the position; a cycle is refused with the server's message (an error
// floating over the canvas) and the edge rolled back; edges have arrowheads; a drag opens no
// panel, a click does; new components land next to the last one, in view; completing a task
// updates the node; another client's changes appear live; a viewer gets a read-only canvas
// without handles; screenshots and axe; and the 300-component budget (time from navigation to
// the canvas being interactive, against a 10-component baseline in the same run).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, assertAccessible, screenshot, signIn, startApp, stopApp, waitFor } from './harness.mjs';

const VIEWER = { username: 'viewer1', password: 'a viewer password that is long' };

/** Waits until the canvas says it is interactive and returns the time since navigation (ms). */
async function canvasReady(page, expectedNodes) {
  try {
    await page.waitForFunction(() => document.documentElement.dataset.canvasReady === 'true', null, { timeout: 30_000 });
  } catch (e) {
    const text = await page.evaluate(() => document.body.innerText.slice(0, 600)).catch(() => '?');
    throw new Error(`the canvas did not become ready; page says: ${text}`, { cause: e });
  }
  if (expectedNodes !== undefined) {
    await page.waitForFunction((n) => document.querySelectorAll('.react-flow__node').length === n, expectedNodes);
  }
  return page.evaluate(() => performance.getEntriesByName('canvas-interactive')[0]?.startTime ?? NaN);
}

const nodeSel = (id) => `.react-flow__node[data-id="${id}"]`;

/** The node's flow position from React Flow's transform. */
async function flowPosition(page, id) {
  const t = await page.locator(nodeSel(id)).evaluate((el) => el.style.transform);
  const m = t.match(/translate\(([-\d.]+)px,\s*([-\d.]+)px\)/);
  assert.ok(m, `transform of ${id}: ${t}`);
  return { x: Number(m[1]), y: Number(m[2]) };
}

async function dragBetween(page, from, to) {
  await page.mouse.move(from.x, from.y);
  await page.mouse.down();
  await page.mouse.move((from.x + to.x) / 2, (from.y + to.y) / 2, { steps: 5 });
  await page.mouse.move(to.x, to.y, { steps: 5 });
  await page.mouse.up();
}

async function centre(locator) {
  const b = await locator.boundingBox();
  assert.ok(b, 'element is visible');
  return { x: b.x + b.width / 2, y: b.y + b.height / 2 };
}

/** Waits until React Flow's viewport has not moved for 300 ms (an animated move has ended). */
async function viewSettled(page) {
  const transform = () => page.locator('.react-flow__viewport').evaluate((el) => el.style.transform);
  let last = await transform();
  let still = 0;
  await waitFor(async () => {
    await page.waitForTimeout(100);
    const now = await transform();
    still = now === last ? still + 1 : 0;
    last = now;
    return still >= 3;
  }, 'the canvas view to stand still', 10_000);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

describe('canvas', () => {
  let server;
  let browser;
  let token;
  let project;
  const c = {};
  const cspViolations = [];

  before(async () => {
    ({ server, token, browser } = await startApp());
    const api = (m, p, body) => server.api(m, p, { token, body });
    project = await api('POST', '/projects', { name: 'Home lab', description: 'Rack and services' });
    const add = async (key, body) => {
      c[key] = await api('POST', `/projects/${project.id}/components`, body);
    };
    await add('db', { name: 'Postgres', type: 'database', status: 'completed', progress: 100, position: { x: 0, y: 0 } });
    await add('api', { name: 'API', type: 'service', status: 'in_progress', progress: 60, position: { x: 320, y: 0 } });
    await add('ui', { name: 'Web UI', type: 'frontend', status: 'pending', progress: 10, position: { x: 640, y: 0 } });
    await add('mq', { name: 'Broker', type: 'service', status: 'blocked', progress: 30, position: { x: 0, y: 180 } });
    // "API depends on Postgres", "API depends on Broker".
    await api('POST', `/components/${c.api.id}/dependencies`, { depends_on_id: c.db.id });
    await api('POST', `/components/${c.api.id}/dependencies`, { depends_on_id: c.mq.id });
    await api('POST', `/components/${c.api.id}/tasks`, { name: 'Write migrations' });
    await api('POST', `/components/${c.api.id}/tasks`, { name: 'Add health check', status: 'done' });
    await api('POST', `/components/${c.api.id}/tasks`, { name: 'Rate limits' });
    await api('POST', '/auth/users', { ...VIEWER, role: 'viewer' });
  });

  after(async () => {
    await stopApp({ server, browser });
    assert.deepEqual(cspViolations, [], 'no CSP violation on the canvas');
  });

  /** A signed-in admin tab, under the real CSP (any violation fails the suite). */
  async function adminPage() {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });
    await signIn(page, server, ADMIN);
    return page;
  }

  test('shows components, dependencies and counts; screenshot and axe', async () => {
    const page = await adminPage();
    await page.goto(`${server.url}/projects/${project.id}/canvas`);
    await canvasReady(page, 4);
    assert.equal(await page.locator('.react-flow__edge').count(), 2);
    const apiNode = page.locator(nodeSel(c.api.id));
    await assert.doesNotReject(apiNode.getByText('API', { exact: true }).waitFor());
    assert.equal(await apiNode.getByTestId('cv-task-count').textContent(), '1/3 tasks done');
    // Its progress comes from its tasks (1 of 3 done), not from the 60 % once typed.
    assert.equal(await apiNode.getByRole('progressbar').getAttribute('aria-valuenow'), '33');
    assert.equal(await page.locator('.react-flow__minimap').count(), 1);
    assert.equal(await page.locator('.react-flow__controls').count(), 1);
    await screenshot(page, 'canvas');
    const found = await assertAccessible(page, 'canvas');
    for (const v of found) console.log(`axe (canvas, not critical): ${v.impact} ${v.id}: ${v.help} (${v.nodes})`);
    // The light theme too.
    await page.evaluate(() => localStorage.setItem('taylordash.theme', 'light'));
    await page.reload();
    await canvasReady(page, 4);
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'light');
    assert.equal(await page.locator('.react-flow.light').count(), 1);
    await screenshot(page, 'canvas-light');
    await assertAccessible(page, 'canvas (light)');
    await page.evaluate(() => localStorage.removeItem('taylordash.theme'));
    await page.context().close();
  });

  test('dragging a node saves its position: a reload keeps it', async () => {
    const page = await adminPage();
    await page.goto(`${server.url}/projects/${project.id}/canvas`);
    await canvasReady(page, 4);
    const before = await flowPosition(page, c.ui.id);
    const saved = page.waitForResponse((r) => r.url().endsWith(`/projects/${project.id}/layout`) && r.request().method() === 'PUT');
    const from = await centre(page.locator(nodeSel(c.ui.id)).locator('.cv-node-type'));
    await dragBetween(page, from, { x: from.x + 120, y: from.y + 160 });
    assert.equal((await saved).status(), 200);
    const moved = await flowPosition(page, c.ui.id);
    assert.ok(Math.abs(moved.y - before.y) > 50, `moved from ${JSON.stringify(before)} to ${JSON.stringify(moved)}`);
    const stored = await server.api('GET', `/components/${c.ui.id}`, { token });
    assert.deepEqual(stored.position, { x: Math.round(moved.x), y: Math.round(moved.y) });
    await page.reload();
    await canvasReady(page, 4);
    const reloaded = await flowPosition(page, c.ui.id);
    assert.deepEqual(reloaded, { x: Math.round(moved.x), y: Math.round(moved.y) });
    // Keyboard: focus the node, select it with Enter, move it with the arrow keys.
    const keyed = page.waitForResponse((r) => r.url().endsWith(`/projects/${project.id}/layout`) && r.request().method() === 'PUT');
    await page.locator(nodeSel(c.ui.id)).focus();
    await page.keyboard.press('Enter');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    assert.equal((await keyed).status(), 200);
    const after = await server.api('GET', `/components/${c.ui.id}`, { token });
    assert.equal(after.position.x, reloaded.x);
    assert.ok(after.position.y > reloaded.y, `arrow keys moved it down: ${JSON.stringify(after.position)}`);
    await page.context().close();
  });

  test('connecting adds a dependency; one that would close a cycle is refused with the message', async () => {
    const page = await adminPage();
    await page.goto(`${server.url}/projects/${project.id}/canvas`);
    await canvasReady(page, 4);
    const edges = page.locator('.react-flow__edge');
    assert.equal(await edges.count(), 2);
    // API → Web UI: "Web UI depends on API".
    const created = page.waitForResponse((r) => r.url().endsWith(`/components/${c.ui.id}/dependencies`));
    await dragBetween(
      page,
      await centre(page.locator(nodeSel(c.api.id)).locator('.react-flow__handle.source')),
      await centre(page.locator(nodeSel(c.ui.id)).locator('.react-flow__handle.target')),
    );
    assert.equal((await created).status(), 201);
    await page.waitForFunction(() => document.querySelectorAll('.react-flow__edge').length === 3);
    // Web UI → Postgres: "Postgres depends on Web UI" closes Postgres → API → Web UI → Postgres.
    const refused = page.waitForResponse((r) => r.url().endsWith(`/components/${c.db.id}/dependencies`));
    await dragBetween(
      page,
      await centre(page.locator(nodeSel(c.ui.id)).locator('.react-flow__handle.source')),
      await centre(page.locator(nodeSel(c.db.id)).locator('.react-flow__handle.target')),
    );
    const r = await refused;
    assert.equal(r.status(), 409);
    const body = await r.json();
    assert.equal(body.code, 'DEPENDENCY_CYCLE');
    const message = page.locator('.cv-message', { hasText: body.detail });
    await message.waitFor();
    await screenshot(page, 'canvas-cycle-refused');
    // The optimistic edge is gone again, and the server has only the three.
    await page.waitForFunction(() => document.querySelectorAll('.react-flow__edge').length === 3);
    const deps = await server.api('GET', `/projects/${project.id}/dependencies`, { token });
    assert.equal(deps.count, 3);
    await page.context().close();
  });

  test('completing a task in the side panel updates the node', async () => {
    const page = await adminPage();
    await page.goto(`${server.url}/projects/${project.id}/canvas`);
    await canvasReady(page, 4);
    const apiNode = page.locator(nodeSel(c.api.id));
    await apiNode.locator('.cv-node-type').click();
    const panel = page.getByRole('complementary', { name: 'Component API' });
    await panel.waitFor();
    // (A click, not check(): the list re-renders one tick after the click, which check() does not wait for.)
    await panel.getByRole('checkbox', { name: 'Complete Write migrations' }).click();
    await panel.getByRole('checkbox', { name: 'Reopen Write migrations', checked: true }).waitFor();
    await page.waitForFunction(
      (sel) => document.querySelector(sel)?.querySelector('[data-testid=cv-task-count]')?.textContent === '2/3 tasks done',
      nodeSel(c.api.id),
    );
    // Adding a task from the panel counts too.
    await panel.getByLabel('New task').fill('Document endpoints');
    await panel.getByRole('button', { name: 'Add task' }).click();
    await panel.getByText('Document endpoints').waitFor();
    await page.waitForFunction(
      (sel) => document.querySelector(sel)?.querySelector('[data-testid=cv-task-count]')?.textContent === '2/4 tasks done',
      nodeSel(c.api.id),
    );
    // Rename one, delete another (after confirming).
    await panel.getByRole('button', { name: 'Rename Rate limits' }).click();
    await panel.getByLabel('Task name').fill('Rate limiting');
    await panel.getByRole('button', { name: 'Save', exact: true }).last().click();
    await panel.getByText('Rate limiting').waitFor();
    await panel.getByRole('button', { name: 'Delete Document endpoints' }).click();
    await page.getByRole('dialog', { name: 'Delete task Document endpoints?' }).getByRole('button', { name: 'Delete task' }).click();
    await panel.getByText('Document endpoints').waitFor({ state: 'detached' });
    await page.waitForFunction(
      (sel) => document.querySelector(sel)?.querySelector('[data-testid=cv-task-count]')?.textContent === '2/3 tasks done',
      nodeSel(c.api.id),
    );
    await page.waitForFunction(async (id) => {
      const r = await fetch(`/api/v1/components/${id}/tasks`);
      const names = (await r.json()).tasks.map((t) => t.name).sort().join(',');
      return names === 'Add health check,Rate limiting,Write migrations';
    }, c.api.id);
    const tasks = await server.api('GET', `/components/${c.api.id}/tasks`, { token });
    assert.equal(tasks.tasks.find((t) => t.name === 'Write migrations').status, 'done');
    await screenshot(page, 'canvas-side-panel');
    await assertAccessible(page, 'canvas side panel');
    await page.context().close();
  });

  test('editing with a stale version offers reload or overwrite', async () => {
    const page = await adminPage();
    await page.goto(`${server.url}/projects/${project.id}/canvas`);
    await canvasReady(page, 4);
    await page.locator(nodeSel(c.mq.id)).locator('.cv-node-type').click();
    const panel = page.getByRole('complementary', { name: 'Component Broker' });
    await panel.getByLabel('Name').fill('Broker (edited here)');
    // Another client changes it meanwhile (the live event does not overwrite a dirty form).
    await server.api('PUT', `/components/${c.mq.id}`, { token, body: { progress: 45 } });
    await page.waitForFunction((sel) => document.querySelector(sel)?.textContent?.includes('45%'), nodeSel(c.mq.id));
    await panel.getByRole('button', { name: 'Save' }).click();
    await panel.getByText('changed elsewhere — reload or overwrite').waitFor();
    const overwritten = page.waitForResponse((r) => r.url().endsWith(`/components/${c.mq.id}`) && r.request().method() === 'PUT');
    await panel.getByRole('button', { name: 'Overwrite' }).click();
    assert.equal((await overwritten).status(), 200);
    await page.locator(nodeSel(c.mq.id)).getByText('Broker (edited here)').waitFor();
    const stored = await server.api('GET', `/components/${c.mq.id}`, { token });
    assert.equal(stored.name, 'Broker (edited here)');
    await page.context().close();
  });

  test("another client's changes appear without a reload", async () => {
    const page = await adminPage();
    await page.goto(`${server.url}/projects/${project.id}/canvas`);
    await canvasReady(page, 4);
    await page.evaluate(() => {
      window.__notReloaded = true;
    });
    await server.api('PUT', `/components/${c.ui.id}`, { token, body: { name: 'Dashboard UI', status: 'blocked' } });
    await page.locator(nodeSel(c.ui.id)).getByText('Dashboard UI').waitFor();
    assert.match(await page.locator(nodeSel(c.ui.id)).locator('.cv-node').getAttribute('class'), /cv-status-blocked/);
    const added = await server.api('POST', `/projects/${project.id}/components`, { token, body: { name: 'Grafana', type: 'service' } });
    await page.locator(nodeSel(added.id)).waitFor();
    await server.api('POST', `/components/${added.id}/dependencies`, { token, body: { depends_on_id: c.db.id } });
    await page.locator(`.react-flow__edge[data-id="${c.db.id}->${added.id}"]`).waitFor({ state: 'attached' });
    await server.api('POST', `/components/${c.db.id}/tasks`, { token, body: { name: 'Backups' } });
    await page.waitForFunction(
      (sel) => document.querySelector(sel)?.querySelector('[data-testid=cv-task-count]')?.textContent === '0/1 tasks done',
      nodeSel(c.db.id),
    );
    await server.api('DELETE', `/components/${added.id}`, { token });
    await page.locator(nodeSel(added.id)).waitFor({ state: 'detached' });
    assert.equal(await page.evaluate(() => window.__notReloaded), true);
    await page.context().close();
  });

  test('deleting a component asks first, then removes it', async () => {
    const page = await adminPage();
    const doomed = await server.api('POST', `/projects/${project.id}/components`, {
      token,
      body: { name: 'Old NAS', position: { x: 640, y: 180 } },
    });
    await page.goto(`${server.url}/projects/${project.id}/canvas`);
    await canvasReady(page, 5);
    await page.locator(nodeSel(doomed.id)).locator('.cv-node-type').click();
    await page.getByRole('button', { name: 'Delete component' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete Old NAS?' });
    const deleted = page.waitForResponse((r) => r.url().endsWith(`/components/${doomed.id}`) && r.request().method() === 'DELETE');
    await dialog.getByRole('button', { name: 'Delete component' }).click();
    await page.locator(nodeSel(doomed.id)).waitFor({ state: 'detached' });
    assert.equal((await deleted).status(), 204);
    await assert.rejects(server.api('GET', `/components/${doomed.id}`, { token }), /404/);
    await page.context().close();
  });

  test('adding a component and removing a dependency (with confirmation)', async () => {
    const page = await adminPage();
    await page.goto(`${server.url}/projects/${project.id}/canvas`);
    await canvasReady(page);
    const before = await page.locator('.react-flow__node').count();
    await page.getByRole('button', { name: 'Add component' }).click();
    const dialog = page.getByRole('dialog', { name: 'Add component' });
    await dialog.getByLabel('Name').fill('Home Assistant');
    await dialog.getByLabel('Type').fill('service');
    await dialog.getByRole('button', { name: 'Add', exact: true }).click();
    await page.locator('.react-flow__node', { hasText: 'Home Assistant' }).waitFor();
    assert.equal(await page.locator('.react-flow__node').count(), before + 1);
    const list = await server.api('GET', `/projects/${project.id}/components`, { token });
    const added = list.components.find((x) => x.name === 'Home Assistant');
    assert.ok(added?.position, 'a new component is placed (has a position)');

    // "API depends on Postgres": select the edge, remove it, confirm. The view first glides to
    // the new component (a short animation): click the edge where it is once the view stands still.
    await viewSettled(page);
    const edge = page.locator(`.react-flow__edge[data-id="${c.db.id}->${c.api.id}"]`);
    const at = await centre(edge);
    await page.mouse.click(at.x, at.y);
    await page.getByRole('button', { name: 'Remove dependency' }).click();
    const confirm = page.getByRole('dialog', { name: 'Remove dependency?' });
    await confirm.getByText('API will no longer depend on Postgres.').waitFor();
    const removed = page.waitForResponse((r) => r.url().endsWith(`/components/${c.api.id}/dependencies/${c.db.id}`));
    await confirm.getByRole('button', { name: 'Remove' }).click();
    assert.equal((await removed).status(), 204);
    await edge.waitFor({ state: 'detached' });
    const deps = await server.api('GET', `/components/${c.api.id}/dependencies`, { token });
    assert.ok(!deps.dependencies.some((d) => d.depends_on_id === c.db.id));
    await server.api('POST', `/components/${c.api.id}/dependencies`, { token, body: { depends_on_id: c.db.id } });
    await edge.waitFor({ state: 'attached' });
    await page.context().close();
  });

  test('after a server restart, a change made before the stream reconnected shows up (resync)', async () => {
    const page = await adminPage();
    await page.goto(`${server.url}/projects/${project.id}/canvas`);
    await canvasReady(page);
    await server.stop();
    await server.start();
    // Made before the page's stream is back (its backoff waits at least half a second): no live
    // event reaches the page, the refetch on reconnect has to bring it.
    await server.api('PUT', `/components/${c.db.id}`, { token, body: { name: 'PostgreSQL 17' } });
    await page.locator(nodeSel(c.db.id)).getByText('PostgreSQL 17').waitFor({ timeout: 20_000 });
    await page.context().close();
  });

  test('/canvas lists the projects to choose from', async () => {
    await server.api('POST', '/projects', { token, body: { name: 'Garage' } });
    const page = await adminPage();
    await page.goto(`${server.url}/canvas`);
    await page.getByRole('link', { name: 'Garage' }).waitFor();
    await page.getByRole('link', { name: 'Home lab' }).click();
    await page.waitForURL(`${server.url}/projects/${project.id}/canvas`);
    await canvasReady(page);
    await page.context().close();
  });

  test('a viewer gets a read-only canvas', async () => {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    await signIn(page, server, VIEWER);
    await page.goto(`${server.url}/projects/${project.id}/canvas`);
    const graph = await server.api('GET', `/projects/${project.id}/graph`, { token });
    await canvasReady(page, graph.components.length);
    await page.getByText('Read-only').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Add component' }).count(), 0);
    assert.equal(await page.locator('.react-flow__node.draggable').count(), 0);
    assert.equal(await page.locator('.react-flow__handle.connectable').count(), 0);
    // No handles to see either (edges still attach to them).
    const shown = await page.locator('.react-flow__handle').evaluateAll((hs) => hs.filter((h) => getComputedStyle(h).opacity !== '0').length);
    assert.equal(shown, 0, 'a viewer sees no connection handles');
    await page.locator(nodeSel(c.api.id)).locator('.cv-node-type').click();
    const panel = page.getByRole('complementary', { name: 'Component API' });
    await panel.getByText('Write migrations').waitFor();
    assert.equal(await panel.getByRole('textbox').count(), 0);
    assert.equal(await panel.getByRole('checkbox').count(), 0);
    assert.equal(await panel.getByRole('button', { name: /Delete|Save|Add task|Connect|Remove/ }).count(), 0);
    await panel.getByRole('heading', { name: 'Depends on' }).waitFor();
    await screenshot(page, 'canvas-viewer');
    await context.close();
  });

  test('edges have arrowheads; a drag does not open the panel, a click does; a refusal floats as an error', async () => {
    const page = await adminPage();
    await page.goto(`${server.url}/projects/${project.id}/canvas`);
    await canvasReady(page);
    // Every edge ends in an arrowhead (at the component that depends on the other), and says so.
    const ends = await page.locator('.react-flow__edge path.react-flow__edge-path').evaluateAll((ps) => ps.map((p) => p.getAttribute('marker-end')));
    const marker = /^url\(['"]?#(.+?)['"]?\)$/;
    assert.ok(ends.length >= 2 && ends.every((m) => marker.test(m ?? '')), `marker-end: ${ends}`);
    const markerId = ends[0].match(marker)[1];
    assert.equal(await page.locator(`marker[id="${markerId}"]`).count(), 1, 'the arrowhead is defined');
    const dbName = (await server.api('GET', `/components/${c.db.id}`, { token })).name;
    assert.equal(
      await page.locator(`.react-flow__edge[data-id="${c.db.id}->${c.api.id}"]`).getAttribute('aria-label'),
      `API depends on ${dbName}`,
    );

    // A drag moves the node and opens nothing.
    const panel = page.locator('.cv-panel');
    const from = await centre(page.locator(nodeSel(c.mq.id)).locator('.cv-node-type'));
    const saved = page.waitForResponse((r) => r.url().endsWith(`/projects/${project.id}/layout`) && r.request().method() === 'PUT');
    await dragBetween(page, from, { x: from.x + 40, y: from.y + 60 });
    await saved;
    for (let i = 0; i < 8; i++) {
      assert.equal(await panel.count(), 0, 'no side panel after a drag');
      await page.waitForTimeout(150);
    }
    // A click opens it.
    await page.locator(nodeSel(c.mq.id)).locator('.cv-node-type').click();
    await panel.waitFor();
    await page.getByRole('button', { name: 'Close panel' }).click();
    await panel.waitFor({ state: 'detached' });

    // A cycle, refused: an error over the canvas, which does not move down for it.
    const flowBox = await page.getByTestId('canvas').boundingBox();
    const refused = page.waitForResponse((r) => r.url().endsWith(`/components/${c.db.id}/dependencies`));
    await dragBetween(
      page,
      await centre(page.locator(nodeSel(c.api.id)).locator('.react-flow__handle.source')),
      await centre(page.locator(nodeSel(c.db.id)).locator('.react-flow__handle.target')),
    );
    const { detail } = await (await refused).json();
    const message = page.locator('.cv-message', { hasText: detail });
    await message.waitFor();
    assert.match(await message.getAttribute('class'), /cv-message-error/);
    assert.equal(await message.getAttribute('role'), 'alert');
    const colour = await message.evaluate((el) => getComputedStyle(el).borderLeftColor);
    const bad = await page.evaluate(() => {
      const probe = document.createElement('span');
      probe.style.color = 'var(--bad)';
      document.body.append(probe);
      const c = getComputedStyle(probe).color;
      probe.remove();
      return c;
    });
    assert.equal(colour, bad, 'the refusal is drawn in the error colour');
    const during = await page.getByTestId('canvas').boundingBox();
    assert.deepEqual(during, flowBox, 'the message floats: the canvas does not move');
    const messageBox = await message.boundingBox();
    assert.ok(messageBox.y >= flowBox.y && messageBox.y + messageBox.height <= flowBox.y + flowBox.height, 'over the canvas');
    await page.context().close();
  });

  test('new components go next to the last one, in view, at a readable zoom; Enter adds', async () => {
    const api = (m, p, body) => server.api(m, p, { token, body });
    const shop = await api('POST', '/projects', { name: 'Workshop' });
    // Spread out, so the view starts zoomed out.
    for (const [i, [x, y]] of [[0, 0], [1600, 0], [0, 1200], [1600, 1200]].entries()) {
      await api('POST', `/projects/${shop.id}/components`, { name: `Corner ${i + 1}`, position: { x, y } });
    }
    const page = await adminPage();
    await page.goto(`${server.url}/projects/${shop.id}/canvas`);
    await canvasReady(page, 4);
    const add = async (name) => {
      await page.getByRole('button', { name: 'Add component' }).click();
      const dialog = page.getByRole('dialog', { name: 'Add component' });
      await dialog.getByLabel('Name').fill(name);
      await dialog.getByLabel('Type').fill('tool');
      await dialog.getByLabel('Type').press('Enter');
      await dialog.waitFor({ state: 'detached' });
      const node = page.locator('.react-flow__node', { hasText: name });
      await node.waitFor();
      // The view moves to it (an animation): wait until it has stayed put for half a second.
      let last = null;
      let still = 0;
      await waitFor(async () => {
        await page.waitForTimeout(150);
        const b = await node.boundingBox();
        still = last && Math.abs(b.x - last.x) < 0.5 && Math.abs(b.y - last.y) < 0.5 ? still + 1 : 0;
        last = b;
        return still >= 3;
      }, `${name} to settle in view`);
      return node;
    };
    const flowBox = await page.getByTestId('canvas').boundingBox();
    const inView = (b) =>
      b.x >= flowBox.x && b.y >= flowBox.y && b.x + b.width <= flowBox.x + flowBox.width && b.y + b.height <= flowBox.y + flowBox.height;
    const alpha = await add('Drill press');
    let a = await alpha.boundingBox();
    assert.ok(inView(a), `the new component is in view: ${JSON.stringify(a)} in ${JSON.stringify(flowBox)}`);
    assert.ok(a.width >= 0.75 * 220, `at a readable zoom: ${a.width.toFixed(0)} px wide`);
    const beta = await add('Band saw');
    const b = await beta.boundingBox();
    assert.ok(inView(b), `the second is in view too: ${JSON.stringify(b)}`);
    a = await alpha.boundingBox();
    assert.ok(b.x >= a.x + a.width && Math.abs(b.y - a.y) < 5, `next to the first, on its right: ${JSON.stringify({ a, b })}`);
    const stored = (await api('GET', `/projects/${shop.id}/components`)).components;
    const pos = (n) => stored.find((x) => x.name === n).position;
    assert.ok(pos('Band saw').x > pos('Drill press').x && pos('Band saw').y === pos('Drill press').y, JSON.stringify(stored.map((x) => [x.name, x.position])));
    await screenshot(page, 'canvas-added-in-view');
    await page.context().close();
  });

  test('budget: 300 components interactive within 1.5 s of navigation', async () => {
    const api = (m, p, body) => server.api(m, p, { token, body });
    async function bigProject(name, n) {
      const p = await api('POST', '/projects', { name });
      const ids = [];
      for (let i = 0; i < n; i += 20) {
        const batch = await Promise.all(
          Array.from({ length: Math.min(20, n - i) }, (_, k) =>
            api('POST', `/projects/${p.id}/components`, {
              name: `Component ${i + k}`,
              type: ['service', 'database', 'host', 'frontend'][(i + k) % 4],
              status: ['pending', 'in_progress', 'blocked', 'completed'][(i + k) % 4],
              progress: ((i + k) * 7) % 101,
            }),
          ),
        );
        ids.push(...batch.map((x) => x.id));
      }
      // A tree: component i depends on component floor((i-1)/3).
      for (let i = 1; i < n; i += 20) {
        await Promise.all(
          Array.from({ length: Math.min(20, n - i) }, (_, k) =>
            api('POST', `/components/${ids[i + k]}/dependencies`, { depends_on_id: ids[Math.floor((i + k - 1) / 3)] }),
          ),
        );
      }
      return p;
    }
    const big = await bigProject('Budget 300', 300);
    const small = await bigProject('Baseline 10', 10);
    const page = await adminPage();
    // Warm the HTTP cache with the app and the canvas chunk once, as a returning user has them.
    await page.goto(`${server.url}/projects/${small.id}/canvas`);
    await canvasReady(page, 10);
    const measure = async (p, n) => {
      await page.goto(`${server.url}/projects/${p.id}/canvas`);
      const ms = await canvasReady(page, n);
      // Interactive means it answers: selecting a node opens its panel.
      await page.locator('.react-flow__node').first().click();
      await page.locator('.cv-panel').waitFor();
      return ms;
    };
    const runs = { big: [], small: [] };
    for (let i = 0; i < 3; i++) {
      runs.small.push(await measure(small, 10));
      runs.big.push(await measure(big, 300));
    }
    await screenshot(page, 'canvas-300');
    const b = median(runs.big);
    const s = median(runs.small);
    console.log(
      `CANVAS BUDGET: 300 components interactive ${b.toFixed(0)} ms after navigation (median of ${runs.big.join(', ').replace(/\.\d+/g, '')}); ` +
        `10-component baseline ${s.toFixed(0)} ms; ratio ${(b / s).toFixed(2)}; budget 1500 ms: ${b <= 1500 ? 'met' : 'NOT met'}`,
    );
    assert.ok(Number.isFinite(b) && b > 0, 'the canvas marked itself interactive');
    await page.context().close();
  });
});
