"""Endpoint strings for the echo tools: parsing, display, and making the sockets.

One grammar for every ``--bind`` and client target, so the servers and clients agree:

* ``HOST:PORT`` — an IPv4 address or a host name (``127.0.0.1:9000``, ``localhost:9000``);
* ``[IPV6]:PORT`` — an IPv6 literal in brackets, as in URLs (``[::1]:9000``);
* ``PORT`` — shorthand for ``127.0.0.1:PORT`` (loopback: nothing is exposed by accident);
* ``unix:PATH`` — a unix-domain socket (stream for TCP-like use, datagram for UDP-like use).

Parsing is pure (no DNS): host names are resolved only when a socket is made, so a bad string is a usage
error (exit 2) and an unreachable host is a runtime error (exit 1).
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import socket
import stat
from dataclasses import dataclass

__all__ = ["Address", "AddressError", "bound_address", "connect_socket", "listen_socket", "parse_address"]

_UNIX_PREFIX = "unix:"
_SYNTAX = "expected HOST:PORT, [IPV6]:PORT, PORT or unix:PATH"


class AddressError(ValueError):
    """A malformed endpoint string (a usage error, not a network one)."""


@dataclass(frozen=True)
class Address:
    """A parsed endpoint: ``host``/``port`` for IP, ``path`` for unix-domain sockets."""

    host: str = ""
    port: int = 0
    path: str = ""

    @property
    def is_unix(self) -> bool:
        return bool(self.path)

    def display(self, scheme: str) -> str:
        """``tcp://127.0.0.1:9000``, ``udp://[::1]:9000`` or ``unix:/run/echo.sock``."""
        if self.is_unix:
            return f"{_UNIX_PREFIX}{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    def with_port(self, port: int) -> Address:
        return Address(self.host, port, self.path)


def parse_address(text: str, *, allow_port_zero: bool = False) -> Address:
    """Parse an endpoint string; raises AddressError with a readable reason."""
    if text.startswith(_UNIX_PREFIX):
        path = text[len(_UNIX_PREFIX) :]
        if not path:
            raise AddressError(f"bad address {text!r}: empty unix socket path")
        if "\0" in path:
            raise AddressError(f"bad address {text!r}: NUL byte in path")
        return Address(path=path)
    if text.isdigit():
        return Address("127.0.0.1", _port(text, text, allow_port_zero))
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise AddressError(f"bad address {text!r}: {_SYNTAX}")
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise AddressError(f"bad address {text!r}: {host!r} is not an IPv6 address") from None
        return Address(host, _port(rest[1:], text, allow_port_zero))
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise AddressError(f"bad address {text!r}: {_SYNTAX}")
    if ":" in host:
        raise AddressError(f"bad address {text!r}: put IPv6 addresses in brackets, like [::1]:{port}")
    if not all(c.isalnum() or c in ".-_" for c in host):
        raise AddressError(f"bad address {text!r}: {host!r} is not a host name or IPv4 address")
    return Address(host, _port(port, text, allow_port_zero))


def _port(text: str, whole: str, allow_zero: bool) -> int:
    low = 0 if allow_zero else 1
    if not text.isdigit() or not low <= int(text) <= 65535:
        raise AddressError(f"bad address {whole!r}: port must be a number from {low} to 65535")
    return int(text)


_SockAddr = str | tuple[object, ...]


def _resolve(
    address: Address, kind: socket.SocketKind, passive: bool
) -> tuple[socket.AddressFamily, _SockAddr]:
    flags = socket.AI_PASSIVE if passive else 0
    infos = socket.getaddrinfo(address.host, address.port, type=kind, flags=flags)
    family, _, _, _, sockaddr = infos[0]  # getaddrinfo never returns an empty list: it raises
    return family, sockaddr


def listen_socket(address: Address, kind: socket.SocketKind, backlog: int = 128) -> socket.socket:
    """A bound socket (listening when ``kind`` is SOCK_STREAM). Raises OSError with the OS's reason.

    A leftover unix socket file from a dead server is replaced; one a live server answers on is not.
    """
    if address.is_unix:
        _remove_stale_unix_socket(address.path, kind)
        sock = socket.socket(socket.AF_UNIX, kind)
        target: _SockAddr = address.path
    else:
        family, target = _resolve(address, kind, passive=True)
        sock = socket.socket(family, kind)
        # Restarting a server must not wait for the old connections' TIME_WAIT to expire.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(target)
        if kind == socket.SOCK_STREAM:
            sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


def connect_socket(address: Address, kind: socket.SocketKind, timeout: float | None) -> socket.socket:
    """A socket connected to ``address`` (for datagrams: with its default peer set)."""
    if address.is_unix:
        sock = socket.socket(socket.AF_UNIX, kind)
        target: _SockAddr = address.path
    else:
        family, target = _resolve(address, kind, passive=False)
        sock = socket.socket(family, kind)
    sock.settimeout(timeout)
    try:
        sock.connect(target)
    except BaseException:
        sock.close()
        raise
    return sock


def bound_address(sock: socket.socket, requested: Address) -> Address:
    """The address a listening socket really has (the kernel picks the port for port 0)."""
    if requested.is_unix:
        return requested
    name = sock.getsockname()
    return Address(str(name[0]), int(name[1]))


def _remove_stale_unix_socket(path: str, kind: socket.SocketKind) -> None:
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise OSError(errno.EEXIST, f"{path} exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, kind)
    try:
        probe.connect(path)
    except ConnectionRefusedError:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # nobody listens: a previous run died without cleaning up
        return
    finally:
        probe.close()
    raise OSError(errno.EADDRINUSE, f"a server is already listening on unix:{path}")
