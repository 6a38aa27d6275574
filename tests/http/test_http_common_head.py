"""The parser's common-head path must agree with the general one (`parse_head`) on every head it takes.

`RequestParser._common_head` handles the usual requests with fewer steps and returns None for anything
else; whenever it returns a request, `parse_head` must return an equal one for the same bytes (and must
not find an error). Checked on every corpus case, on random HTTP-like heads, and on generated valid
requests; plus checks that the usual requests really take that path.
"""

from __future__ import annotations

import pytest
from http_cases import CASES, Case
from hypothesis import given, settings
from hypothesis import strategies as st
from test_http_properties import FRAGMENTS, SETTINGS, TINY, requests

from sockweb.http import Limits, ProtocolError, Request, RequestParser
from sockweb.http._head import parse_head


def check_head(raw: bytes, limits: Limits) -> Request | None:
    """The common path's verdict on the head at the start of `raw`, checked against `parse_head`."""
    parser = RequestParser(limits)
    buf = bytearray(raw)
    end = buf.find(b"\r\n\r\n")
    if end <= 0 or buf[0] == 13:
        return None
    common = parser._common_head(buf, end)
    # The parser reads a head from its buffer (a bytearray) or from a piece kept as it came (bytes).
    assert RequestParser(limits)._common_head(bytes(raw), end) == common, raw
    if common is None:
        return None
    try:
        general = parse_head(buf, end, limits, parser._field_line)
    except ProtocolError as exc:  # pragma: no cover - only reached when the two paths disagree
        pytest.fail(f"common path accepted what parse_head refuses ({exc!r}): {raw!r}")
    assert common == general, raw
    return common


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corpus_heads_agree(case: Case) -> None:
    check_head(case.raw, case.limits)


@settings(SETTINGS, max_examples=500)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=30), st.booleans())
def test_random_heads_agree(parts: list[bytes], tiny: bool) -> None:
    check_head(b"GET / HTTP/1.1\r\n" + b"".join(parts) + b"\r\n\r\n", TINY if tiny else Limits())


@settings(SETTINGS, max_examples=200)
@given(requests())
def test_generated_requests_agree(req: tuple[bytes, list[object]]) -> None:
    check_head(req[0], Limits())


BROWSER_HEAD = (
    b"GET /articles/2024?page=2 HTTP/1.1\r\nHost: www.example.com\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"
    b"Accept: text/html,*/*;q=0.8\r\nAccept-Language: en-US,en;q=0.5\r\nConnection: keep-alive\r\n"
    b"Cookie: session=8f2b1c9e7a; theme=dark\r\n\r\n"
)


@pytest.mark.parametrize(
    "raw",
    [
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n",
        b"GET /x HTTP/1.0\r\n\r\n",
        b"HEAD / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
        b"POST /form HTTP/1.1\r\nHost: h\r\nContent-Length: 0005\r\nContent-Type: text/plain\r\n\r\n",
        b"DELETE /a HTTP/1.1\r\nHost: [::1]:80\r\nConnection: close\r\nX-Empty:\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h \r\nX:\t a\tb \t\r\nY: \t\r\n\r\n",  # OWS around values, stripped
        b"GET / HTTP/1.1\r\nHost: h\r\nX-Odd!#$%&'*+.^`|~: 1\r\nZ: \x80\xff\r\n\r\n",  # tchars, obs-text
        BROWSER_HEAD,
    ],
)
def test_usual_requests_take_the_common_path(raw: bytes) -> None:
    assert check_head(raw, Limits()) is not None


@pytest.mark.parametrize(
    "raw",
    [
        b"GET / HTTP/1.1\r\nHost: h\r\nHost: h\r\n\r\n",  # repeated field: parse_head says 400
        b"GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close, te\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",  # no Host
        b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",  # invalid Host
        b"GET http://h/ HTTP/1.1\r\nHost: h\r\n\r\n",  # absolute-form
        b"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n",
        b"BREW / HTTP/1.1\r\nHost: h\r\n\r\n",  # an extension method
        b"GET / HTTP/1.1\r\nHost: h\r\nX: a\x01b\r\n\r\n",  # a CTL in a value
        b"GET / HTTP/1.1\r\nHost: h\r\nX: a\x7fb\r\n\r\n",  # DEL in a value
        b"GET / HTTP/1.1\r\nHost: h\r\nX: a\nb\r\n\r\n",  # a bare LF
        b"GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n",  # a bare CR
        b"GET / HTTP/1.1\r\nHost: h\r\nX: a\x00\r\n\r\n",  # NUL
        b"GET / HTTP/1.1\r\nHost: h\r\nno colon\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nNo-Colon\r\n\r\n",  # a token without a colon
        b"GET / HTTP/1.1\r\nHost: h\r\n: no name\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost : h\r\n\r\n",  # whitespace before the colon
        b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n  folded\r\n\r\n",  # obs-fold
        b"GET / HTTP/1.1\r\nHost: h\r\nX(y): 1\r\n\r\n",  # a name that is not a token
        b"GET / HTTP/1.1\r\nHost: h\r\nX\xe9: 1\r\n\r\n",  # obs-text is not a tchar
        b"GET / HTTP/1.1\r\nHost: h\r\nX_Y: 1\r\n\r\n",  # "_" is refused by default (Limits)
    ],
)
def test_other_heads_go_to_parse_head(raw: bytes) -> None:
    assert check_head(raw, Limits()) is None


def test_host_checked_again_when_it_changes() -> None:
    parser = RequestParser()
    parser.feed(b"GET / HTTP/1.1\r\nHost: good\r\n\r\nGET / HTTP/1.1\r\nHost: b@d\r\n\r\n")
    assert isinstance(parser.next_event(), Request)
    parser.next_event()  # EndOfMessage
    with pytest.raises(ProtocolError) as err:
        parser.next_event()
    assert err.value.status == 400


def test_limits_still_apply_on_the_common_path() -> None:
    limits = Limits(max_header_count=2, max_body_size=10)
    assert check_head(b"GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\n\r\n", limits) is not None
    assert check_head(b"GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n", limits) is None
    assert check_head(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n", limits) is None
    underscore = b"GET / HTTP/1.1\r\nHost: h\r\nX_Y: 1\r\n\r\n"
    assert check_head(underscore, Limits(allow_underscore_in_names=True)) is not None
    assert (
        check_head(b"GET /" + b"a" * 100 + b" HTTP/1.1\r\nHost: h\r\n\r\n", Limits(max_request_line=50))
        is None
    )
