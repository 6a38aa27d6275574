"""The toolkit core behind the real server: hostile uploads get the right 4xx, files go out whole or in
ranges through the server's file wrapper."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sockweb.web.multipart import encode_multipart

APPS_DIR = Path(__file__).parent / "apps"
PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


@pytest.fixture(scope="module")
def server(server_factory: Callable[..., Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One server for the module (started once, always stopped), serving a 1 MiB payload file."""
    tmp = tmp_path_factory.mktemp("webcore")
    payload = tmp / "payload.bin"
    payload.write_bytes(PAYLOAD)
    env = {"WEBCORE_PAYLOAD": str(payload)}
    handle = server_factory(tmp, "webcore_app:app", cwd=APPS_DIR, env=env)
    try:
        yield handle.wait_started()
    finally:
        handle.stop()


def exchange(server: Any, head: bytes, body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """Send one request on a fresh connection and read the whole response (Connection: close)."""
    with socket.create_connection((server.host, server.port), timeout=20) as sock:
        sock.sendall(head + body)
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    raw = b"".join(chunks)
    head_bytes, _, rest = raw.partition(b"\r\n\r\n")
    lines = head_bytes.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, rest


def post_head(path: str, content_type: str, length: int, extra: str = "") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {length}\r\n{extra}\r\n"
    ).encode("latin-1")


def get_head(path: str, extra: str = "", method: str = "GET") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{extra}\r\n".encode(
        "latin-1"
    )


def test_twenty_megabytes_without_newline(server: Any) -> None:
    body, content_type = encode_multipart([("note", "hi"), ("f", (b"x" * (20 << 20), "big.bin", None))])
    status, _, data = exchange(server, post_head("/upload", content_type, len(body)), body)
    assert status == 200
    assert json.loads(data) == {"form": {"note": "hi"}, "files": {"f": 20 << 20}}


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b"--b\r\nbroken\r\n\r\nv\r\n--b--\r\n", "multipart/form-data; boundary=b", 400),
        (b"--b\r\n\r\nno end", "multipart/form-data; boundary=b", 400),
        (b"x", "multipart/form-data", 400),
        (b"--b\r\n\r\nv\r\n" * 60 + b"--b--\r\n", "multipart/form-data; boundary=b", 413),
        (b"--b\r\nX: " + b"h" * 20_000 + b"\r\n\r\nv\r\n--b--\r\n", "multipart/form-data; boundary=b", 413),
        (b'{"a": ', "application/json", 400),
        (b'{"a": 1}', "text/plain", 415),
    ],
    ids=[
        "bad-part-header",
        "unterminated",
        "no-boundary",
        "too-many-parts",
        "huge-part-header",
        "bad-json",
        "not-json",
    ],
)
def test_hostile_bodies_get_the_right_status(
    server: Any, body: bytes, content_type: str, expected: int
) -> None:
    path = "/json" if "multipart" not in content_type else "/upload"
    status, _, _ = exchange(server, post_head(path, content_type, len(body)), body)
    assert status == expected


def test_declared_length_over_the_limit_is_413_before_reading(server: Any) -> None:
    status, _, _ = exchange(server, post_head("/upload", "multipart/form-data; boundary=b", 25 << 20))
    assert status == 413


def test_json_error_rendering(server: Any) -> None:
    status, headers, data = exchange(
        server, post_head("/json", "application/json", 3, "Accept: application/json\r\n"), b"{,}"
    )
    assert status == 400 and headers["content-type"] == "application/json"
    assert json.loads(data)["code"] == 400


def test_chunked_upload(server: Any) -> None:
    body, content_type = encode_multipart([("a", "1"), ("f", (b"chunked!" * 1000, "c.bin", None))])
    chunked = b"".join(
        b"%x\r\n%s\r\n" % (len(body[i : i + 1000]), body[i : i + 1000]) for i in range(0, len(body), 1000)
    )
    head = (
        f"POST /upload HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        f"Content-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    status, _, data = exchange(server, head, chunked + b"0\r\n\r\n")
    assert status == 200 and json.loads(data) == {"form": {"a": "1"}, "files": {"f": 8000}}


def test_file_whole_ranged_and_conditional(server: Any) -> None:
    status, headers, data = exchange(server, get_head("/file"))
    assert status == 200 and data == PAYLOAD and headers["content-length"] == str(len(PAYLOAD))
    status, headers, data = exchange(server, get_head("/file", "Range: bytes=1000-1999\r\n"))
    assert status == 206 and data == PAYLOAD[1000:2000]
    assert headers["content-range"] == f"bytes 1000-1999/{len(PAYLOAD)}"
    status, headers, data = exchange(server, get_head("/file", "Range: bytes=0-9,-10\r\n"))
    assert status == 206 and headers["content-type"].startswith("multipart/byteranges")
    assert PAYLOAD[:10] in data and PAYLOAD[-10:] in data
    status, headers, _ = exchange(server, get_head("/file", "Range: bytes=9999999-\r\n"))
    assert status == 416 and headers["content-range"] == f"bytes */{len(PAYLOAD)}"
    status, first, _ = exchange(server, get_head("/file", method="HEAD"))
    status, _, data = exchange(server, get_head("/file", f"If-None-Match: {first['etag']}\r\n"))
    assert status == 304 and data == b""
