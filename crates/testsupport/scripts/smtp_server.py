#!/usr/bin/env python3
"""A real SMTP server for tests (aiosmtpd) on a loopback port.

Usage: smtp_server.py PORT OUT_DIR USER PASSWORD [CERT KEY]

AUTH (PLAIN/LOGIN) with USER/PASSWORD is required. With CERT and KEY it offers STARTTLS and
requires it before AUTH; without them AUTH is allowed in plain text (a local relay). Each
accepted message is written to OUT_DIR as <n>.json: {"from", "to", "data", "login"}.
"""
import asyncio
import itertools
import json
import os
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

PORT = int(sys.argv[1])
OUT = sys.argv[2]
USER = sys.argv[3].encode()
PASSWORD = sys.argv[4].encode()
TLS = sys.argv[5:7] if len(sys.argv) >= 7 else None
COUNTER = itertools.count()


class Handler:
    async def handle_DATA(self, server, session, envelope):
        n = next(COUNTER)
        doc = {
            "from": envelope.mail_from,
            "to": envelope.rcpt_tos,
            "data": envelope.content.decode("utf-8", "replace"),
            "login": (session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None),
            "tls": session.ssl is not None,
        }
        tmp = os.path.join(OUT, f".{n}.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(doc, f)
        os.rename(tmp, os.path.join(OUT, f"{n}.json"))
        return "250 OK"


def authenticate(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USER
        and auth_data.password == PASSWORD
    )
    return AuthResult(success=ok, auth_data=auth_data if ok else None)


context = None
if TLS:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(TLS[0], TLS[1])

controller = Controller(
    Handler(),
    hostname="127.0.0.1",
    port=PORT,
    authenticator=authenticate,
    auth_required=True,
    auth_require_tls=context is not None,
    tls_context=context,
    require_starttls=context is not None,
)
controller.start()
print("ready", flush=True)
threading.Event().wait()
