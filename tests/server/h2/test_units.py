"""Units of the HTTP/2 side: a HEADERS block becomes the Request our parser makes of it, the stream's
response fields, the body length check, the settings."""

from __future__ import annotations

import pytest

from server.h2.malformed import MALFORMED
from sockweb.http import Limits, ProtocolError, Request
from sockweb.server.caches import H2HeadCache
from sockweb.server.config import Config, ConfigError
from sockweb.server.h2fields import HeadReader, MalformedFields, check_trailers, request_of
from sockweb.server.h2stream import H2Framer, H2Stream, extra_fields

LIMITS = Limits()
BASE = [
    (b":method", b"GET"),
    (b":scheme", b"http"),
    (b":authority", b"example.test:8080"),
    (b":path", b"/a?b"),
]


def test_a_headers_block_becomes_a_request() -> None:
    req = request_of([*BASE, (b"cookie", b"a=1"), (b"x-y", b"z"), (b"cookie", b"b=2")], HeadReader(LIMITS))
    assert (req.method, req.target, req.http_version) == ("GET", b"/a?b", "1.1")
    assert (b"host", b"example.test:8080") in req.headers
    # RFC 9113 §8.2.3: split Cookie fields are joined with "; " (not ", ") before the application sees them.
    assert [v for n, v in req.headers if n == b"cookie"] == [b"a=1; b=2"]


