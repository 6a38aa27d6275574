"""HTTP/1.1 and PEP 3333 behaviour of the server, over real sockets, against the fixture apps."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import socket

import pytest
import requests

from server.conftest import APPS_DIR, closed_by_peer, connect, read_response, request

pytestmark = pytest.mark.timeout(60)


def get_json(server, path: str, **kwargs):
    r = requests.request(kwargs.pop("method", "GET"), server.url + path, timeout=10, **kwargs)
    assert r.status_code == 200, r.text
    return r.json()


def test_hello_headers(server):
    r = requests.get(server.url + "/hello", timeout=10)
    assert r.status_code == 200
    assert r.content == b"Hello, World!"
    assert r.headers["Content-Length"] == "13"
    assert r.headers["Server"] == "sockweb"
    assert r.headers["Date"].endswith(" GMT")


def test_keep_alive_reuses_one_connection(server):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    ports = set()
    for _ in range(5):
        conn.request("GET", "/echo")
        resp = conn.getresponse()
        assert resp.status == 200
        ports.add(json.loads(resp.read())["remote_port"])
    conn.close()
    assert len(ports) == 1


def test_environ_paths_query_and_headers(server):
    info = get_json(
        server,
        "/echo/caf%C3%A9/a%2Fb?x=1&y=%20z",
        headers={"X-Many": "one", "Cookie": "a=1"},
    )
    assert info["script_name"] == ""
    # PEP 3333: PATH_INFO is decoded to bytes, then held as a latin-1 str.
    assert info["path_info"] == "/echo/caf\xc3\xa9/a/b"
    assert info["query_string"] == "x=1&y=%20z"
    assert info["server_protocol"] == "HTTP/1.1"
    assert info["remote_addr"] == "127.0.0.1"
    assert info["url_scheme"] == "http"
    assert info["server_port"] == str(server.port)
    assert info["headers"]["HTTP_X_MANY"] == "one"


def test_repeated_headers_are_joined(server):
    raw = (
        b"GET /echo HTTP/1.1\r\nHost: t\r\nX-Rep: a\r\nX-Rep: b\r\nCookie: c=1\r\nCookie: d=2\r\n"
        b"Content-Type: text/x\r\n\r\n"
    )
    status, _, body = request(server, raw)
    assert status.startswith(b"HTTP/1.1 200")
    info = json.loads(body)
    assert info["headers"]["HTTP_X_REP"] == "a, b"
    assert info["headers"]["HTTP_COOKIE"] == "c=1; d=2"
    assert info["content_type"] == "text/x"
    assert "HTTP_CONTENT_TYPE" not in info["headers"]


def test_pipelined_requests_answered_in_order(server):
    paths = [f"/echo/{i}" for i in range(16)]
    raw = b"".join(f"GET {p} HTTP/1.1\r\nHost: t\r\n\r\n".encode() for p in paths)
    with connect(server) as sock:
        sock.sendall(raw)
        buf = bytearray()
        got = [json.loads(read_response(sock, buf)[2])["path_info"] for _ in paths]
    assert got == paths


def test_pipelined_with_bodies_and_slow_app(server):
    raw = (
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"
        b"GET /sleepy?t=0.05 HTTP/1.1\r\nHost: t\r\n\r\n"
        b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"
    )
    with connect(server) as sock:
        sock.sendall(raw)
        buf = bytearray()
        first = json.loads(read_response(sock, buf)[2])
        second = read_response(sock, buf)
        third = read_response(sock, buf)
    assert first["body_size"] == 5
    assert second[0].startswith(b"HTTP/1.1 200")
    assert third[2] == b"Hello, World!"


def test_head_has_no_body(server):
    with connect(server) as sock:
        sock.sendall(b"HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
        buf = bytearray()
        # Read the HEAD response head by hand: it announces a body it must not send.
        while b"\r\n\r\n" not in buf:
            buf += sock.recv(4096)
        head, _, rest = bytes(buf).partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        buf = bytearray(rest)
        status, _, body = read_response(sock, buf)
    assert status.startswith(b"HTTP/1.1 200") and body == b"Hello, World!"


def test_chunked_response_stream(server):
    with connect(server) as sock:
        sock.sendall(b"GET /stream?chunks=4&size=3 HTTP/1.1\r\nHost: t\r\n\r\n")
        _status, headers, body = read_response(sock, bytearray())
    assert headers["transfer-encoding"] == "chunked"
    assert body == b"AAABBBCCCDDD"


def test_http10_stream_closes_connection(server):
    with connect(server) as sock:
        sock.sendall(b"GET /stream?chunks=2&size=2 HTTP/1.0\r\n\r\n")
        _status, headers, body = read_response(sock, bytearray())
    assert "transfer-encoding" not in headers
    assert body == b"AABB"


def test_chunked_request_body(server):
    raw = (
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    )
    _status, _, body = request(server, raw)
    info = json.loads(body)
    assert info["body_size"] == 11
    assert info["body_sha256"] == hashlib.sha256(b"hello world").hexdigest()
    assert info["input_terminated"] is True


def test_readline_readlines_iteration(server):
    data = b"line one\nline two\nthree\nfour"
    r = requests.post(server.url + "/lines", data=data, timeout=10)
    assert r.json() == ["line ", "one\n", "line two\n", "three\n", "four"]


def test_write_callable(server):
    r = requests.get(server.url + "/write_callable", timeout=10)
    assert r.content == b"written directly then returned"


def test_exc_info_before_body(server):
    r = requests.get(server.url + "/exc_info_app", timeout=10)
    assert r.status_code == 503
    assert r.content == b"sorry"


@pytest.mark.parametrize("mib", [1, 24])
def test_big_upload_checksum(server, mib):
    data = os.urandom(1 << 20) * mib
    info = get_json(server, "/echo", method="POST", data=data)
    assert info["body_size"] == len(data)
    assert info["body_sha256"] == hashlib.sha256(data).hexdigest()


def test_big_chunked_upload_streams(server):
    block = os.urandom(65536)

    def gen():
        for _ in range(64 * 3):
            yield block

    info = get_json(server, "/echo", method="POST", data=gen())
    assert info["body_size"] == 64 * 3 * 65536
    assert info["body_sha256"] == hashlib.sha256(block * 192).hexdigest()


def test_big_download_checksum(server):
    r = requests.get(server.url + "/big?mib=32", timeout=30)
    expected = hashlib.sha256((bytes(range(256)) * 256) * 16 * 32).hexdigest()
    assert len(r.content) == 32 << 20
    assert hashlib.sha256(r.content).hexdigest() == expected


def test_file_wrapper_sendfile(server, tmp_path):
    path = tmp_path / "blob.bin"
    data = os.urandom(3 << 20) + b"tail"
    path.write_bytes(data)
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    for method in ("GET", "HEAD", "GET"):
        conn.request(method, f"/file_app?path={path}")
        resp = conn.getresponse()
        body = resp.read()
        assert resp.status == 200
        assert resp.headers["Content-Length"] == str(len(data))
        assert body == (data if method == "GET" else b"")
    conn.close()


def test_expect_continue_sent_when_app_reads(server):
    with connect(server) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        interim = sock.recv(4096)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"data")
        _status, _, body = read_response(sock, bytearray())
    assert json.loads(body)["body_size"] == 4


def test_expect_continue_not_sent_when_app_does_not_read(server):
    with connect(server) as sock:
        sock.sendall(
            b"POST /no_read HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"
        )
        status, headers, body = read_response(sock, bytearray())
        assert status.startswith(b"HTTP/1.1 200")
        assert body == b"did not read"
        # The body was never invited: the server closes rather than guess where the next request starts.
        assert headers.get("connection") == "close"
        assert closed_by_peer(sock)


def test_unread_body_is_drained_before_next_request(server):
    raw = b"POST /no_read HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n0123456789GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"
    with connect(server) as sock:
        sock.sendall(raw)
        buf = bytearray()
        assert read_response(sock, buf)[2] == b"did not read"
        assert read_response(sock, buf)[2] == b"Hello, World!"


def test_malformed_request_gets_400_and_close(server):
    with connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost t\r\n\r\n")
        status, headers, _ = read_response(sock, bytearray())
    assert status.startswith(b"HTTP/1.1 400")
    assert headers["connection"] == "close"


def test_tcp_nodelay_and_server_survives_garbage(server):
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(b"\x16\x03\x01garbage that is not http\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 4")
    assert requests.get(server.url + "/hello", timeout=10).status_code == 200


def _peak_rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc")
def test_huge_upload_streams_in_constant_memory(run_server):
    srv = run_server("fixtureapps:dispatch", cwd=APPS_DIR)
    total = 384 << 20
    block = os.urandom(1 << 20)
    digest = hashlib.sha256()
    with connect(srv, timeout=60) as sock:
        sock.sendall(f"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {total}\r\n\r\n".encode())
        for _ in range(total >> 20):
            sock.sendall(block)
            digest.update(block)
        info = json.loads(read_response(sock, bytearray())[2])
    assert info["body_size"] == total and info["body_sha256"] == digest.hexdigest()
    # The body went through a bounded buffer: the server never held more than a few MiB of it.
    peak = _peak_rss_mib(srv.proc.pid)
    print("peak RSS MiB", peak)
    assert peak < 100


def test_tls(run_server, tmp_path):
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert_path, ca_path = tmp_path / "cert.pem", tmp_path / "ca.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_path))
    ca.cert_pem.write_to_path(str(ca_path))
    srv = run_server("fixtureapps:dispatch", "--certfile", str(cert_path), cwd=APPS_DIR)
    info = requests.get(f"https://127.0.0.1:{srv.port}/echo", verify=str(ca_path), timeout=10).json()
    assert info["url_scheme"] == "https"
    path = tmp_path / "f.bin"
    path.write_bytes(b"z" * 100_000)
    r = requests.get(f"https://127.0.0.1:{srv.port}/file_app?path={path}", verify=str(ca_path), timeout=10)
    assert r.content == b"z" * 100_000  # file_wrapper without sendfile over TLS


def test_app_date_and_server_fields_are_not_doubled(server):
    with connect(server) as sock:
        sock.sendall(b"GET /own_date HTTP/1.1\r\nHost: t\r\n\r\n")
        data = b""
        while b"own" not in data:
            data += sock.recv(4096)
    head = data.split(b"\r\n\r\n")[0].lower()
    assert head.count(b"\r\ndate:") == 1 and b"2015" in head
    assert head.count(b"\r\nserver:") == 1 and b"app/1" in head


def test_duplicate_equal_content_length_gives_one_value(server):
    raw = b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc"
    info = json.loads(request(server, raw)[2])
    assert info["content_length"] == "3" and info["body_size"] == 3


def test_absolute_form_target_wins_over_host_field(server):
    raw = b"GET http://a.example:81?to=/x HTTP/1.1\r\nHost: b.example\r\n\r\n"
    status, _, body = request(server, raw)
    assert status.startswith(b"HTTP/1.1 200") and body == b"Hello, World!"  # PATH_INFO "/", not "/x"
    raw = b"GET http://a.example:81/echo?to=/x HTTP/1.1\r\nHost: b.example\r\n\r\n"
    info = json.loads(request(server, raw)[2])
    assert (info["path_info"], info["query_string"]) == ("/echo", "to=/x")
    assert info["headers"]["HTTP_HOST"] == "a.example:81"
