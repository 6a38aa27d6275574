"""The fields of an HTTP/2 request (RFC 9113 §8.2, §8.3) checked and made into the `Request` our parser reads.

Strategy: one pass over the decoded field list enforces what HTTP/2 adds to HTTP's field rules, and
nothing else: lowercase names without controls, spaces, colons or non-ASCII bytes, values without NUL,
CR, LF or surrounding whitespace (§8.2.1), no connection-specific fields and TE only as "trailers"
(§8.2.2), the request pseudo-header fields (§8.3: known ones only, each once, before the regular fields,
the required ones present, ``:path`` not empty, no ``:status``), and Host agreeing with ``:authority``
(§8.3.1). A block that breaks one of them is malformed (`MalformedFields`); the connection answers it
with GOAWAY(PROTOCOL_ERROR), as h2 did when it made these checks (RFC 9113 §5.4.1 allows a stream
error to be treated as a connection error, and a malformed request then costs the client its
connection, not only a stream that the server resets: see "MadeYouReset").

h2 runs with ``validate_inbound_headers`` and ``normalize_inbound_headers`` off, so these rules live
here only, written with bytes methods and two regular expressions instead of h2's generator chain.
The rest (token names, field values, limits, target forms, Host syntax, Content-Length) are HTTP's
rules, held by sockweb.http's `RequestParser`: the block is written out as the HTTP/1.1 head it stands
for (split Cookie fields joined with "; ", RFC 9113 §8.2.3) and parsed, so they live in one place too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sockweb.http import EndOfMessage, Limits, Request, RequestParser

__all__ = ["CONNECTION_SPECIFIC", "HeadReader", "MalformedFields", "check_trailers", "request_of"]

Fields = Iterable[tuple[bytes, bytes]]

# RFC 9113 §8.2.1: "A field name MUST NOT contain characters in the ranges 0x00-0x20, 0x41-0x5a, or
# 0x7f-0xff (all ranges inclusive)", nor a colon except as the first byte of a pseudo-header field.
_BAD_NAME = re.compile(rb"[\x00-\x20A-Z:\x7f-\xff]")
# RFC 9113 §8.2.1: "A field value MUST NOT contain the zero value (ASCII NUL, 0x00), line feed (ASCII LF,
# 0x0a), or carriage return (ASCII CR, 0x0d) at any position" (checked once over the whole head, where
# every value ends up, but :scheme) and "MUST NOT start or end with an ASCII whitespace character (ASCII
# SP or HTAB, 0x20 or 0x09)" (checked per value).
_CTL = re.compile(rb"[\x00\r\n]")
_WHITESPACE = b" \t"
# RFC 9113 §8.2.2: connection-specific fields make a message malformed (TE is checked on its own).
CONNECTION_SPECIFIC = frozenset(
    (b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade")
)
# RFC 9113 §8.3.1: the pseudo-header fields of a request (no :protocol: extended CONNECT, RFC 8441, is
# not offered, so it is undefined here; §8.3: "undefined or invalid pseudo-header fields" are malformed).
REQUEST_PSEUDO = frozenset((b":method", b":scheme", b":authority", b":path"))


class MalformedFields(Exception):
    """A header block breaks HTTP/2's field rules (RFC 9113 §8.1.1: malformed)."""


def _check_field(name: bytes, value: bytes) -> None:
    """The rules of one regular field (request or trailer), but NUL, CR and LF in its value."""
    if not name or _BAD_NAME.search(name) is not None:
        raise MalformedFields(f"invalid field name {name!r}")
    if value and (value[0] in _WHITESPACE or value[-1] in _WHITESPACE):
        raise MalformedFields(f"whitespace around the value of the {name!r} field")
    if name in CONNECTION_SPECIFIC:
        raise MalformedFields(f"connection-specific field {name!r}")
    # RFC 9113 §8.2.2: TE "MUST NOT contain any value other than 'trailers'".
    if name == b"te" and value.lower() != b"trailers":
        raise MalformedFields(f"TE field with the value {value!r}")


