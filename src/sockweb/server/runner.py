"""Run the server in this process: the single-process entry (`serve`) and the worker entry (`run_worker`).

Strategy: one event loop (uvloop when installed and ``config.loop`` allows it), one accept loop per
listening socket (sockweb.server.accept: back-off when out of file descriptors, TLS handshakes bounded by
the head deadline and counted as connections) with a protocol factory bound to that socket's environ
template, one periodic sweeper per
second (Date header, idle / head deadlines, the arbiter's heartbeat), and a graceful stop on SIGTERM/SIGINT:
stop accepting (one last accept pass takes what is already queued, then the listening sockets close, so a
later connection is refused rather than left waiting), close idle keep-alive connections, let in-flight
requests finish within ``graceful_timeout``, then cut what is left and return 0.

The drain delay (``--drain-delay``, single process only: with workers the master holds their TERM back
instead) comes first when the stop is a TERM: readiness turns false at once, but accepting and serving go
on for the delay, so a load balancer polling /readyz stops sending before the listener closes. A second
TERM or INT ends the delay early. Load and bind errors become one log line and a
non-zero exit code, never a traceback.

Single-process mode adds its own signals (HUP reload, the ignored ones) through a :class:`ProcessControl`
(:mod:`sockweb.server.handover`): their handlers run on the loop, and once the loop is done each signal
gets back the disposition it had before, so a signal arriving after the loop never finds the default
action (which for HUP, TTIN or USR2 stops the process).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import ssl
import sys
from collections.abc import Callable, Mapping
from types import FrameType, ModuleType
from typing import TYPE_CHECKING, Any, Protocol, cast

from sockweb.http import describe_parser
from sockweb.server import hooks
from sockweb.server.loader import AppLoadError, WSGIApp, load_app
from sockweb.server.wsgi import describe_environ

if TYPE_CHECKING:
    import mmap

    from sockweb.server.accept import Acceptor
    from sockweb.server.config import Config
    from sockweb.server.state import ServerState
    from sockweb.server.status import StatusServer

log = logging.getLogger("sockweb.error")

# What signal.getsignal() returns: a Python handler, SIG_DFL/SIG_IGN, or None (set outside Python).
_Disposition = Callable[[int, FrameType | None], object] | int | signal.Handlers | None

__all__ = ["ProcessControl", "describe_loop", "run_worker", "serve"]


class ProcessControl(Protocol):
    """What the process around a single-process runner adds to it."""

    def signal_handlers(self) -> Mapping[int, Callable[[], None]]:
        """Signals handled on the loop while it serves; an entry for TERM or INT replaces the plain
        graceful stop (and should end in the ``request_stop`` given to :meth:`serving`)."""
        ...

    def serving(self, request_stop: Callable[[], None]) -> None:
        """Called once every listening socket accepts; ``request_stop()`` starts the graceful stop."""
        ...

    def tick(self) -> None:
        """Called once a second from the loop."""
        ...

    def leaving(self) -> None:
        """Called once the loop has stopped serving, before its signal handlers are given up."""
        ...


def _find_uvloop(kind: str) -> ModuleType | None:
    """The uvloop module when the `loop` setting `kind` asks for it and it is installed, else None."""
    if kind == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop


def describe_loop(kind: str) -> str:
    """Which event loop the `loop` setting `kind` runs on in this installation, in words for a person."""
    uvloop = _find_uvloop(kind)
    if uvloop is not None:
        return f"uvloop {uvloop.__version__}"
    if kind == "asyncio":
        return "asyncio (the standard library's, as configured)"
    # uvloop is a default dependency where it exists (CPython on Linux and macOS): say so when it is missing.
    return "asyncio (the standard library's; uvloop is not installed: pip install uvloop for the faster loop)"


def _new_loop(kind: str) -> asyncio.AbstractEventLoop:
    uvloop = _find_uvloop(kind)
    if uvloop is None and kind == "uvloop":
        raise RuntimeError("--loop uvloop: uvloop is not installed")
    log.info("Event loop: %s", describe_loop(kind))
    log.info("Request parser: %s", describe_parser())
    log.info("Environ header loop: %s", describe_environ())
    if uvloop is not None:
        return cast(asyncio.AbstractEventLoop, uvloop.new_event_loop())
    return asyncio.new_event_loop()


def _settle_allocator() -> None:
    """Let glibc's malloc serve read-sized blocks from its heap instead of a fresh mmap each time.

    Body pieces arrive as bytes objects of the loop's read size (256 KiB with uvloop) that live until
    the application has read them. glibc maps every block at or above its mmap threshold (128 KiB at
    start) on its own, and raises the threshold only to the size of the largest mapped block freed so
    far (mallopt(3), M_MMAP_THRESHOLD): a stream of same-size 256 KiB pieces would each be mapped,
    faulted in page by page and unmapped (measured: ~160 page faults per 1 MiB upload, half the upload
    rate). Freeing one 1 MiB block at start lifts the threshold above the read size once. Other
    allocators are not affected.
    """
    block = bytes(8 << 20)
    del block


def _raise_nofile(wanted: int) -> None:
    """Lift the soft RLIMIT_NOFILE towards the hard limit so `max_connections` can be reached."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on POSIX
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def _create_sockets(config: Config) -> list[socket.socket]:
    from sockweb.server.binds import create_sockets

    return create_sockets(config)


