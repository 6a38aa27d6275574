"""One HTTP/2 stream as the carrier of one WSGI exchange (the `Carrier` of sockweb.server.exchange_api).

Strategy: the exchange (sockweb.server.wsgi.Exchange) is the same as over HTTP/1.1; only the wire side
differs. `plan_head` validates the application's status and headers with the HTTP rules every version
shares (sockweb.http.semantics: status syntax, field names and values, Content-Length, no
Transfer-Encoding, which responses have no body) and turns them into an HTTP/2 field list: lowercase
names, ``:status`` first, no connection-specific fields (RFC 9113 §8.2.2). That plan is a plain list, so it
may be made in a worker thread; the HPACK encoder, whose state is the connection's, only ever runs on the
event-loop thread. The "head bytes" the exchange sends are therefore empty: the first `send` of a stream
emits its planned HEADERS, and the body bytes become DATA frames as the peer's flow-control windows allow.

Output is queued per stream (`out`) and moved into the h2 connection by `pump`, frame by frame, as long as
the stream's and the connection's send windows are open and the transport is not paused; what does not
fit waits for a WINDOW_UPDATE. An application writing from a worker thread blocks while more than
``--write-buffer-high`` bytes of its stream wait (the same bound as HTTP/1.1), an inline one is suspended
(`write_paused`) and resumed when the window opens. The stream ends with END_STREAM on its last frame when
the exchange is done, or with RST_STREAM(INTERNAL_ERROR) when the response broke after its head was sent.
"""

from __future__ import annotations

import threading
from collections import deque
from time import monotonic
from typing import TYPE_CHECKING

import h2.exceptions
from h2.errors import ErrorCodes

from sockweb.http import STATUS_REASONS, ProtocolError
from sockweb.http.semantics import body_allowed, check_fields, check_status, own_fields
from sockweb.server.clock import clock
from sockweb.server.h2fields import CONNECTION_SPECIFIC
from sockweb.server.input import ClientDisconnected

if TYPE_CHECKING:
    from sockweb.server.exchange_api import ExchangeSide, Head
    from sockweb.server.filewrapper import FileWrapper
    from sockweb.server.h2conn import H2Protocol
    from sockweb.server.input import StreamInput
    from sockweb.server.state import ServerState
    from sockweb.server.wsgi import Exchange

__all__ = ["CONNECTION_SPECIFIC", "H2Framer", "H2Head", "H2Stream", "extra_fields"]

Fields = list[tuple[bytes, bytes]]

# RFC 9113 §8.2.2: "An endpoint MUST NOT generate an HTTP/2 message containing connection-specific header
# fields" (Connection, Keep-Alive, Proxy-Connection, Transfer-Encoding, Upgrade): the server drops them
# (the set is h2fields', which refuses them in requests) ...
# ... and Content-Length, which the stream writes itself once it has checked it against the body.
_FRAMED_HERE = CONNECTION_SPECIFIC | {b"content-length"}


class H2Head:
    """The plan of one HTTP/2 response: its field list (sent by the stream; never changed once planned,
    as streams share it through the `H2HeadCache`), whether a body follows and its Content-Length (None:
    unknown or no body)."""

    __slots__ = ("fields", "length", "send_body")

    head = b""  # the HEADERS frame is encoded by the stream, on the loop thread (HPACK state)
    keep_alive = True  # a stream carries one exchange; the connection's life does not depend on it
    framing = "frames"  # every body piece goes through the stream's framer (DATA frames)

    def __init__(self, fields: Fields, send_body: bool, length: int | None = None) -> None:
        self.fields = fields
        self.send_body = send_body
        self.length = length


class H2Framer:
    """The body of an HTTP/2 response: DATA frames are cut by the stream; this checks the declared length."""

    __slots__ = ("remaining",)

    def __init__(self, content_length: int | None) -> None:
        self.remaining = content_length

    def write(self, data: bytes) -> bytes:
        if self.remaining is not None:
            self.remaining -= len(data)
            if self.remaining < 0:
                raise ValueError("response body longer than its Content-Length")
        return data

    def finish(self) -> bytes:
        # RFC 9113 §8.1.1: a response whose DATA does not add up to its content-length is malformed.
        if self.remaining:
            raise ValueError("response body shorter than its Content-Length")
        return b""


