"""Metrics without a server process: class selection (nothing paid when off), the shared block, the
Prometheus text, statsd lines and the settings."""

from __future__ import annotations

import asyncio
import mmap
import re
import time
from collections.abc import Iterator

import pytest

from sockweb.server.config import Config, ConfigError
from sockweb.server.metrics import (
    BUCKETS,
    GAUGES,
    N_COUNTERS,
    OFFSETS,
    MetricsProtocol,
    StatsBlock,
    StatsdPusher,
    Tally,
    View,
    load_tally,
    render_prometheus,
)
from sockweb.server.protocol import HttpProtocol
from sockweb.server.state import ServerState
from sockweb.server.trace import TraceExchange, TraceProtocol
from sockweb.server.wsgi import Exchange


def app(environ: object, start_response: object) -> list[bytes]:
    return [b""]


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def test_off_by_default_the_plain_classes_serve(loop: asyncio.AbstractEventLoop) -> None:
    state = ServerState(Config(app="x:y"), app, loop)
    assert state.metrics is None
    assert state.protocol_class is HttpProtocol
    assert state.exchange_class is Exchange
    assert state.tally is None
    state.shutdown()


@pytest.mark.parametrize("trace", [False, True])
def test_enabled_the_counting_classes_serve(loop: asyncio.AbstractEventLoop, trace: bool) -> None:
    state = ServerState(Config(app="x:y", metrics_bind="127.0.0.1:9100", trace=trace), app, loop)
    assert state.metrics is not None
    assert issubclass(state.protocol_class, MetricsProtocol)
    assert state.tally is state.metrics.tally
    assert issubclass(state.protocol_class, TraceProtocol) is trace
    assert (state.exchange_class is TraceExchange) is trace  # exchanges are counted by the connection
    state.shutdown()


def test_stats_block_round_trip() -> None:
    mem = mmap.mmap(-1, 32768)
    assert StatsBlock.read(mem) is None  # nothing written yet
    block = StatsBlock(mem)
    values = list(range(N_COUNTERS + len(GAUGES)))
    block.write(values, {"slow": [{"path": "/x"}], "errors": []})
    block.write([v * 2 for v in values], {"slow": [], "errors": [{"status": "500"}]})
    read = StatsBlock.read(mem)
    assert read is not None
    assert read[0] == [v * 2 for v in values]
    assert read[1] == {"slow": [], "errors": [{"status": "500"}]}
    block.write(values, {"slow": [{"path": "x" * 40000}]})  # too long for the block: details dropped
    read = StatsBlock.read(mem)
    assert read is not None
    assert read == (values, {})


def view(label: str, requests_get_2xx: int, fast: int) -> View:
    counters = [0] * N_COUNTERS
    counters[OFFSETS["requests"] + 1] = requests_get_2xx  # GET, 2xx
    counters[OFFSETS["duration_bucket"]] = fast
    counters[OFFSETS["duration_bucket"] + len(BUCKETS)] = requests_get_2xx - fast  # slower than 10 s
    counters[OFFSETS["duration_us"]] = 2_500_000
    gauges = dict.fromkeys(GAUGES, 1)
    return View(label, counters, gauges)


def test_prometheus_text_sums_workers_and_the_retired() -> None:
    retired = [0] * N_COUNTERS
    retired[OFFSETS["requests"] + 1] = 5
    text = render_prometheus([view("0", 3, 3), view("1", 4, 2)], retired, None, {"signal": 1})
    lines = text.splitlines()
    assert 'sockweb_requests_total{method="GET",status="2xx"} 12' in lines
    assert 'sockweb_worker_requests_total{worker="0"} 3' in lines
    assert 'sockweb_worker_requests_total{worker="1"} 4' in lines
    assert 'sockweb_request_duration_seconds_bucket{le="0.0005"} 5' in lines
    assert 'sockweb_request_duration_seconds_bucket{le="10.0"} 5' in lines  # cumulative
    assert 'sockweb_request_duration_seconds_bucket{le="+Inf"} 7' in lines
    assert "sockweb_request_duration_seconds_sum 5.0" in lines
    assert 'sockweb_worker_restarts_total{cause="signal"} 1' in lines
    assert 'sockweb_connections{worker="1",state="idle"} 1' in lines
    for line in lines:  # every line is a comment or `name{labels} number`
        assert re.fullmatch(r"# (HELP|TYPE) \w+ .+|\w+(\{[^}]*\})? -?[0-9.]+(e[-+]?[0-9]+)?", line), line
    families = [line.split()[2] for line in lines if line.startswith("# TYPE")]
    assert len(families) == len(set(families))


