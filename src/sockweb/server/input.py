"""``wsgi.input`` for a request body that streams in while the application runs in a worker thread.

Strategy: the event loop feeds body pieces in (`feed`, `finish`, `abort`); the application's thread reads
them out, blocking on a condition variable while the buffer is empty. The buffer is bounded: the loop
pauses reading the socket once it holds more than `high` bytes and the reader asks the loop to resume
when it has drained below `low`, so a 1 GiB upload flows through in constant memory. The first read
sends ``100 Continue`` when the client asked for it (RFC 9110 §10.1.1) -- never before, so an application
that answers without reading never invites the body. Bodies that arrive whole before the application
runs use ``io.BytesIO`` when small (C speed); large ones use this class too, already complete, so the
pieces are handed out as they arrived instead of being joined and copied again.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator


def _nothing() -> None:
    pass


class ClientDisconnected(OSError):
    """The client went away while the application was reading the body or writing the response."""


class StreamInput:
    """A file-like reader over a body fed by another thread; reads never go past the end of the body."""

    __slots__ = (
        "_chunks",
        "_cond",
        "_continue",
        "_eof",
        "_error",
        "_high",
        "_low",
        "_offset",
        "_resume",
        "_size",
    )

    def __init__(
        self,
        high: int,
        low: int,
        send_continue: Callable[[], None] | None,
        resume: Callable[[], None],
    ) -> None:
        self._chunks: deque[bytes] = deque()
        self._offset = 0  # bytes of the first piece already read
        self._size = 0
        self._eof = False
        self._error = False
        self._cond = threading.Condition(threading.Lock())
        self._high = high
        self._low = low
        self._continue = send_continue
        self._resume = resume

    # -- loop side ---------------------------------------------------------------------------------------
    def feed(self, data: bytes) -> bool:
        """Add a body piece; True when the buffer is now over its high-water mark (pause reading)."""
        with self._cond:
            self._chunks.append(data)
            self._size += len(data)
            self._cond.notify()
            return self._size > self._high

    def finish(self) -> None:
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def abort(self) -> None:
        """The connection is gone: wake the reader, whose reads then raise ClientDisconnected."""
        with self._cond:
            self._error = True
            self._cond.notify_all()

    @property
    def complete(self) -> bool:
        return self._eof

    @property
    def continue_pending(self) -> bool:
        """The client waits for 100 Continue that was never sent (the application did not read)."""
        return self._continue is not None

    @property
    def full(self) -> bool:
        return self._size > self._high

    # -- application side -------------------------------------------------------------------------------
    def _wait(self) -> bool:
        """Block until data or the end is available (lock held); False at the end of the body."""
        if self._continue is not None:
            send, self._continue = self._continue, None
            send()
        while not self._chunks:
            if self._eof:
                return False
            if self._error:
                raise ClientDisconnected("client disconnected while sending the request body")
            self._cond.wait()
        return True

    def _took(self, n: int) -> None:
        before = self._size
        self._size -= n
        if before > self._low >= self._size and not self._eof:
            self._resume()

    def _take(self, need: int) -> bytes:
        """Up to `need` bytes from the first buffered piece (lock held, a piece available)."""
        chunk = self._chunks[0]
        start = self._offset
        end = start + need
        if end >= len(chunk):
            self._chunks.popleft()
            self._offset = 0
            piece = chunk[start:] if start else chunk
        else:
            # Keep an offset instead of re-slicing the rest: reading a big piece in small blocks
            # copies each byte once.
            self._offset = end
            piece = chunk[start:end]
        self._took(len(piece))
        return piece

    def read(self, size: int | None = -1) -> bytes:
        with self._cond:
            parts = []
            if size is None or size < 0:
                while self._wait():
                    parts.append(self._take(1 << 62))
            else:
                # File semantics: `size` bytes unless the body ends first (apps call read(CONTENT_LENGTH)).
                need = size
                while need > 0 and self._wait():
                    piece = self._take(need)
                    parts.append(piece)
                    need -= len(piece)
            return parts[0] if len(parts) == 1 else b"".join(parts)

    def readline(self, size: int | None = -1) -> bytes:
        limit = -1 if size is None or size < 0 else size
        parts: list[bytes] = []
        got = 0
        with self._cond:
            while (limit < 0 or got < limit) and self._wait():
                chunk = self._chunks[0]
                start = self._offset
                newline = chunk.find(b"\n", start)
                n = (newline + 1 if newline >= 0 else len(chunk)) - start
                if limit >= 0:
                    n = min(n, limit - got)
                piece = self._take(n)
                parts.append(piece)
                got += len(piece)
                if piece.endswith(b"\n"):
                    break
        return b"".join(parts)

    def readlines(self, hint: int = -1) -> list[bytes]:
        lines: list[bytes] = []
        total = 0
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)
            total += len(line)
            if 0 < hint <= total:
                return lines

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    @classmethod
    def complete_body(cls, parts: list[bytes]) -> StreamInput:
        """An input over a body that has fully arrived (no flow control, no 100 Continue)."""
        stream = cls(1 << 62, 0, None, _nothing)
        stream._chunks.extend(parts)
        stream._size = sum(map(len, parts))
        stream._eof = True
        return stream

    def drain(self) -> None:
        """Discard whatever is buffered (the response is done; the rest of the body is not wanted)."""
        with self._cond:
            self._chunks.clear()
            self._offset = 0
            self._size = 0


class EmptyInput:
    """``wsgi.input`` of a request without a body. Stateless, so one instance serves every request."""

    __slots__ = ()

    def read(self, size: int | None = -1) -> bytes:
        return b""

    def readline(self, size: int | None = -1) -> bytes:
        return b""

    def readlines(self, hint: int = -1) -> list[bytes]:
        return []

    def __iter__(self) -> Iterator[bytes]:
        return iter(())


EMPTY_INPUT = EmptyInput()
