"""Framework overhead: the same three routes in sockweb's App, Flask and Bottle, on the same server.

Each framework gets the same app: ``GET /`` returns "Hello, World!" as text/html,
``GET /user/<int:id>`` returns ``{"id": id, "name": "user"}`` as JSON (the path converter and the JSON
encoder both run), and the realistic view ``GET /items/<int:id>?page=N`` reads the ``theme`` cookie and
the ``page`` query argument and renders templates/item.html with Jinja2 (a title, a loop over ten items
whose names need escaping, conditionals; autoescape on) - the same template and the same view logic in
every framework. The served realistic route is loaded with realistic.lua: browser-like heads whose
path, query and session cookie change on every request. Every app is served by OUR server (``python -m sockweb serve``, one worker, the
server's default settings, pinned to core 0) and loaded with wrk (pinned to core 1), one framework
after the other for each route, in rounds, with the same wrk settings. The report gives each framework's best
requests per second (interference from other jobs only ever slows a run down), the ratio to Flask's best
in the same run, and the median of the per-round ratios as a cross-check.

Usage::

    python bench/bench_framework.py                     # 3 rounds of 5 s per framework and route
    python bench/bench_framework.py --duration 3 --rounds 2 --connections 32
    python bench/bench_framework.py --inprocess          # no server, no wrk: WSGI calls in-process
    python bench/bench_framework.py --routes realistic   # one route only (any command)
    python bench/bench_framework.py --callgrind          # instructions per request under valgrind

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
ROUTES = {"hello": "/", "json+converter": "/user/42", "realistic": "/items/42?page=3"}
HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
# The realistic route's request: the cookie the view reads among others, as a browser sends it.
REALISTIC_COOKIE = "theme=dark; session=5f3a9c0e1b7d4a2f8e6c; _ga=GA1.1.1284467.1735689600"
_LISTENING = re.compile(r"Listening at (?:https?://)?[^:\s]+:(\d+)")


# -- the apps ---------------------------------------------------------------------------------------------


def item_context(item_id: int, page: int, theme: str) -> dict[str, Any]:
    """The realistic view's work, shared by every framework: one page of ten items for the template."""
    first = (page - 1) * 10
    items = [
        {
            "id": item_id * 1000 + n,
            "name": f'Sock <{n}> & "friends"',  # every name needs escaping
            "price": 4.5 + n % 7,
            "sale": n % 3 == 0,
        }
        for n in range(first, first + 10)
    ]
    return {"title": f"Item {item_id}", "page": page, "theme": theme, "items": items}


