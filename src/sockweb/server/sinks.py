"""Where a request body goes while the connection reads it: collected, streamed or discarded.

Strategy: three small classes with one interface (`sockweb.server.exchange_api.BodySink`). The HTTP/1.1
connection holds at most one sink (the body being read) and routes the parser's Data and EndOfMessage
events to it; each sink keeps its own per-request state and asks the connection (`SinkOwner`) to act:

==============  ==============================  ==================================================
sink            holds                           on overflow / end / stall / response done
==============  ==============================  ==================================================
`BufferSink`    the exchange, the parts, size   past `--body-buffer` or the process budget: stream
                (counted in ``state.buffered``) the rest; end: wsgi.input, dispatch; stall: 408
`StreamSink`    the `StreamInput` of a thread   full: pause reading; end: finish the stream;
                                                stall: fail the body (408 if nothing was sent);
                                                response done: discard the rest (`DiscardSink`)
`DiscardSink`   bytes left to discard           more than `DRAIN_LIMIT`: close; stall: close
==============  ==============================  ==================================================
"""

from __future__ import annotations

from io import BytesIO
from typing import TYPE_CHECKING

from sockweb.http import ProtocolError
from sockweb.server.input import StreamInput

if TYPE_CHECKING:
    from sockweb.server.exchange_api import BodySink, ExchangeSide, SinkOwner
    from sockweb.server.state import ServerState

__all__ = ["DRAIN_LIMIT", "SMALL_BODY", "BufferSink", "DiscardSink", "StreamSink"]

SMALL_BODY = 64 * 1024  # collected bodies up to this size are joined into a BytesIO
DRAIN_LIMIT = 1 << 20  # an unread body is discarded up to this size, beyond it the connection closes
BODY_TIMEOUT = ProtocolError("the request body stalled", status=408)


class BufferSink:
    """A body collected before the application runs (at most `--body-buffer`, within the budget)."""

    __slots__ = ("parts", "pending", "size", "state")
    full = False

    def __init__(self, state: ServerState, ex: ExchangeSide) -> None:
        self.state = state
        self.pending: ExchangeSide | None = ex
        self.parts: list[bytes] = []
        self.size = 0

    def feed(self, owner: SinkOwner, data: bytes) -> None:
        state = self.state
        self.parts.append(data)
        self.size += len(data)
        state.buffered += len(data)
        if self.size > state.body_buffer or state.buffered > state.buffer_budget:
            # Too big to wait for, or too much held by all connections: stream the rest.
            ex, parts = self.pending, self.parts
            assert ex is not None
            self.abort()
            owner.start_stream(ex, parts)

    def end(self, owner: SinkOwner) -> None:
        ex, parts, size = self.pending, self.parts, self.size
        assert ex is not None
        self.abort()
        environ = ex.environ
        if size <= SMALL_BODY:
            environ["wsgi.input"] = BytesIO(parts[0] if len(parts) == 1 else b"".join(parts))
        else:
            environ["wsgi.input"] = StreamInput.complete_body(parts)
        if ex.request.chunked:
            environ["CONTENT_LENGTH"] = str(size)
        owner.dispatch(ex)

    def abort(self) -> None:
        """Give the collected bytes back to the process's budget (idempotent)."""
        self.state.buffered -= self.size
        self.size = 0
        self.parts = []
        self.pending = None

    def stalled(self, owner: SinkOwner) -> None:
        owner.answer(BODY_TIMEOUT)  # still collected before the call: the application never runs

    def response_done(self, owner: SinkOwner, ex: ExchangeSide) -> BodySink | None:  # pragma: no cover
        return self  # never: the response of a collected body starts after the body ended


class StreamSink:
    """A body streamed to the application running in a worker thread (bounded `StreamInput`)."""

    __slots__ = ("stream",)
    pending = None

    def __init__(self, stream: StreamInput) -> None:
        self.stream = stream

    @property
    def full(self) -> bool:
        return self.stream.full

    def feed(self, owner: SinkOwner, data: bytes) -> None:
        if self.stream.feed(data):
            owner.pause_reading()

    def end(self, owner: SinkOwner) -> None:
        self.stream.finish()

    def abort(self) -> None:
        self.stream.abort()

    def stalled(self, owner: SinkOwner) -> None:
        # The application runs with the stream: its next read fails, and if nothing was sent yet the
        # answer is 408 (as for a malformed body).
        owner.protocol_error(BODY_TIMEOUT)

    def response_done(self, owner: SinkOwner, ex: ExchangeSide) -> BodySink | None:
        """The application did not read its whole body: discard the rest, or close if it is large."""
        stream = self.stream
        stream.drain()
        length = ex.request.content_length
        if stream.continue_pending or (length is not None and length > DRAIN_LIMIT * 4):
            owner.close()
            return None
        return DiscardSink(DRAIN_LIMIT)


class DiscardSink:
    """The rest of a body its application did not read, discarded up to a limit after the response."""

    __slots__ = ("left",)
    pending = None
    full = False

    def __init__(self, left: int) -> None:
        self.left = left

    def feed(self, owner: SinkOwner, data: bytes) -> None:
        self.left -= len(data)
        if self.left < 0:
            owner.close()

    def end(self, owner: SinkOwner) -> None:
        pass

    def abort(self) -> None:
        pass

    def stalled(self, owner: SinkOwner) -> None:
        owner.close()  # the response is out; the rest of the body was not wanted anyway

    def response_done(self, owner: SinkOwner, ex: ExchangeSide) -> BodySink | None:  # pragma: no cover
        return self  # never: a discarded body belongs to a response that is already complete
