"""The whole server's instructions per request, under callgrind: stable where wall-clock rates are not.

``sockweb serve`` runs under valgrind's callgrind (one process, the default settings plus any options given
after ``--``) and a client on 127.0.0.1 sends hello-unique requests (wrk's head with a new target each time,
as bench/unique.lua) or browser-like heads (bench/browser_heads.py) over a few keep-alive connections, one
request in flight on each, reading every response before the next. Two runs of different lengths are
measured and their difference divided by the difference in requests, so the start-up, the imports and the
shutdown cancel out. Unlike bench/bench_request_path.py, the event loop's own reads and writes and every
layer between them are in the count (the kernel's work is not: callgrind sees user space only).

The cost of an option is then the difference of two commands, e.g. the metrics (``--metrics-bind``):

    python bench/bench_server_instructions.py --workload hello-unique
    python bench/bench_server_instructions.py --workload hello-unique -- --metrics-bind 127.0.0.1:0

Each run takes a minute or two (valgrind runs the server about 50x slower).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import callgrind  # noqa: E402
from browser_heads import head as browser_head  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def requests(workload: str, port: int, n: int) -> Iterator[bytes]:
    if workload == "browser":
        for i in range(1, n + 1):
            yield browser_head(i, f"127.0.0.1:{port}")
        return
    for i in range(1, n + 1):
        yield f"GET /?{i} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()


def read_response(sock: socket.socket, buf: bytearray) -> None:
    """One response (a Content-Length body) off `sock`; what follows stays in `buf`."""
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            match = re.search(rb"(?im)^content-length:\s*(\d+)", bytes(buf[:end]))
            assert match is not None, bytes(buf[:end])
            total = end + 4 + int(match.group(1))
            if len(buf) >= total:
                del buf[:total]
                return
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        buf += chunk


def drive(port: int, heads: list[bytes], connections: int) -> None:
    socks = [socket.create_connection(("127.0.0.1", port), timeout=120) for _ in range(connections)]
    bufs = [bytearray() for _ in socks]
    try:
        for i in range(0, len(heads), connections):
            batch = heads[i : i + connections]
            for sock, head in zip(socks, batch, strict=False):
                sock.sendall(head)
            for sock, buf, _ in zip(socks, bufs, batch, strict=False):
                read_response(sock, buf)
    finally:
        for sock in socks:
            sock.close()


def wait_ready(port: int, proc: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError("the server did not start")


def instructions(workload: str, n: int, extra: list[str], connections: int) -> int:
    """Instructions callgrind counts for a server that served `n` requests (start-up included)."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        argv = [
            sys.executable,
            "-m",
            "sockweb",
            "serve",
            "benchapps:hello",
            "--bind",
            f"127.0.0.1:{port}",
            "--chdir",
            str(HERE / "apps"),
            *extra,
        ]
        cmd = callgrind.command(os.path.join(tmp, "callgrind.out"), argv)
        proc = subprocess.Popen(cmd, env=callgrind.ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_ready(port, proc, time.monotonic() + 300)
            drive(port, list(requests(workload, port, n)), connections)
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=300)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        return callgrind.totals(tmp)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workload", default="hello-unique", choices=("hello-unique", "browser"))
    ap.add_argument("--requests", type=int, default=4000, help="requests of the longer run")
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("extra", nargs="*", help="options for sockweb serve (after --)")
    args = ap.parse_args()
    short = args.requests // 4
    a = instructions(args.workload, short, args.extra, args.connections)
    b = instructions(args.workload, args.requests, args.extra, args.connections)
    per = (b - a) / (args.requests - short)
    shown = " ".join(args.extra) or "(defaults)"
    print(f"{args.workload}  {shown}  {per:,.0f} instructions/request (whole server, user space)")


if __name__ == "__main__":
    main()
