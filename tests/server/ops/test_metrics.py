"""``--metrics-bind``: the Prometheus scrape, /status.json, /healthz and /readyz of real servers, one
process and ``--workers N``, and ``--statsd-host``."""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from ops_helpers import Server, metrics_port, wait_until


def fetch(port: int, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def samples(text: str) -> dict[str, float]:
    """``{'name{labels}': value}`` of a Prometheus text scrape (checking every line's shape)."""
    out = {}
    for line in text.splitlines():
        if line.startswith("#"):
            assert re.match(r"# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* \S", line), (
                line
            )  # the metric name grammar
            continue
        name, value = line.rsplit(" ", 1)
        out[name] = float(value)
    return out


def total(scrape: dict[str, float], family: str) -> float:
    return sum(v for k, v in scrape.items() if k == family or k.startswith(family + "{"))


def request(server: Server, path: str = "/") -> None:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        conn.getresponse().read()
    finally:
        conn.close()


def raw(server: Server, data: bytes) -> bytes:
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(data)
        return sock.recv(200)


def in_background(server: Server, path: str) -> threading.Thread:
    """A request in a thread; its failure (the server stopped under it at teardown) is not the test's."""

    def run() -> None:
        with contextlib.suppress(OSError, http.client.HTTPException):
            request(server, path)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_scrape_of_four_workers_sums_to_the_requests_made(serve: Callable[..., Server]) -> None:
    server = serve("--workers", "4", "--metrics-bind", "127.0.0.1:0")
    port = metrics_port(server)
    wait_until(lambda: fetch(port, "/readyz")[0] == 200, what="readyz")
    wait_until(lambda: len(json.loads(fetch(port, "/status.json")[1])["workers"]) == 4, what="4 workers")
    made = 80
    for _ in range(made):
        request(server)  # a new connection each: SO_REUSEPORT spreads them over the workers

    def counted() -> bool:
        scrape = samples(fetch(port, "/metrics")[1])
        return total(scrape, "sockweb_worker_requests_total") == made

    wait_until(counted, timeout=10, what="the workers' counters to reach the master")
    scrape = samples(fetch(port, "/metrics")[1])
    per_worker = [v for k, v in scrape.items() if k.startswith("sockweb_worker_requests_total{")]
    assert len(per_worker) == 4
    assert sum(1 for v in per_worker if v) >= 2, per_worker  # the sum is over several workers
    assert total(scrape, "sockweb_requests_total") == made
    assert scrape['sockweb_requests_total{method="GET",status="2xx"}'] == made
    assert scrape['sockweb_request_duration_seconds_bucket{le="+Inf"}'] == made
    assert scrape["sockweb_request_duration_seconds_count"] == made
    assert total(scrape, "sockweb_dispatch_total") == made
    assert scrape["sockweb_workers"] == 4
    assert 'process_resident_memory_bytes{worker="master"}' in scrape
    status = json.loads(fetch(port, "/status.json")[1])
    assert sum(w["requests"] for w in status["workers"]) == made
    assert len({w["pid"] for w in status["workers"]}) == 4


def test_a_dead_workers_requests_stay_in_the_totals_and_its_restart_is_counted(
    serve: Callable[..., Server],
) -> None:
    server = serve("--workers", "2", "--metrics-bind", "127.0.0.1:0")
    port = metrics_port(server)
    wait_until(lambda: len(json.loads(fetch(port, "/status.json")[1])["workers"]) == 2, what="2 workers")
    for _ in range(20):
        request(server)
    wait_until(
        lambda: total(samples(fetch(port, "/metrics")[1]), "sockweb_requests_total") == 20, what="20 counted"
    )
    victim = json.loads(fetch(port, "/status.json")[1])["workers"][0]["pid"]
    import os

    os.kill(victim, signal.SIGKILL)

    def replaced() -> bool:
        scrape = samples(fetch(port, "/metrics")[1])
        return scrape.get('sockweb_worker_restarts_total{cause="signal"}') == 1

    wait_until(replaced, what="the restart to be counted")
    scrape = samples(fetch(port, "/metrics")[1])
    assert total(scrape, "sockweb_requests_total") == 20  # the dead worker's requests are kept
    wait_until(lambda: fetch(port, "/readyz")[0] == 200, what="ready again")


def test_single_process_counts_errors_bytes_and_dispatch(serve: Callable[..., Server]) -> None:
    server = serve("--metrics-bind", "127.0.0.1:0", "--max-request-line", "200")
    port = metrics_port(server)
    for _ in range(3):
        request(server)
    assert raw(server, b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n").startswith(b"HTTP/1.1 400")
    assert raw(server, b"GET /" + b"x" * 300 + b" HTTP/1.1\r\nHost: a\r\n\r\n").startswith(b"HTTP/1.1 414")
    assert raw(server, b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n").startswith(
        b"HTTP/1.1 501"
    )
    scrape = samples(fetch(port, "/metrics")[1])
    assert scrape['sockweb_requests_total{method="GET",status="2xx"}'] == 3
    assert scrape['sockweb_protocol_errors_total{status="400"}'] == 1
    assert scrape['sockweb_protocol_errors_total{status="414"}'] == 1
    assert scrape['sockweb_protocol_errors_total{status="501"}'] == 1
    assert scrape["sockweb_received_bytes_total"] > 300
    assert scrape["sockweb_sent_bytes_total"] > 3 * 100
    assert total(scrape, "sockweb_dispatch_total") == 3
    assert "sockweb_worker_restarts_total" not in scrape  # no master, no restarts
    errors = json.loads(fetch(port, "/status.json")[1])["workers"][0]["errors"]
    assert [e["status"] for e in errors] == ["400", "414", "501"]
    assert fetch(port, "/nope")[0] == 404


@pytest.mark.parametrize("workers", ["1", "2"])
def test_status_shows_the_slow_request_running(
    serve: Callable[..., Server], app_dir: Path, workers: str
) -> None:
    server = serve("--workers", workers, "--metrics-bind", "127.0.0.1:0")
    port = metrics_port(server)
    in_background(server, "/slow?4")
    wait_until((app_dir / "inflight.log").exists, what="the slow request to reach the app")

    def slowest() -> list[dict[str, object]]:
        doc = json.loads(fetch(port, "/status.json")[1])
        return [s for w in doc["workers"] for s in w["slowest"]]

    wait_until(lambda: any(s["path"] == "/slow" for s in slowest()), what="the slow request on /status.json")
    (entry,) = [s for s in slowest() if s["path"] == "/slow"]
    assert entry["method"] == "GET"
    assert entry["layer"] == "application"
    status, page = fetch(port, "/status")
    assert status == 200
    assert "/slow" in page


@pytest.mark.parametrize("workers", ["1", "2"])
def test_readyz_turns_false_while_draining(serve: Callable[..., Server], app_dir: Path, workers: str) -> None:
    # In the pool: a request running inline holds the loop, and one process learns of the TERM after it.
    server = serve(
        "--workers",
        workers,
        "--metrics-bind",
        "127.0.0.1:0",
        "--graceful-timeout",
        "20",
        "--dispatch",
        "pool",
    )
    port = metrics_port(server)
    wait_until(lambda: fetch(port, "/readyz")[0] == 200, what="ready")
    assert fetch(port, "/healthz")[0] == 200
    slow = in_background(server, "/slow?3")
    wait_until((app_dir / "inflight.log").exists, what="the slow request to reach the app")
    server.send(signal.SIGTERM)
    wait_until(lambda: fetch(port, "/readyz")[0] == 503, what="readyz to turn false")
    assert server.proc.poll() is None  # still draining: the load balancer learns before the stop
    assert fetch(port, "/healthz")[0] == 200
    slow.join(15)
    assert server.proc.wait(15) == 0


def test_statsd_push(serve: Callable[..., Server]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))
        sink.settimeout(10)
        address = f"127.0.0.1:{sink.getsockname()[1]}"
        server = serve("--statsd-host", address, "--statsd-prefix", "web")
        for _ in range(5):
            request(server)
        seen = 0
        deadline = time.monotonic() + 15
        while seen < 5 and time.monotonic() < deadline:
            for line in sink.recv(65536).decode().splitlines():
                if line.startswith("web.requests.GET.2xx:"):
                    seen += int(line.split(":")[1].split("|")[0])
        assert seen == 5