@pytest.mark.parametrize(
    "fields",
    [
        [*BASE, (b"te", b"trailers"), (b"te", b"Trailers")],  # §8.2.2: TE "trailers" is allowed
        [*BASE, (b"host", b"example.test:8080")],  # a Host equal to :authority
        [(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/"), (b"host", b"h.test")],  # Host only
        [(b":method", b"CONNECT"), (b":authority", b"h.test:443")],  # §8.5: CONNECT has no :scheme, :path
        [*BASE, (b"x-empty", b""), (b"x-inner", b"a \t b"), (b"x-ascii", b"~!#")],
    ],
)
def test_well_formed_blocks_pass(fields: list[tuple[bytes, bytes]]) -> None:
    assert type(request_of(fields, HeadReader(LIMITS))) is Request


@pytest.mark.parametrize("case", list(MALFORMED))
def test_each_http2_field_rule_holds(case: str) -> None:
    with pytest.raises(MalformedFields):
        request_of(MALFORMED[case], HeadReader(LIMITS))


def test_trailers_hold_the_field_rules() -> None:
    check_trailers([(b"x-checksum", b"abc")])
    bad = [[(b":path", b"/")], [(b"X-Up", b"1")], [(b"connection", b"close")], [(b"x", b" a")]]
    bad += [[(b"x", b"a\nb")], [(b"x", b"a\rb")], [(b"x", b"a\x00b")], [(b"te", b"gzip")]]
    for fields in bad:
        with pytest.raises(MalformedFields):
            check_trailers(fields)


def test_one_parser_reads_the_heads_as_fresh_ones_do() -> None:
    # The connection's HeadReader keeps its parser between heads; each request must be what a parser of
    # its own makes of the head, whatever came before (a body announced, a refused head, limits).
    big = Limits(max_head_size=600, max_request_line=500)
    blocks = [
        [*BASE, (b"x-a", b"1")],
        [*BASE, (b"content-length", b"5")],  # a body follows: its parser is not kept
        [*BASE, (b"content-length", b"0")],
        [*BASE, (b"x_bad", b"1")],  # 400: the failed parser is not kept
        [*BASE[:3], (b":path", b"/" + b"p" * 700)],  # beyond the head limit
        [*BASE, (b"cookie", b"a=1"), (b"cookie", b"b=2")],
        BASE,
    ]
    shared = HeadReader(big)
    for fields in blocks * 2:
        try:
            expected: object = request_of(fields, HeadReader(big))
        except ProtocolError as exc:
            expected = (exc.status, str(exc))
        try:
            got: object = request_of(fields, shared)
        except ProtocolError as exc:
            got = (exc.status, str(exc))
        assert repr(got) == repr(expected)
    assert shared.parser is not None  # kept after the last head (no body)


def test_the_parser_rules_hold() -> None:
    with pytest.raises(ProtocolError) as err:
        request_of([*BASE, (b"x_forwarded_for", b"1.2.3.4")], HeadReader(LIMITS))
    assert err.value.status == 400
    with pytest.raises(ProtocolError):
        request_of([*BASE, (b"content-length", b"1, 2")], HeadReader(LIMITS))
    req = request_of([*BASE, (b"content-length", b"12")], HeadReader(LIMITS))
    assert req.content_length == 12


def test_framer_checks_the_declared_length() -> None:
    framer = H2Framer(5)
    assert framer.write(b"abc") == b"abc"
    with pytest.raises(ValueError):
        framer.finish()
    with pytest.raises(ValueError):
        H2Framer(2).write(b"abc")
    assert H2Framer(None).write(b"abc") == b"abc" and H2Framer(None).finish() == b""


def test_extra_fields_leave_out_the_applications_own() -> None:
    extra = b"Date: Wed, 02 Dec 2026 03:00:00 GMT\r\nServer: sockweb\r\n"
    assert extra_fields(extra, {b"server"}) == [(b"date", b"Wed, 02 Dec 2026 03:00:00 GMT")]


def test_settings_are_validated() -> None:
    with pytest.raises(ConfigError, match="http2_initial_window_size"):
        Config(app="a:b", http2_initial_window_size=1000)
    with pytest.raises(ConfigError, match="http2_max_concurrent_streams"):
        Config(app="a:b", http2_max_concurrent_streams=0)
    assert Config(app="a:b", http2=True).http2


class _Ex:
    def __init__(self, status: str, headers: list[tuple[str, str]], method: str = "GET") -> None:
        self.status, self.headers = status, headers
        self.request = Request(method, b"/", "1.1", [])

    def extra(self) -> bytes:
        return b"Date: Wed, 02 Dec 2026 03:00:00 GMT\r\nServer: sockweb\r\n"


class _CacheState:
    def __init__(self, cache: H2HeadCache | None) -> None:
        self.h2_head_cache = cache


def _plan(
    ex: _Ex, body_length: int | None, cache: H2HeadCache | None = None
) -> tuple[list[tuple[bytes, bytes]], bool, int | None]:
    stream = H2Stream.__new__(H2Stream)  # plan_head uses nothing of the connection but the state's cache
    stream.state = _CacheState(cache)  # type: ignore[assignment]
    head = stream.plan_head(ex, body_length)  # type: ignore[arg-type]
    assert stream.head is head.fields
    return head.fields, head.send_body, stream.length


@pytest.mark.parametrize(
    ("ex", "body_length", "fields", "send_body", "length"),
    [
        (
            _Ex("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5"), ("Connection", "close")]),
            5,
            [(b":status", b"200"), (b"content-type", b"text/plain"), (b"content-length", b"5")],
            True,
            5,
        ),
        (_Ex("200 OK", [("Keep-Alive", "5"), ("Upgrade", "x")]), None, [(b":status", b"200")], True, None),
        (
            _Ex("200 OK", [("Content-Length", "9")], "HEAD"),
            None,
            [(b":status", b"200"), (b"content-length", b"9")],
            False,
            None,
        ),
        (_Ex("204 No Content", [("Content-Length", "0")]), 0, [(b":status", b"204")], False, None),
    ],
)
def test_response_fields(
    ex: _Ex, body_length: int | None, fields: list[tuple[bytes, bytes]], send_body: bool, length: int | None
) -> None:
    got, body, planned = _plan(ex, body_length)
    assert [f for f in got if f[0] not in (b"date", b"server")] == fields
    assert (body, planned) == (send_body, length)


def test_a_declared_length_must_match_the_body() -> None:
    with pytest.raises(ValueError, match="does not match"):
        _plan(_Ex("200 OK", [("Content-Length", "100")]), 10)


