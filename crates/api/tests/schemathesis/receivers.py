"""Loopback receivers for the alert channels the bounded schemathesis run makes (run.sh).

A channel's "send test" and the notifications of the rules the fuzzer makes go somewhere real:
an HTTP server that answers 204 to any POST (webhook, ntfy, Gotify, Discord, Slack) and a
minimal SMTP server that accepts any message. Prints `<http port> <smtp port>`, then serves
until killed.
"""

import socketserver
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Http(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(204)
        self.end_headers()

    do_PUT = do_POST

    def log_message(self, *args):
        pass


class Smtp(socketserver.StreamRequestHandler):
    def reply(self, line):
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self):
        self.reply("220 fuzz.local ESMTP")
        while True:
            line = self.rfile.readline()
            if not line:
                return
            verb = line.strip().split(b" ", 1)[0].upper()
            if verb in (b"EHLO", b"HELO"):
                self.reply("250 fuzz.local")
            elif verb == b"DATA":
                self.reply("354 end with .")
                while self.rfile.readline() not in (b".\r\n", b".\n", b""):
                    pass
                self.reply("250 queued")
            elif verb == b"QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("250 ok")


class ThreadingTcp(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    http = ThreadingHTTPServer(("127.0.0.1", 0), Http)
    smtp = ThreadingTcp(("127.0.0.1", 0), Smtp)
    threading.Thread(target=smtp.serve_forever, daemon=True).start()
    print(http.server_address[1], smtp.server_address[1], flush=True)
    sys.stdout.close()
    http.serve_forever()


if __name__ == "__main__":
    main()