def test_http2_events_are_counted_by_code_and_side(loop: asyncio.AbstractEventLoop) -> None:
    state = ServerState(Config(app="x:y", metrics_bind="127.0.0.1:9100"), app, loop)
    metrics = state.metrics
    assert metrics is not None
    try:
        metrics.http2_connection_error(0x3, "window overflow (from 127.0.0.1)")
        metrics.http2_connection_error(0xD, "HTTP_1_1_REQUIRED is not a listed code")
        metrics.http2_reset(0x7, False)
        metrics.http2_reset(0x8, True)
        metrics.http2_reset(0x42, True)  # an unknown code
        current = metrics.view("0")
        lines = render_prometheus([current], [0] * N_COUNTERS).splitlines()
        assert 'sockweb_http2_connection_errors_total{code="FLOW_CONTROL_ERROR"} 1' in lines
        assert 'sockweb_http2_connection_errors_total{code="other"} 1' in lines
        assert 'sockweb_http2_stream_resets_total{by="server",code="REFUSED_STREAM"} 1' in lines
        assert 'sockweb_http2_stream_resets_total{by="client",code="CANCEL"} 1' in lines
        assert 'sockweb_http2_stream_resets_total{by="client",code="other"} 1' in lines
        counted = [line for line in lines if line.startswith("sockweb_http2_") and not line.endswith(" 0")]
        assert len(counted) == 5
        # Connection errors are among the status page's last errors; resets are too common to be.
        assert [e["status"] for e in metrics.last_errors] == ["FLOW_CONTROL_ERROR", "h2:0xd"]
        pusher = StatsdPusher(Config(app="x:y", statsd_host="127.0.0.1:8125"))
        try:
            pushed = pusher.lines([current], None)
        finally:
            pusher.sock.close()
        assert "sockweb.http2_connection_errors.FLOW_CONTROL_ERROR:1|c" in pushed
        assert "sockweb.http2_stream_resets.client.CANCEL:1|c" in pushed
    finally:
        state.shutdown()


def test_label_values_are_escaped() -> None:
    text = render_prometheus([view('a"b\\c\nd', 1, 1)], [0] * N_COUNTERS)
    assert 'sockweb_worker_requests_total{worker="a\\"b\\\\c\\nd"} 1' in text.splitlines()


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ((), "sockweb.requests.GET.2xx:3|c"),
        (("env:prod",), "sockweb.requests:3|c|#env:prod,method:GET,status:2xx"),
    ],
)
def test_statsd_lines(tags: tuple[str, ...], expected: str) -> None:
    pusher = StatsdPusher(Config(app="x:y", statsd_host="127.0.0.1:8125", dogstatsd_tags=tags))
    try:
        lines = pusher.lines([view("0", 3, 3)], None)
        assert expected in lines
        assert not any("requests" in line for line in pusher.lines([view("0", 3, 3)], None))  # deltas
    finally:
        pusher.sock.close()


@pytest.mark.parametrize(
    ("field", "value"),
    [("metrics_bind", "fd://3"), ("metrics_bind", "nope:"), ("statsd_host", "host"), ("statsd_host", "h:0")],
)
def test_bad_settings_are_refused(field: str, value: str) -> None:
    with pytest.raises(ConfigError, match=field):
        Config(app="x:y", **{field: value})  # type: ignore[arg-type]


# -- the per-request counter: the C Tally held equal to its reference -----------------------------------


class _Req:
    def __init__(self, method: str) -> None:
        self.method = method


class _Plan:
    def __init__(self, head: bytes) -> None:
        self.head = head


class _Ex:
    """What Tally.count reads of an exchange."""

    def __init__(
        self, method: str, status: object, ago: float, sent: int, head: bytes | None, threaded: bool
    ):
        self.request = _Req(method)
        self.status = status
        self.started = time.perf_counter() - ago
        self.sent = sent
        self.plan = None if head is None else _Plan(head)
        self.threaded = threaded


