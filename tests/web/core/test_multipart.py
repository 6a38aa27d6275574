"""The multipart decoder: framing, limits, and linear cost on hostile input (counted, not timed)."""

from __future__ import annotations

import io
import random
from typing import Any, SupportsIndex

import pytest

from sockweb.web.formparser import BLOCK_SIZE, FormDataParser
from sockweb.web.multipart import (
    END,
    NEED_DATA,
    MultipartDecoder,
    MultipartError,
    MultipartLimitError,
    PartData,
    PartStart,
    encode_multipart,
)

BOUNDARY = b"----b0undary"
SAMPLE = (
    b"preamble to ignore\r\n"
    b"------b0undary\r\n"
    b'Content-Disposition: form-data; name="text"\r\n'
    b"\r\n"
    b"hello\r\nworld\r\n"
    b"------b0undary  \t\r\n"  # transport padding after the delimiter
    b'Content-Disposition: form-data; name="file"; filename="a.bin"\r\n'
    b"Content-Type: application/octet-stream\r\n"
    b"\r\n"
    b"\x00\r\n--\r\n------b0undar\r\n"
    b"------b0undary\r\n"
    b"\r\n"  # a part without headers
    b"bare\r\n"
    b"------b0undary--\r\n"
    b"epilogue, also ignored"
)
EXPECTED = [
    ([("content-disposition", 'form-data; name="text"')], b"hello\r\nworld"),
    (
        [
            ("content-disposition", 'form-data; name="file"; filename="a.bin"'),
            ("content-type", "application/octet-stream"),
        ],
        b"\x00\r\n--\r\n------b0undar",
    ),
    ([], b"bare"),
]


def decode(
    chunks: list[bytes], boundary: bytes = BOUNDARY, **limits: Any
) -> list[tuple[list[tuple[str, str]], bytes]]:
    """Feed ``chunks`` (then EOF) to a decoder; the parts as ``(headers, content)``."""
    decoder = MultipartDecoder(boundary, **limits)
    parts: list[tuple[list[tuple[str, str]], bytes]] = []
    pending = iter([*chunks, b""])
    while True:
        event = decoder.next_event()
        if event is NEED_DATA:
            decoder.feed(next(pending))
        elif event is END:
            assert decoder.complete
            return parts
        elif isinstance(event, PartStart):
            parts.append((event.headers, b""))
        else:
            assert isinstance(event, PartData)
            headers, data = parts[-1]
            parts[-1] = (headers, data + event.data)


def test_whole() -> None:
    assert decode([SAMPLE]) == EXPECTED


def test_byte_by_byte() -> None:
    assert decode([SAMPLE[i : i + 1] for i in range(len(SAMPLE))]) == EXPECTED


@pytest.mark.parametrize("seed", range(20))
def test_random_splits(seed: int) -> None:
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(SAMPLE)), rng.randint(1, 30)))
    chunks = [SAMPLE[a:b] for a, b in zip([0, *cuts], [*cuts, len(SAMPLE)], strict=True)]
    assert decode(chunks) == EXPECTED


def test_boundary_at_start_and_no_trailing_crlf() -> None:
    body = b"------b0undary\r\nA: b\r\n\r\nx\r\n------b0undary--"
    assert decode([body]) == [([("a", "b")], b"x")]


def test_end_is_sticky_and_epilogue_ignored() -> None:
    decoder = MultipartDecoder(BOUNDARY)
    decoder.feed(b"------b0undary--\r\n")
    assert decoder.next_event() is END
    decoder.feed(b"more junk")
    assert decoder.next_event() is END


@pytest.mark.parametrize(
    "body",
    [
        b"",  # no delimiter at all
        b"------b0undary\r\nA: b\r\n\r\nunterminated part",
        b"------b0undary\r\nA: b\r\n",  # headers never end
        b"------b0undaryX\r\n\r\n\r\n------b0undary--",  # garbage after the delimiter
        b"------b0undary\r\nno colon here\r\n\r\nx\r\n------b0undary--",
        b"------b0undary\r\nA: b\r\n folded: line\r\n\r\nx\r\n------b0undary--",
        b"------b0undary\r\n: empty name\r\n\r\nx\r\n------b0undary--",
        b"------b0undary" + b" " * 2000 + b"\r\n\r\nx\r\n------b0undary--",
    ],
)
def test_malformed(body: bytes) -> None:
    with pytest.raises(MultipartError):
        decode([body])


