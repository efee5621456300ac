#!/usr/bin/env python3
"""Loopback targets for the service-check benchmark, in a process of their own (so their CPU is
measured apart from TaylorDash's): an HTTP server answering `200 ok` to every request and
closing, and a TCP port that accepts and closes.

Usage:  python3 bench/check_targets.py HTTP_PORT TCP_PORT
Prints "ready" once both listen; counts requests and connections, printed on SIGTERM.
"""

from __future__ import annotations

import asyncio
import signal
import sys

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
counts = {"http": 0, "tcp": 0}


async def http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        writer.write(RESPONSE)
        await writer.drain()
        counts["http"] += 1
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError, OSError):
        pass
    finally:
        writer.close()


async def tcp(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    counts["tcp"] += 1
    writer.close()


async def main(http_port: int, tcp_port: int) -> None:
    a = await asyncio.start_server(http, "127.0.0.1", http_port, backlog=4096)
    b = await asyncio.start_server(tcp, "127.0.0.1", tcp_port, backlog=4096)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    print("ready", flush=True)
    async with a, b:
        await stop.wait()
    print(f"http={counts['http']} tcp={counts['tcp']}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
