"""Limits: the bounds that keep the parser's memory and work proportional to what it was configured for."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Bounds applied while parsing requests. Each one maps to a status (see the field comments).

    `allow_underscore_in_names` is a policy rather than a size: names such as `Content_Length` are valid
    tokens, but they collide with `Content-Length` once a WSGI server maps them to `HTTP_*` keys, so they
    are refused (400) unless allowed here.
    """

    max_request_line: int = 8190  # bytes, without CRLF -> 414
    max_header_count: int = 100  # field lines in the head -> 431
    max_field_size: int = 8190  # bytes of one field line (header or trailer), without CRLF -> 431
    max_head_size: int = 65536  # request line + fields + blank line -> 431
    max_chunk_ext: int = 4096  # bytes of extensions on one chunk-size line -> 400
    max_trailer_size: int = 16384  # bytes of the trailer section -> 431
    max_body_size: int | None = None  # decoded body bytes -> 413
    allow_underscore_in_names: bool = False

    def __post_init__(self) -> None:
        for name in (
            "max_request_line",
            "max_header_count",
            "max_field_size",
            "max_head_size",
            "max_chunk_ext",
            "max_trailer_size",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"Limits.{name} must be positive")
        if self.max_body_size is not None and self.max_body_size < 0:
            raise ValueError("Limits.max_body_size must be >= 0 or None")
