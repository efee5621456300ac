#!/bin/sh
# Writes the Mosquitto password file from environment variables (nothing hashed is committed):
#   MQTT_PASSWORD         password of the `taylordash` account (the server; the app's MQTT_PASSWORD)
#   MQTT_DEVICE_PASSWORD  password of the `device` account (publish-only, see acl)
# and a `healthcheck` account with a random password, stored next to the file for the health
# check. Usage: gen-passwd.sh OUTPUT_FILE
set -eu
out=${1:?usage: gen-passwd.sh OUTPUT_FILE}
: "${MQTT_PASSWORD:?is required (password of the taylordash MQTT account)}"
: "${MQTT_DEVICE_PASSWORD:?is required (password of the device MQTT account)}"
dir=$(dirname "$out")
mkdir -p "$dir"
umask 077
tmp="$out.tmp.$$"
rm -f "$tmp"
: > "$tmp"
mosquitto_passwd -b "$tmp" taylordash "$MQTT_PASSWORD"
mosquitto_passwd -b "$tmp" device "$MQTT_DEVICE_PASSWORD"
hc=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
mosquitto_passwd -b "$tmp" healthcheck "$hc"
printf '%s\n' "$hc" > "$dir/healthcheck.password"
mv "$tmp" "$out"
