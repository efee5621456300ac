#!/bin/sh
# Writes a new stack configuration:
#   infra/scripts/generate-env.sh .env        (or: infra/scripts/generate-env.sh > .env)
# - the .env file: .env.example's settings (edit TAYLORDASH_HOST and ACME_EMAIL afterwards);
#   it holds no secret;
# - the secrets folder SECRETS_DIR (default ./secrets beside .env.example; set SECRETS_DIR in
#   the environment for another one, it is written into .env): one file per secret, each a
#   fresh random value, which compose mounts into the services at /run/secrets/NAME.
# Refuses to overwrite the file given as the first argument or any secret file: new secrets
# would lock you out of existing databases and accounts.
set -eu
here=$(cd "$(dirname "$0")/../.." && pwd)
example=${ENV_EXAMPLE:-$here/.env.example}
secrets_dir=${SECRETS_DIR:-./secrets}
case "$secrets_dir" in
  /*) secrets_path=$secrets_dir ;;
  *) secrets_path=$here/${secrets_dir#./} ;;
esac

# The secrets (docker-compose.yml's `secrets:`): random ones, then those left empty.
# alertmanager_token is Alertmanager's own credential (TaylorDash takes it on its webhook
# receiver only), not a copy of the admin service key.
RANDOM_SECRETS="api_key alertmanager_token postgres_password taylordash_db_owner_password
taylordash_db_app_password mqtt_password mqtt_device_password s3_admin_secret_key
s3_app_secret_key grafana_password timescale_password"
# otlp_headers: OTEL_EXPORTER_OTLP_HEADERS for a collector that wants a token;
# oidc_client_secret: the OpenID provider's client secret (empty: a public client).
ALL_SECRETS="$RANDOM_SECRETS otlp_headers oidc_client_secret"

refuse() {
  echo "$1 exists; remove it first if you really want new secrets (it would lock you out of" \
       "existing databases and accounts, see docs/operations.md, rotating secrets)" >&2
  exit 1
}
if [ $# -gt 0 ] && [ -e "$1" ]; then refuse "$1"; fi
for name in $ALL_SECRETS; do
  [ ! -e "$secrets_path/$name" ] || refuse "$secrets_path/$name"
done

umask 077
# The folder is private to its owner. The files in it are readable by anyone who can reach them:
# compose bind-mounts a file secret with the file's own owner and mode (docker-compose ignores
# uid/gid/mode outside swarm), and the services read theirs as non-root users (TaylorDash 65532,
# Alertmanager 65534, Grafana 472, PostgreSQL 999).
mkdir -p "$secrets_path"
chmod 700 "$secrets_path"
random() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
# write_secret NAME VALUE: the file NAME in the secrets folder, without a line break.
write_secret() {
  (umask 022 && printf '%s' "$2" > "$secrets_path/$1.tmp" && mv "$secrets_path/$1.tmp" "$secrets_path/$1")
}
for name in $RANDOM_SECRETS; do
  write_secret "$name" "$(random)"
done
write_secret otlp_headers ""
write_secret oidc_client_secret ""

if [ $# -gt 0 ]; then exec > "$1"; fi
while IFS= read -r line || [ -n "$line" ]; do
  case "$line" in
    SECRETS_DIR=*) printf 'SECRETS_DIR=%s\n' "$secrets_dir" ;;
    *) printf '%s\n' "$line" ;;
  esac
done < "$example"
