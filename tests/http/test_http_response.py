"""Response side: plan_response validation and framing, BodyWriter, error responses; h11 parses what we send."""

from __future__ import annotations

import h11
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sockweb.http import (
    CONTINUE_RESPONSE,
    LAST_CHUNK,
    STATUS_REASONS,
    BodyWriter,
    ContentTooLarge,
    ProtocolError,
    Request,
    ResponsePlan,
    encode_chunk,
    error_response,
    plan_response,
)
from sockweb.http.semantics import body_allowed, check_fields, check_status, own_fields


def req(method: str = "GET", version: str = "1.1", keep_alive: bool | None = None) -> Request:
    if keep_alive is None:
        keep_alive = version == "1.1"
    return Request(method, b"/", version, [(b"host", b"h")], keep_alive)


def lines(plan: ResponsePlan) -> list[bytes]:
    assert plan.head.endswith(b"\r\n\r\n")
    return plan.head[:-4].split(b"\r\n")


def test_known_length() -> None:
    plan = plan_response(req(), "200 OK", [("Content-Type", "text/plain")], body_length=5)
    assert lines(plan) == [b"HTTP/1.1 200 OK", b"Content-Type: text/plain", b"Content-Length: 5"]
    assert (plan.framing, plan.content_length, plan.keep_alive, plan.send_body) == ("length", 5, True, True)
    assert "length" in repr(plan)


def test_app_content_length_wins_and_is_not_repeated() -> None:
    plan = plan_response(req(), "200 OK", [("content-length", " 3 "), ("Content-Length", "3")], body_length=9)
    assert lines(plan) == [b"HTTP/1.1 200 OK", b"content-length:  3 "]
    assert (plan.framing, plan.content_length) == ("length", 3)


def test_stream_http11_is_chunked() -> None:
    plan = plan_response(req(), "200 OK", [], body_length=None)
    assert lines(plan) == [b"HTTP/1.1 200 OK", b"Transfer-Encoding: chunked"]
    assert plan.framing == "chunked" and plan.keep_alive


def test_stream_http10_closes() -> None:
    plan = plan_response(req(version="1.0", keep_alive=True), "200 OK", [], body_length=None)
    assert lines(plan) == [b"HTTP/1.1 200 OK", b"Connection: close"]
    assert plan.framing == "close" and not plan.keep_alive and plan.send_body


def test_http10_keep_alive_is_announced() -> None:
    plan = plan_response(req(version="1.0", keep_alive=True), "200 OK", [], body_length=0)
    assert lines(plan) == [b"HTTP/1.1 200 OK", b"Content-Length: 0", b"Connection: keep-alive"]
    assert plan.keep_alive


def test_http10_without_keep_alive_closes() -> None:
    plan = plan_response(req(version="1.0"), "200 OK", [], body_length=0)
    assert lines(plan)[-1] == b"Connection: close" and not plan.keep_alive


def test_head_has_no_body_and_keeps_app_length() -> None:
    plan = plan_response(req("HEAD"), "200 OK", [("Content-Length", "42")], body_length=0)
    assert lines(plan) == [b"HTTP/1.1 200 OK", b"Content-Length: 42"]
    assert (plan.framing, plan.send_body, plan.content_length, plan.keep_alive) == ("none", False, 42, True)
    plan = plan_response(req("HEAD"), "200 OK", [], body_length=7)
    assert lines(plan) == [b"HTTP/1.1 200 OK"]  # the length of an empty HEAD body is not the resource's


@pytest.mark.parametrize("status", ["204 No Content", "101 Switching Protocols", "103 Early Hints"])
def test_no_content_length_in_1xx_and_204(status: str) -> None:
    plan = plan_response(req(), status, [("Content-Length", "0"), ("X", "y")], body_length=0)
    assert lines(plan) == [f"HTTP/1.1 {status}".encode(), b"X: y"]
    assert (plan.framing, plan.send_body, plan.content_length) == ("none", False, None)


def test_204_without_content_length() -> None:
    plan = plan_response(req(), "204 No Content", [("X", "y")], body_length=None)
    assert lines(plan) == [b"HTTP/1.1 204 No Content", b"X: y"]
    assert (plan.framing, plan.send_body, plan.content_length) == ("none", False, None)


def test_304_keeps_content_length_but_sends_no_body() -> None:
    plan = plan_response(req(), "304 Not Modified", [("Content-Length", "10")], body_length=None)
    assert lines(plan) == [b"HTTP/1.1 304 Not Modified", b"Content-Length: 10"]
    assert (plan.framing, plan.send_body) == ("none", False)


