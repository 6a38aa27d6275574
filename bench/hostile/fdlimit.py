"""File-descriptor exhaustion: more connections than the server's RLIMIT_NOFILE allows.

The server runs with a low descriptor limit (`NOFILE`, set by the runner). A few keep-alive connections
are opened and used first; then many more connections are opened and held, so accept() fails with EMFILE
while they last. Meanwhile the first connections send a request every second: a server that spins on the failing
accept() burns a core and floods its log, one that backs off stays quiet and keeps serving the
connections it has. Counts: ``existing-served`` / ``existing-failed``, ``after-served`` /
``after-failed`` (a new connection once the flood is gone); numbers: CPU % of the server over the flood,
log bytes written during it.
"""

from __future__ import annotations

import socket
import time

from .servers import Server
from .wire import Closed, Result, Timeout, connect, probe, read_response

NOFILE = 64


def fdlimit(server: Server, quick: bool) -> Result:
    flood, duration = (200, 5.0) if quick else (1000, 20.0)
    result = Result("fdlimit", server.kind)
    existing = [connect(server.port) for _ in range(3)]
    for sock in existing:
        _request(sock)  # accepted and served before the flood
    held: list[socket.socket] = []
    log0, cpu0, t0 = server.log_size(), server.cpu_seconds(), time.monotonic()
    for _ in range(flood):
        try:
            held.append(connect(server.port, timeout=1))
        except OSError:
            result.counts["flood-connect-failed"] += 1
    try:
        # The first connections ask again every second while the flood lasts (well within any keep-alive
        # timeout, so a close is the server failing them, not an idle connection being retired).
        while time.monotonic() - t0 < duration:
            time.sleep(1.0)
            for sock in existing:
                result.counts["existing-served" if _request(sock) else "existing-failed"] += 1
        elapsed = time.monotonic() - t0
        cpu = server.cpu_seconds() - cpu0
        log_bytes = server.log_size() - log0
    finally:
        for sock in held + existing:
            sock.close()
    served_after = any(probe(server.port) is not None or time.sleep(0.5) for _ in range(10))
    result.counts["after-served" if served_after else "after-failed"] += 1
    result.numbers["nofile"] = NOFILE
    result.numbers["flood"] = flood
    result.numbers["seconds"] = round(elapsed, 1)
    result.numbers["cpu_pct"] = round(100 * cpu / elapsed, 1)
    result.numbers["log_bytes"] = log_bytes
    return result


def _request(sock: socket.socket) -> bool:
    try:
        sock.sendall(b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        return read_response(sock, bytearray(), time.monotonic() + 5).status == 200
    except (OSError, Closed, Timeout):
        return False
