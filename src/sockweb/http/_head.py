"""Request head parsing: request line, header fields, and the framing facts derived from them.

Strategy: the parser calls `parse_head` once the whole head (up to CRLF CRLF) is buffered. The request line
is one regex match; the header block is one `findall` whose number of matches must equal the number of line
feeds in the block, which proves every line was a well-formed field line without any per-line Python code.
Then a single pass over the few fields that matter (Host, Content-Length, Transfer-Encoding, Connection,
Expect) decides framing and keep-alive. Slow paths (diagnosing *why* something is invalid) live in separate
functions so the hot path stays short.
"""

from __future__ import annotations

import re

from . import _abnf
from .errors import (
    BadRequest,
    ContentTooLarge,
    HeaderFieldsTooLarge,
    NotImplementedCoding,
    ProtocolError,
    URITooLong,
    VersionNotSupported,
)
from .events import Request
from .limits import Limits

VERSIONS = {b"1.1": "1.1", b"1.0": "1.0"}
_METHODS = {m.encode(): m for m in (*_abnf.COMMON_METHODS, "CONNECT")}
_SPECIAL = frozenset((b"host", b"content-length", b"transfer-encoding", b"connection", b"expect"))
# Transfer codings we recognise but do not decode (RFC 9112 §7): a request using one gets 501.
_KNOWN_CODINGS = frozenset((b"gzip", b"x-gzip", b"deflate", b"compress", b"x-compress", b"identity"))
# More than 18 significant digits cannot be a body we would accept, and stays within a C long long.
MAX_LENGTH_DIGITS = 18


def parse_head(buf: bytearray, end: int, limits: Limits, field_line: re.Pattern[bytes]) -> Request:
    """Parse the head in buf[:end + 4] (end = index of the CRLF CRLF terminator)."""
    m = _abnf.REQUEST_LINE.match(buf, 0, end + 2)
    if m is None:
        raise bad_request_line(buf, end, limits)
    line_end = m.end()
    # RFC 9112 §3: a server receiving a request-line longer than it wishes to parse -> 414.
    if line_end - 2 > limits.max_request_line:
        raise URITooLong("request line too long")
    if end + 4 > limits.max_head_size:
        raise HeaderFieldsTooLarge("request head too large")
    method_b, target, version_b = m.groups()
    version = VERSIONS.get(version_b)
    if version is None:
        # RFC 9110 §15.6.6: a major/minor version the server does not support -> 505.
        raise VersionNotSupported("HTTP version not supported")
    method = _METHODS.get(method_b) or method_b.decode("ascii")
    if target[0] != 47 or method == "CONNECT":  # 47 = "/": origin-form is the common case
        _check_target(method, target)
    headers = parse_fields(buf, line_end, end + 2, limits, field_line)
    return _frame(method, target, version, headers, limits)


def parse_fields(
    buf: bytearray, start: int, stop: int, limits: Limits, field_line: re.Pattern[bytes]
) -> list[tuple[bytes, bytes]]:
    """Field lines in buf[start:stop] (each CRLF-terminated) -> [(lowercased name, trimmed value)].

    Each match of `field_line` is one whole line ending in its CRLF. If the only CTLs in the block are
    exactly one CRLF per match, every CR and LF belongs to a matched line end, so the matches tile the
    block: every line is a valid field line and no value holds a CTL.
    """
    fields = field_line.findall(buf, start, stop)
    block = buf[start:stop]
    # RFC 9112 §5 / RFC 9110 §5.5: each line is `token ":" OWS field-value OWS CRLF`, else 400. This covers
    # whitespace before the colon (RFC 9112 §5.1), obs-fold (RFC 9112 §5.2), NUL/CR/LF and other CTLs in
    # values (RFC 9110 §5.5), bare CR or LF (RFC 9112 §2.2) and empty or non-token names.
    blanks_and_ctls = block.translate(None, _abnf.NOT_CTL_OR_BLANK)
    if blanks_and_ctls.translate(None, b" \t") != b"\r\n" * len(fields):
        raise _bad_fields(block, limits)
    # RFC 9110 §5.4 (field limits): more fields than the server accepts -> 431.
    if len(fields) > limits.max_header_count:
        raise HeaderFieldsTooLarge("too many header fields")
    # RFC 9110 §5.4: a field line larger than the server wishes to process -> 431. (A block no longer
    # than one line at the limit cannot hold a longer line: one comparison in the common case.)
    if stop - start - 2 > limits.max_field_size and longest_line(block) > limits.max_field_size:
        raise HeaderFieldsTooLarge("header field line too large")
    # RFC 9112 §5: OWS after the value is not part of it (the regex already left out the OWS before it).
    # (`find`, not `in`: `bytes in bytes` first tries its operand as an int, at the cost of an exception.)
    if blanks_and_ctls.find(b" \r") >= 0 or blanks_and_ctls.find(b"\t\r") >= 0:
        return [(name.lower(), value.rstrip(b" \t")) for name, value in fields]
    return [(name.lower(), value) for name, value in fields]


def longest_line(block: bytes | bytearray) -> int:
    """The length of the longest CRLF-terminated line in `block`, without its CRLF."""
    return max(map(len, block.split(b"\r\n")))


def _bad_fields(block: bytearray, limits: Limits) -> ProtocolError:
    if block.count(b"\n") > limits.max_header_count:
        return HeaderFieldsTooLarge("too many header fields")
    return BadRequest("invalid header field")


