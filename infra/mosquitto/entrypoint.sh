#!/bin/sh
# Container entrypoint: generates the password file, fixes volume ownership, starts the broker.
set -eu
here=$(dirname "$0")
runtime=/mosquitto/runtime
sh "$here/gen-passwd.sh" "$runtime/passwd"
if [ "$(id -u)" = 0 ]; then
  chown -R mosquitto:mosquitto "$runtime" /mosquitto/data /mosquitto/log 2>/dev/null || true
fi
exec mosquitto -c "$here/mosquitto.conf"
