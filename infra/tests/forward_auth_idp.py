#!/usr/bin/env python3
"""A stand-in for an identity provider's forward-auth endpoint (Authelia and Authentik are not
installable here): Traefik asks it about each request, with the request's own headers.

A request carrying the session cookie `idp_session=<name>` of a known user is allowed (200) and
the user is named in the provider's response headers — Authelia's `Remote-*` on
/api/authz/forward-auth, Authentik's `X-authentik-*` (groups separated by `|`) on
/outpost.goauthentik.io/auth/traefik. Anything else is refused (401), as a provider does for a
browser that has not signed in. Every question is appended to LOG as one JSON line, so the check
can see what Traefik asked.

usage: forward_auth_idp.py PORT LOG
"""

import json
import sys
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# name -> (groups, e-mail); bob is in no group, so a Remote-Groups header reaching TaylorDash
# with his request can only be one the client sent itself.
USERS = {
    "alice": (["taylordash-admins", "staff"], "alice@example.test"),
    "bob": ([], "bob@example.test"),
}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (the standard library's name)
        cookie = SimpleCookie(self.headers.get("Cookie", ""))
        name = cookie["idp_session"].value if "idp_session" in cookie else None
        with open(LOG, "a", encoding="utf-8") as log:
            log.write(json.dumps({"path": self.path, "user": name,
                                  "forwarded_uri": self.headers.get("X-Forwarded-Uri")}) + "\n")
        if name not in USERS:
            self.send_response(401)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"sign in at the identity provider\n")
            return
        groups, email = USERS[name]
        self.send_response(200)
        if self.path.startswith("/outpost.goauthentik.io/"):
            self.send_header("X-authentik-username", name)
            if groups:
                self.send_header("X-authentik-groups", "|".join(groups))
            self.send_header("X-authentik-email", email)
        else:
            self.send_header("Remote-User", name)
            if groups:
                self.send_header("Remote-Groups", ",".join(groups))
            self.send_header("Remote-Email", email)
            self.send_header("Remote-Name", name.title())
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_):
        pass


if __name__ == "__main__":
    PORT, LOG = int(sys.argv[1]), sys.argv[2]
    ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