def bad_request_line(buf: bytearray, end: int, limits: Limits) -> ProtocolError:
    line_len = buf.find(b"\r\n", 0, end + 2)
    # RFC 9112 §3: request-line longer than the server wishes to parse -> 414.
    if line_len > limits.max_request_line:
        return URITooLong("request line too long")
    if end + 4 > limits.max_head_size:
        return HeaderFieldsTooLarge("request head too large")
    # RFC 9112 §3: method SP request-target SP HTTP-version, one SP between parts, no CTLs -> else 400.
    return BadRequest("invalid request line")


def _check_target(method: str, target: bytes) -> None:
    if method == "CONNECT":
        # RFC 9112 §3.2.3: authority-form is used only for CONNECT, and CONNECT uses only authority-form.
        if _abnf.AUTHORITY_FORM.fullmatch(target) is None:
            raise BadRequest("CONNECT needs an authority-form target")
    elif target == b"*":
        # RFC 9112 §3.2.4: asterisk-form is used only for a server-wide OPTIONS request.
        if method != "OPTIONS":
            raise BadRequest("asterisk-form target is only valid for OPTIONS")
    # RFC 9112 §3.2.2: absolute-form must be accepted; anything else that is not origin-form -> 400.
    elif _abnf.ABSOLUTE_FORM.fullmatch(target) is None:
        raise BadRequest("invalid request target")


def _frame(
    method: str, target: bytes, version: str, headers: list[tuple[bytes, bytes]], limits: Limits
) -> Request:
    hosts = 0
    host = b""
    lengths: list[bytes] | None = None
    codings: list[bytes] | None = None
    connection: bytes | None = None
    expect = False
    for name, value in [h for h in headers if h[0] in _SPECIAL]:
        if name == b"host":
            hosts += 1
            host = value
        elif name == b"connection":
            connection = value if connection is None else connection + b"," + value
        elif name == b"content-length":
            lengths = value.split(b",") if lengths is None else lengths + value.split(b",")
        elif name == b"transfer-encoding":
            codings = value.split(b",") if codings is None else codings + value.split(b",")
        else:  # expect
            # RFC 9110 §10.1.1: 100-continue in an HTTP/1.0 request must be ignored.
            expect = version == "1.1" and value.lower() == b"100-continue"
    if hosts != 1:
        # RFC 9112 §3.2: more than one Host field line, or an HTTP/1.1 request without Host -> 400.
        if hosts > 1 or version == "1.1":
            raise BadRequest("missing or repeated Host header")
    # RFC 9112 §3.2: a Host header field with an invalid field value -> 400.
    elif _abnf.HOST_VALUE.fullmatch(host) is None:
        raise BadRequest("invalid Host header")
    keep_alive = version == "1.1"
    if connection is not None:
        connection = connection.lower()
        # RFC 9112 §9.3: 1.1 is persistent unless "close"; 1.0 only with "keep-alive" (RFC 9112 §C.2.2).
        if connection == b"close":
            keep_alive = False
        elif connection != b"keep-alive" or not keep_alive:
            tokens = {t.strip(b" \t") for t in connection.split(b",")}
            keep_alive = b"close" not in tokens and (keep_alive or b"keep-alive" in tokens)
    if method == "CONNECT":
        # RFC 9110 §9.3.6: after CONNECT the connection becomes a tunnel (or is refused); either way the bytes
        # that follow are not HTTP requests, so none is parsed after it.
        keep_alive = False
    if codings is not None:
        _check_codings(codings, version, lengths)
        return Request(method, target, version, headers, keep_alive, expect, None, True)
    length = None if lengths is None else _content_length(lengths, limits)
    return Request(method, target, version, headers, keep_alive, expect, length, False)


def _check_codings(codings: list[bytes], version: str, lengths: list[bytes] | None) -> None:
    # RFC 9110 §5.6.1: empty list elements are ignored; OWS around elements is not part of them.
    # RFC 9112 §7: transfer-coding names are case-insensitive.
    items = [c.strip(b" \t").lower() for c in codings]
    items = [c for c in items if c]
    for item in items:
        # RFC 9112 §6.1: a transfer coding the server does not understand -> 501 (and close).
        if item != b"chunked" and item not in _KNOWN_CODINGS:
            raise NotImplementedCoding("unsupported transfer coding")
    # RFC 9112 §6.3(4): chunked is not the final coding -> length cannot be determined -> 400 and close.
    # RFC 9112 §6.1: chunked must not be applied more than once.
    if not items or items[-1] != b"chunked" or items.count(b"chunked") > 1:
        raise BadRequest("chunked must be the final transfer coding, once")
    # RFC 9112 §6.1: a server that does not decode the other codings -> 501.
    if len(items) > 1:
        raise NotImplementedCoding("unsupported transfer coding")
    # RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message is a framing fault -> treat as faulty, 400.
    if version == "1.0":
        raise BadRequest("Transfer-Encoding in an HTTP/1.0 request")
    # RFC 9112 §6.1: Transfer-Encoding and Content-Length together may be smuggling -> reject and close.
    if lengths is not None:
        raise BadRequest("both Transfer-Encoding and Content-Length")


def _content_length(parts: list[bytes], limits: Limits) -> int:
    first = parts[0].strip(b" \t")
    for part in parts:
        # RFC 9110 §8.6 / RFC 9112 §6.3(5): repeated or listed values must all be the same, else 400.
        if part.strip(b" \t") != first:
            raise BadRequest("conflicting Content-Length values")
    # RFC 9110 §8.6: Content-Length = 1*DIGIT (no sign, no hex, no spaces inside) -> else 400.
    if not first.isdigit():
        raise BadRequest("invalid Content-Length")
    if len(first.lstrip(b"0")) > MAX_LENGTH_DIGITS:
        raise ContentTooLarge("Content-Length too large")
    length = int(first)
    if limits.max_body_size is not None and length > limits.max_body_size:
        raise ContentTooLarge("request body too large")
    return length
