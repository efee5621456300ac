"""Every metric name used by the Grafana dashboard and the alert rules must be exported by the
binary (its /metrics output), and every exported name must follow the naming scheme.

usage: check_metrics.py METRICS.txt DASHBOARD.json RULES.yml
"""
import json
import re
import sys

import yaml

metrics_f, dashboard_f, rules_f = sys.argv[1:4]

# The naming scheme (docs/metrics.md, "Names"): TaylorDash's own metrics start with
# `taylordash_`; these are the only others the dashboard and rules may use.
V1_NAMES = {  # v1's names, kept for v1's dashboards and alerts
    "http_requests_total",
    "http_request_duration_seconds",
    "taylor_ingest_total",
    "taylor_dlq_total",
    "taylor_event_latency_seconds",
}
OTHER_PREFIXES = ("process_",)  # the client's process collector
BUILTIN = {"up"}  # made by Prometheus itself

exported = set()
for line in open(metrics_f):
    m = re.match(r"# TYPE (\S+) (\S+)", line)
    if m:
        name, kind = m.groups()
        exported.add(name)
        if kind in ("histogram", "summary"):
            exported |= {name + "_bucket", name + "_sum", name + "_count"}

KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
            "unless", "offset", "inf", "nan", "le"}


def names(expr):
    expr = re.sub(r"\$\{?\w+\}?", "", expr)          # Grafana variables
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)   # strings
    expr = re.sub(r"\{[^}]*\}", "", expr)            # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)           # ranges
    expr = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", expr)
    out = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", expr):
        tok = m.group(0)
        rest = expr[m.end():].lstrip()
        if rest.startswith("("):
            continue  # function or aggregation
        if tok.lower() in KEYWORDS:
            continue
        out.add(tok)
    return out


used = {}
dash = json.load(open(dashboard_f))
panels = list(dash.get("panels", []))
for p in list(panels):
    panels.extend(p.get("panels", []))
for p in panels:
    for t in p.get("targets", []):
        for n in names(t.get("expr", "")):
            used.setdefault(n, set()).add(f"dashboard panel '{p.get('title')}'")
rules = yaml.safe_load(open(rules_f))
for g in rules["groups"]:
    for r in g["rules"]:
        for n in names(r["expr"]):
            used.setdefault(n, set()).add(f"rule {r.get('alert') or r.get('record')}")

def base(n):
    for suffix in ("_bucket", "_sum", "_count"):
        if n.endswith(suffix) and n[: -len(suffix)] in exported:
            return n[: -len(suffix)]
    return n


errors = 0
for n in sorted(used):
    where = ", ".join(sorted(used[n]))
    if n in exported or n in BUILTIN:
        print(f"ok       {n}")
    else:
        errors += 1
        print(f"MISSING  {n}  used by {where}, not in the binary's /metrics")
for n in sorted({base(n) for n in exported}):
    if not (n.startswith("taylordash_") or n in V1_NAMES or n.startswith(OTHER_PREFIXES)):
        errors += 1
        print(f"NAMING   {n}  exported outside the scheme (taylordash_*, v1's names, process_*)")
print(f"metric names: {len(used)} used, {errors} problems")
sys.exit(1 if errors else 0)
