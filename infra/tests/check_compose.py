"""Structural checks of the merged compose configurations (output of `docker-compose config`).

usage: check_compose.py ROOT BASE.yml DEV.yml PROD.yml TIMESCALE.yml SECRETS_DIR
(SECRETS_DIR: the folder generate-env.sh wrote, which the configurations were rendered with.)
Prints one line per failed expectation and exits 1 if there is any.
"""
import os
import re
import sys

import yaml

root, base_f, dev_f, prod_f, ts_f, secrets_dir = sys.argv[1:7]
load = lambda f: yaml.safe_load(open(f))
base, dev, prod, ts = load(base_f), load(dev_f), load(prod_f), load(ts_f)
generated = {f: open(os.path.join(secrets_dir, f)).read() for f in os.listdir(secrets_dir)}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|API_KEY|TOKEN|HEADERS")
errors = []


def err(msg):
    errors.append(msg)


ONE_SHOTS = {"certs", "migrate", "seaweedfs-init", "timescale-init"}
SPEC_SERVICES = {"traefik", "taylordash", "postgres", "mosquitto", "seaweedfs", "victoriametrics",
                 "prometheus", "grafana"}
SPEC_VOLUMES = {"postgres_data", "mosquitto_data", "mosquitto_logs", "seaweedfs_data",
                "prometheus_data", "grafana_data", "victoria_data"}


def ports(svc):
    out = []
    for p in svc.get("ports", []) or []:
        if isinstance(p, dict):
            out.append(str(p.get("published")))
        else:
            out.append(str(p).split(":")[-2] if ":" in str(p) else str(p))
    return out


def env(svc):
    e = svc.get("environment") or {}
    if isinstance(e, list):
        e = dict(x.split("=", 1) for x in e)
    return e


def labels(svc):
    lab = svc.get("labels") or {}
    if isinstance(lab, list):
        lab = dict(x.split("=", 1) for x in lab)
    return lab


