"""Graceful shutdown, the access log, the thread pool and dispatch modes, --trace, frameworks."""

from __future__ import annotations

import concurrent.futures
import json
import signal
import threading

import pytest
import requests

from server.conftest import APPS_DIR, closed_by_peer, connect, read_response

pytestmark = pytest.mark.timeout(60)


def test_graceful_shutdown_finishes_in_flight_request(run_server):
    srv = run_server("fixtureapps:dispatch", cwd=APPS_DIR)
    idle = connect(srv)
    idle.sendall(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
    read_response(idle, bytearray())
    with connect(srv) as busy:
        busy.sendall(b"GET /sleepy?t=1.5 HTTP/1.1\r\nHost: t\r\n\r\n")
        srv.wait_for_log(r"Listening")
        # Make sure the request is in flight before signalling.
        threading.Event().wait(0.3)
        srv.proc.send_signal(signal.SIGTERM)
        status, _headers, _body = read_response(busy, bytearray())
        assert status.startswith(b"HTTP/1.1 200")
        assert busy.recv(10) == b""  # closed once its response was sent
    assert idle.recv(10) == b""  # the idle keep-alive connection was closed
    idle.close()
    assert srv.proc.wait(20) == 0
    with pytest.raises(OSError):
        connect(srv, timeout=2)


def test_access_log_line(run_server):
    srv = run_server("fixtureapps:dispatch", "--access-log", "-", cwd=APPS_DIR)
    requests.get(srv.url + "/hello?q=1", headers={"User-Agent": "tester/1.0"}, timeout=10)
    srv.stop()
    line = srv.output().strip().splitlines()[-1]
    assert '"GET /hello?q=1 HTTP/1.1" 200 13' in line and "tester/1.0" in line


@pytest.mark.parametrize("mode", ["pool", "auto"])
def test_blocking_app_runs_in_pool_threads(run_server, mode):
    srv = run_server("fixtureapps:dispatch", "--dispatch", mode, "--threads", "8", cwd=APPS_DIR)
    barrier_url = srv.url + "/sleepy?t=0.2"
    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        names = list(ex.map(lambda _: requests.get(barrier_url, timeout=20).text, range(32)))
    # "auto" calls the first request inline and sees it slow, measures the next ones inline (they waited,
    # they did not compute), and after two such calls sends the rest to the pool.
    assert names.count("MainThread") <= (3 if mode == "auto" else 0)
    pool_threads = {n for n in names if n != "MainThread"}
    assert all(n.startswith("sockweb-app-") for n in pool_threads)
    assert 1 < len(pool_threads) <= 8


def test_inline_mode_runs_on_loop_thread(run_server):
    srv = run_server("fixtureapps:dispatch", "--dispatch", "inline", cwd=APPS_DIR)
    assert requests.get(srv.url + "/sleepy?t=0", timeout=10).text == "MainThread"
    info = requests.get(srv.url + "/echo", timeout=10).json()
    assert info["multithread"] is True  # bodies that stream in still run in a worker thread


def test_trace_logs_journey_and_server_timing(run_server):
    srv = run_server("fixtureapps:dispatch", "--trace", cwd=APPS_DIR)
    r = requests.get(srv.url + "/hello", timeout=10)
    assert "app;dur=" in r.headers["Server-Timing"]
    srv.wait_for_log(
        r"GET /hello 200: accepted .* parsed .* app called .* first byte .* last byte .*13 bytes"
    )


def test_proxy_protocol_header_sets_remote_addr(run_server):
    srv = run_server("fixtureapps:dispatch", "--proxy-protocol", cwd=APPS_DIR)
    with connect(srv) as sock:
        sock.sendall(b"PROXY TCP4 203.0.113.7 192.0.2.1 4711 80\r\nGET /echo HTTP/1.1\r\nHost: t\r\n\r\n")
        info = json.loads(read_response(sock, bytearray())[2])
    assert (info["remote_addr"], info["remote_port"]) == ("203.0.113.7", "4711")
    with connect(srv) as sock:
        sock.sendall(b"GET /echo HTTP/1.1\r\nHost: t\r\n\r\n")  # no PROXY header from a trusted peer
        assert closed_by_peer(sock)


def test_start_up_log_names_the_event_loop(run_server):
    try:
        import uvloop
    except ImportError:  # the default install has it on CPython (Linux, macOS); elsewhere, the fallback
        default = r"Event loop: asyncio \(the standard library's; uvloop is not installed"
    else:
        default = rf"Event loop: uvloop {uvloop.__version__}\n"
    srv = run_server("fixtureapps:dispatch", cwd=APPS_DIR, env={"SOCKWEB_LOOP": "auto"})
    srv.wait_for_log(default)
    srv = run_server("fixtureapps:dispatch", cwd=APPS_DIR, env={"SOCKWEB_LOOP": "asyncio"})
    srv.wait_for_log(r"Event loop: asyncio \(the standard library's, as configured\)\n")


def test_start_up_log_names_the_parser_path(run_server):
    srv = run_server("fixtureapps:dispatch", cwd=APPS_DIR, env={"SOCKWEB_PURE_PYTHON": "1"})
    srv.wait_for_log(r"Request parser: pure Python \(SOCKWEB_PURE_PYTHON is set\)\n")
    srv.wait_for_log(r"Environ header loop: pure Python \(SOCKWEB_PURE_PYTHON is set\)\n")


def test_plain_asyncio_loop(run_server, tmp_path):
    srv = run_server("fixtureapps:dispatch", "--loop", "asyncio", cwd=APPS_DIR)
    raw = b"".join(f"GET /echo/{i} HTTP/1.1\r\nHost: t\r\n\r\n".encode() for i in range(8))
    with connect(srv) as sock:
        sock.sendall(raw + b"GET /big?mib=8 HTTP/1.1\r\nHost: t\r\n\r\n")
        buf = bytearray()
        assert [json.loads(read_response(sock, buf)[2])["path_info"] for _ in range(8)] == [
            f"/echo/{i}" for i in range(8)
        ]
        assert len(read_response(sock, buf)[2]) == 8 << 20
    path = tmp_path / "f.bin"
    path.write_bytes(b"q" * 300_000)
    assert requests.get(f"{srv.url}/file_app?path={path}", timeout=10).content == b"q" * 300_000
    r = requests.post(srv.url + "/echo", data=b"u" * (3 << 20), timeout=10)
    assert r.json()["body_size"] == 3 << 20


def _has_ipv6() -> bool:
    import socket

    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _has_ipv6(), reason="no IPv6 loopback here")
