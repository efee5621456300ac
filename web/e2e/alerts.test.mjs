// End-to-end: alerting from the admin's and a viewer's side. The admin adds a generic webhook
// channel (the generated signing key shown once), sends a test to a real receiver on loopback
// that checks the HMAC signature, and adds a rule; Alertmanager posts a firing alert; the shell's
// badge and the Alerts page follow it live; the admin acknowledges and silences it (who and why
// shown) and sees the notification sent; a viewer sees the alert and the badge without the
// controls, and no Administration. Real binary, real Chromium; screenshots; axe.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import { assertAccessible, screenshot, signedInPage, startApp, stopApp, waitFor } from './harness.mjs';

const VIEWER = { username: 'vera', password: 'viewer password 1234' };

/**
 * A webhook receiver as docs/operations.md describes one: it accepts a POST only when
 * X-TaylorDash-Signature is sha256=HMAC-SHA256(key, "<timestamp>.<body>") and the timestamp is
 * within 5 minutes; it answers 401 otherwise. `key` is set once the UI has shown it.
 */
function receiver() {
  const r = { key: null, accepted: [], refused: 0 };
  r.server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const ts = String(req.headers['x-taylordash-timestamp'] ?? '');
      const sig = Buffer.from(String(req.headers['x-taylordash-signature'] ?? ''));
      const want = Buffer.from(`sha256=${createHmac('sha256', r.key ?? '').update(`${ts}.`).update(body).digest('hex')}`);
      const fresh = Math.abs(Date.now() / 1000 - Number(ts)) <= 300;
      if (r.key && fresh && sig.length === want.length && timingSafeEqual(sig, want)) {
        r.accepted.push({ key: req.headers['idempotency-key'], body: JSON.parse(body.toString()) });
        res.writeHead(204).end();
      } else {
        r.refused += 1;
        res.writeHead(401).end('bad signature');
      }
    });
  });
  return r;
}

