"""Acceptance: the server's protocol handling over real sockets.

The real server (``python -m sockweb serve``, subprocess, 127.0.0.1 on port 0) runs the echo app of
`wire_app`; raw bytes go in through a socket, and the bytes that come back are parsed by the strict client
of `wire_client`. Three groups of cases:

1. every case of the protocol corpus in tests/http/http_cases.py: an invalid case must get exactly its
   status and then a close (or, for an error only end-of-input reveals, at most that error and a close,
   RFC 9112 §8); a valid case must get a 200 per request, in order, with the body the app read identical to
   the one sent (length and SHA-256 echoed by the app), and the connection kept open (a further request on
   it is answered) or closed as the case says;
2. the extra smuggling and CVE-derived cases of `wire_cases`;
3. response-side checks: HEAD, 204 and 304 without body, Content-Length and chunked framing, Date and
   Server, Connection: close, HTTP/1.0 framing, 100-continue, timeouts and oversized heads.

Corpus cases are built for `sockweb.http.Limits`; the server exposes the limits as options, so one server
runs per distinct configuration (started together, once per module). The sans-io parser serves only as a
classifier here: to check that a case keeps its meaning under the limits the server can be given, and
whether its error shows before end-of-input. The expectations themselves come from the corpus and the RFCs.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shlex
import socket
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import unquote_to_bytes

import pytest

from serverproc import ServerHandle
from sockweb.http import NEED_DATA, PAUSED, Data, EndOfMessage, Limits, ProtocolError, Request, RequestParser

from .wire_cases import BODY4, CASES, DEFAULT, Answer, WireCase
from .wire_client import Response, Wire, WireError

APP_DIR = Path(__file__).parent
HTTP_TESTS = Path(__file__).parents[1] / "http"
# SOCKWEB_ACCEPTANCE_ARGS adds server options to every server here, to replay all of it against another
# mode (e.g. "--dispatch pool", "--loop asyncio", "--workers 2").
# The head deadline is short enough for the slow-client tests to finish in seconds.
BASE_ARGS = ("--header-timeout", "2", *shlex.split(os.environ.get("SOCKWEB_ACCEPTANCE_ARGS", "")))
HEADER_TIMEOUT = 2.0
PROBE = b"GET /probe HTTP/1.1\r\nHost: probe\r\n\r\n"
QUIET = 0.3  # how long "nothing arrives" is watched for; waiting longer can only hide a failure


def _load_corpus() -> ModuleType:
    """tests/http/http_cases.py, shared with the parser tests when they run in the same session."""
    module = sys.modules.get("http_cases")
    if module is None:
        spec = importlib.util.spec_from_file_location("http_cases", HTTP_TESTS / "http_cases.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["http_cases"] = module  # dataclasses look their module up while the file runs
        spec.loader.exec_module(module)
    return module


corpus = _load_corpus()

# --- which server a corpus case runs on -------------------------------------------------------------------
_OPTIONS = {
    "max_request_line": "--max-request-line",
    "max_header_count": "--max-header-count",
    "max_field_size": "--max-field-size",
    "max_head_size": "--max-head-size",
    "max_body_size": "--max-body-size",
    "max_chunk_ext": "--max-chunk-ext",
    "max_trailer_size": "--max-trailer-size",
    "allow_underscore_in_names": "--allow-underscore-headers",
}


def server_limits(limits: Limits) -> Limits:
    """The part of `limits` the server can be configured with; the rest stays at its default."""
    return Limits(**{name: getattr(limits, name) for name in _OPTIONS})


def server_args(limits: Limits) -> tuple[str, ...]:
    default = Limits()
    args: list[str] = []
    for name, option in _OPTIONS.items():
        value = getattr(limits, name)
        if value == getattr(default, name):
            continue
        if isinstance(value, bool):
            args.append(option if value else "--no-" + option.removeprefix("--"))
        else:
            args += [option, str(value)]
    return tuple(args)


def parse(raw: bytes, limits: Limits, eof: bool) -> list[object]:
    """Events of the sans-io parser for `raw` (consecutive Data merged), ending like the corpus expects."""
    parser = RequestParser(limits)
    parser.feed(raw)
    if eof:
        parser.feed(b"")
    events: list[object] = []
    while True:
        try:
            event = parser.next_event()
        except ProtocolError as exc:
            events.append(corpus.Err(exc.status, exc.close))
            return events
        if event is NEED_DATA or event is PAUSED:
            events.append(event)
            return events
        if isinstance(event, Data) and events and isinstance(events[-1], Data):
            events[-1] = Data(events[-1].data + event.data)
        else:
            events.append(event)


@dataclass
class Message:
    request: Request
    body: bytes
    complete: bool


def messages(events: list[object]) -> list[Message]:
    found: list[Message] = []
    for event in events:
        if isinstance(event, Request):
            found.append(Message(event, b"", False))
        elif isinstance(event, Data):
            found[-1].body += event.data
        elif isinstance(event, EndOfMessage):
            found[-1].complete = True
    return found


@dataclass(frozen=True)
class CorpusPlan:
    args: tuple[str, ...] | None  # None: the case needs a limit the server has no option for
    error_needs_eof: bool


def plan(case: Any) -> CorpusPlan:
    limits = server_limits(case.limits)
    # A case whose limits the server cannot take is replayed only if they do not matter for it (so a parser
    # regression never turns into a skipped wire case: those with configurable limits always run).
    if limits != case.limits and parse(case.raw, limits, case.eof) != case.expected:
        return CorpusPlan(None, False)
    final = case.expected[-1]
    needs_eof = isinstance(final, corpus.Err) and not isinstance(
        parse(case.raw, limits, False)[-1], corpus.Err
    )
    return CorpusPlan(server_args(limits), needs_eof)


CORPUS: list[Any] = corpus.CASES
# Corpus cases that fail over the wire because of a known server bug, name -> reason; strict: once fixed,
# the case passes and the entry must go. Empty: every corpus case passes over the wire.
CORPUS_BUGS: dict[str, str] = {}
# What known bugs write to the server log (so the log check below still catches anything else).
KNOWN_LOG_ERRORS: tuple[str, ...] = ()
PLANS = {c.name: plan(c) for c in CORPUS}
# A short body deadline, so a stalled body is cut within seconds.
BODY_TIMEOUT = 2.0
STALL: tuple[str, ...] = ("--body-timeout", str(BODY_TIMEOUT))
CONFIGS = sorted({p.args for p in PLANS.values() if p.args is not None} | {DEFAULT, BODY4, STALL})


@pytest.fixture(scope="module")
def servers(
    tmp_path_factory: pytest.TempPathFactory, server_factory: Callable[..., ServerHandle]
) -> Iterator[dict[tuple[str, ...], ServerHandle]]:
    """One echo server per configuration, all started together and stopped at the end of the module."""
    tmp = tmp_path_factory.mktemp("wire")
    handles: dict[tuple[str, ...], ServerHandle] = {}
    try:
        for args in CONFIGS:
            handles[args] = server_factory(tmp, "wire_app:app", *BASE_ARGS, *args, cwd=APP_DIR)
        for handle in handles.values():
            handle.wait_started()
        yield handles
    finally:
        for handle in handles.values():
            handle.stop()


@pytest.fixture(scope="module")
def port(servers: dict[tuple[str, ...], ServerHandle]) -> int:
    """The port of the default-configured server."""
    return int(servers[DEFAULT].port)


@pytest.fixture(scope="module")
def stall_port(servers: dict[tuple[str, ...], ServerHandle]) -> int:
    """The port of the server started with a short --body-timeout."""
    return int(servers[STALL].port)


# --- checks shared by all groups ------------------------------------------------------------------------------
def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def expected_path(target: bytes) -> tuple[str, str] | None:
    """PATH_INFO and QUERY_STRING the app must see for an origin- or absolute-form target."""
    if b"://" in target and not target.startswith(b"/"):
        # RFC 3986 §3.2: the authority ends at the first "/" or "?" ("#" is refused); an empty path is "/".
        rest = target[target.find(b"://") + 3 :]
        end = min((i for i in (rest.find(b"/"), rest.find(b"?")) if i >= 0), default=len(rest))
        target = rest[end:]
        target = target if target.startswith(b"/") else b"/" + target
    if not target.startswith(b"/"):
        return None
    path, _, query = target.partition(b"?")
    return unquote_to_bytes(path).decode("latin-1"), query.decode("latin-1")


def check_echo(resp: Response, method: str, body: bytes, path: str | None, query: str | None) -> None:
    """`resp` is the echo app's 200 for a `method` request whose body was `body`."""
    assert resp.status == 200, f"expected 200, got {resp.status} {resp.reason!r}: {resp.body[:200]!r}"
    if method == "HEAD":
        return
    seen = resp.json()
    assert seen["method"] == method
    assert (seen["length"], seen["sha256"]) == (len(body), sha(body)), "the app read a different body"
    if path is not None:
        assert seen["path"] == path
    if query is not None:
        assert seen["query"] == query


