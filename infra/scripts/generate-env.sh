#!/bin/sh
# Prints .env.example with every variable marked [secret] set to a fresh random value:
#   infra/scripts/generate-env.sh > .env
# Other variables keep the example's values; edit TAYLORDASH_HOST and ACME_EMAIL afterwards.
# Refuses to overwrite an existing file given as the first argument (generate-env.sh .env).
set -eu
here=$(cd "$(dirname "$0")/../.." && pwd)
example=${ENV_EXAMPLE:-$here/.env.example}
if [ $# -gt 0 ]; then
  if [ -e "$1" ]; then
    echo "$1 exists; remove it first if you really want new secrets (it would lock you out of" \
         "existing databases and accounts, see docs/operations.md, rotating secrets)" >&2
    exit 1
  fi
  umask 077
  exec > "$1"
fi
random() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
secret_next=0
while IFS= read -r line || [ -n "$line" ]; do
  case "$line" in
    "# [secret]"*) secret_next=1; printf '%s\n' "$line"; continue ;;
    "#"*) printf '%s\n' "$line"; continue ;;
  esac
  if [ "$secret_next" = 1 ] && [ "${line#*=}" = "" ]; then
    printf '%s%s\n' "$line" "$(random)"
  else
    printf '%s\n' "$line"
  fi
  secret_next=0
done < "$example"