def _ssl_context(config: Config) -> ssl.SSLContext | None:
    if not config.certfile:
        return None
    from sockweb.server.tls import build_ssl_context

    return build_ssl_context(config)


def _describe(sock: socket.socket, tls: bool) -> str:
    addr = sock.getsockname()
    if sock.family == getattr(socket, "AF_UNIX", None):
        return f"unix:{addr}"
    scheme = "https" if tls else "http"
    host, port = addr[0], addr[1]
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


class _Runner:
    """Owns the loop, the listening servers and the stop sequence of one process."""

    def __init__(self, config: Config, app: WSGIApp, sockets: list[socket.socket]) -> None:
        self.config = config
        self.app = app
        self.sockets = sockets
        self.stop_requested: asyncio.Event | None = None
        self.drain_delay = 0.0  # seconds to keep accepting after a TERM (single process; see serve)
        self.delayed_stop = False  # the stop came from TERM: the drain delay applies
        self.skip_delay: asyncio.Event | None = None  # a second TERM or INT: end the delay now
        self.on_tick: Callable[[], None] | None = None
        self.should_stop: Callable[[], bool] | None = None
        self.control: ProcessControl | None = None
        self.stats: mmap.mmap | None = None  # a worker's shared block for the master's metrics
        self.status_sock: socket.socket | None = None  # single process: the --metrics-bind listener
        self.serving = False
        self.accepting = False  # the listening sockets are open and watched (true during a drain delay)
        self.worker: Any = None  # the hooks' `worker` (sockweb.server.hooks.WorkerInfo)
        self.server: Any = None  # the hooks' `server` in single-process mode (when_ready is called here)
        self.code = 0

    def run(self) -> int:
        _settle_allocator()
        loop = _new_loop(self.config.loop)
        asyncio.set_event_loop(loop)
        try:
            return loop.run_until_complete(self._main(loop))
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            asyncio.set_event_loop(None)
            loop.close()

    def _request_stop(self) -> None:
        if self.stop_requested is not None:
            self.stop_requested.set()

    def _tick(self) -> None:
        if self.on_tick is not None:
            self.on_tick()
        if self.control is not None:
            self.control.tick()
        if self.should_stop is not None and self.should_stop():
            self._request_stop()

    async def _main(self, loop: asyncio.AbstractEventLoop) -> int:
        from sockweb.server.state import ServerState

        self.stop_requested = asyncio.Event()
        self.skip_delay = asyncio.Event()
        state = ServerState(self.config, self.app, loop, worker=self.worker)
        acceptor = self._listen(loop, state)
        installed = self._install_signals(loop)
        if self.control is not None:
            self.control.serving(self._request_stop)
        if self.server is not None and not hooks.call(self.config, "when_ready", self.server):
            log.error("The when_ready hook failed: stopping")
            self.code = 1
            self._request_stop()
        state.start(self._tick)
        self.serving = True
        status = self._start_metrics(state)
        try:
            await self.stop_requested.wait()
            self.serving = False  # /readyz turns false before the listeners close
            await self._delay_drain()
            log.info("Shutting down: waiting up to %gs for in-flight requests", self.config.graceful_timeout)
            self._stop_accepting(acceptor)
            await self._drain(state)
            await acceptor.close()
        finally:
            if self.control is not None:
                self.control.leaving()
            for signum, previous in installed.items():
                loop.remove_signal_handler(signum)  # sets SIG_DFL: put back what was there before
                if previous is not None:
                    signal.signal(signum, previous)
            state.shutdown()
            if status is not None:
                status.close()
        return self.code

    async def _delay_drain(self) -> None:
        """After a TERM, keep accepting and serving for ``drain_delay`` (or until a second TERM/INT)."""
        if not (self.delayed_stop and self.drain_delay > 0) or self.skip_delay is None:
            return
        log.info("Draining: not ready any more, still accepting for %gs", self.drain_delay)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.skip_delay.wait(), self.drain_delay)
        if self.skip_delay.is_set():
            log.info("Drain delay cut short by a second stop signal")

    def _start_metrics(self, state: ServerState) -> StatusServer | None:
        """Publish to the master's shared block (worker), or serve the status listener (one process)."""
        metrics = state.metrics
        if metrics is None:
            return None
        from sockweb.server.metrics import StatsBlock, StatsdPusher
        from sockweb.server.status import LocalSource, StatusServer

        if self.stats is not None:
            metrics.publish_to(StatsBlock(self.stats))
            return None
        if self.config.statsd_host:
            metrics.statsd = StatsdPusher(self.config)
        if self.status_sock is None:
            return None
        stop = self.stop_requested
        source = LocalSource(
            metrics,
            ready=lambda: self.serving and stop is not None and not stop.is_set(),
            last_tick=lambda: state.now,
            timeout=self.config.timeout,
            accepting=lambda: self.accepting,
        )
        server = StatusServer(self.status_sock, source)
        server.start()
        return server

    def _install_signals(self, loop: asyncio.AbstractEventLoop) -> dict[int, _Disposition]:
        """Handle the stop signals (and the control's) on the loop; returns each one's previous handler."""
        handlers: dict[int, Callable[[], None]] = {
            signal.SIGTERM: self._request_stop,
            signal.SIGINT: self._request_stop,
        }
        if self.control is not None:
            handlers.update(self.control.signal_handlers())
        if self.config.worker_int is not None:
            handlers[signal.SIGINT] = self._with_worker_int(handlers[signal.SIGINT])
        if self.drain_delay > 0:
            handlers[signal.SIGTERM] = self._noting_stop(handlers[signal.SIGTERM], delayed=True)
            handlers[signal.SIGINT] = self._noting_stop(handlers[signal.SIGINT], delayed=False)
        installed = {}
        for signum, handler in handlers.items():
            previous = signal.getsignal(signum)
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, handler)
                installed[signum] = previous
        return installed

    def _noting_stop(self, handler: Callable[[], None], *, delayed: bool) -> Callable[[], None]:
        """Wrap a stop signal's handler: the first TERM asks for the drain delay, a second TERM or any
        INT once a stop has begun ends it."""

        def on_stop() -> None:
            stop = self.stop_requested
            if stop is not None and stop.is_set():
                if self.skip_delay is not None:
                    self.skip_delay.set()
            else:
                self.delayed_stop = delayed
            handler()

        return on_stop

    def _with_worker_int(self, handler: Callable[[], None]) -> Callable[[], None]:
        def on_int() -> None:
            hooks.call(self.config, "worker_int", self.worker)
            handler()

        return on_int

    def _listen(self, loop: asyncio.AbstractEventLoop, state: ServerState) -> Acceptor:
        """Start accepting on every socket (see sockweb.server.accept)."""
        from sockweb.server.accept import Acceptor
        from sockweb.server.state import protocol_factory

        tls = _ssl_context(self.config)
        acceptor = Acceptor(loop, state, tls, self.config.header_timeout)
        for sock in self.sockets:
            acceptor.add(sock, protocol_factory(state, sock, tls is not None), self.config.backlog)
            log.info("Listening at %s", _describe(sock, tls is not None))
        acceptor.start()
        self.accepting = True
        return acceptor

    def _stop_accepting(self, acceptor: Acceptor) -> None:
        """Stop accepting and close the listening sockets. Connections accepted already are counted
        (``ServerState.opening``) until their ``connection_made``, so the drain waits for them and they
        are served, not dropped unanswered.

        One last accept pass first takes the connections already queued (they would be reset by the
        close). Closing then makes a new connection fail at once (refused: a load balancer retries it
        elsewhere, safely even for a POST) instead of waiting in the queue until the drain ends. Where
        another process holds the same socket (systemd's, a reload's new process, the arbiter's copy of
        a worker's socket) it stays open there, and so does its queue."""
        if not acceptor.stopped and not acceptor.backoff:
            for sock, factory in acceptor.listeners:
                acceptor.accept(sock, factory)
        acceptor.stop()
        self.accepting = False
        for sock in self.sockets:
            sock.close()

    async def _drain(self, state: ServerState) -> None:
        state.begin_stop()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.graceful_timeout
        while (state.connections or state.opening) and loop.time() < deadline:
            await asyncio.sleep(0.05)
            state.close_idle()
        if state.connections:
            log.warning("Graceful timeout: closing %d connection(s)", len(state.connections))
        state.abort_all()
        await asyncio.sleep(0)