def reference_render(item_id: int, page: int, theme: str) -> str:
    """The realistic route's body rendered by plain Jinja2: every framework must answer these bytes."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    return env.get_template("item.html").render(item_context(item_id, page, theme))


def sockweb_app() -> Any:
    from sockweb.framework import App, render_template, request

    app = App("bench_sockweb", static_folder=None, template_folder=str(TEMPLATES))

    @app.get("/")
    def hello() -> str:
        return "Hello, World!"

    @app.get("/user/<int:user_id>")
    def user(user_id: int) -> dict[str, Any]:
        return {"id": user_id, "name": "user"}

    @app.get("/items/<int:item_id>")
    def item(item_id: int) -> str:
        theme = request.cookies.get("theme", "light")
        page = request.args.get("page", 1, type=int)
        return render_template("item.html", **item_context(item_id, page, theme))

    return app


def flask_app() -> Any:
    from flask import Flask, render_template, request

    app = Flask("bench_flask", static_folder=None, template_folder=str(TEMPLATES))

    @app.get("/")
    def hello() -> str:
        return "Hello, World!"

    @app.get("/user/<int:user_id>")
    def user(user_id: int) -> dict[str, Any]:
        return {"id": user_id, "name": "user"}

    @app.get("/items/<int:item_id>")
    def item(item_id: int) -> str:
        theme = request.cookies.get("theme", "light")
        page = request.args.get("page", 1, type=int)
        return render_template("item.html", **item_context(item_id, page, theme))

    return app


def bottle_app() -> Any:
    import bottle
    import jinja2

    app = bottle.Bottle()
    # Bottle's own jinja2_template adapter does not escape; a plain environment as the other two use.
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)

    @app.get("/")
    def hello() -> str:
        bottle.response.content_type = "text/html; charset=utf-8"
        return "Hello, World!"

    @app.get("/user/<user_id:int>")
    def user(user_id: int) -> dict[str, Any]:
        return {"id": user_id, "name": "user"}  # Bottle serializes a dict as JSON

    @app.get("/items/<item_id:int>")
    def item(item_id: int) -> str:
        theme = bottle.request.get_cookie("theme", "light")
        page = bottle.request.query.get("page", 1, type=int)
        bottle.response.content_type = "text/html; charset=utf-8"
        return env.get_template("item.html").render(item_context(item_id, page, theme))

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


# wrk scripts per route (none: wrk repeats the URL's request).
SCRIPTS = {"realistic": HERE / "realistic.lua"}


def wrk(url: str, duration: int, connections: int, script: Path | None = None) -> float:
    """Requests per second reported by wrk (one thread, pinned to core 1); non-2xx answers are an error."""
    cmd = [*_pin(1), "wrk", "-t1", f"-c{connections}", f"-d{duration}s"]
    if script is not None:
        cmd += ["-s", str(script)]
    cmd.append(url)
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=duration + 30).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk saw errors for {url}:\n{out}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    return float(match.group(1))


def expected(route: str) -> bytes:
    """The body every framework must answer on ``ROUTES[route]`` (JSON compared without spaces)."""
    if route == "hello":
        return b"Hello, World!"
    if route == "json+converter":
        return b'{"id":42,"name":"user"}'
    return reference_render(42, 3, "dark").encode()


def check(url: str, route: str) -> None:
    import urllib.request

    request = urllib.request.Request(url, headers={"Cookie": REALISTIC_COOKIE})
    with urllib.request.urlopen(request, timeout=10) as response:
        body = response.read()
    if route == "json+converter":
        body = body.replace(b" ", b"").rstrip(b"\n")
    if body != expected(route):
        raise RuntimeError(f"{url} answered {body!r}, expected {expected(route)!r}")


def run_server_bench(args: argparse.Namespace, tmp: Path) -> dict[tuple[str, str], list[float]]:
    """All servers start first (an idle server costs nothing); then each round measures the frameworks
    back to back for one route, so the runs being compared are seconds apart, not minutes."""
    results: dict[tuple[str, str], list[float]] = {}
    servers = {name: Server(name, tmp / f"{name}.log") for name in args.frameworks}
    try:
        bases = {name: f"http://127.0.0.1:{server.port}" for name, server in servers.items()}
        for base in bases.values():
            for route in args.routes:
                check(base + ROUTES[route], route)
                wrk(base + ROUTES[route], 1, args.connections, SCRIPTS.get(route))  # warm-up
        for round_number in range(args.rounds):
            for route in args.routes:
                for name, base in bases.items():
                    rps = wrk(base + ROUTES[route], args.duration, args.connections, SCRIPTS.get(route))
                    results.setdefault((name, route), []).append(rps)
                    print(f"round {round_number + 1} {name:8} {route:15} {rps:10.0f} req/s", flush=True)
    finally:
        for server in servers.values():
            server.stop()
    return results


def environs(route: str, count: int = 20) -> list[dict[str, Any]]:
    """WSGI environs for in-process calls; the realistic route's differ in id, page and session."""
    path, _, query = ROUTES[route].partition("?")
    base = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
        "HTTP_ACCEPT": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "HTTP_ACCEPT_LANGUAGE": "en-US,en;q=0.9",
        "HTTP_ACCEPT_ENCODING": "gzip, deflate, br, zstd",
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if route != "realistic":
        return [base]
    return [
        dict(
            base,
            PATH_INFO=f"/items/{1 + n * 7 % 5000}",
            QUERY_STRING=f"page={1 + n % 20}",
            HTTP_COOKIE=f"theme={'light' if n % 4 == 0 else 'dark'}; session={n * 48271:016x}; _ga=GA1.1.{n}",
        )
        for n in range(count)
    ]


def caller(app: Any, route: str) -> Callable[[], None]:
    """One WSGI call per invocation, cycling through the route's environs; the body is drained."""
    import io
    import itertools

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        if not status.startswith("200"):
            raise RuntimeError(f"{route} answered {status}")

    cycle = itertools.cycle(environs(route))

    def once() -> None:
        env = dict(next(cycle), **{"wsgi.input": io.BytesIO()})
        body = app(env, start_response)
        for _ in body:
            pass
        close = getattr(body, "close", None)
        if close is not None:
            close()

    return once


def check_inprocess(app: Any, route: str) -> None:
    """The in-process answer to ``ROUTES[route]`` with the realistic cookie is the expected body."""
    env = dict(environs(route)[0], PATH_INFO=ROUTES[route].partition("?")[0])
    env.update(QUERY_STRING=ROUTES[route].partition("?")[2], HTTP_COOKIE=REALISTIC_COOKIE)
    import io

    env["wsgi.input"] = io.BytesIO()
    body = b"".join(app(env, lambda status, headers, exc_info=None: None))
    if route == "json+converter":
        body = body.replace(b" ", b"").rstrip(b"\n")
    if body != expected(route):
        raise RuntimeError(f"{route} answered {body!r}, expected {expected(route)!r}")


