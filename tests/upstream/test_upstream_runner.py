"""The accounting of tests/upstream/run.py, on recorded outcomes (no download, no upstream run)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("upstream_run", Path(__file__).with_name("run.py"))
assert _spec and _spec.loader
run = importlib.util.module_from_spec(_spec)
sys.modules["upstream_run"] = run  # dataclasses look their module up there
_spec.loader.exec_module(run)


def rec(nodeid: str, when: str, outcome: str) -> dict[str, str]:
    return {"nodeid": nodeid, "when": when, "outcome": outcome}


def test_each_upstream_test_counts_once_and_uncollected_ones_count_as_not_run() -> None:
    reference = {f"tests/test_a.py::{n}" for n in ("ok", "bad", "setup", "teardown", "skip", "known")}
    reference |= {"tests/test_b.py::never"}
    a = "tests/test_a.py::"
    records = [
        rec(a + "ok", "setup", "passed"), rec(a + "ok", "call", "passed"), rec(a + "ok", "teardown", "passed"),
        rec(a + "bad", "setup", "passed"), rec(a + "bad", "call", "failed"),
        rec(a + "setup", "setup", "failed"),
        rec(a + "teardown", "call", "passed"), rec(a + "teardown", "teardown", "failed"),
        rec(a + "skip", "setup", "skipped"),
        rec(a + "known", "call", "failed"),
        {"nodeid": "tests/test_b.py", "when": "collect", "outcome": "failed", "message": "ImportError: x"},
    ]  # fmt: skip
    result = run.account("flask", reference, records, {"flask/tests/test_a.py::known": "on purpose"})
    a_stats, b_stats = result.files["test_a.py"], result.files["test_b.py"]
    assert (a_stats.passed, a_stats.failed, a_stats.error, a_stats.skipped, a_stats.known) == (1, 1, 2, 1, 1)
    assert a_stats.total == 4 and a_stats.percent == 25.0
    assert (b_stats.not_run, b_stats.total, b_stats.collect_error) == (1, 1, "ImportError: x")
    assert result.known_seen == ["flask/tests/test_a.py::known"]


def test_known_differences_need_a_reason(tmp_path: Path) -> None:
    good = tmp_path / "good.txt"
    good.write_text("# comment\n\nflask/tests/test_a.py::t  sockweb answers 400 here\n")
    assert run.load_known(good) == {"flask/tests/test_a.py::t": "sockweb answers 400 here"}
    bad = tmp_path / "bad.txt"
    bad.write_text("flask/tests/test_a.py::t\n")
    with pytest.raises(SystemExit, match=r"bad\.txt:1"):
        run.load_known(bad)


def test_the_committed_list_parses() -> None:
    run.load_known()
