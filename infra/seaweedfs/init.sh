#!/bin/sh
# One-shot run by the `minio-init` service at every start (idempotent): creates the bucket
# (private) and an account that may use that bucket only, for the TaylorDash servers.
#   MINIO_ROOT_USER, MINIO_ROOT_PASSWORD     administrator credentials
#   MINIO_BUCKET                             bucket name (default taylordash)
#   MINIO_APP_ACCESS_KEY, MINIO_APP_SECRET_KEY  the application's account
set -eu
bucket=${MINIO_BUCKET:-taylordash}
app=${MINIO_APP_ACCESS_KEY:-taylordash-app}
: "${MINIO_APP_SECRET_KEY:?is required}"
mc alias set local "${MINIO_URL:-http://minio:9000}" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
mc mb --ignore-existing "local/$bucket"
mc anonymous set none "local/$bucket"
policy=$(mktemp)
sed "s/BUCKET/$bucket/g" "$(dirname "$0")/app-policy.json" > "$policy"
mc admin policy create local taylordash-app "$policy"
mc admin user add local "$app" "$MINIO_APP_SECRET_KEY"
# Attaching twice is an error ("already attached"); the state wanted is reached either way.
mc admin policy attach local taylordash-app --user "$app" 2>/dev/null || \
  mc admin policy entities local --user "$app" | grep -q taylordash-app
echo "minio-init: bucket $bucket ready, account $app limited to it"