@pytest.mark.parametrize("boundary", [b"", b"a\r\nb", b"x" * 201])
def test_invalid_boundary(boundary: bytes) -> None:
    with pytest.raises(MultipartError):
        MultipartDecoder(boundary)


def test_limits() -> None:
    huge_header = b"------b0undary\r\nX: " + b"a" * 10_000 + b"\r\n\r\nx\r\n------b0undary--"
    with pytest.raises(MultipartLimitError):
        decode([huge_header])
    with pytest.raises(MultipartLimitError):
        decode([huge_header[i : i + 100] for i in range(0, len(huge_header), 100)])
    many_headers = b"------b0undary\r\n" + b"X: y\r\n" * 40 + b"\r\nx\r\n------b0undary--"
    with pytest.raises(MultipartLimitError):
        decode([many_headers])
    many_parts = b"------b0undary\r\n\r\nx\r\n" * 11 + b"------b0undary--"
    with pytest.raises(MultipartLimitError):
        decode([many_parts], max_parts=10)
    assert len(decode([many_parts], max_parts=11)) == 11


class CountingBuffer(bytearray):
    """A bytearray that counts how many bytes each ``find`` may examine."""

    scanned = 0
    finds = 0

    def find(self, sub: Any, start: SupportsIndex | None = None, end: SupportsIndex | None = None) -> int:
        CountingBuffer.finds += 1
        CountingBuffer.scanned += len(self) - (int(start) if start is not None else 0)
        return super().find(sub, start, end)


def scan_cost(body: bytes, block: int) -> tuple[int, int, int]:
    """(bytes examined by find, number of events, largest buffer) to decode ``body`` fed in blocks."""
    CountingBuffer.scanned = CountingBuffer.finds = 0
    decoder = MultipartDecoder(BOUNDARY)
    decoder._buffer = CountingBuffer(decoder._buffer)
    stream = io.BytesIO(body)
    events = largest = 0
    while True:
        event = decoder.next_event()
        events += 1
        largest = max(largest, len(decoder._buffer))
        if event is NEED_DATA:
            decoder.feed(stream.read(block))
        elif event is END:
            return CountingBuffer.scanned, events, largest


def part_of(content: bytes) -> bytes:
    return (
        b"------b0undary\r\nContent-Disposition: form-data; name=f\r\n\r\n"
        + content
        + b"\r\n------b0undary--\r\n"
    )


