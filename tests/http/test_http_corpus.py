"""Replay every corpus case whole, byte by byte, line by line and in seeded random splits.

Whatever the split, the parser must produce the same events (Data merged) and end the same way: PAUSED or
NEED_DATA for valid streams, the exact status and close flag for invalid ones. After an error it must keep
raising the same error, and never raise anything but ProtocolError.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from http_cases import CASES, Case, Err

from sockweb.http import NEED_DATA, PAUSED, Data, ProtocolError, RequestParser


def whole(raw: bytes) -> Iterator[bytes]:
    yield raw


def byte_by_byte(raw: bytes) -> Iterator[bytes]:
    for i in range(len(raw)):
        yield raw[i : i + 1]


def line_by_line(raw: bytes) -> Iterator[bytes]:
    yield from raw.splitlines(keepends=True)


def random_splits(seed: int):  # type: ignore[no-untyped-def]
    def split(raw: bytes) -> Iterator[bytes]:
        rng = random.Random(seed)
        i = 0
        while i < len(raw):
            step = rng.randint(1, 24)
            yield raw[i : i + step]
            i += step

    return split


MODES = {
    "whole": whole,
    "bytes": byte_by_byte,
    "lines": line_by_line,
    "random1": random_splits(1),
    "random2": random_splits(2),
    "random3": random_splits(3),
}


def replay(case: Case, pieces: Iterator[bytes]) -> list[object]:
    """Feed the pieces (then EOF if the case says so); collect events, merging consecutive Data."""
    parser = RequestParser(case.limits)
    events: list[object] = []

    def drain() -> bool:
        while True:
            try:
                event = parser.next_event()
            except ProtocolError as exc:
                events.append(Err(exc.status, exc.close))
                # nothing more is parsed after an error: the same error again
                with pytest.raises(ProtocolError) as again:
                    parser.next_event()
                assert again.value is exc
                return False
            if event is NEED_DATA:
                return True
            if event is PAUSED:
                assert parser.next_event() is PAUSED
                events.append(PAUSED)
                return False
            if isinstance(event, Data) and events and isinstance(events[-1], Data):
                events[-1] = Data(events[-1].data + event.data)
            else:
                events.append(event)

    for piece in pieces:
        parser.feed(piece)
        if not drain():
            return events
    if case.eof:
        parser.feed(b"")
        if not drain():
            return events
    events.append(NEED_DATA)
    return events


def test_corpus_size() -> None:
    assert len(CASES) >= 150
    assert len({c.name for c in CASES}) == len(CASES), "case names must be unique"
    assert sum(c.valid for c in CASES) >= 50
    assert sum(not c.valid for c in CASES) >= 100


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case: Case, mode: str) -> None:
    assert replay(case, MODES[mode](case.raw)) == case.expected
