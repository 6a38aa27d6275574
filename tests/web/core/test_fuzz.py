"""Property tests: parsers of client input never fail with anything but their own error, and the
encoders round-trip through the decoders."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sockweb.web import httputil
from sockweb.web.datastructures import Headers, MultiDict
from sockweb.web.httputil import MIMEAccept
from sockweb.web.multipart import MultipartError

from .test_multipart import decode

FUZZ = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

header_text = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x2FF), max_size=200)

PARSERS: dict[str, Any] = {
    "options": httputil.parse_options_header,
    "cookie": httputil.parse_cookie,
    "accept": lambda v: httputil.parse_accept_header(v, MIMEAccept).best_match(["text/html", "a/b"]),
    "etags": httputil.parse_etags,
    "range": lambda v: (r := httputil.parse_range_header(v)) and r.resolve(1000),
    "content-range": httputil.parse_content_range,
    "cache-control": httputil.parse_cache_control,
    "date": httputil.parse_date,
    "authorization": httputil.parse_authorization_header,
    "list": httputil.parse_list_header,
    "dict": httputil.parse_dict_header,
}


@pytest.mark.parametrize("name", sorted(PARSERS))
@FUZZ
@given(value=header_text)
def test_header_parsers_never_raise(name: str, value: str) -> None:
    PARSERS[name](value)


@FUZZ
@given(value=st.text(max_size=100))
def test_cookie_roundtrip(value: str) -> None:
    header = httputil.dump_cookie("k", value, path=None)
    assert not any(ch in header for ch in "\r\n\x00")
    assert httputil.parse_cookie(header.encode("utf-8").decode("latin-1"))["k"] == value


@FUZZ
@given(
    value=st.text(
        alphabet=st.characters(blacklist_characters="\r\n\x00", blacklist_categories=("Cs",)), max_size=100
    )
)
def test_quote_roundtrip(value: str) -> None:
    assert httputil.unquote_header_value(httputil.quote_header_value(value, allow_token=False)) == value
    main, params = httputil.parse_options_header(httputil.dump_options_header("x", {"p": value}))
    assert main == "x" and params["p"] == value


@FUZZ
@given(value=st.text(max_size=50))
def test_headers_never_store_line_breaks(value: str) -> None:
    headers = Headers()
    try:
        headers.add("X-Test", value)
    except ValueError:
        assert any(ch in value for ch in "\r\n\x00")
    else:
        assert headers["X-Test"] == value


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    # An empty chunk means end of body to the decoder, so only non-empty pieces are fed.
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True) if b > a]


@FUZZ
@given(
    body=st.binary(max_size=300).map(lambda b: b.replace(b"X", b"\r\n--bnd")),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=8),
)
def test_decoder_only_raises_its_own_error(body: bytes, cuts: list[int]) -> None:
    try:
        decode(split(body, cuts), b"bnd")
    except MultipartError:
        pass


@FUZZ
@given(
    parts=st.lists(
        st.tuples(st.from_regex(r"[a-z]{1,8}", fullmatch=True), st.binary(max_size=200)), max_size=5
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=10),
)
def test_decoder_roundtrip(parts: list[tuple[str, bytes]], cuts: list[int]) -> None:
    # Contents must not contain the delimiter; replace any occurrence so the body stays well-formed.
    cleaned = [(name, content.replace(b"\r\n--bnd", b"\r\n--BND")) for name, content in parts]
    body = b"".join(
        b"--bnd\r\nX-Name: " + name.encode() + b"\r\n\r\n" + content + b"\r\n" for name, content in cleaned
    )
    body += b"--bnd--\r\n"
    if cleaned and cleaned[-1][1].endswith(b"\r\n--bn"):
        return  # a content ending in a delimiter prefix is ambiguous by construction; skip it
    decoded = decode(split(body, cuts), b"bnd")
    assert decoded == [([("x-name", name)], content) for name, content in cleaned]


# Fast paths held equal to their references: the Cookie header without quotes or non-ASCII, and query
# strings with nothing to decode (the reference is urllib's parse_qsl, as parse_qs_multi calls it).
cookie_like = st.text(alphabet=st.sampled_from(list('ab=; \t"é\\,x1')), max_size=40)
query_like = st.text(alphabet=st.sampled_from(list("ab=&;+%2é x")), max_size=40)


@FUZZ
@given(header=cookie_like)
def test_cookie_fast_path_gives_the_reference_pairs(header: str) -> None:
    from sockweb.web.httputil.cookies import _cookie_pairs

    assert list(httputil.parse_cookie(header).lists()) == list(MultiDict(_cookie_pairs(header)).lists())


@FUZZ
@given(query=query_like, max_fields=st.one_of(st.none(), st.integers(min_value=0, max_value=5)))
def test_query_fast_path_gives_parse_qsl_pairs(query: str, max_fields: int | None) -> None:
    from urllib.parse import parse_qsl

    from sockweb.web.exceptions import RequestEntityTooLarge
    from sockweb.web.formparser import parse_qs_multi

    try:
        pairs = parse_qsl(
            query, keep_blank_values=True, encoding="utf-8", errors="replace", max_num_fields=max_fields
        )
        expected: list[tuple[str, list[str]]] | str = list(MultiDict(pairs).lists())
    except ValueError:
        expected = "413"
    try:
        got: list[tuple[str, list[str]]] | str = list(parse_qs_multi(query, max_fields).lists())
    except RequestEntityTooLarge:
        got = "413"
    assert got == expected
