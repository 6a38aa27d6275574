"""Counting what the server does (``--metrics-bind``, ``--statsd-host``), and the Prometheus text it becomes.

Strategy: the one per-request cost is `Tally.count`, which the connection calls at the end of each
exchange (and `Tally.received` for each read); with metrics off `ServerState.tally` is None and that is
one check. `Tally` is a C type over int64 slots (sockweb.server._metrics) with the Python class below as
its reference and fallback. Nothing is kept per request for the status page: the requests in flight are
read off the connections when asked. `MetricsProtocol` (picked once at start-up, as ``--trace`` is)
counts only the rare events: protocol errors, refusals and timeouts. Only the event loop's thread
writes, so the hot path takes no lock. Once a second a worker of the arbiter copies its numbers into
its `StatsBlock` (shared memory made before the fork, next to the heartbeat), where the master reads
them when scraped; it does so from a small thread, not the loop, so a request that blocks the loop
still shows on the status page. A single process is read directly by its status listener (a thread
too). Readers copy (the tally's values, the set of connections), which is atomic under the GIL.

The numbers have one fixed layout, `COUNTERS` then `GAUGES`, each a run of int64 slots: counters only
grow, and the master keeps those of dead workers (so totals never drop on a restart); gauges describe a
worker now. Durations are kept in microseconds. The slowest requests running and the last errors (text)
go as a short JSON document after the slots.

The exposition format is written here, not by prometheus_client: the server core is the standard library
(plus uvloop), and prometheus_client's multiprocess mode wants a directory of mmap files named by pid
and cleaned up by hand, which a pre-fork master that already owns a shared block per worker does not
need. The writer is ~80 lines: HELP/TYPE lines, escaped label values, cumulative histogram buckets.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import mmap
import os
import socket
import struct
import threading
import time
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from time import perf_counter
from types import ModuleType
from typing import TYPE_CHECKING, Any

from sockweb.http import ProtocolError
from sockweb.http._accel import PURE_ENV
from sockweb.server.clock import MONOTONIC
from sockweb.server.dispatch import leave_signals_to_the_main_thread
from sockweb.server.protocol import HttpProtocol

if TYPE_CHECKING:
    from sockweb.server.config import Config
    from sockweb.server.exchange_api import ExchangeSide
    from sockweb.server.state import ServerState

__all__ = [
    "BUCKETS",
    "COUNTERS",
    "GAUGES",
    "Metrics",
    "MetricsProtocol",
    "StatsBlock",
    "StatsdPusher",
    "View",
    "instrument",
    "process_gauges",
    "render_prometheus",
]

METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "other")
_METHOD_INDEX = {m: i for i, m in enumerate(METHODS[:-1])}
CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")
# Upper bounds (seconds) of the request duration histogram; one more bucket (+Inf) follows.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
ERROR_STATUSES = ("400", "408", "413", "414", "431", "501", "503", "505", "other")
_ERROR_INDEX = {int(s): i for i, s in enumerate(ERROR_STATUSES[:-1])}
RESTART_CAUSES = ("timeout", "signal", "error", "recycled")
# HTTP/2 error codes (RFC 9113 §7) counted apart, by name; the others (SETTINGS_TIMEOUT, STREAM_CLOSED,
# CONNECT_ERROR, INADEQUATE_SECURITY, HTTP_1_1_REQUIRED, unknown codes) count as "other".
H2_CODES = (
    "NO_ERROR",
    "PROTOCOL_ERROR",
    "INTERNAL_ERROR",
    "FLOW_CONTROL_ERROR",
    "FRAME_SIZE_ERROR",
    "REFUSED_STREAM",
    "CANCEL",
    "COMPRESSION_ERROR",
    "ENHANCE_YOUR_CALM",
    "other",
)
_H2_INDEX = {0x0: 0, 0x1: 1, 0x2: 2, 0x3: 3, 0x6: 4, 0x7: 5, 0x8: 6, 0x9: 7, 0xB: 8}
H2_RESETS_BY = ("server", "client")  # the side that sent RST_STREAM

# The shared layout: (name, slots). Counters first (summed over workers, kept after a worker dies).
COUNTERS: tuple[tuple[str, int], ...] = (
    ("requests", len(METHODS) * len(CLASSES)),
    ("duration_bucket", len(BUCKETS) + 1),
    ("duration_us", 1),
    ("bytes_in", 1),
    ("bytes_out", 1),
    ("dispatch_inline", 1),
    ("dispatch_pool", 1),
    ("protocol_errors", len(ERROR_STATUSES)),
    ("http2_connection_errors", len(H2_CODES)),  # GOAWAY sent with this error code
    ("http2_resets", len(H2_RESETS_BY) * len(H2_CODES)),  # RST_STREAM, by sender then code
)
GAUGES = (
    "pid",
    "start_time_us",  # wall clock (epoch) of the process start
    "connections_open",
    "connections_idle",
    "in_flight",
    "threads",
    "thread_queue",
    "cpu_us",
    "rss_bytes",
    "open_fds",
)
N_COUNTERS = sum(n for _, n in COUNTERS)
OFFSETS: dict[str, int] = {}
_at = 0
for _name, _n in COUNTERS:
    OFFSETS[_name] = _at
    _at += _n
del _at, _name, _n

_REQUESTS = OFFSETS["requests"]
_BUCKETS = OFFSETS["duration_bucket"]
_DURATION = OFFSETS["duration_us"]
_BYTES_IN = OFFSETS["bytes_in"]
_BYTES_OUT = OFFSETS["bytes_out"]
_INLINE = OFFSETS["dispatch_inline"]
_POOL = OFFSETS["dispatch_pool"]
_ERRORS = OFFSETS["protocol_errors"]
_H2_ERRORS = OFFSETS["http2_connection_errors"]
_H2_RESETS = OFFSETS["http2_resets"]
BUCKETS_US = tuple(round(b * 1e6) for b in BUCKETS)


class Tally:
    """The counters of one process, in the `COUNTERS` layout, and the one per-request cost of the metrics.

    This is the reference of the C `Tally` (sockweb.server._metrics), which tests/server/test_metrics_units.py
    holds equal to it. Only the event loop's thread writes; `values` is a copy any thread may take."""

    __slots__ = ("slots",)

    def __init__(self, size: int) -> None:
        self.slots = [0] * size

    def count(self, ex: ExchangeSide) -> bool:
        """Count one finished exchange; True when it was a 5xx.

        The request by method and status class (no status line at all counts as 5xx: the response
        failed), its duration since its head in whole microseconds (``perf_counter``, the clock
        `Exchange.started` was read from) into the histogram and the sum, the bytes sent with the head,
        and whether it ran inline or in the pool."""
        slots = self.slots
        status = ex.status
        # "1" -> 0 ... "4" -> 3; 5xx, and no status line at all, -> 4
        cls = ord(status[0]) - 49 if type(status) is str and status and "1" <= status[0] <= "4" else 4
        slots[_REQUESTS + _METHOD_INDEX.get(ex.request.method, 7) * len(CLASSES) + cls] += 1
        elapsed = int((perf_counter() - ex.started) * 1e6)
        slots[_BUCKETS + bisect_left(BUCKETS_US, elapsed)] += 1
        slots[_DURATION] += elapsed
        plan = ex.plan
        slots[_BYTES_OUT] += ex.sent + (len(plan.head) if plan is not None else 0)
        slots[_POOL if ex.threaded else _INLINE] += 1
        return cls == 4

    def add(self, index: int, n: int) -> None:
        self.slots[index] += n

    def received(self, data: bytes | bytearray | memoryview) -> None:
        """`data` arrived on a connection."""
        self.slots[_BYTES_IN] += len(data)

    def values(self) -> list[int]:
        return list(self.slots)