def check_error(resp: Response, status: int) -> None:
    assert resp.status == status, f"expected {status}, got {resp.status} {resp.reason!r}: {resp.body[:200]!r}"
    # RFC 9112 §9.6: the server "SHOULD send a "close" connection option in its final response".
    assert b"close" in resp.connection_tokens(), "an error response that closes must say Connection: close"


def expect_open(wire: Wire) -> None:
    """The connection is still usable: a further request on it is answered."""
    wire.send(PROBE)
    resp = wire.read_response("GET")
    check_echo(resp, "GET", b"", "/probe", "")


def expect_quiet(wire: Wire) -> None:
    """Nothing arrives and the connection stays open while a request is incomplete."""
    timeout = wire.sock.gettimeout()
    wire.sock.settimeout(QUIET)
    try:
        data = wire.sock.recv(4096)
    except TimeoutError:
        return
    finally:
        wire.sock.settimeout(timeout)
    raise AssertionError(f"the server answered or closed on an incomplete request: {data[:200]!r}")


def expect_error_or_silent_close(wire: Wire, status: int, allow_reset: bool = False) -> None:
    """RFC 9112 §8: on an incomplete request the server "MAY send an error response prior to closing"."""
    if not wire.at_eof():
        check_error(wire.read_response(), status)
    wire.expect_close(allow_reset)


