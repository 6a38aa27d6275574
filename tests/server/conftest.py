"""Server test helpers: one module-scoped server on the fixture apps, and a raw-socket HTTP client."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from serverproc import ServerHandle

APPS_DIR = Path(__file__).parent / "apps"


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, server_factory: Callable[..., ServerHandle]
) -> Iterator[ServerHandle]:
    """The fixture apps behind `fixtureapps:dispatch` (/NAME runs app NAME), default settings."""
    handle = server_factory(tmp_path_factory.mktemp("server"), "fixtureapps:dispatch", cwd=APPS_DIR)
    try:
        yield handle.wait_started()
    finally:
        handle.stop()


def connect(handle: ServerHandle, timeout: float = 10.0) -> socket.socket:
    sock = socket.create_connection((handle.host, handle.port), timeout=timeout)
    return sock


def read_response(sock: socket.socket, buf: bytearray) -> tuple[bytes, dict[str, str], bytes]:
    """Read one response (Content-Length, chunked, or until close) from `sock`; `buf` keeps leftovers."""

    def fill() -> bool:
        data = sock.recv(65536)
        buf.extend(data)
        return bool(data)

    while b"\r\n\r\n" not in buf:
        if not fill():
            raise ConnectionError(f"closed before a complete head: {bytes(buf)!r}")
    end = buf.index(b"\r\n\r\n")
    head = bytes(buf[:end]).decode("latin-1")
    del buf[: end + 4]
    status_line, *lines = head.split("\r\n")
    headers: dict[str, str] = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        n = int(headers["content-length"])
        while len(buf) < n:
            if not fill():
                raise ConnectionError("closed before the end of the body")
        body = bytes(buf[:n])
        del buf[:n]
    elif headers.get("transfer-encoding") == "chunked":
        parts = []
        while True:
            while b"\r\n" not in buf:
                if not fill():
                    raise ConnectionError("closed inside a chunked body")
            i = buf.index(b"\r\n")
            size = int(bytes(buf[:i]).split(b";")[0], 16)
            while len(buf) < i + 2 + size + 2:
                if not fill():
                    raise ConnectionError("closed inside a chunk")
            parts.append(bytes(buf[i + 2 : i + 2 + size]))
            del buf[: i + 2 + size + 2]
            if size == 0:
                break
        body = b"".join(parts)
    else:
        while fill():
            pass
        body = bytes(buf)
        buf.clear()
    return status_line.encode("latin-1"), headers, body


def request(handle: ServerHandle, raw: bytes) -> tuple[bytes, dict[str, str], bytes]:
    with connect(handle) as sock:
        sock.sendall(raw)
        return read_response(sock, bytearray())


def closed_by_peer(sock: socket.socket) -> bool:
    """True when the server closed the connection (EOF or reset) before sending anything more."""
    try:
        return sock.recv(65536) == b""
    except ConnectionResetError:
        return True
