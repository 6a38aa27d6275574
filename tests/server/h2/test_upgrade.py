"""The HTTP/1.1 ``Upgrade: h2c`` path (RFC 7540 §3.2; deprecated by RFC 9113 §3.1, still sent by curl
``--http2`` and ``nghttp -u`` on cleartext): only with ``--http2``, only for a body-less request with one
valid HTTP2-Settings field named in Connection; the answer is 101, then the request is stream 1. Anything
else is served over HTTP/1.1, as if the Upgrade field were not there (RFC 9110 §7.8)."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import time

import pytest
from hpack import Decoder
from hyperframe.frame import DataFrame, Frame, HeadersFrame, SettingsFrame

from server.conftest import connect, read_response
from server.h2.conftest import PREFACE, _need

pytestmark = pytest.mark.timeout(60)

SETTINGS = base64.urlsafe_b64encode(
    SettingsFrame(0, settings={SettingsFrame.MAX_CONCURRENT_STREAMS: 100}).serialize_body()
)


def _upgrade_request(path: str = "/echo", settings: bytes = SETTINGS, extra: bytes = b"") -> bytes:
    return (
        b"GET %s HTTP/1.1\r\nHost: example.test\r\nConnection: Upgrade, HTTP2-Settings\r\n"
        b"Upgrade: h2c\r\nHTTP2-Settings: %s\r\n%s\r\n" % (path.encode(), settings, extra)
    )


def _read_upgraded(sock: socket.socket) -> tuple[bytes, list[Frame]]:
    """What came before the 101 (HTTP/1.1 responses), and the HTTP/2 frames after it until stream 1 ends."""
    buf = b""
    deadline = time.monotonic() + 10
    while b"HTTP/1.1 101 Switching Protocols\r\n" not in buf or b"\r\n\r\n" not in buf.split(b" 101 ", 1)[1]:
        assert time.monotonic() < deadline, buf
        data = sock.recv(65536)
        assert data, f"closed before the 101: {buf!r}"
        buf += data
    before, _, after = buf.partition(b"HTTP/1.1 101 Switching Protocols\r\n")
    head, _, rest = after.partition(b"\r\n\r\n")
    assert head.lower().split(b"\r\n") == [b"connection: upgrade", b"upgrade: h2c"]
    frames: list[Frame] = []
    while True:
        while len(rest) >= 9:
            frame, length = Frame.parse_frame_header(memoryview(rest[:9]))
            if len(rest) < 9 + length:
                break
            frame.parse_body(memoryview(rest[9 : 9 + length]))
            frames.append(frame)
            rest = rest[9 + length :]
        if any(f.stream_id == 1 and "END_STREAM" in f.flags for f in frames):
            break
        assert time.monotonic() < deadline, frames
        data = sock.recv(65536)
        assert data, f"closed before stream 1 ended: {frames!r}"
        rest += data
    return before, frames


def test_curl_http2_on_cleartext_upgrades(h2server) -> None:
    curl = _need("curl")
    out = subprocess.run(
        [curl, "-sS", "-i", "--http2", f"http://127.0.0.1:{h2server.port}/echo"],
        capture_output=True,
        timeout=30,
        check=True,
    ).stdout
    assert out.startswith(b"HTTP/1.1 101 Switching Protocols\r\n"), out[:300]
    _, _, answer = out.partition(b"\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/2 200"), head
    info = json.loads(body)
    assert info["server_protocol"] == "HTTP/2"
    assert info["headers"]["HTTP_HOST"] == f"127.0.0.1:{h2server.port}"
    # The fields that asked for the upgrade are the connection's, not the request's (RFC 9113 §8.2.2).
    assert not {"HTTP_CONNECTION", "HTTP_UPGRADE", "HTTP_HTTP2_SETTINGS"} & set(info["headers"])


def test_nghttp_u_upgrades(h2server) -> None:
    nghttp = _need("nghttp")
    result = subprocess.run(
        [nghttp, "-u", "-v", f"http://127.0.0.1:{h2server.port}/hello"],
        capture_output=True,
        timeout=30,
        check=True,
    )
    assert b"HTTP Upgrade success" in result.stdout, result.stdout[-2000:]
    assert b":status: 200" in result.stdout
    assert b"Hello, World!" in result.stdout


def test_a_request_before_the_upgrade_is_answered_first_and_the_preface_may_come_at_once(h2server) -> None:
    # One write: a plain request, the upgrade request, and the preface the client would send after the 101.
    with connect(h2server) as sock:
        sock.sendall(
            b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"
            + _upgrade_request("/hello")
            + PREFACE
            + SettingsFrame(0).serialize()
        )
        before, frames = _read_upgraded(sock)
    assert before.startswith(b"HTTP/1.1 200 OK\r\n") and before.endswith(b"Hello, World!")
    assert isinstance(frames[0], SettingsFrame)  # the server's connection preface comes first
    (head,) = [f for f in frames if isinstance(f, HeadersFrame)]
    assert head.stream_id == 1 and dict(Decoder().decode(head.data))[":status"] == "200"
    assert b"".join(f.data for f in frames if isinstance(f, DataFrame)) == b"Hello, World!"


@pytest.mark.parametrize(
    "request_bytes",
    [
        # A body would have to be read over HTTP/1.1 first: such a request stays HTTP/1.1.
        b"POST /echo HTTP/1.1\r\nHost: t\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
        b"HTTP2-Settings: " + SETTINGS + b"\r\nContent-Length: 5\r\n\r\nhello",
        # RFC 7540 §3.2.1: HTTP2-Settings must be a connection option ...
        b"GET /echo HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n"
        b"HTTP2-Settings: " + SETTINGS + b"\r\n\r\n",
        # ... present exactly once ...
        b"GET /echo HTTP/1.1\r\nHost: t\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n\r\n",
        # ... and a SETTINGS payload in base64url: not other bytes, nor a length that is no SETTINGS ...
        _upgrade_request(settings=b"!!!!"),
        _upgrade_request(settings=b"AAMA"),
        # ... with valid values (RFC 9113 §6.5.2: ENABLE_PUSH is 0 or 1).
        _upgrade_request(settings=base64.urlsafe_b64encode(b"\x00\x02\x00\x00\x00\x07")),
        # h2 is the TLS token; only h2c is upgraded to on cleartext.
        _upgrade_request().replace(b"Upgrade: h2c", b"Upgrade: h2"),
    ],
    ids=["body", "not a connection option", "no settings", "not base64url", "bad length", "bad value", "h2"],
)
def test_other_upgrade_requests_are_served_over_http11(h2server, request_bytes: bytes) -> None:
    with connect(h2server) as sock:
        sock.sendall(request_bytes)
        status, _headers, body = read_response(sock, bytearray())
    assert status.startswith(b"HTTP/1.1 200"), status
    assert json.loads(body)["server_protocol"] == "HTTP/1.1"


def test_no_upgrade_without_http2(server) -> None:
    with connect(server) as sock:
        sock.sendall(_upgrade_request())
        status, _headers, body = read_response(sock, bytearray())
    assert status.startswith(b"HTTP/1.1 200"), status
    assert json.loads(body)["server_protocol"] == "HTTP/1.1"