def _prepare(config: Config, app: WSGIApp | None) -> WSGIApp:
    if app is not None:
        return app
    return load_app(config.app, factory=config.factory)


def serve(
    config: Config,
    app: WSGIApp | None = None,
    sockets: list[socket.socket] | None = None,
    *,
    control: ProcessControl | None = None,
    status_sock: socket.socket | None = None,
    server: hooks.ServerInfo | None = None,
    drain_delay: float = 0.0,
) -> int:
    """Serve `app` (or ``config.app``) on `sockets` (or ``config.bind``) until SIGTERM/SIGINT; exit code.

    `control` adds signal handlers, a hook once listening and a per-second tick (single-process mode);
    `status_sock` is the ``--metrics-bind`` listener, served from a thread (see sockweb.server.status);
    `server` is the hooks' argument (this process is then also its own worker, for the worker hooks);
    `drain_delay` keeps accepting for that long after a TERM while readiness is already false."""
    worker = hooks.this_worker(config)
    try:
        app = _prepare(config, app)
        hooks.call_fatal(config, "post_worker_init", worker)
    except AppLoadError as exc:
        log.error("Cannot load the application: %s", exc)
        return 1
    except hooks.HookError as exc:
        log.error("%s", exc)
        return 1
    if sockets is None:
        try:
            sockets = _create_sockets(config)
        except (OSError, ValueError) as exc:
            log.error("Cannot listen: %s", exc)
            return 1
    _raise_nofile(config.max_connections + 128)
    runner = _Runner(config, app, sockets)
    runner.control = control
    runner.status_sock = status_sock
    runner.worker = worker
    runner.server = server
    runner.drain_delay = drain_delay
    try:
        return runner.run()
    except (OSError, RuntimeError, ssl.SSLError) as exc:
        log.error("Server error: %s", exc)
        return 1
    finally:
        for sock in sockets:
            sock.close()
        hooks.call(config, "worker_exit", server, worker)


def run_worker(
    config: Config,
    app: WSGIApp,
    sockets: list[socket.socket],
    *,
    on_tick: Callable[[], None],
    should_stop: Callable[[], bool],
    stats: mmap.mmap | None = None,
    worker: Any = None,
) -> int:
    """Serve in a worker process of the arbiter: `on_tick()` once a second (heartbeat); a graceful stop
    starts when `should_stop()` turns true or on SIGTERM/SIGINT; with metrics on, the numbers go to the
    shared block `stats` once a second. Returns the exit code."""
    _raise_nofile(config.max_connections + 128)
    runner = _Runner(config, app, sockets)
    runner.stats = stats
    runner.on_tick = on_tick
    runner.should_stop = should_stop
    runner.worker = worker
    try:
        return runner.run()
    except (OSError, RuntimeError) as exc:
        print(f"sockweb worker: {exc}", file=sys.stderr)
        return 1
