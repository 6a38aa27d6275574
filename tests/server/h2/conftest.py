"""HTTP/2 test helpers: servers with --http2 on the fixture apps, throwaway TLS certificates, the Debian
programs (curl, nghttp, h2load: packages curl and nghttp2-client), and a raw frame client built on h2's
hpack and hyperframe, for sending what a well-behaved client never would and reading every frame back."""

from __future__ import annotations

import os
import shutil
import socket
import struct
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trustme
from hpack import Encoder
from hyperframe.frame import (
    Frame,
    GoAwayFrame,
    HeadersFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)

from server.conftest import APPS_DIR
from serverproc import ServerHandle

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
# RFC 9113 §7: error codes
NO_ERROR, PROTOCOL_ERROR, FLOW_CONTROL_ERROR, FRAME_SIZE_ERROR, ENHANCE_YOUR_CALM = 0, 1, 3, 6, 11
CANCEL, REFUSED_STREAM = 8, 7


def _need(program: str) -> str:
    """The program's path; skips the test without it, fails it under CI (.ci/run installs it)."""
    path = shutil.which(program)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{program} is required under CI")
        pytest.skip(f"{program} is not installed")
    return path


@pytest.fixture(scope="module")
def h2server(
    tmp_path_factory: pytest.TempPathFactory, server_factory: Callable[..., ServerHandle]
) -> Iterator[ServerHandle]:
    """The fixture apps (`fixtureapps:dispatch`) with --http2 on a cleartext listener."""
    handle = server_factory(
        tmp_path_factory.mktemp("h2server"), "fixtureapps:dispatch", "--http2", cwd=APPS_DIR
    )
    try:
        yield handle.wait_started()
    finally:
        handle.stop()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def certs(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("certs")
    cert = ca.issue_cert("127.0.0.1", "localhost")
    paths = {"cert": tmp / "cert.pem", "key": tmp / "key.pem", "ca": tmp / "ca.pem"}
    cert.cert_chain_pems[0].write_to_path(paths["cert"])
    cert.private_key_pem.write_to_path(paths["key"])
    ca.cert_pem.write_to_path(paths["ca"])
    return {k: str(v) for k, v in paths.items()}


class RawClient:
    """A client that writes frames as bytes and reads back every frame the server sends."""

    def __init__(self, handle: ServerHandle, preface: bytes = PREFACE, settings: bool = True) -> None:
        self.sock = socket.create_connection((handle.host, handle.port), timeout=10)
        self.encoder = Encoder()
        self.buf = bytearray()
        self.frames: list[Frame] = []
        self.eof = False
        if preface:
            self.sock.sendall(preface + (SettingsFrame(0).serialize() if settings else b""))

    def close(self) -> None:
        self.sock.close()

    def send(self, *frames: Frame | bytes) -> None:
        self.sock.sendall(b"".join(f if isinstance(f, bytes) else f.serialize() for f in frames))

    def headers(
        self, stream_id: int, path: str = "/hello", end_stream: bool = True, **extra: str
    ) -> HeadersFrame:
        fields = [(":method", "GET"), (":scheme", "http"), (":authority", "example.test"), (":path", path)]
        fields += list(extra.items())
        flags = ["END_HEADERS", *(["END_STREAM"] if end_stream else [])]
        return HeadersFrame(stream_id, self.encoder.encode(fields), flags=flags)

    def request(self, stream_id: int, path: str = "/hello") -> None:
        self.send(self.headers(stream_id, path))

    def read_until(self, predicate: Callable[[Frame], bool], timeout: float = 10.0) -> Frame | None:
        """Read frames until one matches (returned) or the server closes (None)."""
        deadline = time.monotonic() + timeout
        while True:
            frame = self._next_frame()
            if frame is not None:
                self.frames.append(frame)
                if predicate(frame):
                    return frame
                continue
            if self.eof:
                return None
            if time.monotonic() > deadline:
                raise AssertionError(f"no such frame within {timeout}s; got {self.frames!r}")
            try:
                self.sock.settimeout(max(0.05, deadline - time.monotonic()))
                data = self.sock.recv(65536)
            except ConnectionResetError:
                data = b""
            except TimeoutError:
                continue
            if not data:
                self.eof = True
            self.buf += data

    def drain(self, seconds: float) -> None:
        """Read whatever the server sends for `seconds` (kept in `frames`)."""
        try:
            self.read_until(lambda f: False, seconds)
        except AssertionError:
            pass

    def _next_frame(self) -> Frame | None:
        if len(self.buf) < 9:
            return None
        frame, length = Frame.parse_frame_header(memoryview(bytes(self.buf[:9])))
        if len(self.buf) < 9 + length:
            return None
        frame.parse_body(memoryview(bytes(self.buf[9 : 9 + length])))
        del self.buf[: 9 + length]
        return frame

    def goaway(self, timeout: float = 10.0) -> GoAwayFrame:
        frame = self.read_until(lambda f: isinstance(f, GoAwayFrame), timeout)
        assert isinstance(frame, GoAwayFrame), f"no GOAWAY before the close; got {self.frames!r}"
        return frame

    def closed(self, timeout: float = 10.0) -> bool:
        """True once the server has closed the connection (everything after is read and kept)."""
        self.read_until(lambda f: False, timeout)
        return self.eof

    def body(self, stream_id: int, timeout: float = 10.0) -> bytes:
        """The DATA of `stream_id` until END_STREAM (acknowledging it so that big bodies keep coming)."""
        parts: list[bytes] = []

        def done(frame: Frame) -> bool:
            if frame.stream_id != stream_id:
                return False
            if isinstance(frame, RstStreamFrame):
                raise AssertionError(f"stream {stream_id} reset with {frame.error_code}")
            data = getattr(frame, "data", None)
            if frame.type == 0 and data:
                parts.append(data)
                self.send(WindowUpdateFrame(0, len(data)), WindowUpdateFrame(stream_id, len(data)))
            return "END_STREAM" in frame.flags

        assert self.read_until(done, timeout) is not None, "the server closed before END_STREAM"
        return b"".join(parts)


def raw_frame(kind: int, flags: int, stream_id: int, payload: bytes) -> bytes:
    """A frame from its parts, including those hyperframe refuses to build (a DATA frame on stream 0)."""
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream_id) + payload


@pytest.fixture
def raw(h2server: ServerHandle) -> Iterator[Callable[..., RawClient]]:
    clients: list[RawClient] = []

    def connect(**kwargs: object) -> RawClient:
        client = RawClient(h2server, **kwargs)  # type: ignore[arg-type]
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()


def read_marker(path: Path, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text():
            return path.read_text()
        time.sleep(0.02)
    return ""
