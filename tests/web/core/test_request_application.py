"""Request.application: a view taking a Request becomes a WSGI application."""

from __future__ import annotations

from typing import Any

from sockweb.web.exceptions import NotFound
from sockweb.web.lint import LintMiddleware
from sockweb.web.request import Request
from sockweb.web.response import Response
from sockweb.web.testing import Client


def test_application_decorator() -> None:
    closed: list[bool] = []

    class Tracked(Request):
        def close(self) -> None:
            closed.append(True)
            super().close()

    @Tracked.application
    def app(request: Request) -> Response:
        if request.path == "/missing":
            raise NotFound()
        return Response(f"{request.method} {request.args.get('q')}")

    client = Client(LintMiddleware(app, strict=True))
    assert client.get("/?q=x").text == "GET x"
    assert closed == [True]
    assert client.get("/missing").status_code == 404


def test_application_on_a_method() -> None:
    class Service:
        greeting = "hi"

        @Request.application
        def __call__(self, request: Request) -> Any:
            return Response(self.greeting)

    assert Client(Service()).get("/").text == "hi"
