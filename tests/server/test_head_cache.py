"""The response-head cache: a head taken from it is byte for byte the head planned from scratch.

Driven through `HttpProtocol` with a transport that records writes (as in test_body_buffering.py). Each
response served by a server whose cache is warm is compared with the response of a fresh server for the
same request, over requests that differ only in what the cache key must tell apart.
"""

from __future__ import annotations

import asyncio
import email.utils
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sockweb.server.config import Config
from sockweb.server.protocol import HttpProtocol
from sockweb.server.state import ServerState
from sockweb.server.wsgi import environ_template

from .test_body_buffering import Transport

pytestmark = pytest.mark.timeout(30)

DATE = ["Sun, 22 Nov 2026 00:00:00 GMT"]


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    # The headers depend on the query, so consecutive requests can ask for different heads.
    value = environ["QUERY_STRING"] or "none"
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Query", value)])
    return [b"hello"]


@pytest.fixture
def make_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], ServerState]]:
    monkeypatch.setattr(email.utils, "formatdate", lambda *a, **k: DATE[0])
    loop = asyncio.new_event_loop()
    states: list[ServerState] = []

    def make() -> ServerState:
        states.append(ServerState(Config(dispatch="inline"), app, loop))
        return states[-1]

    yield make
    for state in states:
        state.shutdown()
    loop.close()


def serve(state: ServerState, raw: bytes) -> bytes:
    conn = HttpProtocol(state, environ_template("127.0.0.1", "8000", "http", True), False)
    transport = Transport()
    conn.connection_made(transport)  # type: ignore[arg-type]
    conn.data_received(raw)
    return bytes(transport.written)


REQUESTS = {
    "get": b"GET / HTTP/1.1\r\nHost: h\r\n\r\n",
    "get-a": b"GET /?a HTTP/1.1\r\nHost: h\r\n\r\n",
    "get-b": b"GET /?b HTTP/1.1\r\nHost: h\r\n\r\n",
    "head": b"HEAD / HTTP/1.1\r\nHost: h\r\n\r\n",
    "http10": b"GET / HTTP/1.0\r\n\r\n",
    "http10-keep": b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    "close": b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
}


def test_a_cached_head_equals_a_fresh_one(make_state: Callable[[], ServerState]) -> None:
    warm = make_state()
    order = ["get", "get", "head", "get", "head", "head", "http10", "get", "close", "get", "http10-keep"]
    order += ["http10", "get-a", "get-b", "get-a", "get-a", "get", "close", "close", "head", "get-b"]
    for name in order:
        expected = serve(make_state(), REQUESTS[name])
        assert serve(warm, REQUESTS[name]) == expected, name
    assert warm.head_cache is not None and len(warm.head_cache) == len(REQUESTS)


def test_a_new_date_is_not_served_from_the_cache(make_state: Callable[[], ServerState]) -> None:
    state = make_state()
    assert b"Date: Sun, 22 Nov 2026 00:00:00 GMT\r\n" in serve(state, REQUESTS["get"])
    DATE[0] = "Sun, 22 Nov 2026 00:00:01 GMT"
    try:
        state._update_date()  # what the once-a-second sweep does
        assert b"Date: Sun, 22 Nov 2026 00:00:01 GMT\r\n" in serve(state, REQUESTS["get"])
    finally:
        DATE[0] = "Sun, 22 Nov 2026 00:00:00 GMT"
