#!/usr/bin/env python3
"""Run the upstream Flask 3.1 and Werkzeug 3.1 test suites against sockweb through sockweb.flask_patch.

    python tests/upstream/run.py [--suite flask|werkzeug|both] [--files test_basic.py ...] [--check]

The sdists are fetched with ``pip download`` into ``.upstream-cache/`` (gitignored, never committed) and
their ``tests/`` run in a pytest subprocess whose first plugin imports ``sockweb.flask_patch``. Each test
counts once: passed, failed (call failed), error (setup/teardown failed), skipped, or not run (the test
exists upstream - a collection against the sdist's own ``src/`` finds it - but did not collect under the
patch, e.g. because an import failed). Tests listed in ``known_differences.txt`` (sockweb differs on purpose)
leave the denominator and are listed apart, as are skipped tests. With ``--check`` the exit status is 1
when a target set falls below its floor in :data:`FLOORS`: the floors are the measured values (rounded
down), so CI catches a regression; the issue's targets are printed next to them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CACHE = Path(os.environ.get("SOCKWEB_UPSTREAM_CACHE", REPO / ".upstream-cache"))
KNOWN = HERE / "known_differences.txt"
PLUGIN = "sockweb_upstream_plugin"

PINS = {"flask": "flask==3.1.*", "werkzeug": "werkzeug==3.1.*"}

# The files each suite is judged on (the target sets).
TARGET_FILES = {
    "flask": [
        "test_basic.py", "test_blueprints.py", "test_reqctx.py", "test_appctx.py", "test_json.py",
        "test_templating.py", "test_testing.py", "test_helpers.py", "test_config.py",
        "test_user_error_handler.py", "test_request.py", "test_session_interface.py", "test_signals.py",
        "test_views.py", "test_cli.py", "test_converters.py", "test_async.py", "test_logging.py",
    ],
    "werkzeug": [
        "test_datastructures.py", "test_http.py", "test_routing.py", "test_wrappers.py", "test_exceptions.py",
        "test_formparser.py", "test_test.py", "test_wsgi.py", "test_utils.py", "test_urls.py",
        "test_send_file.py", "test_security.py", "middleware/test_shared_data.py", "middleware/test_lint.py",
        "middleware/test_proxy_fix.py", "middleware/test_dispatcher.py",
    ],
}  # fmt: skip
# The goals, in percent of the target set passing.
TARGETS = {"flask": 90.0, "werkzeug": 85.0}
# Regression floors for --check: (passed tests, percent) of the target set as last measured, less a small
# margin (a few upstream tests depend on timing).
FLOORS = {"flask": (440, 94.0), "werkzeug": (730, 92.0)}

PER_TEST_TIMEOUT = 30  # seconds, via pytest-timeout: a hanging upstream test fails, it never stalls CI
FILE_TIMEOUT = 300  # seconds for one test file's pytest process

PLUGIN_SOURCE = '''\
"""Imports sockweb.flask_patch before any test module, then records each test's outcome as JSON lines."""
import json, os
import sockweb.flask_patch  # noqa: F401  (must come first: conftest.py imports flask/werkzeug)

_out = open(os.environ["SOCKWEB_UPSTREAM_RESULTS"], "a", encoding="utf-8")

def _write(**record):
    _out.write(json.dumps(record) + "\\n")
    _out.flush()

def pytest_runtest_logreport(report):
    outcome = report.outcome
    if hasattr(report, "wasxfail"):
        outcome = "xpassed" if outcome == "passed" else "skipped"
    _write(nodeid=report.nodeid, when=report.when, outcome=outcome)

def pytest_collectreport(report):
    if report.failed:
        _write(nodeid=report.nodeid, when="collect", outcome="failed",
               message=str(report.longrepr).strip().splitlines()[-1][:300])
