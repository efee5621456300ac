#!/usr/bin/env bash
# First-start hook of the postgres image (/docker-entrypoint-initdb.d): creates the owner and
# application roles. Their passwords come from files (compose secrets), named by
# TAYLORDASH_DB_OWNER_PASSWORD_FILE and TAYLORDASH_DB_APP_PASSWORD_FILE, or from the variables
# without _FILE; no password is written anywhere.
set -euo pipefail

# td_secret NAME: NAME's value, or the content of the file NAME_FILE names (without its final
# line break); both set is an error, as in the image's own POSTGRES_PASSWORD_FILE.
td_secret() {
  local name=$1 file_var="${1}_FILE"
  local value=${!name:-} file=${!file_var:-}
  if [ -n "$file" ]; then
    [ -z "$value" ] || { echo "init.sh: set $name or $file_var, not both" >&2; return 1; }
    [ -r "$file" ] || { echo "init.sh: $file_var=$file is not readable" >&2; return 1; }
    value=$(< "$file")
  fi
  [ -n "$value" ] || { echo "init.sh: $name (or $file_var) is required (see .env.example)" >&2; return 1; }
  printf '%s' "$value"
}
owner_password=$(td_secret TAYLORDASH_DB_OWNER_PASSWORD)
app_password=$(td_secret TAYLORDASH_DB_APP_PASSWORD)
psql -q -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" --dbname postgres \
  -v db_name="${POSTGRES_DB:-taylordash}" \
  -v owner_role="${TAYLORDASH_DB_OWNER:-taylordash}" \
  -v owner_password="$owner_password" \
  -v app_role="${TAYLORDASH_DB_APP:-taylordash_app}" \
  -v app_password="$app_password" \
  -f "${TAYLORDASH_INIT_SQL:-/infra/postgres/init.sql}"
