"""The sans-io echo protocol and the address grammar, in process (the CLIs are tested over sockets)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sockweb.net.address import Address, AddressError, parse_address
from sockweb.net.echo import EchoSession, LineFramer, reply_for
from sockweb.net.udp import answer_datagram

FIXED = datetime(2026, 11, 21, 20, 38, 2, 123456, tzinfo=timezone(timedelta(hours=1)))


def clock() -> datetime:
    return FIXED


def test_reply_format() -> None:
    assert reply_for(b"hello", clock) == b"[2026-11-21T20:38:02.123+01:00] hello\n"
    assert reply_for(b"caf\xc3\xa9 \xff", clock) == "[2026-11-21T20:38:02.123+01:00] café \ufffd\n".encode()


def feed_in_pieces(stream: bytes, cuts: list[int], max_line: int) -> tuple[list[bytes], bool]:
    framer = LineFramer(max_line)
    lines: list[bytes] = []
    previous = 0
    for cut in [*sorted(cuts), len(stream)]:
        lines += framer.feed(stream[previous:cut])
        previous = cut
    rest = framer.close()
    return lines + ([rest] if rest is not None else []), framer.overflowed


@given(
    st.lists(st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"")), max_size=10),
    st.lists(st.integers(min_value=0, max_value=400), max_size=10),
)
def test_framing_does_not_depend_on_how_the_stream_is_cut(lines: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(line + b"\n" for line in lines)
    got, overflowed = feed_in_pieces(stream, [c for c in cuts if c <= len(stream)], max_line=30)
    assert not overflowed
    assert got == [line.removesuffix(b"\r") for line in lines]


@pytest.mark.parametrize("cut", range(1, 12))
def test_overflow_is_seen_at_any_split_and_keeps_earlier_lines(cut: int) -> None:
    stream = b"ok\nabcdefgh\n"  # limit 5: "abcdefgh" is over
    got, overflowed = feed_in_pieces(stream, [cut], max_line=5)
    assert overflowed
    assert got == [b"ok"]


def test_an_endless_line_overflows_without_its_terminator() -> None:
    framer = LineFramer(10)
    assert framer.feed(b"x" * 10) == []
    assert not framer.overflowed
    assert framer.feed(b"x") == []
    assert framer.overflowed
    assert framer.feed(b"\nmore\n") == []  # nothing after the overflow


def test_session_replies_then_closes() -> None:
    session = EchoSession(max_line=8, clock=clock)
    assert session.receive(b"a\r\nb") == (b"[2026-11-21T20:38:02.123+01:00] a\n", False)
    assert session.receive(b"") == (b"[2026-11-21T20:38:02.123+01:00] b\n", True)
    assert session.receive(b"late\n") == (b"", True)

    session = EchoSession(max_line=3, clock=clock)
    out, close = session.receive(b"abc\nabcd\n")
    assert close and session.overflowed
    assert (
        out == b"[2026-11-21T20:38:02.123+01:00] abc\nerror: line longer than 3 bytes; closing connection\n"
    )


def test_datagram_answers() -> None:
    assert answer_datagram(b"hi\r\n", 10, clock) == b"[2026-11-21T20:38:02.123+01:00] hi\n"
    assert answer_datagram(b"x" * 11, 10, clock) == b"error: datagram larger than 10 bytes; dropped\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:9000", Address("127.0.0.1", 9000)),
        ("localhost:1", Address("localhost", 1)),
        ("9000", Address("127.0.0.1", 9000)),
        ("[::1]:9000", Address("::1", 9000)),
        ("[fe80::1]:80", Address("fe80::1", 80)),
        ("unix:/run/echo.sock", Address(path="/run/echo.sock")),
        ("unix:relative.sock", Address(path="relative.sock")),
    ],
)
def test_parse_good_addresses(text: str, expected: Address) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        ":80",
        "host",
        "host:",
        "host:port",
        "1.2.3.4:65536",
        "1.2.3.4:-1",
        "::1:80",
        "[::1]80",
        "[::1]",
        "[example.com]:80",
        "a b:80",
        "unix:",
        "999999",
        "1.2.3.4:0",
    ],
)
def test_parse_bad_addresses(text: str) -> None:
    with pytest.raises(AddressError, match="bad address"):
        parse_address(text)


def test_port_zero_only_where_allowed() -> None:
    assert parse_address("127.0.0.1:0", allow_port_zero=True).port == 0
    assert parse_address("0", allow_port_zero=True) == Address("127.0.0.1", 0)


def test_display() -> None:
    assert Address("127.0.0.1", 80).display("tcp") == "tcp://127.0.0.1:80"
    assert Address("::1", 80).display("udp") == "udp://[::1]:80"
    assert Address(path="/tmp/s").display("tcp") == "unix:/tmp/s"
