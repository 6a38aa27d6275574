"""Byte ranges: the Range request header and the Content-Range response header (RFC 9110 §14).

Strategy: a Range header is all-or-nothing (one bad spec and it is ignored, as §14.2 allows), numbers are
bounded in length, the number of ranges is capped, and :meth:`Range.resolve` coalesces overlapping ranges
so a client cannot make the server send the same bytes many times.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .params import _token_re

MAX_RANGES = 64
# re.ASCII: \d would otherwise accept other scripts' digits ("१"), which int() converts.
_range_spec_re = re.compile(r"\s*(?:(\d{1,19})\s*-\s*(\d{0,19})|-\s*(\d{1,19}))\s*\Z", re.ASCII)


class Range:
    """A parsed Range header: ``ranges`` holds ``(start, stop)`` with ``stop`` exclusive or ``None``
    (open-ended); a suffix range ``-N`` is ``(-N, None)``."""

    __slots__ = ("ranges", "units")

    def __init__(self, units: str, ranges: list[tuple[int, int | None]]) -> None:
        for start, stop in ranges:
            _check_range(start, stop)
        self.units = units
        self.ranges = ranges

    def resolve(self, length: int) -> list[tuple[int, int]] | None:
        """Concrete ``(start, stop)`` ranges for a representation of ``length`` bytes.

        Unsatisfiable ranges are dropped (RFC 9110 §14.1.1); overlapping or adjacent ones are coalesced
        (allowed by §14.2), which also defeats "many overlapping ranges" amplification. ``None`` when no
        range is satisfiable (answer 416). Only meaningful for ``bytes`` ranges: callers check
        :attr:`units` first (RFC 9110 §14.2: a Range with a unit the server does not know is ignored).
        """
        spans: list[tuple[int, int]] = []
        for start, stop in self.ranges:
            if start < 0:
                if length == 0:
                    continue
                spans.append((max(length + start, 0), length))
            elif start < length:
                spans.append((start, length if stop is None else min(stop, length)))
        if not spans:
            return None
        spans.sort()
        merged = [spans[0]]
        for start, stop in spans[1:]:
            last_start, last_stop = merged[-1]
            if start <= last_stop:
                merged[-1] = (last_start, max(last_stop, stop))
            else:
                merged.append((start, stop))
        return merged

    def range_for_length(self, length: int | None) -> tuple[int, int] | None:
        """The single satisfiable range for ``length``, or ``None`` (several ranges, unsatisfiable)."""
        if length is None or self.units != "bytes":
            return None
        spans = self.resolve(length)
        if spans is None or len(spans) != 1:
            return None
        return spans[0]

    def make_content_range(self, length: int | None) -> ContentRange | None:
        span = self.range_for_length(length)
        if span is None or length is None:
            return None
        return ContentRange(self.units, span[0], span[1], length)

    def to_header(self) -> str:
        specs = []
        for start, stop in self.ranges:
            if start < 0:
                specs.append(str(start))
            else:
                specs.append(f"{start}-" if stop is None else f"{start}-{stop - 1}")
        return f"{self.units}={','.join(specs)}"

    def __repr__(self) -> str:
        return f"<Range {self.to_header()!r}>"


def _check_range(start: int | None, stop: int | None) -> None:
    """A ``(start, stop)`` pair must be a non-empty span from a position or a suffix ``(-N, None)``."""
    if start is None or (start < 0 and stop is not None) or (stop is not None and stop <= start):
        raise ValueError(f"invalid range ({start!r}, {stop!r})")


def parse_range_header(value: str | None) -> Range | None:
    """Parse ``bytes=0-499,500-,-200`` (RFC 9110 §14.1.2); ``None`` if absent, malformed or too many.

    A malformed Range header is ignored as a whole (§14.2: the server then sends the full content). Other
    range units (any token) parse with the same syntax, lowercased; only ``bytes`` is ever resolved.
    """
    if not value or "=" not in value:
        return None
    units, _, specs = value.partition("=")
    units = units.strip().lower()
    # RFC 9110 §14.1: range-unit = token.
    if not _token_re.match(units):
        return None
    items = specs.split(",")
    if len(items) > MAX_RANGES:
        return None
    ranges: list[tuple[int, int | None]] = []
    for item in items:
        if not item.strip():
            continue  # RFC 9110 §5.6.1: empty list elements are ignored
        match = _range_spec_re.match(item)
        if match is None:
            return None
        first, last, suffix = match.groups()
        if suffix is not None:
            if int(suffix) == 0:
                return None
            ranges.append((-int(suffix), None))
            continue
        start = int(first)
        if last:
            stop = int(last) + 1
            if stop <= start:
                return None
            ranges.append((start, stop))
        else:
            ranges.append((start, None))
    return Range(units, ranges) if ranges else None


@dataclass
class ContentRange:
    """A Content-Range value: ``start``..``stop`` (exclusive) of ``length``; ``start is None`` means the
    unsatisfied form ``bytes */length``."""

    units: str = "bytes"
    start: int | None = None
    stop: int | None = None
    length: int | None = None

    def to_header(self) -> str:
        length = "*" if self.length is None else str(self.length)
        if self.start is None or self.stop is None:
            return f"{self.units} */{length}"
        return f"{self.units} {self.start}-{self.stop - 1}/{length}"

    def __str__(self) -> str:
        return self.to_header()


_content_range_re = re.compile(r"\s*(\w+)\s+(?:(\d{1,19})-(\d{1,19})|\*)/(\d{1,19}|\*)\s*\Z", re.ASCII)


def parse_content_range_header(value: str | None) -> ContentRange | None:
    """Parse ``bytes 0-499/1234`` or ``bytes */1234``; ``None`` if malformed or inconsistent."""
    if not value:
        return None
    match = _content_range_re.match(value)
    if match is None:
        return None
    units, first, last, total = match.groups()
    length = None if total == "*" else int(total)
    if first is None:
        return ContentRange(units.lower(), None, None, length) if length is not None else None
    start, stop = int(first), int(last) + 1
    if stop <= start or (length is not None and stop > length):
        return None
    return ContentRange(units.lower(), start, stop, length)


# werkzeug's spelling
parse_content_range = parse_content_range_header
