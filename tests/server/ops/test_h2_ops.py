"""Operations over HTTP/2 (``--http2``): the metrics count streams as requests (bytes in, requests by
status class, bytes out, requests in flight on /status.json) and the connection's own events (connection
errors by the code of their GOAWAY, streams reset by either side, requests refused by our parser), and a
reload (HUP, single process) lets the
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
from hyperframe.frame import DataFrame, GoAwayFrame, HeadersFrame, RstStreamFrame, WindowUpdateFrame
from ops_helpers import Server, metrics_port, wait_until
from test_metrics import fetch, samples, total

from server.h2.conftest import (
    CANCEL,
    ENHANCE_YOUR_CALM,
    FLOW_CONTROL_ERROR,
    FRAME_SIZE_ERROR,
    NO_ERROR,
    PROTOCOL_ERROR,
    REFUSED_STREAM,
    RawClient,
    raw_frame,
)

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


def test_metrics_count_http2_connection_errors_resets_and_refusals(
    serve: Callable[..., Server], app_dir: Path
) -> None:
    server = serve("--http2", "--http2-max-resets", "3", "--metrics-bind", "127.0.0.1:0")
    port = metrics_port(server)

    def goaway(preface: bytes | None, *frames: object) -> int:
        client = RawClient(server, **({"preface": preface} if preface is not None else {}))
        try:
            client.send(*frames)  # type: ignore[arg-type]
            code = client.goaway().error_code
            assert client.closed()
        finally:
            client.close()
        return int(code)

    # Connection errors, each ended by its GOAWAY (RFC 9113 §5.4.1).
    assert goaway(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n") == PROTOCOL_ERROR  # §3.4: a bad preface
    assert goaway(None, raw_frame(0x0, 0x1, 0, b"hello")) == PROTOCOL_ERROR  # §6.1: DATA on stream 0
    assert goaway(None, WindowUpdateFrame(0, 2**31 - 1)) == FLOW_CONTROL_ERROR  # §6.9.1
    assert goaway(None, raw_frame(0x1, 0x4, 1, b"\0" * 20000)) == FRAME_SIZE_ERROR  # §4.2
    # Rapid reset: the fourth client reset within 10 s is one too many (--http2-max-resets 3).
    client = RawClient(server)
    frames: list[object] = []
    for stream_id in (1, 3, 5, 7):
        frames += [client.headers(stream_id), RstStreamFrame(stream_id, error_code=CANCEL)]
    assert goaway(None, *frames) == ENHANCE_YOUR_CALM
    client.close()
    # A stream opened after the client's GOAWAY is refused by the server; a field our parser refuses
    # (RFC 9110 §5.1 tokens; "_" is refused as for HTTP/1.1) is answered 400 on its stream.
    client = RawClient(server)
    try:
        client.send(
            client.headers(1, "/slow?0.3"),
            GoAwayFrame(0, last_stream_id=0, error_code=0),
            client.headers(3),
        )
        refused = client.read_until(lambda f: isinstance(f, RstStreamFrame) and f.stream_id == 3)
        assert refused is not None and refused.error_code == REFUSED_STREAM
        assert client.closed()
    finally:
        client.close()
    client = RawClient(server)
    try:
        client.send(client.headers(1, **{"x_forwarded_for": "1.2.3.4"}))
        assert b"400 Bad Request" in client.body(1)
    finally:
        client.close()

    scrape = samples(fetch(port, "/metrics")[1])
    errors = "sockweb_http2_connection_errors_total"
    assert scrape[f'{errors}{{code="PROTOCOL_ERROR"}}'] == 2
    assert scrape[f'{errors}{{code="FLOW_CONTROL_ERROR"}}'] == 1
    assert scrape[f'{errors}{{code="FRAME_SIZE_ERROR"}}'] == 1
    assert scrape[f'{errors}{{code="ENHANCE_YOUR_CALM"}}'] == 1
    assert total(scrape, errors) == 5
    resets = "sockweb_http2_stream_resets_total"
    assert scrape[f'{resets}{{by="client",code="CANCEL"}}'] == 4
    assert scrape[f'{resets}{{by="server",code="REFUSED_STREAM"}}'] == 1
    assert total(scrape, resets) == 5
    assert scrape['sockweb_protocol_errors_total{status="400"}'] == 1
    # The status page lists them among the last errors.
    (only,) = json.loads(fetch(port, "/status.json")[1])["workers"]
    assert "FLOW_CONTROL_ERROR" in {e["status"] for e in only["errors"]}


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
