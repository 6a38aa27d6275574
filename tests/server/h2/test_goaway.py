"""A client's own GOAWAY (RFC 9113 §6.8): with NO_ERROR the streams it already opened are still answered,
frames it sends after it (WINDOW_UPDATE) still count, new streams are refused, and the connection closes
once they are done; with an error code the connection closes at once."""

from __future__ import annotations

import pytest
from hyperframe.frame import DataFrame, GoAwayFrame, HeadersFrame, RstStreamFrame, WindowUpdateFrame

from server.conftest import APPS_DIR
from server.h2.conftest import PROTOCOL_ERROR, REFUSED_STREAM, RawClient

pytestmark = pytest.mark.timeout(90)


def test_streams_in_flight_are_answered_after_the_clients_goaway(raw) -> None:
    client = raw()
    # The request, the GOAWAY and then the window the response needs (it is larger than the 65535-byte
    # initial window), in one write: frames after the client's GOAWAY still count.
    client.send(
        client.headers(1, "/blob?size=300000"),
        GoAwayFrame(0, last_stream_id=0, error_code=0),
        WindowUpdateFrame(0, 1 << 20),
        WindowUpdateFrame(1, 1 << 20),
    )
    assert client.closed(10), "the connection stays open after its last stream"
    data = [f for f in client.frames if isinstance(f, DataFrame) and f.stream_id == 1]
    assert b"".join(f.data for f in data) == b"b" * 300000
    assert "END_STREAM" in data[-1].flags


def test_a_running_application_is_answered_after_the_clients_goaway(run_server) -> None:
    srv = run_server("fixtureapps:dispatch", "--http2", "--dispatch", "pool", cwd=APPS_DIR)
    client = RawClient(srv)
    try:
        client.request(1, "/sleepy?t=0.5")
        client.send(GoAwayFrame(0, last_stream_id=0, error_code=0))
        assert client.body(1)  # the thread name
        assert client.closed(10)
    finally:
        client.close()
    assert not any(isinstance(f, RstStreamFrame) for f in client.frames), client.frames


def test_a_new_stream_after_the_clients_goaway_is_refused(raw) -> None:
    client = raw()
    client.send(
        client.headers(1, "/sleepy?t=0.3"),
        GoAwayFrame(0, last_stream_id=0, error_code=0),
        client.headers(3, "/hello"),
    )
    refused = client.read_until(lambda f: isinstance(f, RstStreamFrame) and f.stream_id == 3)
    assert refused is not None and refused.error_code == REFUSED_STREAM
    assert client.body(1)  # the thread name


def test_a_goaway_with_an_error_closes_at_once(raw) -> None:
    client = raw()
    client.send(
        client.headers(1, "/sleepy?t=0.5"), GoAwayFrame(0, last_stream_id=0, error_code=PROTOCOL_ERROR)
    )
    assert client.closed(10)
    assert not any(isinstance(f, (HeadersFrame, DataFrame)) and f.stream_id == 1 for f in client.frames)