def load_tally(
    environ: Mapping[str, str] = os.environ,
    import_module: Callable[[str], ModuleType] = importlib.import_module,
) -> type[Tally]:
    """The C `Tally`, or the reference (the rule of the other accelerators: SOCKWEB_PURE_PYTHON set to a
    non-empty value other than "0", or an extension that was not built, means the reference)."""
    if environ.get(PURE_ENV, "") not in ("", "0"):
        return Tally
    try:
        module = import_module("sockweb.server._metrics")
    except ImportError:
        return Tally
    module.configure(
        perf_counter,
        _REQUESTS,
        _METHOD_INDEX,
        len(CLASSES),
        _BUCKETS,
        BUCKETS_US,
        _DURATION,
        _BYTES_OUT,
        _INLINE,
        _POOL,
        _BYTES_IN,
        # perf_counter reads CLOCK_MONOTONIC on Linux: the C count then reads that clock itself
        time.get_clock_info("perf_counter").implementation == MONOTONIC,
    )
    fast: type[Tally] = module.Tally
    return fast


TALLY = load_tally()


SLOW_SHOWN = 5  # slowest running requests per worker on the status page
ERRORS_KEPT = 10  # last errors per worker
_TEXT_MAX = 200  # longest path or message kept


def _short(text: str) -> str:
    return text if len(text) <= _TEXT_MAX else text[: _TEXT_MAX - 3] + "..."


