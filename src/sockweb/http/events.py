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


class Request:
    """A parsed request head. `headers` keeps every field line in order, names lowercased."""

    __slots__ = (
        "chunked",
        "content_length",
        "expect_continue",
        "headers",
        "http_version",
        "keep_alive",
        "method",
        "target",
    )

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
        self.headers = headers
        self.keep_alive = keep_alive
        self.expect_continue = expect_continue
        self.content_length = content_length
        self.chunked = chunked

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
        return all(getattr(self, name) == getattr(other, name) for name in self.__slots__)

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
