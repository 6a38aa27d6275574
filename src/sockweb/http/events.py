"""Events the request parser produces: Request, Data, EndOfMessage, and the NEED_DATA / PAUSED signals.

Plain classes with __slots__: one Request is built per request on the server's hot path, so no dataclass
machinery and no validation here (the parser validated everything before building one).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable


class Signal(enum.Enum):
    """What the parser says when it has no event: feed more bytes, or stop reading."""

    NEED_DATA = "NEED_DATA"
    PAUSED = "PAUSED"

    def __repr__(self) -> str:
        return self.value


NEED_DATA = Signal.NEED_DATA
PAUSED = Signal.PAUSED


# The attributes that make a Request what it is (compared by __eq__, shown by __repr__).
REQUEST_FIELDS = (
    "method",
    "target",
    "http_version",
    "headers",
    "keep_alive",
    "expect_continue",
    "content_length",
    "chunked",
)


def unpack_fields(fields: tuple[bytes, ...]) -> list[tuple[bytes, bytes]]:
    """The header list of a request whose field lines the C scanner left packed (see `Request.headers`):
    `fields` is (the field section's bytes, the values' start and end offsets in it as native unsigned
    32-bit integers, then the lowercased names)."""
    raw = fields[0]
    spans = memoryview(fields[1]).cast("I")
    return [(name, raw[spans[2 * i] : spans[2 * i + 1]]) for i, name in enumerate(fields[2:])]


class Request:
    """A parsed request head. `headers` keeps every field line in order, names lowercased.

    The C head scanner (sockweb.http._speedups) leaves `headers` unbuilt: it stores the field lines packed
    in `_fields` (see `unpack_fields`), and the list is made the first time `headers` is read. A server
    that only needs the WSGI environ reads the packed form instead (sockweb.server._environ), and so never
    makes the list's tuples and value objects. Requests built by calling the class hold their list.
    """

    __slots__ = (
        "_fields",
        "_headers",
        "chunked",
        "content_length",
        "expect_continue",
        "http_version",
        "keep_alive",
        "method",
        "target",
    )
    _fields: tuple[bytes, ...]  # set by the C scanner only, with `_headers` None

    def __init__(  # noqa: PLR0917 - positional on purpose: built once per request on the hot path
        self,
        method: str,
        target: bytes,
        http_version: str,
        headers: list[tuple[bytes, bytes]],
        keep_alive: bool = True,
        expect_continue: bool = False,
        content_length: int | None = None,
        chunked: bool = False,
    ) -> None:
        self.method = method
        self.target = target
        self.http_version = http_version
        self._headers: list[tuple[bytes, bytes]] | None = headers
        self.keep_alive = keep_alive
        self.expect_continue = expect_continue
        self.content_length = content_length
        self.chunked = chunked

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        """Every field line in order, as (lowercased name, value) pairs."""
        headers = self._headers
        if headers is None:  # built by the C scanner: unpacked once, on first use
            headers = self._headers = unpack_fields(self._fields)
        return headers

    @headers.setter
    def headers(self, headers: list[tuple[bytes, bytes]]) -> None:
        self._headers = headers

    def __repr__(self) -> str:
        return (
            f"Request(method={self.method!r}, target={self.target!r}, http_version={self.http_version!r}, "
            f"headers={self.headers!r}, keep_alive={self.keep_alive!r}, "
            f"expect_continue={self.expect_continue!r}, content_length={self.content_length!r}, "
            f"chunked={self.chunked!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Request):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in REQUEST_FIELDS)

    __hash__ = None  # type: ignore[assignment]


class Data:
    """A piece of the request body (de-chunked)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __repr__(self) -> str:
        return f"Data({self.data!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Data):
            return NotImplemented
        return self.data == other.data

    __hash__ = None  # type: ignore[assignment]


class EndOfMessage:
    """The request body is complete. `trailers`: the chunked trailer fields (never merged into headers),
    a tuple, so that the parser can hand out one shared event for every message without trailers."""

    __slots__ = ("trailers",)

    def __init__(self, trailers: Iterable[tuple[bytes, bytes]] = ()) -> None:
        self.trailers = tuple(trailers)

    def __repr__(self) -> str:
        return f"EndOfMessage(trailers={self.trailers!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EndOfMessage):
            return NotImplemented
        return self.trailers == other.trailers

    __hash__ = None  # type: ignore[assignment]


Event = Request | Data | EndOfMessage | Signal
