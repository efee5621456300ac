// End-to-end: passkeys with Chromium's virtual authenticator (the DevTools WebAuthn domain: a
// CTAP2 platform authenticator that verifies the user), so the browser's real WebAuthn code
// makes and uses the credential. Added and renamed in Settings, then a sign-in without a
// password, a passkey as the second step after a password, and removal. Passkeys need a host
// name (browsers refuse an IP address as the relying party): the page is at localhost.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, assertAccessible, screenshot, signIn, startApp, stopApp } from './harness.mjs';

async function signOut(page) {
  await page.getByRole('button', { name: 'admin (admin)', exact: true }).click();
  await page.getByRole('menuitem', { name: 'Sign out' }).click();
  await page.getByRole('form', { name: 'Sign in' }).waitFor();
}

const signedInBy = (page) => page.evaluate(async () => (await (await fetch('/api/v1/auth/me')).json()).signed_in_by);

describe('passkeys', () => {
  let server;
  let browser;

  before(async () => {
    ({ server, browser } = await startApp());
  });

  after(() => stopApp({ server, browser }));

  test('added in Settings, then signing in without a password and as the second step', async () => {
    const site = { url: `http://localhost:${server.port}` };
    const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });

    await signIn(page, site);
    await page.goto(`${site.url}/settings`);
    await page.getByRole('heading', { name: 'Passkeys' }).waitFor();
    await page.getByTestId('passkeys-empty').waitFor();
    await page.getByLabel('Passkey name').fill('Virtual key');
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    const list = page.getByRole('list', { name: 'Your passkeys' });
    await list.locator('strong', { hasText: 'Virtual key' }).waitFor();
    const made = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    assert.equal(made.credentials.length, 1, 'the browser made one credential');
    assert.equal(made.credentials[0].rpId, 'localhost');
    assert.equal(made.credentials[0].isResidentCredential, true, 'discoverable: signs in without a name');
    await screenshot(page, 'passkeys-settings');
    await assertAccessible(page, 'passkeys settings');

    await list.getByRole('button', { name: 'Rename Virtual key' }).click();
    await page.getByLabel('New name').fill('Laptop');
    await page.getByRole('button', { name: 'Save' }).click();
    await list.locator('strong', { hasText: 'Laptop' }).waitFor();

    // Without a password: the authenticator verifies the person, the server the signature.
    await signOut(page);
    await page.getByRole('button', { name: 'Use a passkey' }).click();
    await page.waitForURL((u) => !u.pathname.startsWith('/login'));
    assert.equal(await signedInBy(page), 'passkey');
    const used = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    assert.ok(used.credentials[0].signCount >= 1, 'the counter moved on');

    // After a password, the passkey is the second step.
    await signOut(page);
    await page.getByLabel('Username').fill(ADMIN.username);
    await page.getByLabel('Password', { exact: true }).fill(ADMIN.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByText('Confirm with your passkey to finish signing in.').waitFor();
    assert.equal(await page.evaluate(async () => (await fetch('/api/v1/auth/me')).status), 401, 'no session yet');
    await screenshot(page, 'passkeys-second-step');
    await assertAccessible(page, 'passkey second step');
    await page.getByRole('button', { name: 'Use a passkey' }).click();
    await page.waitForURL((u) => !u.pathname.startsWith('/login'));
    assert.equal(await signedInBy(page), 'password');

    // Removed: the password alone signs in again.
    await page.goto(`${site.url}/settings`);
    await list.getByRole('button', { name: 'Remove Laptop' }).click();
    await page.getByTestId('passkeys-empty').waitFor();
    await signOut(page);
    await signIn(page, site);
    assert.equal(await signedInBy(page), 'password');
    await context.close();
  });
});
