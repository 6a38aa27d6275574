"""Raw HTTP/1.1 over sockets with hard deadlines, and the :class:`Result` every attack returns.

A hostile client cannot use an HTTP library: it sends bytes no library would, and it must tell apart the
ways a server can answer (a status, a close, a reset, or nothing at all before a deadline). `exchange`
returns exactly one of those outcomes as a short string, which the attacks count.
"""

from __future__ import annotations

import math
import socket
import time
from collections import Counter
from dataclasses import dataclass, field

HANG = "hang"  # no answer and no close before the deadline: the one outcome no attack may produce
CLOSE = "close"  # EOF before a complete response head
RESET = "reset"  # ECONNRESET / EPIPE


class Timeout(Exception):
    """The deadline passed while waiting for bytes."""


class Closed(Exception):
    """The peer closed (EOF) or reset the connection."""

    def __init__(self, outcome: str, partial: bytes = b"") -> None:
        super().__init__(outcome)
        self.outcome = outcome
        self.partial = partial


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    complete: bool = True  # False: the connection closed before the framed end of the body


@dataclass
class Result:
    """What one attack did to one server: outcome counts, measured numbers, and free-form notes."""

    attack: str
    server: str
    counts: Counter[str] = field(default_factory=Counter)
    numbers: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        counts = ", ".join(f"{k}={v}" for k, v in sorted(self.counts.items()))
        numbers = ", ".join(f"{k}={_fmt(v)}" for k, v in self.numbers.items())
        return f"{self.attack:10} {self.server:8} {counts}" + (f" | {numbers}" if numbers else "")


def _fmt(value: float) -> str:
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return f"{value:.3g}"


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def connect(port: int, timeout: float = 5.0, rcvbuf: int | None = None) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:  # before connect(), so the window is small from the handshake on
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(timeout)
    try:
        sock.connect(("127.0.0.1", port))
    except OSError:
        sock.close()
        raise
    return sock


def _fill(sock: socket.socket, buf: bytearray, deadline: float) -> None:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise Timeout
    sock.settimeout(remaining)
    try:
        data = sock.recv(262144)
    except TimeoutError:
        raise Timeout from None
    except (ConnectionResetError, BrokenPipeError):
        raise Closed(RESET, bytes(buf)) from None
    if not data:
        raise Closed(CLOSE, bytes(buf))
    buf.extend(data)


def read_response(sock: socket.socket, buf: bytearray, deadline: float, head_only: bool = False) -> Response:
    """One response from `sock` (leftover bytes stay in `buf`). Raises Timeout or Closed before a head."""
    while b"\r\n\r\n" not in buf:
        _fill(sock, buf, deadline)
    end = buf.index(b"\r\n\r\n")
    head = bytes(buf[:end]).decode("latin-1")
    del buf[: end + 4]
    status_line, *lines = head.split("\r\n")
    try:
        status = int(status_line.split(" ", 2)[1])
    except (IndexError, ValueError):
        status = 0
    headers: dict[str, str] = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if head_only or status in (204, 304) or 100 <= status < 200:
        return Response(status, headers, b"")
    try:
        body = _read_body(sock, buf, headers, deadline)
    except Closed as exc:
        return Response(status, headers, exc.partial, complete=False)
    return Response(status, headers, body)


def _read_body(sock: socket.socket, buf: bytearray, headers: dict[str, str], deadline: float) -> bytes:
    if "chunked" in headers.get("transfer-encoding", ""):
        parts = []
        while True:
            while b"\r\n" not in buf:
                _fill(sock, buf, deadline)
            i = buf.index(b"\r\n")
            size = int(bytes(buf[:i]).split(b";")[0], 16)
            while len(buf) < i + 2 + size + 2:
                _fill(sock, buf, deadline)
            parts.append(bytes(buf[i + 2 : i + 2 + size]))
            del buf[: i + 2 + size + 2]
            if size == 0:
                return b"".join(parts)
    if "content-length" in headers:
        n = int(headers["content-length"])
        while len(buf) < n:
            try:
                _fill(sock, buf, deadline)
            except Closed as exc:
                raise Closed(exc.outcome, bytes(buf)) from None
        body = bytes(buf[:n])
        del buf[:n]
        return body
    try:
        while True:
            _fill(sock, buf, deadline)
    except Closed:
        body = bytes(buf)
        buf.clear()
        return body


def exchange(port: int, raw: bytes, bound: float, half_close: bool = True) -> str:
    """Send `raw` on a new connection and classify the first answer: a status code, close, reset or hang.

    With `half_close` the client shuts its write side after sending, so a server waiting for more of a
    truncated request sees EOF and has no reason to wait: any silence past `bound` is a hang.
    """
    deadline = time.monotonic() + bound
    try:
        sock = connect(port, timeout=bound)
    except OSError:
        return "connect-failed"
    with sock:
        try:
            sock.sendall(raw)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        except OSError:  # EPIPE, ECONNRESET, ENOTCONN after a reset, or a send that timed out
            pass  # the server may answer (and close) before reading all of a bad request: read what it said
        try:
            return str(read_response(sock, bytearray(), deadline, head_only=True).status)
        except Timeout:
            return HANG
        except Closed as exc:
            return exc.outcome


def get(port: int, path: str = "/hello", timeout: float = 5.0, headers: str = "") -> Response:
    """One GET on a new connection (Connection: close)."""
    deadline = time.monotonic() + timeout
    with connect(port, timeout=timeout) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Connection: close\r\n\r\n".encode())
        return read_response(sock, bytearray(), deadline)


def probe(port: int, path: str = "/hello", timeout: float = 5.0) -> float | None:
    """Seconds for one complete GET on a new connection, or None when it failed or took over `timeout`."""
    start = time.monotonic()
    try:
        response = get(port, path, timeout)
    except (OSError, Timeout, Closed):
        return None
    return time.monotonic() - start if response.status == 200 and response.complete else None
