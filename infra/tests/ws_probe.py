"""WebSocket client for the stack check (standard library only): upgrades
/api/v1/events/stream through the proxy, expects the server's hello frame, then waits for an
event frame containing MARKER.

usage: ws_probe.py URL TOKEN MARKER
"""
import base64
import os
import socket
import struct
import sys
import time
from urllib.parse import urlparse

url, token, marker = sys.argv[1], sys.argv[2], sys.argv[3]
u = urlparse(url)
sock = socket.create_connection((u.hostname, u.port or 80), timeout=25)
key = base64.b64encode(os.urandom(16)).decode()
sock.sendall(
    (
        "GET /api/v1/events/stream?topic=tracker/events/%23 HTTP/1.1\r\n"
        f"Host: {u.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Authorization: Bearer {token}\r\n\r\n"
    ).encode()
)
buf = b""
while b"\r\n\r\n" not in buf:
    chunk = sock.recv(4096)
    if not chunk:
        sys.exit("connection closed during the handshake")
    buf += chunk
head, buf = buf.split(b"\r\n\r\n", 1)
status = head.split(b"\r\n", 1)[0].decode()
if " 101 " not in status + " ":
    sys.exit(f"no upgrade through the proxy: {status}")


def read_exact(n):
    global buf
    while len(buf) < n:
        chunk = sock.recv(4096)
        if not chunk:
            sys.exit("stream closed")
        buf += chunk
    out, buf = buf[:n], buf[n:]
    return out


def frame():
    b0, b1 = read_exact(2)
    length = b1 & 0x7F
    if length == 126:
        (length,) = struct.unpack(">H", read_exact(2))
    elif length == 127:
        (length,) = struct.unpack(">Q", read_exact(8))
    return b0 & 0x0F, read_exact(length)


deadline = time.time() + 25
opcode, first = frame()
if b'"hello"' not in first:
    sys.exit(f"first frame is not the hello: {first[:200]!r}")
while time.time() < deadline:
    opcode, data = frame()
    if opcode == 8:
        sys.exit("server closed the stream")
    if marker.encode() in data:
        print("ok: WebSocket through the proxy received the event")
        sys.exit(0)
sys.exit("no event frame with the marker")
