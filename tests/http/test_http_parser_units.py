"""Parser behaviour that the corpus format does not express: API details, limits objects, work bounds."""

from __future__ import annotations

import time
from array import array

import pytest

from sockweb.http import (
    NEED_DATA,
    PAUSED,
    BadRequest,
    Data,
    EndOfMessage,
    Limits,
    ProtocolError,
    Request,
    RequestParser,
    URITooLong,
)
from sockweb.http.events import unpack_fields


def test_feed_after_eof_is_a_usage_error() -> None:
    parser = RequestParser()
    parser.feed(b"")
    with pytest.raises(RuntimeError):
        parser.feed(b"GET / HTTP/1.1\r\n")


def test_trailing_data_after_close_is_left_unparsed() -> None:
    parser = RequestParser()
    parser.feed(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\nGET /next HTTP/1.1\r\n")
    request = parser.next_event()
    assert isinstance(request, Request) and not request.keep_alive
    assert parser.request is request
    assert isinstance(parser.next_event(), EndOfMessage)
    assert parser.next_event() is PAUSED
    assert parser.trailing_data == b"GET /next HTTP/1.1\r\n"
    assert parser.buffered_size == 20


def test_next_event_may_be_bound_once_and_reader_follows_the_state() -> None:
    raw = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nokGET / HTTP/1.1\r\nHost: h\r\n\r\n"
    expected = [Request, Data, EndOfMessage, Request, EndOfMessage]
    parser = RequestParser()
    parser.feed(raw)
    next_event = parser.next_event  # bound once, called across every state
    assert [type(next_event()) for _ in expected] == expected and next_event() is NEED_DATA
    parser = RequestParser()
    parser.feed(raw)
    assert [type(parser.reader()) for _ in expected] == expected and parser.reader() is NEED_DATA
    parser.feed(b"\x00\r\n\r\n")
    with pytest.raises(ProtocolError) as first:
        parser.reader()
    with pytest.raises(ProtocolError) as again:
        next_event = parser.next_event
        next_event()
    assert again.value is first.value


def test_partial_head_says_whether_part_of_a_head_waits() -> None:
    parser = RequestParser()
    assert parser.next_event() is NEED_DATA and not parser.partial_head
    parser.feed(b"GET / HTTP/1.1\r\nHo")
    assert parser.next_event() is NEED_DATA and parser.partial_head
    parser.feed(b"st: h\r\n\r\nGET /b")  # the rest of the head, and part of the next one
    assert isinstance(parser.next_event(), Request)
    assert parser.next_event() == EndOfMessage()
    assert parser.next_event() is NEED_DATA and parser.partial_head
    parser.feed(b" HTTP/1.1\r\nHost: h\r\n\r\n")
    assert isinstance(parser.next_event(), Request)
    assert parser.next_event() == EndOfMessage()
    assert parser.next_event() is NEED_DATA and not parser.partial_head


def test_drained_says_whether_the_last_end_of_message_left_nothing_to_parse() -> None:
    parser = RequestParser()
    assert not parser.drained
    parser.feed(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    assert isinstance(parser.next_event(), Request) and not parser.drained
    assert parser.next_event() == EndOfMessage() and parser.drained
    assert parser.next_event() is NEED_DATA
    # pipelined: the next head is already buffered
    parser.feed(b"GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n")
    assert isinstance(parser.next_event(), Request)
    assert parser.next_event() == EndOfMessage() and not parser.drained
    assert isinstance(parser.next_event(), Request)
    assert parser.next_event() == EndOfMessage() and parser.drained
    # a body, then a chunked body with trailers (the end of each, with nothing after it)
    parser.feed(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nok")
    assert [type(parser.next_event()) for _ in range(3)] == [Request, Data, EndOfMessage]
    assert parser.drained
    parser.feed(
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nA: b\r\n\r\n"
    )
    assert [type(parser.next_event()) for _ in range(3)] == [Request, Data, EndOfMessage]
    assert parser.drained
    # the end of a request that closes the connection, or an EOF seen before the end: not drained
    parser.feed(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    assert isinstance(parser.next_event(), Request)
    assert parser.next_event() == EndOfMessage() and not parser.drained
    parser = RequestParser()
    parser.feed(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    parser.feed(b"")
    assert isinstance(parser.next_event(), Request)
    assert parser.next_event() == EndOfMessage() and not parser.drained
    assert parser.next_event() is PAUSED


def test_a_piece_kept_as_it_came_gives_the_events_of_the_buffer() -> None:
    head = b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
    odd = b"GET /b HTTP/1.1\r\nHost: h\r\nAccept: x\r\nAccept: y\r\n\r\n"  # a repeat: not common
    body = b"POST /c HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n"
    parser = RequestParser()
    parser.feed(head + head[:5])  # a head and part of the next, in one piece
    assert parser.buffered_size == len(head) + 5 and parser.trailing_data == head + head[:5]
    assert parser.next_event().target == b"/a"  # type: ignore[union-attr]
    assert parser.next_event() == EndOfMessage() and not parser.drained and parser.buffered_size == 5
    parser.feed(head[5:])
    assert parser.next_event().target == b"/a"  # type: ignore[union-attr]
    assert parser.next_event() == EndOfMessage() and parser.drained
    parser.feed(odd[:9])  # two pieces before the next read: both buffered, in order
    parser.feed(odd[9:])
    assert parser.buffered_size == len(odd)
    request = parser.next_event()
    assert isinstance(request, Request) and request.headers[1:] == [(b"accept", b"x"), (b"accept", b"y")]
    assert parser.next_event() == EndOfMessage()
    parser.feed(odd)  # one piece whose head the common path leaves to the reference parser
    assert parser.next_event() == request
    assert parser.next_event() == EndOfMessage()
    parser.feed(body + b"abc" + head)  # a head, its body and the next head in one piece
    assert [type(parser.next_event()) for _ in range(5)] == [
        Request,
        Data,
        EndOfMessage,
        Request,
        EndOfMessage,
    ]
    parser.feed(b"\r\n" + head)  # an empty line before the request line (RFC 9112 §2.2)
    assert parser.next_event().target == b"/a"  # type: ignore[union-attr]


def test_pipelined_leftover_is_exactly_the_next_request() -> None:
    parser = RequestParser()
    parser.feed(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcGET")
    assert isinstance(parser.next_event(), Request)
    assert parser.next_event() == Data(b"abc")
    assert parser.next_event() == EndOfMessage()
    assert parser.trailing_data == b"GET"
    assert parser.next_event() is NEED_DATA


def test_request_attributes() -> None:
    parser = RequestParser()
    parser.feed(b"PUT /x HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\n")
    req = parser.next_event()
    assert isinstance(req, Request)
    assert (req.method, req.target, req.http_version) == ("PUT", b"/x", "1.1")
    assert req.expect_continue and req.keep_alive and req.content_length == 2 and not req.chunked
    assert "PUT" in repr(req)
    assert req != Data(b"")


def packed(section: bytes) -> tuple[bytes, ...]:
    """The packed form of a field section, as the C scanner stores it in Request._fields."""
    names, spans, at = [], [], 0
    for line in section.split(b"\r\n")[:-1]:
        name, _, value = line.partition(b":")
        start = at + len(name) + 1 + (len(value) - len(value.lstrip(b" \t")))
        names.append(name.lower())
        spans += [start, at + len(line)]
        at += len(line) + 2
    return (section, array("I", spans).tobytes(), *names)


def test_packed_field_lines_are_unpacked_once_on_first_read() -> None:
    # The C scanner leaves `headers` unbuilt (see Request); this builds such a request by hand, so the
    # pure-Python reference of the unpacking is tested without the extension too.
    req = Request("GET", b"/", "1.1", [])
    req._headers = None
    req._fields = packed(b"Host: h\r\nX-A:  1 2\r\nEmpty:\r\n")
    assert req.headers == [(b"host", b"h"), (b"x-a", b"1 2"), (b"empty", b"")]
    assert req.headers is req.headers  # unpacked once
    assert req == Request("GET", b"/", "1.1", [(b"host", b"h"), (b"x-a", b"1 2"), (b"empty", b"")])
    assert unpack_fields(packed(b"")) == []
    req.headers = [(b"a", b"b")]
    assert req.headers == [(b"a", b"b")]


def test_events_equality_and_repr() -> None:
    assert Data(b"a") == Data(b"a") and Data(b"a") != Data(b"b") and Data(b"a") != EndOfMessage()
    assert EndOfMessage() == EndOfMessage([]) and EndOfMessage() != Data(b"")
    assert repr(Data(b"a")) == "Data(b'a')"
    assert repr(EndOfMessage([(b"a", b"b")])) == "EndOfMessage(trailers=((b'a', b'b'),))"
    # Trailers are kept as a tuple, so the shared end of a message without trailers cannot be altered.
    assert EndOfMessage([(b"a", b"b")]).trailers == ((b"a", b"b"),)
    assert repr(NEED_DATA) == "NEED_DATA" and repr(PAUSED) == "PAUSED"


def test_error_family() -> None:
    err = URITooLong("too long")
    assert isinstance(err, ProtocolError) and err.status == 414 and err.close
    assert repr(err) == "URITooLong('too long', status=414, close=True)"
    custom = ProtocolError("teapot", status=418, close=False)
    assert (custom.status, custom.close) == (418, False)
    assert BadRequest("x").status == 400


@pytest.mark.parametrize(
    "kwargs",
    [{"max_request_line": 0}, {"max_header_count": 0}, {"max_head_size": -1}, {"max_body_size": -1}],
)
def test_limits_validation(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        Limits(**kwargs)  # type: ignore[arg-type]


def test_unfinished_head_is_scanned_once() -> None:
    """A head that never ends: each feed searches only the new bytes (O(n) overall, not O(n^2))."""
    parser = RequestParser(Limits(max_head_size=2**21, max_request_line=2**21))
    parser.feed(b"GET /")
    chunk = b"a" * 1024
    for i in range(1024):  # 1 MiB
        parser.feed(chunk)
        assert parser.next_event() is NEED_DATA
        # the next searches start at the end of what is buffered, not at the start
        assert parser._scan >= parser.buffered_size - 3
        assert parser._bare == parser.buffered_size - 1
        if i == 0:
            assert not parser._line_ok
    parser.feed(b"")
    with pytest.raises(BadRequest):
        parser.next_event()


def _cpu_to_reject(head: bytes) -> float:
    best = float("inf")
    for _ in range(3):
        parser = RequestParser()
        parser.feed(head)
        started = time.process_time()
        with pytest.raises(ProtocolError):
            parser.next_event()
        best = min(best, time.process_time() - started)
    return best


@pytest.mark.parametrize("blank", [b" ", b"\t"])
def test_blanks_before_a_bad_value_cost_linear_time(blank: bytes) -> None:
    """OWS followed by a bare CR: the field-line regex must not backtrack over every split of the blanks
    between OWS and value (which made a 64 KiB head cost ~10 s of CPU). Compared with a same-size head
    that fails without any blanks, so the bound is a ratio (about 1x when linear, over 1000x when not)."""
    size = 60_000
    pathological = b"GET / HTTP/1.1\r\nHost: h\r\nX:" + blank * size + b"\rZ\r\n\r\n"
    plain = b"GET / HTTP/1.1\r\nHost: h\r\nX:" + b"v" * size + b"\rZ\r\n\r\n"
    assert len(pathological) == len(plain)
    assert _cpu_to_reject(pathological) < 50 * max(_cpu_to_reject(plain), 1e-4)


def test_unfinished_chunk_size_line_is_scanned_once() -> None:
    parser = RequestParser(Limits(max_chunk_ext=2**20))
    parser.feed(b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;a=")
    assert isinstance(parser.next_event(), Request)
    for _ in range(100):
        parser.feed(b"b" * 100)
        assert parser.next_event() is NEED_DATA
        assert parser._scan == parser.buffered_size


def test_chunked_body_byte_by_byte_keeps_buffer_small() -> None:
    parser = RequestParser()
    parser.feed(b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
    assert isinstance(parser.next_event(), Request)
    body = b"".join(b"%x\r\n%s\r\n" % (n, b"x" * n) for n in range(1, 60)) + b"0\r\n\r\n"
    received = bytearray()
    ended = False
    for i in range(len(body)):
        parser.feed(body[i : i + 1])
        while True:
            event = parser.next_event()
            if event is NEED_DATA:
                break
            if isinstance(event, Data):
                received += event.data
            ended = ended or isinstance(event, EndOfMessage)
        assert parser.buffered_size <= 4  # consumed as it arrives: the buffer never grows
    assert bytes(received) == b"".join(b"x" * n for n in range(1, 60))
    assert ended


def test_memory_bounded_by_head_limit() -> None:
    parser = RequestParser(Limits(max_head_size=1000))
    parser.feed(b"GET / HTTP/1.1\r\n")
    with pytest.raises(ProtocolError) as info:
        for _ in range(100):
            parser.feed(b"X: " + b"y" * 97)
            assert parser.next_event() is NEED_DATA
    assert info.value.status == 431
    assert parser.buffered_size <= 1100


def _body_events(parser: RequestParser) -> tuple[bytes, list[object]]:
    body = b""
    events: list[object] = []
    while True:
        event = parser.next_event()
        if event is NEED_DATA or event is PAUSED:
            return body, events
        if isinstance(event, Data):
            body += event.data
        else:
            events.append(event)


def test_length_body_pieces_pass_through_uncopied() -> None:
    """A piece received while a Content-Length body is read from an empty buffer is handed on as is."""
    parser = RequestParser()
    parser.feed(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n")
    assert isinstance(parser.next_event(), Request)
    piece = b"abcdef"
    parser.feed(piece)
    assert parser.buffered_size == 6
    assert parser.trailing_data == piece
    event = parser.next_event()
    assert isinstance(event, Data)
    assert event.data is piece
    # the body ends inside the next piece: the rest is the next request, parsed from the buffer
    parser.feed(b"ghijGET /next HTTP/1.1\r\nHost: h\r\n\r\n")
    body, events = _body_events(parser)
    assert body == b"ghij"
    assert isinstance(events[0], EndOfMessage)
    assert isinstance(events[1], Request) and events[1].target == b"/next"


def test_length_body_pieces_fed_twice_before_parsing_keep_their_order() -> None:
    parser = RequestParser()
    parser.feed(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9\r\n\r\n")
    assert isinstance(parser.next_event(), Request)
    for piece in (b"abc", b"def", b"ghi"):
        parser.feed(piece)
    assert parser.buffered_size == 9
    body, events = _body_events(parser)
    assert body == b"abcdefghi"
    assert isinstance(events[0], EndOfMessage)


def test_length_body_cut_short_by_eof_with_a_piece_pending() -> None:
    parser = RequestParser()
    parser.feed(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9\r\n\r\nab")
    assert isinstance(parser.next_event(), Request)
    assert parser.next_event() == Data(b"ab")
    parser.feed(b"cd")
    parser.feed(b"")
    assert parser.next_event() == Data(b"cd")
    with pytest.raises(BadRequest):
        parser.next_event()
