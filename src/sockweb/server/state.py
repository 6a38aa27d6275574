"""What all connections of one process share: the application, limits, pool, clock, hooks, connections.

Strategy: one `ServerState` per process, built from the frozen Config once; connections read plain
attributes from it on the hot path (no config lookups). It owns the once-a-second sweeper (Date line,
head cache, auto-dispatch probe, per-connection deadlines, the arbiter's heartbeat), the batched
cross-thread queue (`post`: one ``call_soon_threadsafe`` per batch of worker-thread results), and the
stop sequence. The connection class is chosen here once (plain, traced, counted for the metrics, PROXY
protocol), so options that are off cost nothing per request; so is the exchange class (trace, metrics,
--root-path, request hooks, --limit-concurrency).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import socket
import time
from collections import deque
from collections.abc import Callable
from time import monotonic
from typing import TYPE_CHECKING, Any

from sockweb.http import HeadMemo, Limits
from sockweb.server.caches import EnvironMemo, H2HeadCache, HeadCache
from sockweb.server.dispatch import DEFAULT_THREADS, AutoPolicy, ThreadPool
from sockweb.server.loader import WSGIApp
from sockweb.server.protocol import HttpProtocol, ProxiedConnection
from sockweb.server.wsgi import Exchange, environ_template, new_header_keys

if TYPE_CHECKING:
    from sockweb.server.config import Config
    from sockweb.server.metrics import Metrics, Tally

log = logging.getLogger("sockweb.error")


def _optional_hook(module: str, name: str, config: Config) -> Any:
    """`module.name.from_config(config)` when that module exists, else None (the feature is off)."""
    try:
        mod = __import__(f"sockweb.server.{module}", fromlist=[name])
    except ImportError:
        return None
    return getattr(mod, name).from_config(config)


class ServerState:
    """What every connection of this process shares: app, limits, pool, clock, hooks, connection set."""

    def __init__(
        self, config: Config, app: WSGIApp, loop: asyncio.AbstractEventLoop, *, worker: Any = None
    ) -> None:
        self.config = config
        self.app = app
        self.loop = loop
        self.limits = Limits(
            max_request_line=config.max_request_line,
            max_header_count=config.max_header_count,
            max_field_size=config.max_field_size,
            max_head_size=config.max_head_size,
            max_body_size=config.max_body_size,
            max_chunk_ext=config.max_chunk_ext,
            max_trailer_size=config.max_trailer_size,
            allow_underscore_in_names=config.allow_underscore_headers,
        )
        # Heads seen before, parsed once (see sockweb.http.HeadMemo), and the part of their environ that
        # the head and the listener decide, by id of the memo's Request (each entry keeps its Request, so
        # the id stays its own). Both are emptied when full.
        self.head_memo = HeadMemo(self.limits, config.head_memo) if config.head_memo else None
        self.environ_memo = EnvironMemo(config.head_memo)
        self.connections: set[HttpProtocol] = set()
        # Connections accepted but not in `connections` yet (TLS handshakes): they count against the limit.
        self.opening = 0
        self.body_buffer = config.body_buffer  # bodies up to this size are collected before the call ...
        self.buffer_budget = config.body_buffer_budget  # ... while the process holds at most this of them
        self.buffered = 0  # bytes of request bodies being collected before their application runs
        self.max_connections = config.max_connections
        self.keepalive_timeout = config.keepalive_timeout
        self.header_timeout = config.header_timeout
        self.body_timeout = config.body_timeout
        self.high = config.write_buffer_high
        self.low = config.write_buffer_low
        self.header_keys = new_header_keys()
        self.pool = ThreadPool(config.threads or DEFAULT_THREADS)
        self.auto = AutoPolicy() if config.dispatch == "auto" else None
        self.inline = config.dispatch != "pool"
        self.stopping = False
        self.now = time.monotonic()
        self.server_line = (
            f"Server: {config.server_header}\r\n".encode("latin-1") if config.server_header else b""
        )
        self.extra = b""
        # Response heads by (status, headers, length, ...); cleared every second with the Date line.
        self.head_cache = None if config.trace else HeadCache()
        # HTTP/2 response fields by (status, headers, length, HEAD); cleared with the Date line too.
        self.h2_head_cache = None if config.trace or not config.http2 else H2HeadCache()
        self._update_date()
        self.access_log = _optional_hook("accesslog", "AccessLog", config)
        self.proxy = _optional_hook("proxy", "ProxyFixer", config)
        self.timed = self.access_log is not None or config.trace
        self._posted: deque[tuple[Callable[..., None], tuple[Any, ...]]] = deque()
        self._wakeup = False
        self._sweeper: asyncio.TimerHandle | None = None
        self._tick: Callable[[], None] | None = None
        self.protocol_class: type[HttpProtocol] = HttpProtocol
        self.exchange_class: type[Exchange] = Exchange
        self.proxy_peers: Any = None
        if config.trace:
            from sockweb.server.trace import TraceExchange, TraceProtocol

            self.protocol_class, self.exchange_class = TraceProtocol, TraceExchange
        self.metrics: Metrics | None = None
        # The metrics' counters, which the connection updates itself (a check of this field is all that
        # metrics cost per request when they are off).
        self.tally: Tally | None = None
        if config.metrics_bind or config.statsd_host:
            from sockweb.server.metrics import Metrics, instrument

            self.metrics = Metrics(self)
            self.tally = self.metrics.tally
            self.protocol_class = instrument(self.protocol_class)
            self.timed = True  # every exchange records when it started
        if config.http2:
            # Before the PROXY protocol class: that header comes first on the wire, the preface after it.
            from sockweb.server.h2conn import H2Ready

            base = self.protocol_class
            self.protocol_class = type("H2" + base.__name__, (H2Ready, base), {"__slots__": ()})
        if config.proxy_protocol:
            from sockweb.server.proxy import AllowList

            self.proxy_peers = AllowList(config.forwarded_allow_ips)
            base = self.protocol_class
            self.protocol_class = type(
                "Proxied" + base.__name__, (ProxiedConnection, base), {"__slots__": ()}
            )
        self.exchange_class = _exchange_class(config, self.exchange_class, worker)

    def _update_date(self) -> None:
        date = email.utils.formatdate(usegmt=True).encode("ascii")
        self.date_line = b"Date: " + date + b"\r\n"
        self.extra = self.date_line + self.server_line
        if self.head_cache is not None:
            self.head_cache.clear()
        if self.h2_head_cache is not None:
            self.h2_head_cache.clear()

    # -- cross-thread calls ----------------------------------------------------------------------------
    def post(self, fn: Callable[..., None], *args: Any) -> None:
        """Run `fn(*args)` on the loop thread soon (callable from any thread; batched wake-ups)."""
        self._posted.append((fn, args))
        if not self._wakeup:
            self._wakeup = True
            with contextlib.suppress(RuntimeError):  # the loop is closed: the process is exiting
                self.loop.call_soon_threadsafe(self._run_posted)

    def _run_posted(self) -> None:
        self._wakeup = False
        posted = self._posted
        while posted:
            fn, args = posted.popleft()
            try:
                fn(*args)
            except Exception:
                log.exception("Error in a connection callback")

    # -- once a second ---------------------------------------------------------------------------------
    def start(self, tick: Callable[[], None] | None = None) -> None:
        self._tick = tick
        self._sweeper = self.loop.call_later(1.0, self._sweep)

    def _sweep(self) -> None:
        self.now = now = time.monotonic()
        self._update_date()
        if self.auto is not None:
            self.auto.tick(now)
            self.inline = self.auto.inline
        for conn in list(self.connections):
            conn.check_timeouts(now)
        if self.metrics is not None:
            try:
                self.metrics.tick()
            except Exception:
                log.exception("Error publishing the metrics")
        if self._tick is not None:
            try:
                self._tick()
            except Exception:
                log.exception("Error in the worker heartbeat")
        self._sweeper = self.loop.call_later(1.0, self._sweep)

    # -- stopping --------------------------------------------------------------------------------------
    def begin_stop(self) -> None:
        """Stop keeping connections alive: every response from now on carries ``Connection: close``."""
        self.stopping = True
        self.close_idle()

    def close_idle(self) -> None:
        """Close keep-alive connections that have been idle for `STOP_IDLE` seconds.

        Not the ones that just got a response: their client may be sending the next request right now,
        and closing under it would fail that request. Those get answered, with ``Connection: close``.
        """
        now = monotonic()
        for conn in list(self.connections):
            conn.close_if_idle(now)

    def abort_all(self) -> None:
        for conn in list(self.connections):
            conn.abort()

    def shutdown(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self.metrics is not None:
            self.metrics.close()  # the last numbers, so the master's totals include this worker's end
        self.pool.shutdown()


def _exchange_class(config: Config, base: type[Exchange], worker: Any) -> type[Exchange]:
    """The exchange with the per-request options that are on, each a subclass (none: `base` itself).

    Order matters: the mount fixes PATH_INFO before the hooks see it, and the concurrency limit sheds a
    request before its hooks run."""
    cls = base
    if config.root_path:
        from sockweb.server.mount import mounted_exchange

        cls = mounted_exchange(cls, config.root_path)
    if config.pre_request is not None or config.post_request is not None:
        from sockweb.server.hooks import hooked_exchange, this_worker

        cls = hooked_exchange(cls, config, worker if worker is not None else this_worker(config))
    if config.limit_concurrency is not None:
        from sockweb.server.limit import limited_exchange

        cls = limited_exchange(cls, config.limit_concurrency)
    return cls


def protocol_factory(state: ServerState, sock: socket.socket, tls: bool) -> Callable[[], HttpProtocol]:
    """A factory for connections accepted on `sock`, sharing that socket's environ template."""
    addr = sock.getsockname()
    if isinstance(addr, tuple):
        name, port = str(addr[0]), str(addr[1])
    else:
        name, port = "localhost", ""
    # Even with dispatch "inline", bodies that stream in run their application in a worker thread.
    template = environ_template(name, port, "https" if tls else "http", True)
    cls = state.protocol_class
    return lambda: cls(state, template, tls)
