"""The body sinks on their own, against a fake owner: what each asks its connection to do (see the table in
sockweb.server.sinks). The connection's side of the same paths runs in tests/server/test_body_buffering.py."""

from __future__ import annotations

from io import BytesIO
from types import SimpleNamespace
from typing import Any

import pytest

from sockweb.http import ProtocolError
from sockweb.server.input import StreamInput
from sockweb.server.sinks import DRAIN_LIMIT, SMALL_BODY, BufferSink, DiscardSink, StreamSink


class Owner:
    """Records what a sink asks of its connection (the `SinkOwner` members)."""

    def __init__(self, body_buffer: int = 1 << 20, budget: int = 4 << 20) -> None:
        self.state = SimpleNamespace(body_buffer=body_buffer, buffer_budget=budget, buffered=0)
        self.calls: list[tuple[str, Any]] = []

    def dispatch(self, ex: Any) -> None:
        self.calls.append(("dispatch", ex))

    def start_stream(self, ex: Any, parts: list[bytes]) -> None:
        self.calls.append(("start_stream", b"".join(parts)))

    def pause_reading(self) -> None:
        self.calls.append(("pause_reading", None))

    def close(self) -> None:
        self.calls.append(("close", None))

    def protocol_error(self, exc: ProtocolError) -> None:
        self.calls.append(("protocol_error", exc.status))

    def answer(self, exc: ProtocolError) -> None:
        self.calls.append(("answer", exc.status))


def exchange(content_length: int | None = None, chunked: bool = False) -> Any:
    request = SimpleNamespace(content_length=content_length, chunked=chunked)
    return SimpleNamespace(request=request, environ={})


def stream(send_continue: bool = False) -> StreamInput:
    return StreamInput(1024, 256, (lambda: None) if send_continue else None, lambda: None)


@pytest.mark.parametrize("size", [10, SMALL_BODY + 1])
def test_a_collected_body_is_handed_over_whole_and_leaves_the_budget(size: int) -> None:
    owner = Owner()
    ex = exchange(chunked=True)
    sink = BufferSink(owner.state, ex)  # type: ignore[arg-type]
    assert sink.pending is ex and not sink.full
    sink.feed(owner, b"x" * (size - 1))  # type: ignore[arg-type]
    sink.feed(owner, b"y")  # type: ignore[arg-type]
    assert owner.state.buffered == size
    sink.end(owner)  # type: ignore[arg-type]
    assert owner.calls == [("dispatch", ex)] and owner.state.buffered == 0 and sink.pending is None
    body = ex.environ["wsgi.input"]
    assert isinstance(body, BytesIO if size <= SMALL_BODY else StreamInput)
    assert body.read() == b"x" * (size - 1) + b"y"
    assert ex.environ["CONTENT_LENGTH"] == str(size)  # chunked: the length is known now


def test_a_collected_body_that_grows_too_big_streams_with_what_arrived() -> None:
    owner = Owner(body_buffer=8)
    sink = BufferSink(owner.state, exchange(chunked=True))  # type: ignore[arg-type]
    sink.feed(owner, b"12345")  # type: ignore[arg-type]
    sink.feed(owner, b"6789")  # type: ignore[arg-type]
    assert owner.calls == [("start_stream", b"123456789")] and owner.state.buffered == 0


def test_a_collected_body_that_stalls_is_answered_408_and_a_lost_one_gives_its_bytes_back() -> None:
    owner = Owner()
    sink = BufferSink(owner.state, exchange(4))  # type: ignore[arg-type]
    sink.feed(owner, b"ab")  # type: ignore[arg-type]
    sink.stalled(owner)  # type: ignore[arg-type]
    assert owner.calls == [("answer", 408)]
    sink.abort()
    sink.abort()  # idempotent: the budget is given back once
    assert owner.state.buffered == 0


def test_a_streamed_body_pauses_reading_when_full_and_fails_the_app_when_it_stalls() -> None:
    owner = Owner()
    body = stream()
    sink = StreamSink(body)
    sink.feed(owner, b"x" * 1000)  # type: ignore[arg-type]
    assert owner.calls == [] and not sink.full
    sink.feed(owner, b"x" * 100)  # type: ignore[arg-type]
    assert owner.calls == [("pause_reading", None)] and sink.full
    sink.stalled(owner)  # type: ignore[arg-type]
    assert owner.calls[-1] == ("protocol_error", 408)


@pytest.mark.parametrize(
    ("send_continue", "length", "closes"),
    [(False, 100, False), (False, None, False), (True, 100, True), (False, DRAIN_LIMIT * 4 + 1, True)],
)
def test_after_the_response_an_unread_body_is_discarded_or_the_connection_closed(
    send_continue: bool, length: int | None, closes: bool
) -> None:
    owner = Owner()
    body = stream(send_continue)
    body.feed(b"unread")
    rest = StreamSink(body).response_done(owner, exchange(length))  # type: ignore[arg-type]
    assert body.full is False and body._size == 0  # drained
    if closes:
        assert rest is None and owner.calls == [("close", None)]
    else:
        assert isinstance(rest, DiscardSink) and owner.calls == []


def test_a_discarded_body_closes_past_its_limit_and_when_it_stalls() -> None:
    owner = Owner()
    sink = DiscardSink(10)
    sink.feed(owner, b"x" * 10)  # type: ignore[arg-type]
    assert owner.calls == [] and sink.pending is None and not sink.full
    sink.feed(owner, b"x")  # type: ignore[arg-type]
    assert owner.calls == [("close", None)]
    sink.end(owner)  # type: ignore[arg-type]
    sink.abort()
    sink.stalled(owner)  # type: ignore[arg-type]
    assert owner.calls == [("close", None), ("close", None)]
