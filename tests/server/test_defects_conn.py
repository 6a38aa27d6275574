"""Regression tests for connection defects found by an attack run: misbehaving WSGI results, clients that
never read their response, the 503 at the connection cap, stalled request bodies, oversized field lines."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator

import pytest

from server.conftest import APPS_DIR, closed_by_peer, connect, read_response
from serverproc import ServerHandle

pytestmark = pytest.mark.timeout(90)

TEN_MIB = 10 << 20


def _read_until_closed(sock: socket.socket) -> tuple[bytes, bool]:
    """Everything until EOF, and whether the connection ended with a reset instead."""
    data = bytearray()
    try:
        while chunk := sock.recv(1 << 20):
            data += chunk
    except (ConnectionResetError, BrokenPipeError):
        return bytes(data), True
    return bytes(data), False


# -- 1. a result that is not a proper iterable -----------------------------------------------------------
@pytest.fixture(scope="module", params=["inline", "pool"])
def results_server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    server_factory: Callable[..., ServerHandle],
) -> Iterator[ServerHandle]:
    tmp = tmp_path_factory.mktemp("results")
    handle = server_factory(tmp, "resultapps:dispatch", "--dispatch", request.param, cwd=APPS_DIR)
    try:
        yield handle.wait_started()
    finally:
        handle.stop()


@pytest.mark.parametrize(
    ("app", "logged"),
    [
        ("none", r"returned NoneType, not an iterable"),
        ("number", r"returned int, not an iterable"),
        ("no_start_none", r"returned NoneType, not an iterable"),
        ("iter_raises", r"RuntimeError: the result's __iter__ failed"),
        ("non_iterator", r"returned _NonIterator, not an iterable"),
    ],
)
def test_result_that_cannot_be_iterated_is_a_logged_500(results_server, app, logged):
    with connect(results_server, timeout=5) as sock:
        sock.sendall(f"GET /{app} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        status, headers, _ = read_response(sock, bytearray())  # a hang ends in a socket timeout
        assert status.startswith(b"HTTP/1.1 500") and headers["connection"] == "close"
        assert closed_by_peer(sock)
    results_server.wait_for_log(
        logged + r"[\s\S]*?\(GET /" + app + r"\)|\(GET /" + app + r"\)[\s\S]*?" + logged
    )
    log = results_server.log()
    assert "Fatal error" not in log and "Unhandled error" not in log
    with connect(results_server, timeout=5) as sock:
        sock.sendall(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
        assert read_response(sock, bytearray())[2] == b"Hello"


@pytest.mark.parametrize(
    ("app", "body", "logged"),
    [
        ("len_raises", b"len ok", None),
        ("close_raises", b"close raises", r"RuntimeError: the result's close\(\) failed"),
        ("close_property", b"close property", r"RuntimeError: the result's close attribute failed"),
    ],
)
def test_result_with_odd_len_or_close_is_served(results_server, app, body, logged):
    with connect(results_server, timeout=5) as sock:
        for _ in range(2):  # the connection stays usable
            sock.sendall(f"GET /{app} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            status, _, got = read_response(sock, bytearray())
            assert status.startswith(b"HTTP/1.1 200") and got == body
    if logged is not None:
        results_server.wait_for_log(logged)
    assert "Fatal error" not in results_server.log()


# -- 2. a client that never reads its response -----------------------------------------------------------
def _small_window_client(srv: ServerHandle, raw: bytes, rcvbuf: int = 4096) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # before connect: sets the window
    sock.settimeout(10)
    sock.connect((srv.host, srv.port))
    sock.sendall(raw)
    return sock


@pytest.mark.parametrize(
    ("dispatch", "target", "connection", "loop"),
    [
        # one piece, exchange done, idle keep-alive
        ("inline", f"/blob?size={TEN_MIB}", "keep-alive", "auto"),
        # one piece, then lingering with the FIN queued behind it
        ("inline", f"/blob?size={TEN_MIB}", "close", "auto"),
        ("inline", f"/blob?size={TEN_MIB}", "close", "asyncio"),
        ("pool", f"/blob?size={TEN_MIB}", "keep-alive", "auto"),
        ("pool", f"/blob?size={TEN_MIB}", "close", "auto"),
        # a generator, suspended at the high-water mark
        ("inline", "/big?mib=10", "keep-alive", "auto"),
    ],
)
def test_client_that_never_reads_is_disconnected(run_server, dispatch, target, connection, loop):
    srv = run_server(
        "fixtureapps:dispatch", "--body-timeout", "1", "--dispatch", dispatch, "--loop", loop, cwd=APPS_DIR
    )
    raw = f"GET {target} HTTP/1.1\r\nHost: t\r\nConnection: {connection}\r\n\r\n".encode()
    with _small_window_client(srv, raw) as sock:
        srv.wait_for_log(r"accepted no response bytes", timeout=15)
        data, _ = _read_until_closed(sock)
    # The rest of the body went with the connection: only what was in flight arrives.
    assert data.startswith(b"HTTP/1.1 200") and len(data) < TEN_MIB
    assert srv.log().count("accepted no response bytes") == 1


def test_slow_but_steady_reader_is_not_disconnected(run_server):
    # Progress resets the write deadline: 6 MiB read at about 1 MiB/s, with a 1 s deadline, all arrive
    # (the kernel's send queue takes a few MiB, the rest waits in the server's buffer for seconds).
    srv = run_server("fixtureapps:dispatch", "--body-timeout", "1", cwd=APPS_DIR)
    size = 6 << 20
    raw = f"GET /blob?size={size} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode()
    with _small_window_client(srv, raw, rcvbuf=65536) as sock:
        data = bytearray()
        reset = False
        try:
            while chunk := sock.recv(65536):
                data += chunk
                time.sleep(0.05)
        except ConnectionResetError:
            reset = True
    assert not reset and "accepted no response bytes" not in srv.log()
    assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"b" * 1000)
    assert len(data.partition(b"\r\n\r\n")[2]) == size


# -- 3. the 503 at the cap and a stalled body end in a staged close ---------------------------------------
def test_refused_connection_gets_503_then_a_staged_close(run_server):
    srv = run_server("fixtureapps:dispatch", "--max-connections", "1", cwd=APPS_DIR)
    first = connect(srv)
    try:
        first.sendall(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
        assert read_response(first, bytearray())[2] == b"Hello, World!"
        with connect(srv) as refused:
            time.sleep(0.3)  # the server answers at once: the request below arrives after its 503
            # An upload the server never reads: a plain close answers it with a reset.
            failed = None
            try:
                refused.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n")
                refused.sendall(b"x" * 1000000)
                refused.shutdown(socket.SHUT_WR)
            except OSError as exc:
                failed = exc
            data, reset = _read_until_closed(refused)
        assert failed is None and not reset
        assert data.startswith(b"HTTP/1.1 503") and b"\r\nConnection: close" in data
    finally:
        first.close()
    # The refused connection left the count when it closed: a new one is served.
    deadline = time.monotonic() + 10
    while True:
        with connect(srv) as sock:
            sock.sendall(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
            status, _, _ = read_response(sock, bytearray())
        if status.startswith(b"HTTP/1.1 200"):
            break
        assert time.monotonic() < deadline, "the server stayed at its connection cap"
        time.sleep(0.1)


@pytest.mark.parametrize(
    "args",
    [
        (),  # the body is collected before the application runs
        ("--body-buffer", "0"),  # the body streams to the application in a thread; its read fails
    ],
)
def test_stalled_body_gets_408_then_a_staged_close(run_server, args):
    srv = run_server("fixtureapps:dispatch", "--body-timeout", "1", *args, cwd=APPS_DIR)
    with connect(srv, timeout=10) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n0123456789")
        data, reset = _read_until_closed(sock)  # a hang ends in a socket timeout
    assert data.startswith(b"HTTP/1.1 408") and not reset, data[:200]
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"\r\nConnection: close" in head and f"Content-Length: {len(body)}".encode() in head


# -- 4. a per-field size limit ------------------------------------------------------------------------------
def test_field_line_limit_defaults_to_the_parser_limit_and_answers_431(run_server):
    from sockweb.http import Limits
    from sockweb.server.config import Config

    assert Config().max_field_size == Limits().max_field_size == 8190
    srv = run_server("fixtureapps:dispatch", "--max-field-size", "100", cwd=APPS_DIR)
    with connect(srv) as sock:
        sock.sendall(b"GET /hello HTTP/1.1\r\nHost: t\r\nX: " + b"v" * 97 + b"\r\n\r\n")  # at the limit
        assert read_response(sock, bytearray())[0].startswith(b"HTTP/1.1 200")
        sock.sendall(b"GET /hello HTTP/1.1\r\nHost: t\r\nX: " + b"v" * 98 + b"\r\n\r\n")
        data, reset = _read_until_closed(sock)
    assert data.startswith(b"HTTP/1.1 431") and not reset
