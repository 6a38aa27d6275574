"""The TCP echo server in the three styles of the seeds, with one behaviour (see :mod:`sockweb.net.echo`).

* ``selectors`` (default): one thread, non-blocking sockets, a ``selectors`` loop. Each client has its own
  :class:`~sockweb.net.echo.EchoSession` (line buffer) and output buffer; a client that sends faster than
  it reads is not read from until its replies drain (back-pressure), so memory stays bounded.
* ``threaded``: one thread per client running a blocking recv/sendall loop.
* ``socketserver``: the standard library's ``ThreadingTCPServer`` with a ``StreamRequestHandler`` that
  reads with ``rfile.readline(limit)``.

All three take an already listening socket (so IPv4, IPv6 and unix-domain sockets work alike) and a
:class:`~sockweb.net.lifecycle.StopSignal`; they return once it is set, with every socket closed.

A connection closed because of an over-long line is closed gracefully ("lingering close"): the server
shuts down its sending side and discards what the client still sends for a moment, because closing a
socket with unread input makes the kernel send RST, which can destroy the error line before the client
reads it.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import selectors
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sockweb.net.echo import (
    DEFAULT_MAX_LINE,
    Clock,
    EchoSession,
    local_now,
    reply_for,
    strip_terminator,
    too_long_reply,
)
from sockweb.net.lifecycle import StopSignal

__all__ = ["MODES", "EchoConfig", "serve"]

log = logging.getLogger("sockweb.net")

RECV_SIZE = 65536
LINGER_SECONDS = 2.0
LINGER_BYTES = 1 << 20
JOIN_SECONDS = 5.0


@dataclass(frozen=True)
class EchoConfig:
    """What every TCP style needs to know."""

    max_line: int = DEFAULT_MAX_LINE
    clock: Clock = local_now
    # selectors style: stop reading from a client once this many reply bytes wait to be sent to it
    high_water: int = 1 << 20


def _peer(sock: socket.socket) -> str:
    try:
        name = sock.getpeername()
    except OSError:
        return "?"
    return f"{name[0]}:{name[1]}" if isinstance(name, tuple) else "unix"


def _accept_failed(exc: OSError) -> bool:
    """Log an accept() error; True when it means "out of file descriptors" (back off and retry)."""
    if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
        log.warning("accept failed (%s); pausing new connections", exc.strerror)
        return True
    log.info("accept failed: %s", exc)  # e.g. ECONNABORTED: the client left before we accepted
    return False


# --- selectors -----------------------------------------------------------------------------------------


class _Client:
    __slots__ = ("closing", "linger_until", "out", "peer", "session", "sock")

    def __init__(self, sock: socket.socket, config: EchoConfig) -> None:
        self.sock = sock
        self.peer = _peer(sock)
        self.session = EchoSession(config.max_line, config.clock)
        self.out = bytearray()
        self.closing = False  # no more replies will be added: close once `out` is sent
        self.linger_until = 0.0  # > 0: our side is shut down, discarding input until EOF or this time


class _SelectorsServer:
    def __init__(self, listener: socket.socket, config: EchoConfig, stop: StopSignal) -> None:
        self.listener = listener
        self.config = config
        self.stop = stop
        self.selector = selectors.DefaultSelector()
        self.clients: dict[socket.socket, _Client] = {}
        self.lingering: dict[socket.socket, _Client] = {}  # kept apart: the loop looks at them each turn
        self.accepting = True

    def run(self) -> None:
        self.listener.setblocking(False)
        self.selector.register(self.listener, selectors.EVENT_READ)
        self.selector.register(self.stop, selectors.EVENT_READ)
        try:
            while not self.stop.is_set():
                for key, mask in self.selector.select(self._timeout()):
                    if key.fileobj is self.listener:
                        self._accept()
                    elif isinstance(key.data, _Client):
                        self._ready(key.data, mask)
                self._expire_lingering()
        finally:
            for client in list(self.clients.values()):
                self._drop(client)
            self.selector.close()

    def _timeout(self) -> float | None:
        if not self.lingering:
            return None
        return max(0.0, min(c.linger_until for c in self.lingering.values()) - time.monotonic())

    def _accept(self) -> None:
        for _ in range(64):  # a burst of connections, but let the clients run too
            try:
                sock, _ = self.listener.accept()
            except BlockingIOError:
                return
            except OSError as exc:
                if _accept_failed(exc):
                    self.selector.unregister(self.listener)  # until a client leaves and frees a descriptor
                    self.accepting = False
                return
            sock.setblocking(False)
            client = _Client(sock, self.config)
            self.clients[sock] = client
            self.selector.register(sock, selectors.EVENT_READ, client)
            log.info("client %s connected", client.peer)

    def _ready(self, client: _Client, mask: int) -> None:
        if mask & selectors.EVENT_READ:
            self._read(client)
        if client.sock in self.clients and client.out:
            self._write(client)  # optimistic: usually the socket can take the reply right away
        if client.sock in self.clients:
            self._update(client)

    def _read(self, client: _Client) -> None:
        try:
            data = client.sock.recv(RECV_SIZE)
        except BlockingIOError:
            return
        except OSError as exc:
            self._vanished(client, exc)
            return
        if client.linger_until:
            if not data:
                self._drop(client)
            return
        reply, close = client.session.receive(data)
        client.out += reply
        client.closing = close
        if not data:
            log.info("client %s closed its side", client.peer)

    def _write(self, client: _Client) -> None:
        try:
            sent = client.sock.send(client.out)
        except BlockingIOError:
            return
        except OSError as exc:
            self._vanished(client, exc)
            return
        del client.out[:sent]

    def _vanished(self, client: _Client, exc: OSError) -> None:
        log.info("client %s vanished: %s", client.peer, exc)  # a reset, a timeout: its problem, not ours
        self._drop(client)

    def _update(self, client: _Client) -> None:
        if client.closing and not client.out and not client.linger_until:
            if not client.session.overflowed:  # closed at the client's end of input: nothing to wait for
                self._drop(client)
                return
            self._start_linger(client)
            if client.sock not in self.clients:
                return
        events = 0
        reading = not client.closing or client.linger_until
        if reading and len(client.out) < self.config.high_water:
            events |= selectors.EVENT_READ
        if client.out:
            events |= selectors.EVENT_WRITE
        if events == 0:  # waiting for nothing: cannot happen, but never leave a client unwatched
            self._drop(client)
        elif self.selector.get_key(client.sock).events != events:
            self.selector.modify(client.sock, events, client)

    def _start_linger(self, client: _Client) -> None:
        try:
            client.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._drop(client)
            return
        client.linger_until = time.monotonic() + LINGER_SECONDS
        self.lingering[client.sock] = client

    def _expire_lingering(self) -> None:
        now = time.monotonic()
        for client in [c for c in self.lingering.values() if c.linger_until <= now]:
            self._drop(client)

    def _drop(self, client: _Client) -> None:
        if self.clients.pop(client.sock, None) is None:
            return
        self.lingering.pop(client.sock, None)
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(client.sock)
        client.sock.close()
        log.info("client %s disconnected", client.peer)
        if not self.accepting and not self.stop.is_set():
            self.selector.register(self.listener, selectors.EVENT_READ)
            self.accepting = True


def serve_selectors(listener: socket.socket, config: EchoConfig, stop: StopSignal) -> None:
    _SelectorsServer(listener, config, stop).run()


# --- blocking helpers shared by the threaded and socketserver styles ----------------------------------


def _linger_close(sock: socket.socket) -> None:
    """Shut our side, read and discard until the client's EOF (bounded in time and bytes)."""
    try:
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(LINGER_SECONDS)
        budget = LINGER_BYTES
        while budget > 0:
            data = sock.recv(RECV_SIZE)
            if not data:
                break
            budget -= len(data)
    except OSError:
        pass


