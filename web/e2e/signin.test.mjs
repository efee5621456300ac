// End-to-end: two-factor sign-in set up from Settings (QR code, secret, first code, recovery
// codes shown once), then the two-step login with an app code and with a recovery code, a wrong
// code refused with the server's words; an admin's sign-in settings; and forward-auth: a
// browser whose requests carry a trusted proxy's identity headers is signed in without the
// login page. Real binary, real Chromium; screenshots; axe.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { ADMIN, assertAccessible, launchBrowser, screenshot, signedInPage, Server, startApp, stopApp } from './harness.mjs';

/** RFC 4648 base32 (spaces ignored) to bytes. */
function base32(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out = [];
  for (const c of text.replace(/\s+/g, '').toUpperCase()) {
    value = (value << 5) | alphabet.indexOf(c);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >>> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

/** The TOTP code (RFC 6238, SHA-1, 6 digits, 30 s) of `secret`, `steps` steps from now. */
function totp(secret, steps = 0) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30_000) + steps));
  const mac = createHmac('sha1', base32(secret)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const n = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(n).padStart(6, '0');
}

async function passwordStep(page, server) {
  await page.goto(`${server.url}/login`);
  await page.getByLabel('Username').fill(ADMIN.username);
  await page.getByLabel('Password', { exact: true }).fill(ADMIN.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('form', { name: 'Two-factor sign-in' }).waitFor();
}

async function signOut(page) {
  await page.getByRole('button', { name: 'admin (admin)', exact: true }).click();
  await page.getByRole('menuitem', { name: 'Sign out' }).click();
  await page.getByRole('form', { name: 'Sign in' }).waitFor();
}

describe('two-factor sign-in', () => {
  let server;
  let browser;
  /** A recovery code the first test leaves unused. */
  let spare;

  before(async () => {
    ({ server, browser } = await startApp());
  });

  after(() => stopApp({ server, browser }));

  test('set up from Settings, then sign in with a code and with a recovery code', async () => {
    const page = await signedInPage(browser, server);
    await page.goto(`${server.url}/settings`);
    await page.getByRole('heading', { name: 'Two-factor sign-in' }).waitFor();
    await page.getByText('Your password alone signs you in.').waitFor();
    await page.getByRole('button', { name: 'Set up two-factor sign-in' }).click();
    await page.getByLabel('Current password').last().fill(ADMIN.password);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('img', { name: 'QR code for your authenticator app' }).waitFor();
    const secret = (await page.getByTestId('totp-secret').textContent()).trim();
    assert.match(secret.replace(/ /g, ''), /^[A-Z2-7]{32}$/, 'a 160-bit base32 secret');
    await screenshot(page, 'totp-enrol');
    await assertAccessible(page, 'totp enrolment');
    await page.getByLabel('Code from the app').fill(totp(secret));
    await page.getByRole('button', { name: 'Turn on' }).click();
    const codes = page.getByTestId('recovery-codes').locator('li');
    await codes.first().waitFor();
    assert.equal(await codes.count(), 10);
    const recovery = (await codes.nth(2).textContent()).trim();
    spare = (await codes.nth(5).textContent()).trim();
    assert.match(recovery, /^[a-z2-7]{4}(-[a-z2-7]{4}){3}$/);
    await page.getByText('10 recovery codes left.').waitFor();
    await screenshot(page, 'totp-recovery-codes');

    // The password alone is half a sign-in now.
    await signOut(page);
    await passwordStep(page, server);
    assert.equal(await page.evaluate(async () => (await fetch('/api/v1/auth/me')).status), 401, 'no session yet');
    await page.getByLabel('Code').fill('000000' === totp(secret, 1) ? '111111' : '000000');
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByText('wrong code').waitFor();
    await screenshot(page, 'totp-wrong-code');
    await assertAccessible(page, 'second step');
    // The code of the next time step (the current one was used at enrolment).
    await page.getByLabel('Code').fill(totp(secret, 1));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL((u) => !u.pathname.startsWith('/login'));
    await page.getByRole('button', { name: 'admin (admin)', exact: true }).waitFor();

    // A recovery code, once.
    await signOut(page);
    await passwordStep(page, server);
    await page.getByLabel('Code').fill(recovery.toUpperCase());
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL((u) => !u.pathname.startsWith('/login'));
    await page.goto(`${server.url}/settings`);
    await page.getByText('9 recovery codes left.').waitFor();
    await signOut(page);
    await passwordStep(page, server);
    await page.getByLabel('Code').fill(recovery);
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByText('wrong code').waitFor();
    await page.context().close();
  });

  test('the sign-in settings: two-factor required of admins; passwords stay without single sign-on', async () => {
    const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    await passwordStep(page, server);
    await page.getByLabel('Code').fill(spare);
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL((u) => !u.pathname.startsWith('/login'));
    await page.goto(`${server.url}/admin?tab=sign-in`);
    const required = page.getByLabel(/Administrators must use two-factor sign-in/);
    await required.waitFor();
    assert.equal(await required.isChecked(), false);
    await required.click();
    await page.getByText('Sign-in settings saved.').waitFor();
    assert.equal(await required.isChecked(), true);
    assert.equal((await server.api('GET', '/auth/sign-in-options')).password, true);
    // Turning passwords off without single sign-on would lock everyone out: the server says no.
    await page.getByLabel(/^Password sign-in/).click();
    await page.getByText('password sign-in can be turned off only with single sign-on configured').waitFor();
    assert.equal(await page.getByLabel(/^Password sign-in/).isChecked(), true, 'still on');
    await screenshot(page, 'admin-sign-in-settings');
    await assertAccessible(page, 'sign-in settings');
    await context.close();
  });
});

describe('forward-auth', () => {
  let server;
  let browser;

  before(async () => {
    // The browser connects from 127.0.0.1: as far as the server knows, the trusted proxy.
    server = new Server({
      env: {
        TAYLORDASH_TRUSTED_PROXIES: '127.0.0.1',
        TAYLORDASH_FORWARD_AUTH: 'true',
      },
    });
    await server.start();
    browser = await launchBrowser();
  });

  after(() => stopApp({ server, browser }));

  test('a trusted proxy signs the browser in; its groups give the role', async () => {
    const context = await browser.newContext({
      viewport: { width: 1360, height: 900 },
      extraHTTPHeaders: { 'Remote-User': 'casey', 'Remote-Groups': 'family,taylordash-editors', 'Remote-Email': 'casey@example.net' },
    });
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    await page.goto(`${server.url}/`);
    await page.getByRole('button', { name: 'casey (editor)', exact: true }).waitFor();
    assert.equal(await page.getByRole('form', { name: 'Sign in' }).count(), 0, 'no login page');
    await page.goto(`${server.url}/settings`);
    await page.getByTestId('profile-username').waitFor();
    assert.equal(await page.getByRole('heading', { name: 'Change password' }).count(), 0, 'no password to change');
    await screenshot(page, 'forward-auth-settings');
    await context.close();

    // Without the headers the same server wants a sign-in.
    const plain = await browser.newContext();
    const anonymous = await plain.newPage();
    await anonymous.goto(`${server.url}/`);
    await anonymous.getByRole('form', { name: 'Sign in' }).waitFor();
    await plain.close();
  });
});
