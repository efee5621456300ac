#!/bin/sh
# Creates a private certificate authority and a server certificate for the stack, once: when
# CERTS_DIR already holds server.crt and server.key (generated earlier or your own), it does
# nothing. To renew, delete both and restart the stack. Traefik serves this certificate on 443 unless Let's Encrypt is enabled (ACME_EMAIL),
# and Mosquitto on 8883. Clients trust ca.crt.
#
#   TAYLORDASH_HOST  public host name (default taylordash.local)
#   CERTS_DIR        output folder (default /certs)
#   CERTS_OWNER      owner of the key, uid:gid (default 1883:1883, Mosquitto's user)
#   CERTS_DAYS       validity in days (default 825)
set -eu
dir=${CERTS_DIR:-/certs}
host=${TAYLORDASH_HOST:-taylordash.local}
days=${CERTS_DAYS:-825}
if [ -s "$dir/server.crt" ] && [ -s "$dir/server.key" ]; then
  echo "certs: $dir/server.crt exists, leaving it"
  exit 0
fi
mkdir -p "$dir"
chmod 0755 "$dir"
umask 077
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
openssl req -x509 -newkey rsa:3072 -sha256 -nodes -days 3650 \
  -subj "/CN=TaylorDash local CA" \
  -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -keyout "$work/ca.key" -out "$work/ca.crt" 2>/dev/null
cat > "$work/ext.cnf" <<EXT
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:$host,DNS:mosquitto,DNS:localhost,IP:127.0.0.1
EXT
openssl req -new -newkey rsa:2048 -sha256 -nodes -subj "/CN=$host" \
  -keyout "$work/server.key" -out "$work/server.csr" 2>/dev/null
openssl x509 -req -sha256 -days "$days" -in "$work/server.csr" \
  -CA "$work/ca.crt" -CAkey "$work/ca.key" -CAcreateserial \
  -extfile "$work/ext.cnf" -out "$work/server.crt" 2>/dev/null
cat "$work/server.crt" "$work/ca.crt" > "$work/fullchain.crt"
# The CA key is discarded: this CA signs this one certificate and nothing else.
cp "$work/ca.crt" "$work/server.key" "$dir/"
cp "$work/fullchain.crt" "$dir/server.crt"
chmod 0644 "$dir/ca.crt" "$dir/server.crt"
chmod 0640 "$dir/server.key"
if [ "$(id -u)" = 0 ]; then
  chown "${CERTS_OWNER:-1883:1883}" "$dir/server.key"
fi
echo "certs: created a CA and a certificate for $host in $dir (trust $dir/ca.crt)"
