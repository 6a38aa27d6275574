"""StaticFiles behind the real sockweb server: sendfile through wsgi.file_wrapper, ranges, hostile raw paths."""

from __future__ import annotations

import http.client
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

APP_MODULE = """
import os
from sockweb.web.lint import LintMiddleware
from sockweb.web.static import StaticFiles

root = os.environ["STATIC_ROOT"]
plain = StaticFiles(None, {"/s": root})
# Under /l the same files go through strict lint: a PEP 3333 slip on either side becomes a 500.
linted = LintMiddleware(StaticFiles(None, {"/l": root}), strict=True)


def app(environ, start_response):
    return (linted if environ["PATH_INFO"].startswith("/l/") else plain)(environ, start_response)
"""

BIG = os.urandom(300_000)


@pytest.fixture
def served(tmp_path: Path, run_server: Callable[..., Any]) -> Any:
    (tmp_path / "secret.txt").write_bytes(b"TOP-SECRET")
    root = tmp_path / "root"
    root.mkdir()
    (root / "big.bin").write_bytes(BIG)
    (root / "escape.txt").symlink_to(tmp_path / "secret.txt")
    (tmp_path / "staticapp.py").write_text(APP_MODULE)
    return run_server("staticapp:app", cwd=tmp_path, env={"STATIC_ROOT": str(root)})


def get(server: Any, path: str, headers: dict[str, str] | None = None, method: str = "GET") -> Any:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def raw(server: Any, target: bytes) -> bytes:
    """Send a request line exactly as given (no client-side normalisation) and read the whole answer."""
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_whole_file_range_to_end_and_middle_range(served: Any) -> None:
    status, headers, body = get(served, "/s/big.bin")
    assert status == 200 and body == BIG
    assert headers["Content-Length"] == str(len(BIG))
    # A range running to the end of the file may go out through sendfile from the seek position.
    status, headers, body = get(served, "/s/big.bin", {"Range": "bytes=100000-"})
    assert status == 206 and body == BIG[100000:]
    assert headers["Content-Range"] == f"bytes 100000-{len(BIG) - 1}/{len(BIG)}"
    status, _, body = get(served, "/s/big.bin", {"Range": "bytes=10-19"})
    assert status == 206 and body == BIG[10:20]
    status, _, body = get(served, "/s/big.bin", {"If-None-Match": headers["ETag"]})
    assert status == 304 and body == b""
    status, headers, body = get(served, "/s/big.bin", method="HEAD")
    assert status == 200 and body == b"" and headers["Content-Length"] == str(len(BIG))


def test_server_and_static_files_pass_strict_lint(served: Any) -> None:
    status, _, body = get(served, "/l/big.bin")
    assert status == 200 and body == BIG
    status, _, body = get(served, "/l/big.bin", {"Range": "bytes=5-9"})
    assert status == 206 and body == BIG[5:10]
    status, _, body = get(served, "/l/big.bin", method="HEAD")
    assert status == 200 and body == b""
    status, _, _ = get(served, "/l/missing")
    assert status == 404


@pytest.mark.parametrize(
    "target",
    [b"/s/../secret.txt", b"/s/%2e%2e/secret.txt", b"/s/%252e%252e/secret.txt", b"/s/..%5csecret.txt",
     b"/s/escape.txt", b"/s/%00"],
)  # fmt: skip
def test_hostile_raw_targets(served: Any, target: bytes) -> None:
    answer = raw(served, target)
    assert b"TOP-SECRET" not in answer
    assert answer.startswith((b"HTTP/1.1 404", b"HTTP/1.1 400"))