EXCHANGES = [
    ("GET", "200 OK", 0.0001, 5, b"HTTP/1.1 200 OK\r\n\r\n", False),
    ("POST", "302 Found", 0.003, 0, b"x" * 40, True),
    ("HEAD", "404 Not Found", 0.2, 0, b"y" * 10, False),
    ("BREW", "500 Error", 20.0, 7, None, False),  # an unknown method, slower than every bucket
    ("GET", None, 0.0, 0, None, False),  # never started a response: counted as 5xx
    ("OPTIONS", "101 Switching Protocols", 0.0007, 0, b"", True),
    ("DELETE", 503, 0.04, 0, None, True),  # not a str: 5xx
    ("PATCH", "", 1.5, 1 << 40, b"z", False),
]


def _same_but_duration(a: list[int], b: list[int]) -> None:
    # Durations come from two reads of the clock: equal buckets (the gaps above are far from the bounds),
    # sums within a few milliseconds.
    at = OFFSETS["duration_us"]
    assert a[:at] == b[:at] and a[at + 1 :] == b[at + 1 :]
    assert abs(a[at] - b[at]) < 50_000


def test_the_c_tally_counts_as_its_reference() -> None:
    fast = load_tally()
    if fast is Tally:
        pytest.skip("the C accelerator is not built (or SOCKWEB_PURE_PYTHON is set)")
    ref, c = Tally(N_COUNTERS), fast(N_COUNTERS)
    for args in EXCHANGES:
        ex = _Ex(*args)
        assert ref.count(ex) == c.count(ex), args  # type: ignore[arg-type]
    ref.received(b"x" * 1234)
    c.received(bytearray(1234))
    c.received(memoryview(b"ab"))
    ref.received(b"ab")
    ref.add(OFFSETS["protocol_errors"] + 2, 3)
    c.add(OFFSETS["protocol_errors"] + 2, 3)
    _same_but_duration(ref.values(), c.values())


def test_the_tally_counts_by_method_class_duration_bytes_and_dispatch() -> None:
    for cls in {Tally, load_tally()}:
        t = cls(N_COUNTERS)
        fails = [t.count(_Ex(*args)) for args in EXCHANGES]  # type: ignore[arg-type]
        assert fails == [False, False, False, True, True, False, True, True]
        v = t.values()
        r = OFFSETS["requests"]
        assert v[r + 0 * 5 + 1] == 1  # GET 2xx
        assert v[r + 2 * 5 + 2] == 1  # POST 3xx
        assert v[r + 1 * 5 + 3] == 1  # HEAD 4xx
        assert v[r + 7 * 5 + 4] == 1  # other 5xx
        assert v[r + 0 * 5 + 4] == 1  # GET without a status: 5xx
        assert sum(v[r : r + 40]) == len(EXCHANGES)
        b = OFFSETS["duration_bucket"]
        assert sum(v[b : b + len(BUCKETS) + 1]) == len(EXCHANGES)
        assert v[b + len(BUCKETS)] == 1  # the 20 s one: +Inf
        assert v[b + BUCKETS.index(0.0005)] >= 1  # 0.1 ms
        assert v[OFFSETS["bytes_out"]] == 5 + 19 + 40 + 10 + 7 + 0 + 1 + (1 << 40)
        assert v[OFFSETS["dispatch_pool"]] == 3
        assert v[OFFSETS["dispatch_inline"]] == 5
        assert v[OFFSETS["duration_us"]] >= 21_700_000


def test_the_pure_path_is_chosen_when_asked_or_not_built() -> None:
    assert load_tally(environ={"SOCKWEB_PURE_PYTHON": "1"}) is Tally

    def missing(name: str) -> object:
        raise ImportError(name)

    assert load_tally(environ={}, import_module=missing) is Tally  # type: ignore[arg-type]


class _SlotReq:
    __slots__ = ("method",)

    def __init__(self, method: str) -> None:
        self.method = method


class _SlotPlan:
    __slots__ = ("head",)

    def __init__(self, head: bytes) -> None:
        self.head = head


