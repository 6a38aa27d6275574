"""A worker's graceful stop (what every rolling reload relies on) serves the connections it accepted.

Deterministic replay of a race seen as connection resets during HUP reloads under load: asyncio's selector
loop accepts in a reader callback and builds each transport one loop pass later, so a stop that closes
the server in between used to drop the freshly accepted connections unanswered. The server's own accept
loop (sockweb.server.accept) counts such connections until they reach their protocol.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from sockweb.server.accept import Acceptor
from sockweb.server.config import Config
from sockweb.server.runner import _Runner

pytestmark = pytest.mark.timeout(30)


def _app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_connections_accepted_as_the_stop_begins_are_served(
    monkeypatch: pytest.MonkeyPatch, loop: str
) -> None:
    if loop == "uvloop":
        pytest.importorskip("uvloop")
    listener = socket.create_server(("127.0.0.1", 0), backlog=64)
    port = listener.getsockname()[1]
    clients = []
    for _ in range(20):  # all queued before the loop runs: one accept callback takes them all
        client = socket.create_connection(("127.0.0.1", port), timeout=10)
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        clients.append(client)
    replies: list[bytes | str] = [b""] * len(clients)

    def read(i: int) -> None:
        data = b""
        try:
            while chunk := clients[i].recv(65536):
                data += chunk
        except OSError as exc:
            replies[i] = repr(exc)
            return
        finally:
            clients[i].close()  # the server lingers until its client closes too
        replies[i] = data

    readers = [threading.Thread(target=read, args=(i,)) for i in range(len(clients))]
    for t in readers:
        t.start()

    runner = _Runner(Config(app="x:y", loop=loop, graceful_timeout=5.0), _app, [listener])
    accept = Acceptor.accept

    def stop_then_accept(self: Acceptor, *args: Any, **kwargs: Any) -> None:
        # The stop arrives in the same loop pass as the accept, just ahead of it (a SIGTERM can).
        runner._request_stop()
        accept(self, *args, **kwargs)

    monkeypatch.setattr(Acceptor, "accept", stop_then_accept)
    try:
        assert runner.run() == 0
    finally:
        listener.close()
        for t in readers:
            t.join(10)
    served = [r for r in replies if isinstance(r, bytes) and r.startswith(b"HTTP/1.1 200 ")]
    assert len(served) == len(clients), replies
