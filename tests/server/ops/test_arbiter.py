"""The pre-fork arbiter, for real: worker counts, signals, rolling reload under load, recycling, health.

Every server runs in its own session and is killed with its workers at teardown (conftest). Timeouts in
the configurations are short so that the whole file stays quick on busy machines.
"""

from __future__ import annotations

import http.client
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from ops_helpers import Load, Server, children, slow_get, wait_until

pytestmark = pytest.mark.timeout(90)


def _count_is(server: Server, n: int) -> bool:
    return len(server.workers()) == n


def test_workers_share_the_socket_and_ttin_ttou_change_the_count(serve) -> None:
    server = serve("--workers", "2", "--graceful-timeout", "3")
    server.wait_for_log("Listening at", count=3)
    assert server.get()["pid"] in server.workers()
    server.send(signal.SIGTTIN)
    wait_until(lambda: _count_is(server, 3), what="3 workers after TTIN")
    # One signal at a time: the kernel merges a signal that is still pending with a second one.
    server.send(signal.SIGTTOU)
    wait_until(lambda: _count_is(server, 2), what="2 workers after TTOU")
    server.send(signal.SIGTTOU)
    wait_until(lambda: _count_is(server, 1), what="1 worker after 2x TTOU")
    server.send(signal.SIGTTOU)  # never below one
    assert server.get()["pid"] in server.workers()
    assert _count_is(server, 1)
    assert server.stop() == 0


def test_hup_rolls_workers_without_failing_a_request(serve) -> None:
    server = serve("--workers", "2", "--graceful-timeout", "5")
    wait_until(lambda: _count_is(server, 2), what="2 workers")
    old = server.workers()
    with Load(server.host, server.port, threads=4) as load:
        load.wait_for(40)
        server.send(signal.SIGHUP)
        wait_until(lambda: len(server.workers()) == 2 and not server.workers() & old, 30, "new generation")
        new = server.workers()
        load.wait_for(40)
    assert load.failures == []
    assert load.pids & old and load.pids & new
    assert server.stop() == 0


def test_killed_worker_is_replaced_and_only_its_in_flight_requests_fail(serve) -> None:
    server = serve("--workers", "2")
    wait_until(lambda: _count_is(server, 2), what="2 workers")
    victim = min(server.workers())
    with Load(server.host, server.port, threads=4) as load:
        load.wait_for(40)
        os.kill(victim, signal.SIGKILL)
        wait_until(lambda: len(server.workers()) == 2 and victim not in server.workers(), 10, "replacement")
        load.wait_for(40)
    # Only requests the killed worker had already accepted may fail (at most one per load thread).
    assert len(load.failures) <= 4, load.failures
    assert "exited (signal 9)" in server.log()


def test_term_lets_slow_in_flight_requests_finish(serve, app_dir: Path) -> None:
    server = serve("--workers", "2", "--graceful-timeout", "20")
    results: list[object] = []
    threads = [threading.Thread(target=slow_get, args=(server, 2, results)) for _ in range(3)]
    for t in threads:
        t.start()
    marker = app_dir / "inflight.log"
    wait_until(lambda: marker.exists() and len(marker.read_text().split()) == 3, 20, "3 requests in the app")
    server.send(signal.SIGTERM)
    for t in threads:
        t.join(30)
    assert results == [200, 200, 200]
    assert server.proc.wait(20) == 0
    assert not children(server.pid)


def test_max_requests_recycles_workers(serve) -> None:
    server = serve("--workers", "1", "--max-requests", "3", "--max-requests-jitter", "1")
    pids: list[int] = []
    for _ in range(30):
        pids.append(int(server.get()["pid"]))
        if len(set(pids)) >= 3:
            break
    assert len(set(pids)) >= 3, pids
    # No worker serves more than its budget (3 + jitter 0..1) plus the one request already in progress.
    assert max(pids.count(p) for p in set(pids)) <= 5
    assert "requests: recycling" in server.log()


def test_stuck_worker_is_killed_and_replaced(serve) -> None:
    server = serve("--workers", "1", "--max-requests", "1000", "--timeout", "2", "--dispatch", "inline")
    wait_until(lambda: _count_is(server, 1), what="1 worker")
    (stuck,) = server.workers()
    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
    conn.request("GET", "/slow?60")  # blocks the worker's event loop: no more heartbeats
    with pytest.raises((OSError, http.client.HTTPException)):
        conn.getresponse().read()
    conn.close()
    wait_until(lambda: len(server.workers()) == 1 and stuck not in server.workers(), 15, "replacement")
    assert f"Worker {stuck} timed out" in server.log()
    assert server.get()["pid"] != stuck


