"""The response fields' HPACK encoder (sockweb.server.h2hpack) against the hpack package's decoder: every
block decodes to the fields it was made of, with no state carried from one block to the next."""

from __future__ import annotations

import pytest
from hpack import Decoder
from hpack.table import HeaderTable

from sockweb.server.h2hpack import ResponseEncoder

Fields = list[tuple[bytes, bytes]]

BLOCKS: list[Fields] = [
    [(b":status", b"200")],  # a whole static entry (index 8)
    [(b":status", b"404"), (b"content-type", b"text/plain"), (b"content-length", b"13")],  # static names
    [(b":status", b"200"), (b"x-new-name", b"v"), (b"x-empty", b"")],  # a name of its own, an empty value
    [(b":status", b"200"), (b"set-cookie", b"a=1"), (b"set-cookie", b"b=2")],  # repeated names
    [(b":status", b"200"), (b"x-long", b"v" * 126), (b"x-longer", b"w" * 127), (b"x-huge", b"z" * 70000)],
    [(b"x-" + b"n" * 200, b"1"), (b"date", b"Wed, 02 Dec 2026 03:00:00 GMT")],  # a name of 2 length bytes
    [(name, value) for name, value in HeaderTable.STATIC_TABLE],  # every static entry, whole
    [(name, value + b"-other") for name, value in HeaderTable.STATIC_TABLE],  # every static name
]


@pytest.mark.parametrize("fields", BLOCKS)
def test_blocks_decode_to_their_fields(fields: Fields) -> None:
    block = ResponseEncoder().encode(fields)
    assert Decoder(max_header_list_size=1 << 20).decode(block, raw=True) == fields


@pytest.mark.parametrize("allowed", [4096, 100, 0])
def test_one_decoder_reads_every_block_and_keeps_an_empty_table(allowed: int) -> None:
    encoder, decoder = ResponseEncoder(), Decoder(max_header_list_size=1 << 20)
    # The client's SETTINGS_HEADER_TABLE_SIZE, lowered before the first response or between two: the
    # decoder then requires a table size update at or below it (RFC 7541 §4.2).
    decoder.max_allowed_table_size = allowed
    for n, fields in enumerate(BLOCKS * 2):
        assert decoder.decode(encoder.encode(fields), raw=True) == fields
        decoder.max_allowed_table_size = 0 if n == 3 else decoder.max_allowed_table_size
    assert len(decoder.header_table.dynamic_entries) == 0 and decoder.header_table_size == 0


def test_the_allowed_table_size_is_taken_and_changes_nothing() -> None:
    encoder = ResponseEncoder()
    assert encoder.encode(BLOCKS[0]) == b"\x20\x88"  # the size update to 0 leads the first block only
    before = encoder.encode(BLOCKS[1])
    encoder.header_table_size = 0
    assert encoder.header_table_size == 0 and encoder.encode(BLOCKS[1]) == before


def test_integers_of_every_width() -> None:
    # RFC 7541 §5.1 (its C.1 examples): 10 in a 5-bit prefix, 1337 in a 5-bit prefix, 42 in 8 bits.
    from sockweb.server.h2hpack import _integer

    assert _integer(10, 5, 0) == b"\x0a"
    assert _integer(1337, 5, 0) == b"\x1f\x9a\x0a"
    assert _integer(42, 8, 0) == b"\x2a"
    assert _integer(31, 5, 0x20) == b"\x3f\x00"