def extra_fields(extra: bytes, own: set[bytes]) -> Fields:
    """The server's extra header lines (``Date: ...\\r\\nServer: ...\\r\\n``) as fields, leaving out
    those the application set itself (RFC 9110 §5.3: no second Date or Server field)."""
    fields: Fields = []
    for line in extra.split(b"\r\n"):
        name, sep, value = line.partition(b": ")
        if sep:
            name = name.lower()
            if name not in own:
                fields.append((name, value))
    return fields


class H2Stream:
    """One stream of an HTTP/2 connection and the carrier of its exchange; see the module docstring."""

    __slots__ = (
        "blocked",
        "blocked_since",
        "body_since",
        "closed",
        "conn",
        "ended",
        "error_sent",
        "exchange",
        "head",
        "held",
        "input",
        "length",
        "offset",
        "out",
        "out_size",
        "posted",
        "sent_head",
        "state",
        "stream_id",
        "wake",
        "written",
    )

    def __init__(self, conn: H2Protocol, stream_id: int) -> None:
        self.conn = conn
        self.state: ServerState = conn.state
        self.stream_id = stream_id
        self.exchange: Exchange | None = None
        self.input: StreamInput | None = None
        self.held = 0  # received body bytes not yet acknowledged (their WINDOW_UPDATE waits for the reader)
        self.body_since = monotonic()  # the request body last moved
        self.head: Fields | None = None  # the planned response fields, until sent
        self.length: int | None = None  # the planned body's Content-Length (None: unknown or no body)
        self.sent_head = False
        self.out: deque[bytes] = deque()  # response body bytes not yet handed to h2 ...
        self.offset = 0  # ... of which the first `offset` bytes of out[0] were handed already
        self.out_size = 0
        self.ended = False  # the exchange is done: END_STREAM goes with the last frame
        self.error_sent = (
            False  # the response is a complete error answer (ends clean even without keep-alive)
        )
        self.closed = False  # reset by either side, or the connection is gone: nothing more is sent
        self.blocked = False  # output waits for the peer's flow-control window (or the transport)
        self.blocked_since = 0.0
        self.posted = 0  # bytes a worker thread handed over ...
        self.written = 0  # ... and those of them moved into the h2 connection
        self.wake: threading.Event | None = None

    # -- Carrier: what the exchange asks ----------------------------------------------------------------
    @property
    def write_paused(self) -> bool:
        return self.blocked or self.conn.write_paused

    def plan_head(self, ex: ExchangeSide, body_length: int | None) -> H2Head:
        # The same status, headers, body length and HEAD-or-not give the same fields (within the second
        # of their Date): planned once, then taken from the state's H2HeadCache.
        cache = self.state.h2_head_cache
        key: tuple[object, ...] | None = None
        if cache is not None:
            try:
                key = (ex.status, tuple(ex.headers), body_length, ex.request.method == "HEAD")
                head = cache.plans.get(key)
            except TypeError:  # unhashable headers: refused by `plan_fields`
                key = head = None
            if head is not None:
                self.head, self.length = head.fields, head.length
                return head
        head = self.plan_fields(ex, body_length)
        if key is not None and cache is not None:
            cache.keep(key, head)  # only validated heads get here
        self.head, self.length = head.fields, head.length
        return head

    @staticmethod
    def plan_fields(ex: ExchangeSide, body_length: int | None) -> H2Head:
        """Validate `ex`'s status and headers and plan its HTTP/2 fields (the reference of the cache)."""
        status: str = ex.status  # type: ignore[assignment]  # the exchange checked it is a str
        code = check_status(status)
        kept, declared, _close = check_fields(ex.headers)  # Connection out, Content-Length read
        fields: Fields = [(b":status", status[:3].encode("ascii"))]
        for name, value in kept:
            lname = name.lower().encode("latin-1")
            if lname not in _FRAMED_HERE:
                fields.append((lname, value.encode("latin-1")))
        fields += extra_fields(ex.extra(), {name.encode("ascii") for name in own_fields(ex.headers)})
        allowed = body_allowed(code, ex.request.method == "HEAD")
        if allowed:
            if declared is not None and body_length is not None and declared != body_length:
                raise ValueError(f"Content-Length {declared} does not match the {body_length}-byte body")
            length = declared if declared is not None else body_length
        else:
            # HEAD and 304 may declare the length of the body they do not carry; 1xx and 204 may not.
            length = declared if allowed is False else None
        if length is not None:
            fields.append((b"content-length", str(length).encode("ascii")))
        return H2Head(fields, bool(allowed), length if allowed else None)

    def body_framer(self, head: Head) -> H2Framer | None:
        # The length is the one this stream planned last (`plan_head` comes first, on the same thread).
        return H2Framer(self.length) if head.send_body else None

    def error_response(self, error: ProtocolError, extra: bytes) -> bytes:
        """The answer to `error` on this stream: its fields are planned here, its body returned."""
        reason = STATUS_REASONS.get(error.status, "Error")
        body = f"{error.status} {reason}: {error.args[0] if error.args else ''}\n".encode(
            "latin-1", "replace"
        )
        self.head = [
            (b":status", str(error.status).encode("ascii")),
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode("ascii")),
            *extra_fields(extra, set()),
        ]
        self.error_sent = True
        return body

    def send(self, data: bytes) -> None:
        """Queue `data` (loop thread); the connection pumps queued streams at the end of its batch."""
        if self.closed:
            raise ClientDisconnected("the client reset the stream or closed the connection")
        if data:
            self.out.append(data)
            self.out_size += len(data)
        conn = self.conn
        conn.dirty.add(self)
        if self.out_size > 65536:
            self.pump()  # big bodies move now, so `write_paused` tells the truth (window and transport)

    def send_threadsafe(self, data: bytes) -> None:
        """Send `data` from a worker thread; blocks while too much of this stream waits to be sent."""
        if self.closed:
            raise ClientDisconnected("the client reset the stream or closed the connection")
        self.posted += len(data)
        self.state.post(self.write_posted, data)
        high = self.state.high
        if self.posted - self.written > high:
            wake = self.wake
            assert wake is not None
            while not self.closed and self.posted - self.written > high:
                wake.clear()
                if self.closed or self.posted - self.written <= high:
                    break
                wake.wait(1.0)
            if self.closed:
                raise ClientDisconnected("the client reset the stream or closed the connection")

    def write_posted(self, data: bytes) -> None:
        if self.closed:
            self.written += len(data)
            return
        if data:
            self.out.append(data)
            self.out_size += len(data)
        conn = self.conn
        conn.dirty.add(self)
        if self.out_size > 65536:
            self.pump()  # big bodies move now: the writer's backpressure counts what h2 took
        # One flush for everything the worker threads posted in this batch (their ends included), so a
        # small response is one HEADERS and one DATA frame with END_STREAM, written with its neighbours.
        conn.schedule_flush()

    def try_sendfile(self, ex: ExchangeSide, wrapper: FileWrapper) -> bool:
        return False  # DATA frames are cut from the file's iteration

    def exchange_done(self, ex: ExchangeSide, keep_alive: bool) -> None:
        """The response is complete: END_STREAM after the queued bytes, or a reset if it broke."""
        state = self.state
        self.exchange = None  # not running any more (the metrics' list), though bytes may wait for window
        tally = state.tally
        # Counted as over HTTP/1.1, except that the bytes out are the body's (DATA payloads): the HEADERS
        # frame is HPACK-encoded later, by `pump`, and its size is not known here (`H2Head.head` is b"").
        if tally is not None and tally.count(ex):
            state.metrics.failed(ex)  # type: ignore[union-attr]
        if state.access_log is not None:
            state.access_log.log(ex.environ, ex.status or "500", ex.headers, ex.sent, clock() - ex.started)
        conn = self.conn
        conn.running -= 1
        if self.closed:
            conn.stream_done(self)
        elif keep_alive or self.error_sent:
            self.ended = True  # the stream is done once its last bytes are out (see `pump`)
            conn.dirty.add(self)
            conn.schedule_flush()
        else:
            # The response broke after its head was sent (or the client is gone): the peer must not take
            # the truncated body for a whole one.
            conn.reset(self, ErrorCodes.INTERNAL_ERROR)
            conn.stream_done(self)
            conn.schedule_flush()

    def thread_done(self, ex: ExchangeSide, keep_alive: bool) -> None:
        self.exchange_done(ex, keep_alive)

    # -- output ------------------------------------------------------------------------------------------
    def pump(self) -> None:
        """Move the head and as much of the body into the h2 connection as the windows allow."""
        if self.closed:
            return
        try:
            self._pump()
        except h2.exceptions.ProtocolError:
            # The connection is closing (a GOAWAY with an error code, either way: h2 then refuses every
            # frame) or the stream was closed under us: nothing more can be sent on it.
            self.lost()
            self.conn.stream_done(self)

    def _pump(self) -> None:
        conn = self.conn
        h2 = conn.h2
        sid = self.stream_id
        out = self.out
        if not self.sent_head:
            if self.head is None:
                return  # nothing planned yet (a body-less send before the head cannot happen)
            self.sent_head = True
            h2.send_headers(sid, self.head, end_stream=self.ended and not out)
            if self.ended and not out:
                self.closed = True
                conn.stream_done(self)
                return
        moved = unwritten = 0
        max_frame = h2.max_outbound_frame_size
        window = h2.local_flow_control_window(sid) if out and not conn.write_paused else 0
        while out and window > 0 and not conn.write_paused:
            chunk = out[0]
            start = self.offset
            size = min(window, max_frame, len(chunk) - start)
            if start + size == len(chunk):
                out.popleft()
                self.offset = 0
                # A view, not a copy, of a big chunk's pieces (a copy of the rest per frame was quadratic).
                piece = chunk if not start else memoryview(chunk)[start:]
            else:
                self.offset = start + size
                piece = memoryview(chunk)[start : start + size]
            moved += size
            window -= size
            self.out_size -= size
            h2.send_data(sid, piece, end_stream=self.ended and not out)
            unwritten += size
            if unwritten >= 65536:
                # Hand the frames to the transport as they are made: its high-water mark, not only the
                # client's window (which may be a GiB), is what pauses this body (`write_paused`).
                conn.write_out()
                unwritten = 0
        if moved:
            self.written += moved
            if self.wake is not None:
                self.wake.set()
        if out:
            if not self.blocked:
                self.blocked = True
                self.blocked_since = monotonic()
            return
        self.blocked = False
        if self.ended:
            if not moved:
                h2.end_stream(sid)  # the last bytes left earlier, before the exchange was done
            self.closed = True
            conn.stream_done(self)

    def resume(self) -> None:
        """The window opened or the transport drained: pump, and resume a suspended inline body."""
        self.pump()
        ex = self.exchange
        if ex is not None and not self.blocked and not ex.threaded and ex.iterator is not None:
            ex.pump(True)

    def lost(self) -> None:
        """Reset by the client, or the connection is gone: wake and fail whatever waits on this stream."""
        self.closed = True
        self.out.clear()
        self.offset = 0
        if self.input is not None:
            self.input.abort()
        if self.wake is not None:
            self.wake.set()
        ex = self.exchange
        if ex is not None and not ex.threaded and ex.iterator is not None:
            # An inline response: suspended (waiting for window), or the one running right now, whose
            # next send raises ClientDisconnected. Looked at again once the current call is over.
            self.state.loop.call_soon(self.close_suspended, ex)

    def close_suspended(self, ex: Exchange) -> None:
        """Close the iterable of a suspended inline response whose stream is gone (the client cancelled)."""
        if self.exchange is ex:
            self.exchange = None
            self.conn.running -= 1
            ex.close_result()
            self.conn.stream_done(self)
