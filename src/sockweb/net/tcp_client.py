"""The TCP echo client: send lines, print the server's replies, fail loudly and briefly.

The client is sequential on purpose (send one line, read one reply): it mirrors the seed's client and
makes "which reply belongs to which line" obvious. Every wait is bounded by ``timeout`` (connect and each
reply), and every failure becomes one ``error: ...`` line on stderr with exit status 1: no traceback
for "the server is not running".
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from typing import BinaryIO, TextIO

from sockweb.net.address import Address, connect_socket

__all__ = ["OutputError", "describe_connect_error", "run_tcp_client", "write_reply"]

# A reply is "[timestamp] " + the line decoded with errors="replace": each byte of the line becomes at most
# three (U+FFFD), the timestamp adds about 32. A bound keeps a misbehaving server from filling memory.
REPLY_OVERHEAD = 256


class OutputError(Exception):
    """Writing a reply to the output failed (a reader that left, a full disk): not the server's fault."""

    def __init__(self, cause: OSError) -> None:
        super().__init__(cause.strerror or str(cause))
        self.cause = cause


def write_reply(out: BinaryIO, reply: bytes) -> None:
    """Write one reply at once (so a user sees each as it comes); raises :class:`OutputError`."""
    try:
        out.write(reply)
        out.flush()
    except OSError as exc:
        raise OutputError(exc) from exc


def describe_connect_error(exc: OSError, where: str, timeout: float) -> str:
    """One readable line for a failed connect()."""
    if isinstance(exc, ConnectionRefusedError):
        return f"no server at {where} (connection refused)"
    if isinstance(exc, TimeoutError):
        return f"no answer from {where} within {timeout:g} s (connect timed out)"
    if isinstance(exc, FileNotFoundError):
        return f"no server at {where} (no such socket file)"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve {where}: {exc.strerror}"
    return f"cannot connect to {where}: {exc.strerror or exc}"


def run_tcp_client(
    address: Address,
    lines: Iterable[bytes],
    *,
    timeout: float,
    out: BinaryIO,
    err: TextIO,
) -> int:
    """Send each line (no terminator) and write each reply to ``out``; return the exit status.

    A failure to write to ``out`` raises :class:`OutputError`."""
    where = address.display("tcp")
    try:
        sock = connect_socket(address, socket.SOCK_STREAM, timeout)
    except OSError as exc:
        print(f"error: {describe_connect_error(exc, where, timeout)}", file=err)
        return 1
    with sock, sock.makefile("rb") as replies:
        try:
            for line in lines:
                sock.sendall(line + b"\n")
                reply = replies.readline(3 * len(line) + REPLY_OVERHEAD)
                if not reply:
                    print(f"error: {where} closed the connection without replying", file=err)
                    return 1
                write_reply(out, reply)
                if reply.startswith(b"error:"):
                    return 1
            sock.shutdown(socket.SHUT_WR)
        except TimeoutError:
            print(f"error: no reply from {where} within {timeout:g} s", file=err)
            return 1
        except OSError as exc:
            print(f"error: connection to {where} lost: {exc.strerror or exc}", file=err)
            return 1
    return 0