class _SlotEx:
    """An exchange with __slots__, as the server's: the C count reads its slots through its inline cache."""

    __slots__ = ("plan", "request", "sent", "started", "status", "threaded")

    def __init__(
        self, method: str, status: object, ago: float, sent: int, head: bytes | None, threaded: bool
    ):
        self.request = _SlotReq(method)
        self.status = status
        self.started = time.perf_counter() - ago
        self.sent = sent
        self.plan = None if head is None else _SlotPlan(head)
        self.threaded = threaded


def test_the_c_tally_reads_slots_as_attributes_even_when_their_class_changes() -> None:
    fast = load_tally()
    if fast is Tally:
        pytest.skip("the C accelerator is not built (or SOCKWEB_PURE_PYTHON is set)")
    ref, c = Tally(N_COUNTERS), fast(N_COUNTERS)
    # slotted and dict-based exchanges in turn: the cache of each attribute moves between types
    for _ in range(3):
        for args in EXCHANGES:
            for kind in (_SlotEx, _Ex):
                ex = kind(*args)
                assert ref.count(ex) == c.count(ex), (kind, args)  # type: ignore[arg-type]
    _same_but_duration(ref.values(), c.values())

    # a class changed after its slots were cached: the new attribute is what counts
    class Changing(_SlotEx):
        __slots__ = ()

    ex = Changing("GET", "200 OK", 0.0, 0, None, False)
    c.count(ex)  # type: ignore[arg-type]
    c.count(ex)  # type: ignore[arg-type]  # (a hit)
    before = c.values()[OFFSETS["dispatch_pool"]]
    Changing.threaded = property(lambda self: True)  # type: ignore[assignment]
    assert c.count(ex) is False  # type: ignore[arg-type]
    assert c.values()[OFFSETS["dispatch_pool"]] == before + 1

    # an unset slot: Python's own AttributeError, no crash
    empty = _SlotEx.__new__(_SlotEx)
    with pytest.raises(AttributeError):
        c.count(empty)  # type: ignore[arg-type]


def test_the_c_tally_counts_the_servers_own_exchange() -> None:
    from sockweb.http.events import Request
    from sockweb.server.wsgi import Exchange

    fast = load_tally()
    if fast is Tally:
        pytest.skip("the C accelerator is not built (or SOCKWEB_PURE_PYTHON is set)")

    class Conn:
        send = None

    req = Request.__new__(Request)
    req.method = "POST"
    ref, c = Tally(N_COUNTERS), fast(N_COUNTERS)
    for status in ("200 OK", "404 Not Found", None):
        ex = Exchange(Conn(), req, {})  # type: ignore[arg-type]
        ex.status = status
        ex.started = time.perf_counter()
        ex.sent = 17
        for t in (ref, c):
            t.count(ex)  # type: ignore[arg-type]
    _same_but_duration(ref.values(), c.values())
    assert c.values()[OFFSETS["requests"] + 2 * 5 + 1] == 1  # POST 2xx


# -- the server's clock: perf_counter, or the same clock read in C ------------------------------------


def test_the_servers_clock_reads_perf_counters_clock() -> None:
    from sockweb.server.clock import clock

    # the same clock: readings of the two interleave in order, and agree to well within a millisecond
    for _ in range(1000):
        a = time.perf_counter()
        b = clock()
        c = time.perf_counter()
        assert a <= b <= c
    assert isinstance(clock(), float)


def test_the_c_clock_is_used_only_where_perf_counter_is_that_clock() -> None:
    from sockweb.server.clock import MONOTONIC, load_clock

    def missing(name: str) -> object:
        raise ImportError(name)

    assert load_clock(implementation="QueryPerformanceCounter()") is time.perf_counter
    assert load_clock(environ={"SOCKWEB_PURE_PYTHON": "1"}, implementation=MONOTONIC) is time.perf_counter
    assert load_clock(import_module=missing, implementation=MONOTONIC) is time.perf_counter  # type: ignore[arg-type]
    if load_tally() is not Tally:  # the extension is built
        fast = load_clock(environ={}, implementation=MONOTONIC)
        assert fast is not time.perf_counter and fast.__name__ == "monotonic_seconds"
