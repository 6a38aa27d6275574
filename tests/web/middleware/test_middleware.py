"""ProxyFix, DispatcherMiddleware and ProfilerMiddleware, each wrapped in the lint middleware."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from sockweb.web.lint import LintMiddleware
from sockweb.web.middleware.dispatcher import DispatcherMiddleware
from sockweb.web.middleware.profiler import ProfilerMiddleware
from sockweb.web.middleware.proxy_fix import ProxyFix
from sockweb.web.request import Request
from sockweb.web.response import Response
from sockweb.web.testing import Client


@Request.application
def echo(request: Request) -> Response:
    return Response(f"{request.remote_addr} {request.url_root} {request.environ['SCRIPT_NAME']}")


@pytest.mark.parametrize(
    ("kwargs", "headers", "expected"),
    [
        (
            {},
            {"X-Forwarded-For": "1.1.1.1, 2.2.2.2", "X-Forwarded-Proto": "https"},
            "2.2.2.2 https://localhost/ ",
        ),
        ({"x_for": 2}, {"X-Forwarded-For": "1.1.1.1, 2.2.2.2"}, "1.1.1.1 http://localhost/ "),
        # Fewer entries than trusted proxies: the header is ignored.
        ({"x_for": 3}, {"X-Forwarded-For": "1.1.1.1, 2.2.2.2"}, "127.0.0.1 http://localhost/ "),
        ({"x_for": 0}, {"X-Forwarded-For": "1.1.1.1"}, "127.0.0.1 http://localhost/ "),
        (
            {"x_host": 1, "x_port": 1, "x_prefix": 1},
            {"X-Forwarded-Host": "example.com", "X-Forwarded-Port": "8443", "X-Forwarded-Prefix": "/app/"},
            "127.0.0.1 http://example.com:8443/app/ /app",
        ),
        ({"x_host": 1}, {"X-Forwarded-Host": "evil, example.com:81"}, "127.0.0.1 http://example.com:81/ "),
    ],
)
def test_proxy_fix(kwargs: dict[str, int], headers: dict[str, str], expected: str) -> None:
    app = ProxyFix(LintMiddleware(echo, strict=True), **kwargs)
    response = Client(app).get("/", headers=headers, environ_overrides={"REMOTE_ADDR": "127.0.0.1"})
    assert response.text == expected


def test_proxy_fix_keeps_originals() -> None:
    seen: dict[str, Any] = {}

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        seen.update(environ["sockweb.proxy_fix.orig"])
        return Response("")(environ, start_response)

    Client(ProxyFix(app)).get(
        "/", headers={"X-Forwarded-For": "9.9.9.9"}, environ_overrides={"REMOTE_ADDR": "1.2.3.4"}
    )
    assert seen["REMOTE_ADDR"] == "1.2.3.4"


def _named(name: str) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [f"{name} {environ['SCRIPT_NAME']} {environ['PATH_INFO']}".encode()]

    return app


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api", "api /api "),
        ("/api/users/1", "api /api /users/1"),
        ("/api/v2/x", "v2 /api/v2 /x"),
        ("/apiary", "main  /apiary"),
        ("/", "main  /"),
    ],
)
def test_dispatcher(path: str, expected: str) -> None:
    app = DispatcherMiddleware(_named("main"), {"/api": _named("api"), "/api/v2/": _named("v2")})
    assert Client(LintMiddleware(app, strict=True)).get(path).text == expected


def test_profiler_reports_to_stream_and_files(tmp_path: Path) -> None:
    stream = io.StringIO()
    app = ProfilerMiddleware(_named("main"), stream=stream, profile_dir=str(tmp_path), restrictions=(5,))
    assert Client(LintMiddleware(app, strict=True)).get("/a/b").text == "main  /a/b"
    assert "PATH: '/a/b'" in stream.getvalue()
    (dumped,) = tmp_path.iterdir()
    assert dumped.name.startswith("GET.a.b.") and dumped.suffix == ".prof"

    names: list[float] = []

    def name_for(environ: dict[str, Any]) -> str:
        names.append(environ["sockweb.profiler"]["elapsed"])
        return "custom.prof"

    Client(
        ProfilerMiddleware(_named("x"), stream=None, profile_dir=str(tmp_path), filename_format=name_for)
    ).get("/")
    assert (tmp_path / "custom.prof").exists() and names[0] >= 0
