"""A strict HTTP/1.1 client side for the wire tests: raw bytes out, responses parsed and checked in.

Strategy: a `Wire` owns one socket and a receive buffer. Requests are sent as raw bytes (the server may
close while we are still sending, which is not an error of the test: its answer is still read). Responses
are parsed by the rules a client must apply (RFC 9112 §6.3 for the body length: HEAD and 1xx/204/304 have
none; chunked is parsed and its framing checked; Content-Length is read exactly; otherwise the body ends at
close), and each head is checked for the fields every response must carry (Date, Server). Every wait is
bounded by the socket timeout, so a server that hangs fails the test instead of stalling it.
"""

from __future__ import annotations

import json
import re
import socket
from dataclasses import dataclass, field
from typing import Any

TIMEOUT = 5.0
_STATUS_LINE = re.compile(rb"HTTP/1\.([01]) ([0-9]{3}) ([\t -~\x80-\xff]*)")
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})(;[^\r\n]*)?")
# RFC 9110 §5.6.7: IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
_IMF_FIXDATE = re.compile(
    rb"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    rb"[0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT"
)


class WireError(AssertionError):
    """The server's bytes break HTTP, or it did not answer within the timeout."""


@dataclass
class Response:
    """One parsed response; `framing` is "length", "chunked", "close" or "none"."""

    version: str
    status: int
    reason: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes = b""
    framing: str = "none"
    trailers: list[tuple[bytes, bytes]] = field(default_factory=list)

    def get(self, name: bytes) -> bytes | None:
        values = self.get_all(name)
        return b", ".join(values) if values else None

    def get_all(self, name: bytes) -> list[bytes]:
        return [v for n, v in self.headers if n == name]

    def connection_tokens(self) -> set[bytes]:
        value = self.get(b"connection") or b""
        return {t.strip().lower() for t in value.split(b",") if t.strip()}

    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data


class Wire:
    """One client connection to the server under test."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = TIMEOUT) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = bytearray()
        self.closed = False  # the server closed (recv returned b"" or the connection was reset)
        self.reset = False
        self.send_failed = False

    def __enter__(self) -> Wire:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    # -- sending ----------------------------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        """Send `data`; a server that already closed its side is recorded, not raised."""
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            self.send_failed = True
        except TimeoutError:
            raise WireError(f"the server stopped reading after {len(self.buf)} response bytes") from None

    def send_bytewise(self, data: bytes) -> None:
        """Send `data` one byte per segment (Nagle off), as a slow or hostile client would."""
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(data)):
            self.send(data[i : i + 1])
            if self.send_failed:
                return

    def half_close(self) -> None:
        """Signal end of input (the request stream ends here), keep reading."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self.send_failed = True

    # -- receiving --------------------------------------------------------------------------------------
    def fill(self) -> bool:
        """Receive once into the buffer; False once the server has closed (or reset) the connection."""
        if self.closed:
            return False
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            self.closed = self.reset = True
            return False
        except TimeoutError:
            raise WireError(
                f"no answer within {self.sock.gettimeout()}s; received so far: {bytes(self.buf[:300])!r}"
            ) from None
        if not data:
            self.closed = True
            return False
        self.buf += data
        return True

    def _line(self) -> bytes:
        while True:
            end = self.buf.find(b"\r\n")
            if end >= 0:
                line = bytes(self.buf[:end])
                del self.buf[: end + 2]
                if b"\n" in line or b"\r" in line:
                    raise WireError(f"bare CR or LF in a response line: {line!r}")
                return line
            if len(self.buf) > 65536:
                raise WireError("a response line longer than 64 KiB")
            if not self.fill():
                raise WireError(f"connection closed inside a response head: {bytes(self.buf[:300])!r}")

    def _exactly(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self.fill():
                raise WireError(f"connection closed {n - len(self.buf)} bytes before the end of a body")
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def at_eof(self) -> bool:
        """Nothing is buffered and the server closed (or closes within the timeout)."""
        if self.buf:
            return False
        while not self.closed:
            if self.fill():
                return False
        return True

    def expect_close(self, allow_reset: bool = False) -> None:
        """The server must close now, without sending anything more.

        A reset (RST) instead of a close (FIN) fails unless `allow_reset`: a client that is still sending
        when the server closes provokes the RST itself, one that is not must see an orderly close.
        """
        if not self.at_eof():
            raise WireError(f"bytes after the last expected response: {bytes(self.buf[:300])!r}")
        if self.reset and not allow_reset:
            raise WireError("the connection was reset (RST) instead of closed (FIN)")

    def read_head(self) -> Response:
        """Read a status line and header section (no body)."""
        if not self.buf and not self.fill():
            raise WireError("connection closed without a response")
        line = self._line()
        match = _STATUS_LINE.fullmatch(line)
        if match is None:
            raise WireError(f"malformed status line: {line!r}")
        headers: list[tuple[bytes, bytes]] = []
        while True:
            line = self._line()
            if not line:
                break
            name, colon, value = line.partition(b":")
            if not colon or not _TOKEN.fullmatch(name):
                raise WireError(f"malformed response header line: {line!r}")
            headers.append((name.lower(), value.strip(b" \t")))
        return Response("1." + match.group(1).decode(), int(match.group(2)), match.group(3), headers)

    def read_response(self, method: str = "GET", *, skip_interim: bool = True) -> Response:
        """Read one final response to a `method` request (interim 1xx are skipped unless told)."""
        while True:
            resp = self.read_head()
            check_head(resp)
            if 100 <= resp.status < 200:
                if resp.status == 101:
                    raise WireError("101 Switching Protocols to a request that did not ask for it")
                if skip_interim:
                    continue
                return resp
            self._read_body(resp, method)
            return resp

    def _read_body(self, resp: Response, method: str) -> None:
        # RFC 9112 §6.3(1): responses to HEAD and 1xx/204/304 end with the header section.
        if method == "HEAD" or resp.status in (204, 304):
            resp.framing = "none"
            return
        te = resp.get(b"transfer-encoding")
        lengths = resp.get_all(b"content-length")
        if te is not None:
            # RFC 9112 §6.1: a sender MUST NOT send Content-Length in a message with Transfer-Encoding.
            if lengths:
                raise WireError("a response with both Transfer-Encoding and Content-Length")
            if te.lower() != b"chunked":
                raise WireError(f"unexpected response Transfer-Encoding {te!r}")
            resp.framing = "chunked"
            resp.body, resp.trailers = self._read_chunked()
        elif lengths:
            if len(lengths) != 1 or not lengths[0].isdigit():
                raise WireError(f"invalid response Content-Length {lengths!r}")
            resp.framing = "length"
            resp.body = self._exactly(int(lengths[0]))
        else:
            resp.framing = "close"
            while self.fill():
                pass
            resp.body = bytes(self.buf)
            self.buf.clear()

    def _read_chunked(self) -> tuple[bytes, list[tuple[bytes, bytes]]]:
        body = bytearray()
        while True:
            line = self._line()
            match = _CHUNK_SIZE.fullmatch(line)
            if match is None:
                raise WireError(f"malformed chunk-size line in a response: {line!r}")
            size = int(match.group(1), 16)
            if size == 0:
                break
            body += self._exactly(size)
            if self._exactly(2) != b"\r\n":
                raise WireError("chunk data not followed by CRLF in a response")
        trailers = []
        while True:
            line = self._line()
            if not line:
                return bytes(body), trailers
            name, _, value = line.partition(b":")
            trailers.append((name.lower(), value.strip()))


def check_head(resp: Response) -> None:
    """What every response head must satisfy, whatever the request."""
    # RFC 9110 §6.6.1: an origin server with a clock MUST send Date in 2xx, 3xx and 4xx responses.
    if 200 <= resp.status < 500:
        dates = resp.get_all(b"date")
        if len(dates) != 1 or not _IMF_FIXDATE.fullmatch(dates[0]):
            raise WireError(f"missing or malformed Date header in a {resp.status} response: {dates!r}")
    if resp.status >= 200 and not resp.get(b"server"):
        raise WireError(f"no Server header in a {resp.status} response")
    # RFC 9110 §8.6: a server MUST NOT send Content-Length in a 1xx or 204 response.
    if (resp.status < 200 or resp.status == 204) and resp.get_all(b"content-length"):
        raise WireError(f"Content-Length in a {resp.status} response")
    # RFC 9112 §6.1: no Transfer-Encoding in 1xx/204 responses.
    if (resp.status < 200 or resp.status == 204) and resp.get_all(b"transfer-encoding"):
        raise WireError(f"Transfer-Encoding in a {resp.status} response")