for name, cfg in (("base", base), ("dev", dev), ("prod", prod), ("timescale", ts)):
    services = cfg["services"]
    missing = SPEC_SERVICES - set(services)
    if missing:
        err(f"{name}: services of the spec missing: {sorted(missing)}")
    if not SPEC_VOLUMES <= set(cfg.get("volumes", {})):
        err(f"{name}: named volumes of the spec missing: {sorted(SPEC_VOLUMES - set(cfg['volumes']))}")
    nets = cfg.get("networks", {})
    if nets.get("taylordash", {}).get("name") != "taylordash":
        err(f"{name}: network `taylordash` missing or renamed")
    for sname, svc in services.items():
        if "container_name" in svc:
            err(f"{name}: {sname} has a fixed container_name (breaks --scale)")
        hc = svc.get("healthcheck") or {}
        if sname in ONE_SHOTS:
            if svc.get("restart") not in ("no", None):
                err(f"{name}: one-shot {sname} restarts")
        elif hc.get("disable") or not hc.get("test"):
            err(f"{name}: {sname} has no health check")
        else:
            test = " ".join(hc["test"]) if isinstance(hc["test"], list) else hc["test"]
            if "curl" in test:
                err(f"{name}: {sname} health check uses curl, which its image may not ship")
        for dep, cond in (svc.get("depends_on") or {}).items():
            c = cond.get("condition") if isinstance(cond, dict) else None
            if c not in ("service_healthy", "service_completed_successfully"):
                err(f"{name}: {sname} depends on {dep} without a health condition ({c})")
            if c == "service_healthy" and dep in ONE_SHOTS:
                err(f"{name}: {sname} waits for one-shot {dep} to be healthy")
            if c == "service_completed_successfully" and dep not in ONE_SHOTS:
                err(f"{name}: {sname} waits for long-running {dep} to complete")
        for k, v in env(svc).items():
            if k == "GF_INSTALL_PLUGINS":
                err(f"{name}: {sname} downloads Grafana plugins at start")
        # Every bind-mounted file or folder must exist in the repository (v1's did not).
        for vol in svc.get("volumes", []) or []:
            src = vol.get("source") if isinstance(vol, dict) else str(vol).split(":")[0]
            typ = vol.get("type") if isinstance(vol, dict) else ("bind" if "/" in src else "volume")
            if typ == "bind" and src.startswith(root) and not os.path.exists(src):
                err(f"{name}: {sname} mounts {os.path.relpath(src, root)}, which does not exist")
            if typ == "bind" and src.endswith("docker.sock") and sname != "docker-socket-proxy":
                err(f"{name}: {sname} mounts the Docker socket")
    td = services["taylordash"]
    if td.get("ports"):
        err(f"{name}: taylordash publishes ports (breaks --scale)")
    if not str(env(td).get("TAYLORDASH_DATABASE_URL", "")).startswith("postgres://taylordash_app@"):
        err(f"{name}: taylordash does not connect as taylordash_app")
    mig = services["migrate"]
    if mig.get("command") != ["migrate"]:
        err(f"{name}: migrate does not run `taylordash migrate`")
    if not str(env(mig).get("TAYLORDASH_DATABASE_URL", "")).startswith("postgres://taylordash@"):
        err(f"{name}: migrate does not connect as the owner role")
    if (td.get("depends_on") or {}).get("migrate", {}).get("condition") != "service_completed_successfully":
        err(f"{name}: taylordash does not wait for migrate")
    lab = labels(td)
    rule = lab.get("traefik.http.routers.taylordash.rule", "")
    if not re.search(r"Host\(`[^`]+`\)", rule):
        err(f"{name}: taylordash router has no Host rule: {rule!r}")
    if lab.get("traefik.http.services.taylordash.loadbalancer.healthcheck.path") != "/health/ready":
        err(f"{name}: Traefik does not health-check taylordash on /health/ready")
    if lab.get("traefik.http.routers.taylordash.entrypoints") != "websecure":
        err(f"{name}: taylordash is not served on the HTTPS entry point")
    if "security-headers@file" not in lab.get("traefik.http.routers.taylordash.middlewares", ""):
        err(f"{name}: taylordash router lacks the security headers")
    # Alertmanager: Prometheus' alerts go to it, it posts them to TaylorDash with the token
    # from its secret (infra/alertmanager/alertmanager.yml reads /run/secrets/alertmanager_token),
    # which TaylorDash reads from the same secret and accepts on the webhook route only.
    am = services.get("alertmanager")
    if not am:
        err(f"{name}: no alertmanager service")
    else:
        if "alertmanager_token" not in [x if isinstance(x, str) else x.get("source")
                                        for x in am.get("secrets") or []]:
            err(f"{name}: alertmanager does not get the secret alertmanager_token")
        if "api_key" in [x if isinstance(x, str) else x.get("source")
                         for x in am.get("secrets") or []]:
            err(f"{name}: alertmanager gets the admin service key")
        if env(td).get("TAYLORDASH_ALERTMANAGER_TOKEN_FILE") != "/run/secrets/alertmanager_token":
            err(f"{name}: taylordash does not read Alertmanager's token from its secret")
        if not any(str(v.get("source") if isinstance(v, dict) else v).startswith(
                f"{root}/infra/alertmanager") for v in am.get("volumes") or []):
            err(f"{name}: alertmanager does not mount infra/alertmanager")
        if not re.fullmatch(r"prom/alertmanager:v\d+\.\d+\.\d+", am.get("image", "")):
            err(f"{name}: alertmanager image not pinned to a version: {am.get('image')}")
    prom_deps = services["prometheus"].get("depends_on") or {}
    if (prom_deps.get("alertmanager") or {}).get("condition") != "service_healthy":
        err(f"{name}: prometheus does not wait for a healthy alertmanager")
    # Secrets are files: each one generate-env.sh writes is a compose secret read from the
    # secrets folder, and no value of one appears anywhere in the rendered configuration.
    top = cfg.get("secrets") or {}
    if set(top) != set(generated):
        err(f"{name}: compose secrets {sorted(top)} differ from the files generate-env.sh "
            f"writes {sorted(generated)}")
    for sec, spec in top.items():
        f = spec.get("file", "")
        if os.path.dirname(f) != os.path.realpath(secrets_dir):
            err(f"{name}: secret {sec} is not read from the secrets folder ({f})")
    text = open({"base": base_f, "dev": dev_f, "prod": prod_f, "timescale": ts_f}[name]).read()
    for sec, value in generated.items():
        if value and value in text:
            err(f"{name}: the value of secret {sec} is in the configuration")
    for sname, svc in services.items():
        mounted = {x if isinstance(x, str) else x.get("source") for x in svc.get("secrets") or []}
        for sec in mounted - set(top):
            err(f"{name}: {sname} mounts an undeclared secret {sec}")
        for k, v in env(svc).items():
            if SECRET_NAME.search(k) and not k.endswith("_FILE"):
                err(f"{name}: {sname} has the secret {k} in its environment (use {k}_FILE)")
            if k.endswith("_FILE") and str(v).startswith("/run/secrets/"):
                sec = str(v)[len("/run/secrets/"):]
                if sec not in mounted:
                    err(f"{name}: {sname}'s {k} names secret {sec}, which it does not mount")
            if re.search(r"://[^/@:]+:[^/@]+@", str(v)):
                err(f"{name}: {sname}'s {k} carries a password in a URL")
    tr_ports = ports(services["traefik"])
    if not {"80", "443"} <= set(tr_ports):
        err(f"{name}: traefik does not publish 80 and 443 ({tr_ports})")
    if name != "dev":
        for sname, svc in services.items():
            if sname != "traefik" and svc.get("ports"):
                err(f"{name}: {sname} publishes {ports(svc)} (only Traefik may, outside dev)")
        if "8080" in tr_ports:
            err(f"{name}: Traefik dashboard port published outside dev")
        if any(k.startswith("traefik.http.routers.dashboard") for k in labels(services["traefik"])):
            err(f"{name}: Traefik dashboard router outside dev")

