// After `vite build`: add Swagger UI's two files to the API docs page (public/docs holds the page),
// write .gz next to every compressible file (the server sends it as it is,
// so it never compresses at run time; no .br twin, which would cost the binary that embeds the
// build about 250 KB for 10-15 % fewer bytes), and report the initial JavaScript size
// (what index.html loads before any lazy chunk) against the 300 KB gzip budget.
// The .gz files are Zopfli's: ordinary gzip that any client and the server's inflater read,
// about 4 % smaller than zlib's level 9 (30 KB of the embedded build), at ~15 s of build time.
import { gzipAsync } from '@gfx/zopfli';
import { copyFileSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const dist = new URL('../dist/', import.meta.url).pathname;
const BUDGET_GZIP = 300 * 1024;
const compressible = /\.(js|css|html|svg|json|webmanifest|txt|map)$/;

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

// Only what the page loads (the package's other bundles would cost the binary 600 KB), with the
// bundle's license notice.
const swaggerUi = new URL('../node_modules/swagger-ui-dist/', import.meta.url).pathname;
for (const name of ['swagger-ui-bundle.js', 'swagger-ui-bundle.js.LICENSE.txt', 'swagger-ui.css']) {
  copyFileSync(join(swaggerUi, name), join(dist, 'docs', name));
}

const gzipped = new Map();
for (const file of walk(dist)) {
  if (!compressible.test(file)) continue;
  const raw = readFileSync(file);
  const gz = Buffer.from(await gzipAsync(raw, { numiterations: 15 }));
  gzipped.set(relative(dist, file), gz.length);
  // Only keep a variant that actually saves bytes.
  if (gz.length < raw.length) writeFileSync(`${file}.gz`, gz);
  // Hashed assets and Swagger UI's large files are kept compressed only: the server inflates the
  // .gz for the rare client without gzip, and the binary that embeds the build stays small.
  const gzOnly = /^(assets\/|docs\/swagger-ui)/.test(relative(dist, file));
  if (gz.length < raw.length && gzOnly) unlinkSync(file);
}

// Initial JS: the entry script plus its modulepreloaded imports, as listed in index.html.
const html = readFileSync(join(dist, 'index.html'), 'utf8');
const initial = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.js)"/g)].map((m) => m[1]);
const total = initial.reduce((sum, f) => sum + (gzipped.get(f) ?? 0), 0);
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
console.log(`initial JavaScript: ${initial.length} file(s), ${kb(total)} gzipped (budget ${kb(BUDGET_GZIP)})`);
if (total > BUDGET_GZIP) {
  console.error('initial JavaScript is over budget: lazy-load more screens');
  process.exit(1);
}