@pytest.mark.parametrize(
    "content",
    [
        b"a" * (20 << 20),  # 20 MB, no newline at all
        b"\r" * (4 << 20),  # every byte could start a delimiter
        (b"\r\n------b0undar" + b"x") * (1 << 18),  # ~4 MB of near-miss delimiters
    ],
    ids=["no-newline-20MB", "all-CR-4MB", "near-misses-4MB"],
)
def test_part_content_scan_is_linear(content: bytes) -> None:
    body = part_of(content)
    scanned, events, largest = scan_cost(body, BLOCK_SIZE)
    # Each byte is examined about once (plus the kept tail per block): a quadratic scan would be
    # thousands of times the body size.
    assert scanned <= 2 * len(body)
    assert events <= 3 * (len(body) // BLOCK_SIZE + 1) + 10
    assert largest <= BLOCK_SIZE + len(BOUNDARY) + 4


def test_header_scan_is_incremental() -> None:
    body = b"------b0undary\r\n" + b"X: " + b"a" * 8000 + b"\r\n\r\nx\r\n------b0undary--"
    scanned, _, _ = scan_cost(body, 1)  # the worst case: one byte per feed
    assert scanned <= 8 * len(body)


def test_form_parser_20mb_no_newline_upload() -> None:
    size = 20 << 20
    body, content_type = encode_multipart([("note", "hi"), ("upload", (b"z" * size, "big.bin", None))])
    reads = 0

    class CountingStream(io.BytesIO):
        def read(self, n: int | None = -1) -> bytes:
            nonlocal reads
            reads += 1
            return super().read(n)

    options = {"boundary": content_type.split("boundary=")[1]}
    _, form, files = FormDataParser().parse(CountingStream(body), "multipart/form-data", len(body), options)
    try:
        assert form["note"] == "hi"
        upload = files["upload"]
        assert upload.filename == "big.bin"
        assert upload.stream.read(10) == b"z" * 10
        upload.stream.seek(0, io.SEEK_END)
        assert upload.stream.tell() == size
        assert getattr(upload.stream, "_rolled", True)  # spooled to disk past the threshold
        assert reads <= len(body) // BLOCK_SIZE + 3
    finally:
        upload.close()


def test_encode_multipart_roundtrip_names() -> None:
    body, content_type = encode_multipart([('we"ird\nname', "v"), ("f", (b"data", "ü.txt", "text/plain"))])
    options = {"boundary": content_type.split("boundary=")[1]}
    _, form, files = FormDataParser().parse(io.BytesIO(body), "multipart/form-data", len(body), options)
    # browsers percent-encode quotes and newlines in names; %22 is decoded back, a newline never is
    assert form['we"ird%0Aname'] == "v"
    assert files["f"].filename == "ü.txt"
    files["f"].close()


def test_parse_form_data_and_stream_factory() -> None:
    from sockweb.web.formparser import parse_form_data
    from sockweb.web.testing import create_environ

    created: list[tuple[int | None, str | None, str | None]] = []

    def factory(length: int | None, content_type: str | None, filename: str | None) -> io.BytesIO:
        created.append((length, content_type, filename))
        return io.BytesIO()

    environ = create_environ(method="POST", data={"a": "1", "f": (b"xyz", "f.txt", "text/plain")})
    stream, form, files = parse_form_data(environ, stream_factory=factory)
    assert form["a"] == "1" and files["f"].read() == b"xyz"
    # the factory learns the size of the whole body (to choose memory or disk), not of the part
    assert created == [(int(environ["CONTENT_LENGTH"]), "text/plain", "f.txt")]
    assert stream.read() == b""  # the body was consumed by the parser


def test_parser_limits_and_unknown_types() -> None:
    from sockweb.web.exceptions import RequestEntityTooLarge

    parser = FormDataParser(max_content_length=10)
    with pytest.raises(RequestEntityTooLarge):
        parser.parse(io.BytesIO(b"a=1"), "application/x-www-form-urlencoded", 11)
    _, form, files = FormDataParser().parse(io.BytesIO(b"<xml/>"), "application/xml", 6)
    assert not form and not files
    unlimited = FormDataParser(max_form_memory_size=None)
    assert unlimited.parse(io.BytesIO(b"a=" + b"x" * 10_000), "application/x-www-form-urlencoded", None)[1][
        "a"
    ]


def test_part_headers_that_are_not_tokens_are_dropped_from_file_headers() -> None:
    body = (
        b"--b\r\nContent-Disposition: form-data; name=f; filename=a.txt\r\nX Bad Name: v\r\n"
        b"Content-Type: text/plain\r\n\r\ndata\r\n--b--\r\n"
    )
    _, _form, files = FormDataParser().parse(
        io.BytesIO(body), "multipart/form-data", len(body), {"boundary": "b"}
    )
    storage = files["f"]
    assert storage.content_type == "text/plain" and "X Bad Name" not in storage.headers
    storage.close()


def test_parts_without_a_name_are_skipped() -> None:
    body = b"--b\r\nContent-Disposition: attachment\r\n\r\nignored\r\n--b\r\n\r\nno headers\r\n--b--\r\n"
    _, form, files = FormDataParser().parse(
        io.BytesIO(body), "multipart/form-data", len(body), {"boundary": "b"}
    )
    assert not form and not files
