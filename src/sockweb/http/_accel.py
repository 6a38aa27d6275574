"""Which head scanner the parser uses: the C accelerator (`_speedups`) or the pure-Python reference.

Strategy: the choice is made once, at import. The accelerator is used when it was built (a compiler was
present at install time) and the environment variable SOCKWEB_PURE_PYTHON is not set to a non-empty value
other than "0"; otherwise the parser runs its pure-Python reference, which is always there and gives the same
events (tests/http/test_http_speedups.py holds the two equal). `describe_parser()` says which one runs,
for `sockweb --version` and the server's start-up log. The parsers of a process share one scanner per set
of Limits (`SHARED_SCANNER`), so that the scanner's table of field names (see _speedups.c) serves every
connection, not only the requests of one.
"""

from __future__ import annotations

import functools
import importlib
import os
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .events import Request
    from .limits import Limits

PURE_ENV = "SOCKWEB_PURE_PYTHON"


class HeadScanner(Protocol):
    """The accelerator's interface: built for one set of Limits, `scan` as RequestParser._common_head."""

    def __init__(self, limits: Limits, request_type: type[Request]) -> None: ...

    def scan(self, buf: bytes | bytearray, end: int, /) -> Request | None: ...


def load_scanner(
    environ: Mapping[str, str] = os.environ,
    import_module: Callable[[str], ModuleType] = importlib.import_module,
) -> tuple[type[HeadScanner] | None, str]:
    """(the accelerator's HeadScanner, or None for the pure path; the reason, in words for a person)."""
    if environ.get(PURE_ENV, "") not in ("", "0"):
        return None, f"pure Python ({PURE_ENV} is set)"
    try:
        module = import_module("sockweb.http._speedups")
    except ImportError:
        return None, "pure Python (the C accelerator is not built: no compiler at install time)"
    scanner: type[HeadScanner] = module.HeadScanner
    return scanner, "C accelerator (sockweb.http._speedups)"


SCANNER, _DESCRIPTION = load_scanner()
# find_head_end(buf, start): buf.find(b"\r\n\r\n", start) in C (the parser's search for the end of a
# head), with the accelerator; None for the pure path, which calls find itself.
FIND_HEAD_END: Callable[[bytes | bytearray, int], int] | None = (
    None if SCANNER is None else importlib.import_module("sockweb.http._speedups").find_head_end
)
# One scanner per (Limits, request type) in the process; a scanner is a pure function of those and of its
# input, so sharing changes no result. Bound: a server has one set of Limits, tests a few more.
SHARED_SCANNER: Callable[..., HeadScanner] | None = (
    None if SCANNER is None else functools.lru_cache(maxsize=16)(SCANNER)
)


def describe_parser() -> str:
    """Which request-head parser this process runs, in words for a person."""
    return _DESCRIPTION
