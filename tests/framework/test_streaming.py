"""Streamed responses and stream_with_context."""

from __future__ import annotations

import threading

import pytest

from sockweb.framework import g, request, session, stream_with_context
from sockweb.framework.ctx import has_request_context
from sockweb.web.testing import create_environ


def test_plain_generator_runs_after_the_context_is_gone(app, client) -> None:
    seen: list[bool] = []

    @app.get("/")
    def index():
        def gen():
            seen.append(has_request_context())
            yield "x"

        return gen()

    assert client.get("/").text == "x"
    assert seen == [False]


def test_stream_with_context_keeps_request_session_and_g(app, client) -> None:
    events: list[str] = []
    app.teardown_request(lambda exc: events.append("teardown"))

    @app.get("/")
    def index():
        g.word = "gee"
        session["s"] = "sess"

        def gen():
            events.append("first chunk")
            yield request.args["q"] + " "
            yield g.word + " "
            yield session["s"]

        return stream_with_context(gen())

    assert client.get("/?q=query").text == "query gee sess"
    # the teardown waited for the end of the body
    assert events == ["first chunk", "teardown"]
    assert not has_request_context()


def test_stream_with_context_as_decorator(app, client) -> None:
    @app.get("/")
    def index():
        @stream_with_context
        def gen():
            yield request.path

        return gen()

    assert client.get("/").text == "/"


def test_stream_with_context_needs_a_request() -> None:
    with pytest.raises(RuntimeError):
        stream_with_context(iter([]))


def test_streamed_body_driven_from_another_thread(app) -> None:
    """A server may iterate the body in a different thread than the one that called the app."""

    @app.get("/")
    def index():
        def gen():
            yield request.path
            yield "!"

        return stream_with_context(gen())

    statuses: list[str] = []
    body = app(create_environ("/"), lambda status, headers, exc_info=None: statuses.append(status))
    chunks: list[bytes] = []
    errors: list[BaseException] = []

    def consume() -> None:
        try:
            chunks.extend(body)
            body.close()
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    thread = threading.Thread(target=consume)
    thread.start()
    thread.join(10)
    assert errors == [] and b"".join(chunks) == b"/!" and statuses == ["200 OK"]


def test_closing_the_body_early_closes_the_generator(app) -> None:
    closed: list[bool] = []

    @app.get("/")
    def index():
        def gen():
            try:
                yield "a"
                yield "b"
            finally:
                closed.append(has_request_context())

        return stream_with_context(gen())

    body = app(create_environ("/"), lambda *a: None)
    iterator = iter(body)
    assert next(iterator) == b"a"
    body.close()
    assert closed == [True]
