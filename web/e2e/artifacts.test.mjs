// End-to-end: the artifacts panel on the project page against the real binary (local object
// store in the data dir). A file is uploaded with its progress shown (upload throttled through
// DevTools so the progress is visible), listed, downloaded (bytes compared), refused when over the
// size limit (server's detail shown), paged, and deleted after confirmation; a viewer only reads.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { assertAccessible, screenshot, signedInPage, startApp, stopApp, waitFor } from './harness.mjs';

const LIMIT = 4 * 1024 * 1024;
const VIEWER = { username: 'viv', password: 'viewer password 123' };

let server;
let browser;
let token;
let project;

before(async () => {
  ({ server, token, browser } = await startApp({ env: { TAYLORDASH_ARTIFACT_MAX_BYTES: String(LIMIT) } }));
  project = await server.api('POST', '/projects', { token, body: { name: 'Rack rebuild', description: 'New 19" rack, cabling and labels.' } });
  // The binary must open an object store in `serve` (local directory by default).
  const probe = await fetch(`${server.url}/api/v1/projects/${project.id}/artifacts`, { headers: { Authorization: `Bearer ${token}` } });
  if (probe.status !== 200) throw new Error(`artifact routes unavailable (${probe.status} ${await probe.text()}): this binary does not open the object store`);
});

after(() => stopApp({ server, browser }));

