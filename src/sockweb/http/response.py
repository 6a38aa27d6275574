"""HTTP/1.1 responses: the head's bytes, the body's framing (Content-Length or chunked) and keep-alive.

Strategy: `plan_response` applies what HTTP requires of any version through `sockweb.http.semantics`
(status and field validation, the connection's own fields taken out, which responses have no body) and
then writes the HTTP/1.1 head with one latin-1 encode. The framing decision follows RFC 9112 §6:
Content-Length when known, chunked for an HTTP/1.1 stream, close-delimited for an HTTP/1.0 stream, and no
body at all for HEAD, 1xx, 204 and 304.
"""

from __future__ import annotations

from .errors import ProtocolError
from .events import Request
from .semantics import body_allowed, check_fields, check_status
from .status import STATUS_REASONS

LAST_CHUNK = b"0\r\n\r\n"
CONTINUE_RESPONSE = b"HTTP/1.1 100 Continue\r\n\r\n"


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
    # What HTTP requires of any version (sockweb.http.semantics), then how HTTP/1.1 writes it.
    code = check_status(status)
    headers, app_length, app_close = check_fields(headers)
    if request is None:
        version_11, is_head, keep = True, False, False
    else:
        version_11 = request.http_version == "1.1"
        is_head = request.method == "HEAD"
        keep = keep_alive and request.keep_alive and not app_close
    added = ""
    send_body = False
    content_length = app_length
    allowed = body_allowed(code, is_head)
    if allowed is None:  # 1xx, 204: no body and no Content-Length
        framing = "none"
        if app_length is not None:
            headers = [(n, v) for n, v in headers if n.lower() != "content-length"]
            content_length = None
    elif not allowed:  # HEAD, 304: the head ends the response, whatever the fields say
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
