"""Protocol errors: one exception family carrying the status to answer with and the close decision.

The parser raises these and nothing else; the server turns one into a response with `error_response`.
Messages are fixed strings that never echo request bytes, so they are safe to show to the peer.
"""

from __future__ import annotations


class ProtocolError(Exception):
    """The peer broke HTTP/1.1: answer with `status`, and close the connection when `close` is true."""

    default_status = 400

    def __init__(self, message: str, status: int | None = None, close: bool = True) -> None:
        super().__init__(message)
        self.status: int = self.default_status if status is None else status
        self.close: bool = close

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.args[0]!r}, status={self.status}, close={self.close})"


class BadRequest(ProtocolError):
    """400: malformed request line, header field or body framing."""


class ContentTooLarge(ProtocolError):
    """413: the body exceeds its bound (Content-Length too big, or more chunked data than allowed)."""

    default_status = 413


class URITooLong(ProtocolError):
    """414: the request line exceeds `Limits.max_request_line`."""

    default_status = 414


class HeaderFieldsTooLarge(ProtocolError):
    """431: too many header fields, a field line, or a head (or trailer section) larger than its limit."""

    default_status = 431


class NotImplementedCoding(ProtocolError):
    """501: a transfer coding this server does not implement."""

    default_status = 501


class VersionNotSupported(ProtocolError):
    """505: a syntactically valid HTTP version other than 1.0 and 1.1."""

    default_status = 505
