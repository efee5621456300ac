#!/bin/sh
# Renders the static configuration from traefik.yml and environment variables, then starts
# Traefik with it:
#   ACME_EMAIL         set: certificates from Let's Encrypt (TLS-ALPN challenge on 443) for the
#                      routers' host names; empty: the stack's own certificate (dynamic/tls.yml)
#   TRAEFIK_LOG_LEVEL  DEBUG, INFO (default), WARN, ERROR
# TRAEFIK_RENDER_ONLY=1 prints the configuration instead of starting (used by the tests).
set -eu
src=${TRAEFIK_STATIC_TEMPLATE:-/etc/traefik/traefik.yml}
out=${TRAEFIK_STATIC_OUT:-/tmp/traefik/traefik.yml}
level=${TRAEFIK_LOG_LEVEL:-INFO}
case "$level" in
  DEBUG|INFO|WARN|ERROR) ;;
  *) echo "TRAEFIK_LOG_LEVEL must be DEBUG, INFO, WARN or ERROR, not '$level'" >&2; exit 2 ;;
esac
mkdir -p "$(dirname "$out")"
sed -e "s/^\(  level: \)INFO .*/\1$level/" "$src" > "$out.tmp"
if [ -n "${ACME_EMAIL:-}" ]; then
  case "$ACME_EMAIL" in
    *@*.*) ;;
    *) echo "ACME_EMAIL '$ACME_EMAIL' is not an e-mail address" >&2; exit 2 ;;
  esac
  sed -i -e 's/^\(      tls: \){}  .*# ACME$/\1{ certResolver: letsencrypt }/' "$out.tmp"
  cat >> "$out.tmp" <<ACME

certificatesResolvers:
  letsencrypt:
    acme:
      email: "$ACME_EMAIL"
      storage: /letsencrypt/acme.json
      tlsChallenge: {}
ACME
fi
mv "$out.tmp" "$out"
if [ "${TRAEFIK_RENDER_ONLY:-0}" = 1 ]; then
  cat "$out"
  exit 0
fi
exec traefik --configFile="$out"
