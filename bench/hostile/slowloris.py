"""Slow clients on the request side: heads sent one byte a second (slowloris), and bodies that stall.

slowloris: N connections each send a request head one byte per second and never finish it, while a probe
sends an ordinary GET every 50 ms on a new connection and times it. A server that parks a worker on each
slow head stops answering the probe; one that reads heads without blocking answers it as usual and drops
each slow head when its head timeout passes. Counts: slow connections closed by the server or still
open at the end; numbers: probe p50/p99 (ms), probe failures (no answer within 5 s), and the longest a
slow head was held.

slowbody: connections send a head announcing 1000 bytes of body, 10 of them, then nothing. Outcome per
connection (status, close, reset, hang) within the body timeout plus a margin.
"""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from .servers import BODY_TIMEOUT, HEADER_TIMEOUT, Server
from .wire import Result, connect, exchange, percentile, probe

PROBE_TIMEOUT = 5.0
HEAD = b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"".join(
    b"X-Slow-%d: %s\r\n" % (i, b"a" * 20) for i in range(200)
)


def slowloris(server: Server, quick: bool) -> Result:
    n, duration = (50, HEADER_TIMEOUT + 4) if quick else (500, 30.0)
    result = Result("slowloris", server.kind)
    latencies: list[float] = []
    failures = 0
    stop = threading.Event()

    def probing() -> None:
        nonlocal failures
        while not stop.is_set():
            elapsed = probe(server.port, timeout=PROBE_TIMEOUT)
            if elapsed is None:
                failures += 1
            else:
                latencies.append(elapsed)
            stop.wait(0.05)

    socks: dict[socket.socket, int] = {}  # socket -> bytes of HEAD sent
    held: list[float] = []
    start = time.monotonic()
    for _ in range(n):
        try:
            sock = connect(server.port, timeout=2)
        except OSError:
            result.counts["connect-failed"] += 1
            continue
        sock.setblocking(False)
        socks[sock] = 0
    prober = threading.Thread(target=probing, daemon=True)
    prober.start()
    try:
        while time.monotonic() - start < duration and socks:
            for sock in list(socks):
                outcome = _poke(sock, socks[sock])
                if outcome is None:
                    socks[sock] += 1
                    continue
                result.counts[outcome] += 1
                held.append(time.monotonic() - start)
                del socks[sock]
                sock.close()
            time.sleep(1.0)
    finally:
        stop.set()
        prober.join(PROBE_TIMEOUT + 1)
        result.counts["still-open"] += len(socks)
        for sock in socks:
            sock.close()
    result.numbers["connections"] = n
    result.numbers["probes"] = len(latencies) + failures
    result.numbers["probe_failures"] = failures
    result.numbers["probe_p50_ms"] = round(percentile(latencies, 50) * 1000, 1)
    result.numbers["probe_p99_ms"] = round(percentile(latencies, 99) * 1000, 1)
    result.numbers["held_max_s"] = round(max(held), 1) if held else round(time.monotonic() - start, 1)
    return result


def _poke(sock: socket.socket, sent: int) -> str | None:
    """Send the next byte of the head; the outcome if the server answered or closed, else None."""
    try:
        data = sock.recv(4096)
    except BlockingIOError:
        data = None
    except (ConnectionResetError, BrokenPipeError):
        return "reset"
    if data == b"":
        return "closed"
    if data:
        return (
            "answered-" + data.split(b" ", 2)[1].decode("latin-1", "replace") if b" " in data else "answered"
        )
    try:
        sock.send(HEAD[sent % len(HEAD) : sent % len(HEAD) + 1])
    except (ConnectionResetError, BrokenPipeError):
        return "reset"
    except BlockingIOError:
        pass
    return None


def slowbody(server: Server, quick: bool) -> Result:
    n = 10 if quick else 100
    bound = BODY_TIMEOUT + 4
    raw = b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n" + b"x" * 10
    result = Result("slowbody", server.kind)
    start = time.monotonic()
    with ThreadPoolExecutor(min(n, 32)) as pool:
        for outcome in pool.map(lambda _: exchange(server.port, raw, bound, half_close=False), range(n)):
            result.counts[outcome] += 1
    result.numbers["seconds"] = round(time.monotonic() - start, 1)
    result.numbers["bound_s"] = bound
    return result
