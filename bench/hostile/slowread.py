"""Slow readers: clients with a tiny receive window that ask for a large response and never read it.

One group of readers per response shape of the fixture app (one-piece body, generator body, file_wrapper
body, chunked body). The server cannot finish writing to them; it should give up after its body timeout
(sockweb's ``--body-timeout``) and keep serving everyone else meanwhile. The client cannot see a close it
does not read, so the server side of each connection is watched in /proc/net/tcp (Linux): a server-side
socket that leaves ESTABLISHED (FIN_WAIT1 after close(), or gone after a reset) was dropped. Counts:
``SHAPE-dropped`` / ``SHAPE-held`` at the bound; numbers: the latest drop per shape (s after the request)
and probe latency/failures for ordinary requests made meanwhile.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from pathlib import Path

from .servers import BODY_TIMEOUT, Server
from .wire import Result, connect, percentile, probe

SHAPES = ("big", "gen", "file", "chunked")
MARGIN = 5.0
ESTABLISHED = "01"


def server_side_states(server_port: int) -> dict[int, str]:
    """client port -> TCP state (hex, as /proc shows it) of each server-side socket of `server_port`."""
    states: dict[int, str] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if local_port == server_port and remote_port:
                states[remote_port] = fields[3]
    return states


def slowread(server: Server, quick: bool) -> Result:
    per_shape = 2 if quick else 25
    bound = BODY_TIMEOUT + MARGIN if quick else BODY_TIMEOUT + 3 * MARGIN
    result = Result("slowread", server.kind)
    readers: list[tuple[str, socket.socket, int]] = []
    latencies: list[float] = []
    failures = 0
    stop = threading.Event()

    def probing() -> None:
        nonlocal failures
        while not stop.is_set():
            elapsed = probe(server.port, timeout=5.0)
            if elapsed is None:
                failures += 1
            else:
                latencies.append(elapsed)
            stop.wait(0.2)

    start = time.monotonic()
    for shape in SHAPES:
        for _ in range(per_shape):
            sock = connect(server.port, timeout=5, rcvbuf=4096)
            sock.sendall(f"GET /{shape} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            readers.append((shape, sock, sock.getsockname()[1]))
    prober = threading.Thread(target=probing, daemon=True)
    prober.start()
    dropped_at: dict[int, float] = {}
    try:
        while time.monotonic() - start < bound and len(dropped_at) < len(readers):
            states = server_side_states(server.port)
            now = time.monotonic() - start
            for _, _, port in readers:
                if port not in dropped_at and states.get(port) != ESTABLISHED:
                    dropped_at[port] = now
            time.sleep(0.25)
    finally:
        stop.set()
        prober.join(6)
        for _, sock, _ in readers:
            # a reset, so the server is not left pushing 32 MiB to a closed window
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
    for shape in SHAPES:
        times = [dropped_at[p] for s, _, p in readers if s == shape and p in dropped_at]
        result.counts[f"{shape}-dropped"] += len(times)
        result.counts[f"{shape}-held"] += per_shape - len(times)
        if times:
            result.numbers[f"{shape}_drop_s"] = round(max(times), 1)
    result.numbers["bound_s"] = bound
    result.numbers["probes"] = len(latencies) + failures
    result.numbers["probe_failures"] = failures
    result.numbers["probe_p99_ms"] = round(percentile(latencies, 99) * 1000, 1)
    return result