class _Registry:
    """The open client sockets of a blocking style, so stopping can unblock their threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._socks: set[socket.socket] = set()

    def add(self, sock: socket.socket) -> None:
        with self._lock:
            self._socks.add(sock)

    def discard(self, sock: socket.socket) -> None:
        with self._lock:
            self._socks.discard(sock)

    def shutdown_all(self) -> None:
        with self._lock:
            socks = list(self._socks)
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in recv()


# --- threaded ------------------------------------------------------------------------------------------


def _serve_client(sock: socket.socket, config: EchoConfig, registry: _Registry) -> None:
    peer = _peer(sock)
    session = EchoSession(config.max_line, config.clock)
    log.info("client %s connected", peer)
    try:
        while True:
            data = sock.recv(RECV_SIZE)
            reply, close = session.receive(data)
            if reply:
                sock.sendall(reply)
            if close:
                if data:  # closed for an over-long line, not at end of input
                    _linger_close(sock)
                break
    except OSError as exc:
        log.info("client %s vanished: %s", peer, exc)
    finally:
        registry.discard(sock)
        sock.close()
        log.info("client %s disconnected", peer)


def serve_threaded(listener: socket.socket, config: EchoConfig, stop: StopSignal) -> None:
    registry = _Registry()
    threads: list[threading.Thread] = []
    listener.setblocking(False)
    with selectors.DefaultSelector() as selector:
        selector.register(listener, selectors.EVENT_READ)
        selector.register(stop, selectors.EVENT_READ)
        try:
            while not stop.is_set():
                for key, _ in selector.select():
                    if key.fileobj is not listener:
                        continue
                    try:
                        sock, _ = listener.accept()
                    except BlockingIOError:
                        continue
                    except OSError as exc:
                        if _accept_failed(exc):
                            time.sleep(0.1)
                        continue
                    sock.setblocking(True)
                    registry.add(sock)
                    thread = threading.Thread(
                        target=_serve_client, args=(sock, config, registry), daemon=True
                    )
                    thread.start()
                    threads = [t for t in threads if t.is_alive()]
                    threads.append(thread)
        finally:
            registry.shutdown_all()
            deadline = time.monotonic() + JOIN_SECONDS
            for thread in threads:
                thread.join(max(0.0, deadline - time.monotonic()))


# --- socketserver --------------------------------------------------------------------------------------


class _EchoTCPServer(socketserver.ThreadingTCPServer):
    """ThreadingTCPServer around a socket made elsewhere (any family), knowing its echo settings."""

    daemon_threads = False  # server_close() joins the handler threads: nothing is cut off mid-reply
    block_on_close = True

    def __init__(self, listener: socket.socket, config: EchoConfig) -> None:
        super().__init__(listener.getsockname(), _EchoHandler, bind_and_activate=False)
        self.socket.close()
        self.socket = listener
        self.echo_config = config
        self.registry = _Registry()


class _EchoHandler(socketserver.StreamRequestHandler):
    server: _EchoTCPServer

    def handle(self) -> None:
        config = self.server.echo_config
        sock: socket.socket = self.connection
        self.server.registry.add(sock)
        peer = _peer(sock)
        log.info("client %s connected", peer)
        try:
            self._converse(config)
        except OSError as exc:
            log.info("client %s vanished: %s", peer, exc)
        finally:
            self.server.registry.discard(sock)
            log.info("client %s disconnected", peer)

    def _converse(self, config: EchoConfig) -> None:
        limit = config.max_line
        while True:
            # One byte more than the limit: a line that fills it without its LF is over-long.
            line = self.rfile.readline(limit + 1)
            if not line:
                return
            if not line.endswith(b"\n") and len(line) > limit:
                self.wfile.write(too_long_reply(limit))
                _linger_close(self.connection)
                return
            self.wfile.write(reply_for(strip_terminator(line), config.clock))
            if not line.endswith(b"\n"):
                return  # an unterminated last line: the client has finished sending


def serve_socketserver(listener: socket.socket, config: EchoConfig, stop: StopSignal) -> None:
    listener.setblocking(True)
    server = _EchoTCPServer(listener, config)
    runner = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    runner.start()
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(stop, selectors.EVENT_READ)
            while not stop.is_set():
                selector.select()
    finally:
        server.shutdown()  # returns once serve_forever() has left its loop
        server.registry.shutdown_all()
        server.server_close()  # closes the listener and joins the handler threads
        runner.join(JOIN_SECONDS)


MODES: dict[str, Callable[[socket.socket, EchoConfig, StopSignal], None]] = {
    "selectors": serve_selectors,
    "threaded": serve_threaded,
    "socketserver": serve_socketserver,
}


def serve(mode: str, listener: socket.socket, config: EchoConfig, stop: StopSignal) -> None:
    """Serve echo clients on ``listener`` in the given style until ``stop`` is set."""
    MODES[mode](listener, config, stop)
