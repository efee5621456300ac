// End-to-end: the Events, Settings and Admin screens against the real binary, with a real
// Mosquitto broker (dead letters only come from messages the bus receives over MQTT; the HTTP
// publish refuses invalid events outright). Screenshots of every screen; axe on the main ones.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertAccessible, freePort, screenshot, signedInPage, startApp, stopApp, waitFor } from './harness.mjs';

const MOSQUITTO = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto'].find((p) => existsSync(p));
const REQUIRE_MOSQUITTO = process.env.TAYLORDASH_REQUIRE_MOSQUITTO === '1';
// Small enough that a test message is dead-lettered as oversized, large enough for the app's own
// events (audit entries go through the bus too), and below the 1 KiB a dead letter keeps of an
// oversized message (so it can be replayed once the limit is raised).
const SMALL_LIMIT = 900;

/** A throwaway anonymous Mosquitto on a free local port. */
class Broker {
  async start() {
    this.dir = mkdtempSync(join(tmpdir(), 'taylordash-e2e-mqtt-'));
    this.port = await freePort();
    const conf = join(this.dir, 'mosquitto.conf');
    writeFileSync(conf, `listener ${this.port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
    this.proc = spawn(MOSQUITTO, ['-c', conf], { stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const ok = await new Promise((resolve) => {
        const s = connect(this.port, '127.0.0.1', () => {
          s.end();
          resolve(true);
        });
        s.on('error', () => resolve(false));
      });
      if (ok) return this;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('mosquitto did not start');
  }

  publish(topic, message) {
    const r = spawnSync('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(this.port), '-q', '1', '-t', topic, '-m', message]);
    assert.equal(r.status, 0, `mosquitto_pub failed: ${r.stderr}`);
  }

  async stop() {
    if (this.proc && this.proc.exitCode === null) {
      const exited = new Promise((r) => this.proc.once('exit', r));
      this.proc.kill('SIGTERM');
      await exited;
    }
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}

let broker = null;
let server;
let browser;
let token;

before(async () => {
  if (MOSQUITTO) {
    broker = await new Broker().start();
  } else if (REQUIRE_MOSQUITTO) {
    throw new Error('TAYLORDASH_REQUIRE_MOSQUITTO=1 but mosquitto is not installed');
  } else {
    console.log('SKIPPED: dead-letter e2e test (install mosquitto to run it); the other tests use the in-process bus');
  }
  ({ server, token, browser } = await startApp({
    env: broker
      ? { MQTT_HOST: '127.0.0.1', MQTT_PORT: String(broker.port), TAYLORDASH_EVENT_MAX_BYTES: String(SMALL_LIMIT) }
      : {},
  }));
});

after(async () => {
  await stopApp({ server, browser });
  await broker?.stop();
});

/** A page signed in as `user` (admin by default), in its own browser context. */
const pageAs = (user) => signedInPage(browser, server, user);

const publish = (topic, kind, payload = {}) =>
  server.api('POST', '/events', { token, body: { topic, kind, payload } });

describe('events', () => {
  test('an event published over HTTP appears in the Live tab without reload; filter, pause and detail work', async () => {
    const page = await pageAs();
    await page.goto(`${server.url}/events`);
    await page.getByText('Stream: Connected').waitFor();
    await page.evaluate(() => {
      window.__notReloaded = true;
    });

    const first = await publish('tracker/events/e2e/ping', 'e2e.ping', { n: 1, note: 'hello from the e2e test' });
    const row = page.getByRole('button', { name: /tracker\/events\/e2e\/ping e2e\.ping/ });
    await row.first().waitFor();

    // An invalid MQTT filter is refused inline, the list keeps running.
    const filter = page.getByLabel('Topic filter');
    await filter.fill('tracker/#/e2e');
    await page.getByRole('button', { name: 'Apply filter' }).click();
    await page.getByText("'#' must be a whole level and the last one.").waitFor();
    assert.equal(await filter.getAttribute('aria-invalid'), 'true');

    // A valid one narrows the list and goes into the URL.
    await filter.fill('tracker/events/e2e/+');
    await page.getByRole('button', { name: 'Apply filter' }).click();
    await page.waitForURL((u) => u.searchParams.get('filter') === 'tracker/events/e2e/+');
    await publish('tracker/events/other/thing', 'e2e.other');
    await publish('tracker/events/e2e/ping', 'e2e.ping', { n: 2 });
    await waitFor(async () => (await row.count()) === 1, 'the second ping');
    assert.equal(await page.getByRole('button', { name: /e2e\.other/ }).count(), 0, 'filtered out');

    // Paused: new events are held and counted, the list does not move; resume shows them.
    await page.getByRole('button', { name: '⏸ Pause' }).click();
    await publish('tracker/events/e2e/ping', 'e2e.ping', { n: 3 });
    await page.getByRole('button', { name: '▶ Resume (1 new)' }).waitFor();
    await page.getByText('Paused: 1 new event waiting').waitFor();
    assert.equal(await row.count(), 1);
    await screenshot(page, 'events-live-paused');
    await page.getByRole('button', { name: /Resume/ }).click();
    await waitFor(async () => (await row.count()) === 2, 'the held event after resume');
    await screenshot(page, 'events-live');
    await assertAccessible(page, 'events live');

    // Detail: formatted payload, trace id, ids; linkable through ?event=.
    await page.goto(`${server.url}/events?tab=history&kind=e2e.ping`);
    await page.getByRole('button', { name: /e2e\.ping/ }).last().click();
    const drawer = page.getByRole('dialog');
    await drawer.getByText(first.trace_id).waitFor();
    await drawer.getByText('"note": "hello from the e2e test"').waitFor();
    assert.match(page.url(), /event=\d+/);
    await screenshot(page, 'events-detail');
    await assertAccessible(page, 'event detail');
    await page.keyboard.press('Escape');
    await waitFor(async () => !new URL(page.url()).searchParams.has('event'), 'the drawer to close');
    assert.equal(await page.evaluate(() => window.__notReloaded), undefined, 'navigated by URL, as expected');
    await page.context().close();
  });

  test('history filters by kind and topic, keeps them in the URL, pages, and refreshes live', async () => {
    for (let i = 0; i < 3; i++) await publish('tracker/events/e2e/history', 'e2e.history', { i });
    const page = await pageAs();
    // Tabs work from the keyboard (arrow keys) and put the tab in the URL.
    await page.goto(`${server.url}/events`);
    await page.getByRole('tab', { name: 'Live' }).focus();
    await page.keyboard.press('ArrowRight');
    await page.waitForURL((u) => u.searchParams.get('tab') === 'history');
    // The URL changes first; the tab re-renders right after, so wait for it instead of reading once.
    await page.getByRole('tab', { name: 'History', selected: true }).waitFor();
    await waitFor(
      async () => (await page.evaluate(() => document.activeElement?.textContent)) === 'History',
      'focus on the History tab',
    );
    await page.getByLabel('Kind').fill('e2e.history');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL((u) => u.searchParams.get('kind') === 'e2e.history');
    const rows = page.getByRole('button', { name: /^Event \d+: / });
    await waitFor(async () => (await rows.count()) === 3, 'three e2e.history events');
    const names = await rows.allTextContents();
    assert.ok(names.every((n) => n.includes('e2e.history')), names.join('\n'));

    // A new matching event refreshes the first page by itself.
    await publish('tracker/events/e2e/history', 'e2e.history', { i: 3 });
    await waitFor(async () => (await rows.count()) === 4, 'the live refresh of history');

    // A topic filter with a wildcard, from a link; an invalid trace id is refused inline.
    await page.goto(`${server.url}/events?tab=history&topic=${encodeURIComponent('tracker/events/+/history')}`);
    await waitFor(async () => (await rows.count()) === 4, 'the topic-filtered page');
    await page.getByLabel('Trace id').fill('not-a-uuid');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByText('A trace id is a UUID.').waitFor();
    await screenshot(page, 'events-history');
    await assertAccessible(page, 'events history');

    // Paging: 60 events, 50 a page.
    for (let i = 0; i < 60; i++) await publish('tracker/events/e2e/paging', 'e2e.paging', { i });
    await page.goto(`${server.url}/events?tab=history&kind=e2e.paging`);
    await waitFor(async () => (await rows.count()) === 50, 'a full first page');
    await page.getByRole('button', { name: 'Next ›' }).click();
    await waitFor(async () => (await rows.count()) === 10, 'the second page');
    assert.ok(new URL(page.url()).searchParams.has('cursor'));
    await page.getByRole('button', { name: '‹ Previous' }).click();
    await waitFor(async () => (await rows.count()) === 50, 'back to the first page');
    await page.context().close();
  });

  test('dead letters: shown with reason and detail, replay refused then accepted, delete with confirmation', { skip: !MOSQUITTO }, async () => {
    const baseline = (await server.api('GET', '/dlq', { token })).pending;
    // Not JSON at all: can never be replayed. Too big for the current limit: can be, once raised.
    broker.publish('tracker/events/e2e/broken', 'this is not json');
    const envelope = {
      trace_id: '0b6e4f4e-8f4a-4c39-9a53-2b0c51f8a0d1',
      ts: new Date().toISOString(),
      kind: 'e2e.big',
      idempotency_key: `e2e-big-${Date.now()}`,
      payload: { filler: 'x'.repeat(SMALL_LIMIT - 100) },
    };
    broker.publish('tracker/events/e2e/big', JSON.stringify(envelope));
    await waitFor(async () => (await server.api('GET', '/dlq', { token })).pending === baseline + 2, 'two dead letters');

    const page = await pageAs();
    await page.goto(`${server.url}/events?tab=dlq`);
    await page.getByRole('tab', { name: new RegExp(`Dead letters\\s*pending: ${baseline + 2}`) }).waitFor();
    const broken = page.locator('tr', { hasText: 'tracker/events/e2e/broken' });
    const big = page.locator('tr', { hasText: 'tracker/events/e2e/big' });
    await broken.getByText('invalid_json').waitFor();
    await big.getByText('oversized').waitFor();
    await big.getByText(`the limit is ${SMALL_LIMIT}`).waitFor();
    // The original message, as received.
    await big.getByRole('button', { name: 'Message' }).click();
    await page.getByLabel(/Message of dead letter/).getByText(/"kind": "e2e\.big"/).waitFor();
    await screenshot(page, 'events-dead-letter-message');
    await big.getByRole('button', { name: 'Hide message' }).click();
    await screenshot(page, 'events-dead-letters');
    await assertAccessible(page, 'dead letters');

    // Still invalid: the server's reason is shown on the row.
    await broken.getByRole('button', { name: /^Replay/ }).click();
    await broken.getByRole('alert').getByText(/not JSON/).waitFor();
    await screenshot(page, 'events-dead-letters-replay-refused');

    // Delete asks first; cancel keeps it, confirm removes it.
    await broken.getByRole('button', { name: /^Delete/ }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
    assert.equal(await broken.count(), 1);
    await broken.getByRole('button', { name: /^Delete/ }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
    await page.getByText(/Dead letter #\d+ deleted\./).waitFor();
    await waitFor(async () => (await broken.count()) === 0, 'the deleted row to go');

    // The limit is raised (server restart): the oversized message replays into a stored event.
    server.env.TAYLORDASH_EVENT_MAX_BYTES = '262144';
    await server.stop();
    await server.start();
    await page.reload();
    await big.getByRole('button', { name: /^Replay/ }).click();
    await page.getByText(/replayed: stored as event #\d+/).waitFor();
    await big.getByText('replayed').waitFor();
    await page.getByRole('tab', { name: new RegExp(`Dead letters\\s*pending: ${baseline}`) }).waitFor();
    await big.getByRole('button', { name: /event #\d+/ }).click();
    await page.getByRole('dialog').getByText('e2e.big').waitFor();
    const stored = await server.api('GET', '/events?kind=e2e.big', { token });
    assert.equal(stored.count, 1);
    await page.context().close();
  });
});

describe('dead letters, edited', () => {
  test('an admin edits a broken message and replays the copy; the original is kept and linked; errors show once; a long row fits', { skip: !MOSQUITTO }, async () => {
    // An unbroken 150-character topic level: the row must wrap it, not widen the table.
    const topic = `tracker/events/e2e/${'greenhouse'.repeat(15)}`;
    const broken = '{"kind": "lab.humidity" "payload": {"rh": 61}}';
    const before = (await server.api('GET', '/dlq', { token })).pending;
    broker.publish(topic, broken);
    await waitFor(async () => (await server.api('GET', '/dlq', { token })).pending === before + 1, 'the dead letter');
    const id = (await server.api('GET', '/dlq', { token })).dlq_events.find((d) => d.original_topic === topic).id;

    const page = await pageAs();
    await page.goto(`${server.url}/events?tab=dlq`);
    const row = page.getByTestId(`dlq-${id}`);
    await row.getByText('invalid_json').waitFor();
    const fits = () =>
      page.evaluate(() => {
        const wrap = document.querySelector('.table-wrap');
        const table = wrap.querySelector('table');
        return { table: table.scrollWidth, wrap: wrap.clientWidth, page: document.documentElement.scrollWidth, view: innerWidth };
      });
    const size = await fits();
    assert.ok(size.table <= size.wrap, `the table fits its box: ${JSON.stringify(size)}`);
    assert.ok(size.page <= size.view, `the page does not scroll sideways: ${JSON.stringify(size)}`);

    // Replayed as it is, it fails again: the reason is said once, on the row.
    await row.getByRole('button', { name: `Replay dead letter ${id}`, exact: true }).click();
    await row.getByRole('alert').getByText(/not JSON/).waitFor();
    for (let i = 0; i < 10; i++) {
      assert.equal(await page.getByText(/not JSON: expected/).count(), 1, 'the error is shown once');
      assert.equal(await page.locator('.toast-error').count(), 0, 'and not again in a toast');
      await page.waitForTimeout(200);
    }

    // Edit: the editor says what is wrong as the message is typed.
    await row.getByRole('button', { name: `Edit & replay dead letter ${id}` }).click();
    const dialog = page.getByRole('dialog', { name: `Edit and replay dead letter #${id}` });
    const editor = dialog.getByLabel('Message (JSON)');
    const feedback = dialog.getByTestId('dlq-feedback');
    const send = dialog.getByRole('button', { name: 'Replay edited copy' });
    assert.equal(await editor.inputValue(), broken, 'the message as received');
    await feedback.getByText(/^Not JSON: /).waitFor();
    assert.equal(await editor.getAttribute('aria-invalid'), 'true');
    assert.ok(await send.isDisabled(), 'nothing to send while it is not JSON');
    await editor.fill('{"kind": "lab.humidity", "payload": {"rh": 61}}');
    await feedback.getByText('Missing fields: trace_id, ts, idempotency_key.').waitFor();
    assert.ok(await send.isDisabled());
    await dialog.getByRole('button', { name: 'Fill in trace_id, ts, idempotency_key' }).click();
    await feedback.getByText('Valid event envelope: ready to replay.').waitFor();
    assert.equal(await editor.getAttribute('aria-invalid'), 'false');
    await screenshot(page, 'events-dead-letter-edit');
    await assertAccessible(page, 'dead letter editor');
    await send.click();
    await page.getByText(new RegExp(`Dead letter #${id} replayed as an edited copy: stored as event #\\d+\\.`)).waitFor();
    await dialog.waitFor({ state: 'detached' });

    // The row links the two: the original message stays, the copy and its event are named.
    await row.getByText('replayed edited copy').waitFor();
    await row.getByText('edited by admin').waitFor();
    await row.getByRole('button', { name: 'Message' }).click();
    await page.getByLabel(`Message of dead letter ${id}`).getByText(broken).waitFor();
    await page.getByLabel(`Edited copy of dead letter ${id}`).getByText('"kind": "lab.humidity"').waitFor();
    await screenshot(page, 'events-dead-letter-edited');
    const stored = await server.api('GET', `/dlq/${id}`, { token });
    assert.equal(stored.payload, broken, 'the original is kept');
    assert.equal(stored.edited_payload.kind, 'lab.humidity');
    assert.equal(stored.edited_by, 'admin');
    const event = await server.api('GET', `/events/${stored.replayed_event_id}`, { token });
    assert.equal(event.kind, 'lab.humidity');
    assert.equal(event.topic, topic);
    await row.getByRole('button', { name: `event #${stored.replayed_event_id}` }).click();
    await page.getByRole('dialog').getByText('lab.humidity').first().waitFor();
    await page.context().close();
  });
});

