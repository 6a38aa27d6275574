"""The server's clock for request durations and the dispatch policy's watch: ``time.perf_counter``.

A request reads it two or three times (the inline call's watch, the start and end of a timed exchange).
Where perf_counter is CLOCK_MONOTONIC (Linux; ``time.get_clock_info`` says so), the C accelerator
``sockweb.server._metrics.monotonic_seconds`` reads that clock and converts it as perf_counter does: the
same values, without perf_counter's general path (about 350 instructions a read, against about 130).
Elsewhere, without the accelerator, or with SOCKWEB_PURE_PYTHON set, `clock` is perf_counter itself.
tests/server/test_metrics_units.py holds the two readings of one clock in order.
"""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Callable, Mapping
from types import ModuleType

from sockweb.http._accel import PURE_ENV

MONOTONIC = "clock_gettime(CLOCK_MONOTONIC)"


def load_clock(
    environ: Mapping[str, str] = os.environ,
    import_module: Callable[[str], ModuleType] = importlib.import_module,
    implementation: str | None = None,
) -> Callable[[], float]:
    """The C reading of perf_counter's clock where it is the same clock, else perf_counter."""
    if implementation is None:
        implementation = time.get_clock_info("perf_counter").implementation
    if implementation != MONOTONIC or environ.get(PURE_ENV, "") not in ("", "0"):
        return time.perf_counter
    try:
        module = import_module("sockweb.server._metrics")
    except ImportError:
        return time.perf_counter
    fast: Callable[[], float] | None = getattr(module, "monotonic_seconds", None)
    return time.perf_counter if fast is None else fast


clock = load_clock()
