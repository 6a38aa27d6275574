"""One HTTP/1.1 connection as an asyncio.Protocol: parsing, dispatch, flow control, timeouts, closing.

Strategy (the hot path is `data_received -> process -> Exchange.run`): received bytes go straight into
the sans-io parser; a complete body-less request is answered inline, head and body queued in one buffer
that is written once per `data_received`, so 16 pipelined requests cost one send. Requests are answered
strictly in order: while a response is pending nothing more is parsed, and reading pauses if the client
keeps sending (or stops reading its responses). Bodies up to `--body-buffer` are collected before the
application runs, as long as the process holds at most `--body-buffer-budget` of them; larger ones,
those beyond the budget, and every ``Expect: 100-continue`` request stream through a bounded
`StreamInput` to the application running in a worker thread. Writes from worker threads reach the loop
through `ServerState.post`. Timeouts cost nothing per request: the state's sweeper calls
`check_timeouts` once a second, which compares timestamps (idle keep-alive, request-head deadline,
stalled bodies, lingering closes; its docstring holds the table of phases and deadlines) and applies the
write deadline in every phase. Closing is staged: FIN first, then read until the client
closes, so an error response is never destroyed by a reset.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import struct
import threading
from io import BytesIO
from time import monotonic, perf_counter, thread_time
from typing import TYPE_CHECKING, Any, cast

from sockweb.http import (
    CONTINUE_RESPONSE,
    NEED_DATA,
    Data,
    EndOfMessage,
    ProtocolError,
    Request,
    RequestParser,
    error_response,
)
from sockweb.server.dispatch import (
    SLOW_CALL,
    AutoPolicy,
    voluntary_switches,
)
from sockweb.server.filewrapper import FileWrapper, sendfile_to
from sockweb.server.input import ClientDisconnected, StreamInput
from sockweb.server.wsgi import Environ, Exchange, head_environ

if TYPE_CHECKING:
    from sockweb.server.state import ServerState

try:
    import fcntl
    import termios
except ImportError:  # pragma: no cover - not on POSIX
    fcntl = termios = None  # type: ignore[assignment]

log = logging.getLogger("sockweb.error")

SMALL_BODY = 64 * 1024  # collected bodies up to this size are joined into a BytesIO
DRAIN_LIMIT = 1 << 20  # an unread body is discarded up to this size, beyond it the connection closes
INPUT_HIGH = 256 * 1024  # a streaming body pauses reading above this many buffered bytes
INPUT_LOW = 64 * 1024
LINGER_TIME = 2.0  # a connection closed for writing waits this long for the client's own close
LINGER_BYTES = 16 << 20  # ... and discards at most this much of what the client still sends
STOP_IDLE = 0.25  # on a graceful stop, idle keep-alive connections close after this much quiet
STOP_FRESH = 1.0  # ... and connections that have not sent a byte yet after this much
REFUSED_LINGERING = 64  # connections over the cap answered 503 with a staged close; beyond, a reset
_BUFFER = object()  # sink markers: collecting a body before dispatch / discarding an unread body
_DISCARD = object()
# ioctl(SIOCOUTQ) on a TCP socket: its bytes not yet acknowledged by the peer (Linux; TIOCOUTQ is its value).
_OUTQ: int | None = getattr(termios, "TIOCOUTQ", None) if termios is not None else None
_UNAVAILABLE = ProtocolError("too many open connections", status=503)
_HEAD_TIMEOUT = ProtocolError("the request head did not arrive in time", status=408)
_BODY_TIMEOUT = ProtocolError("the request body stalled", status=408)


class HttpProtocol(asyncio.Protocol):
    """One client connection; see the module docstring."""

    __slots__ = (
        "body_error",
        "body_parts",
        "body_since",
        "body_size",
        "closed",
        "discard_left",
        "exchange",
        "head_start",
        "idle_since",
        "linger_left",
        "linger_since",
        "lingering",
        "must_close",
        "out",
        "parser",
        "pending",
        "posted",
        "proxy_header",
        "reading_paused",
        "remote_addr",
        "remote_port",
        "sink",
        "state",
        "template",
        "tls",
        "transport",
        "unsent",
        "wake",
        "write_paused",
        "write_since",
        "written",
    )

    def __init__(self, state: ServerState, template: Environ, tls: bool) -> None:
        self.state = state
        self.template = template
        self.tls = tls
        self.transport: asyncio.Transport | None = None
        self.parser: RequestParser | None = None
        self.exchange: Exchange | None = None
        self.pending: Exchange | None = None
        self.sink: object = None
        self.body_parts: list[bytes] = []
        self.body_size = 0
        self.discard_left = 0
        self.out: list[bytes] = []
        self.closed = False
        self.lingering = False  # closed for writing, reading and discarding until the client closes
        self.linger_left = 0
        self.body_error: ProtocolError | None = None
        self.must_close = False
        self.write_paused = False
        self.reading_paused = False
        self.idle_since = monotonic()
        self.head_start = 0.0
        self.body_since = 0.0  # the request body last moved (collecting, streaming or discarding it)
        self.write_since = 0.0  # unsent response bytes were last seen to move (see check_timeouts)
        self.unsent = 0  # unsent response bytes at the last sweep (0: none, or the client read since)
        self.linger_since = 0.0  # the FIN went out (or was queued) and lingering began
        self.posted = 0
        self.written = 0
        self.wake: threading.Event | None = None
        self.remote_addr = ""
        self.remote_port = ""
        self.proxy_header: Any = None  # a ProxyProtocolParser while a PROXY header is expected

    # -- asyncio callbacks ------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        state = self.state
        # While stopping, a connection that was still in the accept queue is served once (with
        # Connection: close) rather than refused: it was accepted before the listener closed.
        count = len(state.connections)
        if count >= state.max_connections:
            # The 503 ends in the staged close of every error (a plain close would reset the request the
            # client is sending). Meanwhile the connection counts, like any lingering one, until the
            # client closes or LINGER_TIME ends; a flood beyond REFUSED_LINGERING more is reset at once,
            # so refusals cannot hold file descriptors without bound.
            if count >= state.max_connections + REFUSED_LINGERING:
                self.abort()
                return
            state.connections.add(self)
            self.queue(error_response(_UNAVAILABLE, state.extra))
            self.close()
            return
        state.connections.add(self)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple):
            self.remote_addr, self.remote_port = peer[0], str(peer[1])
            sock = transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport.set_write_buffer_limits(state.high, state.low)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.state.connections.discard(self)
        sink = self.sink
        if isinstance(sink, StreamInput):
            sink.abort()
        elif sink is _BUFFER:
            self.sink = None
            self.state.buffered -= self.body_size  # a body that will never be complete
            self.body_parts = []
        if self.wake is not None:
            self.wake.set()
        ex = self.exchange
        if ex is not None and not ex.threaded and ex.iterator is not None:
            self.exchange = None
            ex.close_result()  # a suspended inline response: the client is gone, close() it now

    def data_received(self, data: bytes) -> None:
        if self.closed:
            self.discard(data)
            return
        parser = self.parser
        if parser is None:
            parser = self.parser = RequestParser(self.state.limits, self.state.head_memo)
        tally = self.state.tally
        if tally is not None:
            tally.received(len(data))
        parser.feed(data)
        if self.sink is None and self.exchange is not None:
            # A response is pending: keep the next request buffered, stop reading more.
            self.pause_reading()
            return
        self.process()

    def eof_received(self) -> bool:
        if self.parser is None or self.closed:
            return False  # closes the transport (a lingering close ends here)
        self.parser.feed(b"")
        if self.sink is None and self.exchange is not None:
            return True  # half-closed client waiting for its response
        self.process()
        return self.exchange is not None

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        self.unsent = 0  # the client read: the write deadline starts again at the next sweep
        if self.wake is not None:
            self.wake.set()
        ex = self.exchange
        if ex is None:
            self.after_response()  # pipelined requests waited for the client to read
        elif not ex.threaded and ex.iterator is not None and ex.pump(True):
            self.after_response()

    # -- parsing and dispatch (loop thread) ------------------------------------------------------------
    def process(self) -> None:
        """Pull parser events until it needs data or a response is pending."""
        parser = self.parser
        assert parser is not None
        try:
            while not self.closed:
                if self.sink is not None:
                    event = parser.reader()
                    cls = type(event)
                    if cls is Data:
                        self.on_body(event.data)  # type: ignore[union-attr]
                    elif cls is EndOfMessage:
                        self.on_body_end()
                    else:
                        break
                elif self.exchange is not None:
                    break
                elif self.write_paused:
                    # The client is not reading its responses: answer nothing more until it does.
                    self.pause_reading()
                    break
                else:
                    event = parser.reader()
                    if type(event) is Request:
                        self.on_request(event)
                    elif event is NEED_DATA:
                        if not self.head_start and parser.partial_head:
                            self.head_start = monotonic()
                        break
                    else:  # PAUSED: the last request closed the connection; nothing more is parsed
                        self.close()
                        break
        except ProtocolError as exc:
            self.protocol_error(exc)
        except Exception:  # a server fault (Exchange.run handles the application's): never the loop's
            log.exception("Internal error on the connection from %s:%s", self.remote_addr, self.remote_port)
            self.abort()
            return
        if self.out:
            self.flush()

    def on_request(self, req: Request) -> None:
        self.head_start = 0.0
        state = self.state
        template = self.template
        if self.parser.repeated:  # type: ignore[union-attr]
            # A head the parser's memo held: its environ is probably in the environ memo (see ServerState).
            memo = state.environ_memo
            hit = memo.get(id(req))  # the entry holds its Request, so a hit is for this very object
            if hit is not None and hit[1] is template:
                environ = hit[2].copy()
                forwarded = hit[3]
            else:
                environ, forwarded = head_environ(template, state.header_keys, req)
                if len(memo) >= state.memo_entries:
                    memo.clear()
                memo[id(req)] = (req, template, environ.copy(), forwarded)
        else:
            environ, forwarded = head_environ(template, state.header_keys, req)
        environ["REMOTE_ADDR"] = self.remote_addr
        environ["REMOTE_PORT"] = self.remote_port
        if forwarded and state.proxy is not None:
            state.proxy.apply(environ)
        ex = state.exchange_class(self, req, environ)
        if state.timed:
            ex.started = perf_counter()
        if not req.chunked and not req.content_length:
            self.parser.reader()  # type: ignore[union-attr]  # the EndOfMessage of a body-less request
            self.dispatch(ex)
        elif (
            req.expect_continue
            or (req.content_length or 0) > state.body_buffer
            or (req.content_length or 0) + state.buffered > state.buffer_budget
        ):
            self.start_stream(ex, [])
        else:
            self.sink = _BUFFER
            self.pending = ex
            self.body_parts = []
            self.body_size = 0
            self.body_since = monotonic()

    def on_body(self, data: bytes) -> None:
        sink = self.sink
        if sink is _BUFFER:
            state = self.state
            self.body_parts.append(data)
            self.body_size += len(data)
            state.buffered += len(data)
            self.body_since = monotonic()
            if self.body_size > state.body_buffer or state.buffered > state.buffer_budget:
                # Too big to wait for, or too much held by all connections: stream the rest.
                state.buffered -= self.body_size
                ex, self.pending = self.pending, None
                assert ex is not None
                self.start_stream(ex, self.body_parts)
                self.body_parts = []
        elif sink is _DISCARD:
            self.body_since = monotonic()
            self.discard_left -= len(data)
            if self.discard_left < 0:
                self.close()
        elif isinstance(sink, StreamInput):
            self.body_since = monotonic()  # the body is moving (checked by check_timeouts)
            if sink.feed(data):
                self.pause_reading()

    def on_body_end(self) -> None:
        sink, self.sink = self.sink, None
        if sink is _BUFFER:
            ex, self.pending = self.pending, None
            assert ex is not None
            parts, self.body_parts = self.body_parts, []
            size = self.body_size
            self.state.buffered -= size
            if size <= SMALL_BODY:
                ex.environ["wsgi.input"] = BytesIO(parts[0] if len(parts) == 1 else b"".join(parts))
            else:
                ex.environ["wsgi.input"] = StreamInput.complete_body(parts)
            if ex.request.chunked:
                ex.environ["CONTENT_LENGTH"] = str(size)
            self.dispatch(ex)
        elif isinstance(sink, StreamInput):
            sink.finish()

    def start_stream(self, ex: Exchange, parts: list[bytes]) -> None:
        """Run the application in a thread now, its wsgi.input fed from the socket as the body arrives."""
        state = self.state
        wants_continue = ex.request.expect_continue and not parts
        stream = StreamInput(
            INPUT_HIGH,
            INPUT_LOW,
            self.continue_from_thread if wants_continue else None,
            self.resume_from_thread,
        )
        for part in parts:
            stream.feed(part)
        ex.environ["wsgi.input"] = ex.input = stream
        self.sink = stream
        self.body_since = monotonic()
        self.exchange = ex
        self.ensure_wake()
        ex.to_thread()
        state.pool.submit(ex.run_threaded)
        if stream.full:
            self.pause_reading()

    def dispatch(self, ex: Exchange) -> None:
        """The request is complete: run the application inline or in the pool."""
        state = self.state
        # The connection holds its exchange while the application runs, inline too, so a reader on
        # another thread (the status page) sees a request that blocks the loop.
        self.exchange = ex
        if state.inline:
            auto = state.auto
            if auto is None:
                finished = ex.run(True)
            elif auto.checking:
                finished = self.run_checked(ex, auto)
            else:
                started = perf_counter()
                finished = ex.run(True)
                if perf_counter() - started > SLOW_CALL:
                    auto.slow_call()
            if not finished and self.closed and not ex.threaded:
                self.exchange = None
                ex.close_result()  # suspended, but the connection is already gone
        else:
            self.ensure_wake()
            ex.to_thread()
            state.pool.submit(ex.run_threaded)

    def run_checked(self, ex: Exchange, auto: AutoPolicy) -> bool:
        """Run inline, measuring wall and CPU time, and let the auto policy judge the call."""
        switches = voluntary_switches()
        started, cpu = perf_counter(), thread_time()
        finished = ex.run(True)
        wall, cpu = perf_counter() - started, thread_time() - cpu
        voluntary = voluntary_switches() - switches if switches >= 0 else -1
        auto.checked_call(wall, cpu, monotonic(), voluntary)
        self.state.inline = auto.inline
        return finished

    def exchange_done(self, ex: Exchange, keep_alive: bool) -> None:
        """The response of `ex` is complete (loop thread)."""
        if self.exchange is ex:
            self.exchange = None
        state = self.state
        tally = state.tally
        if tally is not None and tally.count(ex):
            state.metrics.failed(ex)  # type: ignore[union-attr]
        if state.access_log is not None:
            state.access_log.log(
                ex.environ, ex.status or "500", ex.headers, ex.sent, perf_counter() - ex.started
            )
        if not keep_alive or self.must_close or self.closed:
            self.close()
            return
        sink = self.sink
        if isinstance(sink, StreamInput):
            # The application did not read its whole body: discard the rest, or close if it is large.
            sink.drain()
            req = ex.request
            if sink.continue_pending:
                self.close()
                return
            self.sink = _DISCARD
            self.discard_left = DRAIN_LIMIT
            self.body_since = monotonic()
            if req.content_length is not None and req.content_length > DRAIN_LIMIT * 4:
                self.close()
                return
        self.idle_since = monotonic()

    def thread_done(self, ex: Exchange, keep_alive: bool) -> None:
        self.exchange_done(ex, keep_alive)
        self.after_response()

    def after_response(self) -> None:
        if self.closed:
            return
        if self.parser is not None and self.exchange is None:
            self.process()
        self.maybe_resume()

    # -- output ------------------------------------------------------------------------------------------
    def queue(self, data: bytes) -> None:
        """Send `data` from the loop thread; small pieces are batched until the end of `process`."""
        out = self.out
        out.append(data)
        if len(data) > 16384 or len(out) > 32:
            self.flush()

    def flush(self) -> None:
        out = self.out
        if self.closed or self.transport is None:
            out.clear()
            return
        if len(out) == 1:
            self.transport.write(out[0])
        else:
            self.transport.writelines(out)
        out.clear()

    def send_threadsafe(self, data: bytes) -> None:
        """Send `data` from a worker thread; blocks while the client is not keeping up."""
        if self.closed:
            raise ClientDisconnected("client disconnected")
        self.posted += len(data)
        self.state.post(self.write_posted, data)
        if self.write_paused or self.posted - self.written > self.state.high:
            self.wait_writable()

    def write_posted(self, data: bytes) -> None:
        self.written += len(data)
        if not self.closed:
            self.queue(data)
            self.flush()
        if self.wake is not None:
            self.wake.set()

    def wait_writable(self) -> None:
        wake = self.wake
        assert wake is not None
        high = self.state.high
        while not self.closed and (self.write_paused or self.posted - self.written > high):
            wake.clear()
            if self.closed or not (self.write_paused or self.posted - self.written > high):
                break
            wake.wait(1.0)
        if self.closed:
            raise ClientDisconnected("client disconnected")

    def ensure_wake(self) -> None:
        if self.wake is None:
            self.wake = threading.Event()

    def continue_from_thread(self) -> None:
        self.state.post(self.send_continue)

    def send_continue(self) -> None:
        ex = self.exchange
        if not self.closed and ex is not None and ex.plan is None:
            self.queue(CONTINUE_RESPONSE)
            self.flush()

    def try_sendfile(self, ex: Exchange, wrapper: FileWrapper) -> bool:
        """Send `wrapper` with os.sendfile from a worker thread if possible; False to iterate it instead."""
        transport = self.transport
        span = wrapper.sendfile_span()
        if self.tls or span is None or transport is None or self.closed:
            return False
        if ex.threaded:
            if self.posted != self.written or transport.get_write_buffer_size():
                return False
            sock_fd = os.dup(transport.get_extra_info("socket").fileno())
            self._sendfile(ex, wrapper, sock_fd, span)
            return True
        self.flush()
        if transport.get_write_buffer_size():
            return False
        sock_fd = os.dup(transport.get_extra_info("socket").fileno())
        self.ensure_wake()
        ex.to_thread()
        self.state.pool.submit(lambda: self._sendfile(ex, wrapper, sock_fd, span))
        return True

    def _sendfile(self, ex: Exchange, wrapper: FileWrapper, sock_fd: int, span: tuple[int, int, int]) -> None:
        file_fd, offset, count = span
        keep = False
        try:
            head = ex.make_head(count)
            plan = ex.plan
            assert plan is not None
            body = count if plan.send_body else 0
            span = (file_fd, offset, body)
            sent = sendfile_to(sock_fd, head, span, gone=lambda: self.closed, timeout=self.state.body_timeout)
            ex.sent = sent
            keep = plan.keep_alive and sent == body
        except OSError:
            keep = False
        except Exception:
            os.close(sock_fd)
            sock_fd = -1
            ex.fail("Invalid response from the WSGI application")
            return
        finally:
            if sock_fd >= 0:
                os.close(sock_fd)
        ex.close_result()
        ex.done(keep)

    # -- flow control ------------------------------------------------------------------------------------
    def pause_reading(self) -> None:
        if not self.reading_paused and not self.closed and self.transport is not None:
            self.reading_paused = True
            self.transport.pause_reading()

    def maybe_resume(self) -> None:
        if not self.reading_paused or self.closed or self.transport is None or self.write_paused:
            return
        sink = self.sink
        if isinstance(sink, StreamInput) and sink.full:
            return
        if sink is None and self.exchange is not None:
            return
        self.reading_paused = False
        self.transport.resume_reading()

    def resume_from_thread(self) -> None:
        self.state.post(self.maybe_resume)

    # -- ending ------------------------------------------------------------------------------------------
    def protocol_error(self, exc: ProtocolError) -> None:
        if self.exchange is not None:
            # The body of a request whose application is running is malformed: stop feeding it; the
            # application's next read fails, and if nothing was sent yet the answer is this error.
            self.body_error = exc
            sink = self.sink
            if isinstance(sink, StreamInput):
                sink.abort()
            self.sink = None
            self.must_close = True
            return
        self.queue(error_response(exc, self.state.extra))
        self.close()

    def check_timeouts(self, now: float) -> None:
        """Apply the deadlines of the connection's phase (called once a second by the state's sweeper).

        ===================================  ===================================================
        phase                                deadline
        ===================================  ===================================================
        any, with unsent response bytes      `body_timeout` without progress -> reset, logged
        idle keep-alive, nothing unsent      `keepalive_timeout` -> staged close
        partial request head                 `header_timeout` -> 408, staged close
        request body arriving (not paused)   `body_timeout` without progress -> 408 (see
                                             `body_stalled`), staged close
        lingering, nothing unsent            `LINGER_TIME` after the FIN -> close
        ===================================  ===================================================
        """
        transport = self.transport
        if transport is None:
            return
        # The write deadline holds in every phase, including after the exchange and while lingering:
        # bytes that stay unsent for `body_timeout` mean a client that stopped reading. Progress is a
        # smaller backlog than at the last sweep, or a resume_writing in between (which zeroes `unsent`).
        unsent = transport.get_write_buffer_size()
        if unsent:
            # The kernel's send queue counts too: a slow reader drains it long before the kernel takes
            # more from the transport's buffer, so that buffer alone can stand still for many seconds.
            unsent += kernel_unsent(transport)
            if unsent < self.unsent or not self.unsent:
                self.write_since = now
            self.unsent = unsent
            if now - self.write_since > self.state.body_timeout:
                log.info(
                    "Closing the connection from %s:%s: it accepted no response bytes for %gs (%d unsent)",
                    self.remote_addr,
                    self.remote_port,
                    self.state.body_timeout,
                    unsent,
                )
                self.abort()
                return
        else:
            self.unsent = 0
        if self.closed:
            if self.lingering:
                if unsent:
                    self.linger_since = now  # the FIN is still queued: the linger starts once it is out
                elif now - self.linger_since > LINGER_TIME:
                    transport.close()
            return
        if self.exchange is None and self.sink is None:
            if self.head_start:
                if now - self.head_start > self.state.header_timeout:
                    self.queue(error_response(_HEAD_TIMEOUT, self.state.extra))
                    self.close()
            elif unsent:
                self.idle_since = now  # a response is still being sent: not idle yet
            elif now - self.idle_since > self.state.keepalive_timeout:
                self.close()
        elif (
            self.sink is not None
            and not self.reading_paused
            and now - self.body_since > self.state.body_timeout
        ):
            self.body_stalled()

    def body_stalled(self) -> None:
        """The client stopped sending its request body: answer 408 if no response has started, and close."""
        sink = self.sink
        if sink is _DISCARD:
            self.close()  # the response is out; the rest of the body was not wanted anyway
        elif self.exchange is not None:
            # The application runs with a StreamInput: its next read fails, and if nothing was sent yet
            # the answer is 408 (as for a malformed body).
            self.protocol_error(_BODY_TIMEOUT)
        else:  # still collected before the call: the application never runs
            self.queue(error_response(_BODY_TIMEOUT, self.state.extra))
            self.close()

    def close_if_idle(self, now: float) -> None:
        # A connection that has sent nothing yet gets longer: its first request may be on the way.
        quiet = STOP_IDLE if self.parser is not None else STOP_FRESH
        if (
            self.exchange is None
            and self.sink is None
            and not self.head_start
            and now - self.idle_since >= quiet
        ):
            self.close()

    def close(self) -> None:
        """Flush what is queued and close the connection, in stages.

        RFC 9112 §9.6: closing a socket while request bytes are still arriving makes the kernel send a
        reset, which can destroy the response before the client reads it. So: shut down writing (FIN after
        the queued bytes), keep reading and discarding until the client closes too, and close for good
        after `LINGER_TIME` or `LINGER_BYTES` at the latest.
        """
        if self.closed:
            return
        self.flush()
        self.closed = True
        transport = self.transport
        if transport is None:
            self.state.connections.discard(self)
            return
        if transport.can_write_eof() and not transport.is_closing():
            try:
                transport.write_eof()
            except (OSError, RuntimeError, NotImplementedError):
                pass
            else:
                self.lingering = True
                self.linger_left = LINGER_BYTES
                self.linger_since = monotonic()
                if self.reading_paused:
                    self.reading_paused = False
                    transport.resume_reading()
                return
        self.state.connections.discard(self)
        transport.close()

    def discard(self, data: bytes) -> None:
        """Bytes received after the connection was closed for writing."""
        self.linger_left -= len(data)
        if self.linger_left < 0 and self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        self.closed = True
        self.state.connections.discard(self)
        if self.transport is not None:
            self.transport.abort()


def kernel_unsent(transport: asyncio.Transport) -> int:
    """Bytes the kernel holds for `transport`'s socket that its peer has not acknowledged (0: unknown)."""
    sock = transport.get_extra_info("socket")
    if _OUTQ is None or sock is None:
        return 0
    try:
        count: int = struct.unpack("i", fcntl.ioctl(sock.fileno(), _OUTQ, b"\0\0\0\0"))[0]
    except (OSError, ValueError):
        return 0
    return count


class ProxiedConnection(HttpProtocol):
    """A connection that reads a PROXY protocol header (v1/v2) first when the peer is a trusted proxy.

    A separate class, chosen at start-up, so connections without ``--proxy-protocol`` pay nothing.
    """

    __slots__ = ()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        peers = self.state.proxy_peers
        if not self.closed and peers is not None and self.remote_addr in peers:
            from sockweb.server.proxyproto import ProxyProtocolParser

            self.proxy_header = ProxyProtocolParser()

    def data_received(self, data: bytes) -> None:
        header = self.proxy_header
        if header is not None:
            try:
                info, data = header.feed(data)
            except ValueError as exc:
                log.info("Invalid PROXY protocol header from %s: %s", self.remote_addr, exc)
                self.abort()
                return
            if info is None:
                return
            self.proxy_header = None
            client = info.client
            if client is not None:
                self.remote_addr, self.remote_port = client[0], str(client[1])
            if not data:
                return
        super().data_received(data)
