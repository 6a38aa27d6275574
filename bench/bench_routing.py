"""Routing benchmark: sockweb.web.routing against werkzeug.routing on the same ~300-rule map.

The map has typical REST shapes: a few hundred static pages, and per resource collection/item/sub-item
routes with int, string, uuid and path converters, several methods per path. The paths matched are hits
near the front and the back of the table, static and dynamic, plus 404s and 405s. For each router the
script reports microseconds per match() and per build(); the figure to read is the ratio, measured in
the same run (the machines are shared and noisy).

    taskset -c 0 python bench/bench_routing.py [--seconds 0.2] [--repeat 11]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any
from urllib.parse import parse_qsl

import werkzeug.exceptions as wz_exc
import werkzeug.routing as wz

from sockweb.web import routing as sw
from sockweb.web.exceptions import HTTPException

RESOURCES = [f"res{i}" for i in range(30)]
UUID = "12345678-1234-5678-1234-567812345678"


def rule_specs(resources: list[str] = RESOURCES) -> list[tuple[str, str, list[str]]]:
    """(rule, endpoint, methods) triples, ~300 of them, in a definition order a human would write."""
    specs: list[tuple[str, str, list[str]]] = [("/", "index", ["GET"])]
    for name in resources:
        base = f"/api/v1/{name}"
        specs += [
            (f"{base}", f"{name}.list", ["GET"]),
            (f"{base}", f"{name}.create", ["POST"]),
            (f"{base}/<int:id>", f"{name}.get", ["GET"]),
            (f"{base}/<int:id>", f"{name}.update", ["PUT", "PATCH"]),
            (f"{base}/<int:id>", f"{name}.delete", ["DELETE"]),
            (f"{base}/<int:id>/comments", f"{name}.comments", ["GET"]),
            (f"{base}/<int:id>/comments/<int:cid>", f"{name}.comment", ["GET"]),
            (f"{base}/by-key/<uuid:key>", f"{name}.by_key", ["GET"]),
        ]
    for i in range(40):
        specs.append((f"/pages/page-{i}", f"page{i}", ["GET"]))
        specs.append((f"/docs/section{i}/<slug>", f"doc{i}", ["GET"]))
    specs.append(("/static/<path:filename>", "static", ["GET"]))
    specs.append(("/u/<username>/", "profile", ["GET"]))
    return specs


def paths() -> list[tuple[str, str, str]]:
    """(label, path, method) cases."""
    first, last = RESOURCES[0], RESOURCES[-1]
    return [
        ("static, early", "/", "GET"),
        ("static, late", "/pages/page-39", "GET"),
        ("int, early", f"/api/v1/{first}/42", "GET"),
        ("int x2, late", f"/api/v1/{last}/42/comments/7", "GET"),
        ("uuid, late", f"/api/v1/{last}/by-key/{UUID}", "GET"),
        ("string, late", "/docs/section39/intro", "GET"),
        ("path", "/static/css/site/main.css", "GET"),
        ("404", "/api/v1/nothing/here", "GET"),
        ("405", f"/api/v1/{last}/42/comments", "POST"),
    ]


def build_cases() -> list[tuple[str, dict[str, Any]]]:
    last = RESOURCES[-1]
    return [
        ("index", {}),
        (f"{last}.comment", {"id": 42, "cid": 7}),
        ("doc39", {"slug": "intro", "q": "x y"}),
        ("static", {"filename": "css/main.css"}),
    ]


def calibrate(fn: Callable[[], object], seconds: float) -> int:
    """Number of calls that take about `seconds`."""
    fn()  # warm-up: both routers compile their tables lazily on the first match
    n = 1
    while True:
        start = time.perf_counter()
        for _ in range(n):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed > seconds / 10:
            return max(1, int(n * seconds / elapsed))
        n *= 2


def run(fn: Callable[[], object], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1e6


def compare(
    ours: Callable[[], object], theirs: Callable[[], object], seconds: float, repeat: int
) -> tuple[float, float]:
    """Best-of-`repeat` µs per call for both, runs interleaved so that load changes hit both alike."""
    n_ours, n_theirs = calibrate(ours, seconds), calibrate(theirs, seconds)
    ours_runs, theirs_runs = [], []
    for _ in range(repeat):
        ours_runs.append(run(ours, n_ours))
        theirs_runs.append(run(theirs, n_theirs))
    return min(ours_runs), min(theirs_runs)


def matcher(
    adapter: Any, path: str, method: str, errors: tuple[type[BaseException], ...]
) -> Callable[[], object]:
    def run() -> object:
        try:
            return adapter.match(path, method)
        except errors as exc:
            return exc

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.2, help="time per measurement run")
    parser.add_argument("--repeat", type=int, default=11, help="runs per measurement (best is kept)")
    args = parser.parse_args(argv)

    specs = rule_specs()
    ours = sw.Map([sw.Rule(r, endpoint=e, methods=m) for r, e, m in specs]).bind("example.com")
    theirs = wz.Map([wz.Rule(r, endpoint=e, methods=m) for r, e, m in specs]).bind("example.com")

    # Same answers first: the benchmark is meaningless if the routers disagree.
    for _, path, method in paths():
        a = matcher(ours, path, method, (HTTPException,))()
        b = matcher(theirs, path, method, (wz_exc.HTTPException,))()
        a_code = getattr(a, "code", None)
        b_code = getattr(b, "code", None)
        if (a_code, b_code) == (None, None):
            assert a == b, (path, a, b)
        else:
            assert a_code == b_code, (path, a, b)

    print(f"Python {sys.version.split()[0]}, werkzeug {wz_version()}, {len(specs)} rules")
    print(f"{'case':<26} {'sockweb µs':>11} {'werkzeug µs':>12} {'ratio':>7}")
    ratios = []
    for label, path, method in paths():
        ours_us, theirs_us = compare(
            matcher(ours, path, method, (HTTPException,)),
            matcher(theirs, path, method, (wz_exc.HTTPException,)),
            args.seconds,
            args.repeat,
        )
        ratios.append(theirs_us / ours_us)
        print(f"match {label:<20} {ours_us:>11.2f} {theirs_us:>12.2f} {theirs_us / ours_us:>6.1f}x")
    for endpoint, values in build_cases():
        assert same_url(ours.build(endpoint, values), theirs.build(endpoint, values)), endpoint
        ours_us, theirs_us = compare(
            partial(ours.build, endpoint, values),
            partial(theirs.build, endpoint, values),
            args.seconds,
            args.repeat,
        )
        ratios.append(theirs_us / ours_us)
        print(f"build {endpoint:<20} {ours_us:>11.2f} {theirs_us:>12.2f} {theirs_us / ours_us:>6.1f}x")
    print(f"geometric mean speed-up: {statistics.geometric_mean(ratios):.1f}x (werkzeug time / sockweb time)")
    scaling(args.seconds, args.repeat)
    return 0


def scaling(seconds: float, repeat: int) -> None:
    """The same late dynamic match in maps of growing size: matching must not grow with the rule count.

    Also the one-time cost of a map: constructing it plus the first match (each router compiles part of
    its tables at add() time and part lazily on the first match, so only the sum compares).
    """
    print("\nscaling: match the last resource's /<int>/comments/<int> rule")
    print(
        f"{'rules':>6} {'sockweb µs':>11} {'werkzeug µs':>12} {'ratio':>7}   setup+first match, ms: sockweb / werkzeug"
    )
    for count in (3, 30, 120):
        resources = [f"res{i}" for i in range(count)]
        specs = rule_specs(resources)
        path = f"/api/v1/{resources[-1]}/42/comments/7"
        start = time.perf_counter()
        ours = sw.Map([sw.Rule(r, endpoint=e, methods=m) for r, e, m in specs]).bind("example.com")
        ours.match(path, "GET")
        ours_setup = time.perf_counter() - start
        start = time.perf_counter()
        theirs = wz.Map([wz.Rule(r, endpoint=e, methods=m) for r, e, m in specs]).bind("example.com")
        theirs.match(path, "GET")
        theirs_setup = time.perf_counter() - start
        ours_us, theirs_us = compare(
            partial(ours.match, path, "GET"), partial(theirs.match, path, "GET"), seconds, repeat
        )
        print(
            f"{len(specs):>6} {ours_us:>11.2f} {theirs_us:>12.2f} {theirs_us / ours_us:>6.1f}x"
            f"   {ours_setup * 1000:.0f} / {theirs_setup * 1000:.0f}"
        )


def same_url(a: str, b: str) -> bool:
    """Equal up to query encoding (werkzeug writes a space as "+", sockweb as "%20")."""
    path_a, _, query_a = a.partition("?")
    path_b, _, query_b = b.partition("?")
    return path_a == path_b and parse_qsl(query_a) == parse_qsl(query_b)


def wz_version() -> str:
    from importlib.metadata import version

    return version("werkzeug")


if __name__ == "__main__":
    sys.exit(main())
