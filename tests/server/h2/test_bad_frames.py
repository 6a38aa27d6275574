"""The corpus of bad HTTP/2 input, each case answered with the right GOAWAY or RST_STREAM and nothing else
disturbed: after every case a fresh connection is served. Also the floods (CONTINUATION, rapid reset while
another connection is served), a client's cancel closing the application's iterable, and GOAWAY on a
graceful stop."""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from hpack import Decoder, Encoder
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    GoAwayFrame,
    HeadersFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)

from server.conftest import APPS_DIR
from server.h2.conftest import (
    CANCEL,
    ENHANCE_YOUR_CALM,
    FLOW_CONTROL_ERROR,
    FRAME_SIZE_ERROR,
    NO_ERROR,
    PREFACE,
    PROTOCOL_ERROR,
    REFUSED_STREAM,
    RawClient,
    raw_frame,
    read_marker,
)
from server.h2.malformed import MALFORMED

pytestmark = pytest.mark.timeout(90)


def _still_served(h2server) -> None:
    assert h2server.proc.poll() is None, "the server died"
    with httpx.Client(http1=False, http2=True, timeout=10) as client:
        assert client.get(f"http://127.0.0.1:{h2server.port}/hello").text == "Hello, World!"


def _bad_preface(client: RawClient) -> None:
    pass  # connected with a broken preface (see CASES)


def _oversized_frame(client: RawClient) -> None:
    # RFC 9113 §4.2: a frame larger than SETTINGS_MAX_FRAME_SIZE (16384 here) is a FRAME_SIZE_ERROR.
    client.send(raw_frame(0x1, 0x4, 1, b"\0" * 20000))


def _data_on_stream_zero(client: RawClient) -> None:
    # RFC 9113 §6.1: DATA not associated with a stream -> connection error PROTOCOL_ERROR.
    client.send(raw_frame(0x0, 0x1, 0, b"hello"))


def _even_stream_id(client: RawClient) -> None:
    # RFC 9113 §5.1.1: streams initiated by a client MUST use odd-numbered stream identifiers.
    client.send(client.headers(2))


def _window_overflow(client: RawClient) -> None:
    # RFC 9113 §6.9.1: a window above 2^31-1 -> FLOW_CONTROL_ERROR on the connection.
    client.send(WindowUpdateFrame(0, 2**31 - 1))


def _continuation_flood(client: RawClient) -> None:
    # The 2024 CONTINUATION flood: one header block that never ends.
    first = client.headers(1)
    first.flags.discard("END_HEADERS")
    client.send(first, *[ContinuationFrame(1, b"") for _ in range(200)])


def _header_list_too_large(client: RawClient) -> None:
    # More than SETTINGS_MAX_HEADER_LIST_SIZE (64 KiB) of decoded fields, in frames of allowed size.
    block = client.encoder.encode(
        [(":method", "GET"), (":scheme", "http"), (":authority", "a"), (":path", "/"), ("x-big", "v" * 70000)]
    )
    pieces = [block[i : i + 16384] for i in range(0, len(block), 16384)]
    frames = [HeadersFrame(1, pieces[0], flags=["END_STREAM"])]
    frames += [ContinuationFrame(1, p) for p in pieces[1:-1]]
    frames.append(ContinuationFrame(1, pieces[-1], flags=["END_HEADERS"]))
    client.send(*frames)


def _connection_specific_field(client: RawClient) -> None:
    # RFC 9113 §8.2.2: a connection-specific field makes the request malformed; h2 ends the connection
    # (RFC 9113 §5.4: an endpoint may treat a stream error as a connection error).
    client.send(client.headers(1, connection="keep-alive"))


def _settings_on_a_stream(client: RawClient) -> None:
    # RFC 9113 §6.5: SETTINGS with a stream identifier other than 0 -> PROTOCOL_ERROR.
    client.send(raw_frame(0x4, 0x0, 1, b""))


