"""HPACK (RFC 7541) for the response fields of HTTP/2 streams, without a dynamic table.

Strategy: a field whose name and value are in the static table (RFC 7541 Appendix A, e.g. ``:status
200``) is one index; any other is a literal "without indexing" (§6.2.2), naming the static table's entry
when its name is there, and written raw (no Huffman code, §5.2 allows either). Nothing is ever added to
the dynamic table, and the first block starts by setting its size to 0 (a dynamic table size update,
§6.3): decoders hold the size in effect (4096 until told otherwise) against the client's
SETTINGS_HEADER_TABLE_SIZE and, when the client lowers that below it, require an update in the next
block (§4.2); from 0 no setting is lower, so after its first block the encoder has no state at all.

Why not the hpack package's encoder that h2 brings: per field it searches both tables, logs, and
Huffman-codes each new literal in pure Python, about an eighth of a small request's cost. The price
here is bytes: fields the client would have indexed (content-type, server, date) are sent in full on
each response, some 50 bytes more per small response, as nginx's encoder did for years. The client's
side (our decoder of request fields) is unchanged: h2's, with its dynamic table and the header-list
bound. `H2Protocol` puts this encoder in the place of h2's (``H2Connection.encoder``, which h2 only
calls ``encode`` on and sets ``header_table_size`` of).
"""

from __future__ import annotations

from collections.abc import Iterable

from hpack.table import HeaderTable

__all__ = ["ResponseEncoder"]


def _integer(value: int, prefix_bits: int, first: int) -> bytes:
    """RFC 7541 §5.1: `value` in a `prefix_bits`-bit prefix whose first byte also carries `first`."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes((first | value,))
    out = bytearray((first | limit,))
    value -= limit
    while value >= 128:
        out.append(value & 127 | 128)
        value >>= 7
    out.append(value)
    return bytes(out)


# RFC 7541 Appendix A, 1-based: the index of each whole entry, and the first entry of each name.
_FULL: dict[tuple[bytes, bytes], bytes] = {}
_NAMES: dict[bytes, bytes] = {}
for _index, (_name, _value) in enumerate(HeaderTable.STATIC_TABLE, 1):
    _FULL.setdefault((_name, _value), _integer(_index, 7, 0x80))  # §6.1: indexed field
    _NAMES.setdefault(_name, _integer(_index, 4, 0x00))  # §6.2.2: literal without indexing, indexed name
del _index, _name, _value
# Value lengths below 127 are one byte (H bit 0: a raw string, §5.2).
_LENGTHS = [bytes((n,)) for n in range(127)]


class ResponseEncoder:
    """HPACK without a dynamic table; see the module docstring. One per connection."""

    __slots__ = ("start", "table_size_allowed")

    def __init__(self) -> None:
        self.table_size_allowed = 4096  # what the client allows (never used: nothing is indexed)
        self.start = b"\x20"  # §6.3: the dynamic table size is 0 (001 prefix, 5-bit 0), once

    @property
    def header_table_size(self) -> int:
        return self.table_size_allowed

    @header_table_size.setter
    def header_table_size(self, value: int) -> None:
        # The client's SETTINGS_HEADER_TABLE_SIZE: a bound on a table this encoder leaves empty.
        self.table_size_allowed = value

    def encode(self, headers: Iterable[tuple[bytes, bytes]], huffman: bool = False) -> bytes:
        """The header block of `headers` (lowercase bytes names; h2 passes them as such)."""
        lengths = _LENGTHS
        out = [self.start]
        self.start = b""
        for name, value in headers:
            full = _FULL.get((name, value))
            if full is not None:
                out.append(full)
                continue
            prefix = _NAMES.get(name)
            if prefix is None:
                size = len(name)
                out.append(b"\x00" + (lengths[size] if size < 127 else _integer(size, 7, 0)) + name)
            else:
                out.append(prefix)
            size = len(value)
            out.append(lengths[size] if size < 127 else _integer(size, 7, 0))
            out.append(value)
        return b"".join(out)
