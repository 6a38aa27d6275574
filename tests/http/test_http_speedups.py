"""The C accelerator (sockweb.http._speedups) must give the pure-Python parser's events, one for one.

Two parsers are built for every stream: one on the pure-Python reference (`_common_head`), one on the C
head scanner, whatever SOCKWEB_PURE_PYTHON says. Both are fed the same pieces; their events must be equal,
and when one raises, the other must raise the same error class with the same status, message and close flag.
Streams: every corpus case (whole, byte by byte, line by line, random splits), random HTTP-like heads built
from fragments, heads of the common shape with random names and value bytes (valid and invalid), and
generated valid requests; each under several limits. The tests of `_accel` (the choice of path) run
without the extension.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from types import ModuleType

import pytest
from http_cases import CASES, Case
from hypothesis import given, settings
from hypothesis import strategies as st
from test_http_common_head import BROWSER_HEAD
from test_http_corpus import MODES
from test_http_properties import FRAGMENTS, SETTINGS, TINY, requests

from sockweb.http import (
    NEED_DATA,
    PAUSED,
    Limits,
    ProtocolError,
    Request,
    RequestParser,
    _accel,
    describe_parser,
)
from sockweb.http.events import REQUEST_FIELDS

try:
    from sockweb.http import _speedups
except ImportError:  # pragma: no cover - depends on the install; CI builds the extension
    _speedups = None

needs_speedups = pytest.mark.skipif(
    _speedups is None and not os.environ.get("CI"),
    reason="the C accelerator is not built (CI builds it, and fails here when it is missing)",
)
LIMITS = [
    Limits(),
    TINY,
    Limits(allow_underscore_in_names=True, max_body_size=1000),
    Limits(max_header_count=2, max_field_size=20),
]


def parsers(limits: Limits) -> tuple[RequestParser, RequestParser]:
    """(a parser on the pure-Python reference, a parser on the C scanner), for the same limits."""
    assert _speedups is not None, "the C accelerator is not built"
    pure, fast = RequestParser(limits), RequestParser(limits)
    pure._common = pure._common_head
    fast._common = _speedups.HeadScanner(limits, Request).scan
    return pure, fast


def events(parser: RequestParser, pieces: Iterator[bytes], eof: bool = True) -> list[object]:
    """All events of the pieces (then EOF); an error ends the list as (class, status, message, close)."""
    out: list[object] = []
    try:
        for piece in [*pieces, b""] if eof else pieces:
            parser.feed(piece)
            while (event := parser.next_event()) is not NEED_DATA and event is not PAUSED:
                out.append(event)
            out.append(event)
            if event is PAUSED:
                break
    except ProtocolError as exc:
        out.append((type(exc), exc.status, str(exc), exc.close))
    return out


def same_events(raw: bytes, limits: Limits, split: int = 0, eof: bool = True) -> list[object]:
    """The events of both paths for `raw` (cut into random pieces when `split` is non-zero), equal."""
    pure, fast = parsers(limits)

    def pieces() -> Iterator[bytes]:
        rng = random.Random(split)
        i = 0
        while i < len(raw):
            step = rng.randint(1, 40) if split else len(raw)
            yield raw[i : i + step]
            i += step

    expected = events(pure, pieces(), eof)
    assert events(fast, pieces(), eof) == expected, raw
    return expected


@needs_speedups
@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corpus_cases(case: Case, mode: str) -> None:
    pure, fast = parsers(case.limits)
    assert events(fast, MODES[mode](case.raw), case.eof) == events(pure, MODES[mode](case.raw), case.eof)


@needs_speedups
@SETTINGS
@given(
    st.lists(st.sampled_from(FRAGMENTS), max_size=30),
    st.integers(min_value=0, max_value=3),
    st.integers(min_value=0, max_value=5),
)
def test_random_http_like_heads(parts: list[bytes], limits: int, split: int) -> None:
    same_events(b"GET / HTTP/1.1\r\n" + b"".join(parts) + b"\r\n\r\n", LIMITS[limits], split)


# The common shape with random contents: names in any case (the framing fields among them), values of
# any bytes (CTLs, OWS, obs-text), so that every check of the scanner meets both of its answers.
NAMES = st.sampled_from(
    [b"Host", b"HOST", b"Content-Length", b"content-length", b"Connection", b"Transfer-Encoding",
     b"Expect", b"X_Under", b"X-A", b"x-a", b"Cookie", b"", b"Bad Name", b"N\xff", b"Accept"]
)  # fmt: skip
VALUES = st.one_of(
    st.sampled_from(
        [b"h", b"[::1]:80", b"h:", b":80", b"[]", b"[::1", b"a b", b"0", b"12", b"0012", b"-1", b"1,1",
         b"9" * 19, b"close", b"Keep-Alive", b"CLOSE", b"upgrade", b"", b" x", b"x ", b"x\t", b"\tx",
         b"caf\xc3\xa9", b"a\x00b", b"a\x7fb", b"a\rb", b"a\nb", b"a\tb"]
    ),
    st.binary(max_size=12),
)  # fmt: skip


@st.composite
def common_heads(draw: st.DrawFn) -> bytes:
    method = draw(st.sampled_from([b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"OPTIONS", b"PATCH",
                                   b"GETX", b"get", b"CONNECT", b"BREW"]))  # fmt: skip
    target = draw(st.sampled_from([b"/", b"/a?b=c", b"/#f", b"*", b"http://h/", b"/a\x7f", b"/\xff", b""]))
    version = draw(st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"http/1.1", b"HTTP/1.1 "]))
    fields = draw(st.lists(st.tuples(NAMES, st.sampled_from([b":", b": ", b":\t ", b" :"]), VALUES)))
    lines = b"".join(name + colon + value + b"\r\n" for name, colon, value in fields)
    return method + b" " + target + b" " + version + b"\r\n" + lines + b"\r\n"


@needs_speedups
@settings(SETTINGS, max_examples=1000)
@given(common_heads(), st.integers(min_value=0, max_value=3), st.integers(min_value=0, max_value=3))
def test_common_shape_heads(raw: bytes, limits: int, split: int) -> None:
    same_events(raw, LIMITS[limits], split)


@needs_speedups
@SETTINGS
@given(requests(), st.integers(min_value=0, max_value=3), st.booleans())
def test_generated_valid_requests(req: tuple[bytes, list[object]], split: int, twice: bool) -> None:
    # twice: a keep-alive connection sending the request again (its Host seen before)
    same_events(req[0] * 2 if twice else req[0], Limits(), split)


@needs_speedups
@pytest.mark.parametrize(
    "raw",
    [
        BROWSER_HEAD,
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n",
        b"GET /x HTTP/1.0\r\n\r\n",
        b"HEAD / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
        b"POST /form HTTP/1.1\r\nHost: h\r\nContent-Length: 0005\r\nContent-Type: text/plain\r\n\r\nhello",
        b"DELETE /a HTTP/1.1\r\nHost: [::1]:80\r\nConnection: close\r\nX-Empty:\r\n\r\n",
        b"OPTIONS /b HTTP/1.1\r\nHost:\r\nX: caf\xc3\xa9\tbar\r\n\r\n",
    ],
)
def test_usual_requests_are_scanned_in_c(raw: bytes) -> None:
    assert _speedups is not None
    scanner = _speedups.HeadScanner(Limits(), Request)
    buf = bytearray(raw)
    scanned = scanner.scan(buf, buf.find(b"\r\n\r\n"))
    assert isinstance(scanned, Request)
    assert same_events(raw, Limits())[0] == scanned


@needs_speedups
def test_scanner_refuses_bad_arguments() -> None:
    assert _speedups is not None
    scanner = _speedups.HeadScanner(Limits(), Request)
    with pytest.raises(ValueError):
        scanner.scan(bytearray(b"GET / HTTP/1.0\r\n\r\n"), 16)  # end + 4 past the buffer
    with pytest.raises(ValueError):
        scanner.scan(bytearray(b"\r\n\r\n"), -1)
    with pytest.raises(TypeError):
        scanner.scan(bytearray(b"\r\n\r\n"))  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        scanner.scan("GET / HTTP/1.0\r\n\r\n", 14)  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        _speedups.HeadScanner(object(), Request)  # type: ignore[arg-type]


@needs_speedups
@settings(max_examples=500, deadline=None)
@given(
    raw=st.binary(max_size=40).map(lambda b: bytes(b"\r\nab"[c % 4] for c in b)), start=st.integers(-45, 45)
)
def test_find_head_end_is_find(raw: bytes, start: int) -> None:
    assert _speedups is not None
    find_head_end = _speedups.find_head_end
    expected = raw.find(b"\r\n\r\n", start)
    assert find_head_end(bytearray(raw), start) == expected
    assert find_head_end(raw, start) == expected  # any buffer, not only the parser's bytearray
    assert find_head_end(memoryview(raw), start) == expected


@needs_speedups
def test_find_head_end_cases_and_bad_arguments() -> None:
    assert _speedups is not None
    find_head_end = _speedups.find_head_end
    head = bytearray(BROWSER_HEAD)
    assert find_head_end(head, 0) == len(head) - 4 == head.find(b"\r\n\r\n")
    assert find_head_end(bytearray(b"\r\r\n\r\r\n\r\n"), 0) == 4  # CRs that start no match
    assert find_head_end(bytearray(b"a\r\n\r"), 0) == -1  # a match cut short by the end
    assert find_head_end(bytearray(b"\r\n\r\n"), 1) == -1
    with pytest.raises(TypeError):
        find_head_end(bytearray(b"\r\n\r\n"))  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        find_head_end("\r\n\r\n", 0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        find_head_end(bytearray(b"\r\n\r\n"), "0")  # type: ignore[arg-type]


def test_environment_forces_the_pure_path() -> None:
    for value in ("1", "yes"):
        scanner, description = _accel.load_scanner({"SOCKWEB_PURE_PYTHON": value})
        assert scanner is None
        assert description == "pure Python (SOCKWEB_PURE_PYTHON is set)"


def test_missing_extension_gives_the_pure_path() -> None:
    def no_extension(name: str) -> ModuleType:
        raise ImportError(name)

    scanner, description = _accel.load_scanner({}, no_extension)
    assert scanner is None
    assert "not built" in description


def test_built_extension_is_used_unless_disabled() -> None:
    fake = ModuleType("sockweb.http._speedups")
    fake.HeadScanner = object  # type: ignore[attr-defined]
    for environ in ({}, {"SOCKWEB_PURE_PYTHON": "0"}, {"SOCKWEB_PURE_PYTHON": ""}):
        scanner, description = _accel.load_scanner(environ, lambda name: fake)
        assert scanner is object
        assert description == "C accelerator (sockweb.http._speedups)"


def test_the_parser_runs_the_path_it_describes() -> None:
    parser = RequestParser()
    assert describe_parser() == _accel.describe_parser()
    if describe_parser().startswith("C accelerator"):
        assert parser._common != parser._common_head
    else:
        assert describe_parser().startswith("pure Python")
        assert parser._common == parser._common_head


def shared_parsers(scanner: object, limits: Limits) -> tuple[RequestParser, RequestParser]:
    pure, fast = RequestParser(limits), RequestParser(limits)
    pure._common = pure._common_head
    fast._common = scanner.scan  # type: ignore[attr-defined]
    return pure, fast


@needs_speedups
@settings(SETTINGS, max_examples=300)
@given(st.lists(common_heads(), min_size=2, max_size=8), st.integers(min_value=0, max_value=3))
def test_one_scanner_serves_many_connections(heads: list[bytes], limits: int) -> None:
    # The scanner's table of names outlives a connection: names met on one are hits on the next, in
    # whatever case and with whatever validity the next one spells them.
    assert _speedups is not None
    scanner = _speedups.HeadScanner(LIMITS[limits], Request)
    for raw in heads:
        pure, fast = shared_parsers(scanner, LIMITS[limits])
        assert events(fast, iter([raw])) == events(pure, iter([raw])), raw


@needs_speedups
def test_name_table_hits_misses_and_collisions() -> None:
    # Far more distinct names than the table has slots (so slots are taken over), each name in two
    # spellings, long names beyond the table's bound, then the first ones again.
    assert _speedups is not None
    scanner = _speedups.HeadScanner(Limits(), Request)
    names = [b"X-Name-%d" % n for n in range(400)] + [b"X-" + b"n" * 60, b"Accept", b"ACCEPT"]
    for name in [*names, *names[:50], *[n.upper() for n in names[:50]]]:
        raw = b"GET / HTTP/1.1\r\nHost: h\r\n" + name + b": v\r\nAccept-Language: x\r\n\r\n"
        pure, fast = shared_parsers(scanner, Limits())
        assert events(fast, iter([raw])) == events(pure, iter([raw]))
        buf = bytearray(raw)
        request = scanner.scan(buf, buf.find(b"\r\n\r\n"))
        assert request is not None
        assert request.headers[1] == (name.lower(), b"v")
    # The same name in two spellings in one head is a repeated name (left to the reference).
    raw = bytearray(b"GET / HTTP/1.1\r\nHost: h\r\nAccept: a\r\nACCEPT: b\r\n\r\n")
    assert scanner.scan(raw, raw.find(b"\r\n\r\n")) is None
    # A name the table holds, as part of a line without a colon: the colon of the next line is found.
    raw = bytearray(b"GET / HTTP/1.1\r\nHost: h\r\nAccept\r\nX: b\r\n\r\n")
    assert scanner.scan(raw, raw.find(b"\r\n\r\n")) is None


@needs_speedups
def test_names_with_underscores_follow_the_scanners_limits() -> None:
    assert _speedups is not None
    raw = bytearray(b"GET / HTTP/1.1\r\nHost: h\r\nX_Under: 1\r\n\r\n")
    strict = _speedups.HeadScanner(Limits(), Request)
    allowing = _speedups.HeadScanner(Limits(allow_underscore_in_names=True), Request)
    for _ in range(2):  # the second time from the tables
        assert strict.scan(raw, raw.find(b"\r\n\r\n")) is None
        scanned = allowing.scan(raw, raw.find(b"\r\n\r\n"))
        assert scanned is not None
        assert scanned.headers == [(b"host", b"h"), (b"x_under", b"1")]


class CalledRequest(Request):
    """A request type whose slots are not its own: the scanner calls it instead of filling them."""

    __slots__ = ("made",)

    def __init__(self, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.made = True


@needs_speedups
@pytest.mark.parametrize("request_type", [Request, CalledRequest])
def test_requests_are_built_as_the_type_builds_them(request_type: type[Request]) -> None:
    assert _speedups is not None
    scanner = _speedups.HeadScanner(Limits(), request_type)
    for raw in (BROWSER_HEAD, b"POST /f HTTP/1.0\r\nContent-Length: 12\r\nConnection: keep-alive\r\n\r\n"):
        buf = bytearray(raw)
        scanned = scanner.scan(buf, buf.find(b"\r\n\r\n"))
        assert type(scanned) is request_type
        expected = same_events(raw, Limits(), eof=False)[0]
        assert getattr(scanned, "made", True)
        for name in REQUEST_FIELDS:
            assert getattr(scanned, name) == getattr(expected, name)


def test_parsers_share_one_scanner_per_limits() -> None:
    shared = _accel.SHARED_SCANNER
    if shared is None:
        assert _accel.SCANNER is None
        return
    assert shared(Limits(), Request) is shared(Limits(), Request)
    assert shared(Limits(), Request) is not shared(TINY, Request)


@needs_speedups
def test_a_browsers_names_all_stay_in_the_table() -> None:
    # The names of one client stay in the scanner's table together: the second request gets the very
    # name objects of the first (with a direct-mapped table, Cookie and Accept-Encoding shared a slot and
    # evicted each other on every request).
    assert _speedups is not None
    scanner = _speedups.HeadScanner(Limits(), Request)
    raw = (
        b"GET / HTTP/1.1\r\nHost: h\r\nUser-Agent: u\r\nAccept: */*\r\nAccept-Language: en\r\n"
        b"Accept-Encoding: gzip, br\r\nReferer: http://h/\r\nConnection: keep-alive\r\nCookie: a=1\r\n"
        b"Sec-Fetch-Dest: empty\r\nSec-Fetch-Mode: cors\r\nSec-Fetch-Site: same-origin\r\n\r\n"
    )
    first, second = (scanner.scan(bytearray(raw), raw.find(b"\r\n\r\n")) for _ in range(2))
    assert first is not None and second is not None
    assert second.headers == first.headers
    assert all(a is b for (a, _), (b, _) in zip(first.headers, second.headers, strict=True))
