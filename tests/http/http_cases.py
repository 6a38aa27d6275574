# ruff: noqa: RUF005  (H + [...] reads better than [*H, ...] in the table)
"""The request corpus: raw bytes in, the exact events (or the exact error) out.

Each Case holds a raw byte stream and what the parser must produce for it when the stream is followed by EOF
(or not, with eof=False): a list of events in which consecutive Data events are merged, ending with PAUSED
or NEED_DATA, or ending with Err(status, close). The cases cover RFC 9112/9110 request syntax, body framing,
request smuggling vectors (CL.TE, TE.CL, TE.TE obfuscations), limits at and past their boundary, and
pipelining. The test modules replay every case whole, byte by byte, line by line and in random splits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sockweb.http import NEED_DATA, PAUSED, Data, EndOfMessage, Limits, Request, Signal

Headers = list[tuple[bytes, bytes]]
Expected = Request | Data | EndOfMessage | Signal


@dataclass(frozen=True)
class Err:
    status: int
    close: bool = True


@dataclass(frozen=True)
class Case:
    name: str
    raw: bytes
    expected: list[Expected | Err]
    limits: Limits = field(default_factory=Limits)
    eof: bool = True

    @property
    def valid(self) -> bool:
        return not isinstance(self.expected[-1], Err)


CASES: list[Case] = []
SMALL = Limits(
    max_request_line=40, max_header_count=4, max_head_size=200, max_chunk_ext=16, max_trailer_size=64
)


def msg(
    method: str = "GET",
    target: bytes = b"/",
    headers: Headers | None = None,
    *,
    body: bytes = b"",
    trailers: Headers | None = None,
    version: str = "1.1",
    keep_alive: bool | None = None,
    expect_continue: bool = False,
    content_length: int | None = None,
    chunked: bool = False,
) -> list[Expected]:
    """The events of one message: Request, Data (if any body), EndOfMessage."""
    if headers is None:
        headers = [(b"host", b"h")]
    if keep_alive is None:
        keep_alive = version == "1.1"
    req = Request(method, target, version, headers, keep_alive, expect_continue, content_length, chunked)
    events: list[Expected] = [req]
    if body:
        events.append(Data(body))
    events.append(EndOfMessage(trailers or []))
    return events


def ok(name: str, raw: bytes, *messages: list[Expected], final: Signal = PAUSED, **kw: object) -> None:
    events: list[Expected | Err] = [e for m in messages for e in m]
    events.append(final)
    CASES.append(Case(name, raw, events, **kw))  # type: ignore[arg-type]


def bad(
    name: str, raw: bytes, status: int, *before: list[Expected], close: bool = True, **kw: object
) -> None:
    events: list[Expected | Err] = [e for m in before for e in m]
    events.append(Err(status, close))
    CASES.append(Case(name, raw, events, **kw))  # type: ignore[arg-type]


def get(extra: bytes = b"", version: bytes = b"1.1", target: bytes = b"/", method: bytes = b"GET") -> bytes:
    return method + b" " + target + b" HTTP/" + version + b"\r\nHost: h\r\n" + extra + b"\r\n"


def post(framing: bytes, body: bytes = b"", version: bytes = b"1.1") -> bytes:
    return b"POST /p HTTP/" + version + b"\r\nHost: h\r\n" + framing + b"\r\n" + body


H = [(b"host", b"h")]
TE = [(b"host", b"h"), (b"transfer-encoding", b"chunked")]


def cl(n: int) -> Headers:
    return [(b"host", b"h"), (b"content-length", str(n).encode())]


# One case per line: the corpus reads as a table.
# fmt: off
# --- valid request lines and targets -------------------------------------------------------------------
ok("simple get", get(), msg())
ok("http/1.0 without host", b"GET / HTTP/1.0\r\n\r\n", msg(headers=[], version="1.0"))
ok("http/1.0 with host", get(version=b"1.0"), msg(version="1.0"))
ok("query string", get(target=b"/a/b?x=1&y=%20z"), msg(target=b"/a/b?x=1&y=%20z"))
ok("target with visible punctuation", get(target=b"/~a!$&'()*+,;=:@[]|{}^`\\\"<>"), msg(target=b"/~a!$&'()*+,;=:@[]|{}^`\\\"<>"))
ok("absolute-form", get(target=b"http://example.com/x?q"), msg(target=b"http://example.com/x?q"))
ok("absolute-form https with port", get(target=b"https://example.com:8443"), msg(target=b"https://example.com:8443"))
ok("absolute-form ipv6", get(target=b"http://[::1]:80/"), msg(target=b"http://[::1]:80/"))
ok("asterisk-form options", get(method=b"OPTIONS", target=b"*"), msg("OPTIONS", b"*"))
ok("authority-form connect", get(method=b"CONNECT", target=b"example.com:443"), msg("CONNECT", b"example.com:443", keep_alive=False))
ok("connect ipv6 authority", get(method=b"CONNECT", target=b"[2001:db8::1]:443"), msg("CONNECT", b"[2001:db8::1]:443", keep_alive=False))
ok("nothing parsed after connect", get(method=b"CONNECT", target=b"h:1") + b"\x16\x03\x01 tunnel bytes", msg("CONNECT", b"h:1", keep_alive=False))
ok("extension method", get(method=b"PROPFIND"), msg("PROPFIND"))
ok("method with token symbols", get(method=b"M-SEARCH"), msg("M-SEARCH"))
ok("lowercase method is a different method", get(method=b"get"), msg("get"))
ok("head method", get(method=b"HEAD"), msg("HEAD"))
ok("one leading empty line ignored", b"\r\n" + get(), msg())

# --- valid header fields ----------------------------------------------------------------------------------
ok("names lowercased", b"GET / HTTP/1.1\r\nHOST: h\r\nX-Mixed-Case: V\r\n\r\n", msg(headers=[(b"host", b"h"), (b"x-mixed-case", b"V")]))
ok("ows trimmed", get(b"X: \t v \t\r\n"), msg(headers=H + [(b"x", b"v")]))
ok("inner whitespace kept", get(b"X: a  b\tc\r\n"), msg(headers=H + [(b"x", b"a  b\tc")]))
ok("empty value", get(b"X:\r\n"), msg(headers=H + [(b"x", b"")]))
ok("whitespace-only value", get(b"X:  \t \r\n"), msg(headers=H + [(b"x", b"")]))
ok("no space after colon", get(b"X:v\r\n"), msg(headers=H + [(b"x", b"v")]))
ok("colon inside value", get(b"X: a:b: c\r\n"), msg(headers=H + [(b"x", b"a:b: c")]))
ok("obs-text kept", get(b"X: caf\xe9 \xff\r\n"), msg(headers=H + [(b"x", b"caf\xe9 \xff")]))
ok("repeated fields kept in order", get(b"A: 1\r\nB: 2\r\nA: 3\r\n"), msg(headers=H + [(b"a", b"1"), (b"b", b"2"), (b"a", b"3")]))
ok("token symbols in names", get(b"!#$%&'*+-.^`|~: v\r\n"), msg(headers=H + [(b"!#$%&'*+-.^`|~", b"v")]))
ok("underscore name allowed when configured", get(b"X_Y: 1\r\n"), msg(headers=H + [(b"x_y", b"1")]), limits=Limits(allow_underscore_in_names=True))
ok("host with port", b"GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n", msg(headers=[(b"host", b"example.com:8080")]))
ok("host ipv6", b"GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", msg(headers=[(b"host", b"[::1]:8080")]))
ok("host empty", b"GET / HTTP/1.1\r\nHost:\r\n\r\n", msg(headers=[(b"host", b"")]))
ok("expect 100-continue", post(b"Expect: 100-continue\r\nContent-Length: 2\r\n", b"hi"), msg("POST", b"/p", [(b"host", b"h"), (b"expect", b"100-continue"), (b"content-length", b"2")], body=b"hi", expect_continue=True, content_length=2))
ok("expect in http/1.0 ignored", b"POST /p HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx", msg("POST", b"/p", [(b"expect", b"100-continue"), (b"content-length", b"1")], body=b"x", version="1.0", content_length=1))
ok("other expectation ignored", get(b"Expect: something\r\n"), msg(headers=H + [(b"expect", b"something")]))

# --- keep-alive decision ------------------------------------------------------------------------------------
ok("connection close stops parsing", get(b"Connection: close\r\n") + get(), msg(headers=H + [(b"connection", b"close")], keep_alive=False))
ok("connection close in a list", get(b"Connection: keep-alive, Close\r\n") + get(), msg(headers=H + [(b"connection", b"keep-alive, Close")], keep_alive=False))
ok("connection close on second line", get(b"Connection: upgrade\r\nConnection: close\r\n"), msg(headers=H + [(b"connection", b"upgrade"), (b"connection", b"close")], keep_alive=False))
ok("connection other token keeps alive", get(b"Connection: te\r\n") + get(), msg(headers=H + [(b"connection", b"te")]), msg())
ok("http/1.0 keep-alive", get(b"Connection: Keep-Alive\r\n", version=b"1.0") + get(), msg(headers=H + [(b"connection", b"Keep-Alive")], version="1.0", keep_alive=True), msg())
ok("http/1.0 keep-alive in list", get(b"Connection: foo, keep-alive\r\n", version=b"1.0"), msg(headers=H + [(b"connection", b"foo, keep-alive")], version="1.0", keep_alive=True))
ok("http/1.0 default close", get(version=b"1.0") + get(), msg(version="1.0"))
ok("http/1.0 keep-alive and close", get(b"Connection: keep-alive, close\r\n", version=b"1.0"), msg(headers=H + [(b"connection", b"keep-alive, close")], version="1.0"))

# --- Content-Length bodies -----------------------------------------------------------------------------------
ok("content-length body", post(b"Content-Length: 5\r\n", b"hello"), msg("POST", b"/p", cl(5), body=b"hello", content_length=5))
ok("content-length zero", post(b"Content-Length: 0\r\n"), msg("POST", b"/p", cl(0), content_length=0))
ok("content-length leading zeros", post(b"Content-Length: 0003\r\n", b"abc"), msg("POST", b"/p", [(b"host", b"h"), (b"content-length", b"0003")], body=b"abc", content_length=3))
ok("content-length duplicate equal", post(b"Content-Length: 3\r\nContent-Length: 3\r\n", b"abc"), msg("POST", b"/p", cl(3) + [(b"content-length", b"3")], body=b"abc", content_length=3))
ok("content-length list equal", post(b"Content-Length: 3, 3\r\n", b"abc"), msg("POST", b"/p", [(b"host", b"h"), (b"content-length", b"3, 3")], body=b"abc", content_length=3))
ok("body with crlf inside", post(b"Content-Length: 6\r\n", b"a\r\n\r\nb"), msg("POST", b"/p", cl(6), body=b"a\r\n\r\nb", content_length=6))
ok("body at max_body_size", post(b"Content-Length: 4\r\n", b"abcd"), msg("POST", b"/p", cl(4), body=b"abcd", content_length=4), limits=Limits(max_body_size=4))
ok("get with body", get(b"Content-Length: 2\r\n") + b"hi", msg(headers=cl(2), body=b"hi", content_length=2))

# --- chunked bodies -----------------------------------------------------------------------------------------------
ok("chunked", post(b"Transfer-Encoding: chunked\r\n", b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"), msg("POST", b"/p", TE, body=b"hello world", chunked=True))
ok("chunked empty", post(b"Transfer-Encoding: chunked\r\n", b"0\r\n\r\n"), msg("POST", b"/p", TE, chunked=True))
ok("chunked uppercase hex", post(b"Transfer-Encoding: chunked\r\n", b"A\r\n0123456789\r\n0\r\n\r\n"), msg("POST", b"/p", TE, body=b"0123456789", chunked=True))
ok("chunked lowercase hex", post(b"Transfer-Encoding: chunked\r\n", b"a\r\n0123456789\r\n0\r\n\r\n"), msg("POST", b"/p", TE, body=b"0123456789", chunked=True))
ok("chunked leading zeros", post(b"Transfer-Encoding: chunked\r\n", b"0003\r\nabc\r\n000\r\n\r\n"), msg("POST", b"/p", TE, body=b"abc", chunked=True))
ok("chunk size 16 hex digits", post(b"Transfer-Encoding: chunked\r\n", b"0000000000000002\r\nab\r\n0\r\n\r\n"), msg("POST", b"/p", TE, body=b"ab", chunked=True))
ok("te case-insensitive", post(b"Transfer-Encoding: Chunked\r\n", b"1\r\nx\r\n0\r\n\r\n"), msg("POST", b"/p", [(b"host", b"h"), (b"transfer-encoding", b"Chunked")], body=b"x", chunked=True))
ok("te with empty list elements", post(b"Transfer-Encoding: , chunked\r\n", b"0\r\n\r\n"), msg("POST", b"/p", [(b"host", b"h"), (b"transfer-encoding", b", chunked")], chunked=True))
ok("chunk extension", post(b"Transfer-Encoding: chunked\r\n", b"3;name=value\r\nabc\r\n0;last\r\n\r\n"), msg("POST", b"/p", TE, body=b"abc", chunked=True))
ok("chunk extension quoted", post(b"Transfer-Encoding: chunked\r\n", b'3;a="b;c\\"d";e\r\nabc\r\n0\r\n\r\n'), msg("POST", b"/p", TE, body=b"abc", chunked=True))
ok("chunk extension bws", post(b"Transfer-Encoding: chunked\r\n", b"3 ; a = b\r\nabc\r\n0\r\n\r\n"), msg("POST", b"/p", TE, body=b"abc", chunked=True))
ok("chunk extension at limit", post(b"Transfer-Encoding: chunked\r\n", b"1;" + b"x" * 15 + b"\r\na\r\n0\r\n\r\n"), msg("POST", b"/p", TE, body=b"a", chunked=True), limits=Limits(max_chunk_ext=16))
ok("chunked trailers", post(b"Transfer-Encoding: chunked\r\n", b"1\r\na\r\n0\r\nX-Sum: 1\r\nX-Other:  v \r\n\r\n"), msg("POST", b"/p", TE, body=b"a", trailers=[(b"x-sum", b"1"), (b"x-other", b"v")], chunked=True))
ok("chunked body within max_body_size", post(b"Transfer-Encoding: chunked\r\n", b"2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n"), msg("POST", b"/p", TE, body=b"abcd", chunked=True), limits=Limits(max_body_size=4))
ok("chunk data with crlf", post(b"Transfer-Encoding: chunked\r\n", b"4\r\n\r\n\r\n\r\n0\r\n\r\n"), msg("POST", b"/p", TE, body=b"\r\n\r\n", chunked=True))

# --- pipelining --------------------------------------------------------------------------------------------------------
ok("pipelined gets", get() + get(target=b"/2") + get(target=b"/3"), msg(), msg(target=b"/2"), msg(target=b"/3"))
ok("pipelined with bodies", post(b"Content-Length: 3\r\n", b"abc") + post(b"Transfer-Encoding: chunked\r\n", b"2\r\nde\r\n0\r\n\r\n") + get(), msg("POST", b"/p", cl(3), body=b"abc", content_length=3), msg("POST", b"/p", TE, body=b"de", chunked=True), msg())
ok("pipelined empty line between", get() + b"\r\n" + get(), msg(), msg())
ok("pipelined stops at close", get() + get(b"Connection: close\r\n") + get(target=b"/never"), msg(), msg(headers=H + [(b"connection", b"close")], keep_alive=False))
ok("pipelined body that looks like a request", post(b"Content-Length: 19\r\n", b"GET /x HTTP/1.1\r\n\r\n") + get(), msg("POST", b"/p", cl(19), body=b"GET /x HTTP/1.1\r\n\r\n", content_length=19), msg())
ok("pipelined chunked trailers then get", post(b"Transfer-Encoding: chunked\r\n", b"0\r\nT: 1\r\n\r\n") + get(), msg("POST", b"/p", TE, trailers=[(b"t", b"1")], chunked=True), msg())
ok("pipelined after http/1.0 stops", get(version=b"1.0") + get(), msg(version="1.0"))

# --- incomplete input without EOF: the parser waits ------------------------------------------------------------------------
ok("partial head waits", b"GET / HTTP/1.1\r\nHost: h\r\n", final=NEED_DATA, eof=False)
ok("partial body waits", post(b"Content-Length: 5\r\n", b"he"), [*msg("POST", b"/p", cl(5), content_length=5)[:1], Data(b"he")], final=NEED_DATA, eof=False)
ok("partial chunk waits", post(b"Transfer-Encoding: chunked\r\n", b"5\r\nhe"), [*msg("POST", b"/p", TE, chunked=True)[:1], Data(b"he")], final=NEED_DATA, eof=False)
ok("lone cr waits", b"\r", final=NEED_DATA, eof=False)
ok("empty stream at eof", b"")

# --- request line errors ----------------------------------------------------------------------------------------------------
bad("empty request line", b"\r\n\r\nHost: h\r\n\r\n", 400)
bad("two leading empty lines", b"\r\n\r\n" + get(), 400)
bad("lowercase http name", b"GET / http/1.1\r\nHost: h\r\n\r\n", 400)
bad("missing version", b"GET /\r\nHost: h\r\n\r\n", 400)
bad("missing target", b"GET HTTP/1.1\r\nHost: h\r\n\r\n", 400)
bad("double space before target", b"GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400)
bad("double space before version", b"GET /  HTTP/1.1\r\nHost: h\r\n\r\n", 400)
bad("tab separator", b"GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n", 400)
bad("trailing space after version", b"GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400)
bad("leading space", b" GET / HTTP/1.1\r\nHost: h\r\n\r\n", 400)
bad("space in target", b"GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", 400)
bad("nul in target", b"GET /a\x00b HTTP/1.1\r\nHost: h\r\n\r\n", 400)
bad("del in target", b"GET /a\x7fb HTTP/1.1\r\nHost: h\r\n\r\n", 400)
bad("non-ascii in target", b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", 400)
bad("non-token method", b"G@T / HTTP/1.1\r\nHost: h\r\n\r\n", 400)
bad("non-ascii method", b"G\xc9T / HTTP/1.1\r\nHost: h\r\n\r\n", 400)
bad("version without minor", b"GET / HTTP/1\r\nHost: h\r\n\r\n", 400)
bad("version with two digit major", b"GET / HTTP/11.1\r\nHost: h\r\n\r\n", 400)
bad("version overlong", b"GET / HTTP/1111111111.1\r\nHost: h\r\n\r\n", 400)
bad("version letters", b"GET / HTTP/a.b\r\nHost: h\r\n\r\n", 400)
bad("version with spaces", b"GET / HTTP/ 1.1\r\nHost: h\r\n\r\n", 400)
bad("http/2.0 unsupported", get(version=b"2.0"), 505)
bad("http/1.2 unsupported", get(version=b"1.2"), 505)
bad("http/0.9 unsupported", get(version=b"0.9"), 505)
bad("http/3.0 unsupported", get(version=b"3.0"), 505)
bad("http/0.9 simple request", b"GET /\r\n\r\n", 400)
bad("asterisk with get", get(target=b"*"), 400)
bad("authority-form with get", get(target=b"example.com:80"), 400)
bad("connect with origin-form", get(method=b"CONNECT", target=b"/"), 400)
bad("connect without port", get(method=b"CONNECT", target=b"example.com"), 400)
bad("relative target", get(target=b"a/b"), 400)
bad("absolute-form empty authority", get(target=b"http:///x"), 400)
bad("absolute-form without slashes", get(target=b"mailto:a@b"), 400)
bad("fragment-only target", get(target=b"#x"), 400)
bad("fragment after the path", get(target=b"/a#b"), 400)
bad("fragment after the query", get(target=b"/a?b#c"), 400)
bad("absolute-form with userinfo", get(target=b"http://user:pw@example.com/x"), 400)
bad("absolute-form with an empty userinfo", get(target=b"http://@example.com/x"), 400)
bad("bare lf after request line", b"GET / HTTP/1.1\nHost: h\r\n\r\n", 400)
bad("bare cr after request line", b"GET / HTTP/1.1\rHost: h\r\n\r\n", 400)
bad("all bare lf", b"GET / HTTP/1.1\nHost: h\n\n", 400)
bad("garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400)
bad("tls client hello without crlf", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\x00\x00", 400)

# --- header field errors -------------------------------------------------------------------------------------------------------
bad("space before colon", get(b"X : v\r\n"), 400)
bad("tab before colon", get(b"X\t: v\r\n"), 400)
bad("space before colon in content-length", post(b"Content-Length : 3\r\n", b"abc"), 400)
bad("space before colon in transfer-encoding", post(b"Transfer-Encoding : chunked\r\n", b"0\r\n\r\n"), 400)
bad("obs-fold space", get(b"X: a\r\n b\r\n"), 400)
bad("obs-fold tab", get(b"X: a\r\n\tb\r\n"), 400)
bad("obs-fold first line", b"GET / HTTP/1.1\r\n Host: h\r\n\r\n", 400)
bad("missing colon", get(b"X v\r\n"), 400)
bad("empty name", get(b": v\r\n"), 400)
bad("non-token name", get(b"X(y): v\r\n"), 400)
bad("non-ascii name", get(b"Content-Length\xff: 3\r\n"), 400)
bad("underscore name refused by default", get(b"Content_Length: 3\r\n"), 400)
bad("bare lf in headers", get(b"X: v\nY: w\r\n"), 400)
bad("bare cr in value", get(b"X: a\rb\r\n"), 400)
bad("bare cr at end of value", get(b"X: a\r\r\n"), 400)
bad("lf lf terminator", b"GET / HTTP/1.1\r\nHost: h\r\n\n", 400)
bad("cr cr lf terminator", b"GET / HTTP/1.1\r\nHost: h\r\n\r\r\n", 400)
for _ctl in [*range(0x00, 0x09), *range(0x0B, 0x0D), *range(0x0E, 0x20), 0x7F]:
    bad(f"ctl {_ctl:#04x} in value", get(b"X: a" + bytes([_ctl]) + b"b\r\n"), 400)
bad("vertical tab before chunked", post(b"Transfer-Encoding: \x0bchunked\r\n", b"0\r\n\r\n"), 400)
bad("chunked followed by vertical tab", post(b"Transfer-Encoding: chunked\x0b\r\n", b"0\r\n\r\n"), 400)
bad("form feed in content-length", post(b"Content-Length: \x0c3\r\n", b"abc"), 400)

# --- Host rules ------------------------------------------------------------------------------------------------------------------------
bad("http/1.1 without host", b"GET / HTTP/1.1\r\n\r\n", 400)
bad("two hosts", get(b"Host: h\r\n"), 400)
bad("two hosts http/1.0", b"GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400)
bad("host with userinfo", b"GET / HTTP/1.1\r\nHost: user@h\r\n\r\n", 400)
bad("host with space", b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400)
bad("host with path", b"GET / HTTP/1.1\r\nHost: h/x\r\n\r\n", 400)
bad("host with bad port", b"GET / HTTP/1.1\r\nHost: h:8o\r\n\r\n", 400)
bad("host list", b"GET / HTTP/1.1\r\nHost: a, b\r\n\r\n", 400)

# --- Content-Length errors ------------------------------------------------------------------------------------------------------------
bad("content-length negative", post(b"Content-Length: -1\r\n"), 400)
bad("content-length plus sign", post(b"Content-Length: +3\r\n", b"abc"), 400)
bad("content-length hex", post(b"Content-Length: 0x3\r\n", b"abc"), 400)
bad("content-length underscore", post(b"Content-Length: 1_0\r\n", b"a" * 10), 400)
bad("content-length inner space", post(b"Content-Length: 1 0\r\n", b"a" * 10), 400)
bad("content-length empty", post(b"Content-Length:\r\n"), 400)
bad("content-length float", post(b"Content-Length: 3.0\r\n", b"abc"), 400)
bad("content-length exponent", post(b"Content-Length: 1e1\r\n", b"a" * 10), 400)
bad("content-length unicode digit", post(b"Content-Length: \xd9\xa3\r\n", b"abc"), 400)
bad("content-length conflicting duplicates", post(b"Content-Length: 3\r\nContent-Length: 4\r\n", b"abcd"), 400)
bad("content-length conflicting list", post(b"Content-Length: 3, 4\r\n", b"abcd"), 400)
bad("content-length list with empty element", post(b"Content-Length: 3,\r\n", b"abc"), 400)
bad("content-length same number different spelling", post(b"Content-Length: 3\r\nContent-Length: 03\r\n", b"abc"), 400)
bad("content-length 19 digits", post(b"Content-Length: 1000000000000000000\r\n"), 413)
bad("content-length huge", post(b"Content-Length: " + b"9" * 100 + b"\r\n"), 413)
bad("content-length over max_body_size", post(b"Content-Length: 5\r\n", b"hello"), 413, limits=Limits(max_body_size=4))
bad("content-length body cut by eof", post(b"Content-Length: 5\r\n", b"hel"), 400, [*msg("POST", b"/p", cl(5), content_length=5)[:1], Data(b"hel")])
bad("content-length body missing at eof", post(b"Content-Length: 5\r\n"), 400, msg("POST", b"/p", cl(5), content_length=5)[:1])

# --- Transfer-Encoding errors and smuggling --------------------------------------------------------------------------------------------
bad("cl.te smuggling", post(b"Content-Length: 6\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\nG"), 400)
bad("te.cl smuggling", post(b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n", b"8\r\nSMUGGLED\r\n0\r\n\r\n"), 400)
bad("te and cl zero", post(b"Transfer-Encoding: chunked\r\nContent-Length: 0\r\n", b"0\r\n\r\n"), 400)
bad("te xchunked", post(b"Transfer-Encoding: xchunked\r\n", b"0\r\n\r\n"), 501)
bad("te chunkedx", post(b"Transfer-Encoding: chunkedx\r\n", b"0\r\n\r\n"), 501)
bad("te quoted chunked", post(b'Transfer-Encoding: "chunked"\r\n', b"0\r\n\r\n"), 501)
bad("te chunked with parameter", post(b"Transfer-Encoding: chunked;q=1\r\n", b"0\r\n\r\n"), 501)
bad("te chunked twice in list", post(b"Transfer-Encoding: chunked, chunked\r\n", b"0\r\n\r\n"), 400)
bad("te chunked twice in lines", post(b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n"), 400)
bad("te chunked not last", post(b"Transfer-Encoding: chunked, gzip\r\n", b"0\r\n\r\n"), 400)
bad("te chunked not last across lines", post(b"Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n", b"0\r\n\r\n"), 400)
bad("te gzip only", post(b"Transfer-Encoding: gzip\r\n", b"abc"), 400)
bad("te identity only", post(b"Transfer-Encoding: identity\r\nContent-Length: 3\r\n", b"abc"), 400)
bad("te empty", post(b"Transfer-Encoding:\r\n", b"abc"), 400)
bad("te gzip then chunked not decoded", post(b"Transfer-Encoding: gzip, chunked\r\n", b"0\r\n\r\n"), 501)
bad("te in http/1.0", post(b"Transfer-Encoding: chunked\r\n", b"0\r\n\r\n", version=b"1.0"), 400)
bad("te unknown with cl", post(b"Transfer-Encoding: foo\r\nContent-Length: 3\r\n", b"abc"), 501)
bad("te chunked then unknown", post(b"Transfer-Encoding: chunked, xchunked\r\n", b"0\r\n\r\n"), 501)

# --- chunked body errors ----------------------------------------------------------------------------------------------------------
_REQ_TE = msg("POST", b"/p", TE, chunked=True)[:1]


def bad_chunked(name: str, body: bytes, status: int = 400, data: bytes = b"", **kw: object) -> None:
    before = [*_REQ_TE, Data(data)] if data else _REQ_TE
    bad(name, post(b"Transfer-Encoding: chunked\r\n", body), status, before, **kw)


bad_chunked("chunk size 0x prefix", b"0x5\r\nhello\r\n0\r\n\r\n")
bad_chunked("chunk size plus sign", b"+5\r\nhello\r\n0\r\n\r\n")
bad_chunked("chunk size minus sign", b"-5\r\nhello\r\n0\r\n\r\n")
bad_chunked("chunk size empty", b"\r\nhello\r\n0\r\n\r\n")
bad_chunked("chunk size not hex", b"g\r\nhello\r\n0\r\n\r\n")
bad_chunked("chunk size leading space", b" 5\r\nhello\r\n0\r\n\r\n")
bad_chunked("chunk size trailing space", b"5 \r\nhello\r\n0\r\n\r\n")
bad_chunked("chunk size underscore", b"1_0\r\n" + b"a" * 16 + b"\r\n0\r\n\r\n")
bad_chunked("chunk size 17 hex digits", b"00000000000000005\r\nhello\r\n0\r\n\r\n")
bad_chunked("chunk size overflow", b"ffffffffffffffffff\r\nhello\r\n0\r\n\r\n")
bad_chunked("chunk size bare lf", b"5\nhello\r\n0\r\n\r\n")
bad_chunked("chunk size bare cr", b"5\rhello\r\n0\r\n\r\n")
bad_chunked("chunk data longer than size", b"3\r\nhello\r\n0\r\n\r\n", data=b"hel")
bad_chunked("chunk data shorter than size", b"6\r\nhello\r\n0\r\n\r\n", data=b"hello\r")
bad_chunked("chunk data missing crlf", b"5\r\nhello0\r\n\r\n", data=b"hello")
bad_chunked("chunk data bare lf", b"5\r\nhello\n0\r\n\r\n", data=b"hello")
bad_chunked("chunk data cr then garbage", b"5\r\nhelloX\n0\r\n\r\n", data=b"hello")
bad_chunked("chunk data cr then x", b"5\r\nhello\rX0\r\n\r\n", data=b"hello")
bad_chunked("chunk ext without name", b"5;\r\nhello\r\n0\r\n\r\n")
bad_chunked("chunk ext with space in name", b"5;a b\r\nhello\r\n0\r\n\r\n")
bad_chunked("chunk ext unterminated quote", b'5;a="b\r\nhello\r\n0\r\n\r\n')
bad_chunked("chunk ext ctl", b"5;a=\x01\r\nhello\r\n0\r\n\r\n")
bad_chunked("chunk ext empty value", b"5;a=\r\nhello\r\n0\r\n\r\n")
bad_chunked("chunk ext over limit", b"1;" + b"x" * 16 + b"\r\na\r\n0\r\n\r\n", limits=Limits(max_chunk_ext=16))
bad_chunked("chunk ext never ends", b"1;" + b"x" * 100, limits=Limits(max_chunk_ext=16))
bad_chunked("chunked body over max_body_size", b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", 413, data=b"abc", limits=Limits(max_body_size=4))
bad_chunked("chunked huge chunk over max_body_size", b"ffffffffffffffff\r\n", 413, limits=Limits(max_body_size=10**9))
bad_chunked("chunked cut by eof in data", b"5\r\nhel", data=b"hel")
bad_chunked("chunked cut by eof in size", b"5")
bad_chunked("chunked cut by eof before last chunk", b"5\r\nhello\r\n", data=b"hello")
bad_chunked("chunked missing final crlf", b"5\r\nhello\r\n0\r\n", data=b"hello")
bad_chunked("chunked last chunk bare lf", b"0\n\r\n")
bad_chunked("trailer bare lf", b"0\r\nX: 1\n\r\n")
bad_chunked("trailer obs-fold", b"0\r\nX: 1\r\n 2\r\n\r\n")
bad_chunked("trailer space before colon", b"0\r\nX : 1\r\n\r\n")
bad_chunked("trailer ctl", b"0\r\nX: \x01\r\n\r\n")
bad_chunked("trailer content-length", b"0\r\nContent-Length: 5\r\n\r\n")
bad_chunked("trailer transfer-encoding", b"0\r\nTransfer-Encoding: chunked\r\n\r\n")
bad_chunked("trailer host", b"0\r\nHost: evil\r\n\r\n")
bad_chunked("trailer section too large", b"0\r\nX: " + b"a" * 64 + b"\r\n\r\n", 431, limits=Limits(max_trailer_size=64))
bad_chunked("trailer section never ends", b"0\r\nX: " + b"a" * 100, 431, limits=Limits(max_trailer_size=64))
bad_chunked("too many trailer fields", b"0\r\n" + b"X: 1\r\n" * 5 + b"\r\n", 431, limits=Limits(max_header_count=4))
bad_chunked("trailer cut by eof", b"0\r\nX: 1\r\n")
# "Transfer-Encoding: chunked" is 26 bytes: the head is at the limit, the trailer one past it.
bad_chunked("trailer field line too large", b"0\r\nX: " + b"a" * 24 + b"\r\n\r\n", 431, limits=Limits(max_field_size=26))
ok("trailer field line at limit", post(b"Transfer-Encoding: chunked\r\n", b"0\r\nX: " + b"a" * 23 + b"\r\n\r\n"), msg("POST", b"/p", TE, trailers=[(b"x", b"a" * 23)], chunked=True), limits=Limits(max_field_size=26))

# --- limits: at the boundary is fine, one past fails --------------------------------------------------------------------------------------------
_LINE40 = b"GET /" + b"a" * 26 + b" HTTP/1.1"  # 40 bytes
assert len(_LINE40) == 40
ok("request line at limit", _LINE40 + b"\r\nHost: h\r\n\r\n", msg(target=b"/" + b"a" * 26), limits=SMALL)
bad("request line one past limit", b"GET /" + b"a" * 27 + b" HTTP/1.1\r\nHost: h\r\n\r\n", 414, limits=SMALL)
bad("request line never ends", b"GET /" + b"a" * 100, 414, limits=SMALL)
bad("default request line limit", b"GET /" + b"a" * 8182 + b" HTTP/1.1\r\nHost: h\r\n\r\n", 414)
ok("default request line at limit", b"GET /" + b"a" * 8176 + b" HTTP/1.1\r\nHost: h\r\n\r\n", msg(target=b"/" + b"a" * 8176))
ok("header count at limit", get(b"A: 1\r\nB: 2\r\nC: 3\r\n"), msg(headers=H + [(b"a", b"1"), (b"b", b"2"), (b"c", b"3")]), limits=SMALL)
bad("header count one past limit", get(b"A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n"), 431, limits=SMALL)
bad("default header count", get(b"X: y\r\n" * 100), 431)
_PAD = 200 - len(get(b"X: \r\n"))
ok("head size at limit", get(b"X: " + b"v" * _PAD + b"\r\n"), msg(headers=H + [(b"x", b"v" * _PAD)]), limits=SMALL)
bad("head size one past limit", get(b"X: " + b"v" * (_PAD + 1) + b"\r\n"), 431, limits=SMALL)
bad("head never ends", get(b"X: " + b"v" * 300), 431, limits=SMALL, eof=False)
bad("default head size", get(b"X: " + b"v" * 65536 + b"\r\n"), 431)
_FIELD20 = Limits(max_field_size=20)  # "X: " and 17 bytes of value
ok("field line at limit", get(b"X: " + b"v" * 17 + b"\r\n"), msg(headers=H + [(b"x", b"v" * 17)]), limits=_FIELD20)
bad("field line one past limit", get(b"X: " + b"v" * 18 + b"\r\n"), 431, limits=_FIELD20)
ok("field line at limit, OWS included", get(b"X: " + b"v" * 15 + b"  \r\n"), msg(headers=H + [(b"x", b"v" * 15)]), limits=_FIELD20)
bad("field line past limit by its OWS", get(b"X: " + b"v" * 16 + b"  \r\n"), 431, limits=_FIELD20)
ok("field lines at limit, repeated name", get(b"X: " + b"v" * 17 + b"\r\nX: " + b"w" * 17 + b"\r\n"), msg(headers=H + [(b"x", b"v" * 17), (b"x", b"w" * 17)]), limits=_FIELD20)
bad("long field line after short ones", get(b"A: 1\r\nB: 2\r\nX: " + b"v" * 18 + b"\r\n"), 431, limits=_FIELD20)
bad("long field line in an uncommon head", b"OPTIONS * HTTP/1.1\r\nHost: h\r\nX: " + b"v" * 18 + b"\r\n\r\n", 431, limits=_FIELD20)
bad("long field name", get(b"X" * 20 + b": 1\r\n"), 431, limits=_FIELD20)
ok("default field line at limit", get(b"X: " + b"v" * 8187 + b"\r\n"), msg(headers=H + [(b"x", b"v" * 8187)]))
bad("default field line one past limit", get(b"X: " + b"v" * 8188 + b"\r\n"), 431)
bad("default field line long but head fits", get(b"Cookie: " + b"c" * 20000 + b"\r\n"), 431)
ok("request line longer than the field limit", b"GET /" + b"a" * 30 + b" HTTP/1.1\r\nHost: h\r\n\r\n", msg(target=b"/" + b"a" * 30), limits=_FIELD20)
bad("request line limit still 414 with fields", b"GET /" + b"a" * 8182 + b" HTTP/1.1\r\nHost: h\r\nX: " + b"v" * 9000 + b"\r\n\r\n", 414)

# --- eof in the middle of a head ------------------------------------------------------------------------------------------------
bad("eof in request line", b"GET / HT", 400)
bad("eof after request line", b"GET / HTTP/1.1\r\n", 400)
bad("eof before blank line", b"GET / HTTP/1.1\r\nHost: h\r\n", 400)
bad("eof after partial second request", get() + b"GET", 400, msg())

# --- nothing is parsed after an error --------------------------------------------------------------------------------------------
bad("error after a good request", get() + b"BAD\r\n\r\n" + get(), 400, msg())
bad("error in second pipelined body", get() + post(b"Content-Length: x\r\n") + get(), 400, msg())

# --- which limit wins when a head breaks several rules --------------------------------------------------------------
ok("http/1.1 connection keep-alive", get(b"Connection: keep-alive\r\n") + get(), msg(headers=H + [(b"connection", b"keep-alive")]), msg())
bad("malformed overlong request line", b"GET /" + b"a" * 100 + b" HTTP/1.1x\r\nHost: h\r\n\r\n", 414, limits=SMALL)
bad("malformed request line in oversized head", b"GET / HTTP/1.1x\r\nHost: h\r\nX: " + b"v" * 200 + b"\r\n\r\n", 431, limits=SMALL)
bad("too many fields with a malformed one", get(b"X: y\r\n" * 4 + b"bad\r\n"), 431, limits=SMALL)
# fmt: on
