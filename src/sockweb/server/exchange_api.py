"""The boundary between a connection and an exchange: what each may ask of the other, and the body sinks.

Strategy: an `Exchange` (sockweb.server.wsgi) is one request and its response; the thing that carries it is
a `Carrier`: the HTTP/1.1 connection (sockweb.server.protocol.HttpProtocol, one exchange at a time) or an
HTTP/2 stream (one exchange per stream). The exchange asks its carrier only for what is listed in `Carrier`;
the carrier asks the exchange only for what is listed in `ExchangeSide`. Neither reads the other's other
attributes (tests/server/test_boundaries.py checks both directions over the AST).

Wire bytes stay on the carrier's side: the exchange hands over the application's status, header list and
known body length (`Carrier.plan_head`) and gets back a `Head` - the bytes of the head in the carrier's
own framing plus what HTTP decided (is there a body, does the connection stay open) - and a `BodyFramer`
(`Carrier.body_framer`) that turns body pieces into the carrier's bytes (HTTP/1.1: Content-Length or
chunked; HTTP/2: DATA frames). Everything else the exchange sends - the head, framed pieces, a small
error answer from `Carrier.error_response` - leaves through `Carrier.send` (event-loop thread) or
`Carrier.send_threadsafe` (a worker thread; blocks while the client is not reading: flow control).

A request body arrives into one `BodySink` at a time: collected before the application runs
(`BufferSink`), streamed to the application in a worker thread (`StreamSink`), or discarded after the
response when the application did not read it (`DiscardSink`); sockweb.server.sinks holds the three. The
carrier routes body events to its sink and does what the sink's answer asks, with no marker objects and no
isinstance chains.

Speed: these are `typing.Protocol`s, checked by mypy and the boundary test, and cost nothing at run time;
the members are plain attributes and methods of the concrete classes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from sockweb.http import ProtocolError, Request
    from sockweb.server.filewrapper import FileWrapper
    from sockweb.server.input import StreamInput
    from sockweb.server.state import ServerState

__all__ = ["BodyFramer", "BodySink", "Carrier", "ExchangeSide", "Head", "SinkOwner"]


class Head(Protocol):
    """What the carrier decided for one response (sockweb.http.ResponsePlan is the HTTP/1.1 one)."""

    @property
    def head(self) -> bytes:
        """The response head as the carrier's wire bytes (HTTP/1.1: status line, fields, blank line)."""

    @property
    def send_body(self) -> bool:
        """False when HTTP forbids a body (HEAD, 1xx, 204, 304): body pieces are counted, not sent."""

    @property
    def framing(self) -> str:
        """ "length": the body goes out as its own bytes after the head (HTTP/1.1 with Content-Length), so
        a body known whole may be sent joined to the head; any other value: every piece goes through
        `Carrier.body_framer` (HTTP/1.1 "chunked"/"close"/"none", or an HTTP/2 stream's DATA frames)."""

    @property
    def keep_alive(self) -> bool:
        """Whether the carrier may serve another exchange after this one (HTTP/2: the stream ends clean)."""


class BodyFramer(Protocol):
    """Frames the body of one response for its carrier (sockweb.http.BodyWriter for HTTP/1.1)."""

    def write(self, data: bytes) -> bytes:
        """The bytes to send for `data`; ValueError when the body grows past its declared length."""

    def finish(self) -> bytes:
        """The bytes that end the body; ValueError when the body is shorter than its declared length."""


class Carrier(Protocol):
    """What an exchange may ask of the connection (HTTP/1.1) or stream (HTTP/2) that carries it.

    Thread rules: `send`, `plan_head`, `body_framer`, `error_response` and `exchange_done` are called on
    the event-loop thread while the application runs inline; in a worker thread the exchange calls
    `send_threadsafe` instead of `send` and ends with ``state.post(carrier.thread_done, ...)``.
    """

    @property
    def state(self) -> ServerState:
        """What the process shares: ``app``, ``extra`` (Date/Server lines), ``stopping``, ``post``."""

    @property
    def write_paused(self) -> bool:
        """Flow control: True while the client is not reading; an inline exchange suspends its body."""

    def send(self, data: bytes) -> None:
        """Queue `data` (head and/or framed body bytes) from the event-loop thread."""

    def send_threadsafe(self, data: bytes) -> None:
        """Send `data` from a worker thread; blocks until writable; ClientDisconnected when gone."""

    def plan_head(self, ex: ExchangeSide, body_length: int | None) -> Head:
        """Validate and plan the head of `ex`'s response (status, headers, `body_length` when known).

        sockweb.server.wsgi.BadResponse for a head that can never be sent (a status that is None or not
        a str, invalid fields, a Content-Length that disagrees with `body_length`). The version-independent
        rules (sockweb.http.semantics) and the carrier's own framing both apply here. (The exchange checks
        its own `body_error` before calling.)
        """

    def body_framer(self, head: Head) -> BodyFramer | None:
        """The framer of the body that follows `head` (None when it has no body)."""

    def error_response(self, error: ProtocolError, extra: bytes) -> bytes:
        """The whole answer for `error` in the carrier's bytes (its last on this connection/stream)."""

    def try_sendfile(self, ex: ExchangeSide, wrapper: FileWrapper) -> bool:
        """Send `wrapper` with os.sendfile if the carrier can (then it ends `ex`); False to iterate it."""

    def exchange_done(self, ex: ExchangeSide, keep_alive: bool) -> None:
        """`ex`'s response is complete (event-loop thread); `keep_alive` False closes the connection."""

    def thread_done(self, ex: ExchangeSide, keep_alive: bool) -> None:
        """As `exchange_done`, for an exchange that ran in a worker thread (posted to the loop)."""