class _NextSecondEx(_Ex):
    def extra(self) -> bytes:
        return b"Date: Thu, 03 Dec 2026 00:00:00 GMT\r\nServer: sockweb\r\n"


PLANS: list[tuple[_Ex, int | None]] = [
    (_Ex("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")]), 5),
    (_Ex("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")], "HEAD"), 5),
    (_Ex("200 OK", [("Content-Type", "text/plain")]), 7),
    (_Ex("200 OK", [("Content-Type", "text/plain")]), None),
    (_Ex("200 OK", [("Content-Type", "text/html")]), 7),
    (_Ex("404 Not Found", [("Content-Type", "text/plain")]), 7),
    (_Ex("304 Not Modified", [("Content-Length", "9")]), 0),
    (_Ex("204 No Content", []), 0),
    (_Ex("200 OK", [("Date", "Tue, 01 Dec 2026 00:00:00 GMT"), ("Server", "app")]), 0),
    (_Ex("200 OK", [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("Connection", "close")]), 3),
]


def test_cached_response_fields_are_the_planned_ones() -> None:
    # The H2HeadCache's differential test: every head, planned through the cache (a miss, then hits)
    # and in a different order, is what plan_fields makes of it without one.
    cache = H2HeadCache()
    for ex, length in [*PLANS, *PLANS[::-1], *PLANS]:
        assert _plan(ex, length, cache) == _plan(ex, length)
    assert len(cache) == len(PLANS)
    # A new second: cleared with the Date line; the next plan has the new Date.
    cache.clear()
    ex = _NextSecondEx("200 OK", [("Content-Type", "text/plain")])
    assert (b"date", b"Thu, 03 Dec 2026 00:00:00 GMT") in _plan(ex, 1, cache)[0]


def test_invalid_or_unhashable_heads_are_not_cached() -> None:
    cache = H2HeadCache(limit=2)
    for _ in range(2):
        with pytest.raises(ValueError):
            _plan(_Ex("200 OK", [("Bad Name", "x")]), 0, cache)
        with pytest.raises(ValueError, match="does not match"):
            _plan(_Ex("200 OK", [("Content-Length", "100")]), 10, cache)
    assert len(cache) == 0
    unhashable = _Ex("200 OK", [["Content-Type", "text/plain"]])  # type: ignore[list-item]
    assert _plan(unhashable, 1, cache) == _plan(unhashable, 1)
    for n in range(4):  # the bound: further heads are planned, not kept
        _plan(_Ex("200 OK", [("X-N", str(n))]), 0, cache)
    assert len(cache) == 2


def test_the_state_keeps_the_cache_with_http2_only_and_clears_it_every_second() -> None:
    import asyncio

    from sockweb.server.state import ServerState

    loop = asyncio.new_event_loop()
    try:
        assert ServerState(Config(app="a:b"), None, loop).h2_head_cache is None  # type: ignore[arg-type]
        assert ServerState(Config(app="a:b", http2=True, trace=True), None, loop).h2_head_cache is None  # type: ignore[arg-type]
        state = ServerState(Config(app="a:b", http2=True), None, loop)  # type: ignore[arg-type]
        assert state.h2_head_cache is not None
        _plan(_Ex("200 OK", []), 0, state.h2_head_cache)
        assert len(state.h2_head_cache) == 1
        state._update_date()
        assert len(state.h2_head_cache) == 0
        state.shutdown()
    finally:
        loop.close()


class _FakeH2:
    max_outbound_frame_size = 16384

    def __init__(self, window: int) -> None:
        self.window = window
        self.frames: list[tuple[str, object, bool]] = []

    def local_flow_control_window(self, stream_id: int) -> int:
        return self.window

    def send_headers(self, stream_id: int, fields: object, end_stream: bool = False) -> None:
        self.frames.append(("HEADERS", fields, end_stream))

    def send_data(self, stream_id: int, data: bytes | memoryview, end_stream: bool = False) -> None:
        self.window -= len(data)
        self.frames.append(("DATA", data, end_stream))

    def end_stream(self, stream_id: int) -> None:
        self.frames.append(("END", b"", True))