class Metrics:
    """One process's numbers (loop thread only), and what it publishes once a second."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.started = time.time()
        self.tally = TALLY(N_COUNTERS)
        self.last_errors: deque[dict[str, Any]] = deque(maxlen=ERRORS_KEPT)
        self.block: StatsBlock | None = None
        self.statsd: StatsdPusher | None = None
        self._stop = threading.Event()
        self._publisher: threading.Thread | None = None

    # -- counting (loop thread) ------------------------------------------------------------------------
    def failed(self, ex: ExchangeSide) -> None:
        """`ex` was counted as a 5xx by the tally: keep its text for the status page."""
        env = ex.environ
        self.error(str(ex.status)[:3], f"{env['REQUEST_METHOD']} {_short(env['PATH_INFO'])}")

    def protocol_error(self, status: int, message: str) -> None:
        self.tally.add(_ERRORS + _ERROR_INDEX.get(status, len(ERROR_STATUSES) - 1), 1)
        self.error(str(status), message)

    def http2_connection_error(self, code: int, message: str) -> None:
        """An HTTP/2 connection ends with GOAWAY(`code`), an error of the client's (or of its traffic)."""
        index = _H2_INDEX.get(code, len(H2_CODES) - 1)
        self.tally.add(_H2_ERRORS + index, 1)
        self.error(H2_CODES[index] if index < len(H2_CODES) - 1 else f"h2:{code:#x}", message)

    def http2_reset(self, code: int, by_client: bool) -> None:
        """A stream was reset (RST_STREAM(`code`)) by the client, or by the server (refused, cancelled...)."""
        self.tally.add(_H2_RESETS + by_client * len(H2_CODES) + _H2_INDEX.get(code, len(H2_CODES) - 1), 1)

    def error(self, status: str, message: str) -> None:
        self.last_errors.append({"time": time.time(), "status": status, "message": _short(message)})

    # -- reading ---------------------------------------------------------------------------------------
    def counter_values(self) -> list[int]:
        """The counters in `COUNTERS` order (a copy: atomic under the GIL, safe from any thread)."""
        return self.tally.values()

    def gauge_values(self) -> list[int]:
        """The gauges in `GAUGES` order (read from any thread: copies, no iteration of live sets)."""
        state = self.state
        conns = list(state.connections)
        idle = sum(1 for c in conns if c.exchange is None and c.sink is None and not c.head_start)
        cpu, rss, fds = process_gauges()
        return [
            os.getpid(),
            int(self.started * 1e6),
            len(conns),
            idle,
            len(self.running()),
            state.pool.size,
            state.pool.queued,
            cpu,
            rss,
            fds,
        ]

    def running(self) -> list[ExchangeSide]:
        """The exchanges between their head and their last byte, read off the connections (any thread).

        Nothing is kept per request for this: each connection lists its own (`running_exchanges`: an
        HTTP/1.1 connection's one or two, an HTTP/2 connection's streams). Readers copy the set of
        connections first; each connection's reads are atomic under the GIL."""
        found: list[ExchangeSide] = []
        for conn in list(self.state.connections):
            found += conn.running_exchanges()
        return found

    def details(self) -> dict[str, Any]:
        """The slowest requests running now (method, path, seconds, layer) and the last errors."""
        now = perf_counter()
        running = self.running()
        running.sort(key=lambda ex: ex.started)
        slow = []
        for ex in running[:SLOW_SHOWN]:
            sink = getattr(getattr(ex, "conn", None), "sink", None)
            if sink is not None and sink.pending is ex:
                layer = "reading body"
            else:
                layer = "application" if ex.plan is None else "sending response"
            env = ex.environ
            slow.append(
                {
                    "method": str(env.get("REQUEST_METHOD", "")),
                    "path": _short(str(env.get("PATH_INFO", ""))),
                    "seconds": round(now - ex.started, 3),
                    "layer": layer,
                }
            )
        return {"slow": slow, "errors": list(self.last_errors)}

    def view(self, label: str) -> View:
        return View(
            label, self.counter_values(), dict(zip(GAUGES, self.gauge_values(), strict=True)), self.details()
        )

    # -- once a second ---------------------------------------------------------------------------------
    def tick(self) -> None:
        """From the loop's sweeper: push to statsd (one process)."""
        if self.statsd is not None:
            self.statsd.push([self.view("0")], None)

    def publish_to(self, block: StatsBlock) -> None:
        """Copy the numbers to the master's `block` once a second, from a thread of their own: when an
        application blocks the loop, the master still sees which request is stuck, and where."""
        self.block = block
        self._publisher = threading.Thread(target=self._publish_loop, name="sockweb-metrics", daemon=True)
        self._publisher.start()

    def _publish_loop(self) -> None:
        leave_signals_to_the_main_thread()
        while not self._stop.wait(1.0):
            self.publish()

    def publish(self) -> None:
        if self.block is not None:
            self.block.write(self.counter_values() + self.gauge_values(), self.details())

    def close(self) -> None:
        """Stop publishing, and publish the last numbers (the master keeps them when the worker exits)."""
        self._stop.set()
        if self._publisher is not None:
            self._publisher.join(2.0)
        self.publish()


