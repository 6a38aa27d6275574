"""The fuzz storm: many mutated or random requests, each on its own connection, counted by outcome.

Each case starts from one of a few valid requests (GET, POST with Content-Length, chunked POST, HTTP/1.0)
and applies one to three mutations drawn from a seeded RNG: bad bytes, NUL, huge fields, thousands of
fields, huge targets, bad Content-Length values, bad chunk framing, obs-fold, bare LF or CR, mangled
versions and methods, truncation, or plain random bytes. The client half-closes after sending, so the
server has all there is to read: every case must end in a status, a close or a reset before the bound.
Counts: status codes, ``close``, ``reset``, ``hang`` (must be 0); a liveness GET every 250 cases counts
``liveness-failed`` when the server stops answering ordinary requests.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from .servers import HEADER_TIMEOUT, Server
from .wire import Result, exchange, probe

BOUND = HEADER_TIMEOUT + 3
SEED = 20240601

BASES = (
    b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: fuzz\r\nAccept: */*\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world",
    b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    b"GET /hello?q=1 HTTP/1.0\r\nAccept: text/html\r\n\r\n",
)
BAD_BYTES = b'\x00\x01\x7f\xff\x0b\x0c\r\n \t:;"\\()<>@,/[]?={}'
BAD_LENGTHS = (
    b"-1",
    b"abc",
    b"1e3",
    b"0x10",
    b"99999999999999999999999",
    b"1,2",
    b" 5",
    b"+5",
    b"",
    b"5 5",
    b"\xb5",
)
BAD_CHUNKS = (
    b"zz\r\nhello\r\n0\r\n\r\n",
    b"ffffffffffffffffffff\r\nhello\r\n0\r\n\r\n",
    b"5\r\nhel",
    b"5;" + b"e" * 20000 + b"\r\nhello\r\n0\r\n\r\n",
    b"-1\r\nx\r\n0\r\n\r\n",
    b"0\r\n" + b"X-Trailer: " + b"t" * 100000 + b"\r\n\r\n",
    b"5\r\nhelloXX0\r\n\r\n",
    b"5\nhello\n0\n\n",
    b" 5\r\nhello\r\n0\r\n\r\n",
    b"5\r\nhello\r\n0x0\r\n\r\n",
)
VERSIONS = (
    b"HTTP/9.9",
    b"HTTP/1.1x",
    b"HTTP/01.1",
    b"http/1.1",
    b"HTTP/1.1 ",
    b"HTTP/1",
    b"HTTP/2.0",
    b"HTP/1.1",
)
METHODS = (b"G\x00T", b"", b"GET GET", b"X" * 5000, b"get", b"CONNECT", b"TRACE", b"PRI", b"\xffGET")

Mutation = Callable[[random.Random, bytes], bytes]


def _split(data: bytes) -> tuple[bytes, bytes]:
    head, sep, body = data.partition(b"\r\n\r\n")
    return head + sep, body


def _insert(rng: random.Random, data: bytes, piece: bytes) -> bytes:
    i = rng.randrange(len(data) + 1)
    return data[:i] + piece + data[i:]


def flip_byte(rng: random.Random, data: bytes) -> bytes:
    i = rng.randrange(len(data))
    return data[:i] + bytes([rng.randrange(256)]) + data[i + 1 :]


def bad_byte(rng: random.Random, data: bytes) -> bytes:
    return _insert(rng, data, bytes([rng.choice(BAD_BYTES)]))


def nul_in_field(rng: random.Random, data: bytes) -> bytes:
    return data.replace(b"Host: ", rng.choice((b"Host: \x00", b"Ho\x00st: ", b"Host: a\x00b")), 1)


def delete_span(rng: random.Random, data: bytes) -> bytes:
    i = rng.randrange(len(data))
    return data[:i] + data[i + rng.randrange(1, 20) :]


def duplicate_span(rng: random.Random, data: bytes) -> bytes:
    i = rng.randrange(len(data))
    j = min(len(data), i + rng.randrange(1, 40))
    return data[:j] + data[i:j] * rng.randrange(2, 50) + data[j:]


def huge_field(rng: random.Random, data: bytes) -> bytes:
    head, body = _split(data)
    size = rng.choice((9000, 70000, 1 << 20))
    return head[:-2] + b"X-Huge: " + b"a" * size + b"\r\n\r\n" + body


def many_fields(rng: random.Random, data: bytes) -> bytes:
    head, body = _split(data)
    fields = b"".join(b"X-F%d: v\r\n" % i for i in range(rng.choice((150, 1000, 5000))))
    return head[:-2] + fields + b"\r\n" + body


def huge_target(rng: random.Random, data: bytes) -> bytes:
    return data.replace(b" /", b" /" + b"p/" * rng.choice((4000, 40000)), 1)


def bad_length(rng: random.Random, data: bytes) -> bytes:
    value = rng.choice(BAD_LENGTHS)
    head, body = _split(data)
    if b"Content-Length: " in head:
        start = head.index(b"Content-Length: ") + 16
        return head[:start] + value + head[head.index(b"\r\n", start) :] + body
    return head[:-2] + b"Content-Length: " + value + b"\r\n\r\n" + body


def bad_chunking(rng: random.Random, data: bytes) -> bytes:
    head, _ = _split(data)
    if b"Transfer-Encoding" not in head:
        head = head[:-2] + b"Transfer-Encoding: chunked\r\n\r\n"
    return head + rng.choice(BAD_CHUNKS)


def obs_fold(rng: random.Random, data: bytes) -> bytes:
    return data.replace(b"\r\nHost: ", rng.choice((b"\r\nHost:\r\n 127.0.0.1\r\nX: ", b"\r\n Host: ")), 1)


def bare_lf(rng: random.Random, data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n", rng.choice((1, 2, -1)))


def bare_cr(rng: random.Random, data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\r", rng.choice((1, 2, -1)))


def mangle_version(rng: random.Random, data: bytes) -> bytes:
    return data.replace(b"HTTP/1.1", rng.choice(VERSIONS), 1).replace(b"HTTP/1.0", rng.choice(VERSIONS), 1)


def mangle_method(rng: random.Random, data: bytes) -> bytes:
    # An earlier mutation may have left no space (random bytes, a truncated line): then prefix the method.
    space = data.find(b" ")
    return rng.choice(METHODS) + (data[space:] if space >= 0 else b" " + data)


def truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(1, len(data))]


def space_before_colon(rng: random.Random, data: bytes) -> bytes:
    return data.replace(b"Host:", rng.choice((b"Host :", b"Host\t:", b" Host:", b"Host:: ")), 1)


def random_bytes(rng: random.Random, data: bytes) -> bytes:
    return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 2000)))


MUTATIONS: tuple[Mutation, ...] = (
    flip_byte, bad_byte, nul_in_field, delete_span, duplicate_span, huge_field, many_fields, huge_target,
    bad_length, bad_chunking, obs_fold, bare_lf, bare_cr, mangle_version, mangle_method, truncate,
    space_before_colon, random_bytes,
)  # fmt: skip


def cases(count: int, seed: int = SEED) -> list[bytes]:
    """`count` fuzzed requests, the same for the same seed."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        data = rng.choice(BASES)
        for _ in range(rng.choice((1, 1, 2, 3))):
            try:
                data = rng.choice(MUTATIONS)(rng, data) or b"\r\n"
            except ValueError:
                pass  # the mutation needs a part that an earlier one removed: the request stays as it was
        out.append(data)
    return out


def fuzz(server: Server, quick: bool) -> Result:
    count = 2000 if quick else 20000
    result = Result("fuzz", server.kind)
    start = time.monotonic()
    batch = 250
    all_cases = cases(count)
    with ThreadPoolExecutor(16) as pool:
        for i in range(0, count, batch):
            for outcome in pool.map(lambda raw: exchange(server.port, raw, BOUND), all_cases[i : i + batch]):
                result.counts[outcome] += 1
            if probe(server.port, timeout=BOUND) is None:
                result.counts["liveness-failed"] += 1
    result.counts["hang"] += 0  # always shown, even when zero
    result.numbers["requests"] = count
    result.numbers["seconds"] = round(time.monotonic() - start, 1)
    result.numbers["bound_s"] = BOUND
    return result
