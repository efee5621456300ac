#!/bin/sh
# Writes a new stack configuration from .env.example:
#   infra/scripts/generate-env.sh .env        (or: infra/scripts/generate-env.sh > .env)
# - the .env file: every variable marked [secret] set to a fresh random value, the others as in
#   the example (edit TAYLORDASH_HOST and ACME_EMAIL afterwards);
# - the secrets folder SECRETS_DIR (default ./secrets beside .env.example; set SECRETS_DIR in
#   the environment for another one, it is written into .env): the files compose mounts as
#   secrets, alertmanager_api_key for now (the API key Alertmanager posts with).
# Refuses to overwrite the file given as the first argument or any file in the secrets folder:
# new secrets would lock you out of existing databases and accounts.
set -eu
here=$(cd "$(dirname "$0")/../.." && pwd)
example=${ENV_EXAMPLE:-$here/.env.example}
secrets_dir=${SECRETS_DIR:-./secrets}
case "$secrets_dir" in
  /*) secrets_path=$secrets_dir ;;
  *) secrets_path=$here/${secrets_dir#./} ;;
esac
refuse() {
  echo "$1 exists; remove it first if you really want new secrets (it would lock you out of" \
       "existing databases and accounts, see docs/operations.md, rotating secrets)" >&2
  exit 1
}
if [ $# -gt 0 ] && [ -e "$1" ]; then refuse "$1"; fi
[ ! -e "$secrets_path/alertmanager_api_key" ] || refuse "$secrets_path/alertmanager_api_key"
umask 077
if [ $# -gt 0 ]; then exec > "$1"; fi
# The folder is private to its owner; the files in it are readable by anyone who can reach
# them, because compose bind-mounts a file secret with its own mode and owner, and the services
# read them as their own non-root users (TaylorDash 65532, Alertmanager 65534, ...).
mkdir -p "$secrets_path"
chmod 700 "$secrets_path"
# write_secret NAME VALUE: the file NAME in the secrets folder, without a line break.
write_secret() {
  (umask 022 && printf '%s' "$2" > "$secrets_path/$1")
}
random() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
secret_next=0
while IFS= read -r line || [ -n "$line" ]; do
  case "$line" in
    "# [secret]"*) secret_next=1; printf '%s\n' "$line"; continue ;;
    "#"*) printf '%s\n' "$line"; continue ;;
    SECRETS_DIR=*) printf 'SECRETS_DIR=%s\n' "$secrets_dir"; secret_next=0; continue ;;
  esac
  if [ "$secret_next" = 1 ] && [ "${line#*=}" = "" ]; then
    value=$(random)
    printf '%s%s\n' "$line" "$value"
    # Alertmanager posts with the service key until it is given an editor's own key.
    if [ "${line%%=*}" = API_KEY ]; then write_secret alertmanager_api_key "$value"; fi
  else
    printf '%s\n' "$line"
  fi
  secret_next=0
done < "$example"
