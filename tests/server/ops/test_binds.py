"""Bind strings, unix sockets (umask, stale files), fd://N, systemd socket activation and sd_notify."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from sockweb.server.binds import BindError, BindSpec, BindSyntaxError, parse_bind
from sockweb.server.systemd import listen_fds, notify

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("127.0.0.1:8000", BindSpec("tcp", "127.0.0.1:8000", host="127.0.0.1", port=8000)),
        ("localhost:0", BindSpec("tcp", "localhost:0", host="localhost", port=0)),
        (":8080", BindSpec("tcp", ":8080", host="0.0.0.0", port=8080)),
        ("8080", BindSpec("tcp", "8080", host="127.0.0.1", port=8080)),
        ("[::1]:8000", BindSpec("tcp", "[::1]:8000", host="::1", port=8000)),
        ("unix:/run/app.sock", BindSpec("unix", "unix:/run/app.sock", path="/run/app.sock")),
        ("fd://3", BindSpec("fd", "fd://3", fd=3)),
    ],
)
def test_parse_bind(text: str, spec: BindSpec) -> None:
    assert parse_bind(text) == spec


SYNTAX = "expected HOST:PORT, [IPV6]:PORT, unix:PATH or fd://N"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("localhost:http", "expected a port number between 0 and 65535"),
        ("127.0.0.1:70000", "expected a port number between 0 and 65535"),
        ("127.0.0.1:", "expected a port number between 0 and 65535"),
        ("::1:8000", SYNTAX),
        ("[::1]8000", SYNTAX),
        ("[nothost]:80", "expected an IPv6 address inside [...]"),
        ("unix:", "expected unix:PATH with a non-empty PATH and no NUL"),
        ("unix:/tmp/a\0b", "expected unix:PATH with a non-empty PATH and no NUL"),
        ("fd://x", "expected fd://N with N a file descriptor number"),
        ("host", SYNTAX),
        ("garbage", SYNTAX),
    ],
)
def test_bad_bind_strings(text: str, expected: str) -> None:
    with pytest.raises(BindSyntaxError) as info:
        parse_bind(text)
    assert isinstance(info.value, BindError)  # callers that catch BindError keep working
    assert info.value.expected == expected and info.value.text == text
    assert str(info.value) == f"invalid bind {text!r}: {expected}"


def _unix_get(path: str) -> dict[str, str]:
    class UnixConnection(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(10)
            self.sock.connect(path)

    conn = UnixConnection("localhost")
    try:
        conn.request("GET", "/")
        resp = conn.getresponse()
        assert resp.status == 200
        data: dict[str, str] = json.loads(resp.read())
        return data
    finally:
        conn.close()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_unix_socket_with_umask_and_cleanup(serve, app_dir: Path, workers: str) -> None:
    path = str(app_dir / "app.sock")
    server = serve("--bind", f"unix:{path}", "--umask", "007", "--workers", workers, bind=False, wait=False)
    server.wait_for_log("Listening at unix:")
    mode = os.stat(path).st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o770
    info = _unix_get(path)
    assert info["remote_addr"] == ""
    assert server.stop() == 0
    assert not os.path.exists(path)


def test_stale_unix_socket_is_replaced_live_one_is_an_error(serve, app_dir: Path) -> None:
    path = str(app_dir / "stale.sock")
    dead = socket.socket(socket.AF_UNIX)
    dead.bind(path)
    dead.close()  # leaves the file behind, nobody listening: stale
    server = serve("--bind", f"unix:{path}", bind=False, wait=False)
    server.wait_for_log("Listening at unix:")
    assert _unix_get(path)["version"] == "one"
    second = serve("--bind", f"unix:{path}", bind=False, wait=False)
    assert second.proc.wait(20) == 1
    assert "address already in use" in second.log()
    assert _unix_get(path)["version"] == "one"  # the first server's socket survived


def test_unix_path_that_is_not_a_socket(serve, app_dir: Path) -> None:
    (app_dir / "file").write_text("data")
    server = serve("--bind", f"unix:{app_dir / 'file'}", bind=False, wait=False)
    assert server.proc.wait(20) == 1
    assert "exists and is not a socket" in server.log()
    assert (app_dir / "file").read_text() == "data"


def test_taken_port_is_one_clear_line(serve) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for workers in ("1", "2"):
            server = serve("--bind", f"127.0.0.1:{port}", "--workers", workers, bind=False, wait=False)
            assert server.proc.wait(20) == 1
            errors = [line for line in server.log().splitlines() if "ERROR" in line]
            assert (
                len(errors) == 1 and f"cannot listen on 127.0.0.1:{port}: address already in use" in errors[0]
            )


@pytest.mark.parametrize("workers", ["1", "2"])
def test_bad_bind_string_is_a_usage_error(serve, workers: str) -> None:
    server = serve("--bind", "127.0.0.1:http", "--workers", workers, bind=False, wait=False)
    assert server.proc.wait(20) == 2
    assert server.log() == (
        "sockweb serve: --bind: expected a port number between 0 and 65535, got '127.0.0.1:http'\n"
    )


def test_fd_bind(serve) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    try:
        server = serve("--bind", f"fd://{sock.fileno()}", bind=False, pass_fds=(sock.fileno(),))
        assert server.port == sock.getsockname()[1]
        assert server.get()["version"] == "one"
    finally:
        sock.close()


_ACTIVATE = """
import os, sys
fd = int(sys.argv[1])
os.dup2(fd, 3)
os.environ["LISTEN_FDS"] = "1"
os.environ["LISTEN_PID"] = str(os.getpid())
os.execv(sys.argv[2], sys.argv[2:])
"""


@pytest.mark.parametrize("workers", ["1", "2"])
def test_systemd_socket_activation_and_notify(serve, app_dir: Path, workers: str) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    notify_path = str(app_dir / "notify.sock")
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(notify_path)
    receiver.settimeout(20)
    try:
        server = serve(
            "--workers",
            workers,
            bind=False,
            pass_fds=(sock.fileno(),),
            prefix=[sys.executable, "-c", _ACTIVATE, str(sock.fileno())],
            env={"NOTIFY_SOCKET": notify_path},
        )
        assert server.port == sock.getsockname()[1]
        assert receiver.recv(100) == b"READY=1"
        assert server.get()["version"] == "one"
        assert "LISTEN_FDS" not in server.log()
        server.send(signal.SIGTERM)
        assert receiver.recv(100) == b"STOPPING=1"
        assert server.proc.wait(20) == 0
    finally:
        sock.close()
        receiver.close()


def test_listen_fds_ignores_another_pids_sockets() -> None:
    env = {"LISTEN_FDS": "1", "LISTEN_PID": str(os.getpid() + 1)}
    assert listen_fds(env) == []
    assert env == {}  # unset either way, so children never adopt them


def test_notify_without_systemd_is_a_no_op() -> None:
    assert notify("READY=1", {}) is False
    assert notify("READY=1", {"NOTIFY_SOCKET": "relative"}) is False


def test_notify_abstract_socket() -> None:
    name = f"sockweb-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as receiver:
        receiver.bind("\0" + name)
        receiver.settimeout(5)
        assert notify("READY=1", {"NOTIFY_SOCKET": "@" + name})
        assert receiver.recv(100) == b"READY=1"


def test_fd_bind_rejects_a_datagram_socket(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        proc = subprocess.run(
            [sys.executable, "-m", "sockweb", "serve", "x:app", "--bind", f"fd://{udp.fileno()}"],
            pass_fds=(udp.fileno(),),
            capture_output=True,
            text=True,
            timeout=30,
            cwd=tmp_path,
        )
    assert proc.returncode == 1
    assert "not a stream socket" in proc.stderr