class ExchangeSide(Protocol):
    """What a carrier may ask of an exchange (sockweb.server.wsgi.Exchange)."""

    request: Request
    environ: dict[str, Any]
    status: str | None  # the application's status line, once start_response was called
    headers: list[tuple[str, str]]  # the application's header list
    plan: Head | None  # the head planned so far (None: nothing sent yet)
    input: StreamInput | None  # the streamed request body, when it streams
    sent: int  # body bytes handed to the carrier
    started: float  # perf_counter() at the head, when timing is on
    threaded: bool  # the application runs (or ran) in a worker thread
    iterator: Iterator[bytes] | None  # a response being iterated (inline: may be suspended)
    body_error: ProtocolError | None  # the request body failed: the answer if nothing was sent yet

    def begin(self, conn: Carrier, request: Request, environ: dict[str, Any]) -> None:
        """Set up a new exchange for `request` (what ``__init__`` does; a carrier that makes exchanges with
        ``object.__new__`` calls it, and subclasses extend it)."""

    def extra(self) -> bytes:
        """Header lines (CRLF-terminated) the carrier adds to this response's head: Date, Server, ..."""

    def run(self, suspendable: bool) -> bool:
        """Call the application inline; False if its body is suspended waiting for `write_paused`."""

    def run_threaded(self) -> None:
        """Call the application in the worker thread that runs this."""

    def pump(self, suspendable: bool) -> bool:
        """Resume a suspended body; True once the exchange is done."""

    def to_thread(self) -> None:
        """From now on the exchange runs in a worker thread (sends through `send_threadsafe`)."""

    def make_head(self, body_length: int | None) -> bytes:
        """Plan the head (recording it in `plan`) and return its bytes (used by sendfile)."""

    def body_failed(self, error: ProtocolError) -> None:
        """The request body broke (malformed or stalled): the application's next read fails."""

    def close_result(self) -> None:
        """Call ``close()`` of the application's result (once)."""

    def fail(self, message: str) -> None:
        """Log the current exception; answer 500 if nothing was sent, else end without keep-alive."""

    def done(self, keep_alive: bool) -> None:
        """End the exchange (calls the carrier's `exchange_done` or posts its `thread_done`)."""


class SinkOwner(Protocol):
    """What a body sink may ask of the HTTP/1.1 connection that feeds it."""

    def dispatch(self, ex: ExchangeSide) -> None:
        """The request is complete: run its application."""

    def start_stream(self, ex: ExchangeSide, parts: list[bytes]) -> None:
        """Run the application in a thread now, its body streamed; `parts` arrived already."""

    def pause_reading(self) -> None:
        """Stop reading from the socket until the sink has room."""

    def close(self) -> None:
        """Close the connection (staged)."""

    @property
    def state(self) -> ServerState:
        """The process's shared state (body buffer budget, limits)."""

    def protocol_error(self, exc: ProtocolError) -> None:
        """Answer `exc` and close, or, while an application runs, fail its body with it."""

    def answer(self, exc: ProtocolError) -> None:
        """Answer `exc` (no application ran) and close."""


class BodySink(Protocol):
    """Where the body of the request being read goes; one interface for all three kinds.

    The connection calls `feed` for each Data event, `end` at EndOfMessage, `abort` when the body will
    never complete (the connection is gone, the body was malformed), `stalled` when the body stopped
    moving for `body_timeout`, and `response_done` when the response of the sink's exchange is complete
    while the body is still arriving; `full` says whether reading must stay paused. The sink itself asks
    its owner (`SinkOwner`) to act; the connection never asks which kind of sink it holds.
    """

    @property
    def pending(self) -> ExchangeSide | None:
        """The exchange waiting for this body before its application runs (collected bodies only)."""

    @property
    def full(self) -> bool:
        """True while reading must stay paused (the streamed body's buffer is full)."""

    def feed(self, owner: SinkOwner, data: bytes) -> None:
        """A piece of the body arrived."""

    def end(self, owner: SinkOwner) -> None:
        """The body is complete (the owner no longer holds the sink)."""

    def abort(self) -> None:
        """The body will never complete: give back what the sink holds, wake a reader."""

    def stalled(self, owner: SinkOwner) -> None:
        """The body stopped moving for the body timeout: answer 408 or close, as fits the sink's phase."""

    def response_done(self, owner: SinkOwner, ex: ExchangeSide) -> BodySink | None:
        """`ex`'s response is complete while its body still arrives: the sink for the rest (None: closed)."""
