"""The accept path (sockweb.server.accept) through the real server, on both event loops.

Out of file descriptors, the server stops accepting for a while instead of spinning and logging each
failure, keeps serving its connections, and serves the connections that waited in the listen queue once
descriptors are free again. TLS handshakes end at ``--header-timeout`` and count against
``--max-connections``.
"""

from __future__ import annotations

import os
import select
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from serverproc import ServerHandle

from .conftest import APPS_DIR, read_response

pytestmark = pytest.mark.timeout(90)

LOOPS = [
    "asyncio",
    pytest.param(
        "uvloop",
        marks=pytest.mark.skipif(
            not __import__("importlib").util.find_spec("uvloop"), reason="uvloop is not installed"
        ),
    ),
]
REQUEST = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"
# The first bytes of a ClientHello: a handshake that has begun and then stalls.
PARTIAL_HELLO = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 20


_LIMITED = (
    "import resource, runpy, sys; resource.setrlimit(resource.RLIMIT_NOFILE, ({0}, {0})); "
    "sys.argv[0] = 'sockweb'; runpy.run_module('sockweb', run_name='__main__', alter_sys=True)"
)


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., ServerHandle]]:
    """``start(*args, nofile=None)``: ``sockweb serve fixtureapps:hello ARGS``, optionally with a low
    RLIMIT_NOFILE."""
    handles: list[ServerHandle] = []

    def run(*args: str, nofile: int | None = None) -> ServerHandle:
        n = len(handles)
        log_path, out_path = tmp_path / f"server{n}.err", tmp_path / f"server{n}.out"

        # The limit is set by the server's own interpreter before it runs sockweb (soft = hard, so the
        # server cannot lift it); a preexec_fn is not safe in a test process that has threads.
        run_sockweb = ["-m", "sockweb"] if nofile is None else ["-c", _LIMITED.format(nofile)]
        cmd = [sys.executable, *run_sockweb, "serve", "fixtureapps:hello", "--bind", "127.0.0.1:0", *args]
        env = {k: v for k, v in os.environ.items() if not k.startswith("SOCKWEB_")}
        env["PYTHONUNBUFFERED"] = "1"
        with log_path.open("wb") as err, out_path.open("wb") as out:
            proc = subprocess.Popen(cmd, cwd=APPS_DIR, env=env, stdout=out, stderr=err)
        handle = ServerHandle(proc, log_path, out_path)
        handles.append(handle)
        return handle.wait_started()

    yield run
    for handle in handles:
        handle.stop()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` (proc(5): fields 14 and 15 of /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _answered(sock: socket.socket, timeout: float) -> bool:
    sock.settimeout(timeout)
    try:
        status, _, body = read_response(sock, bytearray())
    except OSError:  # includes a timeout and a reset
        return False
    return status.startswith(b"HTTP/1.1 200") and body == b"Hello, World!"


def _split_answered(
    clients: list[socket.socket], wait: float
) -> tuple[list[socket.socket], list[socket.socket]]:
    """(answered, not answered yet) after `wait` seconds; a connection closed without an answer fails."""
    answered: list[socket.socket] = []
    pending = list(clients)
    deadline = time.monotonic() + wait
    while pending and time.monotonic() < deadline:
        ready, _, _ = select.select(pending, [], [], 0.2)
        for sock in ready:
            pending.remove(sock)
            assert _answered(sock, 5.0), "a connection waiting in the listen queue was dropped"
            answered.append(sock)
    return answered, pending


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("loop", LOOPS)
def test_out_of_file_descriptors_backs_off_and_recovers(
    start: Callable[..., ServerHandle], loop: str
) -> None:
    server = start("--loop", loop, "--keepalive-timeout", "60", "--header-timeout", "60", nofile=64)
    clients: list[socket.socket] = []
    try:
        _exhaust_and_recover(server, clients)
    finally:
        for sock in clients:  # a failed assertion must not leave them to the garbage collector
            sock.close()


def _after_start(log: str) -> list[str]:
    """The log lines after "Listening at" (the start-up lines vary with what the server reports)."""
    return log.split("Listening at", 1)[-1].splitlines()[1:]


def _exhaust_and_recover(server: ServerHandle, clients: list[socket.socket]) -> None:
    for _ in range(150):  # far more than 64 descriptors: the rest wait in the listen queue
        sock = socket.socket()
        sock.connect(("127.0.0.1", server.port))
        sock.sendall(REQUEST)
        clients.append(sock)
    time.sleep(1.0)
    # Not spinning: a loop that keeps retrying accept() burns a whole core (measured: 0.8 s of CPU per s).
    before = _cpu_seconds(server.proc.pid)
    time.sleep(2.0)
    assert _cpu_seconds(server.proc.pid) - before < 0.5
    assert len(_after_start(server.log())) < 2, server.log()[:3000]  # no line per failed accept()
    served, waiting = _split_answered(clients, 2.0)
    assert served and waiting, (len(served), len(waiting))
    assert "Cannot accept connections: out of file descriptors" in server.log()
    # The connections it has are still served.
    for sock in served[:5]:
        sock.sendall(REQUEST)
        assert _answered(sock, 10.0)
    # Once descriptors are free, the connections that waited in the queue are served, not dropped.
    for sock in served:
        sock.close()
    for sock in waiting:
        assert _answered(sock, 10.0)
        sock.close()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(REQUEST)
        assert _answered(sock, 10.0)
    log = server.log()
    assert "Accepting connections again" in log
    assert len(_after_start(log)) < 7, log[:3000]  # not a line (or a traceback) per failed accept()


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    where = tmp_path_factory.mktemp("certs")
    cert.cert_chain_pems[0].write_to_path(where / "cert.pem")
    cert.private_key_pem.write_to_path(where / "key.pem")
    ca.cert_pem.write_to_path(where / "ca.pem")
    return {"cert": str(where / "cert.pem"), "key": str(where / "key.pem"), "ca": str(where / "ca.pem")}


def _tls_args(certs: dict[str, str]) -> list[str]:
    return ["--certfile", certs["cert"], "--keyfile", certs["key"]]


def _closed_within(sock: socket.socket, timeout: float) -> bool:
    sock.settimeout(timeout)
    try:
        return sock.recv(4096) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def _https_get(port: int, certs: dict[str, str]) -> bytes:
    context = ssl.create_default_context(cafile=certs["ca"])
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as sock,
    ):
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        return read_response(sock, bytearray())[0]


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize("sent", [b"", PARTIAL_HELLO], ids=["silent", "partial-hello"])
def test_a_stalled_handshake_ends_at_the_header_timeout(
    start: Callable[..., ServerHandle], certs: dict[str, str], loop: str, sent: bytes
) -> None:
    server = start("--loop", loop, "--header-timeout", "1", *_tls_args(certs))
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(sent)
        assert _closed_within(sock, 8.0)  # the loops' own default is 60 s


@pytest.mark.parametrize("loop", LOOPS)
def test_handshakes_count_against_max_connections(
    start: Callable[..., ServerHandle], certs: dict[str, str], loop: str
) -> None:
    server = start("--loop", loop, "--max-connections", "3", "--header-timeout", "30", *_tls_args(certs))
    stalled = []
    for _ in range(3):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        sock.sendall(PARTIAL_HELLO)
        stalled.append(sock)
    try:
        # A fourth connection is beyond the limit while the three handshakes are in progress.
        with pytest.raises(OSError):
            _https_get(server.port, certs)
    finally:
        for sock in stalled:
            sock.close()
    # The handshakes that failed are no longer counted.
    deadline = time.monotonic() + 10
    while True:
        try:
            assert _https_get(server.port, certs).startswith(b"HTTP/1.1 200")
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
