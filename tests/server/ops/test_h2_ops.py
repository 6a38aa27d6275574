"""Operations over HTTP/2 (``--http2``): the metrics count streams as requests (bytes in, requests by
status class, bytes out, requests in flight on /status.json), and a reload (HUP, single process) lets the
stream in flight finish after a GOAWAY while new connections get the new code."""

from __future__ import annotations

import contextlib
import json
import signal
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from hyperframe.frame import DataFrame, HeadersFrame
from ops_helpers import Server, metrics_port, wait_until
from test_metrics import fetch, samples, total

from server.h2.conftest import NO_ERROR, RawClient

pytestmark = pytest.mark.timeout(120)


def _h2_client() -> httpx.Client:
    return httpx.Client(http1=False, http2=True, timeout=30)


def test_metrics_count_http2_streams(serve: Callable[..., Server], app_dir: Path) -> None:
    server = serve("--http2", "--dispatch", "pool", "--metrics-bind", "127.0.0.1:0")
    port = metrics_port(server)
    sent = 0
    with _h2_client() as client:
        for _ in range(3):
            resp = client.get(f"http://{server.host}:{server.port}/")
            assert resp.status_code == 200 and resp.http_version == "HTTP/2"
            sent += len(resp.content)
        assert client.get(f"http://{server.host}:{server.port}/").status_code == 200
    sent += len(resp.content)
    scrape = samples(fetch(port, "/metrics")[1])
    assert scrape['sockweb_requests_total{method="GET",status="2xx"}'] == 4
    assert total(scrape, "sockweb_dispatch_total") == 4
    # The preface (24 bytes) and four HEADERS frames at least came in; the bodies went out.
    assert scrape["sockweb_received_bytes_total"] > 24 + 4 * 9
    assert scrape["sockweb_sent_bytes_total"] >= sent

    # A stream whose application runs is a request in flight on the status page.
    def slow() -> None:
        with contextlib.suppress(httpx.HTTPError), _h2_client() as client:
            client.get(f"http://{server.host}:{server.port}/slow?4")

    thread = threading.Thread(target=slow, daemon=True)
    thread.start()
    wait_until((app_dir / "inflight.log").exists, what="the slow request to reach the app")

    def worker() -> dict[str, object]:
        (only,) = json.loads(fetch(port, "/status.json")[1])["workers"]
        return only  # type: ignore[no-any-return]

    wait_until(lambda: worker()["in_flight"] == 1, what="one request in flight")
    (entry,) = [s for s in worker()["slowest"] if s["path"] == "/slow"]  # type: ignore[attr-defined]
    assert entry["method"] == "GET" and entry["layer"] == "application"
    thread.join(30)
    wait_until(lambda: worker()["in_flight"] == 0, what="no request in flight")


def test_hup_finishes_the_stream_in_flight_and_serves_new_code(
    serve: Callable[..., Server], version_dir: Path
) -> None:
    server = serve("--http2", "--dispatch", "pool", "--graceful-timeout", "10", app="versionapp:app")
    client = RawClient(server)
    try:
        client.request(1, "/slow?2")
        wait_until((version_dir / "inflight.log").exists, 10, "the slow request in the app")
        (version_dir / "version.txt").write_text("two\n")
        server.send(signal.SIGHUP)
        goaway = client.goaway(20)
        assert goaway.error_code == NO_ERROR and goaway.last_stream_id == 1
        assert client.closed(20), "the old connection closes once its stream is done"
    finally:
        client.close()
    data = b"".join(f.data for f in client.frames if isinstance(f, DataFrame) and f.stream_id == 1)
    assert json.loads(data)["version"] == "one"  # the old code finished its stream
    heads = [f for f in client.frames if isinstance(f, HeadersFrame) and f.stream_id == 1]
    assert len(heads) == 1
    end = next(i for i, f in enumerate(client.frames) if f.stream_id == 1 and "END_STREAM" in f.flags)
    assert client.frames.index(goaway) < end  # GOAWAY first, then the stream in flight is answered

    def version() -> str:
        with _h2_client() as fresh:
            resp = fresh.get(f"http://{server.host}:{server.port}/")
            assert resp.http_version == "HTTP/2"
            return str(resp.json()["version"])

    wait_until(lambda: version() == "two", 40, "the new code over HTTP/2")
    assert server.proc.poll() is None
    assert server.stop() == 0
