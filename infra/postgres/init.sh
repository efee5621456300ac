#!/usr/bin/env bash
# First-start hook of the postgres image (/docker-entrypoint-initdb.d): creates the owner and
# application roles from environment variables, so no password is written in a file.
set -euo pipefail
: "${TAYLORDASH_DB_OWNER_PASSWORD:?is required (see .env.example)}"
: "${TAYLORDASH_DB_APP_PASSWORD:?is required (see .env.example)}"
psql -q -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" --dbname postgres \
  -v db_name="${POSTGRES_DB:-taylordash}" \
  -v owner_role="${TAYLORDASH_DB_OWNER:-taylordash}" \
  -v owner_password="$TAYLORDASH_DB_OWNER_PASSWORD" \
  -v app_role="${TAYLORDASH_DB_APP:-taylordash_app}" \
  -v app_password="$TAYLORDASH_DB_APP_PASSWORD" \
  -f "${TAYLORDASH_INIT_SQL:-/infra/postgres/init.sql}"
