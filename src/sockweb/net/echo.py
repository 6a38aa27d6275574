"""The timestamped echo protocol, sans-io: bytes in, reply bytes out. No sockets here.

Every server style (selectors, threaded, socketserver, UDP) feeds what it receives to these functions, so
they all answer the same way. The wire format:

* A request is one line, terminated by LF (a CR before the LF is dropped, so ``telnet``/``nc -C`` work).
  TCP is a byte stream: one ``recv()`` may hold half a line or ten lines, so :class:`LineFramer` buffers
  until the LF arrives. A UDP datagram is one message (a trailing CRLF/LF is dropped likewise).
* A reply is ``[TIMESTAMP] MESSAGE`` + LF. TIMESTAMP is the server's local time in ISO 8601 with
  milliseconds and UTC offset, e.g. ``[2026-11-21T20:38:02.123+01:00] hello``.
* The message is decoded as UTF-8 with ``errors="replace"``: invalid bytes come back as U+FFFD, so a reply
  is always valid UTF-8 text and a client can print it safely. (Echoing raw bytes would keep binary data
  intact but hand terminals arbitrary control bytes; this is a text tool.)
* A line longer than the limit (default 64 KiB, counting the bytes before the LF) gets the single line
  ``error: line longer than N bytes; closing connection`` and the server closes the connection. Replies
  start with ``[`` and errors with ``error:``, so clients can tell them apart.
* On end of input (the client half-closed or closed), an unterminated last line still gets its reply.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

__all__ = [
    "DEFAULT_MAX_DATAGRAM",
    "DEFAULT_MAX_LINE",
    "Clock",
    "EchoSession",
    "LineFramer",
    "local_now",
    "oversize_datagram_reply",
    "reply_for",
    "strip_terminator",
    "too_long_reply",
]

DEFAULT_MAX_LINE = 65536
# 8 KiB keeps a datagram (plus its reply's timestamp) far below the 65,507-byte UDP payload maximum.
DEFAULT_MAX_DATAGRAM = 8192

Clock = Callable[[], datetime]


def local_now() -> datetime:
    """The default clock: local time with its UTC offset."""
    return datetime.now().astimezone()


def reply_for(message: bytes, clock: Clock = local_now) -> bytes:
    """The reply to one message (terminator already removed)."""
    stamp = clock().isoformat(timespec="milliseconds")
    text = message.decode("utf-8", errors="replace")
    return f"[{stamp}] {text}\n".encode()


def too_long_reply(limit: int) -> bytes:
    return f"error: line longer than {limit} bytes; closing connection\n".encode()


def oversize_datagram_reply(limit: int) -> bytes:
    return f"error: datagram larger than {limit} bytes; dropped\n".encode()


def strip_terminator(line: bytes) -> bytes:
    """Drop one trailing LF and one CR before it (a datagram may carry either)."""
    if line.endswith(b"\n"):
        line = line[:-1]
    if line.endswith(b"\r"):
        line = line[:-1]
    return line


class LineFramer:
    """Splits a byte stream into LF-terminated lines of at most ``max_line`` bytes.

    ``feed()`` returns the complete lines so far (terminators removed); ``close()`` returns the
    unterminated rest at end of input. A line over the limit sets ``overflowed`` as soon as it is seen,
    without waiting for its LF (an endless line must not grow the buffer forever); the lines before it are
    still returned, and nothing after it is.
    """

    __slots__ = ("_buffer", "_scanned", "max_line", "overflowed")

    def __init__(self, max_line: int = DEFAULT_MAX_LINE) -> None:
        self.max_line = max_line
        self.overflowed = False
        self._buffer = bytearray()
        self._scanned = 0  # bytes of _buffer known to hold no LF: each byte is searched once

    def feed(self, data: bytes) -> list[bytes]:
        if self.overflowed:
            return []
        self._buffer += data
        lines: list[bytes] = []
        start = 0
        while not self.overflowed:
            end = self._buffer.find(b"\n", max(start, self._scanned))
            if end < 0:
                self.overflowed = len(self._buffer) - start > self.max_line
                break
            if end - start > self.max_line:
                self.overflowed = True
                break
            lines.append(strip_terminator(bytes(self._buffer[start : end + 1])))
            start = end + 1
        if self.overflowed:
            self._buffer.clear()
        else:
            del self._buffer[:start]
        self._scanned = len(self._buffer)
        return lines

    def close(self) -> bytes | None:
        """The unterminated last line, or None when the input ended on a line boundary (or overflowed)."""
        rest = strip_terminator(bytes(self._buffer)) if self._buffer else None
        self._buffer.clear()
        self._scanned = 0
        return rest


class EchoSession:
    """One TCP client's conversation: ``receive(data)`` -> (bytes to send, close after sending?).

    ``receive(b"")`` means end of input. After a close decision the session ignores further input.
    """

    __slots__ = ("_clock", "_framer", "closed")

    def __init__(self, max_line: int = DEFAULT_MAX_LINE, clock: Clock = local_now) -> None:
        self._framer = LineFramer(max_line)
        self._clock = clock
        self.closed = False

    @property
    def overflowed(self) -> bool:
        """True once the session closed because of an over-long line (not at end of input)."""
        return self._framer.overflowed

    def receive(self, data: bytes) -> tuple[bytes, bool]:
        if self.closed:
            return b"", True
        if data:
            lines = self._framer.feed(data)
        else:
            rest = self._framer.close()
            lines = [] if rest is None else [rest]
            self.closed = True
        out = b"".join(reply_for(line, self._clock) for line in lines)
        if self._framer.overflowed:
            self.closed = True
            out += too_long_reply(self._framer.max_line)
        return out, self.closed
