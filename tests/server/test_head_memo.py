"""The head memo on the server: a repeated head's environ is the environ a fresh server builds.

A head kept in the parser's memo also keeps the part of its environ that the head and the listener decide;
the rest (REMOTE_ADDR/PORT, the proxy fixes, which depend on the peer) is set for each request. Each
request below goes to a server whose memos are warm and to a fresh server, from several peers and two
listeners, and the two environs must be equal, while the application changes every environ it gets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sockweb.server.protocol import HttpProtocol
from sockweb.server.state import ServerState
from sockweb.server.wsgi import environ_template

from .test_body_buffering import Transport, state_maker

pytestmark = pytest.mark.timeout(30)

SEEN: list[dict[str, Any]] = []


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    SEEN.append({k: v for k, v in environ.items() if isinstance(v, str | bool | tuple)})
    body = environ["wsgi.input"].read()
    # An application may change its environ: the next request with the same head must not see it.
    environ["PATH_INFO"] = "/changed"
    environ["HTTP_X_ADDED"] = "by the app"
    environ.pop("HTTP_HOST", None)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]


class PeerTransport(Transport):
    def __init__(self, peer: tuple[str, int]) -> None:
        super().__init__()
        self.peer = peer

    def get_extra_info(self, key: str) -> Any:
        return self.peer if key == "peername" else None


TEMPLATES = {
    8000: environ_template("127.0.0.1", "8000", "http", True),
    8443: environ_template("127.0.0.1", "8443", "https", True),
}


@pytest.fixture
def make_state() -> Iterator[Callable[..., ServerState]]:
    yield from state_maker(app)


def connect(state: ServerState, peer: tuple[str, int], port: int) -> tuple[HttpProtocol, PeerTransport]:
    conn = HttpProtocol(state, TEMPLATES[port], port == 8443)
    transport = PeerTransport(peer)
    conn.connection_made(transport)  # type: ignore[arg-type]
    return conn, transport


def environ_of(state: ServerState, raw: bytes, peer: tuple[str, int], port: int) -> dict[str, Any]:
    SEEN.clear()
    conn, transport = connect(state, peer, port)
    conn.data_received(raw)
    assert transport.written.startswith(b"HTTP/1.1 200 "), bytes(transport.written)
    assert len(SEEN) == 1
    return SEEN[0]


HEADS = [
    b"GET /a?x=1 HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\n\r\n",
    b"GET /b%20c HTTP/1.1\r\nHost: h\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n",
    b"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nContent-Type: text/plain\r\n\r\nbody",
    b"GET http://example.com/abs HTTP/1.1\r\nHost: ignored\r\n\r\n",
    b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
]
PEERS = [("127.0.0.1", 40001), ("10.0.0.9", 40002), ("127.0.0.1", 40003)]


def test_a_repeated_heads_environ_is_a_fresh_one(make_state: Callable[..., ServerState]) -> None:
    warm = make_state()
    for raw in HEADS:
        for peer in PEERS:
            for port in (8000, 8443):
                expected = environ_of(make_state(), raw, peer, port)
                # Sent three times on one connection: parsed, then kept, then taken from the memo.
                SEEN.clear()
                conn, transport = connect(warm, peer, port)
                conn.data_received(raw * 3)
                assert transport.written.count(b"HTTP/1.1 200 ") == 3 or b"HTTP/1.0" in raw
                assert SEEN and all(seen == expected for seen in SEEN), (raw, peer, port)
        assert environ_of(warm, raw, PEERS[1], 8000) == environ_of(make_state(), raw, PEERS[1], 8000)
    # The memos were used: every head was kept, with one environ per head (the last listener's).
    assert warm.head_memo is not None and len(warm.head_memo.requests) == len(HEADS)
    assert len(warm.environ_memo) == len(HEADS)


def test_proxy_fixes_follow_the_peer_not_the_memo(make_state: Callable[..., ServerState]) -> None:
    state = make_state()
    raw = HEADS[0]
    conn, _ = connect(state, PEERS[1], 8000)
    conn.data_received(raw * 2)  # now kept, with its environ from an untrusted peer
    for peer in PEERS * 2:
        env = environ_of(state, raw, peer, 8000)
        assert state.head_memo is not None and state.environ_memo
        trusted = peer[0] == "127.0.0.1"
        assert env["REMOTE_ADDR"] == ("203.0.113.7" if trusted else peer[0])
        assert env["wsgi.url_scheme"] == ("https" if trusted else "http")
        assert env == environ_of(make_state(), raw, peer, 8000)
    conn, _ = connect(state, PEERS[0], 8000)
    conn.data_received(raw)
    assert conn.parser is not None and conn.parser.repeated


def test_head_memo_zero_turns_both_memos_off(make_state: Callable[..., ServerState]) -> None:
    state = make_state(head_memo=0)
    assert state.head_memo is None
    conn, transport = connect(state, PEERS[0], 8000)
    conn.data_received(HEADS[1] * 4)
    assert transport.written.count(b"HTTP/1.1 200 ") == 4
    assert conn.parser is not None and not conn.parser.repeated
    assert len(state.environ_memo) == 0
