#!/bin/sh
# Container entrypoint: writes the password file (gen-passwd.sh, from the secrets) and a copy of
# the ACL into the runtime folder, owned by the broker's user, then starts the broker.
#   MOSQUITTO_RUNTIME    runtime folder (default /mosquitto/runtime; the config points there)
#   MOSQUITTO_CONF       configuration (default mosquitto.conf beside this script)
#   MOSQUITTO_OWN_DIRS   folders handed to the mosquitto user (default the data and log volumes)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
runtime=${MOSQUITTO_RUNTIME:-/mosquitto/runtime}
sh "$here/gen-passwd.sh" "$runtime/passwd"
# The broker checks that these files are private to it, which a bind-mounted file is not.
cp "$here/acl" "$runtime/acl"
chmod 0600 "$runtime/acl"
if [ "$(id -u)" = 0 ]; then
  chmod 0755 "$runtime"
  # shellcheck disable=SC2086 # a list of folders
  chown -R mosquitto:mosquitto "$runtime" ${MOSQUITTO_OWN_DIRS:-/mosquitto/data /mosquitto/log} \
    2>/dev/null || true
fi
exec mosquitto -c "${MOSQUITTO_CONF:-$here/mosquitto.conf}"
