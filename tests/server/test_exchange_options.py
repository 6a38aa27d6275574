"""The per-request options are subclasses of the exchange picked at start-up: none set, the plain one."""

from __future__ import annotations

from sockweb.server.config import Config
from sockweb.server.state import _exchange_class
from sockweb.server.trace import TraceExchange
from sockweb.server.wsgi import Exchange


def _hook(*args: object) -> None:
    pass


def test_no_option_no_subclass() -> None:
    assert _exchange_class(Config(), Exchange, None) is Exchange


def test_options_stack_in_order() -> None:
    config = Config(root_path="/app", pre_request=_hook, limit_concurrency=3, trace=True)
    cls = _exchange_class(config, TraceExchange, None)
    names = [c.__name__ for c in cls.__mro__[:5]]
    # The limit sheds before the hooks run; the mount fixes PATH_INFO before the hooks see it.
    assert names == [
        "LimitedHookedMountedTraceExchange",
        "HookedMountedTraceExchange",
        "MountedTraceExchange",
        "TraceExchange",
        "Exchange",
    ]
    assert cls.gate.limit == 3  # type: ignore[attr-defined]