# Development: the spec's port table and the dashboard.
want = {"traefik": {"80", "443", "8080"}, "postgres": {"5432"},
        "mosquitto": {"1883", "8883", "9001"}}
for sname, ps in want.items():
    got = set(ports(dev["services"][sname]))
    if not ps <= got:
        err(f"dev: {sname} publishes {sorted(got)}, spec table wants {sorted(ps)}")
if labels(dev["services"]["traefik"]).get("traefik.http.routers.dashboard.service") != "api@internal":
    err("dev: no Traefik dashboard router")
if not str(env(dev["services"]["taylordash"]).get("TAYLORDASH_LOG", "")).startswith("debug"):
    err("dev: taylordash does not log at debug")

# Production: resources and log rotation on every service.
for sname, svc in prod["services"].items():
    if sname not in ONE_SHOTS:
        res = (svc.get("deploy") or {}).get("resources") or {}
        if not (res.get("limits", {}).get("memory") and res.get("reservations", {}).get("memory")):
            err(f"prod: {sname} has no resource limits and reservations")
    opts = (svc.get("logging") or {}).get("options") or {}
    if not opts.get("max-size"):
        err(f"prod: {sname} has no log rotation")

# Profiles: timescale only with its profile.
# (docker-compose 1.29's `config` lists services of every profile, so check the key.)
for s in ("timescale", "timescale-init"):
    if base["services"].get(s, {}).get("profiles") != ["timescale"]:
        err(f"base: {s} is not limited to the timescale profile")
for s, svc in base["services"].items():
    if s not in ("timescale", "timescale-init") and svc.get("profiles"):
        err(f"base: {s} needs a profile to start")
for s in ("timescale", "timescale-init"):
    if s not in ts["services"]:
        err(f"timescale profile: {s} missing")

for e in errors:
    print("FAIL:", e)
print(f"compose structure: {len(errors)} problem(s)")
sys.exit(1 if errors else 0)
