"""bench_framework.py: every framework's app answers each route with the same body (the realistic route:
the bytes plain Jinja2 renders from the same template), so the benchmark compares equal work."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def bench() -> object:
    sys.path.insert(0, str(BENCH))
    try:
        import bench_framework

        yield bench_framework
    finally:
        sys.path.remove(str(BENCH))


@pytest.mark.parametrize("framework", ["sockweb", "flask", "bottle"])
@pytest.mark.parametrize("route", ["hello", "json+converter", "realistic"])
def test_each_framework_answers_the_expected_body(bench: object, framework: str, route: str) -> None:
    if framework != "sockweb" and importlib.util.find_spec(framework) is None:
        pytest.skip(f"{framework} is not installed")
    app = bench.make_app(framework)  # type: ignore[attr-defined]
    bench.check_inprocess(app, route)  # type: ignore[attr-defined]


def test_realistic_route_reads_cookie_and_query(bench: object) -> None:
    body = bench.reference_render(7, 2, "light")  # type: ignore[attr-defined]
    assert "theme-light" in body and "Light theme." in body
    assert "Sock &lt;10&gt; &amp; &#34;friends&#34;" in body  # page 2 starts at item 10, escaped
    assert 'href="?page=1"' in body


def test_realistic_environs_vary_and_all_answer_200(bench: object) -> None:
    app = bench.make_app("sockweb")  # type: ignore[attr-defined]
    once = bench.caller(app, "realistic")  # type: ignore[attr-defined]
    for _ in range(len(bench.environs("realistic"))):  # type: ignore[attr-defined]
        once()  # raises on a non-200 answer
    heads = {(e["PATH_INFO"], e["QUERY_STRING"], e["HTTP_COOKIE"]) for e in bench.environs("realistic")}  # type: ignore[attr-defined]
    assert len(heads) == len(bench.environs("realistic"))  # type: ignore[attr-defined]
