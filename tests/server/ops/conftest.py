"""Fixtures for the operations tests: real ``sockweb serve`` processes, always cleaned up.

Each server runs in its own session (process group), so teardown can kill the master *and* every worker
with one ``killpg`` even when a test failed half-way. The fixture app (``opsapp.py``) is copied into the
test's temporary directory, which is the server's working directory: reload tests edit it there.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
_LISTENING = re.compile(r"Listening at (?:https?://)?(\[[^\]]+\]|[^:\s]+):(\d+)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(predicate: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def children(pid: int) -> set[int]:
    """Pids of the live (not zombie) children of ``pid``."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(entry.name))
    return found


class Server:
    """One ``sockweb serve`` subprocess."""

    def __init__(self, proc: subprocess.Popen[bytes], log_path: Path, out_path: Path) -> None:
        self.proc = proc
        self.log_path = log_path
        self.out_path = out_path
        self.host = "127.0.0.1"
        self.port = 0

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def output(self) -> str:
        return self.out_path.read_text(errors="replace")

    def wait_for_log(self, pattern: str, timeout: float = 15.0, count: int = 1) -> None:
        wait_until(lambda: len(re.findall(pattern, self.log())) >= count, timeout, f"{pattern!r} in log:\n")

    def get(
        self, path: str = "/", timeout: float = 10.0, headers: dict[str, str] | None = None
    ) -> dict[str, str]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request("GET", path, headers=headers or {})
            resp = conn.getresponse()
            body = resp.read()
            assert resp.status == 200, (resp.status, body)
            data: dict[str, str] = json.loads(body)
            return data
        finally:
            conn.close()

    def workers(self) -> set[int]:
        return children(self.pid)

    def send(self, sig: int) -> None:
        os.kill(self.pid, sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(5)


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    shutil.copy(HERE / "opsapp.py", tmp_path / "opsapp.py")
    return tmp_path


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
        cmd = [*(prefix or []), sys.executable, "-m", "sockweb", "serve", app, "--loop", "asyncio", *args]
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
            deadline = time.monotonic() + timeout
            while (match := _LISTENING.search(server.log())) is None:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"server did not start (status {proc.poll()}):\n{server.log()}")
                time.sleep(0.02)
            server.host, server.port = match.group(1).strip("[]"), int(match.group(2))
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


class Load:
    """A bounded load generator: threads sending GETs (one connection each) until stopped."""

    def __init__(self, host: str, port: int, threads: int = 4, path: str = "/") -> None:
        self.host, self.port, self.path = host, port, path
        self.ok = 0
        self.failures: list[str] = []
        self.pids: set[int] = set()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self) -> None:
        while not self._stop.is_set():
            conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
            try:
                conn.request("GET", self.path, headers={"Connection": "close"})
                resp = conn.getresponse()
                body = resp.read()
                with self._lock:
                    if resp.status == 200:
                        self.ok += 1
                        self.pids.add(json.loads(body)["pid"])
                    else:
                        self.failures.append(f"status {resp.status}")
            except (OSError, http.client.HTTPException) as exc:
                with self._lock:
                    self.failures.append(repr(exc))
            finally:
                conn.close()

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(15)

    def wait_for(self, count: int, timeout: float = 15.0) -> None:
        start = self.ok
        wait_until(lambda: self.ok >= start + count, timeout, f"{count} more requests")