def process_gauges() -> tuple[int, int, int]:
    """(CPU microseconds, resident bytes, open file descriptors) of this process; -1 where unknown."""
    times = os.times()
    cpu = int((times.user + times.system) * 1e6)
    rss = fds = -1
    try:
        with open("/proc/self/statm", "rb") as fh:
            rss = int(fh.read().split()[1]) * mmap.PAGESIZE
    except (OSError, ValueError, IndexError):
        with contextlib.suppress(ImportError):
            import resource

            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # peak, in KiB on Linux
    for where in ("/proc/self/fd", "/dev/fd"):
        with contextlib.suppress(OSError):
            fds = len(os.listdir(where)) - 1  # less the descriptor listdir itself opened
            break
    return cpu, rss, fds


# -- the instrumented connection and exchange ---------------------------------------------------------


class MetricsProtocol(HttpProtocol):
    """A connection that counts bytes in, protocol errors and finished exchanges."""

    __slots__ = ()

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        if self.closed:  # over --max-connections: refused with a 503 (or reset)
            self.state.metrics.protocol_error(503, "too many open connections")  # type: ignore[union-attr]

    def protocol_error(self, exc: ProtocolError) -> None:
        self.state.metrics.protocol_error(exc.status, f"{exc} (from {self.remote_addr})")  # type: ignore[union-attr]
        super().protocol_error(exc)

    def body_stalled(self) -> None:
        if self.exchange is None and self.sink is not None:  # answered 408 here (else via protocol_error)
            self.state.metrics.protocol_error(408, f"the request body stalled (from {self.remote_addr})")  # type: ignore[union-attr]
        super().body_stalled()

    def check_timeouts(self, now: float) -> None:
        head_start = self.head_start
        was_open = not self.closed
        super().check_timeouts(now)
        if was_open and self.closed and head_start and now - head_start > self.state.header_timeout:
            self.state.metrics.protocol_error(  # type: ignore[union-attr]
                408, f"the request head did not arrive in time (from {self.remote_addr})"
            )


def instrument(protocol: type[HttpProtocol]) -> type[HttpProtocol]:
    """The counting version of the connection class chosen so far (plain or traced).

    The exchange needs no counting class: the connection counts it at its end (`exchange_done`), and the
    requests running are read off the connections (`Metrics.running`)."""
    if protocol is not HttpProtocol:
        return type("Metered" + protocol.__name__, (MetricsProtocol, protocol), {"__slots__": ()})
    return MetricsProtocol


# -- shared memory --------------------------------------------------------------------------------------

_SLOTS = struct.Struct(f"<q{N_COUNTERS + len(GAUGES)}q")  # sequence number, then the slots
_LEN = struct.Struct("<I")


