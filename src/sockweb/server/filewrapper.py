"""``wsgi.file_wrapper``: let the server send a real file with ``os.sendfile`` instead of Python reads.

Strategy: `FileWrapper` is an ordinary iterable of blocks (so middleware that iterates it still works);
the server recognises it by type and, when the wrapped object is a regular file on disk, the connection
is plain TCP and nothing else is queued on it, sends the head and then the file straight from the page
cache with `sendfile_to` on a duplicate of the socket's descriptor, from a worker thread that waits for
writability with poll() (the event loop keeps running). Anything else falls back to reading blocks.
"""

from __future__ import annotations

import os
import select
import stat
from collections.abc import Callable, Iterator
from typing import IO, Any

BLOCK_SIZE = 64 * 1024


class FileWrapper:
    """PEP 3333 file wrapper: iterate `filelike` in blocks; `close()` closes it."""

    __slots__ = ("blksize", "filelike")

    def __init__(self, filelike: IO[bytes] | Any, blksize: int = BLOCK_SIZE) -> None:
        self.filelike = filelike
        self.blksize = blksize

    def __iter__(self) -> Iterator[bytes]:
        read = self.filelike.read
        size = self.blksize
        while True:
            block = read(size)
            if not block:
                return
            yield block

    def close(self) -> None:
        close = getattr(self.filelike, "close", None)
        if close is not None:
            close()

    def sendfile_span(self) -> tuple[int, int, int] | None:
        """(fd, offset, count) when the wrapped object is a regular file that sendfile can send, else None."""
        fileno = getattr(self.filelike, "fileno", None)
        if fileno is None or not hasattr(os, "sendfile"):
            return None
        try:
            fd = fileno()
            info = os.fstat(fd)
            offset = self.filelike.tell()
        except (OSError, ValueError, AttributeError):
            return None
        if not stat.S_ISREG(info.st_mode) or not isinstance(offset, int):
            return None
        return fd, offset, max(0, info.st_size - offset)


def _wait_writable(fd: int, timeout: float) -> None:
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    events = poller.poll(timeout * 1000)
    if not events:
        raise TimeoutError("client did not accept data in time")
    if events[0][1] & (select.POLLERR | select.POLLHUP | select.POLLNVAL):
        raise BrokenPipeError("client closed the connection")


def sendfile_to(
    sock_fd: int, head: bytes, span: tuple[int, int, int], *, gone: Callable[[], bool], timeout: float
) -> int:
    """Send `head`, then a span (file descriptor, offset, count) of a file, on the non-blocking `sock_fd`.

    Runs in a worker thread; returns the number of file bytes sent (less than count if the file shrank).
    Raises OSError when the client goes away or stalls for `timeout` seconds.
    """
    file_fd, offset, count = span
    view = memoryview(head)
    while view:
        if gone():
            raise BrokenPipeError("client disconnected")
        try:
            view = view[os.write(sock_fd, view) :]
        except BlockingIOError:
            _wait_writable(sock_fd, timeout)
    sent = 0
    while sent < count:
        if gone():
            raise BrokenPipeError("client disconnected")
        try:
            n = os.sendfile(sock_fd, file_fd, offset + sent, min(count - sent, 1 << 30))
        except BlockingIOError:
            _wait_writable(sock_fd, timeout)
            continue
        if n == 0:
            break
        sent += n
    return sent