class _FakeConn:
    write_paused = False
    state = None

    def __init__(self, window: int) -> None:
        self.h2 = _FakeH2(window)
        self.dirty: set[object] = set()
        self.done: list[object] = []

    def stream_done(self, stream: object) -> None:
        self.done.append(stream)

    def write_out(self) -> None:
        pass  # the frames stay in the fake h2, for the test to read


def test_data_frames_are_views_of_the_chunk_and_respect_the_window() -> None:
    conn = _FakeConn(window=100_000)
    stream = H2Stream(conn, 1)  # type: ignore[arg-type]
    stream.head = [(b":status", b"200")]
    chunk = bytes(range(256)) * 1024  # 256 KiB, one chunk
    stream.out.append(chunk)
    stream.out_size = len(chunk)
    stream.ended = True
    stream.pump()
    data = [f[1] for f in conn.h2.frames if f[0] == "DATA"]
    assert sum(map(len, data)) == 100_000 and stream.blocked and not stream.closed
    # No piece is a copy of the rest of the chunk: each is a view of the chunk itself (or the chunk).
    assert all(isinstance(p, memoryview) and p.obj is chunk for p in data)
    conn.h2.window = 1 << 20
    stream.resume()
    data = [f[1] for f in conn.h2.frames if f[0] == "DATA"]
    assert b"".join(bytes(p) for p in data) == chunk
    assert conn.h2.frames[-1][2] is True and stream.closed and conn.done == [stream]  # END_STREAM on the last


class _PausingConn(_FakeConn):
    """A connection whose transport pauses (as asyncio's does) once `high` bytes are unsent."""

    def __init__(self, window: int, high: int) -> None:
        super().__init__(window)
        self.high = high
        self.handed = 0  # bytes of DATA frames moved from h2 to the transport
        self.write_paused = False

    def write_out(self) -> None:
        frames, self.h2.frames = self.h2.frames, []
        self.handed += sum(len(f[1]) for f in frames if f[0] == "DATA")  # type: ignore[arg-type]
        if self.handed > self.high:
            self.write_paused = True


def test_an_inline_body_is_suspended_by_the_transport_not_only_the_window() -> None:
    """With a client window far larger than the body, what stops an inline application's body is the
    transport's high-water mark: the stream hands bytes to the transport as it goes, so `write_paused`
    turns true before the body piles up in h2's buffer."""
    conn = _PausingConn(window=1 << 30, high=256 * 1024)
    stream = H2Stream(conn, 1)  # type: ignore[arg-type]
    stream.head = [(b":status", b"200")]
    sent = 0
    for _ in range(200):  # what Exchange.pump does: a chunk, then stop once paused
        stream.send(b"x" * 65536)
        sent += 65536
        if stream.write_paused:
            break
    assert stream.write_paused
    assert sent <= 512 * 1024, sent
    assert len([f for f in conn.h2.frames if f[0] == "DATA"]) * 16384 <= 128 * 1024  # not piled up in h2


def test_the_output_is_taken_without_a_copy_and_never_changed_after() -> None:
    import h2.config

    from sockweb.server.h2conn import _ServerConnection

    reference = _ServerConnection(config=h2.config.H2Configuration(client_side=False))
    conn = _ServerConnection(config=h2.config.H2Configuration(client_side=False))
    for c in (reference, conn):
        c.initiate_connection()
    first = conn.take_data_to_send()
    kept = bytes(first)
    assert first == reference.data_to_send() and first
    conn.ping(b"12345678")
    reference.ping(b"12345678")
    assert first == kept  # the buffer handed out is left alone: h2 writes into a new one
    second = conn.take_data_to_send()
    assert second == reference.data_to_send() and second is not first
    assert conn.take_data_to_send() == b""
