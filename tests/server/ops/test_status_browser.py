"""The /status page seen from headless Chromium: its script draws the page from /status.json and keeps
it fresh, and a slow request that is running shows with its path and layer."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from ops_helpers import Server, wait_until
from test_metrics import fetch, in_background, metrics_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
        reason="chromium is not installed (install Debian's chromium to run the browser tests)",
    ),
]


def dump_dom(url: str) -> str:
    """The DOM of `url` after the page's scripts ran for a few (virtual) seconds."""
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        result = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--virtual-time-budget=5000",
                "--dump-dom",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_status_page_draws_itself_and_shows_the_slow_request(
    serve: Callable[..., Server], app_dir: Path
) -> None:
    server = serve("--workers", "2", "--metrics-bind", "127.0.0.1:0", "--dispatch", "pool")
    port = metrics_port(server)
    in_background(server, "/slow?20")
    wait_until((app_dir / "inflight.log").exists, what="the slow request to reach the app")
    # Workers publish their numbers to the master once a second: wait until /status.json has the request,
    # then see that the page draws what it says (headless Chromium's virtual time passes in a moment, so
    # the page's own refreshes cannot be relied on to wait for the next publication).
    wait_until(lambda: '"/slow"' in fetch(port, "/status.json")[1], what="the slow request on /status.json")
    dom = dump_dom(f"http://127.0.0.1:{port}/status")
    updated = re.search(r'<body data-updated="(\d+)"', dom)
    assert updated is not None and int(updated.group(1)) >= 1, dom[:2000]  # drawn by the script
    assert "<td>/slow</td>" in dom
    assert "<td>application</td>" in dom
    assert dom.count("<td>GET</td>") >= 1
    assert '<span class="ok">ready</span>' in dom
