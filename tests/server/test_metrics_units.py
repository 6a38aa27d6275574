"""Metrics without a server process: class selection (nothing paid when off), the shared block, the
Prometheus text, statsd lines and the settings."""

from __future__ import annotations

import asyncio
import mmap
import re
from collections.abc import Iterator

import pytest

from sockweb.server.config import Config, ConfigError
from sockweb.server.metrics import (
    BUCKETS,
    GAUGES,
    N_COUNTERS,
    OFFSETS,
    MetricsExchange,
    MetricsProtocol,
    StatsBlock,
    StatsdPusher,
    View,
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
    state.shutdown()


@pytest.mark.parametrize("trace", [False, True])
def test_enabled_the_counting_classes_serve(loop: asyncio.AbstractEventLoop, trace: bool) -> None:
    state = ServerState(Config(app="x:y", metrics_bind="127.0.0.1:9100", trace=trace), app, loop)
    assert state.metrics is not None
    assert issubclass(state.protocol_class, MetricsProtocol)
    assert issubclass(state.exchange_class, MetricsExchange)
    assert issubclass(state.protocol_class, TraceProtocol) is trace
    assert issubclass(state.exchange_class, TraceExchange) is trace
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
