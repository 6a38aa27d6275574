"""Start sockweb or gunicorn on 127.0.0.1 with the fixture app, measure it, stop it.

Both run one process group of their own (a new session), so `stop` reaches the master and every worker,
and `cpu_seconds` sums user+system time over the group from /proc (Linux). gunicorn runs its threaded
worker (``-k gthread``), the closest of its models to sockweb's event loop plus a thread pool.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent
APP = "hostile.apps:app"
SERVERS = ("sockweb", "gunicorn")

# The timeouts both servers get where they have one; the attacks read them to know how long to wait.
HEADER_TIMEOUT = 3.0
BODY_TIMEOUT = 3.0


SET_NOFILE = (
    "import os, resource, sys; n = int(sys.argv[1]); "
    "resource.setrlimit(resource.RLIMIT_NOFILE, (n, n)); os.execv(sys.argv[2], sys.argv[2:])"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def command(kind: str, port: int, app: str = APP, extra: tuple[str, ...] = ()) -> list[str]:
    bind = f"127.0.0.1:{port}"
    if kind == "sockweb":
        return [
            sys.executable, "-m", "sockweb", "serve", app, "--bind", bind,
            "--header-timeout", str(HEADER_TIMEOUT), "--body-timeout", str(BODY_TIMEOUT), *extra,
        ]  # fmt: skip
    if kind == "gunicorn":
        # gunicorn has no head or body timeout; --timeout is its worker heartbeat (kept at the default)
        return [
            sys.executable, "-m", "gunicorn", "-k", "gthread", "--threads", "4", "--workers", "1",
            "--bind", bind, *extra, app,
        ]  # fmt: skip
    raise ValueError(f"unknown server {kind!r}")


@dataclass
class Server:
    kind: str
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path
    request_log: Path
    tmp: Path
    _files: list[object] = field(default_factory=list)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_size(self) -> int:
        return self.log_path.stat().st_size

    def requests(self) -> list[list[str]]:
        """The app's request log: one [request id, method, path] per request it saw."""
        if not self.request_log.exists():
            return []
        return [line.split("\t") for line in self.request_log.read_text("latin-1").splitlines()]

    def pids(self) -> list[int]:
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[2]) == self.proc.pid:  # the process group
                    pids.append(int(entry.name))
        return pids

    def cpu_seconds(self) -> float:
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / ticks

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
            except ProcessLookupError:
                pass
        if self.proc.poll() is None:
            self.proc.wait(5)
        try:  # workers left behind by a master that died first
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start(
    kind: str,
    *extra: str,
    app: str = APP,
    nofile: int | None = None,
    argv: list[str] | None = None,
    timeout: float = 20.0,
) -> Server:
    """Start `kind` (or the command `argv`, with PORT replaced) and wait until it accepts connections."""
    tmp = Path(tempfile.mkdtemp(prefix=f"hostile-{kind}-"))
    port = free_port()
    cmd = [a.replace("PORT", str(port)) for a in argv] if argv else command(kind, port, app, extra)
    env = dict(os.environ)
    env = {k: v for k, v in env.items() if not k.startswith("SOCKWEB_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(BENCH), env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env["HOSTILE_REQUEST_LOG"] = str(tmp / "requests.log")

    if nofile is not None:  # lowered in a small exec wrapper (no preexec_fn: this process has threads)
        cmd = [sys.executable, "-c", SET_NOFILE, str(nofile), *cmd]
    log_path = tmp / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            cmd, cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = Server(kind, port, proc, log_path, tmp / "requests.log", tmp)
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{kind} exited with {proc.returncode}:\n{server.log()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"{kind} did not listen in {timeout}s:\n{server.log()}") from None
            time.sleep(0.05)
