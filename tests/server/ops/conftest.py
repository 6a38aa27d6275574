"""Fixtures for the operations tests: real ``sockweb serve`` processes, always cleaned up.

Each server runs in its own session (process group), so teardown can kill the master *and* every worker
with one ``killpg`` even when a test failed half-way. The fixture app (``opsapp.py``) is copied into the
test's temporary directory, which is the server's working directory: reload tests edit it there.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from ops_helpers import HERE, Server


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    shutil.copy(HERE / "opsapp.py", tmp_path / "opsapp.py")
    return tmp_path


@pytest.fixture
def version_dir(app_dir: Path) -> Path:
    """``app_dir`` with versionapp.py, whose answers carry version.txt's word ("one" to start)."""
    shutil.copy(HERE / "versionapp.py", app_dir / "versionapp.py")
    (app_dir / "version.txt").write_text("one\n")
    return app_dir


@pytest.fixture
def serve(app_dir: Path) -> Iterator[Callable[..., Server]]:
    """``serve(*args, env=None, wait=True, bind=True) -> Server`` running ``sockweb serve opsapp:app ARGS``."""
    servers: list[Server] = []

    def start(
        *args: str,
        app: str = "opsapp:app",
        env: dict[str, str] | None = None,
        wait: bool = True,
        bind: bool = True,
        timeout: float = 20.0,
        pass_fds: tuple[int, ...] = (),
        prefix: list[str] | None = None,
    ) -> Server:
        n = len(servers)
        log_path, out_path = app_dir / f"server{n}.err", app_dir / f"server{n}.out"
        # The servers run on the default loop (uvloop where installed), or the one CI's second pass names.
        loop = ["--loop", os.environ["SOCKWEB_LOOP"]] if os.environ.get("SOCKWEB_LOOP") else []
        cmd = [*(prefix or []), sys.executable, "-m", "sockweb", "serve", app, *loop, *args]
        if bind:
            cmd += ["--bind", "127.0.0.1:0"]
        full_env = {
            k: v for k, v in os.environ.items() if not k.startswith(("SOCKWEB_", "LISTEN_", "NOTIFY_"))
        }
        full_env["PYTHONUNBUFFERED"] = "1"
        full_env.update(env or {})
        with log_path.open("wb") as err, out_path.open("wb") as out:
            proc = subprocess.Popen(
                cmd,
                cwd=app_dir,
                env=full_env,
                stdout=out,
                stderr=err,
                start_new_session=True,
                pass_fds=pass_fds,
            )
        server = Server(proc, log_path, out_path)
        servers.append(server)
        if wait:
            server.wait_started(timeout)
        return server

    yield start
    for server in servers:
        if server.proc.poll() is None:
            server.stop(signal.SIGTERM, timeout=5)
        # Workers are in the server's session: make sure none survives the test.
        try:
            os.killpg(server.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
