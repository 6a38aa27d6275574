"""Stopping a server cleanly: a stop flag that can wake a ``select()`` and be set from a signal handler.

Strategy: the classic self-pipe. :class:`StopSignal` pairs a ``threading.Event`` with a connected socket
pair; ``set()`` flags the event and writes one byte, so a selector watching :meth:`StopSignal.fileno`
returns at once. Writing to a non-blocking socket is safe from a Python signal handler (the handler runs
in the main thread between bytecodes), which is how :func:`stop_on_signals` turns Ctrl-C and SIGTERM
into an orderly shutdown instead of a KeyboardInterrupt traceback in the middle of a send.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
from collections.abc import Iterator
from types import FrameType

__all__ = ["StopSignal", "stop_on_signals"]


class StopSignal:
    """A one-shot stop request, observable by polling, waiting, or selecting on :meth:`fileno`."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)

    def fileno(self) -> int:
        return self._reader.fileno()

    def set(self) -> None:
        self._event.set()
        with contextlib.suppress(OSError):  # full (already woken) or closed: either way nothing to do
            self._writer.send(b"\0")

    def is_set(self) -> bool:
        return self._event.is_set()

    def close(self) -> None:
        self._reader.close()
        self._writer.close()


@contextlib.contextmanager
def stop_on_signals(stop: StopSignal) -> Iterator[None]:
    """While active, SIGINT and SIGTERM set ``stop`` (main thread only); the old handlers come back after."""

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signals = [signal.SIGINT, signal.SIGTERM]
    previous = {signum: signal.signal(signum, handler) for signum in signals}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