# --- 1. the protocol corpus --------------------------------------------------------------------------------------
BYTEWISE_MAX = 2048  # longer cases are replayed whole only (one segment per byte is slow)


def _corpus_param(case: Any, mode: str) -> Any:
    p = PLANS[case.name]
    marks = []
    if p.args is None:
        reason = f"needs {case.limits} which `sockweb serve` has no option for (checked by tests/http)"
        marks.append(pytest.mark.skip(reason=reason))
    if case.name in CORPUS_BUGS:
        marks.append(pytest.mark.xfail(strict=True, reason=CORPUS_BUGS[case.name]))
    return pytest.param(case, mode, id=f"{mode}:{case.name}", marks=marks)


@pytest.mark.parametrize(
    ("case", "mode"),
    [_corpus_param(c, "whole") for c in CORPUS]
    + [_corpus_param(c, "bytes") for c in CORPUS if len(c.raw) <= BYTEWISE_MAX],
)
def test_corpus_case(case: Any, mode: str, servers: dict[tuple[str, ...], ServerHandle]) -> None:
    """Replay one corpus case, in one send or one byte per TCP segment."""
    p = PLANS[case.name]
    assert p.args is not None
    final = case.expected[-1]
    msgs = messages(case.expected)
    complete = [m for m in msgs if m.complete]
    with Wire(servers[p.args].port) as wire:
        if mode == "bytes":
            wire.send_bytewise(case.raw)
        else:
            wire.send(case.raw)
        if p.error_needs_eof or (case.eof and not case.raw):
            wire.half_close()
        for m in complete:
            req = m.request
            # A 100 (Continue) may precede the answer only to an HTTP/1.1 request that asked for it.
            resp = wire.read_response(req.method, skip_interim=False)
            if resp.status == 100 and req.expect_continue and req.http_version == "1.1":
                resp = wire.read_response(req.method, skip_interim=False)
            where = expected_path(req.target)
            check_echo(resp, req.method, m.body, *(where or (None, None)))
            check_keep_alive_headers(req, resp)
        # Sending byte by byte, the client may still be sending when the server closes: its RST is ours.
        bytewise = mode == "bytes"
        if isinstance(final, corpus.Err):
            if p.error_needs_eof:
                expect_error_or_silent_close(wire, final.status, bytewise)
            else:
                check_error(wire.read_response(), final.status)
                wire.expect_close(bytewise)
        elif final is NEED_DATA or (msgs and not msgs[-1].complete):
            # The request is incomplete: no answer yet; at end-of-input, no 200 for it either.
            expect_quiet(wire)
            wire.half_close()
            expect_error_or_silent_close(wire, 400)
        elif not msgs:
            wire.expect_close()
        elif msgs[-1].request.keep_alive:
            expect_open(wire)
        else:
            wire.expect_close(bytewise)


