"""Application errors, invalid responses, disconnecting and slow clients, start-up failures."""

from __future__ import annotations

import socket
import time

import pytest
import requests

from server.conftest import APPS_DIR, closed_by_peer, connect, read_response

pytestmark = pytest.mark.timeout(60)


def test_app_exception_is_500_with_traceback_logged(server):
    r = requests.get(server.url + "/crash", timeout=10)
    assert r.status_code == 500
    assert b"boom" not in r.content and b"Traceback" not in r.content
    server.wait_for_log(r"Traceback[\s\S]*RuntimeError: boom: the fixture app failed")
    assert requests.get(server.url + "/hello", timeout=10).status_code == 200


def test_error_after_head_closes_connection(server):
    with connect(server) as sock:
        sock.sendall(b"GET /crash_midway HTTP/1.1\r\nHost: t\r\n\r\n")
        with pytest.raises(ConnectionError):
            read_response(sock, bytearray())  # a truncated chunked body, then EOF
    server.wait_for_log(r"boom after the head was sent")


@pytest.mark.parametrize(
    "app", ["bad_status", "bad_header", "bad_length_short", "bad_no_start", "bad_chunk_type"]
)
def test_bad_response_before_head_is_500(server, app):
    with connect(server) as sock:
        sock.sendall(f"GET /{app} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        status, headers, body = read_response(sock, bytearray())
        assert status.startswith(b"HTTP/1.1 500")
        assert b"pwned" not in body and "set-cookie" not in headers
        assert closed_by_peer(sock)


@pytest.mark.parametrize("app", ["bad_length_short_stream", "bad_length_long_stream"])
def test_wrong_content_length_in_stream_never_corrupts(server, app):
    with connect(server) as sock:
        sock.sendall(f"GET /{app} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(
        next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")).split(b":")[
            1
        ]
    )
    # Never more bytes than announced; a short body is cut by closing the connection.
    assert head.startswith(b"HTTP/1.1 200")
    if app == "bad_length_short_stream":
        assert body == b"only ten b" and len(body) < length
    else:
        assert body == b"abc" and len(body) == length