def request_of(headers: Fields, heads: HeadReader) -> Request:
    """The request of a HEADERS block, or `MalformedFields` (HTTP/2's rules, above) or `ProtocolError`
    (HTTP's rules, from our parser: an HTTP error answer such as 400 or 431)."""
    pseudo: dict[bytes, bytes] = {}
    lines: list[bytes] = []
    host: bytes | None = None
    cookies: list[bytes] | None = None
    for name, value in headers:
        if name[:1] == b":":
            # RFC 9113 §8.3: pseudo-header fields are defined ones, each once, before any regular field.
            if name not in REQUEST_PSEUDO or name in pseudo or lines or host is not None or cookies:
                raise MalformedFields(f"pseudo-header field {name!r} unknown, repeated or out of place")
            if value and (value[0] in _WHITESPACE or value[-1] in _WHITESPACE):
                raise MalformedFields(f"whitespace around the value of the {name!r} field")
            pseudo[name] = value
            continue
        _check_field(name, value)
        if name == b"host":
            if host is not None:
                raise MalformedFields("more than one Host field")
            host = value
        elif name == b"cookie":
            # RFC 9113 §8.2.3: split Cookie fields are one field again, joined with "; ".
            if cookies is None:
                cookies = [value]
            else:
                cookies.append(value)
        else:
            lines.append(name + b": " + value + b"\r\n")
    method = pseudo.get(b":method")
    authority = pseudo.get(b":authority")
    if method is None:
        raise MalformedFields("no :method")
    if method == b"CONNECT":
        # RFC 9113 §8.5: "The :scheme and :path pseudo-header fields MUST be omitted."
        if b":scheme" in pseudo or b":path" in pseudo:
            raise MalformedFields("CONNECT with :scheme or :path")
        target = authority if authority is not None else host
    else:
        # RFC 9113 §8.3.1: every other request carries :scheme and a :path that is not empty.
        target = pseudo.get(b":path")
        scheme = pseudo.get(b":scheme")
        if scheme is None or not target:
            raise MalformedFields("no :scheme or no (or an empty) :path")
        if _CTL.search(scheme) is not None:
            raise MalformedFields("NUL, CR or LF in :scheme")
    # RFC 9113 §8.3.1: ":authority" or Host names the host; a Host that differs from it is malformed.
    if authority is None:
        authority = host
        if authority is None:
            raise MalformedFields("neither :authority nor Host")
    elif host is not None and host != authority:
        raise MalformedFields("Host differs from :authority")
    if cookies is not None:
        lines.append(b"cookie: " + b"; ".join(cookies) + b"\r\n")
    lines.append(b"host: " + authority + b"\r\n")
    head = b"%s %s HTTP/1.1\r\n%s\r\n" % (method, target, b"".join(lines))
    # RFC 9113 §8.2.1: no NUL, CR or LF in any name or value: the head holds the CR LF pairs it was
    # written with and nothing else (so that no field can ever become two).
    ends = len(lines) + 2
    if head.count(b"\n") != ends or head.count(b"\r") != ends or b"\x00" in head:
        raise MalformedFields("NUL, CR or LF in a field")
    return heads.read(head)


class HeadReader:
    """Parses the HTTP/1.1 heads that a connection's HTTP/2 requests stand for, one after another, with
    one `RequestParser`, as one keep-alive HTTP/1.1 connection does (a parser costs about what the parse
    of a small head does). A head announcing a body, or one that fails, leaves its parser in another
    state: the next head gets a new parser. No head memo: each head is parsed."""

    __slots__ = ("limits", "parser")

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.parser: RequestParser | None = None

    def read(self, head: bytes) -> Request:
        """The request of `head` (a whole head), or the parser's `ProtocolError`."""
        parser, self.parser = self.parser, None  # given back only once it waits for a head again
        if parser is None:
            parser = RequestParser(self.limits)
        parser.feed(head)
        event = parser.reader()
        if type(event) is not Request:  # pragma: no cover - a whole head always parses or raises
            raise MalformedFields("the head did not parse")
        # Content-Length 0 or none, no Transfer-Encoding (refused above): the message ends with its
        # head, and after its EndOfMessage the parser reads the next head.
        if not event.content_length and not event.chunked and type(parser.reader()) is EndOfMessage:
            self.parser = parser
        return event


def check_trailers(headers: Fields) -> None:
    """RFC 9113 §8.1: "Trailers MUST NOT include pseudo-header fields", and the field rules hold."""
    for name, value in headers:
        if name[:1] == b":":
            raise MalformedFields(f"pseudo-header field {name!r} in trailers")
        _check_field(name, value)
        if _CTL.search(value) is not None:
            raise MalformedFields(f"NUL, CR or LF in the value of the {name!r} field")
