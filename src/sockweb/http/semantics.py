"""What HTTP requires of a response in any version (RFC 9110), apart from how a version writes it.

Strategy: plain functions over the application's status string and header list, used by the HTTP/1.1
writer (`sockweb.http.response`) and by any other carrier (an HTTP/2 stream encodes the same checked
fields as its own frames). They validate (status, field names and values), read the fields the carrier
frames with (Content-Length, whose repeats must agree and collapse to one), take out those that belong
to the connection rather than the message (Connection; Transfer-Encoding is refused), and say whether a
body may follow. Checking is done with a handful of C-level
calls: one regex over the joined names, one over the joined values; the fields are walked in Python only
when their names mention one that must be acted on.
"""

from __future__ import annotations

import re

__all__ = ["body_allowed", "check_fields", "check_status", "own_fields"]

# RFC 9110 §15: status-code = 3DIGIT (1xx-5xx); the WSGI status string is "NNN reason", and its reason
# becomes the HTTP/1.1 reason-phrase: RFC 9112 §4: reason-phrase = 1*( HTAB / SP / VCHAR / obs-text ).
_STATUS = re.compile(r"[1-5][0-9][0-9] [\t\x20-\x7e\x80-\xff]*")
# RFC 9110 §5.1: field-name = token. The names are joined with "\n" and matched in one call.
_NAMES = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:\n[!#$%&'*+\-.^_`|~0-9A-Za-z]+)*")
# RFC 9110 §5.5: CR, LF, NUL and other CTLs (HTAB aside) are invalid in a field value (response splitting).
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_DIGITS = re.compile(r"[0-9]+")


def check_status(status: str) -> int:
    """The status code of a WSGI status string ("200 OK"); ValueError if it is not a valid one."""
    if _STATUS.fullmatch(status) is None:
        raise ValueError(f"invalid status line {status!r}")
    return int(status[:3])


def check_fields(headers: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], int | None, bool]:
    """Validate the application's fields; (the fields the message keeps, one Content-Length among them,
    its value, whether the application asked to close the connection). ValueError for an invalid name or
    value, an invalid or disagreeing Content-Length, or a Transfer-Encoding (framing is the server's job)."""
    if not headers:
        return headers, None, False
    names = "\n".join([name for name, _ in headers])
    if _NAMES.fullmatch(names) is None:
        raise ValueError("invalid header name")
    if _BAD_VALUE.search("".join([value for _, value in headers])) is not None:
        raise ValueError("invalid character in a header value")
    lowered = names.lower()
    if "content-length" in lowered or "connection" in lowered or "transfer-encoding" in lowered:
        return _connection_fields(headers)
    return headers, None, False


def _connection_fields(headers: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], int | None, bool]:
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


def body_allowed(code: int, head_request: bool) -> bool | None:
    """Whether a response with status `code` to a HEAD (`head_request`) or other request has a body:
    True; False when it has none but may declare the length of one (HEAD, 304); None when it has none and
    must not carry Content-Length at all (1xx, 204)."""
    if code < 200 or code == 204:
        # RFC 9110 §8.6: no Content-Length in a 1xx or 204 response; RFC 9112 §6.3(1): these have no body.
        return None
    # RFC 9110 §9.3.2 and §15.4.5, RFC 9112 §6.3(1): responses to HEAD and 304 responses have no body,
    # whatever their fields say.
    return not (code == 304 or head_request)


def own_fields(headers: list[tuple[str, str]]) -> set[str]:
    """The lowered names among Date and Server that the application set itself (RFC 9110 §5.3: the
    server then adds no second one)."""
    return {name.lower() for name, _ in headers if len(name) in (4, 6)} & {"date", "server"}