def check_keep_alive_headers(req: Request, resp: Response) -> None:
    tokens = resp.connection_tokens()
    if req.keep_alive:
        assert b"close" not in tokens or req.method == "CONNECT", "a keep-alive request got Connection: close"
        if req.http_version == "1.0":
            # RFC 9112 §9.3: an HTTP/1.0 client keeps the connection only if the response says keep-alive.
            assert b"keep-alive" in tokens, "HTTP/1.0 keep-alive kept open without Connection: keep-alive"
    if any(n == b"connection" and b"close" in v.lower() for n, v in req.headers):
        assert b"close" in tokens, "RFC 9112 §9.6: the final response SHOULD say Connection: close"
    if req.http_version == "1.0":
        # RFC 9112 §6.1: "A server MUST NOT send a response containing Transfer-Encoding unless the
        # corresponding request indicates HTTP/1.1 (or later minor revisions)."
        assert resp.get(b"transfer-encoding") is None


def test_corpus_is_replayed() -> None:
    """The corpus is there and all of it runs over the wire (a guard against silently skipping it)."""
    assert len(CORPUS) >= 150
    # Every Limits field has a server option, so no case may need a limit `server_args` cannot express.
    assert [c.name for c in CORPUS if PLANS[c.name].args is None] == []


# --- 2. extra cases: smuggling, CVE classes, limits --------------------------------------------------------------
def _extra_param(case: WireCase, mode: str) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
    return pytest.param(case, mode, id=f"{mode}:{case.name}", marks=marks)


@pytest.mark.parametrize(
    ("case", "mode"),
    [_extra_param(c, "whole") for c in CASES]
    + [_extra_param(c, "bytes") for c in CASES if len(c.raw) <= BYTEWISE_MAX],
)
def test_extra_case(case: WireCase, mode: str, servers: dict[tuple[str, ...], ServerHandle]) -> None:
    """Replay one extra case, in one send or one byte per TCP segment."""
    continue_ok = b"expect: 100-continue" in case.raw.lower()
    with Wire(servers[case.config].port) as wire:
        if mode == "bytes":
            wire.send_bytewise(case.raw)
        else:
            wire.send(case.raw)
        for answer in case.answers:
            resp = wire.read_response(answer.method, skip_interim=False)
            while resp.status == 100 and continue_ok and answer.status == 200:
                resp = wire.read_response(answer.method, skip_interim=False)
            check_answer(resp, answer)
        if case.end == "open":
            expect_open(wire)
        else:
            wire.expect_close(allow_reset=mode == "bytes")


def check_answer(resp: Response, answer: Answer) -> None:
    if answer.status != 200:
        check_error(resp, answer.status)
        return
    if not answer.echo:
        assert (resp.status, resp.body) == (200, b"unread\n")
        return
    check_echo(resp, answer.method, answer.body or b"", answer.path, answer.query)
    if answer.method == "HEAD":
        return
    headers = resp.json()["headers"]
    for key, value in answer.environ.items():
        assert headers.get(key) == value, f"{key}: the app saw {headers.get(key)!r}, expected {value!r}"


# --- 3. response-side checks and timing-bounded behaviour ----------------------------------------------------------
def request(port: int, raw: bytes, method: str = "GET") -> tuple[Response, Wire]:
    wire = Wire(port)
    wire.send(raw)
    return wire.read_response(method), wire