'''


# ---------------------------------------------------------------- fetching


def fetch(suite: str) -> Path:
    """The extracted sdist directory of ``suite`` in the cache, downloading it with pip when missing."""
    CACHE.mkdir(parents=True, exist_ok=True)
    sdists = sorted(CACHE.glob(f"{suite}-3.1.*.tar.gz"))
    if not sdists:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "-q",
             "-d", str(CACHE), PINS[suite]],
            check=True,
        )  # fmt: skip
        sdists = sorted(CACHE.glob(f"{suite}-3.1.*.tar.gz"))
    if not sdists:
        raise SystemExit(f"pip download of {PINS[suite]} gave no sdist in {CACHE}")
    sdist = max(sdists, key=lambda p: [int(x) for x in p.name[len(suite) + 1 : -7].split(".")])
    root = CACHE / sdist.name[:-7]
    if not (root / "tests").is_dir():
        with tarfile.open(sdist) as tar:
            tar.extractall(CACHE, filter="data")
    return root


# ---------------------------------------------------------------- running


def _env(extra_path: list[Path], results: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # an installed pytest-flask would import the real flask
    env["PYTHONPATH"] = os.pathsep.join([str(p) for p in extra_path] + [env.get("PYTHONPATH", "")])
    env.pop("FLASK_APP", None)
    if results is not None:
        env["SOCKWEB_UPSTREAM_RESULTS"] = str(results)
    return env


def _pytest_args(root: Path, files: list[str]) -> list[str]:
    targets = [str(root / "tests" / f) for f in files] if files else [str(root / "tests")]
    return [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "pytest_timeout",
        f"--rootdir={root}", "-c", str(root / "pyproject.toml"), *targets,
    ]  # fmt: skip


def reference_ids(suite: str, root: Path, roots: dict[str, Path], files: list[str]) -> set[str]:
    """Test ids the suite has, collected against the real upstream code of the sdists (no patch)."""
    src = [roots[s] / "src" for s in ("flask", "werkzeug") if s in roots]
    proc = subprocess.run(
        [*_pytest_args(root, files), "--collect-only", "-o", "addopts="],
        env=_env(src, None), cwd=root, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    ids = {line.strip() for line in proc.stdout.splitlines() if "::" in line and not line.startswith(" ")}
    if not ids:
        raise SystemExit(
            f"collecting the real {suite} suite found no tests:\n{proc.stdout[-3000:]}{proc.stderr}"
        )
    return ids


def run_patched(root: Path, files: list[str], workdir: Path) -> tuple[list[dict[str, str]], str]:
    """Run each test file under the patch in its own pytest process; returns the outcomes and a summary.

    One process per file bounds the damage of a test that hangs in a way pytest-timeout cannot break
    (a dev server that took over the signals): the file's process group is killed after FILE_TIMEOUT and
    its tests not reached count as not run.
    """
    results = workdir / "results.jsonl"
    (workdir / f"{PLUGIN}.py").write_text(PLUGIN_SOURCE, encoding="utf-8")
    env = _env([workdir, REPO / "src"], results)
    problems = []
    for name in files:
        cmd = [
            *_pytest_args(root, [name]), "--continue-on-collection-errors", "-p", PLUGIN,
            f"--timeout={PER_TEST_TIMEOUT}", "-o", "addopts=",
        ]  # fmt: skip
        with subprocess.Popen(
            cmd, env=env, cwd=root, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, start_new_session=True,
        ) as proc:  # fmt: skip
            try:
                output = proc.communicate(timeout=FILE_TIMEOUT)[0]
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
                problems.append(f"{name}: killed after {FILE_TIMEOUT}s")
                continue
            finally:
                _kill_group(proc.pid)  # a dev server or reloader child a test left behind
        if proc.returncode not in (0, 1, 2):
            problems.append(f"{name}: pytest exited {proc.returncode}: {output.strip()[-300:]}")
    records = []
    if results.exists():
        records = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines() if line]
    return records, "; ".join(problems) or f"{len(files)} files run"


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


# ---------------------------------------------------------------- accounting


@dataclass
class FileStats:
    passed: int = 0
    failed: int = 0
    error: int = 0
    skipped: int = 0
    not_run: int = 0
    known: int = 0
    collect_error: str = ""

    @property
    def total(self) -> int:
        """The denominator: every upstream test but skipped ones and known differences."""
        return self.passed + self.failed + self.error + self.not_run

    @property
    def percent(self) -> float:
        return 100.0 * self.passed / self.total if self.total else 100.0


@dataclass
class SuiteResult:
    files: dict[str, FileStats] = field(default_factory=dict)
    failing: list[str] = field(default_factory=list)
    known_seen: list[str] = field(default_factory=list)


def load_known(path: Path = KNOWN) -> dict[str, str]:
    """``suite/tests/file.py::test id  reason`` lines -> {node id: reason}; a line without a reason is an error.

    Two or more spaces end the node id (a parametrized id may hold single spaces)."""
    known: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        nodeid, reason = [*re.split(r" {2,}", line, maxsplit=1), ""][:2]
        if not reason.strip() or "::" not in nodeid:
            raise SystemExit(f"{path.name}:{number}: expected '<suite>/tests/<file>::<test> <reason>'")
        known[nodeid] = reason.strip()
    return known


def file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0].removeprefix("tests/")


def account(
    suite: str, reference: set[str], records: list[dict[str, str]], known: dict[str, str]
) -> SuiteResult:
    outcome: dict[str, str] = {}
    result = SuiteResult()
    for rec in records:
        nodeid, when, status = rec["nodeid"], rec["when"], rec["outcome"]
        if when == "collect":
            stats = result.files.setdefault(file_of(nodeid), FileStats())
            stats.collect_error = rec.get("message", "collection failed")
            continue
        previous = outcome.get(nodeid)
        if status == "skipped":
            outcome[nodeid] = previous or "skipped"
        elif status == "failed":
            outcome[nodeid] = "failed" if when == "call" else "error"
        elif previous is None:
            outcome[nodeid] = "passed" if when == "call" or status == "xpassed" else "pending"
        elif when == "call":
            outcome[nodeid] = "passed"
    for nodeid in sorted(reference | set(outcome)):
        stats = result.files.setdefault(file_of(nodeid), FileStats())
        if f"{suite}/{nodeid}" in known:
            stats.known += 1
            result.known_seen.append(f"{suite}/{nodeid}")
            continue
        status = outcome.get(nodeid, "not_run")
        status = "error" if status == "pending" else status
        setattr(stats, status, getattr(stats, status) + 1)
        if status in ("failed", "error", "not_run"):
            result.failing.append(f"{nodeid} [{status}]")
    return result


# ---------------------------------------------------------------- report


def totals(result: SuiteResult, names: list[str]) -> FileStats:
    total = FileStats()
    for name in names:
        stats = result.files.get(name, FileStats())
        for attr in ("passed", "failed", "error", "skipped", "not_run", "known"):
            setattr(total, attr, getattr(total, attr) + getattr(stats, attr))
    return total


def row(name: str, s: FileStats, mark: str = " ") -> str:
    note = f"  collect error: {s.collect_error}" if s.collect_error else ""
    return (
        f"{mark} {name:<32}{s.passed:>6}{s.failed:>6}{s.error:>6}{s.not_run:>7}{s.skipped:>6}{s.known:>6}"
        f"{s.total:>7}{s.percent:>7.1f}%{note}"
    )


def report(suite: str, result: SuiteResult, targets: list[str], summary: str) -> tuple[int, float]:
    print(f"\n== {suite} ({summary})")
    print(
        f"{'file':<34}{'pass':>6}{'fail':>6}{'error':>6}{'notrun':>7}{'skip':>6}{'known':>6}{'total':>7}{'%':>8}"
    )
    for name in sorted(result.files):
        print(row(name, result.files[name], "*" if name in targets else " "))
    everything = totals(result, sorted(result.files))
    target = totals(result, targets)
    print(row("all files", everything))
    print(row("target files", target, "*"))
    floor = FLOORS[suite]
    print(
        f"target set: {target.passed}/{target.total} = {target.percent:.1f}% (issue target "
        f"{TARGETS[suite]:.0f}%, regression floor {floor[1]:.1f}% and {floor[0]} passed); "
        f"known differences: {len(result.known_seen)}"
    )
    return target.passed, target.percent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", choices=("flask", "werkzeug", "both"), default="both")
    parser.add_argument("--files", nargs="*", default=[], help="test files relative to tests/ (one suite)")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target set is below its floor")
    parser.add_argument("--failures", action="store_true", help="list every failing test id")
    parser.add_argument("--json", type=Path, help="also write the per-file counts as JSON here")
    args = parser.parse_args(argv)
    suites = ["flask", "werkzeug"] if args.suite == "both" else [args.suite]
    if args.files and len(suites) > 1:
        parser.error("--files needs --suite flask or --suite werkzeug")
    known = load_known()
    roots = {s: fetch(s) for s in ("flask", "werkzeug")}  # flask's reference run needs werkzeug's src
    status = 0
    dump: dict[str, dict[str, dict[str, int]]] = {}
    for suite in suites:
        root = roots[suite]
        targets = [f for f in TARGET_FILES[suite] if not args.files or f in args.files]
        reference = reference_ids(suite, root, roots, args.files)
        files = args.files or sorted({file_of(nodeid) for nodeid in reference})
        with tempfile.TemporaryDirectory(prefix="sockweb-upstream-") as tmp:
            records, summary = run_patched(root, files, Path(tmp))
        result = account(suite, reference, records, known)
        passed, percent = report(suite, result, targets, summary)
        if args.failures:
            print("\n".join(f"  FAIL {line}" for line in result.failing))
        dump[suite] = {
            n: {k: getattr(s, k) for k in ("passed", "total", "known")} for n, s in result.files.items()
        }
        floor_passed, floor_percent = FLOORS[suite]
        if args.check and not args.files and (passed < floor_passed or percent < floor_percent):
            print(f"FAIL: {suite} target set below its regression floor", file=sys.stderr)
            status = 1
    if args.json:
        args.json.write_text(json.dumps(dump, indent=1, sort_keys=True), encoding="utf-8")
    return status


if __name__ == "__main__":
    sys.exit(main())
