"""HeadMemo: a head found in the memo gives what parsing it gives, and the memo stays small and bounded.

The memo keeps a head once a connection has sent it twice in a row; from then on every parser sharing the
memo takes that head's Request from it (a parser whose last heads all missed stops looking up until its
heads repeat). The property tests run the same streams with and without a memo
(heads repeated, so the memo is used) and require the same events; the unit tests pin down when a head is
kept, when it is looked up, and that a head is matched by all of its bytes, not by its checksum.
"""

from __future__ import annotations

from binascii import crc32

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_http_properties import FRAGMENTS, SETTINGS, TINY, merge, requests, run

from sockweb.http import NEED_DATA, BadRequest, Data, EndOfMessage, HeadMemo, Limits, Request, RequestParser
from sockweb.http import parser as parser_module

GET = b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n"


def head_of(parser: RequestParser, raw: bytes) -> Request:
    """Feed one body-less request; return its Request after reading its EndOfMessage."""
    parser.feed(raw)
    request = parser.next_event()
    assert isinstance(request, Request)
    assert isinstance(parser.next_event(), EndOfMessage)
    return request


def test_a_head_sent_twice_in_a_row_is_kept_and_then_shared() -> None:
    memo = HeadMemo()
    first = RequestParser(memo=memo)
    one, two = head_of(first, GET), head_of(first, GET)
    assert not first.repeated and two == one and two is not one  # both parsed; the second is kept
    assert len(memo.requests) == 1
    three = head_of(first, GET)
    assert first.repeated and three is two
    other = RequestParser(memo=memo)  # another connection of the same server
    assert head_of(other, GET) is two and other.repeated
    assert head_of(other, b"GET /b HTTP/1.1\r\nHost: h\r\n\r\n").target == b"/b"
    assert not other.repeated
    plain = RequestParser()
    for _ in range(3):
        assert head_of(plain, GET) == two and not plain.repeated
    assert parser_module._NO_MEMO == {}  # what parsers without a memo share is never written


def test_heads_that_never_repeat_take_no_entries() -> None:
    memo = HeadMemo()
    parser = RequestParser(memo=memo)
    for i in range(300):
        assert head_of(parser, b"GET /%d HTTP/1.1\r\nHost: h\r\n\r\n" % i).target == b"/%d" % i
    # Alternating heads repeat, but never twice in a row on one connection.
    for _ in range(3):
        head_of(parser, GET)
        head_of(parser, b"GET /b HTTP/1.1\r\nHost: h\r\n\r\n")
    assert memo.requests == {}


def test_a_connection_whose_heads_keep_missing_stops_looking_them_up() -> None:
    memo = HeadMemo()
    keeper = RequestParser(memo=memo)
    head_of(keeper, GET)
    kept = head_of(keeper, GET)
    parser = RequestParser(memo=memo)
    for i in range(parser_module.MEMO_PATIENCE):
        head_of(parser, b"GET /%d HTTP/1.1\r\nHost: h\r\n\r\n" % i)
        assert not parser.repeated
    got = head_of(parser, GET)  # held by the memo, but no longer looked up: parsed
    assert got == kept and got is not kept and not parser.repeated
    # The same head twice in a row is looked up again; a hit starts the lookups again.
    assert head_of(parser, GET) is kept and parser.repeated
    head_of(parser, b"GET /other HTTP/1.1\r\nHost: h\r\n\r\n")
    assert head_of(parser, GET) is kept and parser.repeated
    assert len(memo.requests) == 1


def test_the_memo_empties_itself_when_full() -> None:
    memo = HeadMemo(max_entries=4)
    parser = RequestParser(memo=memo)
    for i in range(10):
        raw = b"GET /%d HTTP/1.1\r\nHost: h\r\n\r\n" % i
        head_of(parser, raw)
        head_of(parser, raw)
        assert 1 <= len(memo.requests) <= 4
        assert head_of(parser, raw).target == b"/%d" % i and parser.repeated
    assert len(memo.requests) == 2  # emptied at the fifth and the ninth head


