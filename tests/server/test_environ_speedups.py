"""The environ's C header loop (sockweb.server._environ) against its pure-Python reference.

Both loops get copies of the same environ template and the same key cache, and the same header list; the
environs, the caches and the "forwarding header seen" answers must be equal. Headers are drawn from a
realistic name set, random tokens, repeated names (Cookie among them), forwarding names, names with
latin-1 letters whose upper case leaves latin-1, and values with any byte.
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sockweb.http import Limits, Request, RequestParser
from sockweb.server import wsgi

_environ: ModuleType | None
try:
    from sockweb.server import _environ
except ImportError:  # pragma: no cover - depends on the install; CI builds the extension
    _environ = None

needs_speedups = pytest.mark.skipif(
    _environ is None and not os.environ.get("CI"),
    reason="the C accelerator is not built (CI builds it, and fails here when it is missing)",
)

NAMES = [
    b"host",
    b"user-agent",
    b"accept",
    b"accept-language",
    b"accept-encoding",
    b"connection",
    b"cookie",
    b"referer",
    b"content-type",
    b"content-length",
    b"upgrade-insecure-requests",
    b"sec-fetch-dest",
    b"x_under",
    b"forwarded",
    b"x-forwarded-for",
    b"x-forwarded-host",
    b"x-forwarded-port",
    b"x-forwarded-prefix",
    b"x-forwarded-proto",
    b"\xdf-x",  # "ß": upper() gives "SS"
    b"\xff",  # "ÿ": upper() leaves latin-1
    b"\xb5x",  # micro sign: upper() gives Greek capital Mu
]
TOKEN = st.binary(min_size=1, max_size=12).map(lambda b: bytes(c % 128 for c in b).lower() or b"x")
NAME = st.one_of(st.sampled_from(NAMES), TOKEN)
VALUE = st.binary(max_size=20)
HEADERS = st.lists(st.tuples(NAME, VALUE), max_size=40)
# A cache as a running server has it: the default entries, maybe some learnt ones.
KEYS = st.lists(st.sampled_from(NAMES[:12]), max_size=6)


ERRORS = object()


def template() -> dict[str, Any]:
    return wsgi.environ_template("127.0.0.1", "8000", "http", True, errors=ERRORS)


def start_keys(learnt: list[bytes]) -> dict[bytes, str]:
    keys = wsgi.new_header_keys()
    for name in learnt:
        keys[name] = "HTTP_" + name.decode("latin-1").upper().replace("-", "_")
    return keys


def both(headers: list[tuple[bytes, bytes]], learnt: list[bytes], max_cached: int) -> tuple[Any, Any]:
    assert _environ is not None
    results = []
    for fill in (wsgi._fill_headers_py, _environ.fill_header_environ):
        env, keys = template(), start_keys(learnt)
        if fill is wsgi._fill_headers_py:
            wsgi._MAX_CACHED_KEYS, saved = max_cached, wsgi._MAX_CACHED_KEYS
            try:
                seen = fill(env, keys, list(headers))
            finally:
                wsgi._MAX_CACHED_KEYS = saved
        else:
            seen = fill(env, keys, list(headers), wsgi.FORWARDING_KEYS, max_cached)
        results.append((env, keys, list(keys), seen))
    return results[0], results[1]


@needs_speedups
@settings(max_examples=400, deadline=None)
@given(headers=HEADERS, learnt=KEYS, max_cached=st.sampled_from([0, 2, 3, 8, 512]))
def test_c_loop_equals_reference(
    headers: list[tuple[bytes, bytes]], learnt: list[bytes], max_cached: int
) -> None:
    pure, fast = both(headers, learnt, max_cached)
    assert pure == fast


@needs_speedups
def test_cases_worth_naming() -> None:
    headers = [
        (b"cookie", b"a=1"),
        (b"accept", b"x"),
        (b"cookie", b"b=\xe9"),
        (b"accept", b"y"),
        (b"x-forwarded-for", b"10.0.0.1"),
        (b"x-forwarded-for", b"10.0.0.2"),
        (b"\xff", b"v"),
        # repeats whose values are the very same object (one-character and empty strings are shared):
        # still joined, though setdefault hands back the object it was given
        (b"x-one", b"1"),
        (b"x-one", b"1"),
        (b"x-empty", b""),
        (b"x-empty", b""),
    ]
    pure, fast = both(headers, [], 512)
    assert pure == fast
    env, keys, _, seen = fast
    assert env["HTTP_COOKIE"] == "a=1; b=\xe9"
    assert env["HTTP_ACCEPT"] == "x, y"
    assert env["HTTP_X_FORWARDED_FOR"] == "10.0.0.1, 10.0.0.2"
    assert env["HTTP_\u0178"] == "v"
    assert env["HTTP_X_ONE"] == "1, 1"
    assert env["HTTP_X_EMPTY"] == ", "
    assert seen is True
    assert b"x-forwarded-for" not in keys  # never cached: the next request must see it arrive again


@needs_speedups
def test_head_environ_same_on_both_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _environ is not None
    req = Request(
        "GET",
        b"/a%20b?q=1",
        "1.1",
        [(b"host", b"h"), (b"cookie", b"a"), (b"cookie", b"b"), (b"forwarded", b"x")],
    )
    results = []
    for fill in (None, _environ.fill_header_environ):
        monkeypatch.setattr(wsgi, "_FILL_HEADERS", fill)
        keys = wsgi.new_header_keys()
        results.append((wsgi.load_head_environ(fill)(template(), keys, req), keys))
    assert results[0] == results[1]
    assert results[1][0][1] is True


def test_head_environ_is_the_builder_or_the_reference() -> None:
    assert wsgi.load_head_environ(None) is wsgi._head_environ_py
    if _environ is not None:
        assert type(wsgi.load_head_environ(_environ.fill_header_environ)) is _environ.EnvironBuilder


@needs_speedups
def test_environ_builder_binds_its_arguments_and_falls_back_for_the_absolute_form() -> None:
    assert _environ is not None
    seen = []

    def fallback(*args: Any) -> Any:
        seen.append(args)
        return "fallback"

    builder = _environ.EnvironBuilder(wsgi.FORWARDING_KEYS, 1, fallback)
    keys = wsgi.new_header_keys()
    req = Request(
        "GET", b"/a?b", "1.1", [(b"host", b"h"), (b"x-forwarded-for", b"1"), (b"a", b"1"), (b"b", b"2")]
    )
    env, forwarded = builder(template(), keys, req)
    assert (env, forwarded) == wsgi._head_environ_py(template(), wsgi.new_header_keys(), req)
    assert forwarded is True
    assert b"a" not in keys  # max_cached 1 is bound: the cache (2 entries) takes no more
    absolute = Request("GET", b"http://example.com/x", "1.1", [(b"host", b"h")])
    t = template()
    assert builder(t, keys, absolute) == "fallback"
    assert seen == [(t, keys, absolute)]
    with pytest.raises(TypeError):
        builder(t, keys)
    with pytest.raises(TypeError):
        builder(t, keys, req=req)
    with pytest.raises(TypeError):
        builder([], keys, req)
    with pytest.raises(TypeError):
        _environ.EnvironBuilder([], 1, fallback)
    with pytest.raises(TypeError):
        _environ.EnvironBuilder(wsgi.FORWARDING_KEYS, 1, None)


@needs_speedups
@pytest.mark.parametrize(
    "args",
    [
        ({}, {}, [(b"a",)], frozenset(), 1),
        ({}, {}, [(b"a", "str")], frozenset(), 1),
        ({}, {}, [("a", b"v")], frozenset(), 1),
        ({}, {}, ((b"a", b"v"),), frozenset(), 1),
        ({}, {}, [], [], 1),
        ([], {}, [], frozenset(), 1),
        ({}, {}, [], frozenset(), "1"),
    ],
)
def test_bad_arguments_raise_type_error(args: tuple[Any, ...]) -> None:
    assert _environ is not None
    with pytest.raises(TypeError):
        _environ.fill_header_environ(*args)


def test_choice_of_path() -> None:
    def missing(name: str) -> ModuleType:
        raise ImportError(name)

    for value in ("1", "yes"):
        filler, description = wsgi.load_header_filler({"SOCKWEB_PURE_PYTHON": value})
        assert filler is None
        assert description == "pure Python (SOCKWEB_PURE_PYTHON is set)"
    filler, description = wsgi.load_header_filler({}, missing)
    assert filler is None
    assert "not built" in description
    fake = ModuleType("fake")
    fake.fill_header_environ = len  # type: ignore[attr-defined]
    for environ in ({}, {"SOCKWEB_PURE_PYTHON": "0"}, {"SOCKWEB_PURE_PYTHON": ""}):
        filler, description = wsgi.load_header_filler(environ, lambda name: fake)
        assert filler is len
        assert description == "C accelerator (sockweb.server._environ)"


# Whole requests, as the parser gives them, for the C head_environ against `_head_environ_py`.
TARGETS = st.one_of(
    st.sampled_from(
        [b"/", b"/a?b=c", b"/%41%2f%2F?x=%41", b"/%", b"/%4", b"/%%41", b"/%zz%4g", b"/a%e9?", b"/?",
         b"/p?q?r", b"*", b"http://h:8/x?y", b"https://u@h/", b"/a://b", b"x://", b"/\xe9?\xff"]
    ),
    st.binary(min_size=1, max_size=16).map(lambda b: b"/" + b.replace(b"%", b"%2").replace(b"#", b"")),
)  # fmt: skip


@st.composite
def parsed_requests(draw: st.DrawFn) -> Request:
    method = draw(st.sampled_from(["GET", "POST", "HEAD", "OPTIONS"]))
    chunked = draw(st.booleans())
    length = None if chunked else draw(st.sampled_from([None, 0, 12]))
    headers = draw(HEADERS)
    if length is not None:
        headers.append((b"content-length", b"%d" % length))
    version = draw(st.sampled_from(["1.1", "1.0"]))
    return Request(method, draw(TARGETS), version, headers, True, False, length, chunked)


def both_environs(req: Request, learnt: list[bytes], max_cached: int) -> tuple[Any, Any]:
    assert _environ is not None
    pure_keys, fast_keys = start_keys(learnt), start_keys(learnt)
    wsgi._MAX_CACHED_KEYS, saved = max_cached, wsgi._MAX_CACHED_KEYS
    try:
        pure = wsgi._head_environ_py(template(), pure_keys, req)
    finally:
        wsgi._MAX_CACHED_KEYS = saved
    fast = _environ.head_environ(template(), fast_keys, req, wsgi.FORWARDING_KEYS, max_cached)
    if fast is None:  # absolute form: the reference's case
        assert req.target[:1] != b"/"
        assert "://" in req.target.decode("latin-1")
        fast, fast_keys = pure, pure_keys
    return (pure, pure_keys, list(pure_keys)), (fast, fast_keys, list(fast_keys))


@needs_speedups
@settings(max_examples=400, deadline=None)
@given(req=parsed_requests(), learnt=KEYS, max_cached=st.sampled_from([0, 3, 512]))
def test_c_head_environ_equals_reference(req: Request, learnt: list[bytes], max_cached: int) -> None:
    pure, fast = both_environs(req, learnt, max_cached)
    assert pure == fast


@needs_speedups
@pytest.mark.parametrize(
    ("target", "path", "query"),
    [
        (b"/a%20b/%E9?x=%20", "/a b/\xe9", "x=%20"),
        (b"/%%41%4", "/%A%4", ""),
        (b"/p?q?r", "/p", "q?r"),
        (b"/?", "/", ""),
        (b"/a://b", "/a://b", ""),
    ],
)
def test_c_head_environ_paths(target: bytes, path: str, query: str) -> None:
    assert _environ is not None
    req = Request("GET", target, "1.0", [(b"host", b"h")])
    built = _environ.head_environ(template(), wsgi.new_header_keys(), req, wsgi.FORWARDING_KEYS, 512)
    assert built is not None
    env, forwarded = built
    assert (env["PATH_INFO"], env["QUERY_STRING"], env["RAW_URI"]) == (path, query, target.decode("latin-1"))
    assert env["SERVER_PROTOCOL"] == "HTTP/1.0"
    assert forwarded is False
    assert (env, forwarded) == wsgi._head_environ_py(template(), wsgi.new_header_keys(), req)


@needs_speedups
def test_c_head_environ_leaves_absolute_form_and_refuses_bad_arguments() -> None:
    assert _environ is not None
    keys = wsgi.new_header_keys()
    req = Request("GET", b"http://example.com/x", "1.1", [(b"host", b"h")])
    assert _environ.head_environ(template(), keys, req, wsgi.FORWARDING_KEYS, 512) is None
    env, _ = wsgi.head_environ(template(), keys, req)
    assert env["HTTP_HOST"] == "example.com"
    with pytest.raises(TypeError):
        _environ.head_environ(template(), keys, req)
    with pytest.raises(TypeError):
        _environ.head_environ(template(), keys, Request("GET", b"", "1.1", []), wsgi.FORWARDING_KEYS, 1)
    with pytest.raises(TypeError):
        _environ.head_environ([], keys, req, wsgi.FORWARDING_KEYS, 1)
    with pytest.raises(TypeError):
        _environ.head_environ(template(), keys, req, [], 1)
    bad = Request("GET", b"/", "1.1", ())  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        _environ.head_environ(template(), keys, bad, wsgi.FORWARDING_KEYS, 1)
    with pytest.raises(AttributeError):
        _environ.head_environ(template(), keys, object(), wsgi.FORWARDING_KEYS, 1)


# Requests from the C head scanner hold their field lines packed (sockweb.http.events.Request): the C
# head_environ reads that form directly, and must give what the reference gives from the header list.
PACKED_NAMES = st.sampled_from([n for n in NAMES if n.isascii() and n != b"host"] + [b"X-Mixed-Case", b"a"])
PACKED_VALUE = st.binary(max_size=30).map(lambda b: bytes(c for c in b if c >= 0x20 and c != 0x7F).strip())


@needs_speedups
@settings(max_examples=300, deadline=None)
@given(
    fields=st.lists(st.tuples(PACKED_NAMES, PACKED_VALUE), max_size=20, unique_by=lambda f: f[0].lower()),
    target=st.sampled_from([b"/", b"/a?b=c", b"/%41?x", b"/p/q?r?s"]),
    version=st.sampled_from([b"1.1", b"1.0"]),
    learnt=KEYS,
)
def test_c_head_environ_reads_packed_fields_as_the_reference_reads_the_list(
    fields: list[tuple[bytes, bytes]], target: bytes, version: bytes, learnt: list[bytes]
) -> None:
    from sockweb.http._speedups import HeadScanner

    limits = Limits(allow_underscore_in_names=True)
    parser = RequestParser(limits)
    parser._common = HeadScanner(limits, Request).scan
    lines = b"".join(b"%s: %s\r\n" % field for field in fields if field[0] != b"content-length")
    parser.feed(b"GET " + target + b" HTTP/" + version + b"\r\nHost: h\r\n" + lines + b"\r\n")
    req = parser.next_event()
    assert isinstance(req, Request)
    if req._headers is not None:  # a head the scanner leaves to the reference (a forbidden name)
        return
    fast_keys, pure_keys = start_keys(learnt), start_keys(learnt)
    fast = wsgi.load_head_environ(wsgi._FILL_HEADERS or _environ.fill_header_environ)(
        template(), fast_keys, req
    )
    assert req._headers is None  # read packed, never unpacked
    pure = wsgi._head_environ_py(template(), pure_keys, req)
    assert (fast, fast_keys, list(fast_keys)) == (pure, pure_keys, list(pure_keys))


@needs_speedups
@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ("not a tuple", TypeError),
        ((b"a",), TypeError),
        (("a", b"", b"n"), TypeError),
        ((b"a", b"\0" * 7, b"n"), TypeError),
        ((b"ab", bytes([0, 0, 0, 0, 3, 0, 0, 0]), b"n"), ValueError),
        ((b"ab", bytes([2, 0, 0, 0, 1, 0, 0, 0]), b"n"), ValueError),
    ],
)
def test_c_head_environ_refuses_malformed_packed_fields(fields: Any, error: type[Exception]) -> None:
    assert _environ is not None
    req = Request("GET", b"/", "1.1", [])
    req._headers = None
    req._fields = fields
    with pytest.raises(error):
        _environ.head_environ(template(), wsgi.new_header_keys(), req, wsgi.FORWARDING_KEYS, 512)


@needs_speedups
def test_environ_builder_reads_slots_only_of_types_that_keep_them() -> None:
    # The builder reads the attributes of sockweb.http.Request from their slots (a cache keyed by the
    # type and its version tag); any other type, or a type changed since, is read with getattr.
    assert _environ is not None
    builder = wsgi.load_head_environ(_environ.fill_header_environ)

    class Other(Request):
        __slots__ = ()

    req = Request("GET", b"/a", "1.1", [(b"host", b"h")])
    assert builder(template(), wsgi.new_header_keys(), req)[0]["PATH_INFO"] == "/a"
    other = Other("GET", b"/b", "1.1", [(b"host", b"h")])
    assert builder(template(), wsgi.new_header_keys(), other)[0]["PATH_INFO"] == "/b"
    Other.target = property(lambda self: b"/changed")  # type: ignore[assignment,method-assign]
    assert builder(template(), wsgi.new_header_keys(), other)[0]["PATH_INFO"] == "/changed"
    assert builder(template(), wsgi.new_header_keys(), req)[0]["PATH_INFO"] == "/a"
    unset = Request("GET", b"/", "1.1", [])
    unset._headers = None  # no _fields: getattr's AttributeError, not a crash
    with pytest.raises(AttributeError):
        builder(template(), wsgi.new_header_keys(), unset)
