"""Minimal stand-ins for hooks another module provides (binds), used only while that module is absent.

Strategy: accept HOST:PORT and [IPV6]:PORT, nothing else; the real `sockweb.server.binds` supersedes it.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sockweb.server.config import Config


def parse_host_port(text: str) -> tuple[str, int]:
    """`HOST:PORT` or `[V6]:PORT` -> (host, port); ValueError with a clear message otherwise."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host or int(port) > 65535:
        raise ValueError(f"invalid bind {text!r}: expected HOST:PORT")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def create_sockets(config: Config) -> list[socket.socket]:
    """Bind and listen on every `config.bind` address (TCP only)."""
    out: list[socket.socket] = []
    try:
        for text in config.bind:
            host, port = parse_host_port(text)
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            out.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError as exc:
                raise OSError(exc.errno, f"cannot bind {text}: {exc.strerror}") from None
            sock.listen(config.backlog)
    except BaseException:
        for sock in out:
            sock.close()
        raise
    return out
