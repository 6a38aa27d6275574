"""Signals to a single-process server (``--workers 1``, no master), for real.

HUP reloads the application without refusing or failing a request and without changing the pid (what
``systemctl reload`` and a container's PID 1 need); a reload whose new code does not import keeps the
current code serving; the signals that only mean something to a master (TTIN, TTOU) and the ones sockweb
does not use (USR2, WINCH) are logged and ignored, never stopping or freezing the process.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import struct
import threading
from pathlib import Path

import pytest
from ops_helpers import Load, Server, children, wait_until

pytestmark = pytest.mark.timeout(120)

APP = "versionapp:app"


def _slow_get(server: Server, seconds: float, results: list[object]) -> None:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
    try:
        conn.request("GET", f"/slow?{seconds}")
        resp = conn.getresponse()
        results.append((resp.status, json.loads(resp.read())["version"]))
    except (OSError, http.client.HTTPException, ValueError) as exc:
        results.append(repr(exc))
    finally:
        conn.close()


def test_hup_reloads_the_app_keeping_the_pid_and_every_request(serve, version_dir: Path) -> None:
    server = serve("--graceful-timeout", "10", app=APP)
    assert server.get()["version"] == "one"
    slow: list[object] = []
    in_flight = threading.Thread(target=_slow_get, args=(server, 2, slow))
    in_flight.start()
    wait_until((version_dir / "inflight.log").exists, 10, "the slow request in the app")
    (version_dir / "version.txt").write_text("two\n")
    with Load(server.host, server.port, threads=4) as load:
        load.wait_for(30)
        server.send(signal.SIGHUP)
        wait_until(lambda: server.get(timeout=5)["version"] == "two", 40, "the new code")
        # The bridge process that served during the hand-over has finished and been reaped.
        wait_until(lambda: not children(server.pid), 30, "no child process left")
        load.wait_for(30)
    in_flight.join(30)
    assert load.failures == []
    assert slow == [(200, "one")]  # the old code finished its request
    assert server.proc.poll() is None
    assert {server.get()["pid"] for _ in range(5)} == {server.pid}  # same pid as before the reload
    assert server.stop() == 0


def test_hup_with_broken_code_keeps_serving_the_old_code(serve, version_dir: Path) -> None:
    server = serve(app=APP)
    (version_dir / "version.txt").write_text("broken\n")
    server.send(signal.SIGHUP)
    server.wait_for_log("Reload failed")
    assert server.get()["version"] == "one"
    assert server.get()["pid"] == server.pid
    wait_until(lambda: not children(server.pid), 10, "the failed new process reaped")
    # The next deploy works.
    (version_dir / "version.txt").write_text("three\n")
    server.send(signal.SIGHUP)
    wait_until(lambda: server.get(timeout=5)["version"] == "three", 40, "the fixed code")
    assert server.stop() == 0


def test_term_during_a_reload_stops_both_processes_gracefully(serve, version_dir: Path) -> None:
    server = serve("--graceful-timeout", "10", app=APP)
    slow: list[object] = []
    in_flight = threading.Thread(target=_slow_get, args=(server, 3, slow))
    in_flight.start()
    wait_until((version_dir / "inflight.log").exists, 10, "the slow request in the app")
    (version_dir / "version.txt").write_text("two\n")
    server.send(signal.SIGHUP)
    server.wait_for_log("serves the new code")  # the old code is draining its slow request now
    (bridge,) = children(server.pid)
    server.send(signal.SIGTERM)
    in_flight.join(30)
    assert slow == [(200, "one")]
    assert server.proc.wait(30) == 0
    assert not Path(f"/proc/{bridge}").exists()  # stopped and reaped, not left running


# The hook makes the old image linger after its loop, on its way to the execve, where a stop signal used
# to take its default action: the process died by SIGTERM, without a graceful stop or its bridge's.
LINGERING_EXIT = """
import os, time

def worker_exit(server, worker):
    with open("exits.log", "a") as fh:
        fh.write(f"{os.getpid()}\\n")
    time.sleep(1.5)
