"""``--trace`` over HTTP/2: a connection's life (hand-over by the preface or an upgrade, settings, streams
opened, closed and reset, GOAWAY received and sent, a protocol error, the close) and each request's
journey under its ``conn#N stream S``."""

from __future__ import annotations

import re
import signal

import pytest
from hyperframe.frame import GoAwayFrame, RstStreamFrame, SettingsFrame

from server.conftest import APPS_DIR, connect
from server.h2.conftest import CANCEL, FRAME_SIZE_ERROR, NO_ERROR, PREFACE, RawClient, raw_frame

pytestmark = pytest.mark.timeout(60)


def test_trace_shows_an_http2_connections_life(run_server) -> None:
    srv = run_server("fixtureapps:dispatch", "--http2", "--trace", cwd=APPS_DIR)
    client = RawClient(srv)
    try:
        client.request(1)  # /hello
        assert client.body(1) == b"Hello, World!"
        client.send(client.headers(3, "/sleepy?t=2"), RstStreamFrame(3, error_code=CANCEL))
        client.send(GoAwayFrame(0, last_stream_id=0, error_code=NO_ERROR))
        assert client.closed()
    finally:
        client.close()
    conn = srv.wait_for_log(r"conn#(\d+) accepted from 127\.0\.0\.1").group(1)
    c = rf"conn#{conn} "
    for line in (
        r"speaks HTTP/2 by prior knowledge \(the preface\); settings sent: .*MAX_CONCURRENT_STREAMS=100",
        r"settings received: defaults",  # the client's empty SETTINGS frame
        r"stream 1 opened: GET /hello\n",
        r"stream 1 GET /hello 200: accepted .* parsed .* app called .* last byte .*\(body 13 bytes\)",
        r"stream 1 closed",
        r"stream 3 opened: GET /sleepy\?t=2",
        r"stream 3 reset by the client \(CANCEL\)",
        r"GOAWAY\(NO_ERROR\) received, last stream 0",
        r"closed after [\d.]+ ms \(HTTP/2, 2 stream\(s\)\)",
    ):
        srv.wait_for_log(c + line)
    log = srv.log()
    assert log.index(c + "stream 1 opened") < log.index(c + "stream 1 closed") < log.index(c + "closed after")

    # A connection error: the protocol error and the GOAWAY that ends it.
    bad = RawClient(srv)
    try:
        bad.send(raw_frame(0x1, 0x4, 1, b"\0" * 20000))
        assert bad.goaway().error_code == FRAME_SIZE_ERROR
    finally:
        bad.close()
    srv.wait_for_log(r"conn#\d+ protocol error: .* -> GOAWAY\(FRAME_SIZE_ERROR\)")

    # A graceful stop: GOAWAY(NO_ERROR) naming the stream in flight, which is still answered.
    busy = RawClient(srv)
    try:
        busy.request(1, "/sleepy?t=0.5")
        busy_id = srv.wait_for_log(r"conn#(\d+) stream 1 opened: GET /sleepy\?t=0\.5").group(1)
        srv.proc.send_signal(signal.SIGTERM)
        assert busy.goaway().last_stream_id == 1
        assert busy.closed()
    finally:
        busy.close()
    assert [f for f in busy.frames if f.stream_id == 1 and "END_STREAM" in f.flags]  # still answered
    srv.wait_for_log(rf"conn#{busy_id} GOAWAY\(NO_ERROR\) sent, last stream 1")
    srv.wait_for_log(rf"conn#{busy_id} stream 1 closed")
    assert srv.proc.wait(15) == 0
    assert not re.search(r"Traceback|Error in", srv.log()), srv.log()


def test_trace_shows_an_upgrade_to_h2c(run_server) -> None:
    srv = run_server("fixtureapps:dispatch", "--http2", "--trace", cwd=APPS_DIR)
    with connect(srv) as sock:
        sock.sendall(
            b"GET /hello HTTP/1.1\r\nHost: t\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
            b"HTTP2-Settings: AAMAAABk\r\n\r\n" + PREFACE + SettingsFrame(0).serialize()
        )
        c = r"conn#" + srv.wait_for_log(r"conn#(\d+) accepted from").group(1) + " "
        srv.wait_for_log(c + r"speaks HTTP/2 by Upgrade: h2c; settings sent: ")
        srv.wait_for_log(c + r"stream 1 opened: GET /hello \(the upgraded request\)")
        srv.wait_for_log(c + r"stream 1 GET /hello 200: accepted")
        srv.wait_for_log(c + r"stream 1 closed")
    srv.wait_for_log(c + r"closed after [\d.]+ ms \(HTTP/2, 1 stream\(s\)\)")