describe('settings', () => {
  test('an API key is created, shown once with a copy button, works, and is revoked', async () => {
    const page = await pageAs();
    await page.goto(`${server.url}/settings?tab=keys`);
    await page.getByText('No API keys yet.').waitFor();
    await page.getByLabel('Name').fill('e2e backup script');
    await page.getByLabel('Scope').selectOption('read');
    await page.getByLabel('Expires').selectOption('30');
    await page.getByRole('button', { name: 'Create key' }).click();
    const dialog = page.getByRole('dialog', { name: 'Your new API key' });
    const key = (await dialog.getByTestId('new-api-key').textContent()).trim();
    assert.match(key, /^tdk_/);
    await dialog.getByText('only this once').waitFor();
    await dialog.getByRole('button', { name: 'Copy key' }).waitFor();
    await screenshot(page, 'settings-api-key-created');
    await assertAccessible(page, 'new API key');

    // The key works, with its scope.
    const r = await fetch(`${server.url}/api/v1/events?limit=1`, { headers: { 'X-API-Key': key } });
    assert.equal(r.status, 200);

    await dialog.getByRole('button', { name: 'I have stored it' }).click();
    const row = page.locator('tr', { hasText: 'e2e backup script' });
    await row.waitFor();
    assert.equal(await page.getByText(key).count(), 0, 'the key is not shown again');
    assert.ok((await row.textContent()).includes(key.slice(0, 8)), 'its prefix is listed');
    await screenshot(page, 'settings-api-keys');
    await assertAccessible(page, 'API keys');

    // Admins can list everyone's keys, with their owner.
    await page.getByLabel("Show everyone's keys").check();
    await page.getByRole('heading', { name: 'All API keys' }).waitFor();
    await page.locator('tr', { hasText: 'e2e backup script' }).getByRole('cell', { name: 'admin', exact: true }).waitFor();
    await page.getByLabel("Show everyone's keys").uncheck();

    // Its use shows up as "last used".
    await page.reload();
    await row.getByText(/just now|s ago/).waitFor();

    await row.getByRole('button', { name: /Revoke/ }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke key' }).click();
    await page.getByText('API key "e2e backup script" revoked: it no longer works.').waitFor();
    await page.getByText('No API keys yet.').waitFor();
    const after = await fetch(`${server.url}/api/v1/events?limit=1`, { headers: { 'X-API-Key': key } });
    assert.equal(after.status, 401);
    await page.context().close();
  });

  test('password change needs the current password and shows the policy error', async () => {
    const pat = { username: 'pat', password: 'first password of pat' };
    await server.api('POST', '/auth/users', { token, body: { ...pat, role: 'editor' } });
    const page = await pageAs(pat);
    await page.goto(`${server.url}/settings`);
    await page.getByTestId('profile-username').getByText('pat').waitFor();
    await screenshot(page, 'settings-profile');
    await assertAccessible(page, 'settings profile');

    const fill = async (current, next) => {
      await page.getByLabel('Current password').fill(current);
      await page.getByLabel('New password', { exact: true }).fill(next);
      await page.getByLabel('New password again').fill(next);
      await page.getByRole('button', { name: 'Change password' }).click();
    };
    await fill('wrong password entirely', 'second password of pat');
    await page.getByRole('alert').getByText('the current password is wrong').waitFor();

    // Long enough for the form, refused by the server's policy: its words are shown.
    await fill(pat.password, 'manchesterunited');
    const policy = page.locator('.error-message');
    await policy.waitFor();
    const detail = await policy.textContent();
    assert.match(detail, /leaked in breaches/, detail);
    await screenshot(page, 'settings-password-policy-error');

    await fill(pat.password, 'second password of pat');
    await page.getByText('Password changed; your other sessions have ended.').waitFor();
    assert.equal(await page.getByLabel('Current password').inputValue(), '');
    await server.login({ username: 'pat', password: 'second password of pat' });
    await assert.rejects(server.login(pat));

    // Sessions: the current one is marked; the other one (the API sign-in above) is revoked.
    await page.goto(`${server.url}/settings?tab=sessions`);
    const sessions = page.getByRole('table', { name: 'Sessions' });
    await sessions.getByText('this session').waitFor();
    await waitFor(async () => (await sessions.locator('tbody tr').count()) === 2, 'two sessions');
    await screenshot(page, 'settings-sessions');
    await assertAccessible(page, 'settings sessions');
    await sessions.getByRole('button', { name: 'Revoke' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke' }).click();
    await page.getByText('Session revoked: that device is signed out.').waitFor();
    await waitFor(async () => (await sessions.locator('tbody tr').count()) === 1, 'one session left');
    await page.context().close();
  });
});

describe('admin', () => {
  test('an admin creates a viewer, sees the audit entry, and the last admin is protected', async () => {
    const page = await pageAs();
    await page.goto(`${server.url}/admin`);
    await page.getByRole('table', { name: 'Users' }).waitFor();
    await page.getByLabel('New user name').fill('vera');
    await page.getByLabel('Initial password').fill('vera has a long password');
    await page.getByLabel('Role').selectOption('viewer');
    await page.getByLabel(/Kiosk mode/).check();
    await page.getByLabel('Default view').selectOption('events');
    await page.getByRole('button', { name: 'Create user' }).click();
    await page.getByText('User vera created as viewer.').waitFor();
    const vera = page.getByTestId('user-vera');
    await vera.getByText('on: events').waitFor();
    await screenshot(page, 'admin-users');
    await assertAccessible(page, 'admin users');

    // Edit: make vera an editor without kiosk.
    await vera.getByRole('button', { name: 'Edit vera' }).click();
    const edit = page.getByRole('dialog', { name: 'Edit vera' });
    await edit.getByLabel('Role').selectOption('editor');
    await edit.getByLabel(/Kiosk mode/).uncheck();
    await screenshot(page, 'admin-edit-user');
    await edit.getByRole('button', { name: 'Save' }).click();
    await page.getByText('User vera saved.').waitFor();
    await vera.getByText('editor').waitFor();

    // The only admin cannot deactivate itself: the server's detail is shown.
    const admin = page.getByTestId('user-admin');
    await admin.getByRole('button', { name: 'Deactivate admin' }).click();
    await admin.getByRole('alert').waitFor();
    const lastAdmin = await admin.getByRole('alert').textContent();
    assert.match(lastAdmin, /LAST_ADMIN/, lastAdmin);
    await screenshot(page, 'admin-last-admin-refused');

    // Audit: the creation is there; filtering by action keeps it in the URL.
    await page.getByRole('tab', { name: 'Audit log' }).click();
    const audit = page.getByRole('table', { name: 'Audit log' });
    await audit.locator('tr', { hasText: 'user_created' }).filter({ hasText: 'vera' }).first().waitFor();
    await page.getByLabel('Action').selectOption('user_created');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL((u) => u.searchParams.get('action') === 'user_created');
    await waitFor(
      async () => (await audit.locator('tbody tr').allTextContents()).every((t) => t.includes('user_created')),
      'only user_created entries',
    );
    await screenshot(page, 'admin-audit');
    await assertAccessible(page, 'admin audit');

    // Delete vera, with confirmation.
    await page.goto(`${server.url}/admin`);
    await page.getByTestId('user-vera').getByRole('button', { name: 'Delete vera' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete user' }).click();
    await page.getByText('User vera deleted.').waitFor();
    await waitFor(async () => (await page.getByTestId('user-vera').count()) === 0, 'vera to go');
    await page.context().close();
  });

  test('a viewer has no Admin screen and no dead-letter actions', async () => {
    const viv = { username: 'viv', password: 'viv has a long password' };
    await server.api('POST', '/auth/users', { token, body: { ...viv, role: 'viewer' } });
    if (broker) {
      broker.publish('tracker/events/e2e/broken', '{"still": "not an envelope"}');
      await waitFor(async () => (await server.api('GET', '/dlq', { token })).pending > 0, 'a pending dead letter');
    }
    const page = await pageAs(viv);
    await page.goto(`${server.url}/admin`);
    await page.getByRole('heading', { name: 'For administrators only' }).waitFor();
    assert.equal(await page.getByRole('table', { name: 'Users' }).count(), 0);
    await page.goto(`${server.url}/events?tab=dlq`);
    await page.getByRole('tab', { name: /Dead letters/ }).waitFor();
    await page.getByText(/dead letters? waiting for replay/).waitFor();
    if (broker) await page.getByRole('button', { name: 'Message' }).first().waitFor();
    assert.equal(await page.getByRole('button', { name: /^Replay/ }).count(), 0);
    assert.equal(await page.getByRole('button', { name: /^Delete/ }).count(), 0);
    await page.goto(`${server.url}/settings?tab=keys`);
    await page.getByLabel('Scope').waitFor();
    assert.deepEqual(
      await page.getByLabel('Scope').locator('option').allTextContents(),
      ['read'],
      'a viewer can only make read keys',
    );
    await page.context().close();
  });
});
