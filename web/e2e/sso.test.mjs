// End-to-end: single sign-on with a real OpenID provider (the oidc-provider package, run from
// crates/testsupport/oidc-op on loopback) through Chromium: "Sign in with <provider>", the
// provider's form, back signed in with the role from the groups claim; sign-out at the provider;
// a tampered, expired or wrong-audience ID token and a replayed callback each end on a page that
// says why, with nothing created; password sign-in turned off leaves the break-glass form.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { ADMIN, Server, assertAccessible, freePort, launchBrowser, screenshot, signIn } from './harness.mjs';

const OP_DIR = new URL('../../crates/testsupport/oidc-op/', import.meta.url).pathname;

/** The provider: started with one client for `appUrl`; `command()` speaks its stdin protocol. */
async function startProvider(appUrl) {
  if (!existsSync(`${OP_DIR}node_modules/oidc-provider`)) {
    throw new Error(`the OpenID provider is not installed: run npm ci in ${OP_DIR}`);
  }
  const clients = [{
    client_id: 'taylordash',
    client_secret: 'e2e-client-secret-0123456789',
    redirect_uris: [`${appUrl}/api/v1/auth/oidc/callback`],
    post_logout_redirect_uris: [`${appUrl}/login`],
  }];
  const proc = spawn('node', ['op.mjs'], {
    cwd: OP_DIR,
    env: { ...process.env, OP_CLIENTS: JSON.stringify(clients) },
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  const lines = createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
  const first = (await lines.next()).value ?? '';
  const issuer = first.replace(/^listening /, '');
  assert.ok(issuer.startsWith('http://127.0.0.1:'), `the provider did not start: ${first}`);
  return {
    issuer,
    async command(line) {
      proc.stdin.write(`${line}\n`);
      assert.equal((await lines.next()).value, 'ok', line);
    },
    stop() {
      proc.kill();
    },
  };
}

describe('single sign-on (OpenID Connect)', () => {
  let server;
  let browser;
  let op;
  let token;

  before(async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    op = await startProvider(url);
    server = new Server({
      env: {
        TAYLORDASH_PUBLIC_URL: url,
        TAYLORDASH_OIDC_ISSUER: op.issuer,
        TAYLORDASH_OIDC_CLIENT_ID: 'taylordash',
        TAYLORDASH_OIDC_CLIENT_SECRET: 'e2e-client-secret-0123456789',
        TAYLORDASH_OIDC_NAME: 'Test IdP',
        TAYLORDASH_BREAK_GLASS_USERS: ADMIN.username,
      },
    });
    server.port = port;
    await server.start();
    token = await server.createAdmin();
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.dispose();
    op?.stop();
  });

  async function usernames() {
    const users = await server.api('GET', '/auth/users', { token });
    return users.map((u) => u.username).sort();
  }

  /** A fresh browser (no provider session) on the sign-in page, through the provider as `user`. */
  async function throughProvider(user, next = '/') {
    const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    let callback = null;
    page.on('request', (r) => {
      if (r.url().includes('/api/v1/auth/oidc/callback')) callback = r.url();
    });
    await page.goto(`${server.url}/login?next=${encodeURIComponent(next)}`);
    await page.getByRole('link', { name: 'Sign in with Test IdP' }).click();
    await page.waitForURL((u) => u.href.startsWith(op.issuer));
    await page.getByLabel('Username').fill(user);
    await page.getByRole('button', { name: 'Continue' }).click();
    // Back at TaylorDash: signed in on a page of the app, or on the refusal page.
    await page.waitForURL((u) => u.href.startsWith(server.url));
    return { page, context, callback: () => callback };
  }

  test('a user signs in with the provider, gets the role of their groups, and signs out there', async () => {
    await op.command('groups alice family,taylordash-admins');
    const { page, context } = await throughProvider('alice', '/projects');
    await page.waitForURL((u) => u.pathname === '/projects');
    await page.getByRole('button', { name: 'alice (admin)', exact: true }).waitFor();
    assert.ok(await page.getByRole('heading', { name: 'Projects', exact: true }).first().isVisible());
    await screenshot(page, 'sso-signed-in');
    assert.deepEqual(await usernames(), ['admin', 'alice']);

    // Sign out: the session ends here and at the provider, which sends the browser back.
    await page.getByRole('button', { name: 'alice (admin)', exact: true }).click();
    await page.getByRole('menuitem', { name: 'Sign out' }).click();
    await page.waitForURL((u) => u.href.startsWith(`${op.issuer}/session/end`));
    await page.getByRole('button', { name: 'Yes, sign me out' }).click();
    await page.waitForURL((u) => u.href.startsWith(`${server.url}/login`));
    await page.getByRole('link', { name: 'Sign in with Test IdP' }).waitFor();
    assert.equal(await page.evaluate(async () => (await fetch('/api/v1/auth/me')).status), 401);
    await context.close();

    // Out of the admin group at the provider: a viewer at the next sign-in, same account.
    await op.command('groups alice family');
    const again = await throughProvider('alice');
    await again.page.getByRole('button', { name: 'alice (viewer)', exact: true }).waitFor();
    assert.deepEqual(await usernames(), ['admin', 'alice']);
    await again.context.close();
  });

  for (const [mode, code, says] of [
    ['tamper', 'OIDC_TOKEN_INVALID', 'signature is wrong'],
    ['audience', 'OIDC_WRONG_AUDIENCE', 'meant for another client'],
    ['expired', 'OIDC_TOKEN_EXPIRED', 'has expired'],
  ]) {
    test(`an ID token refused (${mode}) ends on a page saying why, nothing created`, async () => {
      await op.command(`groups mallory-${mode} taylordash-admins`);
      await op.command(`mode ${mode}`);
      const { page, context } = await throughProvider(`mallory-${mode}`);
      await page.getByRole('heading', { name: 'Sign-in refused' }).waitFor();
      assert.equal((await page.locator('#code').textContent()).trim(), code);
      assert.ok((await page.locator('#detail').textContent()).includes(says), await page.locator('#detail').textContent());
      await screenshot(page, `sso-refused-${mode}`);
      assert.equal(await page.evaluate(async () => (await fetch('/api/v1/auth/me')).status), 401, 'no session');
      assert.deepEqual(await usernames(), ['admin', 'alice'], 'no account made');
      // The way back is offered.
      await page.getByRole('link', { name: 'Back to the sign-in page' }).click();
      await page.getByRole('link', { name: 'Sign in with Test IdP' }).waitFor();
      await context.close();
    });
  }

  test('a replayed callback is refused', async () => {
    const { page, context, callback } = await throughProvider('bob');
    await page.getByRole('button', { name: 'bob (viewer)', exact: true }).waitFor();
    const used = callback();
    assert.ok(used, 'the callback was seen');
    // The same callback again, in the same browser (its state cookie is spent) ...
    await page.goto(used);
    await page.getByRole('heading', { name: 'Sign-in refused' }).waitFor();
    assert.equal((await page.locator('#code').textContent()).trim(), 'OIDC_STATE_INVALID');
    await context.close();
    // ... and in another browser.
    const other = await browser.newContext();
    const page2 = await other.newPage();
    await page2.goto(used);
    await page2.getByRole('heading', { name: 'Sign-in refused' }).waitFor();
    assert.equal((await page2.locator('#code').textContent()).trim(), 'OIDC_STATE_INVALID');
    assert.deepEqual(await usernames(), ['admin', 'alice', 'bob']);
    await other.close();
  });

  test('password sign-in turned off leaves the provider and the break-glass form', async () => {
    const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    await signIn(page, server);
    await page.goto(`${server.url}/admin`);
    await page.getByRole('tab', { name: 'Sign-in' }).click();
    await page.getByText('Test IdP').first().waitFor();
    const box = page.getByRole('checkbox', { name: /Password sign-in/ });
    assert.ok(await box.isChecked());
    // A controlled box: it changes once the server has saved the setting.
    await box.click();
    await page.getByText('Sign-in settings saved.').waitFor();
    assert.equal(await box.isChecked(), false);
    await context.close();

    const fresh = await browser.newContext();
    const login = await fresh.newPage();
    await login.goto(`${server.url}/login`);
    await login.getByRole('link', { name: 'Sign in with Test IdP' }).waitFor();
    assert.equal(await login.getByRole('form', { name: 'Sign in' }).isVisible(), false, 'the password form is tucked away');
    await login.getByText('Break-glass sign-in (local account)').click();
    await login.getByLabel('Username').fill(ADMIN.username);
    await login.getByLabel('Password', { exact: true }).fill(ADMIN.password);
    await login.getByRole('button', { name: 'Sign in', exact: true }).click();
    await login.waitForURL((u) => !u.pathname.startsWith('/login'));
    await assertAccessible(login, 'signed in by break-glass');
    await fresh.close();
  });
});