def test_client_disconnect_mid_response_closes_iterable(server, tmp_path):
    marker = tmp_path / "closed.txt"
    with connect(server) as sock:
        sock.sendall(f"GET /endless?marker={marker} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    deadline = time.monotonic() + 20
    while not marker.exists():
        assert time.monotonic() < deadline, "close() was not called after the client went away"
        time.sleep(0.05)
    assert requests.get(server.url + "/hello", timeout=10).status_code == 200


def test_slowloris_head_deadline(run_server):
    srv = run_server("fixtureapps:dispatch", "--header-timeout", "1", cwd=APPS_DIR)
    with connect(srv, timeout=20) as sock:
        sock.sendall(b"GET /hello HTTP/1.1\r\n")
        for _ in range(40):  # dribble: one header byte at a time, far slower than the deadline allows
            try:
                sock.sendall(b"X")
            except OSError:
                break
            time.sleep(0.1)
        data = b""
        try:
            while chunk := sock.recv(4096):
                data += chunk
        except ConnectionResetError:
            pass
    assert data.startswith(b"HTTP/1.1 408")


def test_stalled_body_is_cut_after_body_timeout(run_server):
    # The default deadline is 60 s: a close within the socket timeout below shows --body-timeout is used.
    srv = run_server("fixtureapps:dispatch", "--body-timeout", "1", cwd=APPS_DIR)
    with connect(srv, timeout=8) as sock:
        start = time.monotonic()
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n0123456789")
        try:
            data = sock.recv(65536)  # a TimeoutError here means the stall was never cut
        except ConnectionResetError:
            data = b""
        elapsed = time.monotonic() - start
    assert data == b"" or data.startswith(b"HTTP/1.1 408"), data[:200]
    assert elapsed >= 0.9  # not cut before the deadline


def test_idle_keep_alive_connection_is_closed(run_server):
    srv = run_server("fixtureapps:dispatch", "--keepalive-timeout", "1", cwd=APPS_DIR)
    with connect(srv, timeout=20) as sock:
        sock.sendall(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
        read_response(sock, bytearray())
        assert closed_by_peer(sock)


def test_slow_reader_gets_everything(server):
    with connect(server) as sock:
        sock.sendall(b"GET /big?mib=4 HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
        time.sleep(0.3)  # let the server hit the high-water mark and suspend the response
        data = bytearray()
        while len(data) < (4 << 20):
            chunk = sock.recv(16384)
            assert chunk
            data += chunk
            time.sleep(0.0005)
        _status, _, body = read_response(sock, data)
        assert len(body) == 4 << 20
        assert read_response(sock, data)[2] == b"Hello, World!"


def test_unimportable_app_exits_with_one_line(run_server):
    srv = run_server("no_such_module_xyz:app", wait=False)
    assert srv.proc.wait(20) != 0
    log = srv.log()
    assert "no_such_module_xyz" in log and "Traceback" not in log


def test_app_raising_on_import_is_summarised(run_server, tmp_path):
    (tmp_path / "broken_mod.py").write_text("x = 1\nraise ImportError('needs a database')\n")
    srv = run_server("broken_mod:app", cwd=tmp_path, wait=False)
    assert srv.proc.wait(20) != 0
    assert "needs a database" in srv.log() and "broken_mod.py:2" in srv.log()


def test_taken_port_exits_with_error(run_server, server):
    srv = run_server("fixtureapps:hello", "--bind", f"127.0.0.1:{server.port}", cwd=APPS_DIR, wait=False)
    assert srv.proc.wait(20) != 0
    assert "in use" in srv.log().lower()


def test_bad_bind_exits_with_error(run_server):
    srv = run_server("fixtureapps:hello", "--bind", "nonsense:port", cwd=APPS_DIR, wait=False)
    assert srv.proc.wait(20) != 0
    assert "nonsense:port" in srv.log()


def test_connection_cap(run_server):
    srv = run_server("fixtureapps:dispatch", "--max-connections", "2", cwd=APPS_DIR)
    first, second = connect(srv), connect(srv)
    try:
        for sock in (first, second):
            sock.sendall(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
            assert read_response(sock, bytearray())[2] == b"Hello, World!"
        with connect(srv) as third:
            status, headers, _ = read_response(third, bytearray())
            assert status.startswith(b"HTTP/1.1 503") and headers["connection"] == "close"
    finally:
        first.close()
        second.close()


def test_client_that_pipelines_without_reading_is_throttled(server):
    # 600 pipelined 60 KB requests for 64 KiB each, far more than the kernel buffers hold: the server must
    # stop answering (and reading) once its output buffer is full, then finish all once the client reads.
    n = 600
    pad = b"".join(b"X-Pad-%d: " % i + b"p" * 7490 + b"\r\n" for i in range(8))  # field lines < 8190
    raw = (b"GET /blob?size=65536 HTTP/1.1\r\nHost: t\r\n" + pad + b"\r\n") * n
    with connect(server, timeout=30) as sock:
        sock.setblocking(False)
        view = memoryview(raw)
        sent = 0
        deadline = time.monotonic() + 3
        while sent < len(raw) and time.monotonic() < deadline:
            try:
                sent += sock.send(view[sent:])
            except BlockingIOError:
                time.sleep(0.01)
        assert sent < len(raw), "the server read everything: its output buffer is unbounded"
        buf = bytearray()
        for _ in range(n):
            if sent < len(raw):
                try:
                    sent += sock.send(view[sent:])
                except BlockingIOError:
                    pass
            sock.setblocking(True)
            _, _, body = read_response(sock, buf)
            sock.setblocking(False)
            assert len(body) == 65536
        assert sent == len(raw)


def _read_until_closed(sock):
    data = b""
    reset = False
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        reset = True
    return data, reset


def test_malformed_chunk_in_streamed_body_gets_400(server):
    big = b"s" * 1_500_000
    body = b"%x\r\n%s\r\nZZZ\r\n0\r\n\r\n" % (len(big), big)
    with connect(server) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
        data, _ = _read_until_closed(sock)
    assert data.startswith(b"HTTP/1.1 400")


def test_error_response_then_orderly_close_not_reset(server):
    # 431 after 64 KiB of a 1 MiB head: the server shuts down writing, reads and discards the rest, and
    # closes after the client: a FIN, not a reset that could destroy the response.
    with connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: h\r\nX: " + b"a" * (1 << 20))
        data, reset = _read_until_closed(sock)
    assert data.startswith(b"HTTP/1.1 431") and not reset