def run_inprocess_bench(args: argparse.Namespace) -> dict[tuple[str, str], list[float]]:
    """Without server and wrk: calls per second of the bare WSGI callable."""
    results: dict[tuple[str, str], list[float]] = {}
    for name in args.frameworks:
        app = make_app(name)
        for route in args.routes:
            check_inprocess(app, route)
            once = caller(app, route)
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


def run_calls(framework: str, route: str, calls: int) -> None:
    """Make the app, check it, warm it up with 500 calls, then make ``calls`` more (for --callgrind)."""
    app = make_app(framework)
    check_inprocess(app, route)
    once = caller(app, route)
    for _ in range(500 + calls):
        once()


def callgrind_instructions(framework: str, route: str, calls: int) -> int:
    """Instructions of one process making ``calls`` requests after the warm-up, counted by callgrind."""
    cmd = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        str(Path(__file__).resolve()),
        "--run-calls",
        framework,
        route,
        str(calls),
    ]
    err = subprocess.run(cmd, capture_output=True, text=True, check=True).stderr
    match = re.search(r"Collected : (\d+)", err)
    if not match:
        raise RuntimeError(f"unexpected valgrind output:\n{err}")
    return int(match.group(1))


def run_callgrind_bench(args: argparse.Namespace) -> dict[tuple[str, str], list[float]]:
    """Instructions per request: the difference of two runs (N calls and none) divided by N, so start-up,
    imports and warm-up cancel out. Instruction counts do not depend on the machine's load."""
    results: dict[tuple[str, str], list[float]] = {}
    for name in args.frameworks:
        for route in args.routes:
            base = callgrind_instructions(name, route, 0)
            total = callgrind_instructions(name, route, args.calls)
            per_request = (total - base) / args.calls
            results[(name, route)] = [per_request]
            print(f"{name:8} {route:15} {per_request:12,.0f} instructions/request", flush=True)
    return results


def report(
    results: dict[tuple[str, str], list[float]], frameworks: list[str], routes: list[str], unit: str
) -> str:
    """Best value per framework and route (interference on a shared machine only ever slows a run down),
    its ratio to Flask's best, and the median of the per-round ratios as a cross-check. For a cost
    (instructions per request) the ratio is Flask's cost over the framework's: >1 means faster."""
    cost = unit.startswith("instructions")
    lines = [
        f"| framework | route | {unit} (best of {len(next(iter(results.values())))}) | vs Flask (best) "
        "| vs Flask (median of rounds) |",
        "|---|---|---:|---:|---:|",
    ]
    for route in routes:
        flask = results.get(("flask", route))
        for name in frameworks:
            values = results[(name, route)]
            best = min(values) if cost else max(values)
            if flask:
                pairs = [(f, v) if cost else (v, f) for v, f in zip(values, flask, strict=False)]
                flask_best = min(flask) if cost else max(flask)
                ratio = f"{(flask_best / best if cost else best / flask_best):.2f}x"
                round_ratio = f"{statistics.median(a / b for a, b in pairs):.2f}x"
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
    parser.add_argument("--routes", nargs="+", default=list(ROUTES), choices=list(ROUTES))
    parser.add_argument("--inprocess", action="store_true", help="call the WSGI apps in-process (fallback)")
    parser.add_argument(
        "--callgrind", action="store_true", help="count instructions per request in-process (valgrind)"
    )
    parser.add_argument("--calls", type=int, default=2000, help="requests counted per --callgrind run")
    parser.add_argument("--run-calls", nargs=3, metavar=("FRAMEWORK", "ROUTE", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_calls:
        framework, route, calls = args.run_calls
        run_calls(framework, route, int(calls))
        return 0
    if args.callgrind:
        if shutil.which("valgrind") is None:
            print("valgrind is not installed (Debian package valgrind)", file=sys.stderr)
            return 2
        results = run_callgrind_bench(args)
        print(report(results, args.frameworks, args.routes, "instructions/request"))
        return 0
    if args.inprocess:
        results = run_inprocess_bench(args)
        print(report(results, args.frameworks, args.routes, "calls/s"))
        return 0
    if shutil.which("wrk") is None:
        print("wrk is not installed; use --inprocess", file=sys.stderr)
        return 2
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        results = run_server_bench(args, Path(tmp))
    print()
    print(report(results, args.frameworks, args.routes, "req/s"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