class StatsBlock:
    """One worker's numbers in shared memory: written once a second by it, read by the master.

    A sequence lock: the writer makes the sequence odd, writes, makes it even again; a reader that sees
    an odd or changed sequence reads again, so it never mixes two seconds' numbers.
    """

    __slots__ = ("_lock", "_mem", "_seq")

    def __init__(self, mem: mmap.mmap) -> None:
        self._mem = mem
        self._seq = 0
        self._lock = threading.Lock()  # one writer at a time: the publisher thread, or the last publish

    def write(self, values: list[int], details: dict[str, Any]) -> None:
        with self._lock:
            self._write(values, details)

    def _write(self, values: list[int], details: dict[str, Any]) -> None:
        mem = self._mem
        text = json.dumps(details, separators=(",", ":")).encode()
        room = len(mem) - _SLOTS.size - _LEN.size
        if len(text) > room:
            text = b"{}"
        self._seq += 1
        struct.pack_into("<q", mem, 0, self._seq * 2 - 1)
        _SLOTS.pack_into(mem, 0, self._seq * 2 - 1, *values)
        _LEN.pack_into(mem, _SLOTS.size, len(text))
        mem[_SLOTS.size + _LEN.size : _SLOTS.size + _LEN.size + len(text)] = text
        struct.pack_into("<q", mem, 0, self._seq * 2)

    @staticmethod
    def read(mem: mmap.mmap) -> tuple[list[int], dict[str, Any]] | None:
        """The last numbers written to `mem`, or None before the first write."""
        for _ in range(100):
            seq, *values = _SLOTS.unpack_from(mem, 0)
            if seq == 0:
                return None
            if seq % 2:
                time.sleep(0.0005)
                continue
            (size,) = _LEN.unpack_from(mem, _SLOTS.size)
            start = _SLOTS.size + _LEN.size
            text = bytes(mem[start : start + min(size, len(mem) - start)])
            if struct.unpack_from("<q", mem, 0)[0] != seq:
                continue
            try:
                details = json.loads(text)
            except ValueError:
                details = {}
            return values, details
        return None


# -- rendering ------------------------------------------------------------------------------------------


