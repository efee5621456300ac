#!/bin/sh
# Container health check: logs in with the generated healthcheck account and reads one message
# from $SYS, which proves the listener, authentication, the ACL and message delivery.
set -eu
runtime=${MOSQUITTO_RUNTIME:-/mosquitto/runtime}
# shellcheck disable=SC2016 # $SYS is a topic, not a variable
exec mosquitto_sub -h "${MQTT_HEALTH_HOST:-127.0.0.1}" -p "${MQTT_HEALTH_PORT:-1883}" \
  -u healthcheck -P "$(cat "$runtime/healthcheck.password")" \
  -t '$SYS/broker/version' -C 1 -W 5
