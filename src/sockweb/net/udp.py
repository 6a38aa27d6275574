"""The UDP echo server and client: one datagram in, one timestamped datagram back.

UDP has no connection and no delivery guarantee, which shapes both sides:

* Server: one socket, one thread, a ``selectors`` loop that also watches the stop signal. Each datagram is
  one message (a trailing LF/CRLF is dropped). A datagram over the size limit (default 8 KiB) is not
  echoed: the sender gets ``error: datagram larger than N bytes; dropped``. The server reads with a buffer
  one byte larger than the limit, because the kernel silently truncates a datagram to the buffer size.
* Client: sends a datagram and waits ``timeout`` seconds for the reply; a datagram or reply can be lost,
  so it sends again, up to ``retries`` more times, and then reports the loss (exit 1) instead of waiting
  forever. Replies that do not match the message just sent (late answers to an earlier one) are skipped.
  The client ``connect()``s its socket, so on the same host an absent server shows up as "connection
  refused" (the ICMP port-unreachable answer) rather than as a timeout.
* Unix-domain datagram sockets work too; the client binds an autobound (abstract) address so the server
  has somewhere to send the reply (Linux).
"""

from __future__ import annotations

import errno
import logging
import selectors
import socket
import time
from collections.abc import Iterable
from typing import BinaryIO, TextIO

from sockweb.net.address import Address, connect_socket
from sockweb.net.echo import (
    DEFAULT_MAX_DATAGRAM,
    Clock,
    local_now,
    oversize_datagram_reply,
    reply_for,
    strip_terminator,
)
from sockweb.net.lifecycle import StopSignal
from sockweb.net.tcp_client import describe_connect_error, write_reply

__all__ = ["answer_datagram", "run_udp_client", "serve_udp"]

log = logging.getLogger("sockweb.net")

MAX_UDP_PAYLOAD = 65507  # 65,535 - 8 (UDP header) - 20 (IPv4 header)


def answer_datagram(data: bytes, max_size: int, clock: Clock = local_now) -> bytes:
    """The reply datagram for one received datagram (``data`` may be one byte over ``max_size``)."""
    if len(data) > max_size:
        return oversize_datagram_reply(max_size)
    return reply_for(strip_terminator(data), clock)


def serve_udp(
    sock: socket.socket, stop: StopSignal, *, max_size: int = DEFAULT_MAX_DATAGRAM, clock: Clock = local_now
) -> None:
    """Answer datagrams on the bound ``sock`` until ``stop`` is set."""
    sock.setblocking(False)
    with selectors.DefaultSelector() as selector:
        selector.register(sock, selectors.EVENT_READ)
        selector.register(stop, selectors.EVENT_READ)
        while not stop.is_set():
            for key, _ in selector.select():
                if key.fileobj is sock:
                    _drain(sock, max_size, clock)


def _drain(sock: socket.socket, max_size: int, clock: Clock) -> None:
    for _ in range(256):  # bounded, so a flood cannot starve the stop signal
        try:
            data, peer = sock.recvfrom(max_size + 1)
        except BlockingIOError:
            return
        except OSError as exc:  # e.g. an ICMP error reported for an earlier reply
            log.info("receive failed: %s", exc)
            continue
        if not peer:
            log.info("datagram from an unbound unix socket: nowhere to reply")
            continue
        try:
            sock.sendto(answer_datagram(data, max_size, clock), peer)
        except OSError as exc:
            log.info("reply to %s failed: %s", peer, exc)


def run_udp_client(
    address: Address,
    messages: Iterable[bytes],
    *,
    timeout: float,
    retries: int,
    out: BinaryIO,
    err: TextIO,
) -> int:
    """Send each message as a datagram and write each reply to ``out``; return the exit status.

    A failure to write to ``out`` raises :class:`~sockweb.net.tcp_client.OutputError`."""
    where = address.display("udp")
    try:
        sock = _client_socket(address, timeout)
    except OSError as exc:
        print(f"error: {describe_connect_error(exc, where, timeout)}", file=err)
        return 1
    with sock:
        for message in messages:
            try:
                reply = _exchange(sock, message, timeout=timeout, retries=retries, err=err, where=where)
            except ConnectionRefusedError:
                print(f"error: no server at {where} (connection refused)", file=err)
                return 1
            except OSError as exc:
                if exc.errno == errno.EMSGSIZE:
                    why = f"the message is {len(message):,} bytes, more than one datagram can carry"
                else:
                    why = exc.strerror or str(exc)
                print(f"error: cannot send to {where}: {why}", file=err)
                return 1
            if reply is None:
                attempts = retries + 1
                print(
                    f"error: datagram lost: no reply from {where} after {attempts} "
                    f"attempt{'s' if attempts > 1 else ''} ({timeout:g} s each)",
                    file=err,
                )
                return 1
            write_reply(out, reply if reply.endswith(b"\n") else reply + b"\n")
            if reply.startswith(b"error:"):
                return 1
    return 0


def _client_socket(address: Address, timeout: float) -> socket.socket:
    if not address.is_unix:
        return connect_socket(address, socket.SOCK_DGRAM, timeout)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.bind("")  # Linux autobind: an abstract address the server can reply to
        sock.settimeout(timeout)
        sock.connect(address.path)
    except BaseException:
        sock.close()
        raise
    return sock


def _exchange(
    sock: socket.socket, message: bytes, *, timeout: float, retries: int, err: TextIO, where: str
) -> bytes | None:
    expected = message.decode("utf-8", errors="replace").encode()
    for attempt in range(1, retries + 2):
        sock.send(message)
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                reply = sock.recv(MAX_UDP_PAYLOAD + 1)
            except TimeoutError:
                break
            if reply.startswith(b"error:") or _echoes(reply, expected):
                return reply
        if attempt <= retries:
            print(f"no reply from {where} within {timeout:g} s; sending again", file=err)
    return None


def _echoes(reply: bytes, expected: bytes) -> bool:
    """Is ``reply`` the echo of a message whose (decoded) text is ``expected``?"""
    head, sep, text = reply.partition(b"] ")
    return bool(sep) and head.startswith(b"[") and strip_terminator(text) == strip_terminator(expected)