def test_no_request_means_close() -> None:
    plan = plan_response(None, "500 Internal Server Error", [], body_length=0)
    assert lines(plan)[-1] == b"Connection: close" and not plan.keep_alive


@pytest.mark.parametrize(
    ("request_", "headers", "keep_alive"),
    [
        (req(keep_alive=False), [], True),
        (req(), [], False),
        (req(), [("Connection", "Keep-Alive, Close")], True),
    ],
)
def test_close_decisions(request_: Request, headers: list[tuple[str, str]], keep_alive: bool) -> None:
    plan = plan_response(request_, "200 OK", headers, body_length=0, keep_alive=keep_alive)
    assert lines(plan) == [b"HTTP/1.1 200 OK", b"Content-Length: 0", b"Connection: close"]
    assert not plan.keep_alive


def test_app_connection_keep_alive_is_dropped() -> None:
    plan = plan_response(req(), "200 OK", [("Connection", "keep-alive"), ("X", "1")], body_length=0)
    assert lines(plan) == [b"HTTP/1.1 200 OK", b"X: 1", b"Content-Length: 0"]


def test_extra_lines_go_last() -> None:
    plan = plan_response(req(), "200 OK", [], body_length=0, extra=b"Server: s\r\n")
    assert plan.head == b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nServer: s\r\n\r\n"


def test_latin1_values_pass() -> None:
    plan = plan_response(req(), "200 OK", [("X", "caf\xe9\tok")], body_length=0)
    assert b"X: caf\xe9\tok" in plan.head


@pytest.mark.parametrize(
    "status", ["200", "20 OK", "2000 OK", "600 Nope", "099 Low", "200 OK\r\nX: y", "200 O\x00K", "abc OK", ""]
)
def test_invalid_status(status: str) -> None:
    with pytest.raises(ValueError):
        plan_response(req(), status, [], body_length=0)


@pytest.mark.parametrize(
    "header",
    [
        ("Bad Name", "v"),
        ("", "v"),
        ("X\r\nY", "v"),
        ("X:", "v"),
        ("X", "a\r\nSet-Cookie: evil"),
        ("X", "a\nb"),
        ("X", "a\rb"),
        ("X", "a\x00b"),
        ("X", "a\x7fb"),
        ("X", "snow \u2603"),
        ("Transfer-Encoding", "chunked"),
        ("Content-Length", "abc"),
        ("Content-Length", "-1"),
    ],
)
def test_invalid_headers(header: tuple[str, str]) -> None:
    with pytest.raises(ValueError):
        plan_response(req(), "200 OK", [("Ok", "1"), header], body_length=0)


def test_conflicting_app_content_lengths() -> None:
    with pytest.raises(ValueError):
        plan_response(req(), "200 OK", [("Content-Length", "1"), ("Content-Length", "2")], body_length=0)


def test_body_writer_length() -> None:
    plan = plan_response(req(), "200 OK", [], body_length=5)
    writer = BodyWriter(plan)
    assert writer.write(b"abc") == b"abc"
    assert writer.write(b"de") == b"de"
    assert writer.finish() == b""
    writer = BodyWriter(plan)
    writer.write(b"abc")
    with pytest.raises(ValueError):
        writer.write(b"def")
    writer = BodyWriter(plan)
    writer.write(b"abc")
    with pytest.raises(ValueError):
        writer.finish()


def test_body_writer_chunked_close_none() -> None:
    writer = BodyWriter(plan_response(req(), "200 OK", [], body_length=None))
    assert writer.write(b"hello") == b"5\r\nhello\r\n"
    assert writer.write(b"") == b""
    assert writer.write(b"x" * 26) == b"1a\r\n" + b"x" * 26 + b"\r\n"
    assert writer.finish() == LAST_CHUNK == b"0\r\n\r\n"
    writer = BodyWriter(plan_response(req(version="1.0"), "200 OK", [], body_length=None))
    assert writer.write(b"raw") == b"raw" and writer.finish() == b""
    writer = BodyWriter(plan_response(req("HEAD"), "200 OK", [], body_length=None))
    assert writer.write(b"ignored") == b"" and writer.finish() == b""


def test_encode_chunk() -> None:
    assert encode_chunk(b"") == b""
    assert encode_chunk(b"\r\n") == b"2\r\n\r\n\r\n"


def test_continue_response() -> None:
    assert CONTINUE_RESPONSE == b"HTTP/1.1 100 Continue\r\n\r\n"


