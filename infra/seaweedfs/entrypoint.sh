#!/bin/sh
# Starts SeaweedFS as one process (`weed mini`: master, volume server, filer, S3 gateway on 8333
# and the admin console on 23646) with two S3 accounts, written at every start (so a changed
# secret takes effect on restart):
#   S3_ADMIN_ACCESS_KEY, S3_ADMIN_SECRET_KEY  administrator: every bucket; also the console login
#   S3_APP_ACCESS_KEY, S3_APP_SECRET_KEY      TaylorDash: read, write and list S3_BUCKET only
#   S3_BUCKET                                 bucket name (default taylordash)
# Each secret may instead be given as a file (S3_ADMIN_SECRET_KEY_FILE, S3_APP_SECRET_KEY_FILE),
# which is how the stack passes them (compose secrets).
set -eu

# from_file NAME: NAME's value, or the content of the file named by NAME_FILE.
from_file() {
  eval "file=\${${1}_FILE:-}"
  if [ -n "$file" ]; then
    [ -r "$file" ] || { echo "seaweedfs: ${1}_FILE=$file is not readable" >&2; exit 1; }
    tr -d '\r\n' < "$file"
  else
    eval "printf '%s' \"\${$1:-}\""
  fi
}

admin_key=${S3_ADMIN_ACCESS_KEY:-taylordash-admin}
app_key=${S3_APP_ACCESS_KEY:-taylordash-app}
bucket=${S3_BUCKET:-taylordash}
admin_secret=$(from_file S3_ADMIN_SECRET_KEY)
app_secret=$(from_file S3_APP_SECRET_KEY)
[ "${#admin_secret}" -ge 16 ] || { echo "seaweedfs: S3_ADMIN_SECRET_KEY must have at least 16 characters" >&2; exit 1; }
[ "${#app_secret}" -ge 16 ] || { echo "seaweedfs: S3_APP_SECRET_KEY must have at least 16 characters" >&2; exit 1; }
# The values go into JSON unescaped: keep them to characters that need no escaping.
for value in "$admin_key" "$app_key" "$bucket" "$admin_secret" "$app_secret"; do
  case "$value" in
    *[!A-Za-z0-9._+/=-]*)
      echo "seaweedfs: keys, secrets and the bucket name may use only A-Z a-z 0-9 . _ + / = -" >&2
      exit 1 ;;
  esac
done

config=/tmp/seaweedfs-s3.json
umask 077
cat > "$config" <<EOF
{
  "identities": [
    {
      "name": "admin",
      "credentials": [{"accessKey": "$admin_key", "secretKey": "$admin_secret"}],
      "actions": ["Admin", "Read", "Write", "List", "Tagging"]
    },
    {
      "name": "taylordash-app",
      "credentials": [{"accessKey": "$app_key", "secretKey": "$app_secret"}],
      "actions": ["Read:$bucket", "Write:$bucket", "List:$bucket", "Tagging:$bucket"]
    }
  ]
}
EOF

exec weed mini -dir=/data -ip.bind=0.0.0.0 \
  -s3.config="$config" -s3.port.iceberg=0 -webdav=false \
  -admin.user=admin -admin.password="$admin_secret"
