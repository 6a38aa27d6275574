"""A ``python -m sockweb serve`` subprocess for tests: start it, read its port, stop it.

Shared by tests/conftest.py (the `run_server` and `server_factory` fixtures) and the operations tests,
which extend `ServerHandle`. A plain module, because conftest modules cannot be imported by name.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

LISTENING = re.compile(r"Listening at (?:https?://)?(\[[^\]]+\]|[^:\s]+):(\d+)")


class ServerHandle:
    """A server subprocess: `.url`, `.port`, `.proc`, `.log()`, `.stop()`."""

    def __init__(self, proc: subprocess.Popen[bytes], log_path: Path, out_path: Path) -> None:
        self.proc = proc
        self.log_path = log_path
        self.out_path = out_path
        self.host = "127.0.0.1"
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def log(self) -> str:
        """Everything the server wrote to stderr so far."""
        return self.log_path.read_text(errors="replace")

    def output(self) -> str:
        """Everything the server wrote to stdout so far (the access log with ``--access-log -``)."""
        return self.out_path.read_text(errors="replace")

    def wait_for_log(self, pattern: str, timeout: float = 10.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            match = re.search(pattern, self.log())
            if match:
                return match
            if time.monotonic() > deadline:
                raise AssertionError(f"{pattern!r} not in the server log:\n{self.log()}")
            time.sleep(0.02)

    def wait_started(self, timeout: float = 20.0) -> ServerHandle:
        """Wait for the "Listening at" line and read the port from it."""
        deadline = time.monotonic() + timeout
        while True:
            match = LISTENING.search(self.log())
            if match:
                self.host = match.group(1).strip("[]")
                self.port = int(match.group(2))
                return self
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"server did not start in {timeout}s:\n{self.log()}")
            time.sleep(0.02)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Send `sig` and wait for the exit status (SIGKILL after `timeout`)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL the server and reap it."""
        self.proc.kill()
        self.proc.wait(5)


def start_server(
    tmp_dir: Path,
    app_spec: str,
    *args: str,
    cwd: str | Path | None = None,
    env: dict[str, str] | None = None,
) -> ServerHandle:
    """Start ``python -m sockweb serve APP_SPEC --bind 127.0.0.1:0 *ARGS`` with logs in `tmp_dir`.

    No ``--bind`` is added when ARGS has one. Returns at once; call ``.wait_started()``.
    """
    n = len(list(tmp_dir.glob("server*.err")))
    log_path = tmp_dir / f"server{n}.err"
    out_path = tmp_dir / f"server{n}.out"
    cmd = [sys.executable, "-m", "sockweb", "serve", app_spec, *args]
    if not any(a == "--bind" or a.startswith("--bind=") or a == "-b" for a in args):
        cmd += ["--bind", "127.0.0.1:0"]
    full_env = dict(os.environ)
    full_env.pop("SOCKWEB_APP", None)
    full_env["PYTHONUNBUFFERED"] = "1"
    full_env.update(env or {})
    with log_path.open("wb") as err, out_path.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=full_env, stdout=out, stderr=err)
    return ServerHandle(proc, log_path, out_path)
