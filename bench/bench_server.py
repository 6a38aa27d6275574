"""WSGI server benchmark: sockweb against its peers, one process each, with wrk.

Each server runs one process pinned to core 0 (`taskset -c 0`), wrk runs pinned to core 1, and every
server serves the same plain WSGI apps (bench/apps/benchapps.py). Workloads:

  browser       the headline: GET with browser-like heads that never repeat (bench/browser.lua: ~620
                bytes, 11 fields; path, query, Referer and cookies vary, six real User-Agents), 13-byte
                body, keep-alive, 50 connections
  hello         GET, 13-byte body, keep-alive, 50 connections: wrk's one head, repeated
  hello-unique  the same with a new target on every request (bench/unique.lua): no head repeats
  pipeline16    the same with 16 requests per write (bench/pipeline.lua), 50 connections
  sleep10ms     the app sleeps 10 ms (a blocking call), 256 connections
  download1MiB  a 1 MiB response body, 16 connections
  upload1MiB    a 1 MiB request body read by the app (bench/upload.lua), 16 connections

plus the resident memory of sockweb holding 10,000 idle keep-alive connections (--rss).
Each measurement is a 1 s warm-up then `--duration` seconds, in `--rounds` rounds that alternate between
the servers (each keeps its best round); the report is rps, requests per server CPU-second, and
ours/peer ratios from this one run (markdown on stdout, and a chart with --chart). From the repo root:

    python bench/bench_server.py --duration 5 --rss --chart docs/bench-server.png

With `--workers N` (N > 1) each server that can run several processes is measured twice per round, with
one process and with N, nothing pinned (the servers and wrk share the machine's cores), and the report is
the scaling factor from one process to N:

    python bench/bench_server.py --workers 2 --workloads browser,hello --servers sockweb,granian,gunicorn-gthread

The cost of the metrics (``--metrics-bind``) is the ours/peer ratio of the peer ``sockweb+metrics``:

    python bench/bench_server.py --workloads hello-unique --servers sockweb,sockweb+metrics
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
APPS = HERE / "apps"
PY = sys.executable

# (app, port, processes) -> command line
Command = Callable[[str, int, int], list[str]]
SOCKWEB_ARGS: list[str] = []  # --sockweb-args, e.g. "--dispatch pool"

PEERS: dict[str, Command] = {
    "sockweb": lambda app, port, workers: [
        PY,
        "-m",
        "sockweb",
        "serve",
        f"benchapps:{app}",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        *SOCKWEB_ARGS,
    ],
    "granian": lambda app, port, workers: [
        "granian",
        "--interface",
        "wsgi",
        "--workers",
        str(workers),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        f"benchapps:{app}",
    ],
    "gunicorn-sync": lambda app, port, workers: [
        PY,
        "-m",
        "gunicorn",
        "-w",
        str(workers),
        "-k",
        "sync",
        "-b",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        f"benchapps:{app}",
    ],
    "gunicorn-gthread": lambda app, port, workers: [
        PY,
        "-m",
        "gunicorn",
        "-w",
        str(workers),
        "-k",
        "gthread",
        "--threads",
        "8",
        "-b",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        f"benchapps:{app}",
    ],
    "waitress": lambda app, port, workers: [
        PY,
        "-m",
        "waitress",
        f"--listen=127.0.0.1:{port}",
        f"benchapps:{app}",
    ],
    "cheroot": lambda app, port, workers: [PY, "run_peer.py", "cheroot", f"benchapps:{app}", str(port)],
    "werkzeug": lambda app, port, workers: [PY, "run_peer.py", "werkzeug", f"benchapps:{app}", str(port)],
    "uvicorn+a2wsgi": lambda app, port, workers: [
        PY,
        "-m",
        "uvicorn",
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        f"asgi_apps:{app}",
    ],
    "bjoern": lambda app, port, workers: [PY, "run_peer.py", "bjoern", f"benchapps:{app}", str(port)],
}
# sockweb with its metrics listener on (a free port), so one run gives the cost of --metrics-bind.
PEERS["sockweb+metrics"] = lambda app, port, workers: [
    *PEERS["sockweb"](app, port, workers),
    "--metrics-bind",
    "127.0.0.1:0",
]
OPTIONAL = {"bjoern": "bjoern", "granian": "granian", "uvicorn+a2wsgi": "a2wsgi", "cheroot": "cheroot"}
# The servers whose command above runs `workers` processes; the others serve from one process only.
MULTIPROCESS = (
    "sockweb",
    "sockweb+metrics",
    "granian",
    "gunicorn-sync",
    "gunicorn-gthread",
    "uvicorn+a2wsgi",
)

# name -> (app, connections, wrk script); the first is the headline
WORKLOADS: dict[str, tuple[str, int, str | None]] = {
    "browser": ("hello", 50, "browser.lua"),
    "hello": ("hello", 50, None),
    "hello-unique": ("hello", 50, "unique.lua"),
    "pipeline16": ("hello", 50, "pipeline.lua"),
    "sleep10ms": ("sleep10", 256, None),
    "download1MiB": ("download", 16, None),
    "upload1MiB": ("upload", 16, "upload.lua"),
}
# How the workloads are named in the report, where the name alone could mislead.
LABELS = {"browser": "browser (headline)", "hello": "hello (repeated head)"}
# workload -> [(peer, minimum ratio ours/peer)]
TARGETS = {
    "browser": [("granian", 1.2), ("bjoern", 0.8)],
    "hello-unique": [("granian", 1.2)],
    "hello": [("granian", 1.0), ("gunicorn-gthread", 10.0)],
    "pipeline16": [("granian", 1.0)],
    "sleep10ms": [("granian", 0.8)],
    "download1MiB": [("granian", 1.0)],
    "upload1MiB": [("granian", 1.0)],
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start")


def start(peer: str, app: str, port: int, workers: int = 1, pinned: bool = True) -> subprocess.Popen[bytes]:
    cmd = [*(["taskset", "-c", "0"] if pinned else []), *PEERS[peer](app, port, workers)]
    env = dict(os.environ, PYTHONPATH=str(APPS))
    proc = subprocess.Popen(cmd, cwd=APPS, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc)
    except BaseException:
        stop(proc)
        raise
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def wrk(port: int, conns: int, seconds: float, script: str | None, pinned: bool = True) -> tuple[float, int]:
    """(requests per second, errors) from one wrk run, pinned to core 1 unless `pinned` is false."""
    cmd = [
        *(["taskset", "-c", "1"] if pinned else []),
        "wrk",
        "-t1",
        f"-c{conns}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
    ]
    if script:
        cmd += ["-s", str(HERE / script)]
    cmd.append(f"http://127.0.0.1:{port}/")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = 0
    for m in re.finditer(
        r"Non-2xx or 3xx responses: (\d+)|Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
        out,
    ):
        errors += sum(int(g) for g in m.groups() if g)
    return rps, errors


def _descendants(pid: int) -> list[int]:
    out = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in task.read_text().split():
            out.extend(_descendants(int(child)))
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of `pid` and its descendants (all threads)."""
    ticks = 0
    for p in _descendants(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def measure(
    peer: str, workload: str, seconds: float, warmup: float, workers: int = 1, pinned: bool = True
) -> tuple[float, int, float]:
    """(requests per second, errors, requests per server CPU-second).

    `pinned`: the server on core 0 and wrk on core 1; else both go where the kernel puts them.
    """
    app, conns, script = WORKLOADS[workload]
    port = free_port()
    proc = start(peer, app, port, workers, pinned)
    try:
        # The warm-up also covers the time a multi-process server takes to boot its workers.
        wrk(port, conns, warmup, script, pinned)
        cpu = cpu_seconds(proc.pid)
        rps, errors = wrk(port, conns, seconds, script, pinned)
        used = cpu_seconds(proc.pid) - cpu
        return rps, errors, (rps * seconds / used if used > 0 else 0.0)
    finally:
        stop(proc)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def _open_idle(port: int, n: int) -> list[asyncio.StreamWriter]:
    writers: list[asyncio.StreamWriter] = []
    request = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"

    async def one() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        await reader.readuntil(b"Hello, World!")
        writers.append(writer)

    for start_at in range(0, n, 500):
        await asyncio.gather(*(one() for _ in range(start_at, min(n, start_at + 500))))
    return writers


def rss_check(n: int = 10_000) -> tuple[int, int, int]:
    """(RSS KiB before, RSS KiB with `n` idle keep-alive connections, connections held)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    port = free_port()
    cmd = [
        "taskset",
        "-c",
        "0",
        PY,
        "-m",
        "sockweb",
        "serve",
        "benchapps:hello",
        "--bind",
        f"127.0.0.1:{port}",
        "--keepalive-timeout",
        "300",
    ]
    proc = subprocess.Popen(
        cmd,
        cwd=APPS,
        env=dict(os.environ, PYTHONPATH=str(APPS)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port, proc)
        time.sleep(0.3)
        before = rss_kib(proc.pid)
        loop = asyncio.new_event_loop()
        writers = loop.run_until_complete(_open_idle(port, n))
        time.sleep(1.0)
        after = rss_kib(proc.pid)
        for w in writers:
            w.close()
        loop.run_until_complete(asyncio.sleep(0.1))
        loop.close()
        return before, after, len(writers)
    finally:
        stop(proc)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def available(peer: str) -> bool:
    module = OPTIONAL.get(peer)
    if peer == "granian" and shutil.which("granian") is None:
        return False
    return module is None or importlib.util.find_spec(module) is not None


Results = dict[str, dict[str, tuple[float, int, float]]]
# workload -> server -> the requests per second of each round, in order (for the median of per-round ratios)
Rounds = dict[str, dict[str, list[float]]]


def _table(results: Results, peers: list[str], index: int) -> list[str]:
    lines = ["| workload | " + " | ".join(peers) + " |", "|---|" + "---:|" * len(peers)]
    for workload, row in results.items():
        ours = row.get("sockweb", (0.0, 0, 0.0))[index]
        cells = []
        for peer in peers:
            value = row.get(peer, (0.0, 0, 0.0))[index]
            if value <= 0:
                cells.append("n/a (no request completed)")
                continue
            cell = f"{value:,.0f}"
            if peer != "sockweb" and value > 0 and ours > 0:
                cell += f" ({ours / value:.2f}x)"
            errors = row.get(peer, (0.0, 0, 0.0))[1]
            if errors and index == 0:
                cell += f" [{errors} err]"
            cells.append(cell)
        lines.append(f"| {LABELS.get(workload, workload)} | " + " | ".join(cells) + " |")
    return lines


def headline(results: Results, peers: list[str]) -> list[str]:
    """One line for the first workload measured (`browser` unless --workloads says otherwise)."""
    workload = next(iter(results), None)
    if workload is None:
        return []
    row = results[workload]
    parts = [f"{peer} {row[peer][0]:,.0f}" for peer in peers if row.get(peer, (0.0,))[0] > 0]
    return [f"Headline ({workload}), requests per second: " + ", ".join(parts), ""]


def median_ratio(rounds: Rounds, workload: str, peer: str) -> float | None:
    """The median over rounds of sockweb's rps / the peer's in the same round (rounds interleave servers)."""
    ours, theirs = rounds.get(workload, {}).get("sockweb", []), rounds.get(workload, {}).get(peer, [])
    ratios = [a / b for a, b in zip(ours, theirs, strict=False) if a > 0 and b > 0]
    return statistics.median(ratios) if ratios else None


def markdown(results: Results, peers: list[str], rounds: Rounds | None = None) -> str:
    lines = headline(results, peers)
    lines += [
        "Requests per second (in parentheses: sockweb / peer; above 1.00x means sockweb is faster):",
        "",
    ]
    lines += _table(results, peers, 0)
    lines += [
        "",
        "Requests per CPU-second of the server process tree (efficiency, immune to CPU sharing):",
        "",
    ]
    lines += _table(results, peers, 2)
    if any(p != "sockweb" for p in peers):
        lines += [
            "",
            "| target | ratio of best rounds | median of per-round ratios | met (median)? |",
            "|---|---:|---:|---|",
        ]
        for workload, targets in TARGETS.items():
            row = results.get(workload, {})
            for peer, minimum in targets:
                if peer in row and "sockweb" in row and row[peer][0] > 0:
                    ratio = row["sockweb"][0] / row[peer][0]
                    median = median_ratio(rounds or {}, workload, peer)
                    judged = ratio if median is None else median
                    shown = "n/a" if median is None else f"{median:.2f}x"
                    met = "yes" if judged >= minimum else "NO"
                    lines.append(f"| {workload}: >= {minimum:g}x {peer} | {ratio:.2f}x | {shown} | {met} |")
    return "\n".join(lines)


def scaling_markdown(single: Results, multi: Results, peers: list[str], workers: int) -> str:
    """--workers N: requests per second with 1 and N processes, and the factor between them, per server."""
    lines = [
        f"One process against {workers}, nothing pinned: the servers and wrk share the machine's cores.",
        "",
        f"| workload | server | 1 process (rps) | {workers} processes (rps) | scaling 1 -> {workers} "
        f"| req/CPU-s, 1 | req/CPU-s, {workers} |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for workload, row in multi.items():
        for peer in peers:
            one, many = single[workload][peer], row[peer]
            factor = f"{many[0] / one[0]:.2f}x" if one[0] > 0 and many[0] > 0 else "n/a"
            errors = f" [{one[1] + many[1]} err]" if one[1] + many[1] else ""
            lines.append(
                f"| {LABELS.get(workload, workload)} | {peer} | {one[0]:,.0f} | {many[0]:,.0f}{errors} "
                f"| {factor} | {one[2]:,.0f} | {many[2]:,.0f} |"
            )
    return "\n".join(lines)


def chart(results: Results, peers: list[str], path: str, workers: int = 1) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workloads = list(results)
    fig, ax = plt.subplots(figsize=(11, 5.5))
    width = 0.8 / len(peers)
    # Red is sockweb's alone: the peers take the other colours of the tab10 cycle.
    palette = [c for j, c in enumerate(plt.get_cmap("tab10").colors) if j != 3]
    for i, peer in enumerate(peers):
        values = [max(results[w].get(peer, (0.0, 0, 0.0))[0], 0.0) or float("nan") for w in workloads]
        xs = [j + i * width for j in range(len(workloads))]
        color = "#d62728" if peer == "sockweb" else palette[i % len(palette)]
        bars = ax.bar(xs, values, width, label=peer, color=color)
        if peer == "sockweb":
            for bar in bars:
                bar.set_edgecolor("black")
    ax.set_yscale("log")
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(workloads))])
    ax.set_xticklabels([LABELS.get(w, w) for w in workloads], fontsize=8)
    ax.set_ylabel("requests per second (log scale)")
    setup = (
        "one process on one core, wrk on the other"
        if workers == 1
        else f"{workers} processes, sharing the cores with wrk"
    )
    ax.set_title(f"WSGI servers, {setup} (higher is better)")
    ax.legend(ncol=3, fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def run_rounds(
    peers: list[str],
    workloads: list[str],
    args: argparse.Namespace,
    modes: list[tuple[int, bool]],
    rounds: Rounds | None = None,
) -> list[Results]:
    """One Results per mode (processes, pinned); every round measures every mode of every server in turn.
    With `rounds`, the first mode's rps of every round is recorded there too."""
    runs: list[Results] = [{} for _ in modes]
    for workload in workloads:
        for results in runs:
            results[workload] = dict.fromkeys(peers, (0.0, 0, 0.0))
        if rounds is not None:
            rounds[workload] = {peer: [] for peer in peers}
        # Rounds alternate between the servers (and modes), so a burst of load on the shared machine does
        # not fall on one of them only; each keeps its best round (rps, and CPU efficiency independently).
        for round_no in range(args.rounds):
            for peer in peers:
                for results, (workers, pinned) in zip(runs, modes, strict=True):
                    try:
                        got = measure(peer, workload, args.duration, args.warmup, workers, pinned)
                    except Exception as exc:  # one broken peer must not spoil the run
                        print(f"# {peer} {workload}: {exc}", file=sys.stderr)
                        got = (0.0, 0, 0.0)
                    best = results[workload][peer]
                    results[workload][peer] = (max(best[0], got[0]), best[1] + got[1], max(best[2], got[2]))
                    if rounds is not None and results is runs[0]:
                        rounds[workload][peer].append(got[0])
                    rps, errors, per_cpu = got
                    print(
                        f"# {workload:13} {peer:17} x{workers} round {round_no + 1}: {rps:12,.0f} rps "
                        f"{per_cpu:12,.0f} req/CPU-s  {errors} errors",
                        file=sys.stderr,
                        flush=True,
                    )
    return runs


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds; the best is kept")
    parser.add_argument(
        "--servers", help="comma-separated (default: all; with --workers, the multi-process ones)"
    )
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--rss", action="store_true", help="also measure RSS with 10,000 idle connections")
    parser.add_argument("--chart", metavar="PNG", help="write a bar chart of the results")
    parser.add_argument("--sockweb-args", default="", help="extra options for sockweb serve")
    parser.add_argument("--connections", type=int, help="override every workload's connection count")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="N > 1: measure each server with 1 and N processes, unpinned, and report the scaling factor",
    )
    args = parser.parse_args()
    SOCKWEB_ARGS.extend(args.sockweb_args.split())
    if args.connections:
        for name, (app, _, script) in list(WORKLOADS.items()):
            WORKLOADS[name] = (app, args.connections, script)
    default_servers = tuple(
        p
        for p in (MULTIPROCESS if args.workers > 1 else PEERS)
        if p != "sockweb+metrics"  # only when named
    )
    peers = [p for p in (args.servers or ",".join(default_servers)).split(",") if p]
    unknown = [p for p in peers if p not in PEERS] + [
        w for w in args.workloads.split(",") if w and w not in WORKLOADS
    ]
    if unknown:
        parser.error(f"unknown server or workload: {', '.join(unknown)}")
    single_only = [p for p in peers if args.workers > 1 and p not in MULTIPROCESS]
    skipped = [p for p in peers if not available(p)]
    peers = [p for p in peers if p not in skipped and p not in single_only]
    workloads = [w for w in args.workloads.split(",") if w]
    if args.workers > 1:
        single, multi = run_rounds(peers, workloads, args, [(1, False), (args.workers, False)])
        print(scaling_markdown(single, multi, peers, args.workers))
        results = multi
    else:
        rounds: Rounds = {}
        (results,) = run_rounds(peers, workloads, args, [(1, True)], rounds)
        print(markdown(results, peers, rounds))
    if skipped:
        print(f"\nNot installed, skipped: {', '.join(skipped)}")
    if single_only:
        print(f"\nOne process only, skipped with --workers: {', '.join(single_only)}")
    if args.rss:
        before, after, held = rss_check()
        print(
            f"\nsockweb RSS: {before / 1024:.1f} MiB idle, {after / 1024:.1f} MiB with {held:,} idle keep-alive "
            f"connections (target < 100 MiB: {'met' if after < 100 * 1024 else 'NOT met'})"
        )
    if args.chart:
        chart(results, peers, args.chart, args.workers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