@dataclass
class View:
    """One process's numbers as read for a scrape: its label (worker slot), counters and gauges."""

    label: str
    counters: list[int]
    gauges: dict[str, int]
    details: dict[str, Any] = field(default_factory=dict)

    def counter(self, name: str, index: int = 0) -> int:
        return self.counters[OFFSETS[name] + index]

    @property
    def served(self) -> int:
        return sum(self.counters[: len(METHODS) * len(CLASSES)])


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class _Writer:
    """Prometheus text exposition format 0.0.4: HELP and TYPE once per family, then its samples."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, text: str) -> None:
        self.lines.append(f"# HELP {name} {text}")
        self.lines.append(f"# TYPE {name} {kind}")

    def sample(self, name: str, value: float, **labels: str) -> None:
        if labels:
            inner = ",".join(f'{k}="{_esc(v)}"' for k, v in labels.items())
            name = f"{name}{{{inner}}}"
        if isinstance(value, float):
            self.lines.append(f"{name} {value!r}")
        else:
            self.lines.append(f"{name} {value}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def sum_counters(views: Iterable[Sequence[int]]) -> list[int]:
    total = [0] * N_COUNTERS
    for values in views:
        for i, v in enumerate(values[:N_COUNTERS]):
            total[i] += v
    return total


def render_prometheus(
    workers: list[View],
    retired: list[int],
    master: View | None = None,
    restarts: dict[str, int] | None = None,
) -> str:
    """The scrape: counters summed over `workers` and `retired` (dead workers' last numbers), gauges per
    worker (label ``worker``), the master's own process numbers, and worker restarts by cause."""
    total = sum_counters([retired, *(v.counters for v in workers)])
    w = _Writer()
    w.family("sockweb_requests_total", "counter", "Requests answered, by method and status class.")
    at = OFFSETS["requests"]
    for mi, method in enumerate(METHODS):
        for ci, cls in enumerate(CLASSES):
            w.sample("sockweb_requests_total", total[at + mi * 5 + ci], method=method, status=cls)
    w.family("sockweb_request_duration_seconds", "histogram", "From the request head to the last byte.")
    at = OFFSETS["duration_bucket"]
    cumulative = 0
    for i, bound in enumerate((*BUCKETS, None)):
        cumulative += total[at + i]
        le = "+Inf" if bound is None else repr(bound)
        w.sample("sockweb_request_duration_seconds_bucket", cumulative, le=le)
    w.sample("sockweb_request_duration_seconds_sum", total[OFFSETS["duration_us"]] / 1e6)
    w.sample("sockweb_request_duration_seconds_count", cumulative)
    w.family("sockweb_received_bytes_total", "counter", "Bytes received from clients.")
    w.sample("sockweb_received_bytes_total", total[OFFSETS["bytes_in"]])
    w.family("sockweb_sent_bytes_total", "counter", "Response bytes (heads and bodies) sent to clients.")
    w.sample("sockweb_sent_bytes_total", total[OFFSETS["bytes_out"]])
    w.family("sockweb_dispatch_total", "counter", "Applications called on the event loop or in the pool.")
    w.sample("sockweb_dispatch_total", total[OFFSETS["dispatch_inline"]], mode="inline")
    w.sample("sockweb_dispatch_total", total[OFFSETS["dispatch_pool"]], mode="pool")
    w.family(
        "sockweb_protocol_errors_total", "counter", "Requests refused before the application, by status."
    )
    at = OFFSETS["protocol_errors"]
    for i, status in enumerate(ERROR_STATUSES):
        w.sample("sockweb_protocol_errors_total", total[at + i], status=status)
    w.family(
        "sockweb_http2_connection_errors_total",
        "counter",
        "HTTP/2 connections ended by a connection error (GOAWAY sent), by error code.",
    )
    at = OFFSETS["http2_connection_errors"]
    for i, code in enumerate(H2_CODES):
        w.sample("sockweb_http2_connection_errors_total", total[at + i], code=code)
    w.family(
        "sockweb_http2_stream_resets_total",
        "counter",
        "HTTP/2 streams reset (RST_STREAM), by the side that reset them and error code.",
    )
    at = OFFSETS["http2_resets"]
    for bi, by in enumerate(H2_RESETS_BY):
        for i, code in enumerate(H2_CODES):
            n = total[at + bi * len(H2_CODES) + i]
            w.sample("sockweb_http2_stream_resets_total", n, by=by, code=code)
    if restarts is not None:
        w.family("sockweb_worker_restarts_total", "counter", "Workers replaced after an unexpected exit.")
        for cause in RESTART_CAUSES:
            w.sample("sockweb_worker_restarts_total", restarts.get(cause, 0), cause=cause)
        w.family("sockweb_workers", "gauge", "Worker processes running.")
        w.sample("sockweb_workers", len(workers))
    w.family("sockweb_worker_requests_total", "counter", "Requests answered by each worker since it started.")
    for v in workers:
        w.sample("sockweb_worker_requests_total", v.served, worker=v.label)
    per_worker = (
        ("sockweb_connections", "Open connections, and those of them idle (keep-alive).", None),
        ("sockweb_requests_in_flight", "Requests between their head and their last byte.", "in_flight"),
        ("sockweb_threads", "Threads of the application pool.", "threads"),
        ("sockweb_thread_queue_depth", "Requests waiting for a pool thread.", "thread_queue"),
    )
    for name, text, key in per_worker:
        w.family(name, "gauge", text)
        for v in workers:
            if key is None:
                w.sample(name, v.gauges["connections_open"], worker=v.label, state="open")
                w.sample(name, v.gauges["connections_idle"], worker=v.label, state="idle")
            else:
                w.sample(name, v.gauges[key], worker=v.label)
    processes = [*workers, *([master] if master is not None else [])]
    w.family("process_cpu_seconds_total", "counter", "User and system CPU time, in seconds.")
    for v in processes:
        w.sample("process_cpu_seconds_total", v.gauges["cpu_us"] / 1e6, worker=v.label)
    w.family("process_resident_memory_bytes", "gauge", "Resident memory size, in bytes.")
    for v in processes:
        w.sample("process_resident_memory_bytes", v.gauges["rss_bytes"], worker=v.label)
    w.family("process_open_fds", "gauge", "Open file descriptors.")
    for v in processes:
        w.sample("process_open_fds", v.gauges["open_fds"], worker=v.label)
    w.family("process_start_time_seconds", "gauge", "Start time of the process since the epoch, in seconds.")
    for v in processes:
        w.sample("process_start_time_seconds", v.gauges["start_time_us"] / 1e6, worker=v.label)
    return w.text()


def master_view(started: float) -> View:
    """The master's own process numbers (it serves no requests)."""
    cpu, rss, fds = process_gauges()
    gauges = dict.fromkeys(GAUGES, 0)
    gauges.update(pid=os.getpid(), start_time_us=int(started * 1e6), cpu_us=cpu, rss_bytes=rss, open_fds=fds)
    return View("master", [0] * N_COUNTERS, gauges)


# -- statsd -----------------------------------------------------------------------------------------------


class StatsdPusher:
    """Push the numbers once a second over UDP: counters as deltas (``|c``), gauges (``|g``).

    Plain statsd puts the labels in the name (``sockweb.requests.GET.2xx``); with dogstatsd tags they
    go in the ``|#`` extension. Send errors are ignored: statsd is best-effort by design.
    """

    def __init__(self, config: Config) -> None:
        host, _, port = (config.statsd_host or "").rpartition(":")
        self.prefix = config.statsd_prefix.rstrip(".")
        self.tags = config.dogstatsd_tags
        self.dog = bool(self.tags)
        self.last: list[int] | None = None
        # Resolved once, at start: a name lookup once a second could block the loop.
        try:
            family, kind, proto, _, address = socket.getaddrinfo(
                host.strip("[]"), int(port), type=socket.SOCK_DGRAM
            )[0]
        except OSError as exc:
            raise ValueError(f"--statsd-host: cannot resolve {config.statsd_host!r}: {exc}") from None
        self.address: Any = address
        self.sock = socket.socket(family, kind, proto)
        self.sock.setblocking(False)

    def metric(self, name: str, value: float, kind: str, **labels: str) -> str:
        if self.dog:
            tags = ",".join([*self.tags, *(f"{k}:{v}" for k, v in labels.items())])
            return f"{self.prefix}.{name}:{value:g}|{kind}" + (f"|#{tags}" if tags else "")
        parts = [self.prefix, name, *labels.values()]
        return ".".join(parts) + f":{value:g}|{kind}"

    def lines(self, workers: list[View], retired: list[int] | None) -> list[str]:
        total = sum_counters([retired or [], *(v.counters for v in workers)])
        last = self.last or [0] * N_COUNTERS  # the first push sends what was counted since the start
        self.last = total
        delta = [a - b for a, b in zip(total, last, strict=True)]
        out = []
        at = OFFSETS["requests"]
        for mi, method in enumerate(METHODS):
            for ci, cls in enumerate(CLASSES):
                if delta[at + mi * 5 + ci]:
                    out.append(
                        self.metric("requests", delta[at + mi * 5 + ci], "c", method=method, status=cls)
                    )
        at = OFFSETS["protocol_errors"]
        for i, status in enumerate(ERROR_STATUSES):
            if delta[at + i]:
                out.append(self.metric("protocol_errors", delta[at + i], "c", status=status))
        at = OFFSETS["http2_connection_errors"]
        for i, code in enumerate(H2_CODES):
            if delta[at + i]:
                out.append(self.metric("http2_connection_errors", delta[at + i], "c", code=code))
        at = OFFSETS["http2_resets"]
        for bi, by in enumerate(H2_RESETS_BY):
            for i, code in enumerate(H2_CODES):
                n = delta[at + bi * len(H2_CODES) + i]
                if n:
                    out.append(self.metric("http2_stream_resets", n, "c", by=by, code=code))
        for name in ("bytes_in", "bytes_out", "dispatch_inline", "dispatch_pool"):
            if delta[OFFSETS[name]]:
                out.append(self.metric(name, delta[OFFSETS[name]], "c"))
        count = sum(delta[OFFSETS["duration_bucket"] : OFFSETS["duration_bucket"] + len(BUCKETS) + 1])
        if count:
            out.append(
                self.metric("request_duration_avg_ms", delta[OFFSETS["duration_us"]] / count / 1000, "g")
            )
        for v in workers:
            label = {"worker": v.label} if self.dog else {}
            prefix = "" if self.dog else f"worker{v.label}."
            for key in ("connections_open", "connections_idle", "in_flight", "threads", "thread_queue"):
                out.append(self.metric(prefix + key, v.gauges[key], "g", **label))
        return out

    def push(self, workers: list[View], retired: list[int] | None) -> None:
        packet = b""
        for line in self.lines(workers, retired):
            data = line.encode()
            if packet and len(packet) + len(data) + 1 > 1400:
                self._send(packet)
                packet = b""
            packet = packet + b"\n" + data if packet else data
        if packet:
            self._send(packet)

    def _send(self, packet: bytes) -> None:
        with contextlib.suppress(OSError):
            self.sock.sendto(packet, self.address)