def test_pid_file_and_usr1_reopens_logs(serve, app_dir: Path) -> None:
    server = serve("--workers", "2", "--pid", "server.pid", "--access-log", "access.log")
    pidfile, access = app_dir / "server.pid", app_dir / "access.log"
    assert pidfile.read_text().strip() == str(server.pid)
    server.get("/before")
    wait_until(lambda: "/before" in access.read_text(), what="first access line")
    access.rename(app_dir / "access.log.1")
    server.send(signal.SIGUSR1)

    # Workers reopen at their next heartbeat; keep requesting until a line lands in the new file.
    def new_file_has_lines() -> bool:
        server.get("/after")
        return access.exists() and "/after" in access.read_text()

    wait_until(new_file_has_lines, 15, "a line in the reopened access.log")
    assert "/before" in (app_dir / "access.log.1").read_text()
    assert server.stop() == 0
    assert not pidfile.exists()


def test_hup_with_preload_reloads_the_code(serve, app_dir: Path) -> None:
    server = serve("--workers", "2", "--preload", "--graceful-timeout", "5")
    wait_until(lambda: _count_is(server, 2), what="2 workers")
    assert server.get()["version"] == "one"
    source = app_dir / "opsapp.py"
    source.write_text(source.read_text().replace('VERSION = "one"', 'VERSION = "two"'))
    with Load(server.host, server.port, threads=3) as load:
        load.wait_for(20)
        server.send(signal.SIGHUP)
        wait_until(lambda: server.get()["version"] == "two" and _count_is(server, 2), 40, "new code")
        load.wait_for(20)
    assert load.failures == []
    assert server.proc.poll() is None  # same master process (re-executed in place)
    assert {server.get()["version"] for _ in range(6)} == {"two"}


@pytest.mark.parametrize("moment", ["probe", "exec"])
def test_term_during_a_preload_reload_stops_the_master_gracefully(serve, app_dir: Path, moment: str) -> None:
    """A TERM that arrives while a preloading master checks the new code ("probe": its import takes 2 s
    here) or re-executes ("exec": before the new image has its handlers) is acted on by the new image: a
    graceful stop with status 0 and every worker gone, not a master killed by SIGTERM or a TERM lost."""
    server = serve("--workers", "2", "--preload", "--graceful-timeout", "5")
    wait_until(lambda: _count_is(server, 2), what="2 workers")
    if moment == "probe":
        source = app_dir / "opsapp.py"
        source.write_text(source.read_text().replace('VERSION = "one"', 'VERSION = "two"; time.sleep(2)'))
    server.send(signal.SIGHUP)
    if moment == "probe":
        time.sleep(0.5)  # the probe is importing the new code
        assert "re-executing the master" not in server.log()
    else:
        server.wait_for_log("re-executing the master")
    server.send(signal.SIGTERM)
    assert server.proc.wait(30) == 0
    assert server.workers() == set()
    log = server.log()
    assert "re-executing the master" in log  # the reload went ahead; the new image took the stop
    assert f"Master {server.pid}: graceful stop" in log and f"Master {server.pid}: stopped" in log


def test_hup_with_broken_code_keeps_the_old_workers(serve, app_dir: Path) -> None:
    server = serve("--workers", "2", "--graceful-timeout", "3")
    server.wait_for_log(
        "Listening at", count=3
    )  # the master's line, then each worker's once it loaded the app
    old = server.workers()
    (app_dir / "opsapp.py").write_text("raise RuntimeError('broken deploy')\n")
    server.send(signal.SIGHUP)
    server.wait_for_log("Reload failed")
    wait_until(lambda: server.workers() == old, 15, "only the old workers")
    assert server.get()["version"] == "one"


def test_workers_exit_when_the_master_is_killed(serve) -> None:
    server = serve("--workers", "2")
    wait_until(lambda: _count_is(server, 2), what="2 workers")
    workers = server.workers()
    os.kill(server.pid, signal.SIGKILL)
    server.proc.wait(5)

    def gone() -> bool:
        return not any(Path(f"/proc/{pid}").exists() and "Z" not in _state(pid) for pid in workers)

    wait_until(gone, 15, "orphaned workers to exit")


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return "Z"


def test_workers_dying_at_start_do_not_fork_in_a_loop(serve, app_dir: Path) -> None:
    (app_dir / "crashy.py").write_text("import os\nos._exit(1)  # dies while being imported by a worker\n")
    server = serve("--workers", "2", app="crashy:app")
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline:
        time.sleep(0.1)
    boots = server.log().count("Booted worker")
    assert 2 <= boots < 20, boots  # without the back-off a busy loop forks hundreds
    assert server.stop() == 0