def parse_with_h11(data: bytes, method: str = "GET", close: bool = False) -> tuple[int, bytes, list, bytes]:  # type: ignore[type-arg]
    client = h11.Connection(h11.CLIENT)
    client.send(h11.Request(method=method, target="/", headers=[("Host", "h")]))
    client.send(h11.EndOfMessage())
    client.receive_data(data)
    if close:
        client.receive_data(b"")
    body = b""
    response = None
    while True:
        event = client.next_event()
        if isinstance(event, h11.Response):
            response = event
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            break
        else:  # pragma: no cover - only on failure
            raise AssertionError(event)
    assert response is not None
    return response.status_code, response.reason, list(response.headers), body


@pytest.mark.parametrize(
    ("err", "status"), [(ProtocolError("bad thing"), 400), (ContentTooLarge("too big"), 413)]
)
def test_error_response_parses(err: ProtocolError, status: int) -> None:
    data = error_response(err, extra=b"Server: s\r\n")
    code, reason, headers, body = parse_with_h11(data)
    assert (code, reason.decode()) == (status, STATUS_REASONS[status])
    assert (b"connection", b"close") in headers and (b"server", b"s") in headers
    assert body.startswith(str(status).encode())


def test_error_response_unknown_status() -> None:
    data = error_response(ProtocolError("x", status=499))
    assert data.startswith(b"HTTP/1.1 499 Error\r\n")


TOKEN = st.text(
    alphabet="!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1
)
VALUE = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=20)
STATUSES = st.sampled_from([200, 201, 204, 301, 304, 400, 404, 422, 500, 503])


@settings(max_examples=150, deadline=None, database=None)
@given(
    status=STATUSES,
    names=st.lists(TOKEN, max_size=5),
    values=st.lists(VALUE, min_size=5, max_size=5),
    chunks=st.lists(st.binary(max_size=40), max_size=4),
    method=st.sampled_from(["GET", "HEAD", "POST"]),
    version=st.sampled_from(["1.0", "1.1"]),
    known_length=st.booleans(),
    app_length=st.booleans(),
)
def test_h11_reads_what_we_write(
    status: int,
    names: list[str],
    values: list[str],
    chunks: list[bytes],
    method: str,
    version: str,
    known_length: bool,
    app_length: bool,
) -> None:
    body = b"".join(chunks)
    headers = [("X-" + n, v) for n, v in zip(names, values, strict=False)]
    if app_length:
        headers.append(("Content-Length", str(len(body))))
    reason = STATUS_REASONS[status]
    plan = plan_response(
        req(method, version, keep_alive=True),
        f"{status} {reason}",
        headers,
        body_length=len(body) if known_length else None,
    )
    writer = BodyWriter(plan)
    data = plan.head + b"".join(writer.write(c) for c in chunks) + writer.finish()
    code, got_reason, got_headers, got_body = parse_with_h11(data, method, close=plan.framing == "close")
    assert (code, got_reason) == (status, reason.encode())
    for name, value in headers:
        if status != 204 or name != "Content-Length":
            assert (name.lower().encode(), value.encode().strip()) in got_headers
    expected_body = body if plan.send_body else b""
    assert got_body == expected_body
    assert plan.send_body == (method != "HEAD" and status not in (204, 304))
    assert plan.keep_alive == (plan.framing != "close")


# -- sockweb.http.semantics: the version-independent rules, on their own ---------------------------------
@pytest.mark.parametrize(
    ("headers", "own"),
    [
        ([], set()),
        ([("Date", "x"), ("Content-Type", "t")], {"date"}),
        ([("SERVER", "s"), ("date", "d")], {"date", "server"}),
        ([("Vary", "x"), ("Expect", "y")], set()),  # four and six letters, but neither field
    ],
)
def test_own_fields_names_the_date_and_server_the_application_set(
    headers: list[tuple[str, str]], own: set[str]
) -> None:
    assert own_fields(headers) == own


@pytest.mark.parametrize(
    ("code", "head", "allowed"),
    [(100, False, None), (204, False, None), (200, False, True), (200, True, False), (304, False, False)],
)
def test_body_allowed_follows_rfc_9110(code: int, head: bool, allowed: bool | None) -> None:
    assert body_allowed(code, head) is allowed


def test_check_fields_takes_out_the_connection_fields() -> None:
    kept, length, close = check_fields([("Content-Length", "3"), ("Connection", "close"), ("X", "y")])
    # Content-Length stays a field of the message (its value read); Connection belongs to the connection.
    assert (kept, length, close) == ([("Content-Length", "3"), ("X", "y")], 3, True)
    assert check_status("404 Not Found") == 404
    with pytest.raises(ValueError, match="Transfer-Encoding"):
        check_fields([("Transfer-Encoding", "chunked")])
