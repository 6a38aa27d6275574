"""HTTP/2 benchmark: sockweb (--http2, h2c by prior knowledge) against granian (--http 2), with h2load.

Each server runs one process pinned to core 0 (`taskset -c 0`), h2load runs pinned to core 1, and both
serve the plain WSGI apps of bench/apps/benchapps.py. Workloads:

  hello         GET, 13-byte body: 10 connections x 32 concurrent streams (h2load -c 10 -m 32)
  sleep10ms     the app sleeps 10 ms (a blocking call): 10 connections x 32 streams
  download1MiB  1 MiB responses over ONE connection with 8 concurrent streams (h2load -c 1 -m 8)

Each measurement is a warm-up then `--duration` seconds (h2load -D), in `--rounds` rounds alternating
between the servers (each keeps its best round); the report is requests per second, requests per server
CPU-second, and sockweb/granian ratios from this one run, as markdown on stdout. From the repo root:

    python bench/bench_h2.py --duration 5 --rounds 3

Needs h2load (Debian package nghttp2-client) and granian (pip install granian) for the comparison.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_server import APPS, PY, cpu_seconds, free_port, stop, wait_port

PEERS = {
    "sockweb": lambda app, port: [
        PY, "-m", "sockweb", "serve", f"benchapps:{app}", "--bind", f"127.0.0.1:{port}", "--http2",
    ],
    "granian": lambda app, port: [
        "granian", "--interface", "wsgi", "--http", "2", "--workers", "1", "--host", "127.0.0.1",
        "--port", str(port), "--log-level", "warning", f"benchapps:{app}",
    ],
}  # fmt: skip
# name -> (app, connections, streams per connection)
WORKLOADS: dict[str, tuple[str, int, int]] = {
    "hello": ("hello", 10, 32),
    "sleep10ms": ("sleep10", 10, 32),
    "download1MiB": ("download", 1, 8),
}
# workload -> minimum ratio sockweb/granian (the targets of the HTTP/2 work)
TARGETS = {"hello": 1.0, "sleep10ms": 1.0, "download1MiB": 1.0}


def start(peer: str, app: str, port: int) -> subprocess.Popen[bytes]:
    cmd = ["taskset", "-c", "0", *PEERS[peer](app, port)]
    # The apps, then whatever PYTHONPATH names (a checkout's src/ instead of the installed sockweb).
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(APPS), os.environ.get("PYTHONPATH")]))
    )
    proc = subprocess.Popen(cmd, cwd=APPS, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc)
    except BaseException:
        stop(proc)
        raise
    return proc


def h2load(port: int, conns: int, streams: int, seconds: float) -> tuple[float, int]:
    """(requests per second, failed requests) of one h2load run (cleartext, prior knowledge)."""
    cmd = [
        "taskset", "-c", "1", "h2load", "-c", str(conns), "-m", str(streams), "-D", str(max(1, round(seconds))),
        f"http://127.0.0.1:{port}/",
    ]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60).stdout
    rps = re.search(r"finished in [\d.]+\w*, ([\d.]+) req/s", out)
    failed = re.search(r"requests: \d+ total, \d+ started, \d+ done, \d+ succeeded, (\d+) failed", out)
    if rps is None or failed is None:
        raise RuntimeError(f"unexpected h2load output:\n{out}")
    return float(rps.group(1)), int(failed.group(1))


def measure(peer: str, workload: str, seconds: float, warmup: float) -> tuple[float, int, float]:
    """(requests per second, failed requests, requests per server CPU-second)."""
    app, conns, streams = WORKLOADS[workload]
    port = free_port()
    proc = start(peer, app, port)
    try:
        h2load(port, conns, streams, warmup)
        cpu = cpu_seconds(proc.pid)
        rps, failed = h2load(port, conns, streams, seconds)
        used = cpu_seconds(proc.pid) - cpu
        return rps, failed, (rps * seconds / used if used > 0 else 0.0)
    finally:
        stop(proc)


def markdown(results: dict[str, dict[str, tuple[float, int, float]]], peers: list[str]) -> str:
    lines = [
        "| workload | " + " | ".join(peers) + " | sockweb / granian | target |",
        "|---|" + "---:|" * (len(peers) + 2),
    ]
    for workload, row in results.items():
        cells = []
        for peer in peers:
            rps, failed, per_cpu = row.get(peer, (0.0, 0, 0.0))
            cell = f"{rps:,.0f} rps ({per_cpu:,.0f}/CPU-s)"
            cells.append(cell + (f" [{failed} failed]" if failed else ""))
        ours, theirs = row.get("sockweb", (0.0,))[0], row.get("granian", (0.0,))[0]
        ratio = f"{ours / theirs:.2f}x" if ours and theirs else "n/a"
        lines.append(f"| {workload} | " + " | ".join(cells) + f" | {ratio} | >= {TARGETS[workload]:.1f}x |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--servers", default="sockweb,granian")
    args = parser.parse_args(argv)
    if shutil.which("h2load") is None:
        print("h2load is not installed (Debian package nghttp2-client)", file=sys.stderr)
        return 2
    peers = [p for p in args.servers.split(",") if p != "granian" or shutil.which("granian")]
    results: dict[str, dict[str, tuple[float, int, float]]] = {}
    for workload in args.workloads.split(","):
        row = results.setdefault(workload, {})
        for _ in range(args.rounds):
            for peer in peers:
                got = measure(peer, workload, args.duration, args.warmup)
                if got[0] > row.get(peer, (0.0,))[0]:
                    row[peer] = got
    print(markdown(results, peers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
