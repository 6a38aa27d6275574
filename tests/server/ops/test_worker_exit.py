"""The arbiter and workers that exit on their own: only a worker that fails before it is ready is a boot
failure; one that served and then exits, whatever its status, is replaced, and the others keep serving.
Signals a master does not use (USR2) are logged and ignored. A re-executed image keeps its pid file.
"""

from __future__ import annotations

import http.client
import os
import signal
import threading
from pathlib import Path

import pytest
from ops_helpers import slow_get, wait_until

from sockweb.server.workers import PidFile

pytestmark = pytest.mark.timeout(90)

APP = "versionapp:app"


def test_ready_worker_exiting_with_status_3_is_replaced(serve, version_dir: Path) -> None:
    server = serve("--workers", "2", "--graceful-timeout", "10", app=APP)
    wait_until(lambda: len(server.workers()) == 2, 15, "2 workers")
    server.wait_for_log("Listening at", count=3)  # the master's line, then each worker's once ready
    results: list[object] = []

    thread = threading.Thread(target=slow_get, args=(server, 3, results))
    thread.start()
    marker = version_dir / "inflight.log"
    wait_until(lambda: marker.exists() and marker.read_text().strip(), 10, "the slow request in the app")
    busy = int(marker.read_text().split()[0])
    (victim,) = server.workers() - {busy}
    # Connections are spread by the kernel: ask until one lands on the victim (the others answer 409).
    for _ in range(200):
        conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
        try:
            conn.request("GET", f"/exit3?{victim}")
            conn.getresponse().read()
        except (OSError, http.client.HTTPException):
            break
        finally:
            conn.close()
    wait_until(lambda: victim not in server.workers() and len(server.workers()) == 2, 15, "a replacement")
    thread.join(30)
    assert results == [200]  # the other worker's in-flight request completed
    assert server.proc.poll() is None
    assert server.get()["version"] == "one"
    assert f"Worker {victim} exited (status 3)" in server.log()
    assert server.stop() == 0


def test_usr2_to_the_master_is_logged_and_ignored(serve, version_dir: Path) -> None:
    server = serve("--workers", "2", app=APP)
    wait_until(lambda: len(server.workers()) == 2, 15, "2 workers")
    workers = server.workers()
    server.send(signal.SIGUSR2)
    server.wait_for_log("USR2 ignored")
    assert server.proc.poll() is None
    assert server.workers() == workers
    assert server.get()["version"] == "one"
    assert server.stop() == 0


def test_pid_file_naming_this_process_is_left_alone(tmp_path: Path) -> None:
    # A re-executed image (reload) runs as --user by then: the pid file's directory may be root's.
    path = tmp_path / "x.pid"
    path.write_text(f"{os.getpid()}\n")
    before = path.stat().st_ino
    pidfile = PidFile(str(path))
    pidfile.create(os.getpid())
    assert path.stat().st_ino == before  # not rewritten
    pidfile.remove()
    assert not path.exists()
