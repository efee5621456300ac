// First paint in Chromium for bench/checks.py: each URL is opened `repeat` times in a fresh
// browser context (cold cache; the dashboard with the given session cookie) at 1920×1080, and
// the first contentful paint (Paint Timing API) and the time until the content is on screen are
// read. "Content": the status page's `main[data-state=ready]`, the dashboard's heading.
// Usage: node bench/checks_paint.mjs '{"urls": {...}, "cookie": "...", "repeat": 3}'
// Needs web/node_modules (playwright-core) and Chromium (CHROMIUM, default /usr/bin/chromium).
import { createRequire } from 'node:module';

const require = createRequire(new URL('../web/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const { urls, cookie, repeat = 3 } = JSON.parse(process.argv[2]);
const READY = {
  status_page: 'main[data-state="ready"]',
  dashboard: 'h1:has-text("Dashboard")',
};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
});
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const out = {};
try {
  for (const [name, url] of Object.entries(urls)) {
    const runs = [];
    for (let i = 0; i < repeat; i++) {
      const context = await browser.newContext({ viewport: { width: 1920, height: 1080 } });
      if (cookie && name !== 'status_page') {
        const u = new URL(url);
        await context.addCookies([{ name: 'taylordash_session', value: cookie, domain: u.hostname, path: '/' }]);
      }
      const page = await context.newPage();
      const t0 = Date.now();
      await page.goto(url, { waitUntil: 'commit' });
      await page.locator(READY[name]).first().waitFor({ timeout: 60_000 });
      const contentMs = Date.now() - t0;
      const timing = await page.evaluate(() => {
        const fcp = performance.getEntriesByName('first-contentful-paint')[0];
        const nav = performance.getEntriesByType('navigation')[0];
        return { fcp: fcp ? fcp.startTime : null, dcl: nav ? nav.domContentLoadedEventEnd : null };
      });
      const elements = await page.evaluate(() => document.getElementsByTagName('*').length);
      runs.push({ fcp_ms: timing.fcp && Math.round(timing.fcp), content_ms: contentMs, dom_elements: elements });
      await context.close();
    }
    out[name] = {
      runs,
      fcp_median_ms: median(runs.map((r) => r.fcp_ms)),
      content_median_ms: median(runs.map((r) => r.content_ms)),
    };
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
