"""Responses: validate the status line and headers, decide framing and keep-alive, frame the body.

Strategy: `plan_response` does all its checking with a handful of C-level calls (one regex over the joined
header names, one over the joined values, one latin-1 encode of the whole head) and only walks the headers
in Python when their names mention a field it must act on (Content-Length, Connection,
Transfer-Encoding). The framing decision follows RFC 9112 §6: Content-Length when known, chunked for an
HTTP/1.1 stream, close-delimited for an HTTP/1.0 stream, and no body at all for HEAD, 1xx, 204 and 304.
"""

from __future__ import annotations

import re

from .errors import ProtocolError
from .events import Request
from .status import STATUS_REASONS

LAST_CHUNK = b"0\r\n\r\n"
CONTINUE_RESPONSE = b"HTTP/1.1 100 Continue\r\n\r\n"

# RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ];
# reason-phrase = 1*( HTAB / SP / VCHAR / obs-text ). The WSGI status string is "NNN reason".
_STATUS = re.compile(r"[1-5][0-9][0-9] [\t\x20-\x7e\x80-\xff]*")
# RFC 9110 §5.1: field-name = token. The names are joined with "\n" and matched in one call.
_NAMES = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:\n[!#$%&'*+\-.^_`|~0-9A-Za-z]+)*")
# RFC 9110 §5.5: CR, LF, NUL and other CTLs (HTAB aside) are invalid in a field value (response splitting).
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_DIGITS = re.compile(r"[0-9]+")


class ResponsePlan:
    """The head to send and how the body that follows is framed."""

    __slots__ = ("content_length", "framing", "head", "keep_alive", "send_body")

    def __init__(
        self, head: bytes, framing: str, content_length: int | None, keep_alive: bool, send_body: bool
    ) -> None:
        self.head = head
        self.framing = framing  # "length" | "chunked" | "close" | "none"
        self.content_length = content_length
        self.keep_alive = keep_alive
        self.send_body = send_body

    def __repr__(self) -> str:
        return (
            f"ResponsePlan(framing={self.framing!r}, content_length={self.content_length!r}, "
            f"keep_alive={self.keep_alive!r}, send_body={self.send_body!r}, head={self.head!r})"
        )


def plan_response(
    request: Request | None,
    status: str,
    headers: list[tuple[str, str]],
    *,
    body_length: int | None,
    extra: bytes = b"",
    keep_alive: bool = True,
) -> ResponsePlan:
    """Validate `status` and `headers` (ValueError if invalid) and decide framing and keep-alive.

    `request` is None when answering before a request was parsed. `body_length` is the body size when the
    server knows it in advance (e.g. a one-item list). `extra` is pre-encoded header lines (Date, Server),
    each ending in CRLF. `keep_alive=False` forces the connection to close after this response.
    """
    if _STATUS.fullmatch(status) is None:
        raise ValueError(f"invalid status line {status!r}")
    code = int(status[:3])
    app_length: int | None = None
    app_close = False
    if headers:
        names = "\n".join([name for name, _ in headers])
        if _NAMES.fullmatch(names) is None:
            raise ValueError("invalid header name")
        if _BAD_VALUE.search("".join([value for _, value in headers])) is not None:
            raise ValueError("invalid character in a header value")
        lowered = names.lower()
        if "content-length" in lowered or "connection" in lowered or "transfer-encoding" in lowered:
            headers, app_length, app_close = _framing_headers(headers)
    if request is None:
        version_11, is_head, keep = True, False, False
    else:
        version_11 = request.http_version == "1.1"
        is_head = request.method == "HEAD"
        keep = keep_alive and request.keep_alive and not app_close
    added = ""
    send_body = False
    content_length = app_length
    if code < 200 or code == 204:
        # RFC 9110 §8.6: no Content-Length in a 1xx or 204 response; RFC 9112 §6.3(1): these have no body.
        framing = "none"
        if app_length is not None:
            headers = [(n, v) for n, v in headers if n.lower() != "content-length"]
            content_length = None
    elif code == 304 or is_head:
        # RFC 9112 §6.3(1): responses to HEAD and 304 responses end with the head, whatever the fields say.
        framing = "none"
    elif app_length is not None:
        framing, send_body = "length", True
    elif body_length is not None:
        framing, send_body, content_length = "length", True, body_length
        added = f"Content-Length: {body_length}\r\n"
    elif version_11:
        framing, send_body = "chunked", True
        added = "Transfer-Encoding: chunked\r\n"
    else:
        # RFC 9112 §6.3(8): without a length, an HTTP/1.0 response is delimited by closing the connection.
        framing, send_body, keep = "close", True, False
    if not keep:
        added += "Connection: close\r\n"
    elif not version_11:
        # RFC 9112 §C.2.2: an HTTP/1.0 client needs "keep-alive" to keep the connection open.
        added += "Connection: keep-alive\r\n"
    lines = "".join([f"{name}: {value}\r\n" for name, value in headers])
    head = f"HTTP/1.1 {status}\r\n{lines}{added}".encode("latin-1") + extra + b"\r\n"
    return ResponsePlan(head, framing, content_length, keep, send_body)


def _framing_headers(headers: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], int | None, bool]:
    """Take Content-Length and Connection from the app's headers; refuse Transfer-Encoding."""
    length: int | None = None
    close = False
    kept: list[tuple[str, str]] = []
    for name, value in headers:
        lname = name.lower()
        if lname == "content-length":
            digits = value.strip(" \t")
            # RFC 9110 §8.6: Content-Length = 1*DIGIT; several values must agree.
            if _DIGITS.fullmatch(digits) is None or (length is not None and int(digits) != length):
                raise ValueError("invalid Content-Length header")
            if length is not None:
                continue
            length = int(digits)
        elif lname == "connection":
            # RFC 9110 §7.6.1: Connection is hop-by-hop: the server decides it; "close" is honoured.
            close = close or "close" in [t.strip(" \t").lower() for t in value.split(",")]
            continue
        elif lname == "transfer-encoding":
            # PEP 3333: an application must not set hop-by-hop fields; framing is the server's job.
            raise ValueError("the application must not set Transfer-Encoding")
        kept.append((name, value))
    return kept, length, close


