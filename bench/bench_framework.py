"""Framework overhead: the same two routes in sockweb's App, Flask and Bottle, on the same server.

Each framework gets the same app: ``GET /`` returns "Hello, World!" as text/html, and
``GET /user/<int:id>`` returns ``{"id": id, "name": "user"}`` as JSON (the path converter and the JSON
encoder both run). Every app is served by OUR server (``python -m sockweb serve``, one worker, the
server's default settings, pinned to core 0) and loaded with wrk (pinned to core 1), one framework
after the other for each route, in rounds, with the same wrk settings. The report gives each framework's best
requests per second (interference from other jobs only ever slows a run down), the ratio to Flask's best
in the same run, and the median of the per-round ratios as a cross-check.

Usage::

    python bench/bench_framework.py                     # 3 rounds of 5 s per framework and route
    python bench/bench_framework.py --duration 3 --rounds 2 --connections 32
    python bench/bench_framework.py --inprocess          # no server, no wrk: WSGI calls in-process

This file is also the module the server imports: ``bench_framework:flask_app()`` and so on.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

FRAMEWORKS = ("sockweb", "flask", "bottle")
ROUTES = {"hello": "/", "json+converter": "/user/42"}
HERE = Path(__file__).resolve().parent
_LISTENING = re.compile(r"Listening at (?:https?://)?[^:\s]+:(\d+)")


# -- the apps ---------------------------------------------------------------------------------------------


def sockweb_app() -> Any:
    from sockweb.framework import App

    app = App("bench_sockweb", static_folder=None)

    @app.get("/")
    def hello() -> str:
        return "Hello, World!"

    @app.get("/user/<int:user_id>")
    def user(user_id: int) -> dict[str, Any]:
        return {"id": user_id, "name": "user"}

    return app


def flask_app() -> Any:
    from flask import Flask

    app = Flask("bench_flask", static_folder=None)

    @app.get("/")
    def hello() -> str:
        return "Hello, World!"

    @app.get("/user/<int:user_id>")
    def user(user_id: int) -> dict[str, Any]:
        return {"id": user_id, "name": "user"}

    return app


def bottle_app() -> Any:
    import bottle

    app = bottle.Bottle()

    @app.get("/")
    def hello() -> str:
        bottle.response.content_type = "text/html; charset=utf-8"
        return "Hello, World!"

    @app.get("/user/<user_id:int>")
    def user(user_id: int) -> dict[str, Any]:
        return {"id": user_id, "name": "user"}  # Bottle serializes a dict as JSON

    return app


MAKERS: dict[str, Callable[[], Any]] = {"sockweb": sockweb_app, "flask": flask_app, "bottle": bottle_app}


def make_app(name: str) -> Any:
    """The WSGI app for one framework (the server calls the factories: ``bench_framework:flask_app()``)."""
    return MAKERS[name]()


# -- measuring --------------------------------------------------------------------------------------------


def _pin(core: int) -> list[str]:
    return ["taskset", "-c", str(core)] if shutil.which("taskset") else []


class Server:
    """``python -m sockweb serve bench_framework:NAME_app() --workers 1`` on core 0."""

    def __init__(self, name: str, log: Path) -> None:
        self.log = log
        cmd = [
            *_pin(0),
            sys.executable,
            "-m",
            "sockweb",
            "serve",
            f"bench_framework:{name}_app()",
            "--workers",
            "1",
            "--bind",
            "127.0.0.1:0",
        ]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
        with log.open("wb") as err:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=HERE)
        self.port = self._wait_port()

    def _wait_port(self) -> int:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            match = _LISTENING.search(self.log.read_text(errors="replace"))
            if match:
                return int(match.group(1))
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"server did not start:\n{self.log.read_text(errors='replace')}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def wrk(url: str, duration: int, connections: int) -> float:
    """Requests per second reported by wrk (one thread, pinned to core 1); non-2xx answers are an error."""
    cmd = [*_pin(1), "wrk", "-t1", f"-c{connections}", f"-d{duration}s", url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=duration + 30).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk saw errors for {url}:\n{out}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    return float(match.group(1))


def check(url: str, expected: bytes) -> None:
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as response:
        body = response.read()
    if body.replace(b" ", b"").rstrip(b"\n") != expected:
        raise RuntimeError(f"{url} answered {body!r}, expected {expected!r}")


EXPECTED = {"hello": b"Hello,World!", "json+converter": b'{"id":42,"name":"user"}'}


def run_server_bench(args: argparse.Namespace, tmp: Path) -> dict[tuple[str, str], list[float]]:
    """All servers start first (an idle server costs nothing); then each round measures the frameworks
    back to back for one route, so the runs being compared are seconds apart, not minutes."""
    results: dict[tuple[str, str], list[float]] = {}
    servers = {name: Server(name, tmp / f"{name}.log") for name in args.frameworks}
    try:
        bases = {name: f"http://127.0.0.1:{server.port}" for name, server in servers.items()}
        for base in bases.values():
            for route, path in ROUTES.items():
                check(base + path, EXPECTED[route])
                wrk(base + path, 1, args.connections)  # warm-up
        for round_number in range(args.rounds):
            for route, path in ROUTES.items():
                for name, base in bases.items():
                    rps = wrk(base + path, args.duration, args.connections)
                    results.setdefault((name, route), []).append(rps)
                    print(f"round {round_number + 1} {name:8} {route:15} {rps:10.0f} req/s", flush=True)
    finally:
        for server in servers.values():
            server.stop()
    return results


def run_inprocess_bench(args: argparse.Namespace) -> dict[tuple[str, str], list[float]]:
    """Fallback without server and wrk: calls per second of the bare WSGI callable."""
    import io

    results: dict[tuple[str, str], list[float]] = {}
    for name in args.frameworks:
        app = make_app(name)
        for route, path in ROUTES.items():
            environ = {
                "REQUEST_METHOD": "GET",
                "PATH_INFO": path,
                "SCRIPT_NAME": "",
                "QUERY_STRING": "",
                "SERVER_NAME": "127.0.0.1",
                "SERVER_PORT": "8000",
                "SERVER_PROTOCOL": "HTTP/1.1",
                "HTTP_HOST": "127.0.0.1:8000",
                "wsgi.url_scheme": "http",
                "wsgi.errors": sys.stderr,
                "wsgi.version": (1, 0),
                "wsgi.multithread": True,
                "wsgi.multiprocess": False,
                "wsgi.run_once": False,
            }

            def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                return None

            def once(app: Any = app, environ: dict[str, Any] = environ) -> None:
                env = dict(environ, **{"wsgi.input": io.BytesIO()})
                body = app(env, start_response)
                for _ in body:
                    pass
                close = getattr(body, "close", None)
                if close is not None:
                    close()

            for _ in range(2000):
                once()
            for _ in range(args.rounds):
                count = 0
                start = time.perf_counter()
                while time.perf_counter() - start < args.duration:
                    for _ in range(500):
                        once()
                    count += 500
                rps = count / (time.perf_counter() - start)
                results.setdefault((name, route), []).append(rps)
                print(f"{name:8} {route:15} {rps:10.0f} calls/s", flush=True)
    return results


def report(results: dict[tuple[str, str], list[float]], frameworks: list[str], unit: str) -> str:
    """Best value per framework and route (interference on a shared machine only ever slows a run down),
    its ratio to Flask's best, and the median of the per-round ratios as a cross-check."""
    lines = [
        f"| framework | route | {unit} (best of {len(next(iter(results.values())))}) | vs Flask (best) "
        "| vs Flask (median of rounds) |",
        "|---|---|---:|---:|---:|",
    ]
    for route in ROUTES:
        flask = results.get(("flask", route))
        for name in frameworks:
            values = results[(name, route)]
            best = max(values)
            if flask:
                ratio = f"{best / max(flask):.2f}x"
                per_round = statistics.median(v / f for v, f in zip(values, flask, strict=False))
                round_ratio = f"{per_round:.2f}x"
            else:
                ratio = round_ratio = "-"
            lines.append(f"| {name} | {route} | {best:,.0f} | {ratio} | {round_ratio} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="measurements per framework and route")
    parser.add_argument("--connections", type=int, default=50, help="wrk connections")
    parser.add_argument("--frameworks", nargs="+", default=list(FRAMEWORKS), choices=FRAMEWORKS)
    parser.add_argument("--inprocess", action="store_true", help="call the WSGI apps in-process (fallback)")
    args = parser.parse_args()
    if args.inprocess:
        results = run_inprocess_bench(args)
        print(report(results, args.frameworks, "calls/s"))
        return 0
    if shutil.which("wrk") is None:
        print("wrk is not installed; use --inprocess", file=sys.stderr)
        return 2
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        results = run_server_bench(args, Path(tmp))
    print()
    print(report(results, args.frameworks, "req/s"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
