"""Extra wire cases: request smuggling vectors and past weaknesses of Python servers, as a table.

Each `WireCase` is the raw bytes a client sends on one connection, the responses it must get, in order,
and what happens to the connection afterwards ("open": a further request on it is answered; "close": the
server closes without sending anything more). The expectation of each case is derived from RFC 9112 /
RFC 9110, quoted above it; where the RFC lets a server choose (reject or repair), the comment says which
choice sockweb makes (always the strict one: reject, then close).

The classes of bugs come from public advisories and issues of Python servers (gunicorn, waitress, h11):
CL.TE / TE.CL desync, transfer-coding names obfuscated with whitespace or obs-text, chunk-size overflow,
bare CR/LF in chunk lines and extensions, garbage instead of the CRLF after chunk data, trailers used to
smuggle fields, header names with "_" that collide with "-" names once mapped to WSGI keys, whitespace
before the first header line, lenient request-line separators, absolute-form targets, HTTP/1.0
keep-alive, NUL bytes, and limits at and one past their boundary.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Server configurations the cases run against (extra command-line flags of `sockweb serve`).
DEFAULT: tuple[str, ...] = ()
BODY4: tuple[str, ...] = ("--max-body-size", "4")


@dataclass(frozen=True)
class Answer:
    """One expected response: 200 from the echo app (with what it must have seen) or an error status."""

    status: int
    method: str = "GET"
    path: str | None = None
    query: str | None = None
    body: bytes | None = None  # the request body the application must have read, byte for byte
    environ: dict[str, str | None] = field(default_factory=dict)  # HTTP_* keys (None: must be absent)
    echo: bool = True  # False: the /noread answer, which describes nothing


@dataclass(frozen=True)
class WireCase:
    name: str
    raw: bytes
    answers: tuple[Answer, ...]
    end: str  # "open" or "close"
    config: tuple[str, ...] = DEFAULT
    xfail: str | None = None  # a known server bug (the reason names it)


def ok(
    path: str = "/",
    method: str = "GET",
    body: bytes = b"",
    query: str = "",
    environ: dict[str, str | None] | None = None,
) -> Answer:
    return Answer(200, method, path, query, body, environ or {})


def err(status: int) -> Answer:
    return Answer(status)


def get(target: bytes = b"/", extra: bytes = b"", version: bytes = b"1.1") -> bytes:
    return b"GET " + target + b" HTTP/" + version + b"\r\nHost: h\r\n" + extra + b"\r\n"


def post(framing: bytes, body: bytes = b"", target: bytes = b"/p") -> bytes:
    return b"POST " + target + b" HTTP/1.1\r\nHost: h\r\n" + framing + b"\r\n" + body


TE = b"Transfer-Encoding: chunked\r\n"


def fields_of(total: int) -> bytes:
    """Field lines of `total` bytes in all (CRLFs included), each well within the default field-line limit."""
    lines = []
    while total > 0:
        name = b"X%d: " % len(lines)
        size = min(total, 8000)
        lines.append(name + b"v" * (size - len(name) - 2) + b"\r\n")
        total -= size
    return b"".join(lines)


UNREAD = Answer(200, "POST", echo=False)
SMUGGLED = get(b"/admin")  # the request an attacker hopes the server will answer
N = str(len(SMUGGLED)).encode()
CASES: list[WireCase] = []


def case(name: str, raw: bytes, *answers: Answer, end: str, **kw: object) -> None:
    CASES.append(WireCase(name, raw, answers, end, **kw))  # type: ignore[arg-type]


# One case per line where it fits: the table reads as a table.
# fmt: off
# --- CL.TE and TE.CL -----------------------------------------------------------------------------------
# RFC 9112 §6.1: "A server MAY reject a request that contains both Content-Length and Transfer-Encoding
# or process such a request in accordance with the Transfer-Encoding alone. Regardless, the server MUST
# close the connection after responding to such a request". sockweb rejects (400); /admin is never answered.
case("cl.te prefix smuggling", post(b"Content-Length: 4\r\n" + TE, b"0\r\n\r\n" + SMUGGLED), err(400), end="close")
case("te.cl smuggling", post(TE + b"Content-Length: " + N + b"\r\n", b"1\r\nZ\r\n0\r\n\r\n" + SMUGGLED), err(400), end="close")
case("te.cl in second pipelined request", get(b"/1") + post(b"Content-Length: 4\r\n" + TE, b"0\r\n\r\n" + SMUGGLED), ok("/1"), err(400), end="close")
case("cl.te with te obfuscated by case", post(b"Content-Length: 4\r\ntRANSFER-eNCODING: cHUNKED\r\n", b"0\r\n\r\n" + SMUGGLED), err(400), end="close")
# RFC 9110 §5.6.1 / RFC 9112 §5.1: OWS (SP / HTAB) around a field value is not part of it, so a tab
# before "chunked" still means chunked: the body is decoded and the connection stays usable.
case("te with htab ows is chunked", post(b"Transfer-Encoding:\tchunked\t\r\n", b"1\r\nZ\r\n0\r\n\r\n"), ok("/p", "POST", b"Z"), end="open")
# RFC 9112 §6.1: "A server that receives a request message with a transfer coding it does not understand
# SHOULD respond with 501 (Not Implemented)." NBSP (obs-text) and NEL are not whitespace in HTTP: the
# coding "\xa0chunked" is not chunked (gunicorn once stripped these bytes and decoded the body as chunked).
case("te obs-text nbsp before chunked", post(b"Transfer-Encoding: \xa0chunked\r\n", b"1\r\nZ\r\n0\r\n\r\n" + SMUGGLED), err(501), end="close")
case("te nel after chunked", post(b"Transfer-Encoding: chunked\x85\r\n", b"1\r\nZ\r\n0\r\n\r\n" + SMUGGLED), err(501), end="close")
# RFC 9110 §5.5: CTLs other than HTAB are invalid in field values (waitress once read "\x0bchunked" as
# chunked); sockweb rejects them.
case("te form feed before chunked", post(b"Transfer-Encoding: \x0cchunked\r\n", b"0\r\n\r\n" + SMUGGLED), err(400), end="close")
# RFC 9112 §6.3(4): "If a Transfer-Encoding header field is present in a request and the chunked transfer
# coding is not the final encoding, the message body length cannot be determined reliably; the server MUST
# respond with the 400 (Bad Request) status code and then close the connection." (no fallback to
# Content-Length, the gunicorn advisory of 2024)
case("te gzip with content-length", post(b"Transfer-Encoding: gzip\r\nContent-Length: 3\r\n", b"abc" + SMUGGLED), err(400), end="close")
case("te chunked then identity with content-length", post(TE + b"Transfer-Encoding: identity\r\nContent-Length: 3\r\n", b"abc"), err(400), end="close")
# RFC 9112 §6.1: "A server or client that receives an HTTP/1.0 message containing a Transfer-Encoding header
# field MUST treat the message as if the framing is faulty, even if a Content-Length is present, and close
# the connection after processing the message." sockweb rejects it.
case("te in http/1.0 with content-length", b"POST /p HTTP/1.0\r\n" + TE + b"Content-Length: 5\r\n\r\n0\r\n\r\n" + SMUGGLED, err(400), end="close")
# RFC 9112 §5.1: "No whitespace is allowed between the field name and colon. ... A server MUST reject, with
# a response status code of 400 (Bad Request), any received request message that contains whitespace
# between a header field name and colon."
case("te with space before colon and cl", post(b"Transfer-Encoding : chunked\r\nContent-Length: 4\r\n", b"0\r\n\r\n" + SMUGGLED), err(400), end="close")

# --- Content-Length -------------------------------------------------------------------------------------
# RFC 9110 §8.6: Content-Length = 1*DIGIT. RFC 9112 §6.3(5): an invalid Content-Length in a request -> "the
# server MUST respond with a 400 (Bad Request) status code and then close the connection". (waitress once
# parsed it with int(): "+5", "0x5", " 5_0" were accepted)
case("content-length with sign and smuggled body", post(b"Content-Length: +4\r\n", b"0\r\n\r\n" + SMUGGLED), err(400), end="close")
case("content-length with nul", post(b"Content-Length: 4\x00\r\n", b"abcd"), err(400), end="close")
case("content-length of the second line differs", post(b"Content-Length: 0\r\nContent-Length: " + N + b"\r\n", SMUGGLED), err(400), end="close")
# RFC 9112 §6.3(5): a list whose values are all the same valid number is accepted; OWS is not part of it.
case("content-length with ows", post(b"Content-Length: \t 5 \r\n", b"hello") + get(b"/next"), ok("/p", "POST", b"hello"), ok("/next"), end="open")
case("content-length zero then pipelined get", post(b"Content-Length: 0\r\n") + get(b"/after"), ok("/p", "POST"), ok("/after"), end="open")
case("body that looks like a request stays a body", post(b"Content-Length: " + N + b"\r\n", SMUGGLED) + get(b"/after"), ok("/p", "POST", SMUGGLED), ok("/after"), end="open")

# --- chunked framing ------------------------------------------------------------------------------------
# RFC 9112 §7.1: "Recipients MUST anticipate potentially large hexadecimal numerals and prevent parsing
# errors due to integer conversion overflows or precision loss due to integer representation." 2**64 must
# not wrap to 0 (a last-chunk that would end the body and expose the smuggled request).
case("chunk size 2**64 does not wrap to zero", post(TE, b"10000000000000000\r\n\r\n" + SMUGGLED), err(400), end="close")
case("chunk size 2**64+3 does not wrap to three", post(TE, b"10000000000000003\r\nabc\r\n0\r\n\r\n" + SMUGGLED), err(400), end="close")
# RFC 9112 §7.1: chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF. The MAY of §2.2 (bare LF as a line
# terminator) covers the start-line and fields only; sockweb accepts no bare LF or CR anywhere.
case("chunk ext ended by bare lf", post(TE, b"2;a\nxx\r\n0\r\n\r\n" + SMUGGLED), err(400), end="close")
case("chunk size ended by bare lf then data", post(TE, b"2\nxx\r\n0\r\n\r\n"), err(400), end="close")
case("chunk ext with bare cr", post(TE, b"2;a=b\rX\r\nxx\r\n0\r\n\r\n"), err(400), end="close")
case("chunk ext quoted string with lf", post(TE, b'2;a="b\nc"\r\nxx\r\n0\r\n\r\n'), err(400), end="close")
case("chunk ext with nul", post(TE, b"2;a\x00b\r\nxx\r\n0\r\n\r\n"), err(400), end="close")
# Two arbitrary bytes in place of the CRLF after chunk data (h11 advisory of 2025).
case("garbage instead of crlf after chunk data", post(TE, b"2\r\nxxYY0\r\n\r\n" + SMUGGLED), err(400), end="close")
case("lf only after last chunk data", post(TE, b"2\r\nxx\n0\r\n\r\n"), err(400), end="close")
# RFC 9112 §7.1.1: "A server ought to limit the total length of chunk extensions received in a request
# ... and generate an appropriate 4xx (Client Error) response if that amount is exceeded." (default 4096)
case("chunk ext at the default limit", post(TE, b"1;" + b"e" * 4095 + b"\r\nZ\r\n0\r\n\r\n"), ok("/p", "POST", b"Z"), end="open")
case("chunk ext over the default limit", post(TE, b"1;" + b"e" * 4097 + b"\r\nZ\r\n0\r\n\r\n"), err(400), end="close")
case("chunk data with every byte value", post(TE, b"100\r\n" + bytes(range(256)) + b"\r\n0\r\n\r\n"), ok("/p", "POST", bytes(range(256))), end="open")
case("many one-byte chunks", post(TE, b"1\r\nx\r\n" * 500 + b"0\r\n\r\n") + get(b"/after"), ok("/p", "POST", b"x" * 500), ok("/after"), end="open")
case("chunked get", get(b"/g", TE) + b"3\r\nabc\r\n0\r\n\r\n", ok("/g", body=b"abc"), end="open")

# --- trailers -------------------------------------------------------------------------------------------
# RFC 9110 §6.5.1: "A recipient MUST NOT merge a received trailer field into a header section unless its
# corresponding header field definition explicitly permits and instructs how the trailer field value can be
# safely merged." The application must not see X-Admin as a request header.
case("trailer field not merged into headers", post(TE, b"1\r\nZ\r\n0\r\nX-Admin: 1\r\n\r\n"), ok("/p", "POST", b"Z", environ={"HTTP_X_ADMIN": None}), end="open")
# A request line in the trailer section is not a field line (RFC 9112 §7.1.2 trailer-section = *( field-line
# CRLF )): 400, and the "trailer" is never parsed as a second request.
case("request smuggled as a trailer", post(TE, b"0\r\n" + SMUGGLED), err(400), end="close")
case("trailer section at the default limit", post(TE, b"0\r\n" + fields_of(16384 - 2) + b"\r\n"), ok("/p", "POST"), end="open")
case("trailer section over the default limit", post(TE, b"0\r\nX: " + b"t" * 16384 + b"\r\n\r\n"), err(431), end="close")

# --- header fields ---------------------------------------------------------------------------------------
# RFC 9110 §5.1 makes "_" a valid tchar, but "X_Forwarded_For" and "X-Forwarded-For" both become
# HTTP_X_FORWARDED_FOR in a WSGI environ (gunicorn issue 2799): sockweb refuses "_" in names (400).
case("underscore twin of x-forwarded-for", get(extra=b"X-Forwarded-For: 1.2.3.4\r\nX_Forwarded_For: 5.6.7.8\r\n"), err(400), end="close")
case("underscore content_length", post(b"Content_Length: 4\r\n", b"abcd"), err(400), end="close")
case("dash header reaches the app", get(extra=b"X-Forwarded-For: 1.2.3.4\r\n"), ok(environ={"HTTP_X_FORWARDED_FOR": "1.2.3.4"}), end="open")
# RFC 9112 §2.2: "A recipient that receives whitespace between the start-line and the first header field
# MUST either reject the message as invalid or consume each whitespace-preceded line without further
# processing of it". sockweb rejects (400).
case("tab before the first header line", b"GET / HTTP/1.1\r\n\tX-Evil: 1\r\nHost: h\r\n\r\n", err(400), end="close")
case("space before the first header line hides host", b"GET / HTTP/1.1\r\n Host: evil\r\nHost: h\r\n\r\n", err(400), end="close")
# RFC 9110 §5.5: "Field values containing CR, LF, or NUL characters are invalid and dangerous"; a name with
# NUL is not a token (RFC 9110 §5.1).
case("nul in header name", get(extra=b"X\x00: v\r\n"), err(400), end="close")
case("nul in host value", b"GET / HTTP/1.1\r\nHost: h\x00.evil\r\n\r\n", err(400), end="close")
case("bare lf smuggles a content-length", post(b"Content-Length: " + N + b"\r\nX: x\nContent-Length: 0\r\n", SMUGGLED), err(400), end="close")
# RFC 3986 §3.2.2: reg-name = *( unreserved / pct-encoded / sub-delims ); "_" is unreserved.
case("host reg-name with underscore", b"GET / HTTP/1.1\r\nHost: my_host\r\n\r\n", ok(environ={"HTTP_HOST": "my_host"}), end="open")
case("repeated field combined for the app", get(extra=b"X-A: 1\r\nX-A: 2\r\n"), ok(environ={"HTTP_X_A": "1, 2"}), end="open")

# --- request line and target -----------------------------------------------------------------------------
# RFC 9112 §3: request-line = method SP request-target SP HTTP-version. Recipients MAY split on other
# whitespace, but "lenient parsing can result in request smuggling security vulnerabilities"; sockweb does not.
case("tab before version", b"GET /\tHTTP/1.1\r\nHost: h\r\n\r\n", err(400), end="close")
case("tabs as separators", b"GET\t/\tHTTP/1.1\r\nHost: h\r\n\r\n", err(400), end="close")
case("vertical tab as separator", b"GET\x0b/ HTTP/1.1\r\nHost: h\r\n\r\n", err(400), end="close")
case("nul in target", b"GET /a\x00/../admin HTTP/1.1\r\nHost: h\r\n\r\n", err(400), end="close")
case("nul in method", b"G\x00ET / HTTP/1.1\r\nHost: h\r\n\r\n", err(400), end="close")
case("percent-encoded nul is a valid target", get(b"/a%00b"), ok("/a\x00b"), end="open")
case("double slash path is a path", get(b"//evil.example/x"), ok("//evil.example/x"), end="open")
# RFC 9112 §3.2.1: origin-form = absolute-path [ "?" query ]; "#" is in neither (RFC 3986 §3.3-3.4), and a
# fragment is never sent. sockweb already answers 400 to a target that is only "#x" (corpus).
case(
    "fragment in origin-form target",
    get(b"/a#b"),
    err(400),
    end="close",
)
case("percent-encoded slash decoded for path_info", get(b"/a%2Fb?c=%2F"), ok("/a/b", query="c=%2F"), end="open")
# RFC 9112 §3.2.2: "When an origin server receives a request with an absolute-form of request-target, the
# origin server MUST ignore the received Host header field (if any) and instead use the host information of
# the request-target." The application must see the target's host, not the Host field.
case(
    "absolute-form host wins over host field",
    b"GET http://a.example/x?y HTTP/1.1\r\nHost: b.example\r\n\r\n",
    ok("/x", query="y", environ={"HTTP_HOST": "a.example"}),
    end="open",
)
# RFC 3986 §3.2 / §3.3: the authority ends at the first "/", "?" or "#", so in "http://a.example?to=/x" the
# path is empty ("/" in origin-form, RFC 9112 §3.2.1) and "to=/x" is the query. Taking the first "/" after
# "://" as the path start lets a target route to a path a proxy never saw ("?/admin" -> /admin).
case("absolute-form query containing a slash", b"GET http://a.example?to=/x HTTP/1.1\r\nHost: a.example\r\n\r\n", ok("/", query="to=/x"), end="open")
case("absolute-form query hiding a path", b"GET http://a.example?/admin HTTP/1.1\r\nHost: a.example\r\n\r\n", ok("/", query="/admin"), end="open")
case("absolute-form uppercase scheme", b"GET HTTP://a.example/x HTTP/1.1\r\nHost: a.example\r\n\r\n", ok("/x"), end="open")
case("absolute-form query after path", b"GET http://a.example/r?to=http://b/c HTTP/1.1\r\nHost: a.example\r\n\r\n", ok("/r", query="to=http://b/c"), end="open")
# RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status code to any HTTP/1.1 request
# message that lacks a Host header field" (absolute-form or not).
case("absolute-form without host field", b"GET http://a.example/x HTTP/1.1\r\n\r\n", err(400), end="close")
# RFC 9110 §4.2.4: "a recipient SHOULD parse for userinfo and treat its presence as an error" (sockweb
# already refuses userinfo in the Host field: 400 there, so the same here).
case(
    "absolute-form with userinfo",
    b"GET http://user:pw@a.example/x HTTP/1.1\r\nHost: a.example\r\n\r\n",
    err(400),
    end="close",
)

# --- connection management -------------------------------------------------------------------------------
# RFC 9112 §9.3: an HTTP/1.0 connection persists only if "the "keep-alive" connection option is present";
# RFC 9112 §9.6: after "close" the server "MUST NOT process any further requests received on that connection".
case("http/1.0 keep-alive then http/1.1", get(extra=b"Connection: keep-alive\r\n", version=b"1.0") + get(b"/2"), ok(), ok("/2"), end="open")
case("http/1.0 without keep-alive closes", get(version=b"1.0") + SMUGGLED, ok(), end="close")
case("connection close then smuggled request", get(extra=b"Connection: close\r\n") + SMUGGLED, ok(), end="close")
case("connection close token in a list", get(extra=b"Connection: foo, CLOSE\r\n") + SMUGGLED, ok(), end="close")
# RFC 9110 §10.1.1: "A server that receives a 100-continue expectation in an HTTP/1.0 request MUST ignore
# that expectation"; "A server MAY omit sending a 100 (Continue) response if it has already received some or
# all of the content". Body and the pipelined request behind it must both arrive intact, in order.
case("expect 100-continue with body already sent", post(b"Expect: 100-continue\r\nContent-Length: 5\r\n", b"hello") + get(b"/next"), ok("/p", "POST", b"hello"), ok("/next"), end="open")
case("expect 100-continue chunked with body already sent", post(b"Expect: 100-continue\r\n" + TE, b"5\r\nhello\r\n0\r\n\r\n") + get(b"/next"), ok("/p", "POST", b"hello"), ok("/next"), end="open")
# RFC 9110 §7.8: a server MAY ignore Upgrade; it must then answer in HTTP/1.1 and keep parsing HTTP/1.1
# (no 101 to a request the application did not switch).
# RFC 9110 §9.3.2: HEAD is GET without content in the response; a request body it carries (Content-Length)
# is still framed by it and skipped.
case("head with a request body", b"HEAD /h HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello" + get(b"/after"), Answer(200, "HEAD"), ok("/after"), end="open")
# RFC 9110 §8.6: Content-Length = 1*DIGIT; leading zeros do not make the value large.
case("content-length with many leading zeros", post(b"Content-Length: 00000000000000000000000005\r\n", b"hello"), ok("/p", "POST", b"hello"), end="open")
case("h2c upgrade ignored", get( extra=b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n" ) + get(b"/next"), ok(), ok("/next"), end="open")
# A body the application never reads is skipped by its framing, whatever it contains.
case("unread content-length body skipped", post(b"Content-Length: " + N + b"\r\n", SMUGGLED, b"/noread") + get(b"/after"), UNREAD, ok("/after"), end="open")
case("unread chunked body skipped", post(TE, b"%x\r\n%s\r\n0\r\n\r\n" % (len(SMUGGLED), SMUGGLED), b"/noread") + get(b"/after"), UNREAD, ok("/after"), end="open")
# RFC 9112 §9.3.2: the server "MUST send the corresponding responses in the same order that the requests
# were received".
case("pipelined mixed bodies in order", b"".join( [ post(b"Content-Length: 1\r\n", b"a", b"/1"), get(b"/2"), post(TE, b"1\r\nb\r\n0\r\n\r\n", b"/3"), b"HEAD /4 HTTP/1.1\r\nHost: h\r\n\r\n", get(b"/5"), ] ), ok("/1", "POST", b"a"), ok("/2"), ok("/3", "POST", b"b"), Answer(200, "HEAD"), ok("/5"), end="open")

# --- limits (defaults: request line 8190, 100 fields, head 64 KiB) ------------------------------------------
_FILL = 65536 - len(get())
case("head size exactly at the default limit", get(extra=fields_of(_FILL)), ok(), end="open")
case("head size one past the default limit", get(extra=fields_of(_FILL + 1)), err(431), end="close")
case("field count at the default limit", get(extra=b"X: y\r\n" * 99), ok(), end="open")
case("field count one past the default limit", get(extra=b"X: y\r\n" * 100), err(431), end="close")
case("request line exactly at the default limit", get(b"/" + b"a" * (8190 - len(b"GET / HTTP/1.1"))), ok("/" + "a" * (8190 - 14)), end="open")
case("request line one past the default limit", get(b"/" + b"a" * (8191 - len(b"GET / HTTP/1.1"))), err(414), end="close")
# RFC 9110 §15.5.14: 413 when the content is larger than the server is willing to process; with Expect the
# status can be determined from the head alone, so RFC 9110 §10.1.1 wants "an immediate response with a
# final status code" and no 100 (Continue).
case("content-length over max-body-size", post(b"Content-Length: 5\r\n", b"hello"), err(413), end="close", config=BODY4)
case("content-length over max-body-size body not parsed as request", post(b"Content-Length: " + N + b"\r\n", SMUGGLED), err(413), end="close", config=BODY4)
case("expect with content-length over max-body-size", post(b"Expect: 100-continue\r\nContent-Length: 5\r\n"), err(413), end="close", config=BODY4)
case("chunked body over max-body-size", post(TE, b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"), err(413), end="close", config=BODY4)
case("body at max-body-size", post(b"Content-Length: 4\r\n", b"abcd"), ok("/p", "POST", b"abcd"), end="open", config=BODY4)
# fmt: on
