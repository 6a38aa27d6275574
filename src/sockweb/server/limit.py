"""``--limit-concurrency N``: shed load instead of queueing it without bound.

A process runs at most N requests at once (from the application's call to the end of its response);
a request beyond that is answered ``503 Service Unavailable`` with ``Retry-After`` at once, without
calling the application, and its connection is closed (the client, or the proxy in front, retries
elsewhere or later). Without the limit, a burst that the application cannot keep up with waits in the
thread pool's queue, each request holding its connection and its memory while its client times out.

Cost: applied by a subclass of the exchange picked once at start-up (as ``--trace`` is); without the
setting the plain exchange runs. The count is taken under a lock, since responses end on the loop and in
pool threads.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from sockweb.http import ProtocolError
from sockweb.server.input import ClientDisconnected

if TYPE_CHECKING:
    from sockweb.server.wsgi import Environ, Exchange

__all__ = ["RETRY_AFTER", "Gate", "limited_exchange"]

RETRY_AFTER = 1  # seconds: the load that was shed is usually gone by then
_BUSY = ProtocolError("the server is at its concurrency limit; retry later", status=503)


class Gate:
    """A counter of requests in flight with a ceiling (thread-safe)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.active = 0
        self._lock = threading.Lock()

    def enter(self) -> bool:
        with self._lock:
            if self.active >= self.limit:
                return False
            self.active += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self.active -= 1


def limited_exchange(base: type[Exchange], limit: int) -> type[Exchange]:
    """A subclass of `base` that admits at most `limit` requests at once and sheds the others."""
    gate = Gate(limit)
    # RFC 9110 §15.6.4 and §10.2.3: 503 may carry Retry-After, the seconds after which to retry.
    retry = f"Retry-After: {RETRY_AFTER}\r\n".encode("ascii")

    def begin(self: Any, conn: Any, request: Any, environ: Environ) -> None:
        base.begin(self, conn, request, environ)
        self.admitted = False

    def run(self: Any, suspendable: bool) -> bool:
        if not gate.enter():
            self.status = "503 Service Unavailable"
            try:
                self.send(self.conn.error_response(_BUSY, self.extra() + retry))
            except ClientDisconnected:
                pass
            base.done(self, False)
            return True
        self.admitted = True
        result: bool = base.run(self, suspendable)
        return result

    def release(self: Any) -> None:
        # Called from done() and close_result(): a suspended response whose client left ends with
        # close_result() only. Each exchange leaves the gate once.
        if self.admitted:
            self.admitted = False
            gate.leave()

    def done(self: Any, keep_alive: bool) -> None:
        release(self)
        base.done(self, keep_alive)

    def close_result(self: Any) -> None:
        base.close_result(self)
        release(self)

    namespace = {
        "__slots__": ("admitted",),
        "begin": begin,
        "run": run,
        "done": done,
        "close_result": close_result,
        "gate": gate,
    }
    return type("Limited" + base.__name__, (base,), namespace)
