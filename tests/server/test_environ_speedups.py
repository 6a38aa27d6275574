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

from sockweb.http import Request
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
    ]
    pure, fast = both(headers, [], 512)
    assert pure == fast
    env, keys, _, seen = fast
    assert env["HTTP_COOKIE"] == "a=1; b=\xe9"
    assert env["HTTP_ACCEPT"] == "x, y"
    assert env["HTTP_X_FORWARDED_FOR"] == "10.0.0.1, 10.0.0.2"
    assert env["HTTP_\u0178"] == "v"
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
        results.append((wsgi.head_environ(template(), keys, req), keys))
    assert results[0] == results[1]
    assert results[1][0][1] is True


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