def test_two_binds_ipv4_and_ipv6(run_server):
    srv = run_server("fixtureapps:dispatch", "--bind", "127.0.0.1:0", "--bind", "[::1]:0", cwd=APPS_DIR)
    match = srv.wait_for_log(r"Listening at http://\[::1\]:(\d+)")
    info6 = requests.get(f"http://[::1]:{match.group(1)}/echo", timeout=10).json()
    assert info6["remote_addr"] == "::1" and info6["server_name"] == "::1"
    assert requests.get(srv.url + "/hello", timeout=10).text == "Hello, World!"


def test_pool_mode_streams_with_backpressure_and_frees_threads(run_server, tmp_path):
    srv = run_server("fixtureapps:dispatch", "--dispatch", "pool", "--threads", "2", cwd=APPS_DIR)
    import hashlib
    import time

    with connect(srv, timeout=30) as sock:
        sock.sendall(b"GET /big?mib=16 HTTP/1.1\r\nHost: t\r\n\r\n")
        time.sleep(0.3)  # the worker thread fills the buffers and must wait, not buffer 16 MiB
        _, _, body = read_response(sock, bytearray())
    assert hashlib.sha256(body).hexdigest() == hashlib.sha256((bytes(range(256)) * 256) * 256).hexdigest()
    # Both threads stream to clients that vanish: each close() is called and the threads come back.
    markers = [tmp_path / f"m{i}" for i in range(2)]
    for marker in markers:
        sock = connect(srv)
        sock.sendall(f"GET /endless?marker={marker} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        assert sock.recv(100).startswith(b"HTTP/1.1 200")
        sock.close()
    deadline = time.monotonic() + 20
    while not all(m.exists() for m in markers):
        assert time.monotonic() < deadline, "a worker thread is still held by a gone client"
        time.sleep(0.05)
    assert requests.get(srv.url + "/hello", timeout=10).text == "Hello, World!"
