"""Which request bodies are collected before the application runs, and the per-process budget for them.

Driven through `HttpProtocol` with a transport that records writes: the policy is about what the loop
does with received bytes, which needs no socket. Socket-level uploads (checksums, 384 MiB in constant
memory) are in test_http.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sockweb.server.config import Config
from sockweb.server.protocol import HttpProtocol
from sockweb.server.sinks import BufferSink, StreamSink
from sockweb.server.state import ServerState
from sockweb.server.wsgi import environ_template

pytestmark = pytest.mark.timeout(30)


class Transport:
    def __init__(self) -> None:
        self.written = bytearray()
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written += data

    def writelines(self, parts: list[bytes]) -> None:
        for part in parts:
            self.written += part

    def get_extra_info(self, key: str) -> Any:
        return ("127.0.0.1", 40000) if key == "peername" else None

    def set_write_buffer_limits(self, high: int, low: int) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def can_write_eof(self) -> bool:
        return False

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True


SEEN: list[dict[str, Any]] = []


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    stream = environ["wsgi.input"]
    SEEN.append({"complete": getattr(stream, "complete", True), "size": len(stream.read())})
    start_response("200 OK", [("Content-Length", "2")])
    return [b"ok"]


def state_maker(app: Any) -> Iterator[Callable[..., ServerState]]:
    """For a fixture: a factory of inline-dispatch ServerStates serving `app` on one loop, shut after."""
    loop = asyncio.new_event_loop()
    states: list[ServerState] = []

    def make(**settings: Any) -> ServerState:
        states.append(ServerState(Config(dispatch="inline", **settings), app, loop))
        return states[-1]

    yield make
    for state in states:
        state.shutdown()
    loop.close()


@pytest.fixture
def make_state() -> Iterator[Callable[..., ServerState]]:
    SEEN.clear()
    yield from state_maker(app)


@pytest.fixture
def state(make_state: Callable[..., ServerState]) -> ServerState:
    return make_state()


def connect(state: ServerState) -> tuple[HttpProtocol, Transport]:
    conn = HttpProtocol(state, environ_template("127.0.0.1", "8000", "http", True), False)
    transport = Transport()
    conn.connection_made(transport)  # type: ignore[arg-type]
    return conn, transport


def head(size: int) -> bytes:
    return b"POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n" % size


def send_body(conn: HttpProtocol, size: int, piece: int = 256 << 10) -> None:
    for start in range(0, size, piece):
        conn.data_received(b"x" * min(piece, size - start))


def test_a_body_within_the_limit_is_collected_and_the_app_runs_inline(state: ServerState) -> None:
    conn, transport = connect(state)
    conn.data_received(head(1 << 20))
    send_body(conn, (1 << 20) - 1)
    assert SEEN == [] and state.buffered == (1 << 20) - 1  # not called before the body is complete
    conn.data_received(b"x")
    assert SEEN == [{"complete": True, "size": 1 << 20}]
    assert state.buffered == 0
    assert transport.written.startswith(b"HTTP/1.1 200 OK\r\n")
    assert state.pool.size == 0  # no thread was needed


def test_a_body_over_the_limit_streams_to_a_thread(make_state: Callable[..., ServerState]) -> None:
    state = make_state(body_buffer=1 << 20)
    conn, _ = connect(state)
    conn.data_received(head(2 << 20))  # known to be too big: streamed at once
    assert isinstance(conn.sink, StreamSink)
    assert state.buffered == 0
    conn.connection_lost(None)


def test_a_chunked_body_switches_to_streaming_when_it_grows_past_the_limit(
    make_state: Callable[..., ServerState],
) -> None:
    state = make_state(body_buffer=1 << 20)
    conn, _ = connect(state)
    conn.data_received(b"POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
    for _ in range(4):
        conn.data_received(b"40000\r\n" + b"x" * (256 << 10) + b"\r\n")
    assert isinstance(conn.sink, BufferSink) and state.buffered == 1 << 20
    conn.data_received(b"1\r\nx\r\n")
    assert isinstance(conn.sink, StreamSink)
    assert state.buffered == 0  # what was collected now belongs to the stream
    conn.connection_lost(None)


def test_the_budget_is_shared_by_all_connections(make_state: Callable[..., ServerState]) -> None:
    mib = 1 << 20
    state = make_state(body_buffer_budget=5 * mib // 2)
    first, _ = connect(state)
    first.data_received(head(2 * mib))
    send_body(first, mib)
    second, _ = connect(state)
    second.data_received(head(3 * mib // 2))  # 1 MiB held + 1.5 MiB announced = the budget: collected
    assert isinstance(second.sink, BufferSink)
    send_body(second, mib)
    third, _ = connect(state)
    third.data_received(head(mib))  # 2 MiB held + 1 MiB announced > the budget: streamed
    assert isinstance(third.sink, StreamSink)
    send_body(first, 512 << 10)  # 2.5 MiB held: still within the budget
    assert isinstance(first.sink, BufferSink)
    send_body(first, 256 << 10)  # over it while collecting: the first one streams from now on
    assert isinstance(first.sink, StreamSink)
    assert state.buffered == mib  # only the second's collected megabyte is left
    for conn in (first, second, third):
        conn.connection_lost(None)
    assert state.buffered == 0


def test_a_client_gone_mid_body_gives_its_share_back(state: ServerState) -> None:
    conn, _ = connect(state)
    conn.data_received(head(1 << 20))
    send_body(conn, 512 << 10)
    assert state.buffered == 512 << 10
    conn.connection_lost(None)
    assert state.buffered == 0
    assert SEEN == []


def test_a_malformed_body_gives_its_share_back(state: ServerState) -> None:
    conn, transport = connect(state)
    conn.data_received(b"POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
    conn.data_received(b"10\r\n" + b"x" * 16 + b"\r\n")
    conn.data_received(b"zz\r\n")  # not a chunk size: 400 and close
    assert transport.written.startswith(b"HTTP/1.1 400 ")
    conn.connection_lost(None)
    assert state.buffered == 0


def test_body_buffer_zero_streams_every_body(make_state: Callable[..., ServerState]) -> None:
    state = make_state(body_buffer=0)
    conn, _ = connect(state)
    conn.data_received(head(10))
    assert isinstance(conn.sink, StreamSink)
    conn.connection_lost(None)
    chunked, _ = connect(state)
    chunked.data_received(b"POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunked.data_received(b"1\r\nx\r\n")
    assert isinstance(chunked.sink, StreamSink)
    assert state.buffered == 0
    chunked.connection_lost(None)
