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

The connection's phases (h11-style: the fields that hold in each, the events it accepts, the deadline
`check_timeouts` applies). `exchange` is the exchange whose response is under way, `sink` where the
body being read goes (sockweb.server.sinks); everything else about one request lives in the exchange.

===========  ==========================================  ==============================  =================
phase        fields that hold                            events accepted                 deadline
===========  ==========================================  ==============================  =================
fresh        parser None, exchange None, sink None       data (a PROXY header first)     keepalive_timeout
idle         parser set, exchange None, sink None,       data -> Request, eof            keepalive_timeout
             head_start 0, idle_since
head         exchange None, sink None, head_start set    data (more of the head), eof    header_timeout
collecting   sink BufferSink (holds the exchange),       Data, EndOfMessage -> dispatch  body_timeout
             exchange None, body_since
streaming    sink StreamSink, exchange set (threaded),   Data, EndOfMessage, the         body_timeout,
             body_since                                  thread's writes and its end     write
responding   exchange set, sink None                     resume_writing, the thread's    write
                                                         writes and end; reading paused
discarding   sink DiscardSink, exchange None             Data (counted), EndOfMessage    body_timeout
lingering    closed, linger (a `Linger`)                 data (discarded), eof           LINGER_TIME,
                                                                                         write
closed       closed, linger None                         connection_lost                 -
===========  ==========================================  ==============================  =================

"write": bytes left unsent for `body_timeout` without progress reset the connection, in every phase.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import struct
import threading
from time import monotonic, thread_time
from typing import TYPE_CHECKING, Any, cast

from sockweb.http import (
    CONTINUE_RESPONSE,
    NEED_DATA,
    BodyWriter,
    Data,
    EndOfMessage,
    ProtocolError,
    Request,
    RequestParser,
    ResponsePlan,
    error_response,
    plan_response,
)
from sockweb.http.semantics import own_fields
from sockweb.server.clock import clock
from sockweb.server.dispatch import (
    SLOW_CALL,
    AutoPolicy,
    voluntary_switches,
)
from sockweb.server.filewrapper import FileWrapper, sendfile_to
from sockweb.server.input import ClientDisconnected, StreamInput
from sockweb.server.sinks import BufferSink, StreamSink
from sockweb.server.wsgi import BadResponse, Environ, head_environ

if TYPE_CHECKING:
    from sockweb.server.exchange_api import BodySink, ExchangeSide, Head
    from sockweb.server.state import ServerState

try:
    import fcntl
    import termios
except ImportError:  # pragma: no cover - not on POSIX
    fcntl = termios = None  # type: ignore[assignment]

log = logging.getLogger("sockweb.error")

INPUT_HIGH = 256 * 1024  # a streaming body pauses reading above this many buffered bytes
INPUT_LOW = 64 * 1024
LINGER_TIME = 2.0  # a connection closed for writing waits this long for the client's own close
LINGER_BYTES = 16 << 20  # ... and discards at most this much of what the client still sends
STOP_IDLE = 0.25  # on a graceful stop, idle keep-alive connections close after this much quiet
STOP_FRESH = 1.0  # ... and connections that have not sent a byte yet after this much
REFUSED_LINGERING = 64  # connections over the cap answered 503 with a staged close; beyond, a reset
# ioctl(SIOCOUTQ) on a TCP socket: its bytes not yet acknowledged by the peer (Linux; TIOCOUTQ is its value).
_OUTQ: int | None = getattr(termios, "TIOCOUTQ", None) if termios is not None else None
_UNAVAILABLE = ProtocolError("too many open connections", status=503)
_HEAD_TIMEOUT = ProtocolError("the request head did not arrive in time", status=408)
_new = object.__new__