class BodyWriter:
    """Frame the response body according to a plan: `write(data) -> bytes`, then `finish() -> bytes`."""

    __slots__ = ("_framing", "_remaining")

    def __init__(self, plan: ResponsePlan) -> None:
        self._framing = plan.framing
        self._remaining = plan.content_length or 0

    def write(self, data: bytes) -> bytes:
        """The bytes to send for `data`; ValueError if a Content-Length body would grow past its length."""
        framing = self._framing
        if framing == "chunked":
            return encode_chunk(data)
        if framing == "length":
            self._remaining -= len(data)
            if self._remaining < 0:
                raise ValueError("response body longer than its Content-Length")
            return data
        if framing == "close":
            return data
        return b""

    def finish(self) -> bytes:
        """The bytes that end the body; ValueError if a Content-Length body was cut short."""
        if self._framing == "chunked":
            return LAST_CHUNK
        if self._framing == "length" and self._remaining:
            raise ValueError("response body shorter than its Content-Length")
        return b""


def encode_chunk(data: bytes) -> bytes:
    """One chunk of a chunked body (RFC 9112 §7.1); b"" for empty data, which would end the body."""
    if not data:
        return b""
    return b"%x\r\n%s\r\n" % (len(data), data)


def error_response(err: ProtocolError, extra: bytes = b"") -> bytes:
    """A complete small response for a protocol error, always with Connection: close."""
    reason = STATUS_REASONS.get(err.status, "Error")
    body = f"{err.status} {reason}: {err.args[0] if err.args else ''}\n".encode("latin-1", "replace")
    head = (
        f"HTTP/1.1 {err.status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n"
    ).encode("latin-1")
    return head + extra + b"\r\n" + body
