"""Shared fixtures. `run_server` starts ``python -m sockweb serve`` in a subprocess on 127.0.0.1:0.

The server prints ``Listening at http://127.0.0.1:PORT`` at start-up; the fixture reads the port from
that line, and stops every server it started when the test ends (SIGTERM, then SIGKILL). The servers
inherit the environment, so ``SOCKWEB_LOOP=asyncio`` runs them all on the standard library's event loop
(CI runs the server tests once more that way); the report header says which loop they run on.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from nginxproc import PACKAGE, find_nginx
from serverproc import ServerHandle, start_server


def pytest_report_header() -> str:
    """Which event loop the servers started by the tests run on (SOCKWEB_LOOP picks it for all of them)."""
    from sockweb.server.runner import describe_loop

    return f"sockweb serve event loop: {describe_loop(os.environ.get('SOCKWEB_LOOP', 'auto'))}"


@pytest.fixture(scope="session")
def server_factory() -> Callable[..., ServerHandle]:
    """`start_server` itself, for module-scoped fixtures that share one server between tests."""
    return start_server


@pytest.fixture
def run_server(tmp_path: Path) -> Iterator[Callable[..., ServerHandle]]:
    """`run_server(app_spec, *args, cwd=None, env=None, wait=True) -> ServerHandle`.

    Runs ``python -m sockweb serve APP_SPEC --bind 127.0.0.1:0 *ARGS`` and (unless ``wait=False``, for
    start-up failures: then use ``.proc.wait()``) waits for the "Listening at" line and reads the port.
    Every server started is stopped (SIGTERM, then SIGKILL) when the test ends.
    """
    handles: list[ServerHandle] = []

    def start(
        app_spec: str,
        *args: str,
        cwd: str | Path | None = None,
        env: dict[str, str] | None = None,
        wait: bool = True,
    ) -> ServerHandle:
        handle = start_server(tmp_path, app_spec, *args, cwd=cwd, env=env)
        handles.append(handle)
        if wait:
            handle.wait_started()
        return handle

    yield start
    for handle in handles:
        handle.stop()


@pytest.fixture
def nginx_binary() -> str:
    """The nginx program (tests/nginxproc.py runs it); skips the test without it, fails it under CI."""
    binary = find_nginx()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail(f"nginx is required under CI (Debian package {PACKAGE})")
        pytest.skip(f"nginx is not installed (Debian package {PACKAGE}); CI unset")
    return binary
