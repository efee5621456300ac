// `npm audit --omit=dev` with a list of accepted advisories (audit-exceptions.json, each with a
// reason): fails on any other advisory against a runtime dependency. When the registry's advisory
// endpoint does not answer (a mirror or a proxy that refuses it), says so plainly and exits 0
// unless REQUIRE_NPM_AUDIT=1.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

const here = new URL("..", import.meta.url);
const { exceptions } = JSON.parse(readFileSync(new URL("audit-exceptions.json", here), "utf8"));
for (const [id, reason] of Object.entries(exceptions)) {
  if (typeof reason !== "string" || reason.trim() === "") {
    console.error(`audit-exceptions.json: ${id} has no reason`);
    process.exit(1);
  }
}

let out;
try {
  out = execFileSync("npm", ["audit", "--omit=dev", "--json"], {
    cwd: here,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  });
} catch (e) {
  out = e.stdout; // npm audit exits 1 when it finds something, or when it cannot ask
}
let report;
try {
  report = JSON.parse(out);
} catch {
  report = { message: `unreadable answer from npm audit: ${String(out).slice(0, 200)}` };
}

if (!report.vulnerabilities) {
  const why = report.message ?? "no report";
  const msg = `npm audit: NOT CHECKED: the advisory endpoint did not answer (${why})`;
  console.error(msg);
  process.exit(process.env.REQUIRE_NPM_AUDIT === "1" ? 1 : 0);
}

const found = [];
for (const [name, v] of Object.entries(report.vulnerabilities)) {
  for (const via of v.via) {
    if (typeof via !== "object") continue; // a dependency of a vulnerable package
    const id = via.url?.split("/").pop() ?? String(via.source);
    if (exceptions[id]) {
      console.log(`npm audit: accepted ${id} (${name}): ${exceptions[id]}`);
      continue;
    }
    found.push(`${id} ${v.severity} ${name} ${v.range}: ${via.title}`);
  }
}
const deps = report.metadata?.dependencies?.prod ?? "?";
if (found.length > 0) {
  console.error(`npm audit: ${found.length} advisories against runtime dependencies:`);
  for (const f of found) console.error(`  ${f}`);
  console.error("upgrade them, or list them in web/audit-exceptions.json with a reason");
  process.exit(1);
}
console.log(`npm audit: no open advisory against ${deps} runtime dependencies`);
