"""Trusted proxy headers, the PROXY protocol parser, and real nginx in front of sockweb (TCP and unix)."""

from __future__ import annotations

import json
import socket
import struct
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from ops_helpers import NginxFront

from sockweb.server.config import Config
from sockweb.server.proxy import AllowList, ProxyFixer, parse_forwarded
from sockweb.server.proxyproto import V2_SIGNATURE, ProxyInfo, ProxyProtocolParser

pytestmark = pytest.mark.timeout(60)


# --- ProxyFixer ------------------------------------------------------------------------------------------


def _fix(
    environ: dict[str, object],
    allow: tuple[str, ...] = ("127.0.0.1", "::1", "unix"),
    family: str = "x-forwarded",
    fields: tuple[str, ...] = ("for", "proto", "host", "port"),
) -> dict[str, object]:
    env: dict[str, object] = {"REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http", "SERVER_PORT": "8000"}
    env.update(environ)
    config = Config(forwarded_allow_ips=allow, forwarded_headers=family, forwarded_fields=fields)
    fixer = ProxyFixer.from_config(config)
    assert fixer is not None
    fixer.apply(env)
    return env


def test_x_forwarded_from_a_trusted_peer() -> None:
    env = _fix(
        {
            "HTTP_X_FORWARDED_FOR": "203.0.113.7",
            "HTTP_X_FORWARDED_PROTO": "https",
            "HTTP_X_FORWARDED_HOST": "example.com",
        }
    )
    assert env["REMOTE_ADDR"] == "203.0.113.7" and env["wsgi.url_scheme"] == "https"
    assert env["HTTP_HOST"] == "example.com" and env["SERVER_NAME"] == "example.com"
    assert env["SERVER_PORT"] == "443"
    assert env["sockweb.proxy.original"] == {  # type: ignore[comparison-overlap]
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": None,
        "wsgi.url_scheme": "http",
        "HTTP_HOST": None,
        "SERVER_PORT": "8000",
    }


def test_headers_from_an_untrusted_peer_are_ignored() -> None:
    headers = {
        "HTTP_X_FORWARDED_FOR": "1.1.1.1",
        "HTTP_X_FORWARDED_PROTO": "https",
        "HTTP_FORWARDED": "for=1.1.1.1",
    }
    env = _fix({"REMOTE_ADDR": "198.51.100.9", **headers})
    assert env["REMOTE_ADDR"] == "198.51.100.9" and env["wsgi.url_scheme"] == "http"
    assert "sockweb.proxy.original" not in env
    env = _fix({"REMOTE_ADDR": "", **headers}, allow=("127.0.0.1",))  # unix peer, 'unix' not listed
    assert env["REMOTE_ADDR"] == ""


def test_rightmost_untrusted_hop_defeats_spoofing() -> None:
    # The client sent "X-Forwarded-For: 6.6.6.6"; our two proxies appended the real client and themselves.
    env = _fix(
        {
            "HTTP_X_FORWARDED_FOR": "6.6.6.6, 203.0.113.7, 10.0.0.2",
            "HTTP_X_FORWARDED_PROTO": "http, https, https",
        },
        allow=("127.0.0.1", "10.0.0.0/8"),
    )
    assert env["REMOTE_ADDR"] == "203.0.113.7"
    assert env["wsgi.url_scheme"] == "https"
    everything = _fix({"HTTP_X_FORWARDED_FOR": "6.6.6.6, 203.0.113.7"}, allow=("*",))
    assert everything["REMOTE_ADDR"] == "6.6.6.6"  # with '*' every hop is trusted: the leftmost one wins