describe('alerts', () => {
  let server;
  let browser;
  let token;
  const hook = receiver();

  before(async () => {
    ({ server, browser, token } = await startApp());
    await new Promise((ok) => hook.server.listen(0, '127.0.0.1', ok));
    await server.api('POST', '/auth/users', { token, body: { ...VIEWER, role: 'viewer' } });
  });

  after(async () => {
    hook.server.close();
    await stopApp({ server, browser });
  });

  test('an admin sets up a channel and a rule, and handles an alert that fires', async () => {
    const page = await signedInPage(browser, server);
    await page.goto(`${server.url}/admin?tab=alerting`);
    await page.getByText('No channels yet: add one below, then name it in a rule.').waitFor();

    // A generic webhook without a signing key: the server makes one and shows it this once.
    const form = page.getByRole('form', { name: 'New channel' });
    await form.getByLabel('Channel name').fill('Lab receiver');
    await form.getByLabel('Kind').selectOption('webhook');
    await form.getByLabel('URL', { exact: true }).fill(`http://127.0.0.1:${hook.server.address().port}/hook`);
    await form.getByRole('button', { name: 'Add channel' }).click();
    const once = page.getByTestId('signing-key');
    await once.getByText('Signing key of Lab receiver — shown this once').waitFor();
    hook.key = (await once.locator('.al-secret').textContent()).trim();
    assert.ok(hook.key.length >= 32, 'a generated key');
    const row = page.getByRole('listitem', { name: 'Channel Lab receiver' });
    await row.getByText('secrets set: signing_key').waitFor();
    await screenshot(page, 'alerts-channel-created');
    await once.getByRole('button', { name: 'Done' }).click();
    await once.waitFor({ state: 'detached' });
    assert.equal(await page.getByText(hook.key).count(), 0, 'the key is not shown again');

    await row.getByRole('button', { name: 'Send test' }).click();
    await row.getByText('Test message delivered.').waitFor();
    assert.equal(hook.accepted.length, 1, 'the receiver verified one signed test message');
    assert.equal(hook.accepted[0].body.reason, 'test');
    assert.equal(hook.refused, 0);

    // A rule that notifies the channel.
    const ruleForm = page.getByRole('form', { name: 'New rule' });
    await ruleForm.getByLabel('Rule name').fill('A check is down');
    await ruleForm.getByLabel('For minutes').fill('2');
    await ruleForm.getByLabel('Severity').selectOption('critical');
    await ruleForm.getByLabel('Lab receiver').check();
    await ruleForm.getByRole('button', { name: 'Add rule' }).click();
    const rule = page.getByRole('listitem', { name: 'Rule A check is down' });
    await rule.getByText('A check is down · for 2 min · critical').waitFor();
    await rule.getByText('Notifies: Lab receiver').waitFor();
    await screenshot(page, 'alerts-admin');
    await assertAccessible(page, 'alerting settings');

    // Nothing fires yet.
    await page.goto(`${server.url}/alerts`);
    await page.getByText('Nothing fires.', { exact: false }).waitFor();
    assert.equal(await page.getByTestId('alerts-badge').count(), 0);

    // Alertmanager reports a disk filling up: the page and the badge follow without a reload.
    const channels = await server.api('GET', '/alert-channels', { token });
    await server.api('POST', `/alerts/alertmanager?channels=${channels.channels[0].id}`, {
      token,
      body: {
        version: '4', groupKey: '{}:{alertname="DiskFilling"}', status: 'firing', receiver: 'taylordash',
        alerts: [{
          status: 'firing', fingerprint: 'disk-nas-1', startsAt: new Date().toISOString(), endsAt: '0001-01-01T00:00:00Z',
          labels: { alertname: 'DiskFilling', severity: 'critical', instance: 'nas' },
          annotations: { summary: 'The NAS disk is 95% full' },
        }],
      },
    });
    const card = page.getByRole('listitem', { name: 'DiskFilling: Firing' });
    await card.getByText('The NAS disk is 95% full').waitFor();
    await card.getByText('from Alertmanager').waitFor();
    const badge = page.getByTestId('alerts-badge');
    await badge.waitFor();
    assert.equal((await badge.innerText()).replace(/\s+/g, ' ').trim(), '1 firing');

    await card.getByRole('button', { name: 'Acknowledge' }).click();
    await page.getByRole('dialog', { name: 'Acknowledge DiskFilling' }).getByLabel('Note (optional)').fill('replacing the disk');
    await page.getByRole('dialog', { name: 'Acknowledge DiskFilling' }).getByRole('button', { name: 'Acknowledge' }).click();
    await card.getByTestId('alert-ack').getByText(/Acknowledged by admin .*: replacing the disk/).waitFor();
    assert.equal(await card.getByRole('button', { name: 'Acknowledge' }).count(), 0, 'acknowledged once');

    await card.getByRole('button', { name: 'Silence' }).click();
    const dialog = page.getByRole('dialog', { name: 'Silence DiskFilling' });
    await dialog.getByLabel('For how long').fill('soon');
    await dialog.getByRole('button', { name: 'Silence' }).click();
    await dialog.getByText('A length such as 30m, 2h or 1d (at most 90 days).').waitFor();
    await dialog.getByLabel('For how long').fill('2h');
    await dialog.getByLabel('Reason').fill('disk swap tonight');
    await dialog.getByRole('button', { name: 'Silence' }).click();
    await card.getByTestId('alert-silence').getByText(/Silenced by admin until .*: disk swap tonight/).waitFor();

    // The notification the post queued went to the receiver, signed.
    await waitFor(() => hook.accepted.length >= 2, 'the alert notification at the receiver');
    assert.equal(hook.accepted[1].body.reason, 'firing');
    await card.getByRole('button', { name: 'Notifications sent' }).click();
    const sent = card.getByTestId('alert-notifications');
    await sent.getByRole('cell', { name: 'webhook' }).waitFor();
    await sent.getByText('sent', { exact: true }).waitFor();
    await screenshot(page, 'alerts-page');
    await assertAccessible(page, 'alerts page');

    // Resolved: the alert moves to "Recently resolved" and the badge goes away.
    await server.api('POST', '/alerts/alertmanager', {
      token,
      body: {
        groupKey: '{}:{alertname="DiskFilling"}', receiver: 'taylordash',
        alerts: [{ status: 'resolved', fingerprint: 'disk-nas-1', labels: { alertname: 'DiskFilling', severity: 'critical' },
          annotations: { summary: 'The NAS disk is 95% full' }, endsAt: new Date().toISOString() }],
      },
    });
    await page.getByTestId('resolved-alerts').getByRole('listitem', { name: 'DiskFilling: Resolved' }).waitFor();
    await badge.waitFor({ state: 'detached' });
    await page.getByText('Nothing fires.', { exact: false }).waitFor();
    await page.context().close();
  });

  test('a viewer sees what fires, without the controls', async () => {
    await server.api('POST', '/alerts/alertmanager', {
      token,
      body: {
        groupKey: '{}:{alertname="UpsOnBattery"}', receiver: 'taylordash',
        alerts: [{ status: 'firing', fingerprint: 'ups-1', labels: { alertname: 'UpsOnBattery', severity: 'warning' },
          annotations: { summary: 'The UPS runs on battery' } }],
      },
    });
    const page = await signedInPage(browser, server, VIEWER);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: /Alerts/ }).click();
    const card = page.getByRole('listitem', { name: 'UpsOnBattery: Firing' });
    await card.getByText('The UPS runs on battery').waitFor();
    assert.equal((await page.getByTestId('alerts-badge').innerText()).replace(/\s+/g, ' ').trim(), '1 firing');
    await card.getByRole('button', { name: 'Notifications sent' }).waitFor();
    assert.equal(await card.getByRole('button', { name: 'Acknowledge' }).count(), 0, 'no acknowledge for a viewer');
    assert.equal(await card.getByRole('button', { name: 'Silence' }).count(), 0, 'no silence for a viewer');
    assert.equal(await page.getByRole('link', { name: 'Admin' }).count(), 0, 'no Administration for a viewer');
    await page.goto(`${server.url}/admin?tab=alerting`);
    await page.getByRole('heading', { name: 'For administrators only' }).waitFor();
    await screenshot(page, 'alerts-viewer');
    await page.context().close();
  });
});
