"""HTTP/2 connections (RFC 9113) as an asyncio.Protocol driving the sans-io h2 library.

Strategy: h2's ``H2Connection`` (server side, without its field checks: see below) turns received bytes
into events and our calls into frames; this module owns the socket side and maps every stream to one WSGI
exchange carried by an `H2Stream` (sockweb.server.h2stream), the same `Exchange` as HTTP/1.1 runs. Events
are dispatched through a table (`_HANDLERS`). A request's fields are checked against HTTP/2's rules and
written out as an HTTP/1.1 head parsed by sockweb.http's `RequestParser` (sockweb.server.h2fields), so
field validation, limits, target forms and Content-Length rules live in one place each, and
`head_environ` builds the environ unchanged (then
``SERVER_PROTOCOL`` is ``HTTP/2`` and ``HTTP_HOST`` comes from ``:authority``). A request without a body is
dispatched like an HTTP/1.1 one (inline or in the pool, by ``--dispatch``); one with a body runs in a
worker thread reading a bounded `StreamInput`, and the stream's window is only widened (WINDOW_UPDATE) as
the application reads: that is the backpressure into ``wsgi.input``. Dispatch waits for the end of a
received batch, so a stream opened and reset in the same read never reaches the application.

Protections, each in one place here or in h2:

=====================================  =================================================================
threat                                 answer
=====================================  =================================================================
malformed frames, bad preface,         h2 raises; its GOAWAY (PROTOCOL_ERROR, FRAME_SIZE_ERROR,
oversized frames, stream-id misuse,    FLOW_CONTROL_ERROR, ...) is sent, the connection closes
window overflow
malformed request fields (HTTP/2's     GOAWAY(PROTOCOL_ERROR), close (sockweb.server.h2fields); fields
rules) or HTTP's field rules broken    that break HTTP's rules get an HTTP error answer (our parser: 400,
                                       414, 431)
more than --http2-max-concurrent-      h2 refuses the new stream; applications still running for reset
streams open                           streams count too: beyond the bound, RST_STREAM(REFUSED_STREAM)
header list beyond --http2-max-        GOAWAY(ENHANCE_YOUR_CALM) (h2's HPACK decoder bound)
header-list-size
CONTINUATION flood                     h2 holds at most 64 frames of one header block (64 x 16 KiB, the
                                       frame size we advertise), then GOAWAY(PROTOCOL_ERROR)
rapid reset (CVE-2023-44487)           more than --http2-max-resets client resets in `RESET_WINDOW`
                                       seconds: GOAWAY(ENHANCE_YOUR_CALM), close
=====================================  =================================================================

Timeouts go through the state's once-a-second sweeper (`check_timeouts`): a connection without streams
closes after ``--keepalive-timeout`` (with GOAWAY), a body that stops for ``--body-timeout`` resets its
stream, a response that waits that long for window is reset, and unsent bytes that do not move for that
long abort the connection, as over HTTP/1.1. A graceful stop (or reload) sends GOAWAY(NO_ERROR) naming the
last stream taken and closes once those streams are done; a client's GOAWAY(NO_ERROR) ends the connection
the same way (`_ServerConnection` keeps h2 open for it), one with an error code closes it at once. Every
close is staged as over HTTP/1.1 (`Linger`: FIN after the last frames, then what the client still sends
is read and dropped until it closes), so a WINDOW_UPDATE or a stream racing the GOAWAY cannot make the
kernel reset the connection and destroy the last response or the GOAWAY itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
from collections.abc import Callable
from time import monotonic, thread_time
from typing import TYPE_CHECKING, Any, cast

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
from hyperframe.exceptions import HyperframeError
from hyperframe.frame import Frame, GoAwayFrame

from sockweb.http import ProtocolError, Request
from sockweb.server.clock import clock
from sockweb.server.dispatch import SLOW_CALL, voluntary_switches
from sockweb.server.h2fields import (
    CONNECTION_SPECIFIC,
    HeadReader,
    MalformedFields,
    check_trailers,
    request_of,
)
from sockweb.server.h2hpack import ResponseEncoder
from sockweb.server.h2stream import H2Stream
from sockweb.server.input import StreamInput
from sockweb.server.protocol import (
    INPUT_HIGH,
    INPUT_LOW,
    HttpProtocol,
    Linger,
    kernel_unsent,
    prepare_transport,
)
from sockweb.server.wsgi import Environ, head_environ

if TYPE_CHECKING:
    from sockweb.server.exchange_api import ExchangeSide
    from sockweb.server.state import ServerState
    from sockweb.server.wsgi import Exchange

__all__ = ["PREFACE", "RESET_WINDOW", "H2Protocol", "H2Ready"]

log = logging.getLogger("sockweb.error")

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"  # RFC 9113 §3.4: the client connection preface
RESET_WINDOW = 10.0  # seconds over which client resets are counted (see --http2-max-resets)
ErrorCodes = h2.errors.ErrorCodes


class H2Protocol(asyncio.Protocol):
    """One HTTP/2 connection; see the module docstring."""

    # What the metrics read of every connection (HTTP/1.1's phase fields): an HTTP/2 connection is never
    # "idle" in that sense while it has streams, which `streams` tells.
    sink = None
    head_start = 0.0
    connection_class: type[_ServerConnection]  # h2's connection (set below the class; --trace's logs more)

    def __init__(self, state: ServerState, template: Environ, tls: bool) -> None:
        self.state = state
        self.template = template
        self.tls = tls
        config = state.config
        self.transport: asyncio.Transport | None = None
        # Inbound fields are checked once, by sockweb.server.h2fields (HTTP/2's rules) and our parser
        # (HTTP's); outbound ones were validated by plan_head and lowercased by the stream. So h2 checks
        # and rewrites neither (its generator chains cost a tenth of a request).
        h2_config = h2.config.H2Configuration(
            client_side=False,
            header_encoding=None,
            validate_inbound_headers=False,
            normalize_inbound_headers=False,
            validate_outbound_headers=False,
            normalize_outbound_headers=False,
        )
        conn = self.h2 = self.connection_class(config=h2_config)
        self.window = config.http2_initial_window_size
        self.max_streams = config.http2_max_concurrent_streams
        conn.local_settings = h2.settings.Settings(
            client=False,
            initial_values={
                h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: self.max_streams,
                h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: config.http2_max_header_list_size,
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: self.window,
                h2.settings.SettingCodes.ENABLE_PUSH: 0,
            },
        )
        # h2 applies a header-list bound only when a changed setting is acknowledged: set it for ours.
        conn.decoder.max_header_list_size = config.http2_max_header_list_size
        # Response fields are HPACK-encoded without a dynamic table (sockweb.server.h2hpack: h2's encoder
        # cost an eighth of a small request); h2 only calls `encode` and sets `header_table_size`.
        conn.encoder = ResponseEncoder()  # type: ignore[assignment]  # hpack's Encoder, duck-typed
        self.max_resets = config.http2_max_resets
        self.heads = HeadReader(state.limits)  # the parser of the requests' heads
        self.streams: dict[int, H2Stream] = {}
        self.dirty: set[H2Stream] = set()  # streams with output queued in this batch
        self.flush_pending = False  # a flush is scheduled (`schedule_flush`)
        self.ready: list[H2Stream] = []  # complete requests of this batch, dispatched at its end
        self.running = 0  # exchanges whose application has not finished (reset streams included)
        self.closed = False
        self.linger: Linger | None = None  # the staged close (`close`)
        self.write_paused = False
        self.idle_since = monotonic()
        self.resets = 0
        self.resets_since = 0.0
        self.goaway_sent = False
        self.last_stream = 0  # the highest stream id taken (the GOAWAY's last-stream-id)
        self.unsent = 0
        self.write_since = 0.0
        self.remote_addr = ""
        self.remote_port = ""

    @property
    def exchange(self) -> object:
        """Something while streams are open (what the metrics' idle count looks at), else None."""
        return self.streams or None

    def running_exchanges(self) -> list[ExchangeSide]:
        """The exchanges of the streams whose application runs or whose response is being made (read by
        the metrics from any thread: the copy of the dict is atomic under the GIL)."""
        return [ex for ex in [stream.exchange for stream in list(self.streams.values())] if ex is not None]

    # -- asyncio callbacks ------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport = cast(asyncio.Transport, transport)
        self.state.connections.add(cast(HttpProtocol, self))
        self.remote_addr, self.remote_port = prepare_transport(transport, self.state)
        conn = self.h2
        if conn.state_machine.state is h2.connection.ConnectionState.IDLE:  # (an upgrade initiated it)
            conn.initiate_connection()
        # The connection's receive window: four streams' worth, so one slow reader does not stall the rest.
        conn.increment_flow_control_window(self.window * 4 - 65535)
        self.flush()

    def take_upgrade_request(self, req: Request) -> None:
        """RFC 7540 §3.2: the HTTP/1.1 request that asked for h2c is stream 1, complete (h2's
        `initiate_upgrade_connection` made the stream); it goes the way of a received HEADERS block."""
        event = h2.events.RequestReceived(stream_id=1)
        event.headers = [
            (b":method", req.method.encode("ascii")),
            (b":scheme", b"http"),
            (b":path", req.target),
            *[(name, value) for name, value in req.headers if name not in _HOP_FIELDS],
        ]
        event.stream_ended = h2.events.StreamEnded(stream_id=1)
        self.on_request(event)
        ready, self.ready = self.ready, []
        for stream in ready:
            if stream.exchange is not None:
                self.dispatch(stream, stream.exchange)
        self.flush()

    def follow(self, before: HttpProtocol, how: str) -> None:
        """Take over from the HTTP/1.1 connection `before` (`how`: ALPN or the preface): its peer's
        address, which a PROXY protocol header may have set."""
        self.remote_addr = before.remote_addr or self.remote_addr
        self.remote_port = before.remote_port or self.remote_port

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.state.connections.discard(cast(HttpProtocol, self))
        for stream in list(self.streams.values()):
            stream.lost()

    def data_received(self, data: bytes) -> None:
        if self.closed:
            if self.linger is not None:
                self.linger.discard(data)
            return
        tally = self.state.tally
        if tally is not None:
            tally.received(data)
        try:
            events = self.h2.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            # h2 queued the GOAWAY that names the error, except for a bad preface, which it refuses before
            # reading frames: RFC 9113 §3.4, "MUST be treated as a connection error (PROTOCOL_ERROR)".
            self.protocol_error(exc, exc.error_code)
            return
        try:
            for event in events:
                handler = _HANDLERS.get(type(event))
                if handler is not None:
                    handler(self, event)
                if self.closed:
                    return
            ready, self.ready = self.ready, []
            for stream in ready:
                if not stream.closed and stream.exchange is not None:
                    self.dispatch(stream, stream.exchange)
        except Exception:  # a server fault (Exchange.run handles the application's): never the loop's
            log.exception(
                "Internal error on the HTTP/2 connection from %s:%s", self.remote_addr, self.remote_port
            )
            self.abort()
            return
        self.flush()

    def protocol_error(self, exc: Exception, code: int) -> None:
        """A connection error: GOAWAY with `code` (unless h2 closed the connection already), then close."""
        log.info("HTTP/2 protocol error from %s:%s: %s", self.remote_addr, self.remote_port, exc)
        self.count_error(code, str(exc))
        if self.h2.state_machine.state is not h2.connection.ConnectionState.CLOSED:
            with contextlib.suppress(h2.exceptions.ProtocolError):
                self.h2.close_connection(code, last_stream_id=self.last_stream)
        self.close()

    def eof_received(self) -> bool:
        return False

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        self.unsent = 0
        for stream in list(self.streams.values()):
            stream.resume()  # blocked output, and inline bodies suspended by the transport's pause
        self.flush()

    # -- events ------------------------------------------------------------------------------------------
    def on_request(self, event: h2.events.RequestReceived) -> None:
        sid = event.stream_id
        if (self.goaway_sent and sid > self.last_stream) or self.running >= self.max_streams:
            # RFC 9113 §8.7: REFUSED_STREAM tells the client the request was not processed (safe to retry).
            with contextlib.suppress(h2.exceptions.ProtocolError):
                self.h2.reset_stream(sid, ErrorCodes.REFUSED_STREAM)
            if self.state.metrics is not None:
                self.state.metrics.http2_reset(ErrorCodes.REFUSED_STREAM, False)
            return
        self.last_stream = max(self.last_stream, sid)
        stream = H2Stream(self, sid)
        self.streams[sid] = stream
        state = self.state
        try:
            req = request_of(event.headers or (), self.heads)
        except ProtocolError as exc:
            if state.metrics is not None:  # counted as HTTP/1.1's are (by status)
                state.metrics.protocol_error(exc.status, f"{exc} (from {self.remote_addr}, HTTP/2)")
            stream.send(stream.error_response(exc, state.extra))
            stream.ended = True
            stream.pump()  # done (stream_done) once its bytes are out
            return
        except MalformedFields as exc:
            # RFC 9113 §8.1.1: malformed; answered as a connection error (see sockweb.server.h2fields).
            self.protocol_error(exc, ErrorCodes.PROTOCOL_ERROR)
            return
        environ, forwarded = head_environ(self.template, state.header_keys, req)
        environ["SERVER_PROTOCOL"] = "HTTP/2"
        environ["REMOTE_ADDR"] = self.remote_addr
        environ["REMOTE_PORT"] = self.remote_port
        if forwarded and state.proxy is not None:
            state.proxy.apply(environ)
        ex = state.exchange_class(stream, req, environ)
        if state.timed:
            ex.started = clock()
        stream.exchange = ex
        self.running += 1
        if not event.stream_ended:
            # A body follows: the application reads it from a bounded input in a worker thread.
            if req.content_length is None:
                environ["wsgi.input_terminated"] = True
            wants_continue = req.expect_continue
            stream.input = StreamInput(
                INPUT_HIGH,
                INPUT_LOW,
                (lambda: state.post(self.send_continue, stream)) if wants_continue else None,
                lambda: state.post(self.release, stream),
            )
            environ["wsgi.input"] = ex.input = stream.input
        self.ready.append(stream)

    def on_data(self, event: h2.events.DataReceived) -> None:
        stream = self.streams.get(event.stream_id)
        size = event.flow_controlled_length
        sink = stream.input if stream is not None else None
        if stream is None or sink is None or stream.closed:
            # Nobody reads it (the stream is done or was refused): give the window back at once.
            self.h2.acknowledge_received_data(size, event.stream_id)
            return
        stream.body_since = monotonic()
        if sink.feed(event.data or b"") or stream.held:
            stream.held += size  # the reader is behind: its window reopens as it reads (`release`)
        elif size:
            self.h2.acknowledge_received_data(size, event.stream_id)

    def on_stream_end(self, event: h2.events.StreamEnded) -> None:
        stream = self.streams.get(event.stream_id)
        if stream is not None and stream.input is not None:
            stream.input.finish()

    def on_trailers(self, event: h2.events.TrailersReceived) -> None:
        # Not passed to the application (WSGI has no place for them), but checked like every field block.
        try:
            check_trailers(event.headers or ())
        except MalformedFields as exc:
            self.protocol_error(exc, ErrorCodes.PROTOCOL_ERROR)

    def on_reset(self, event: h2.events.StreamReset) -> None:
        stream = self.streams.get(event.stream_id)
        if event.remote_reset:
            if self.state.metrics is not None:
                self.state.metrics.http2_reset(event.error_code or 0, True)
            now = monotonic()
            if now - self.resets_since > RESET_WINDOW:
                self.resets_since, self.resets = now, 0
            self.resets += 1
            if self.resets > self.max_resets:
                log.info(
                    "Closing the HTTP/2 connection from %s:%s: %d stream resets within %gs (rapid reset)",
                    self.remote_addr,
                    self.remote_port,
                    self.resets,
                    RESET_WINDOW,
                )
                self.count_error(ErrorCodes.ENHANCE_YOUR_CALM, f"{self.resets} stream resets (rapid reset)")
                self.h2.close_connection(ErrorCodes.ENHANCE_YOUR_CALM, last_stream_id=self.last_stream)
                self.close()
        if stream is None:
            return
        if stream in self.ready:  # reset before its application ran: it never will
            self.ready.remove(stream)
            stream.exchange = None
            self.running -= 1
        stream.lost()
        if stream.exchange is None:
            self.stream_done(stream)

    def on_window(self, event: h2.events.WindowUpdated) -> None:
        if event.stream_id:
            stream = self.streams.get(event.stream_id)
            if stream is not None and stream.blocked:
                stream.resume()
        else:
            self.resume_blocked()

    def on_settings(self, event: h2.events.RemoteSettingsChanged) -> None:
        if h2.settings.SettingCodes.INITIAL_WINDOW_SIZE in event.changed_settings:
            self.resume_blocked()

    def on_goaway(self, event: h2.events.ConnectionTerminated) -> None:
        """The client's GOAWAY: it opens no more streams (its last-stream-id names server-initiated
        streams, which we never open). With NO_ERROR, the streams in flight are finished (`_ServerConnection`
        keeps h2 open for them); with an error code the client is done with the connection: close now."""
        if event.error_code != ErrorCodes.NO_ERROR:
            log.info(
                "Closing the HTTP/2 connection from %s:%s: the client sent GOAWAY(%s), %d stream(s) dropped",
                self.remote_addr,
                self.remote_port,
                getattr(event.error_code, "name", event.error_code),
                len(self.streams),
            )
            self.close()
            return
        self.goaway_sent = True  # nothing more to announce; new streams are refused (`on_request`)
        if not self.streams:
            self.close()

    def resume_blocked(self) -> None:
        for stream in list(self.streams.values()):
            if stream.blocked:
                stream.resume()

    # -- streams -----------------------------------------------------------------------------------------
    def dispatch(self, stream: H2Stream, ex: Exchange) -> None:
        """Run the application of a complete request (inline or in the pool) or of a body that streams."""
        state = self.state
        if stream.input is not None or not state.inline:
            stream.wake = threading.Event()
            ex.to_thread()
            state.pool.submit(ex.run_threaded)
            return
        auto = state.auto
        if auto is not None and auto.checking:
            switches = voluntary_switches()
            started, cpu = clock(), thread_time()
            ex.run(True)
            wall, cpu = clock() - started, thread_time() - cpu
            voluntary = voluntary_switches() - switches if switches >= 0 else -1
            auto.checked_call(wall, cpu, monotonic(), voluntary)
            state.inline = auto.inline
        elif auto is not None:
            started = clock()
            ex.run(True)
            if clock() - started > SLOW_CALL:
                auto.slow_call()
        else:
            ex.run(True)

    def stream_done(self, stream: H2Stream) -> None:
        """The stream's exchange is over (or never ran): forget it once its output is out."""
        if self.streams.get(stream.stream_id) is stream:
            del self.streams[stream.stream_id]
        if stream.held:
            with contextlib.suppress(h2.exceptions.ProtocolError):
                self.h2.acknowledge_received_data(stream.held, stream.stream_id)
            stream.held = 0
        if not self.streams:
            self.idle_since = monotonic()
            if self.goaway_sent:
                self.close()

    def release(self, stream: H2Stream) -> None:
        """The application read its buffered body down: reopen the stream's window."""
        held, stream.held = stream.held, 0
        if held and not self.closed and not stream.closed:
            with contextlib.suppress(h2.exceptions.ProtocolError):
                self.h2.acknowledge_received_data(held, stream.stream_id)
            self.flush()

    def send_continue(self, stream: H2Stream) -> None:
        """RFC 9110 §10.1.1 (and RFC 9113 §8.1): 100 Continue is an informational HEADERS frame."""
        if not self.closed and not stream.closed and not stream.sent_head:
            with contextlib.suppress(h2.exceptions.ProtocolError):  # the connection is closing
                self.h2.send_headers(stream.stream_id, [(b":status", b"100")])
            self.flush()

    def reset(self, stream: H2Stream, code: h2.errors.ErrorCodes) -> None:
        if not stream.closed:
            stream.closed = True
            with contextlib.suppress(h2.exceptions.ProtocolError):
                self.h2.reset_stream(stream.stream_id, code)
            if self.state.metrics is not None:
                self.state.metrics.http2_reset(code, False)

    def count_error(self, code: int, message: str) -> None:
        """A connection error of the client's: counted (``sockweb_http2_connection_errors_total``)."""
        if self.state.metrics is not None:
            self.state.metrics.http2_connection_error(int(code), f"{message} (from {self.remote_addr})")

    # -- output ------------------------------------------------------------------------------------------
    def schedule_flush(self) -> None:
        """Flush once the callbacks queued now have run (worker threads' writes come in batches)."""
        if not self.flush_pending:
            self.flush_pending = True
            self.state.loop.call_soon(self.flush)

    def flush(self) -> None:
        """Pump the streams that queued output and write what h2 framed."""
        self.flush_pending = False
        if self.dirty:
            dirty = list(self.dirty)
            self.dirty.clear()
            for stream in dirty:
                stream.pump()
        self.write_out()

    def write_out(self) -> None:
        """Write what h2 has framed (the transport may call `pause_writing` from inside)."""
        data = self.h2.take_data_to_send()
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    # -- ending ------------------------------------------------------------------------------------------
    def send_goaway(self) -> None:
        """GOAWAY(NO_ERROR) with the last stream taken; streams up to it are still served.

        Written as a frame of its own: h2's close_connection would refuse the DATA of those streams."""
        if self.goaway_sent or self.closed or self.transport is None:
            return
        self.goaway_sent = True
        self.flush()
        frame = GoAwayFrame(0, last_stream_id=self.last_stream, error_code=0)
        self.transport.write(frame.serialize())

    def check_timeouts(self, now: float) -> None:
        """The deadlines of an HTTP/2 connection (called once a second by the state's sweeper).

        ====================================  ====================================================
        phase                                 deadline
        ====================================  ====================================================
        unsent bytes (also once closed)       `body_timeout` without progress -> abort, logged
        no open stream                        `keepalive_timeout` -> GOAWAY(NO_ERROR), close
        request body arriving (not held)      `body_timeout` without progress -> RST_STREAM(CANCEL)
        response waiting for window           `body_timeout` -> RST_STREAM(CANCEL)
        closed, lingering, nothing unsent     `LINGER_TIME` after the FIN -> close
        ====================================  ====================================================
        """
        transport = self.transport
        if transport is None:
            return
        state = self.state
        # The write deadline holds after `close` too: a closing transport waits for its bytes to be read,
        # and a client that never reads them must not keep the connection (and its place) forever.
        unsent = transport.get_write_buffer_size()
        if unsent:
            unsent += kernel_unsent(transport)
            if unsent < self.unsent or not self.unsent:
                self.write_since = now
            self.unsent = unsent
            if now - self.write_since > state.body_timeout:
                log.info(
                    "Closing the HTTP/2 connection from %s:%s: it accepted no bytes for %gs (%d unsent)",
                    self.remote_addr,
                    self.remote_port,
                    state.body_timeout,
                    unsent,
                )
                self.abort()
                return
        else:
            self.unsent = 0
        if self.closed:
            if self.linger is not None:
                self.linger.check(now, unsent)
            return
        if not self.streams:
            if now - self.idle_since > state.keepalive_timeout:
                self.send_goaway()
                self.close()
            return
        for stream in list(self.streams.values()):
            sink = stream.input
            stalled = sink is not None and not sink.complete and not stream.held
            if (stalled and now - stream.body_since > state.body_timeout) or (
                stream.blocked and now - stream.blocked_since > state.body_timeout
            ):
                self.reset(stream, ErrorCodes.CANCEL)
                stream.lost()
        self.flush()

    def close_if_idle(self, now: float) -> None:
        """Graceful stop: announce it with GOAWAY once, and close when the streams are done."""
        self.send_goaway()
        if not self.streams:
            self.close()

    def close(self) -> None:
        if self.closed:
            return
        with contextlib.suppress(Exception):
            self.flush()
        self.closed = True
        if self.transport is not None:
            # The staged close of HTTP/1.1 (`Linger`): a client still sending (a WINDOW_UPDATE, a stream
            # racing our GOAWAY) must not get a reset that destroys the last response or the GOAWAY. The
            # connection counts until it is gone (connection_lost), under the write deadline.
            self.linger = Linger.begin(self.transport)
            if self.linger is None:
                self.transport.close()
        else:
            self.state.connections.discard(cast(HttpProtocol, self))
        for stream in list(self.streams.values()):
            stream.lost()

    def abort(self) -> None:
        self.closed = True
        self.state.connections.discard(cast(HttpProtocol, self))
        if self.transport is not None:
            self.transport.abort()
        for stream in list(self.streams.values()):
            stream.lost()


class _ServerConnection(h2.connection.H2Connection):
    """h2's connection, except for a client's GOAWAY(NO_ERROR), and its output taken without a copy
    (`take_data_to_send`).

    h2 moves its state machine to CLOSED on any received GOAWAY and empties its output buffer; from then
    on it refuses every frame either way (our HEADERS and DATA, the client's WINDOW_UPDATE, ...), so the
    responses to streams the client already opened would be lost. RFC 9113 §6.8: "Receivers of a GOAWAY
    frame MUST NOT open additional streams on the connection", and "activity on streams numbered lower than
    or equal to the last stream identifier might still complete successfully"; the last-stream-id of a
    client's GOAWAY is about server-initiated streams, so every stream the client opened may complete.
    Here a GOAWAY(NO_ERROR) is only reported (`ConnectionTerminated`) and the connection stays open for
    the streams in flight; `H2Protocol.on_goaway` refuses new ones and closes once they are done. A GOAWAY
    with an error code keeps h2's behaviour (and we close at once)."""

    def take_data_to_send(self) -> bytearray:
        """What ``data_to_send()`` returns, without its copy: h2's output buffer itself, and h2 starts a
        new one. ``data_to_send()`` copies the buffer into a new bytes object, a copy of every byte a
        response sends (a fifth of a download's time); the buffer handed out here is never touched by
        h2 again, so the transport may keep it. The one other use of h2's private members (the buffer,
        ``_data_to_send``), kept here next to the first; the tests fail at once should it change."""
        data = self._data_to_send
        self._data_to_send = bytearray()
        return data

    def _receive_goaway_frame(self, frame: GoAwayFrame) -> tuple[list[Frame], list[h2.events.Event]]:
        if frame.error_code != ErrorCodes.NO_ERROR:
            return super()._receive_goaway_frame(frame)
        event = h2.events.ConnectionTerminated()
        event.error_code = ErrorCodes.NO_ERROR
        event.last_stream_id = frame.last_stream_id
        event.additional_data = frame.additional_data or None
        return [], [event]


H2Protocol.connection_class = _ServerConnection

_HANDLERS: dict[type[Any], Callable[[H2Protocol, Any], None]] = {
    h2.events.RequestReceived: H2Protocol.on_request,
    h2.events.DataReceived: H2Protocol.on_data,
    h2.events.StreamEnded: H2Protocol.on_stream_end,
    h2.events.TrailersReceived: H2Protocol.on_trailers,
    h2.events.StreamReset: H2Protocol.on_reset,
    h2.events.WindowUpdated: H2Protocol.on_window,
    h2.events.RemoteSettingsChanged: H2Protocol.on_settings,
    h2.events.ConnectionTerminated: H2Protocol.on_goaway,
}


class H2Ready(HttpProtocol):
    """An HTTP/1.1 connection that becomes HTTP/2 when the client asks for it (``--http2``): ALPN "h2"
    after a TLS handshake, the connection preface as the first bytes of a cleartext connection
    (RFC 9113 §3.3: "prior knowledge"), or a body-less cleartext request with ``Upgrade: h2c`` (RFC 7540
    §3.2; deprecated by RFC 9113 §3.1, still sent by curl ``--http2`` and ``nghttp -u``). A separate
    class, chosen at start-up, so that without --http2 nothing is paid."""

    __slots__ = ()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if self.closed or not self.tls:
            return
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None and ssl_object.selected_alpn_protocol() == "h2":
            self.hand_over(b"")

    def data_received(self, data: bytes) -> None:
        # The first bytes of a cleartext connection: "PRI " starts no HTTP/1.1 request but the preface
        # (RFC 9113 §3.4 reserves the PRI method for it); h2 checks the rest of it.
        if self.parser is None and not self.tls and data[:4] == PREFACE[:4] and not self.closed:
            self.hand_over(data)
            return
        super().data_received(data)

    def on_request(self, req: Request) -> bool:
        settings = None if self.tls else _h2c_settings(req)
        if settings is None or not self.upgrade(req, settings):
            return super().on_request(req)
        return False

    def successor(self) -> H2Protocol:
        """The HTTP/2 connection that takes over (traced with --trace), not connected yet."""
        cls = H2Protocol
        if self.state.config.trace:
            from sockweb.server.h2trace import TraceH2Protocol

            cls = TraceH2Protocol
        return cls(self.state, self.template, self.tls)

    def hand_over(self, data: bytes) -> None:
        conn = self.successor()
        self.switch(conn, "ALPN h2" if not data else "prior knowledge (the preface)")
        if data:
            conn.data_received(data)

    def switch(self, conn: H2Protocol, how: str) -> None:
        transport = self.transport
        assert transport is not None
        self.state.connections.discard(self)
        self.closed = True  # this object is done; the HTTP/2 connection owns the transport now
        transport.set_protocol(conn)
        conn.connection_made(transport)
        conn.follow(self, how)

    def upgrade(self, req: Request, settings: bytes) -> bool:
        """RFC 7540 §3.2: answer 101 and carry on in HTTP/2, the request being stream 1 (False: the
        HTTP2-Settings field is not a valid SETTINGS payload; RFC 9110 §7.8 lets the server ignore the
        Upgrade, and the request is served over HTTP/1.1)."""
        conn = self.successor()
        try:
            conn.h2.initiate_upgrade_connection(settings)
        except (ValueError, h2.exceptions.ProtocolError, HyperframeError) as exc:  # a bad length, a bad value
            log.info("Upgrade to h2c from %s:%s ignored: %s", self.remote_addr, self.remote_port, exc)
            return False
        parser = self.parser
        assert parser is not None and self.transport is not None
        parser.reader()  # the EndOfMessage of the body-less request
        rest = parser.trailing_data  # the preface, if the client did not wait for the 101
        self.head_start = 0.0
        if self.out:
            self.flush()  # the responses to the requests before it, in order
        self.transport.write(_SWITCHING)
        self.switch(conn, "Upgrade: h2c")
        conn.take_upgrade_request(req)
        if rest:
            conn.data_received(rest)
        return True


_BASE64URL = re.compile(rb"[A-Za-z0-9_-]*")
_SWITCHING = b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
# Fields of an HTTP/1.1 request that mean nothing in HTTP/2 (RFC 9113 §8.2.2), dropped from an upgraded one.
_HOP_FIELDS = CONNECTION_SPECIFIC | {b"http2-settings"}


def _h2c_settings(req: Request) -> bytes | None:
    """The HTTP2-Settings field of a request that asks for h2c (RFC 7540 §3.2), None for any other.

    RFC 7540 §3.2.1: exactly one HTTP2-Settings field, named as a connection option; the request has no
    body (one would have to be read in full over HTTP/1.1 first: such a request is served as HTTP/1.1)."""
    upgrade: bytes | None = None
    settings = connection = b""
    count = 0
    for name, value in req.headers:
        if name == b"upgrade":
            upgrade = value
        elif name == b"http2-settings":
            settings = value
            count += 1
        elif name == b"connection":
            connection += b"," + value
    if upgrade is None or count != 1 or req.chunked or req.content_length or req.http_version != "1.1":
        return None
    if b"h2c" not in {token.strip().lower() for token in upgrade.split(b",")}:
        return None
    options = {token.strip().lower() for token in connection.split(b",")}
    if b"upgrade" not in options or b"http2-settings" not in options:
        return None
    # RFC 7540 §3.2.1: "token68", base64url without padding (Python's decoder would skip other bytes).
    return settings if _BASE64URL.fullmatch(settings) else None