def test_forwarded_rfc7239() -> None:
    env = _fix(
        {"HTTP_FORWARDED": 'for=192.0.2.60;proto=https;host="api.example.com:8443", for=127.0.0.1'},
        family="forwarded",
    )
    assert env["REMOTE_ADDR"] == "192.0.2.60" and env["wsgi.url_scheme"] == "https"
    assert (env["HTTP_HOST"], env["SERVER_NAME"], env["SERVER_PORT"]) == (
        "api.example.com:8443",
        "api.example.com",
        "8443",
    )
    env = _fix(
        {"HTTP_FORWARDED": 'For="[2001:db8:cafe::17]:4711"', "HTTP_X_FORWARDED_FOR": "9.9.9.9"},
        family="forwarded",
    )
    assert env["REMOTE_ADDR"] == "2001:db8:cafe::17" and env["REMOTE_PORT"] == "4711"
    assert "HTTP_X_FORWARDED_FOR" not in env  # the other family is dropped, never merged
    assert parse_forwarded("for=a;for=b") is None
    assert parse_forwarded("for=1.2.3.4 garbage") is None
    assert parse_forwarded('for=_hidden;by="x\\"y", proto=http') == [
        {"for": "_hidden", "by": 'x"y'},
        {"proto": "http"},
    ]


def test_invalid_values_are_not_applied() -> None:
    env = _fix(
        {
            "HTTP_X_FORWARDED_FOR": "not-an-ip",
            "HTTP_X_FORWARDED_PROTO": "javascript",
            "HTTP_X_FORWARDED_HOST": "evil.com/path x",
            "HTTP_X_FORWARDED_PORT": "99999",
        }
    )
    assert env["REMOTE_ADDR"] == "127.0.0.1" and env["wsgi.url_scheme"] == "http"
    assert "HTTP_HOST" not in env and env["SERVER_PORT"] == "8000"


def test_allow_list() -> None:
    allow = AllowList(["10.0.0.0/8", "::1", "unix"])
    assert "10.1.2.3" in allow and "::ffff:10.1.2.3" in allow and "::1" in allow and "" in allow
    assert "11.0.0.1" not in allow and "garbage" not in allow
    with pytest.raises(ValueError, match="bad entry 'nope'"):
        AllowList(["nope"])
    assert ProxyFixer.from_config(Config(forwarded_allow_ips=("127.0.0.1",))) is not None


def test_no_forwarded_headers_is_a_no_op() -> None:
    env = {"REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http"}
    fixer = ProxyFixer.from_config(Config())
    assert fixer is not None
    fixer.apply(env)
    assert env == {"REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http"}


# --- PROXY protocol parser ------------------------------------------------------------------------------


def _feed_bytewise(data: bytes) -> tuple[ProxyInfo | None, bytes]:
    parser = ProxyProtocolParser()
    for i in range(len(data)):
        info, rest = parser.feed(data[i : i + 1])
        if info is not None:
            return info, rest + data[i + 1 :]
    return None, b""


