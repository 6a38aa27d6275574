"""The framework's dispatch does no per-request work that a plain GET does not need."""

from __future__ import annotations

from sockweb.framework import App
from sockweb.framework.wrappers import Request


def test_a_plain_get_never_computes_request_method() -> None:
    reads: list[str] = []

    class CountingRequest(Request):
        @property  # type: ignore[override]
        def method(self) -> str:
            reads.append("method")
            return str(self.environ.get("REQUEST_METHOD", "GET")).upper()

    app = App(__name__)
    app.request_class = CountingRequest

    @app.get("/")
    def index() -> str:
        return "hi"

    client = app.test_client()
    assert client.get("/").get_data() == b"hi"
    assert reads == []


def test_automatic_options_still_answered_in_any_case() -> None:
    app = App(__name__)

    @app.get("/x")
    def x() -> str:
        return "x"

    client = app.test_client()
    for method in ("OPTIONS", "options"):
        resp = client.open("/x", method=method)
        assert resp.status_code == 200 and "GET" in resp.headers["Allow"]
