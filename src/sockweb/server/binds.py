"""Listening addresses: parse ``--bind`` strings and create the listening sockets.

Grammar (one per ``--bind``):

* ``HOST:PORT`` — an IPv4 address or a host name (``0.0.0.0:8000``, ``localhost:8000``); ``PORT`` alone
  means ``127.0.0.1:PORT`` so that nothing is exposed by accident;
* ``[IPV6]:PORT`` — an IPv6 literal in brackets (``[::]:8000``, ``[::1]:8000``);
* ``unix:PATH`` — a unix-domain socket; ``--umask`` applies while it is created; a stale socket file left
  by a dead server is removed, a live one (something accepts on it) is an error;
* ``fd://N`` — an already listening socket inherited as file descriptor N.

Systemd socket activation (``LISTEN_FDS``) replaces the binds. Parsing is pure; every failure, parsing or
binding, is a :class:`BindError` whose message is one line naming the bind (``cannot listen on
127.0.0.1:8000: address already in use``). A string that does not parse is a :class:`BindSyntaxError`,
whose ``expected`` part the config loader reuses to report ``--bind`` as a usage error.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import stat
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sockweb.server.systemd import listen_fds

if TYPE_CHECKING:
    from sockweb.server.config import Config

__all__ = [
    "BindError",
    "BindSpec",
    "BindSyntaxError",
    "bind_socket",
    "create_sockets",
    "describe",
    "parse_bind",
]

_SYNTAX = "expected HOST:PORT, [IPV6]:PORT, unix:PATH or fd://N"


class BindError(ValueError):
    """A bad bind string or an address that cannot be listened on; ``str()`` is one line."""


class BindSyntaxError(BindError):
    """A bind string that does not parse. ``expected`` says what would (``"expected unix:PATH"``)."""

    def __init__(self, text: str, expected: str) -> None:
        super().__init__(f"invalid bind {text!r}: {expected}")
        self.text = text
        self.expected = expected


@dataclass(frozen=True)
class BindSpec:
    """One parsed ``--bind``: ``kind`` is ``"tcp"`` (host, port), ``"unix"`` (path) or ``"fd"`` (fd)."""

    kind: str
    text: str
    host: str = ""
    port: int = 0
    path: str = ""
    fd: int = -1


def _port(text: str, bind: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise BindSyntaxError(bind, "expected a port number between 0 and 65535")
    return int(text)


def parse_bind(text: str) -> BindSpec:
    """Parse one ``--bind`` string (raises BindSyntaxError)."""
    if text.startswith("unix:"):
        path = text[5:]
        if not path or "\0" in path:
            raise BindSyntaxError(text, "expected unix:PATH with a non-empty PATH and no NUL")
        return BindSpec("unix", text, path=path)
    if text.startswith("fd://"):
        if not text[5:].isdigit():
            raise BindSyntaxError(text, "expected fd://N with N a file descriptor number")
        return BindSpec("fd", text, fd=int(text[5:]))
    if text.isdigit():
        return BindSpec("tcp", text, host="127.0.0.1", port=_port(text, text))
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
        if not sep or not host:
            raise BindSyntaxError(text, _SYNTAX)
        try:
            socket.inet_pton(socket.AF_INET6, host)
        except OSError:
            raise BindSyntaxError(text, "expected an IPv6 address inside [...]") from None
        return BindSpec("tcp", text, host=host, port=_port(port, text))
    host, sep, port = text.rpartition(":")
    if not sep or ":" in host or any(c.isspace() or c in "/[]" for c in host):
        raise BindSyntaxError(text, _SYNTAX)
    return BindSpec("tcp", text, host=host or "0.0.0.0", port=_port(port, text))


def _reason(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower()


@contextlib.contextmanager
def _umask(mask: int | None) -> Iterator[None]:
    if mask is None:
        yield
        return
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def _remove_stale(path: str, text: str) -> None:
    """Remove a socket file nobody listens on any more; refuse to touch anything else."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise BindError(f"cannot listen on {text}: {path!r} exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(1.0)
        probe.connect(path)
    except OSError as exc:
        if exc.errno in (errno.ECONNREFUSED, errno.ENOENT):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            return
        raise BindError(f"cannot listen on {text}: {_reason(exc)}") from None
    finally:
        probe.close()
    raise BindError(f"cannot listen on {text}: address already in use (a server accepts on {path!r})")


