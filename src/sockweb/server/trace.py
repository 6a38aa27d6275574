"""``--trace``: log each request's journey with timings and sizes, and add a Server-Timing header.

Strategy: zero cost when off -- tracing is a pair of subclasses (`TraceProtocol`, `TraceExchange`) that
`ServerState` picks once at start-up instead of the plain ones, so the untraced hot path has no `if trace`.
Each request logs one line on the ``sockweb.trace`` logger: accepted (connection age), head received,
parsed, app called, first byte, last byte (handed to the transport), as milliseconds since the first
bytes of the request arrived, with the sizes of the head received and of the response head and body.
An HTTP/2 connection logs its own life (sockweb.server.h2trace), and its requests name their stream.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from time import perf_counter
from typing import TYPE_CHECKING, Any

from sockweb.http import Request
from sockweb.server.protocol import HttpProtocol
from sockweb.server.wsgi import Environ, Exchange

if TYPE_CHECKING:
    from sockweb.server.state import ServerState

log = logging.getLogger("sockweb.trace")

_ids = itertools.count(1)


def next_conn_id() -> int:
    """The number of the next connection traced (``conn#N``), shared by HTTP/1.1 and HTTP/2."""
    return next(_ids)


def _connection(carrier: Any) -> tuple[Any, str]:
    """The connection an exchange runs on and its name: ``conn#N``, or ``conn#N stream S`` when the
    carrier is an HTTP/2 stream (whose ``conn`` is the connection)."""
    stream_id = getattr(carrier, "stream_id", None)
    if stream_id is None:
        return carrier, f"conn#{getattr(carrier, 'conn_id', '?')}"
    conn = carrier.conn
    return conn, f"conn#{getattr(conn, 'conn_id', '?')} stream {stream_id}"


class TraceProtocol(HttpProtocol):
    """A connection that timestamps accept and the arrival of each request head."""

    __slots__ = ("conn_id", "received", "t_accept", "t_last", "t_recv")

    def __init__(self, state: ServerState, template: Environ, tls: bool) -> None:
        super().__init__(state, template, tls)
        self.conn_id = next_conn_id()
        self.t_accept = perf_counter()
        self.t_recv = self.t_last = 0.0
        self.received = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        log.info("conn#%d accepted from %s:%s", self.conn_id, self.remote_addr, self.remote_port)

    def data_received(self, data: bytes) -> None:
        self.t_last = now = perf_counter()
        if self.exchange is None and self.sink is None and not self.head_start:
            self.t_recv = now
            self.received = 0
        self.received += len(data)
        super().data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        log.info("conn#%d closed after %.1f ms", self.conn_id, (perf_counter() - self.t_accept) * 1000)
        super().connection_lost(exc)


class TraceExchange(Exchange):
    """An exchange that records when the application was called and the first and last bytes left."""

    __slots__ = ("t_app", "t_first", "t_head", "t_parsed", "t_recv")

    def begin(self, conn: Any, request: Request, environ: Environ) -> None:
        super().begin(conn, request, environ)
        self.t_parsed = perf_counter()
        self.t_recv = getattr(conn, "t_recv", 0.0) or self.t_parsed
        self.t_head = getattr(conn, "t_last", 0.0) or self.t_parsed
        self.t_app = self.t_first = 0.0

    def run(self, suspendable: bool) -> bool:
        self.t_app = perf_counter()
        return super().run(suspendable)

    def extra(self) -> bytes:
        self.t_first = now = perf_counter()
        parse = (self.t_parsed - self.t_recv) * 1000
        app = (now - (self.t_app or now)) * 1000
        timing = f"Server-Timing: parse;dur={parse:.3f}, app;dur={app:.3f}\r\n".encode("ascii")
        return super().extra() + timing

    def done(self, keep_alive: bool) -> None:
        end = perf_counter()
        base = self.t_recv

        def ms(t: float) -> str:
            return f"{(t - base) * 1000:.3f} ms" if t else "-"

        conn, name = _connection(self.conn)
        env = self.environ
        log.info(
            "%s %s %s %s: accepted %.1f ms before, first bytes +0, head received +%s (%d bytes), "
            "parsed +%s, app called +%s, first byte +%s (head %d bytes), last byte +%s (body %d bytes)%s",
            name,
            env["REQUEST_METHOD"],
            env["PATH_INFO"],
            (self.status or "-").split(" ", 1)[0],
            (base - getattr(conn, "t_accept", base)) * 1000,
            ms(self.t_head),
            getattr(self.conn, "received", 0),
            ms(self.t_parsed),
            ms(self.t_app),
            ms(self.t_first),
            len(self.plan.head) if self.plan is not None else 0,
            ms(end),
            self.sent,
            "" if keep_alive else ", closing",
        )
        super().done(keep_alive)