def test_heads_longer_than_the_memo_takes_are_parsed_every_time() -> None:
    memo = HeadMemo(max_head_size=64)
    parser = RequestParser(memo=memo)
    fits = b"GET / HTTP/1.1\r\nHost: h\r\nX: " + b"a" * (64 - 32) + b"\r\n\r\n"
    assert len(fits) == 64
    longer = fits.replace(b"X: ", b"X: a")
    for _ in range(3):
        head_of(parser, longer)
    assert memo.requests == {} and not parser.repeated
    for _ in range(3):
        head_of(parser, fits)
    assert len(memo.requests) == 1 and parser.repeated
    head_of(parser, longer)
    assert not parser.repeated  # not looked up, so not from the memo


def test_a_head_is_matched_by_its_bytes_not_its_checksum() -> None:
    a = b"GET /8755d764 HTTP/1.1\r\nHost: h\r\n\r\n"
    b = b"GET /4170cb18 HTTP/1.1\r\nHost: h\r\n\r\n"
    assert crc32(a) == crc32(b) and a != b
    memo = HeadMemo()
    parser = RequestParser(memo=memo)
    head_of(parser, a)
    kept = head_of(parser, a)
    other = RequestParser(memo=memo)
    got = head_of(other, b)
    assert got.target == b"/4170cb18" and not other.repeated
    assert head_of(other, a) is kept  # b was seen once, so a is still the one kept


def test_pipelined_heads_and_bodies_after_a_hit() -> None:
    post = b"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n"
    memo = HeadMemo()
    parser = RequestParser(memo=memo)
    # Three requests in one piece, then half a fourth: each head is cut from a buffer holding more.
    parser.feed(post + b"hello" + post + b"world" + post + b"again" + post[:10])
    events = []
    while (event := parser.next_event()) is not NEED_DATA:
        events.append(event)
    assert [type(e) for e in events] == [Request, Data, EndOfMessage] * 3
    assert [e.data for e in events if isinstance(e, Data)] == [b"hello", b"world", b"again"]
    assert events[6] is events[3] and parser.repeated  # the third head came from the memo
    assert parser.partial_head
    parser.feed(post[10:] + b"fifth")
    request = parser.next_event()
    assert request is events[3]
    assert parser.next_event() == Data(b"fifth") and isinstance(parser.next_event(), EndOfMessage)


def test_errors_are_found_anew_and_never_kept() -> None:
    memo = HeadMemo()
    bad = b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1, 2\r\n\r\n"
    for _ in range(3):
        parser = RequestParser(memo=memo)
        parser.feed(bad)
        with pytest.raises(BadRequest):
            parser.next_event()
    assert memo.requests == {}


def test_a_memo_serves_only_parsers_with_its_limits() -> None:
    memo = HeadMemo(Limits(max_header_count=5))
    RequestParser(Limits(max_header_count=5), memo)  # equal limits are its limits
    with pytest.raises(ValueError, match="its limits"):
        RequestParser(Limits(), memo)
    for sizes in ((0, 10), (10, 0)):
        with pytest.raises(ValueError, match="positive"):
            HeadMemo(max_entries=sizes[0], max_head_size=sizes[1])


@settings(SETTINGS, max_examples=150)
@given(
    st.lists(requests(), min_size=1, max_size=3),
    st.lists(st.integers(min_value=0), max_size=8),
    st.integers(min_value=2, max_value=3),
)
def test_generated_requests_with_a_memo(
    reqs: list[tuple[bytes, list[object]]], cuts: list[int], times: int
) -> None:
    # Each request `times` times in a row, on three connections sharing one memo, as without a memo.
    stream = b"".join(raw * times for raw, _ in reqs)
    expected = merge(run(stream, cuts, Limits(), eof=False))
    memo = HeadMemo()
    for _ in range(3):
        assert merge(run(stream, cuts, Limits(), eof=False, memo=memo)) == expected


@settings(SETTINGS, max_examples=300)
@given(
    st.lists(st.sampled_from(FRAGMENTS), max_size=40),
    st.lists(st.integers(min_value=0), max_size=6),
    st.booleans(),
)
def test_http_like_streams_with_a_memo(fragments: list[bytes], cuts: list[int], tiny: bool) -> None:
    stream = b"".join(fragments) * 2
    limits = TINY if tiny else Limits()
    expected = run(stream, cuts, limits)
    memo = HeadMemo(limits)
    for _ in range(3):
        assert run(stream, cuts, limits, memo=memo) == expected
