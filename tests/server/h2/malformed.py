"""Header blocks that break one of HTTP/2's field rules each (RFC 9113 §8.2.1, §8.2.2, §8.3), shared by
the unit tests of sockweb.server.h2fields and the end-to-end corpus of bad input."""

from __future__ import annotations

Fields = list[tuple[bytes, bytes]]

BASE: Fields = [
    (b":method", b"GET"),
    (b":scheme", b"http"),
    (b":authority", b"example.test"),
    (b":path", b"/hello"),
]


def _without(name: bytes) -> Fields:
    return [f for f in BASE if f[0] != name]


def _replace(name: bytes, value: bytes) -> Fields:
    return [(n, value if n == name else v) for n, v in BASE]


# name -> the request's fields
MALFORMED: dict[str, Fields] = {
    # §8.2.1: names
    "uppercase name": [*BASE, (b"X-Up", b"1")],
    "space in a name": [*BASE, (b"x y", b"1")],
    "control in a name": [*BASE, (b"x\x01y", b"1")],
    "colon in a name": [*BASE, (b"x:y", b"1")],
    "non-ASCII name": [*BASE, (b"x\xe9", b"1")],
    "DEL in a name": [*BASE, (b"x\x7f", b"1")],
    "empty name": [*BASE, (b"", b"1")],
    # §8.2.1: values
    "NUL in a value": [*BASE, (b"x-a", b"a\x00b")],
    "LF in a value": [*BASE, (b"x-a", b"a\nb")],
    "CR in a value": [*BASE, (b"x-a", b"a\rb")],
    "leading space in a value": [*BASE, (b"x-a", b" a")],
    "trailing tab in a value": [*BASE, (b"x-a", b"a\t")],
    "CR LF in a pseudo value": _replace(b":path", b"/a\r\nx-injected: 1"),
    "NUL in :authority": _replace(b":authority", b"a\x00b"),
    "CR in :method": _replace(b":method", b"GET\r"),
    "LF in :scheme": _replace(b":scheme", b"http\n"),
    "NUL in a name": [*BASE, (b"x\x00y", b"1")],
    "space around :authority": _replace(b":authority", b"example.test "),
    # §8.2.2: connection-specific fields, TE
    "Connection": [*BASE, (b"connection", b"keep-alive")],
    "Keep-Alive": [*BASE, (b"keep-alive", b"timeout=5")],
    "Proxy-Connection": [*BASE, (b"proxy-connection", b"keep-alive")],
    "Transfer-Encoding": [*BASE, (b"transfer-encoding", b"chunked")],
    "Upgrade": [*BASE, (b"upgrade", b"websocket")],
    "TE other than trailers": [*BASE, (b"te", b"gzip")],
    # §8.3: pseudo-header fields
    "pseudo after a regular field": [*BASE[:3], (b"x-a", b"1"), BASE[3]],
    "pseudo after Host": [*BASE[:3], (b"host", b"example.test"), BASE[3]],
    "duplicate :path": [*BASE, (b":path", b"/other")],
    "unknown pseudo": [*BASE, (b":foo", b"1")],
    "response pseudo :status": [*BASE, (b":status", b"200")],
    ":protocol (extended CONNECT not offered)": [*BASE, (b":protocol", b"websocket")],
    "no :method": _without(b":method"),
    "no :scheme": _without(b":scheme"),
    "no :path": _without(b":path"),
    "empty :path": _replace(b":path", b""),
    "CONNECT with :path": [*_replace(b":method", b"CONNECT")],
    # §8.3.1: the host
    "neither :authority nor Host": _without(b":authority"),
    "Host differs from :authority": [*BASE, (b"host", b"other.test")],
    "two Host fields": [*_without(b":authority"), (b"host", b"a.test"), (b"host", b"a.test")],
}