def test_head_has_no_body(port: int) -> None:
    # RFC 9110 §9.3.2: "the server MUST NOT send content in the response" to HEAD; the pipelined GET behind
    # it parses cleanly only if not a single body byte was sent.
    with Wire(port) as wire:
        wire.send(b"HEAD /x HTTP/1.1\r\nHost: h\r\n\r\nHEAD /stream HTTP/1.1\r\nHost: h\r\n\r\n" + PROBE)
        head = wire.read_response("HEAD")
        assert head.status == 200 and head.body == b""
        stream = wire.read_response("HEAD")
        assert stream.status == 200 and stream.body == b""
        check_echo(wire.read_response("GET"), "GET", b"", "/probe", "")
        # The HEAD response announces what a GET would carry (RFC 9110 §9.3.2 SHOULD: same fields).
        get_resp, other = request(port, b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
        other.sock.close()
        assert head.get(b"content-type") == get_resp.get(b"content-type")


@pytest.mark.parametrize("query", ["", "cl"])
@pytest.mark.parametrize("status", [204, 304])
def test_no_body_statuses(port: int, status: int, query: str) -> None:
    # RFC 9110 §15.3.5 / §15.4.5: a 204 / 304 response "is terminated by the end of the header section; it
    # cannot contain content or trailers" (the app offers a body anyway, with its Content-Length when
    # query is "cl": the body must not reach the wire, and a 204 must not carry Content-Length, §8.6).
    with Wire(port) as wire:
        wire.send(f"GET /status/{status}?{query} HTTP/1.1\r\nHost: h\r\n\r\n".encode() + PROBE)
        resp = wire.read_response("GET")
        assert resp.status == status and resp.framing == "none"
        assert resp.get(b"transfer-encoding") is None
        check_echo(wire.read_response("GET"), "GET", b"", "/probe", "")


def test_content_length_is_exact(port: int) -> None:
    body = b"q" * 100_000
    with Wire(port) as wire:
        wire.send(b"POST /cl HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\n\r\n" + body + PROBE)
        resp = wire.read_response("POST")
        assert resp.framing == "length" and int(resp.get(b"content-length") or b"-1") == len(resp.body)
        check_echo(resp, "POST", body, "/cl", "")
        check_echo(wire.read_response("GET"), "GET", b"", "/probe", "")


def test_chunked_response_framing(port: int) -> None:
    # RFC 9112 §7.1: the streamed body of an HTTP/1.1 response without Content-Length is chunked; the
    # client parses every chunk-size line and CRLF strictly, and the connection stays usable after it.
    with Wire(port) as wire:
        wire.send(b"GET /stream?a=1 HTTP/1.1\r\nHost: h\r\n\r\n" + PROBE)
        resp = wire.read_response("GET")
        assert resp.framing == "chunked" and resp.get(b"content-length") is None and resp.trailers == []
        check_echo(resp, "GET", b"", "/stream", "a=1")
        check_echo(wire.read_response("GET"), "GET", b"", "/probe", "")


def test_http10_stream_is_close_delimited(port: int) -> None:
    # RFC 9112 §6.1: no Transfer-Encoding towards HTTP/1.0; an unknown length is delimited by closing, even
    # when the client asked for keep-alive.
    with Wire(port) as wire:
        wire.send(b"GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        resp = wire.read_response("GET")
        assert resp.framing == "close" and resp.get(b"transfer-encoding") is None
        assert b"keep-alive" not in resp.connection_tokens()
        check_echo(resp, "GET", b"", "/stream", "")
        assert wire.closed


def test_http10_keep_alive_response(port: int) -> None:
    # RFC 9112 §9.3: the HTTP/1.0 client persists only when the response carries keep-alive.
    with Wire(port) as wire:
        wire.send(b"POST /k HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nabc")
        resp = wire.read_response("POST")
        assert b"keep-alive" in resp.connection_tokens() and resp.framing == "length"
        assert resp.version in ("1.0", "1.1")
        check_echo(resp, "POST", b"abc", "/k", "")
        expect_open(wire)


def test_connection_close_from_client_and_app(port: int) -> None:
    # RFC 9112 §9.6: after "close" the server "MUST NOT process any further requests received on that
    # connection"; the same when the application itself answers with Connection: close.
    closing = (get_raw("/c", b"Connection: close\r\n"), get_raw("/stream", b"Connection: close\r\n"))
    for raw in (*closing, get_raw("/close")):
        with Wire(port) as wire:
            wire.send(raw + PROBE)
            resp = wire.read_response("GET")
            assert resp.status == 200 and b"close" in resp.connection_tokens()
            wire.expect_close()


def get_raw(target: str, extra: bytes = b"") -> bytes:
    return b"GET " + target.encode() + b" HTTP/1.1\r\nHost: h\r\n" + extra + b"\r\n"


def test_date_and_server_on_every_response(port: int) -> None:
    # RFC 9110 §6.6.1 (Date in 2xx/3xx/4xx) is checked by the client on every response it parses; here the
    # Server value itself, on a 200 and on an error produced before any application code runs.
    for raw, status in ((get_raw("/"), 200), (b"BAD\r\n\r\n", 400)):
        resp, wire = request(port, raw)
        wire.sock.close()
        assert resp.status == status
        assert resp.get(b"server") == b"sockweb"


def test_app_date_and_server_are_not_duplicated(port: int) -> None:
    with Wire(port) as wire:
        wire.send(get_raw("/own"))
        head = wire.read_head()
        assert head.get_all(b"date") == [b"Thu, 01 Jan 2015 00:00:00 GMT"]
        assert head.get_all(b"server") == [b"app/1"]


@pytest.mark.parametrize("path", ["/overflow", "/underflow"])
def test_wrong_app_length_never_desyncs(port: int, path: str) -> None:
    # The app's body does not match its own Content-Length. Whatever the server does (500, or cut the
    # body at the declared length, or close early) the client must never read bytes that parse as a
    # response it did not ask for: here the extra bytes spell a fake "200" the probe would take as its own.
    with Wire(port) as wire:
        wire.send(get_raw(path) + PROBE)
        head = wire.read_head()
        if head.status == 500:
            return
        assert head.status == 200 and head.get(b"content-length") in (b"3", b"10")
        declared = int(head.get(b"content-length") or b"0")
        while len(wire.buf) < declared and wire.fill():
            pass
        assert bytes(wire.buf[:3]) == b"abc"
        if len(wire.buf) < declared:
            assert wire.closed, "a truncated body must end with the connection"
            return
        del wire.buf[:declared]
        if wire.at_eof():
            return
        check_echo(wire.read_response("GET"), "GET", b"", "/probe", "")


@pytest.mark.parametrize("token", [b"100-continue", b"100-Continue"])
def test_expect_100_continue_handshake(port: int, token: bytes) -> None:
    # RFC 9110 §10.1.1: the server must "send an immediate 100 (Continue) response" (or a final status);
    # the client waits for it before sending the body, which must then reach the app intact. "The
    # expectation token is case-insensitive."
    with Wire(port) as wire:
        wire.send(b"PUT /up HTTP/1.1\r\nHost: h\r\nExpect: " + token + b"\r\nContent-Length: 11\r\n\r\n")
        interim = wire.read_response("PUT", skip_interim=False)
        assert interim.status == 100 and interim.body == b""
        wire.send(b"hello world")
        check_echo(wire.read_response("PUT"), "PUT", b"hello world", "/up", "")
        expect_open(wire)


def test_expect_in_http10_gets_no_100(port: int) -> None:
    # RFC 9110 §10.1.1: "A server that receives a 100-continue expectation in an HTTP/1.0 request MUST ignore
    # that expectation": nothing may arrive before the body is sent.
    with Wire(port) as wire:
        wire.send(b"POST /e HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
        expect_quiet(wire)
        wire.send(b"ok")
        check_echo(wire.read_response("POST", skip_interim=False), "POST", b"ok", "/e", "")
        wire.expect_close()


def test_large_bodies_intact(port: int) -> None:
    # Bodies past the server's in-memory threshold stream to the app in a thread; both framings.
    body = bytes(range(256)) * 12_000  # ~3 MiB
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (body[:1_000_000], body[1_000_000:]))
    with Wire(port) as wire:
        wire.send(b"POST /big HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        check_echo(wire.read_response("POST"), "POST", body, "/big", "")
        wire.send(
            b"POST /big2 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked + b"0\r\n\r\n"
        )
        check_echo(wire.read_response("POST"), "POST", body, "/big2", "")
        expect_open(wire)


def test_large_unread_body_never_parsed_as_requests(port: int) -> None:
    # 3 MiB of pipelined-looking requests inside a body the app does not read: the server may skip them or
    # close, but must never answer one of them (RFC 9112 §6.3: the body length is the Content-Length).
    inner = get_raw("/admin") * (3 * 1024 * 1024 // len(get_raw("/admin")))
    with Wire(port) as wire:
        wire.send(b"POST /noread HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n" % len(inner) + inner)
        wire.send(get_raw("/after"))
        first = wire.read_response("POST")
        assert (first.status, first.body) == (200, b"unread\n")
        if b"close" in first.connection_tokens() or wire.at_eof():
            return
        check_echo(wire.read_response("GET"), "GET", b"", "/after", "")


def test_expect_continue_body_never_sent(port: int) -> None:
    # RFC 9110 §10.1.1: a server that answers before reading the content "SHOULD indicate whether it intends
    # to close the connection ... or continue reading"; no 100 may follow the final response. sockweb closes.
    with Wire(port) as wire:
        wire.send(b"POST /noread HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n")
        resp = wire.read_response("POST", skip_interim=False)
        assert (resp.status, resp.body) == (200, b"unread\n")
        assert b"close" in resp.connection_tokens()
        wire.expect_close()


def test_hundreds_of_pipelined_requests_in_order(port: int) -> None:
    # RFC 9112 §9.3.2: responses "in the same order that the requests were received", with reading paused
    # and resumed as the answers are written.
    raw = b"".join(get_raw(f"/{i}") if i % 3 else post_raw(f"/{i}", b"%d" % i) for i in range(300))
    with Wire(port) as wire:
        wire.send(raw)
        for i in range(300):
            method, body = ("GET", b"") if i % 3 else ("POST", b"%d" % i)
            check_echo(wire.read_response(method), method, body, f"/{i}", "")
        expect_open(wire)


def test_malformed_chunk_in_streamed_body_gets_400(port: int) -> None:
    big = b"s" * 1_500_000
    with Wire(port) as wire:
        wire.send(post_raw_chunked("/s", b"%x\r\n%s\r\nZZZ\r\n0\r\n\r\n" % (len(big), big)))
        check_error(wire.read_response("POST"), 400)
        wire.expect_close()


def test_malformed_chunk_after_expect_gets_400(port: int) -> None:
    with Wire(port) as wire:
        wire.send(post_raw_chunked("/s", b"5\r\nhello\r\nZZZ\r\n0\r\n\r\n", b"Expect: 100-continue\r\n"))
        check_error(wire.read_response("POST"), 400)
        wire.expect_close()


def post_raw_chunked(target: str, chunked: bytes, extra: bytes = b"") -> bytes:
    head = b"POST %s HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n" % target.encode()
    return head + extra + b"\r\n" + chunked


def test_streamed_body_cut_by_eof_is_not_answered_200(port: int) -> None:
    # RFC 9112 §8: an incomplete request may get an error response before the close, never a 200: the app
    # must not have been handed a short body as if it were complete.
    with Wire(port) as wire:
        wire.send(b"POST /cut HTTP/1.1\r\nHost: h\r\nContent-Length: 2000000\r\n\r\n" + b"c" * 1_500_000)
        wire.half_close()
        expect_error_or_silent_close(wire, 400)


def test_stalled_small_body_is_cut(stall_port: int) -> None:
    # A body that stops arriving is cut after --body-timeout (the sweeper runs once a second, so allow more).
    with Wire(stall_port, timeout=BODY_TIMEOUT + 8) as wire:
        wire.send(b"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n\r\n0123456789")
        expect_error_or_silent_close(wire, 408)


def test_half_closed_client_gets_its_answers(port: int) -> None:
    # A client that sends its requests then shuts down its sending side (RFC 9112 §9.6 staged close from the
    # client's end) still gets every response, in order, then the close.
    with Wire(port) as wire:
        wire.send(get_raw("/1") + get_raw("/2"))
        wire.half_close()
        check_echo(wire.read_response("GET"), "GET", b"", "/1", "")
        check_echo(wire.read_response("GET"), "GET", b"", "/2", "")
        wire.expect_close()


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        # A head that never ends costs the server at most its limit, then 431 (RFC 6585 §5), not a hang.
        (b"GET / HTTP/1.1\r\nHost: h\r\nX: " + b"a" * (1 << 20), 431),
        (b"GET / HTTP/1.1\r\nHost: h\r\n" + b"X-Many: fields\r\n" * 60_000, 431),
        # RFC 9110 §15.5.15: 414 for a request line (target) longer than the server will parse.
        (b"GET /" + b"a" * (1 << 20), 414),
    ],
    ids=["1mib-field", "1mib-of-fields", "1mib-request-line"],
)
def test_megabyte_head_is_refused_not_buffered(port: int, raw: bytes, status: int) -> None:
    with Wire(port) as wire:
        started = time.monotonic()
        wire.send(raw)
        check_error(wire.read_response(), status)
        assert wire.at_eof()
        assert time.monotonic() - started < 5.0


def test_refused_head_closes_gracefully(port: int) -> None:
    with Wire(port) as wire:
        wire.send(b"GET / HTTP/1.1\r\nHost: h\r\nX: " + b"a" * (1 << 20))
        check_error(wire.read_response(), 431)
        assert wire.at_eof() and not wire.reset, "the connection was reset, not closed"


def test_rejected_upload_closes_gracefully(servers: dict[tuple[str, ...], ServerHandle]) -> None:
    with Wire(servers[BODY4].port) as wire:
        wire.send(b"POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 2000000\r\n\r\n" + b"u" * 2_000_000)
        check_error(wire.read_response("POST"), 413)
        assert wire.at_eof() and not wire.reset, "the connection was reset, not closed"


def test_slow_head_gets_408(port: int) -> None:
    # A client trickling header lines (slowloris) is cut at the head deadline with 408 (RFC 9110 §15.5.9,
    # "did not receive a complete request message within the time that it was prepared to wait") and a
    # close; the wait is bounded by the deadline plus the server's one-second sweep.
    with Wire(port) as wire:
        wire.send(b"GET / HTTP/1.1\r\nHost: h\r\n")
        started = time.monotonic()
        wire.sock.settimeout(0.25)
        got = b""
        while not got and time.monotonic() - started < HEADER_TIMEOUT + 4:
            try:
                wire.sock.sendall(b"X-Slow: 1\r\n")
                got = wire.sock.recv(65536)
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
        wire.sock.settimeout(5.0)
        wire.buf += got
        check_error(wire.read_response(), 408)
        assert wire.at_eof()


def test_slow_second_request_gets_408(port: int) -> None:
    # The head deadline also applies to a request after a keep-alive response.
    with Wire(port) as wire:
        wire.send(get_raw("/first") + b"GET /second HTTP/1.1\r\n")
        check_echo(wire.read_response("GET"), "GET", b"", "/first", "")
        wire.sock.settimeout(HEADER_TIMEOUT + 4)
        check_error(wire.read_response(), 408)
        assert wire.at_eof()


def test_idle_connection_is_not_answered(port: int) -> None:
    # A connection with no bytes at all gets nothing (no premature 408); at end-of-input it just closes.
    with Wire(port) as wire:
        expect_quiet(wire)
        wire.half_close()
        wire.expect_close()


def test_many_connections_in_parallel(port: int) -> None:
    # Fifty clients, each with two pipelined requests, all open at once: every answer arrives, in order.
    wires = [Wire(port) for _ in range(50)]
    try:
        for i, wire in enumerate(wires):
            wire.send(get_raw(f"/{i}/a") + post_raw(f"/{i}/b", str(i).encode()))
        for i, wire in enumerate(wires):
            check_echo(wire.read_response("GET"), "GET", b"", f"/{i}/a", "")
            check_echo(wire.read_response("POST"), "POST", str(i).encode(), f"/{i}/b", "")
    finally:
        for wire in wires:
            wire.sock.close()


def post_raw(target: str, body: bytes) -> bytes:
    return b"POST %s HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n%s" % (target.encode(), len(body), body)


def test_server_logged_no_internal_error(servers: dict[tuple[str, ...], ServerHandle]) -> None:
    """Runs last: nothing above made the server log a traceback (app failures include wsgiref.validate's)."""
    for handle in servers.values():
        assert handle.proc.poll() is None, "the server died"
        # One record per log line that starts with "[date"; a traceback belongs to the record before it.
        records = re.split(r"\n(?=\[\d{4}-)", handle.log())
        bad = [
            r
            for r in records
            if ("Traceback" in r or "Error in" in r) and not any(k in r for k in KNOWN_LOG_ERRORS)
        ]
        assert not bad, "\n".join(bad)[-3000:]


def test_wire_timeouts_are_bounded() -> None:
    """The client never waits unboundedly (a hanging server fails a case instead of stalling the run)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        wire = Wire(listener.getsockname()[1], timeout=0.2)
        with wire, pytest.raises(WireError, match="no answer"):
            wire.read_response()
