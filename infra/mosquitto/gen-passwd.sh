#!/bin/sh
# Writes the Mosquitto password file (nothing hashed is committed). The passwords come from files
# (compose secrets) named by MQTT_PASSWORD_FILE and MQTT_DEVICE_PASSWORD_FILE, or from the
# variables without _FILE:
#   MQTT_PASSWORD         password of the `taylordash` account (the server's)
#   MQTT_DEVICE_PASSWORD  password of the `device` account (publish-only, see acl)
# and a `healthcheck` account with a random password, stored next to the file for the health
# check. Usage: gen-passwd.sh OUTPUT_FILE
set -eu
out=${1:?usage: gen-passwd.sh OUTPUT_FILE}

# secret NAME: NAME's value, or the content of the file NAME_FILE names (final line break cut).
secret() {
  eval "value=\${$1:-} file=\${$1_FILE:-}"
  if [ -n "$file" ]; then
    [ -z "$value" ] || { echo "gen-passwd.sh: set $1 or $1_FILE, not both" >&2; exit 1; }
    [ -r "$file" ] || { echo "gen-passwd.sh: $1_FILE=$file is not readable" >&2; exit 1; }
    value=$(cat "$file")
  fi
  [ -n "$value" ] || { echo "gen-passwd.sh: $1 (or $1_FILE) is required" >&2; exit 1; }
  printf '%s' "$value"
}
app_password=$(secret MQTT_PASSWORD)
device_password=$(secret MQTT_DEVICE_PASSWORD)
dir=$(dirname "$out")
mkdir -p "$dir"
umask 077
tmp="$out.tmp.$$"
rm -f "$tmp"
: > "$tmp"
mosquitto_passwd -b "$tmp" taylordash "$app_password"
mosquitto_passwd -b "$tmp" device "$device_password"
hc=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
mosquitto_passwd -b "$tmp" healthcheck "$hc"
printf '%s\n' "$hc" > "$dir/healthcheck.password"
mv "$tmp" "$out"