def _tcp_socket(spec: BindSpec, reuse_port: bool) -> socket.socket:
    try:
        infos = socket.getaddrinfo(spec.host, spec.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise BindError(
            f"cannot listen on {spec.text}: cannot resolve {spec.host!r}: {exc.strerror}"
        ) from None
    family, type_, proto, _, address = infos[0]
    sock = socket.socket(family, type_, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            # [::]:PORT listens on IPv6 only: bind 0.0.0.0 too for IPv4, explicitly.
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise BindError(f"cannot listen on {spec.text}: {_reason(exc)}") from None
    return sock


def _unix_socket(spec: BindSpec, umask: int | None) -> socket.socket:
    _remove_stale(spec.path, spec.text)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with _umask(umask):
            sock.bind(spec.path)
    except OSError as exc:
        sock.close()
        raise BindError(f"cannot listen on {spec.text}: {_reason(exc)}") from None
    return sock


def _fd_socket(spec: BindSpec) -> socket.socket:
    try:
        sock = socket.socket(fileno=spec.fd)
    except OSError as exc:
        raise BindError(f"cannot listen on {spec.text}: {_reason(exc)}") from None
    if sock.type != socket.SOCK_STREAM:
        sock.detach()
        raise BindError(f"cannot listen on {spec.text}: not a stream socket")
    return sock


def bind_socket(
    spec: BindSpec, *, backlog: int = 2048, umask: int | None = None, reuse_port: bool = False
) -> socket.socket:
    """A listening socket for ``spec`` (inheritable, so workers and re-executed masters keep it)."""
    if spec.kind == "unix":
        sock = _unix_socket(spec, umask)
    elif spec.kind == "fd":
        sock = _fd_socket(spec)
    else:
        sock = _tcp_socket(spec, reuse_port)
    try:
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        raise BindError(f"cannot listen on {spec.text}: {_reason(exc)}") from None
    sock.set_inheritable(True)
    return sock


def create_sockets(config: Config, environ: MutableMapping[str, str] | None = None) -> list[socket.socket]:
    """The listening sockets for ``config``: systemd's when socket-activated, else one per ``--bind``.

    All binds are parsed before any socket is created, so a typo never leaves half the sockets bound.
    """
    activated = listen_fds(environ)
    if activated:
        return activated
    specs = [parse_bind(text) for text in config.bind]
    sockets: list[socket.socket] = []
    try:
        for spec in specs:
            sockets.append(bind_socket(spec, backlog=config.backlog, umask=config.umask))
    except BindError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def describe(sock: socket.socket) -> str:
    """``127.0.0.1:8000``, ``[::1]:8000`` or ``unix:/path`` for a listening socket."""
    address = sock.getsockname()
    if sock.family == socket.AF_UNIX:
        return f"unix:{address}"
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def unix_paths(sockets: list[socket.socket]) -> list[str]:
    """The file paths of the unix sockets among ``sockets`` (to remove at shutdown)."""
    paths = []
    for sock in sockets:
        if sock.family == socket.AF_UNIX and sock.fileno() >= 0:
            with contextlib.suppress(OSError):
                path = sock.getsockname()
                if isinstance(path, str) and path:
                    paths.append(path)
    return paths


def remove_unix_files(paths: list[str]) -> None:
    """Delete socket files this process created (at shutdown); anything else at the path is left alone."""
    for path in paths:
        with contextlib.suppress(OSError):
            if stat.S_ISSOCK(os.lstat(path).st_mode):
                os.unlink(path)