CASES: dict[str, tuple[Callable[[RawClient], None], bytes, int]] = {
    "bad preface": (_bad_preface, b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n", PROTOCOL_ERROR),
    "oversized frame": (_oversized_frame, PREFACE, FRAME_SIZE_ERROR),
    "DATA on stream 0": (_data_on_stream_zero, PREFACE, PROTOCOL_ERROR),
    "even stream id": (_even_stream_id, PREFACE, PROTOCOL_ERROR),
    "window overflow": (_window_overflow, PREFACE, FLOW_CONTROL_ERROR),
    "CONTINUATION flood": (_continuation_flood, PREFACE, PROTOCOL_ERROR),
    "header list too large": (_header_list_too_large, PREFACE, ENHANCE_YOUR_CALM),
    "SETTINGS on a stream": (_settings_on_a_stream, PREFACE, PROTOCOL_ERROR),
    "connection-specific field": (_connection_specific_field, PREFACE, PROTOCOL_ERROR),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_gets_its_goaway(raw, h2server, case: str) -> None:
    send, preface, code = CASES[case]
    client = raw(preface=preface)
    send(client)
    goaway = client.goaway()
    assert goaway.error_code == code
    assert client.closed(), "the connection stays open after its GOAWAY"
    assert not [f for f in client.frames if isinstance(f, (HeadersFrame, DataFrame))]  # nothing answered
    _still_served(h2server)


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_fields_get_a_goaway(raw, case: str) -> None:
    # RFC 9113 §8.1.1: a request that breaks HTTP/2's field rules is malformed; the server answers with
    # GOAWAY(PROTOCOL_ERROR) (RFC 9113 §5.4.1 allows a connection error) and never runs the application.
    client = raw()
    client.send(HeadersFrame(1, Encoder().encode(MALFORMED[case]), flags=["END_HEADERS", "END_STREAM"]))
    assert client.goaway().error_code == PROTOCOL_ERROR
    assert client.closed()
    assert not [f for f in client.frames if isinstance(f, (HeadersFrame, DataFrame))]


def test_pseudo_fields_in_trailers_get_a_goaway(raw) -> None:
    # RFC 9113 §8.1: "Trailers MUST NOT include pseudo-header fields".
    client = raw()
    client.send(client.headers(1, "/echo", end_stream=False, **{"content-length": "2"}))
    client.send(DataFrame(1, b"hi"))
    trailers = Encoder().encode([(b":path", b"/other")])
    client.send(HeadersFrame(1, trailers, flags=["END_HEADERS", "END_STREAM"]))
    assert client.goaway().error_code == PROTOCOL_ERROR


def test_good_trailers_end_the_body(raw) -> None:
    client = raw()
    client.send(client.headers(1, "/echo", end_stream=False, **{"content-length": "2"}))
    client.send(DataFrame(1, b"hi"))
    trailers = client.encoder.encode([(b"x-checksum", b"abc")])
    client.send(HeadersFrame(1, trailers, flags=["END_HEADERS", "END_STREAM"]))
    assert b'"body_size": 2' in client.body(1)


def test_invalid_field_value_gets_an_http_error(raw) -> None:
    client = raw()
    # Our parser's rules hold over HTTP/2 too: a field with "_" in its name is refused (400).
    client.send(client.headers(1, **{"x_forwarded_for": "1.2.3.4"}))
    frame = client.read_until(lambda f: isinstance(f, HeadersFrame) and f.stream_id == 1)
    assert frame is not None and dict(Decoder().decode(frame.data))[":status"] == "400"
    assert b"400 Bad Request" in client.body(1)


def test_rapid_reset_flood_ends_with_enhance_your_calm(raw, h2server) -> None:
    flooder = raw()
    results: list[str] = []

    def other_client() -> None:
        with httpx.Client(http1=False, http2=True, timeout=20) as client:
            for _ in range(20):
                results.append(client.get(f"http://127.0.0.1:{h2server.port}/hello").text)

    thread = threading.Thread(target=other_client)
    thread.start()
    frames = []
    for i in range(600):
        stream_id = 2 * i + 1
        frames += [flooder.headers(stream_id, "/sleepy?t=0.2"), RstStreamFrame(stream_id, error_code=CANCEL)]
    flooder.send(*frames)
    goaway = flooder.goaway()
    assert goaway.error_code == ENHANCE_YOUR_CALM
    thread.join(30)
    assert results == ["Hello, World!"] * 20
    _still_served(h2server)


def test_cancel_closes_the_iterable(raw, tmp_path: Path) -> None:
    marker = tmp_path / "closed"
    client = raw()
    client.request(1, f"/endless?marker={marker}")
    assert client.read_until(lambda f: isinstance(f, DataFrame) and f.stream_id == 1) is not None
    client.send(RstStreamFrame(1, error_code=CANCEL), WindowUpdateFrame(0, 1 << 20))
    assert read_marker(marker) == "closed"
    client.request(3, "/hello")
    assert client.body(3) == b"Hello, World!"


def test_request_body_backpressure(raw) -> None:
    """The server widens a stream's window only as the application reads: a client that honours flow
    control cannot push more than about two windows into an application that does not read."""
    client = raw()
    window = 256 * 1024  # --http2-initial-window-size
    client.send(client.headers(1, "/sleepy?t=4", end_stream=False, **{"content-length": str(8 << 20)}))
    sent = 0
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        granted = window + sum(
            f.window_increment for f in client.frames if isinstance(f, WindowUpdateFrame) and f.stream_id == 1
        )
        if granted > sent:
            size = min(16384, granted - sent)
            client.send(DataFrame(1, b"x" * size))
            sent += size
        else:
            client.drain(0.2)
    assert 0 < sent <= 2 * window + 65536, sent


def test_goaway_on_graceful_stop(run_server) -> None:
    # In the pool, so that the stop arrives while the application runs (inline, it would hold the loop).
    srv = run_server("fixtureapps:dispatch", "--http2", "--dispatch", "pool", cwd=APPS_DIR)
    client = RawClient(srv)
    try:
        client.request(1, "/sleepy?t=1")
        assert client.read_until(lambda f: isinstance(f, SettingsFrame)) is not None
        time.sleep(0.3)  # the request is in the application
        srv.proc.send_signal(signal.SIGTERM)
        assert client.closed(15)
    finally:
        client.close()
    kinds = [(type(f).__name__, f.stream_id, sorted(f.flags)) for f in client.frames]
    goaway = next(f for f in client.frames if isinstance(f, GoAwayFrame))
    assert goaway.error_code == NO_ERROR and goaway.last_stream_id == 1
    end = next(i for i, f in enumerate(client.frames) if f.stream_id == 1 and "END_STREAM" in f.flags)
    # GOAWAY first, then the stream in flight is still answered, then the connection closes.
    assert client.frames.index(goaway) < end, kinds
    assert srv.proc.wait(20) == 0


def test_a_finished_response_waits_for_window(raw) -> None:
    """A response whose application is done but whose bytes exceed the client's window is sent as the
    window opens (the stream stays until its last byte, not until its application returns)."""
    client = raw()
    client.request(1, "/blob?size=300000")  # one chunk: the application returns before a byte is sent
    assert client.body(1) == b"b" * 300000


def test_timeouts(run_server) -> None:
    """A connection without streams ends with GOAWAY after --keepalive-timeout; a request body that stops
    for --body-timeout gets its stream reset (the connection's other streams go on)."""
    srv = run_server(
        "fixtureapps:dispatch", "--http2", "--keepalive-timeout", "1", "--body-timeout", "1", cwd=APPS_DIR
    )
    idle = RawClient(srv)
    stalled = RawClient(srv)
    try:
        stalled.send(stalled.headers(1, "/echo", end_stream=False, **{"content-length": "100"}))
        stalled.send(DataFrame(1, b"x" * 10))
        reset = stalled.read_until(lambda f: isinstance(f, RstStreamFrame), timeout=15)
        assert isinstance(reset, RstStreamFrame) and reset.stream_id == 1 and reset.error_code == CANCEL
        stalled.request(3, "/hello")
        assert stalled.body(3) == b"Hello, World!"
        goaway = idle.goaway(timeout=15)
        assert goaway.error_code == NO_ERROR and idle.closed()
    finally:
        idle.close()
        stalled.close()


def test_applications_of_reset_streams_still_count(run_server) -> None:
    """A reset stream whose application still runs holds its place under --http2-max-concurrent-streams:
    resetting cannot start more applications than the bound (new streams are refused, safe to retry)."""
    srv = run_server(
        "fixtureapps:dispatch",
        "--http2",
        "--dispatch",
        "pool",
        "--http2-max-concurrent-streams",
        "2",
        cwd=APPS_DIR,
    )
    client = RawClient(srv)
    try:
        for stream_id in (1, 3):
            client.request(stream_id, "/sleepy?t=2")
            time.sleep(0.3)  # its application runs (a stream reset in the same read would never start one)
            client.send(RstStreamFrame(stream_id, error_code=CANCEL))
        client.request(5, "/hello")
        refused = client.read_until(lambda f: isinstance(f, RstStreamFrame) and f.stream_id == 5)
        assert isinstance(refused, RstStreamFrame) and refused.error_code == REFUSED_STREAM
        time.sleep(2.5)  # the two applications return
        client.request(7, "/hello")
        assert client.body(7) == b"Hello, World!"
    finally:
        client.close()


def test_expect_100_continue(raw) -> None:
    """RFC 9110 §10.1.1 over HTTP/2: 100 (an informational HEADERS frame) once the application reads."""
    client = raw()
    client.send(
        client.headers(1, "/echo", end_stream=False, expect="100-continue", **{"content-length": "5"})
    )
    interim = client.read_until(lambda f: isinstance(f, HeadersFrame) and f.stream_id == 1)
    assert interim is not None and dict(Decoder().decode(interim.data))[":status"] == "100"
    client.send(DataFrame(1, b"hello", flags=["END_STREAM"]))
    assert b'"body_size": 5' in client.body(1)


def test_a_closed_connection_that_is_not_read_is_cut(run_server) -> None:
    """A connection closed (here by a protocol error) with response bytes its client never reads still
    counts and still has the write deadline: it is cut after --body-timeout, not kept open forever."""
    srv = run_server("fixtureapps:dispatch", "--http2", "--body-timeout", "1", cwd=APPS_DIR)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", srv.port))
    client = RawClient.__new__(RawClient)
    client.sock, client.encoder, client.buf, client.frames, client.eof = (
        sock,
        Encoder(),
        bytearray(),
        [],
        False,
    )
    try:
        sock.sendall(
            PREFACE + SettingsFrame(0, settings={SettingsFrame.INITIAL_WINDOW_SIZE: 2**31 - 1}).serialize()
        )
        client.send(WindowUpdateFrame(0, 2**31 - 1 - 65535))
        client.request(1, "/big?mib=16")
        time.sleep(1)  # the socket buffers fill up
        client.send(raw_frame(0x0, 0x1, 0, b"x"))  # DATA on stream 0: GOAWAY and close, with bytes unsent
        # The sweeper sees no progress for --body-timeout and cuts the connection (its socket is closed;
        # what the kernel still holds for the peer is no longer the server's).
        srv.wait_for_log(r"Closing the HTTP/2 connection from .*: it accepted no bytes for 1s", timeout=15)
    finally:
        sock.close()
