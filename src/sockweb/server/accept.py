"""Accepting connections: our own accept loop on each listening socket, for both event loops.

Strategy: each listening socket is non-blocking and watched with ``loop.add_reader``; when it is readable,
up to `ACCEPT_BATCH` connections are accepted and each is handed to the loop with
``loop.connect_accepted_socket`` (in a task, which for TLS lives until the handshake is over). Doing the
accept ourselves instead of through ``loop.create_server`` gives three things neither loop offers:

- **Back-off when the process runs out of resources.** ``accept()`` failing with EMFILE/ENFILE (no file
  descriptor left), ENOBUFS or ENOMEM leaves the connection in the kernel's queue, so the socket stays
  readable and a naive loop spins on it (the stdlib loop also logged a traceback per attempt). Here every
  listener stops watching its socket for a delay that doubles from `BACKOFF_FIRST` to `BACKOFF_MAX` while
  the error persists; connections already open keep being served, and the queue waits in the kernel. The
  log gets at most one line per `LOG_EVERY` (with the number of failed attempts since the last one), and
  one when accepting works again.
- **Handshakes count as connections.** A connection counts against ``--max-connections`` from the moment
  it is accepted (``ServerState.opening``), not from ``connection_made``, which a TLS connection reaches
  only after its handshake: stalled handshakes can no longer pile up beyond the limit. A TLS connection
  beyond the limit is closed at once; a plain one reaches its protocol, which answers 503 with the staged
  close, unless `REFUSED_LINGERING` refusals already linger (then it too is cut here).
- **Handshakes end at the head deadline.** ``ssl_handshake_timeout`` is ``--header-timeout``: the
  handshake is part of getting the request head, and a client that stalls in it is cut as early as one
  that stalls in its head.

Stopping removes the readers and the back-off timer; connections already accepted go on to their
protocol (the drain waits for ``ServerState.opening`` too), and `Acceptor.close` cancels the handshakes
still running when the drain is over.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import math
import socket
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING

from sockweb.http import ProtocolError, error_response
from sockweb.server.protocol import REFUSED_LINGERING

if TYPE_CHECKING:
    from sockweb.server.protocol import HttpProtocol
    from sockweb.server.state import ServerState

log = logging.getLogger("sockweb.error")

__all__ = ["ACCEPT_BATCH", "BACKOFF_FIRST", "BACKOFF_MAX", "LOG_EVERY", "Acceptor"]

ACCEPT_BATCH = 128  # connections accepted per readiness event, so one busy socket does not starve others
BACKOFF_FIRST = 0.1  # seconds without accepting after the first resource error: an fd frees up soon...
BACKOFF_MAX = 1.0  # ... and the delay doubles up to this while the error persists
LOG_EVERY = 10.0  # at most one log line per this many seconds while accepting is stopped

# accept(2): "Linux accept() passes already-pending network errors on the new socket as an error code
# from accept()"; the next connection in the queue may be fine, so these are skipped, not backed off.
_SKIP = frozenset(
    getattr(errno, name)
    for name in (
        "ECONNABORTED",
        "EPROTO",
        "ENETDOWN",
        "ENOPROTOOPT",
        "EHOSTDOWN",
        "ENONET",
        "EHOSTUNREACH",
        "EOPNOTSUPP",
        "ENETUNREACH",
        "EPERM",  # a firewall rule refused it
    )
    if hasattr(errno, name)
)
# Out of a resource the process or the system needs for a new connection.
_EXHAUSTED = frozenset((errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM))
_UNAVAILABLE = ProtocolError("too many open connections", status=503)


class Acceptor:
    """Accepts on every listening socket of the process and hands connections to their protocol."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        state: ServerState,
        tls: ssl.SSLContext | None,
        handshake_timeout: float,
    ) -> None:
        self.loop = loop
        self.state = state
        self.tls = tls
        self.handshake_timeout = handshake_timeout
        self.listeners: list[tuple[socket.socket, Callable[[], HttpProtocol]]] = []
        self.tasks: set[asyncio.Task[None]] = set()  # connections on their way to connection_made
        self.watching = False
        self.stopped = False
        self.backoff = 0.0  # the current delay; 0 while accepting works
        self.resume_handle: asyncio.TimerHandle | None = None
        self.refused = 0  # accept attempts that failed for lack of resources since the last log line
        self.logged_at = -math.inf  # loop time of the last such line
        self.announced = False  # a failure was logged and its recovery not yet

    def add(self, sock: socket.socket, factory: Callable[[], HttpProtocol], backlog: int) -> None:
        """Accept on `sock` (listening again with `backlog`: inherited sockets get ours too)."""
        sock.setblocking(False)
        sock.listen(backlog)
        self.listeners.append((sock, factory))

    def start(self) -> None:
        """Watch every listening socket."""
        for sock, factory in self.listeners:
            self.loop.add_reader(sock.fileno(), self.accept, sock, factory)
        self.watching = True

    def _unwatch(self) -> None:
        if self.watching:
            self.watching = False
            for sock, _ in self.listeners:
                with contextlib.suppress(OSError, ValueError):
                    self.loop.remove_reader(sock.fileno())

    def stop(self) -> None:
        """Accept nothing more. Connections already accepted still reach their protocol."""
        self.stopped = True
        self._unwatch()
        if self.resume_handle is not None:
            self.resume_handle.cancel()
            self.resume_handle = None

    async def close(self) -> None:
        """Cancel the connections still on their way (TLS handshakes) and wait until they are closed."""
        self.stop()
        # One pass first: a task that never ran cannot close its socket when cancelled; once started,
        # the loop owns the socket and closes it on cancellation.
        await asyncio.sleep(0)
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    # -- accepting ---------------------------------------------------------------------------------------
    def accept(self, sock: socket.socket, factory: Callable[[], HttpProtocol]) -> None:
        """The listening socket is readable: accept a batch of connections."""
        state = self.state
        for _ in range(ACCEPT_BATCH):
            try:
                conn, _addr = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in _SKIP:
                    continue
                self._back_off(exc)
                return
            if self.backoff:
                self._recovered()
            count = len(state.connections) + state.opening
            if count >= state.max_connections and (
                self.tls is not None or count >= state.max_connections + REFUSED_LINGERING
            ):
                # Over the cap, a plain connection still reaches its protocol, which answers 503 with the
                # staged close; TLS ones (no 503 before a handshake) and a flood beyond that are cut here.
                self._refuse(conn)
                continue
            state.opening += 1
            task = self.loop.create_task(self._open(conn, factory))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _open(self, conn: socket.socket, factory: Callable[[], HttpProtocol]) -> None:
        try:
            if self.tls is None:
                await self.loop.connect_accepted_socket(factory, conn)
            else:
                await self.loop.connect_accepted_socket(
                    factory, conn, ssl=self.tls, ssl_handshake_timeout=self.handshake_timeout
                )
        except (OSError, ssl.SSLError, asyncio.TimeoutError):
            pass  # a failed or timed-out handshake, a client gone already: the loop closed the socket
        finally:
            self.state.opening -= 1

    def _refuse(self, conn: socket.socket) -> None:
        """Cut at accept: TLS is closed; plain HTTP gets its 503 as it goes (a flood: no staged close)."""
        with conn:
            if self.tls is None:
                with contextlib.suppress(OSError):
                    conn.setblocking(False)
                    conn.send(error_response(_UNAVAILABLE, self.state.extra))

    # -- back-off ----------------------------------------------------------------------------------------
    def _back_off(self, exc: OSError) -> None:
        """Stop watching every listener for a while; log at most once per `LOG_EVERY`."""
        now = self.loop.time()
        self.refused += 1
        self.backoff = min(self.backoff * 2, BACKOFF_MAX) if self.backoff else BACKOFF_FIRST
        if now - self.logged_at >= LOG_EVERY:
            log.warning(
                "Cannot accept connections: %s; %d attempt(s) failed, retrying for now every %gs or less "
                "(%d connection(s) open)",
                _reason(exc),
                self.refused,
                BACKOFF_MAX,
                len(self.state.connections),
            )
            self.logged_at = now
            self.refused = 0
            self.announced = True
        self._unwatch()
        self.resume_handle = self.loop.call_later(self.backoff, self._resume)

    def _resume(self) -> None:
        self.resume_handle = None
        if not self.stopped:
            self.start()

    def _recovered(self) -> None:
        self.backoff = 0.0
        if self.announced:  # one line for the last failure line; under churn that is one per LOG_EVERY
            self.announced = False
            log.info("Accepting connections again")


def _reason(exc: OSError) -> str:
    if exc.errno in (errno.EMFILE, errno.ENFILE):
        return f"out of file descriptors ({exc.strerror})"
    return exc.strerror or str(exc)