"""


def test_term_after_the_old_code_drained_stops_the_new_image_gracefully(serve, version_dir: Path) -> None:
    (version_dir / "lingering.conf.py").write_text(LINGERING_EXIT)
    server = serve("--config", "lingering.conf.py", app=APP)
    (version_dir / "version.txt").write_text("two\n")
    server.send(signal.SIGHUP)
    exits = version_dir / "exits.log"
    wait_until(lambda: exits.exists() and str(server.pid) in exits.read_text().split(), 30, "the old image")
    (bridge,) = children(server.pid)
    server.send(signal.SIGTERM)  # between the old image's loop and its execve
    assert server.proc.wait(30) == 0
    assert not Path(f"/proc/{bridge}").exists()  # stopped and reaped by the new image
    log = server.log()
    assert "Reload: serving the new code" in log  # the TERM waited for the new image, which acted on it


def _blocked(pid: int, tid: int) -> int:
    """The signal mask of thread `tid` of process `pid` (bit N-1 for signal N)."""
    status = Path(f"/proc/{pid}/task/{tid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("SigBlk:")), 16)


def test_the_servers_own_threads_leave_the_signals_to_the_main_thread(serve, version_dir: Path) -> None:
    """The application's thread pool and the status listener's thread block the steering signals, so a
    signal the main thread holds back (around a reload's execve) cannot take its default action in one."""
    server = serve("--dispatch", "pool", "--metrics-bind", "127.0.0.1:0", app=APP)
    assert server.get("/slow?0")["version"] == "one"  # a pool thread ran it
    threads = {int(tid) for tid in os.listdir(f"/proc/{server.pid}/task")} - {server.pid}
    assert len(threads) >= 2  # the pool's and the status listener's
    for tid in threads:
        mask = _blocked(server.pid, tid)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGCHLD):
            assert mask & (1 << (sig - 1)), (tid, sig.name)
        assert not mask & (1 << (signal.SIGSEGV - 1))
    assert _blocked(server.pid, server.pid) & (1 << (signal.SIGTERM - 1)) == 0
    assert server.stop() == 0


@pytest.mark.parametrize("sig", [signal.SIGTTIN, signal.SIGTTOU, signal.SIGUSR2, signal.SIGWINCH])
def test_other_signals_are_logged_and_ignored(serve, version_dir: Path, sig: signal.Signals) -> None:
    server = serve(app=APP)
    server.send(sig)
    server.wait_for_log(f"{sig.name[3:]} ignored")
    assert server.get(timeout=5)["pid"] == server.pid
    assert server.proc.poll() is None
    assert server.stop() == 0


def _unix_version(path: str) -> str:
    conn = http.client.HTTPConnection("localhost", timeout=10)
    conn.sock = socket.socket(socket.AF_UNIX)
    conn.sock.settimeout(10)
    try:
        conn.sock.connect(path)
        conn.request("GET", "/")
        version: str = json.loads(conn.getresponse().read())["version"]
        return version
    finally:
        conn.close()


def _notification(receiver: socket.socket) -> tuple[int, str]:
    """One sd_notify datagram: (sender pid, text)."""
    creds = struct.Struct("3i")
    data, ancillary, _, _ = receiver.recvmsg(256, socket.CMSG_SPACE(creds.size))
    pid = next(creds.unpack(d)[0] for level, kind, d in ancillary if kind == socket.SCM_CREDENTIALS)
    return pid, data.decode()


def test_hup_tells_systemd_from_the_main_pid_and_keeps_the_unix_socket(serve, version_dir: Path) -> None:
    path = str(version_dir / "app.sock")
    notify_path = str(version_dir / "notify.sock")
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(notify_path)
    receiver.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    receiver.settimeout(40)
    try:
        server = serve(
            "--bind", f"unix:{path}", app=APP, bind=False, wait=False, env={"NOTIFY_SOCKET": notify_path}
        )
        assert _notification(receiver) == (server.pid, "READY=1")
        assert _unix_version(path) == "one"
        (version_dir / "version.txt").write_text("two\n")
        server.send(signal.SIGHUP)
        pid, text = _notification(receiver)
        assert pid == server.pid and text.startswith("RELOADING=1\nMONOTONIC_USEC=")
        # Nothing from the bridge: systemd only hears the main pid, which stays the same.
        assert _notification(receiver) == (server.pid, "READY=1")
        assert _unix_version(path) == "two"
        wait_until(lambda: not children(server.pid), 30, "the bridge to exit")
        assert os.path.exists(path)
        server.send(signal.SIGTERM)
        assert _notification(receiver) == (server.pid, "STOPPING=1")
        assert server.proc.wait(20) == 0
        assert not os.path.exists(path)  # removed once, by the last image
    finally:
        receiver.close()