class HttpProtocol(asyncio.Protocol):
    """One client connection; see the module docstring."""

    __slots__ = (
        "body_since",
        "closed",
        "exchange",
        "head_start",
        "idle_since",
        "linger",
        "must_close",
        "out",
        "parser",
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
        self.exchange: ExchangeSide | None = None  # the exchange whose response is under way
        self.sink: BodySink | None = None  # where the body being read goes (see sockweb.server.sinks)
        self.out: list[bytes] = []
        self.closed = False
        self.linger: Linger | None = None  # closed for writing, discarding input until the client closes
        self.must_close = False
        self.write_paused = False
        self.reading_paused = False
        self.idle_since = monotonic()
        self.head_start = 0.0
        self.body_since = 0.0  # the request body last moved (collecting, streaming or discarding it)
        self.write_since = 0.0  # unsent response bytes were last seen to move (see check_timeouts)
        self.unsent = 0  # unsent response bytes at the last sweep (0: none, or the client read since)
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
        self.remote_addr, self.remote_port = prepare_transport(transport, state)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.state.connections.discard(self)
        sink, self.sink = self.sink, None
        if sink is not None:
            sink.abort()  # a body that will never be complete
        if self.wake is not None:
            self.wake.set()
        ex = self.exchange
        if ex is not None and not ex.threaded and ex.iterator is not None:
            self.exchange = None
            ex.close_result()  # a suspended inline response: the client is gone, close() it now

    def running_exchanges(self) -> list[ExchangeSide]:
        """The exchanges between their head and their last byte (read by the metrics from any thread:
        each attribute read is atomic under the GIL): the one whose body the sink collects and the one
        whose application runs (inline too) or whose response is being sent."""
        sink = self.sink
        pending = sink.pending if sink is not None else None
        ex = self.exchange
        if pending is None or pending is ex:
            return [] if ex is None else [ex]
        return [pending] if ex is None else [pending, ex]

    def data_received(self, data: bytes) -> None:
        if self.closed:
            if self.linger is not None:
                self.linger.discard(data)
            return
        parser = self.parser
        if parser is None:
            parser = self.parser = RequestParser(self.state.limits, self.state.head_memo)
        tally = self.state.tally
        if tally is not None:
            tally.received(data)
        parser.feed(data)
        if self.exchange is not None and self.sink is None:
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
                        self.body_since = monotonic()  # the body is moving (checked by check_timeouts)
                        self.sink.feed(self, event.data)  # type: ignore[union-attr]
                    elif cls is EndOfMessage:
                        sink, self.sink = self.sink, None
                        sink.end(self)
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
                        if self.on_request(event) and not self.write_paused:
                            break  # answered, and the parser holds nothing more: its next event is NEED_DATA
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
        out = self.out
        if out:
            if len(out) == 1 and not self.closed:  # flush inlined (the hot path: one call fewer)
                self.transport.write(out[0])  # type: ignore[union-attr]  # set: bytes came through it
                out.clear()
            else:
                self.flush()

    def on_request(self, req: Request) -> bool:
        """Start the exchange of `req`; True when it was a body-less request after which the parser holds
        nothing to parse (`RequestParser.drained`)."""
        self.head_start = 0.0
        state = self.state
        template = self.template
        parser: RequestParser = self.parser  # type: ignore[assignment]  # set: it gave us `req`
        if parser.repeated:
            # A head the parser's memo held: its environ is probably in the environ memo (see ServerState).
            memo = state.environ_memo
            # EnvironMemo.lookup inlined (the hot path of repeated heads: one call and a tuple fewer).
            hit = memo.entries.get(id(req))  # the entry holds its Request: a hit is for this very object
            if hit is not None and hit[1] is template:
                environ = hit[2].copy()
                forwarded = hit[3]
            else:
                environ, forwarded = head_environ(template, state.header_keys, req)
                memo.keep(req, template, environ, forwarded)
        else:
            environ, forwarded = head_environ(template, state.header_keys, req)
        environ["REMOTE_ADDR"] = self.remote_addr
        environ["REMOTE_PORT"] = self.remote_port
        if forwarded and state.proxy is not None:
            state.proxy.apply(environ)
        ex = _new(state.exchange_class)  # see Exchange.begin: __init__ through the class costs more
        ex.begin(self, req, environ)
        if state.timed:
            ex.started = clock()
        if not req.chunked and not req.content_length:
            parser.reader()  # the EndOfMessage of a body-less request
            auto = state.auto
            if auto is None or auto.checking or not state.inline:
                self.dispatch(ex)
            else:  # dispatch's watched inline run, inlined (the hot path: one call fewer); keep the two alike
                self.exchange = ex
                started = clock()
                finished = ex.run(True)
                if clock() - started > SLOW_CALL:
                    auto.slow_call()
                if not finished and self.closed and not ex.threaded:
                    self.exchange = None
                    ex.close_result()  # suspended, but the connection is already gone
            return parser.drained
        if (
            req.expect_continue
            or (req.content_length or 0) > state.body_buffer
            or (req.content_length or 0) + state.buffered > state.buffer_budget
        ):
            self.start_stream(ex, [])
        else:
            self.sink = BufferSink(state, ex)
            self.body_since = monotonic()
        return False

    def start_stream(self, ex: ExchangeSide, parts: list[bytes]) -> None:
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
        self.sink = StreamSink(stream)
        self.body_since = monotonic()
        self.exchange = ex
        self.ensure_wake()
        ex.to_thread()
        state.pool.submit(ex.run_threaded)
        if stream.full:
            self.pause_reading()

    def dispatch(self, ex: ExchangeSide) -> None:
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
                started = clock()
                finished = ex.run(True)
                if clock() - started > SLOW_CALL:
                    auto.slow_call()
            if not finished and self.closed and not ex.threaded:
                self.exchange = None
                ex.close_result()  # suspended, but the connection is already gone
        else:
            self.ensure_wake()
            ex.to_thread()
            state.pool.submit(ex.run_threaded)

    def run_checked(self, ex: ExchangeSide, auto: AutoPolicy) -> bool:
        """Run inline, measuring wall and CPU time, and let the auto policy judge the call."""
        switches = voluntary_switches()
        started, cpu = clock(), thread_time()
        finished = ex.run(True)
        wall, cpu = clock() - started, thread_time() - cpu
        voluntary = voluntary_switches() - switches if switches >= 0 else -1
        auto.checked_call(wall, cpu, monotonic(), voluntary)
        self.state.inline = auto.inline
        return finished

    def exchange_done(self, ex: ExchangeSide, keep_alive: bool) -> None:
        """The response of `ex` is complete (loop thread)."""
        if self.exchange is ex:
            self.exchange = None
        state = self.state
        tally = state.tally
        if tally is not None and tally.count(ex):
            state.metrics.failed(ex)  # type: ignore[union-attr]
        if state.access_log is not None:
            state.access_log.log(ex.environ, ex.status or "500", ex.headers, ex.sent, clock() - ex.started)
        if not keep_alive or self.must_close or self.closed:
            self.close()
            return
        sink = self.sink
        if sink is not None:
            # The body is still arriving (the application did not read all of it): the sink decides.
            self.sink = sink.response_done(self, ex)
            if self.closed:
                return
            self.body_since = monotonic()
        self.idle_since = monotonic()

    def thread_done(self, ex: ExchangeSide, keep_alive: bool) -> None:
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

    send = queue  # the Carrier's name (sockweb.server.exchange_api) for sending from the loop thread

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

    # -- the response head and body framing (Carrier) ----------------------------------------------------
    def plan_head(self, ex: ExchangeSide, body_length: int | None) -> Head:
        """Validate `ex`'s status and headers and plan its HTTP/1.1 head (see `Carrier.plan_head`)."""
        state = self.state
        status = ex.status
        stream = ex.input
        keep = not (state.stopping or self.must_close) and (stream is None or not stream.continue_pending)
        req = ex.request
        cache = state.head_cache
        key: tuple[Any, ...] | None = None
        plan: ResponsePlan | None = None
        if cache is not None and body_length is not None:
            # The same status, headers and length give the same head (within the second of its Date).
            # Only validated heads are cached, so a hit needs no check of the status. The head used last
            # is tried first: comparing with it costs less than hashing a key, and apps repeat heads.
            headers = ex.headers
            try:
                last = cache.last
                # A tuple compare goes item by item, the app's header list against the list kept last.
                seen = (status, body_length, headers, req.method, req.http_version, req.keep_alive, keep)
                if last is not None and last[0] == seen:
                    return last[1]  # type: ignore[no-any-return]
                key = (status, tuple(headers), body_length, *seen[3:])
                plan = cache.plans.get(key)
            except TypeError:  # unhashable headers: validated (and refused) by plan_response below
                key = None
        if plan is None:
            # Only validated heads are cached: the status is checked on a miss.
            if type(status) is not str:
                if status is None:
                    raise BadResponse("the application did not call start_response()")
                raise BadResponse(f"the status must be a str, got {type(status).__name__}")
            extra = ex.extra()
            # RFC 9110 §5.3: no second Date or Server field when the application set its own.
            own = own_fields(ex.headers)
            if own:
                if "date" in own:
                    extra = extra.replace(state.date_line, b"", 1)
                if "server" in own and state.server_line:
                    extra = extra.replace(state.server_line, b"", 1)
            try:
                plan = plan_response(
                    req, status, ex.headers, body_length=body_length, extra=extra, keep_alive=keep
                )
            except (ValueError, TypeError, AttributeError) as exc:
                raise BadResponse(f"invalid response head: {exc}") from None
            if (
                body_length is not None
                and plan.send_body
                and plan.framing == "length"
                and plan.content_length != body_length
            ):
                raise BadResponse(
                    f"Content-Length {plan.content_length} does not match the {body_length}-byte body"
                )
            if key is not None and cache is not None and len(cache.plans) < cache.limit:
                cache.plans[key] = plan
        if key is not None:  # a hashable head, found in the cache or validated just now: try it first next
            cache.last = ((status, body_length, list(ex.headers), *key[3:]), plan)  # type: ignore[union-attr]
        return plan

    def body_framer(self, head: Head) -> BodyWriter:
        return BodyWriter(head)  # type: ignore[arg-type]  # this carrier's heads are ResponsePlans

    def error_response(self, error: ProtocolError, extra: bytes) -> bytes:
        return error_response(error, extra)

    def continue_from_thread(self) -> None:
        self.state.post(self.send_continue)

    def send_continue(self) -> None:
        ex = self.exchange
        if not self.closed and ex is not None and ex.plan is None:
            self.queue(CONTINUE_RESPONSE)
            self.flush()

    def try_sendfile(self, ex: ExchangeSide, wrapper: FileWrapper) -> bool:
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

    def _sendfile(
        self, ex: ExchangeSide, wrapper: FileWrapper, sock_fd: int, span: tuple[int, int, int]
    ) -> None:
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
        if sink is None:
            if self.exchange is not None:
                return
        elif sink.full:
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
            self.exchange.body_failed(exc)
            sink, self.sink = self.sink, None
            if sink is not None:
                sink.abort()
            self.must_close = True
            return
        self.answer(exc)

    def answer(self, exc: ProtocolError) -> None:
        """Answer `exc` (no application ran for it) and close."""
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
            if self.linger is not None:
                self.linger.check(now, unsent)
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
        assert sink is not None
        sink.stalled(self)

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
        """Flush what is queued and close the connection, in stages (`Linger`)."""
        if self.closed:
            return
        self.flush()
        self.closed = True
        transport = self.transport
        if transport is None:
            self.state.connections.discard(self)
            return
        self.linger = Linger.begin(transport)
        if self.linger is not None:
            if self.reading_paused:
                self.reading_paused = False
                transport.resume_reading()
            return
        self.state.connections.discard(self)
        transport.close()

    def abort(self) -> None:
        self.closed = True
        self.state.connections.discard(self)
        if self.transport is not None:
            self.transport.abort()


class Linger:
    """The staged close of a connection, for HTTP/1.1 and HTTP/2 alike.

    RFC 9112 §9.6: closing a socket while the client is still sending makes the kernel answer with a
    reset, which can destroy the response (or an HTTP/2 GOAWAY) before the client reads it: the kernel
    drops what it has not sent yet, and the client's may drop what it has not read. So: shut down
    writing (the FIN follows the queued bytes), keep reading and discarding until the client closes too
    (`eof_received` then closes the transport), and close for good `LINGER_TIME` after the FIN went out
    or beyond `LINGER_BYTES` discarded. The connection keeps counting against ``--max-connections``
    until then; its write deadline still applies (`check_timeouts`). A transport that cannot half-close
    (TLS) is closed plainly.
    """

    __slots__ = ("left", "since", "transport")

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.left = LINGER_BYTES
        self.since = monotonic()  # the FIN went out (or was queued) and lingering began

    @classmethod
    def begin(cls, transport: asyncio.Transport) -> Linger | None:
        """Shut down writing after the queued bytes; None when the transport cannot (close it plainly)."""
        if not transport.can_write_eof() or transport.is_closing():
            return None
        try:
            transport.write_eof()
        except (OSError, RuntimeError, NotImplementedError):
            return None
        return cls(transport)

    def discard(self, data: bytes) -> None:
        """Bytes the client sent after the close: dropped, up to `LINGER_BYTES`."""
        self.left -= len(data)
        if self.left < 0:
            self.transport.close()

    def check(self, now: float, unsent: int) -> None:
        """From the sweeper: close `LINGER_TIME` after the FIN went out (`unsent`: bytes still queued)."""
        if unsent:
            self.since = now  # the FIN is still queued: the linger starts once it is out
        elif now - self.since > LINGER_TIME:
            self.transport.close()


def prepare_transport(transport: asyncio.Transport, state: ServerState) -> tuple[str, str]:
    """Set up a new connection's transport (TCP_NODELAY, the write buffer's marks); its peer's address and
    port ("" for a Unix socket). Every connection class calls this from its connection_made."""
    addr = port = ""
    peer = transport.get_extra_info("peername")
    if isinstance(peer, tuple):
        addr, port = peer[0], str(peer[1])
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    transport.set_write_buffer_limits(state.high, state.low)
    return addr, port


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