/** Deterministic, non-repeating bytes (so a truncated or shifted download cannot pass). */
function bytes(n, seed = 1) {
  const b = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

const sha256 = (b) => createHash('sha256').update(b).digest('hex');

async function uploadOverApi(name, body) {
  const r = await fetch(`${server.url}/api/v1/projects/${project.id}/artifacts?name=${encodeURIComponent(name)}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'text/plain' },
    body,
  });
  const text = await r.text();
  assert.equal(r.status, 201, text);
  return JSON.parse(text);
}

const list = (q = '') => server.api('GET', `/projects/${project.id}/artifacts${q}`, { token });

/** A signed-in page (the admin by default) whose downloads the test can read. */
const downloadingPage = (user) => signedInPage(browser, server, user, { viewport: { width: 1280, height: 900 }, acceptDownloads: true });

describe('artifacts', () => {
  test('upload with progress, list, download, too-large refusal, delete', async () => {
    const page = await downloadingPage();
    // From the projects list to the project page.
    await page.goto(`${server.url}/projects`);
    await page.getByRole('link', { name: 'Rack rebuild', exact: true }).click();
    await page.waitForURL(`${server.url}/projects/${project.id}`);
    await page.getByRole('heading', { name: 'Rack rebuild' }).waitFor();
    await page.getByText('No files yet: upload the first one.').waitFor();
    assert.equal(await page.getByRole('link', { name: 'Open canvas' }).getAttribute('href'), `/projects/${project.id}/canvas`);

    // Slow the upload down so its progress is visible.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 768 * 1024 });
    const content = bytes(3 * 1024 * 1024, 7);
    await page.locator('#artifact-file').setInputFiles({ name: 'rack-plan.bin', mimeType: 'application/octet-stream', buffer: content });
    const upload = page.getByRole('listitem').filter({ hasText: 'rack-plan.bin' });
    // A percentage strictly between 0 and 100 while the bytes go up.
    const mid = await waitFor(async () => {
      const t = (await upload.textContent().catch(() => '')) ?? '';
      const m = t.match(/· (\d+)%/);
      return m && Number(m[1]) > 0 && Number(m[1]) < 100 ? Number(m[1]) : null;
    }, 'upload progress between 0 and 100 %');
    assert.ok(Number(await upload.locator("progress").getAttribute("value")) > 0, "progress bar has a value");
    await screenshot(page, 'artifacts-upload-progress');
    console.log(`# progress seen at ${mid}%`);
    await upload.getByText('Uploaded').waitFor();
    // An upload can be cancelled while it runs; nothing is stored.
    await page.locator('#artifact-file').setInputFiles({ name: 'cancel-me.bin', mimeType: 'application/octet-stream', buffer: bytes(2 * 1024 * 1024, 5) });
    const cancelled = page.getByRole('listitem').filter({ hasText: 'cancel-me.bin' });
    await cancelled.getByText(/· \d+%/).waitFor();
    await cancelled.getByRole('button', { name: 'Cancel upload of cancel-me.bin' }).click();
    await cancelled.getByText('Cancelled', { exact: true }).waitFor();
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });

    // Listed, with the server's metadata.
    const row = page.getByRole('row', { name: /rack-plan\.bin/ });
    await row.waitFor();
    await row.getByText('3.0 MB').waitFor();
    const listed = await list();
    assert.equal(listed.total, 1, 'the cancelled upload is not listed');
    assert.equal(listed.artifacts[0].size, content.length);
    assert.equal(listed.artifacts[0].sha256, sha256(content));

    // Download: the same bytes.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      row.getByRole('link', { name: 'Download rack-plan.bin' }).click(),
    ]);
    assert.equal(download.suggestedFilename(), 'rack-plan.bin');
    const got = readFileSync(await download.path());
    assert.equal(got.length, content.length);
    assert.equal(sha256(got), sha256(content));

    // Over the limit: refused with the server's own words.
    await page.locator('#artifact-file').setInputFiles({ name: 'too-big.iso', mimeType: 'application/octet-stream', buffer: bytes(LIMIT + 1024, 3) });
    const refused = page.getByRole('listitem').filter({ hasText: 'too-big.iso' });
    await refused.getByText('Failed').waitFor();
    await refused.getByRole('alert').getByText(`the file is larger than the limit of ${LIMIT} bytes`).waitFor();
    await refused.getByText('PAYLOAD_TOO_LARGE').waitFor();
    assert.equal((await list()).total, 1);
    await screenshot(page, 'artifacts');
    const violations = await assertAccessible(page, 'artifacts');
    for (const v of violations) console.log(`# axe artifacts: ${v.impact} ${v.id} (${v.nodes}): ${v.help}`);
    await refused.getByRole('button', { name: 'Dismiss too-big.iso' }).click();

    // Delete after confirmation (cancel first: nothing happens).
    await row.getByRole('button', { name: 'Delete rack-plan.bin' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete “rack-plan.bin”?' });
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    assert.equal((await list()).total, 1);
    await row.getByRole('button', { name: 'Delete rack-plan.bin' }).click();
    await dialog.getByRole('button', { name: 'Delete' }).click();
    await row.waitFor({ state: 'detached' });
    await page.getByText('No files yet: upload the first one.').waitFor();
    assert.equal((await list()).total, 0);
    const gone = await fetch(`${server.url}/api/v1/artifacts/${listed.artifacts[0].id}`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(gone.status, 404);
    await page.context().close();
  });

  test('a long list pages; a viewer reads and downloads but cannot upload or delete', async () => {
    for (let i = 1; i <= 22; i++) await uploadOverApi(`note-${String(i).padStart(2, '0')}.txt`, `note ${i}\n`);
    await server.api('POST', '/auth/users', { token, body: { ...VIEWER, role: 'viewer' } });
    const page = await downloadingPage(VIEWER);
    await page.goto(`${server.url}/projects/${project.id}`);
    await page.getByText('22 files').waitFor();
    await page.getByText('1–20 of 22').waitFor();
    // Uploaded elsewhere: the list follows the artifact.created event without reload.
    await uploadOverApi('note-23.txt', 'note 23\n');
    const t0 = Date.now();
    await page.getByText('1–20 of 23').waitFor();
    console.log(`# live update after ${Date.now() - t0} ms`);
    assert.equal(await page.getByRole('button', { name: 'Upload files…' }).count(), 0);
    assert.equal(await page.getByRole('button', { name: /^Delete / }).count(), 0);
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByText('21–23 of 23').waitFor();
    assert.equal(await page.getByRole('link', { name: /^Download note-/ }).count(), 3);
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: /^Download note-/ }).first().click(),
    ]);
    const text = readFileSync(await download.path(), 'utf8');
    assert.match(text, /^note \d+\n$/);
    await screenshot(page, 'artifacts-viewer');
    await page.context().close();
  });
});
