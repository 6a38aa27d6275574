"""A client's own GOAWAY (RFC 9113 §6.8): with NO_ERROR the streams it already opened are still answered,
frames it sends after it (WINDOW_UPDATE) still count, new streams are refused, and the connection closes
once they are done; with an error code the connection closes at once. And the server's GOAWAY: the
connection closes in stages, so a client still sending reads the last response and the GOAWAY whole."""

from __future__ import annotations

import signal
import socket
import time

import pytest
from hpack import Encoder
from hyperframe.frame import (
    DataFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)

from server.conftest import APPS_DIR
from server.h2.conftest import NO_ERROR, PREFACE, PROTOCOL_ERROR, REFUSED_STREAM, RawClient

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


def _frames(data: bytes) -> list[Frame]:
    frames = []
    view = memoryview(data)
    while len(view) >= 9:
        frame, length = Frame.parse_frame_header(view[:9])
        if len(view) < 9 + length:
            break
        frame.parse_body(view[9 : 9 + length])
        frames.append(frame)
        view = view[9 + length :]
    return frames


def test_a_client_still_sending_reads_the_last_response_and_the_goaway(run_server) -> None:
    # RFC 9112 §9.6, for HTTP/2 too: a socket closed while the client still sends answers it with a reset,
    # and the reset drops the bytes the server's kernel had not sent yet (the end of the last response and
    # the GOAWAY). The client here reads slowly through a small receive buffer, so megabytes are queued
    # when the server closes, and it sends a PING every 64 KiB it reads, as a client sends WINDOW_UPDATEs.
    srv = run_server("fixtureapps:dispatch", "--http2", cwd=APPS_DIR)
    size = 4_000_000
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(20)
    sock.connect((srv.host, srv.port))
    fields = [(":method", "GET"), (":scheme", "http"), (":authority", "t"), (":path", f"/blob?size={size}")]
    with sock:
        sock.sendall(
            PREFACE
            + SettingsFrame(0, settings={SettingsFrame.INITIAL_WINDOW_SIZE: 2**31 - 1}).serialize()
            + WindowUpdateFrame(0, 2**31 - 1 - 65535).serialize()
            + HeadersFrame(1, Encoder().encode(fields), flags=["END_HEADERS", "END_STREAM"]).serialize()
        )
        received = bytearray(sock.recv(4096))
        srv.proc.send_signal(signal.SIGTERM)  # a graceful stop: GOAWAY, the stream is finished, close
        reset = None
        pings = 0
        while True:
            try:
                data = sock.recv(4096)
                if len(received) // 65536 != (len(received) + len(data)) // 65536:
                    pings += 1
                    sock.sendall(PingFrame(0, opaque_data=pings.to_bytes(8, "big")).serialize())
            except OSError as exc:  # ECONNRESET, EPIPE
                reset = exc
                break
            if not data:
                break
            received += data
            time.sleep(0.0005)
    frames = _frames(bytes(received))
    body = sum(len(f.data) for f in frames if isinstance(f, DataFrame) and f.stream_id == 1)
    goaway = [f for f in frames if isinstance(f, GoAwayFrame)]
    assert reset is None, f"{reset!r} after {len(received)} bytes ({body} of the body)"
    assert body == size
    assert [f for f in frames if isinstance(f, DataFrame) and "END_STREAM" in f.flags]
    assert len(goaway) == 1 and goaway[0].error_code == NO_ERROR and goaway[0].last_stream_id == 1
    assert pings > 10
    assert srv.proc.wait(15) == 0
