"""Every program a test looks up is one that .ci/run installs, so CI on a fresh machine has them all.

Tests find their programs with ``shutil.which("name")`` or the ``_need("name")`` helpers; this scans the
test sources for those calls and compares with the ``PROGRAMS`` table of .ci/run (command, Debian package).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOOKUP = re.compile(r"""\b(?:which|_need)\(\s*["']([^"']+)["']""")


def programs_tests_start() -> dict[str, set[str]]:
    """Program name -> the test files that look it up."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / "tests").rglob("*.py")):
        if path.resolve() == Path(__file__).resolve():
            continue
        for name in LOOKUP.findall(path.read_text(encoding="utf-8")):
            found.setdefault(Path(name).name, set()).add(str(path.relative_to(ROOT)))
    return found


def programs_ci_installs() -> dict[str, str]:
    """Command -> Debian package, from the PROGRAMS table of .ci/run."""
    text = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    match = re.search(r'^PROGRAMS="\n(.*?)^"', text, re.MULTILINE | re.DOTALL)
    assert match, ".ci/run has no PROGRAMS table"
    return {line.split()[0]: line.split()[1] for line in match.group(1).splitlines() if line.strip()}


def test_the_scan_sees_the_programs_of_the_browser_proxy_and_redis_tests() -> None:
    # Guards the scan itself: were the regular expression to match nothing, the next test would pass.
    assert {"nginx", "redis-server", "chromium", "chromedriver"} <= programs_tests_start().keys()


def test_ci_installs_every_program_a_test_starts() -> None:
    installs = programs_ci_installs()
    missing = {name: files for name, files in programs_tests_start().items() if name not in installs}
    assert not missing, f".ci/run does not install: {missing}"


def test_ci_names_the_debian_package_of_chromedriver() -> None:
    assert programs_ci_installs()["chromedriver"] == "chromium-driver"
