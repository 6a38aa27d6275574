"""``--drain-delay``: after TERM, /readyz is 503 at once while the server keeps accepting and serving for
the delay; then the listener closes (a new connection is refused) and in-flight requests drain. A second
TERM or INT ends the delay early. One process and ``--workers 2`` (where the master holds the delay)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from ops_helpers import Server, metrics_port, wait_until
from test_binds import _ACTIVATE

from sockweb.server.config import ConfigError, load_config


def status_of(port: int, path: str, timeout: float = 10.0) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def body_of(port: int, path: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        return conn.getresponse().read().decode()
    finally:
        conn.close()


def served(server: Server) -> bool:
    """A request on a new connection gets its 200."""
    return status_of(server.port, "/") == 200


def refused(server: Server) -> bool:
    try:
        socket.create_connection((server.host, server.port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def slow_request(server: Server, seconds: float, result: list[int]) -> threading.Thread:
    def run() -> None:
        result.append(status_of(server.port, f"/slow?{seconds}", timeout=seconds + 20))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def start(serve: Callable[..., Server], workers: str, delay: str) -> tuple[Server, int]:
    # In the pool: a request running inline would hold one process's loop, and its signals with it.
    server = serve(
        "--workers", workers, "--metrics-bind", "127.0.0.1:0", "--drain-delay", delay, "--dispatch", "pool"
    )
    port = metrics_port(server)
    wait_until(lambda: status_of(port, "/readyz") == 200, what="ready")
    return server, port


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serves_during_the_delay_then_closes_the_listener_and_drains(
    serve: Callable[..., Server], app_dir: Path, workers: str
) -> None:
    server, port = start(serve, workers, "2")
    result: list[int] = []
    slow = slow_request(server, 14, result)  # still running after the delay: the drain is visible
    wait_until((app_dir / "inflight.log").exists, what="the slow request to reach the app")
    server.send(signal.SIGTERM)
    wait_until(lambda: status_of(port, "/readyz") == 503, what="readyz to turn false")
    # Not ready, yet a new connection is accepted and served: the balancer has time to notice.
    details = json.loads(body_of(port, "/readyz"))
    assert details["ready"] is False
    assert details.get("accepting", True) is True
    assert details.get("drain_delay_left", 1) > 0
    for _ in range(3):
        assert served(server)
    server.wait_for_log(r"Draining: not ready any more")
    # Once the delay is over, the listening socket is closed (refused, not left queued until the
    # process exits) while the slow request still drains.
    wait_until(lambda: refused(server), timeout=8, what="the listener to close after the delay")
    assert result == []
    assert server.proc.poll() is None
    slow.join(20)
    assert result == [200]
    assert server.proc.wait(15) == 0


@pytest.mark.parametrize(("workers", "second"), [("1", "SIGTERM"), ("1", "SIGINT"), ("2", "SIGTERM")])
def test_a_second_stop_signal_ends_the_delay(serve: Callable[..., Server], workers: str, second: str) -> None:
    server, port = start(serve, workers, "120")
    server.send(signal.SIGTERM)
    wait_until(lambda: status_of(port, "/readyz") == 503, what="readyz to turn false")
    assert served(server)  # inside a long delay
    server.send(getattr(signal, second))
    assert server.proc.wait(20) == 0  # far sooner than the 120 s delay


def test_int_stops_the_workers_fast_during_the_delay(serve: Callable[..., Server]) -> None:
    server, port = start(serve, "2", "120")
    server.send(signal.SIGTERM)
    wait_until(lambda: status_of(port, "/readyz") == 503, what="readyz to turn false")
    server.send(signal.SIGINT)
    assert server.proc.wait(20) == 0
    assert "fast stop" in server.log()


def test_a_worker_dying_during_the_delay_is_replaced(serve: Callable[..., Server]) -> None:
    server, port = start(serve, "2", "120")
    wait_until(lambda: len(server.workers()) == 2, what="2 workers")
    server.send(signal.SIGTERM)
    wait_until(lambda: status_of(port, "/readyz") == 503, what="readyz to turn false")
    victim = min(server.workers())
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: len(server.workers() - {victim}) == 2, what="a replacement worker")
    assert served(server)
    server.send(signal.SIGTERM)
    assert server.proc.wait(20) == 0


@pytest.mark.parametrize("workers", ["1", "2"])
def test_socket_activation_with_metrics_and_a_drain_delay(serve: Callable[..., Server], workers: str) -> None:
    """The one-machine unit of docs/deploy.md: systemd's socket (held here, as systemd holds it) with
    --metrics-bind bound by sockweb itself. After the stop, a connection waits in systemd's queue for
    the next start instead of being refused: closing our copies of the socket leaves systemd's open."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    try:
        server = serve(
            "--workers",
            workers,
            "--metrics-bind",
            "127.0.0.1:0",
            "--drain-delay",
            "1",
            bind=False,
            pass_fds=(sock.fileno(),),
            prefix=[sys.executable, "-c", _ACTIVATE, str(sock.fileno())],
        )
        assert server.port == sock.getsockname()[1]
        port = metrics_port(server)
        wait_until(lambda: status_of(port, "/readyz") == 200, what="ready")
        assert served(server)
        wait_until(
            lambda: "sockweb_requests_total{" in body_of(port, "/metrics"), what="the request in /metrics"
        )
        server.send(signal.SIGTERM)
        wait_until(lambda: status_of(port, "/readyz") == 503, what="readyz to turn false")
        assert served(server)  # during the delay
        assert server.proc.wait(20) == 0
        assert not refused(server)  # queued in systemd's socket for the next start
    finally:
        sock.close()


def test_drain_delay_setting() -> None:
    assert load_config(["app:app"]).drain_delay == 0
    assert load_config(["app:app", "--drain-delay", "5"]).drain_delay == 5
    assert load_config(["app:app"], {"SOCKWEB_DRAIN_DELAY": "2.5"}).drain_delay == 2.5
    with pytest.raises(ConfigError, match="drain"):
        load_config(["app:app", "--drain-delay", "-1"])