V1_CASES = [
    (b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n", ProxyInfo(1, "PROXY", "TCP4", "192.0.2.1", 56324, "198.51.100.2", 443)),
    (b"PROXY TCP6 2001:db8::1 ::1 1 65535\r\n", ProxyInfo(1, "PROXY", "TCP6", "2001:db8::1", 1, "::1", 65535)),
    (b"PROXY UNKNOWN\r\n", ProxyInfo(1, "PROXY", "UNKNOWN")),
    (b"PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n", ProxyInfo(1, "PROXY", "UNKNOWN")),
]  # fmt: skip


@pytest.mark.parametrize(("header", "expected"), V1_CASES)
def test_proxy_v1(header: bytes, expected: ProxyInfo) -> None:
    assert ProxyProtocolParser().feed(header + b"GET / HTTP/1.1\r\n") == (expected, b"GET / HTTP/1.1\r\n")
    assert _feed_bytewise(header + b"GET") == (expected, b"GET")


@pytest.mark.parametrize(
    "header",
    [
        b"GET / HTTP/1.1\r\n",
        b"PROXY TCP4 192.0.2.1 198.51.100.2 56324\r\n",
        b"PROXY TCP4 192.0.2.1 198.51.100.2 056324 443\r\n",
        b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 65536\r\n",
        b"PROXY TCP4 2001:db8::1 198.51.100.2 1 2\r\n",
        b"PROXY TCP4 192.0.2.1  198.51.100.2 1 2\r\n",
        b"PROXY TCP5 192.0.2.1 198.51.100.2 1 2\r\n",
        b"PROXY TCP4 192.0.2.1 198.51.100.2 1 2\n",
        b"PROXY " + b"A" * 120 + b"\r\n",
        b"PROXY TCP4 192.0.2.1 198.51.100.2 1 2\x00\r\n",
    ],
)
def test_proxy_v1_rejects(header: bytes) -> None:
    with pytest.raises(ValueError):
        ProxyProtocolParser().feed(header)
    with pytest.raises(ValueError):
        _feed_bytewise(header)


def _v2(command: int, family: int, addresses: bytes, tlvs: bytes = b"") -> bytes:
    body = addresses + tlvs
    return V2_SIGNATURE + bytes([0x20 | command, family]) + struct.pack("!H", len(body)) + body


def test_proxy_v2() -> None:
    tcp4 = _v2(
        1, 0x11, socket.inet_aton("192.0.2.1") + socket.inet_aton("192.0.2.2") + struct.pack("!HH", 1234, 443)
    )
    info, rest = ProxyProtocolParser().feed(tcp4 + b"GET")
    assert info == ProxyInfo(2, "PROXY", "TCP4", "192.0.2.1", 1234, "192.0.2.2", 443) and rest == b"GET"
    assert info.client == ("192.0.2.1", 1234)
    assert _feed_bytewise(tcp4 + b"x") == (info, b"x")
    six = socket.inet_pton(socket.AF_INET6, "2001:db8::1") + socket.inet_pton(socket.AF_INET6, "::1")
    tlv = bytes([0x04]) + struct.pack("!H", 3) + b"abc"
    info, _ = ProxyProtocolParser().feed(_v2(1, 0x21, six + struct.pack("!HH", 5, 6), tlv))
    assert info is not None and (info.source, info.destination, info.tlvs) == (
        "2001:db8::1",
        "::1",
        ((4, b"abc"),),
    )
    local, rest = ProxyProtocolParser().feed(_v2(0, 0x00, b"") + b"GET")
    assert local == ProxyInfo(2, "LOCAL", "UNSPEC") and local.client is None and rest == b"GET"


@pytest.mark.parametrize(
    "header",
    [
        V2_SIGNATURE[:-1] + b"X" + b"\x21\x11\x00\x0c" + bytes(12),  # bad signature
        V2_SIGNATURE + b"\x31\x11\x00\x0c" + bytes(12),  # version 3
        V2_SIGNATURE + b"\x22\x11\x00\x0c" + bytes(12),  # command 2
        V2_SIGNATURE + b"\x21\x41\x00\x0c" + bytes(12),  # unknown family
        V2_SIGNATURE + b"\x21\x11\x00\x04" + bytes(4),  # address block too short
        V2_SIGNATURE + b"\x21\x11\x00\x10" + bytes(12) + b"\x01\x00\x09\x00",  # TLV past the end
        V2_SIGNATURE + b"\x21\x11\xff\xff",  # larger than allowed: refused before buffering it
    ],
)
def test_proxy_v2_rejects(header: bytes) -> None:
    with pytest.raises(ValueError):
        ProxyProtocolParser().feed(header + bytes(64))


def test_proxy_parser_waits_for_more() -> None:
    parser = ProxyProtocolParser()
    assert parser.feed(b"PROXY TCP4 1.2.3.4") == (None, b"")
    assert parser.feed(b" 5.6.7.8 1 2\r") == (None, b"")
    info, rest = parser.feed(b"\nrest")
    assert info is not None and info.source == "1.2.3.4" and rest == b"rest"


# --- the real server -------------------------------------------------------------------------------------


def test_forwarded_headers_through_the_real_server(serve) -> None:
    server = serve()
    info = server.get(headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"})
    assert info["remote_addr"] == "203.0.113.9" and info["scheme"] == "https"
    untrusted = serve("--forwarded-allow-ips", "10.0.0.1")
    info = untrusted.get(headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"})
    assert info["remote_addr"] == "127.0.0.1" and info["scheme"] == "http"


def _raw(server, payload: bytes) -> bytes:  # type: ignore[no-untyped-def]
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(payload)
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except ConnectionResetError:
            pass
    return data


_REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


def test_proxy_protocol_through_the_real_server(serve) -> None:
    server = serve("--proxy-protocol")
    for header in (
        b"PROXY TCP4 203.0.113.5 127.0.0.1 40000 80\r\n",
        _v2(
            1,
            0x11,
            socket.inet_aton("203.0.113.5") + socket.inet_aton("127.0.0.1") + struct.pack("!HH", 40000, 80),
        ),
    ):
        data = _raw(server, header + _REQUEST)
        assert b" 200 " in data.split(b"\r\n", 1)[0]
        info = json.loads(data.split(b"\r\n\r\n", 1)[1])
        assert (info["remote_addr"], info["remote_port"]) == ("203.0.113.5", "40000")
    # A LOCAL header (health check) keeps the real peer; a malformed header closes the connection.
    data = _raw(server, _v2(0, 0x00, b"") + _REQUEST)
    assert json.loads(data.split(b"\r\n\r\n", 1)[1])["remote_addr"] == "127.0.0.1"
    assert _raw(server, b"PROXY TCP4 300.0.0.1 127.0.0.1 1 2\r\n" + _REQUEST) == b""
    assert _raw(server, _REQUEST) == b""  # no header at all from a proxy peer: refused


def test_proxy_protocol_is_not_parsed_from_untrusted_peers(serve) -> None:
    server = serve("--proxy-protocol", "--forwarded-allow-ips", "10.0.0.1")
    data = _raw(server, b"PROXY TCP4 203.0.113.5 127.0.0.1 40000 80\r\n" + _REQUEST)
    assert data.startswith(b"HTTP/1.1 400 ")  # the header is just a bad request line from this peer


# --- real nginx in front ---------------------------------------------------------------------------------

_LOCATIONS = """
        location /tcp/ {
            proxy_pass http://over_tcp;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }
        location /unix/ {
            proxy_pass http://over_unix;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }
"""


@pytest.fixture
def nginx_in_front(serve, app_dir: Path, nginx_binary: str) -> Iterator[Callable[..., NginxFront]]:
    started: list[NginxFront] = []

    def start(*args: str) -> NginxFront:
        sock = str(app_dir / f"app{len(started)}.sock")
        server = serve("--bind", "127.0.0.1:0", "--bind", f"unix:{sock}", *args, bind=False)
        upstreams = f"upstream over_tcp {{ server 127.0.0.1:{server.port}; }}\n"
        upstreams += f"upstream over_unix {{ server unix:{sock}; }}"
        proxy = NginxFront(nginx_binary, app_dir, upstreams, _LOCATIONS)
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.stop()


@pytest.mark.nginx
@pytest.mark.parametrize("workers", ["1", "2"])
def test_nginx_in_front_over_tcp_and_unix(nginx_in_front, workers: str) -> None:  # type: ignore[no-untyped-def]
    nginx = nginx_in_front("--workers", workers)
    for path in ("/tcp/x", "/unix/x"):
        plain = nginx.get(path)
        assert (plain["remote_addr"], plain["scheme"], plain["path"]) == ("127.0.0.2", "http", path)
        assert plain["host"] == f"127.0.0.1:{nginx.plain}"
        secure = nginx.get(path, tls=True)
        assert (secure["remote_addr"], secure["scheme"]) == ("127.0.0.2", "https")


@pytest.mark.nginx
def test_nginx_headers_ignored_when_nginx_is_not_trusted(nginx_in_front) -> None:  # type: ignore[no-untyped-def]
    nginx = nginx_in_front("--forwarded-allow-ips", "10.9.9.9")
    tcp = nginx.get("/tcp/x", tls=True)
    assert (tcp["remote_addr"], tcp["scheme"]) == (
        "127.0.0.1",
        "http",
    )  # nginx's own address, not the client's
    unix = nginx.get("/unix/x", tls=True)
    assert (unix["remote_addr"], unix["scheme"]) == ("", "http")
