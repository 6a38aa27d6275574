"""Validators and conditional requests: ETags (RFC 9110 §8.8.3) and the precondition order of §13.2.2.

Strategy: entity-tag lists parse into an :class:`ETags` set (strong, weak, ``*``) with a one-pass scanner;
:func:`evaluate_preconditions` is the single place that decides 304 or 412 from If-Match,
If-Unmodified-Since, If-None-Match and If-Modified-Since, in the RFC's order, so Response and static
files answer alike.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timezone
from typing import Any

from .dates import http_date, parse_date


def generate_etag(data: bytes) -> str:
    """A strong validator for ``data`` (a content hash, unquoted)."""
    return hashlib.sha1(data, usedforsecurity=False).hexdigest()


def quote_etag(etag: str, weak: bool = False) -> str:
    """``abc`` -> ``"abc"`` (or ``W/"abc"``). Raises ``ValueError`` if the tag contains a quote."""
    # RFC 9110 §8.8.3: etagc excludes DQUOTE, controls and space.
    if '"' in etag or re.search(r"[\x00-\x20\x7f]", etag):
        raise ValueError(f"invalid ETag {etag!r}")
    return f'W/"{etag}"' if weak else f'"{etag}"'


def unquote_etag(value: str | None) -> tuple[str | None, bool]:
    """``W/"abc"`` -> ``("abc", True)``; tolerates a missing pair of quotes."""
    if not value:
        return None, False
    value = value.strip()
    weak = value[:2] in ("W/", "w/")
    if weak:
        value = value[2:]
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return value, weak


class ETags:
    """The entity tags of an If-Match or If-None-Match header (``*`` matches any existing resource)."""

    __slots__ = ("_strong", "_weak", "star_tag")

    def __init__(self, strong: Iterable[str] = (), weak: Iterable[str] = (), star_tag: bool = False) -> None:
        self._strong = frozenset(strong)
        self._weak = frozenset(weak)
        self.star_tag = star_tag

    def is_weak(self, etag: str) -> bool:
        return etag in self._weak

    def is_strong(self, etag: str) -> bool:
        return etag in self._strong

    def contains(self, etag: str) -> bool:
        """Strong comparison (RFC 9110 §8.8.3.2): only strong tags match."""
        return self.star_tag or etag in self._strong

    def contains_weak(self, etag: str) -> bool:
        """Weak comparison: strong or weak tags match."""
        return self.star_tag or etag in self._strong or etag in self._weak

    def contains_raw(self, value: str) -> bool:
        """Compare a quoted tag as sent in an ETag header (weak tags compared weakly)."""
        etag, weak = unquote_etag(value)
        if etag is None:
            return False
        return self.contains_weak(etag) if weak else self.contains(etag)

    def __contains__(self, etag: object) -> bool:
        return isinstance(etag, str) and self.contains(etag)

    def __bool__(self) -> bool:
        return bool(self.star_tag or self._strong or self._weak)

    def __iter__(self) -> Iterator[str]:
        return iter(self._strong)

    def to_header(self) -> str:
        if self.star_tag:
            return "*"
        tags = [f'"{tag}"' for tag in sorted(self._strong)] + [f'W/"{tag}"' for tag in sorted(self._weak)]
        return ", ".join(tags)

    def __repr__(self) -> str:
        return f"<ETags {self.to_header()!r}>"


_etag_re = re.compile(r'\s*(?:(W/)?"([^"]*)"|(\*)|([^\s,"]+))\s*(?:,|$)', re.ASCII)


def parse_etags(value: str | None) -> ETags:
    """Parse an If-Match / If-None-Match value; garbage between tags is skipped."""
    if not value:
        return ETags()
    strong: list[str] = []
    weak: list[str] = []
    pos, end = 0, len(value)
    while pos < end:
        match = _etag_re.match(value, pos)
        if match is None:
            # Skip one malformed element up to the next comma.
            comma = value.find(",", pos)
            if comma < 0:
                break
            pos = comma + 1
            continue
        pos = match.end()
        is_weak, quoted, star, bare = match.groups()
        if star:
            return ETags(star_tag=True)
        tag = quoted if quoted is not None else bare
        (weak if is_weak else strong).append(tag)
    return ETags(strong, weak)


def _second(moment: datetime | float | None) -> datetime | None:
    if moment is None:
        return None
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, timezone.utc)
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    # HTTP dates have one-second resolution; compare at that resolution.
    return moment.replace(microsecond=0)


def evaluate_preconditions(
    environ: Mapping[str, Any],
    etag: str | tuple[str, bool] | None = None,
    last_modified: datetime | float | None = None,
) -> int | None:
    """The status a conditional request must get instead of the normal one: 412, 304 or ``None``.

    ``etag`` is the current entity tag (unquoted; a ``(tag, weak)`` tuple for a weak one). Follows the
    evaluation order of RFC 9110 §13.2.2.
    """
    method = environ.get("REQUEST_METHOD", "GET").upper()
    weak_tag = False
    if isinstance(etag, tuple):
        etag, weak_tag = etag
    modified = _second(last_modified)
    # §13.2.2 step 1: If-Match, compared strongly (a weak current tag never matches).
    if_match = environ.get("HTTP_IF_MATCH")
    if if_match:
        tags = parse_etags(if_match)
        if tags.star_tag:
            if etag is None and modified is None:
                return 412
        elif etag is None or weak_tag or not tags.contains(etag):
            return 412
    else:
        # Step 2: If-Unmodified-Since, only without If-Match.
        since = parse_date(environ.get("HTTP_IF_UNMODIFIED_SINCE"))
        if since is not None and modified is not None and modified > since:
            return 412
    # Step 3: If-None-Match, compared weakly.
    if_none_match = environ.get("HTTP_IF_NONE_MATCH")
    if if_none_match:
        tags = parse_etags(if_none_match)
        matched = tags.star_tag or (etag is not None and tags.contains_weak(etag))
        if matched:
            return 304 if method in ("GET", "HEAD") else 412
    elif method in ("GET", "HEAD"):
        # Step 4: If-Modified-Since, only for GET/HEAD without If-None-Match.
        since = parse_date(environ.get("HTTP_IF_MODIFIED_SINCE"))
        if since is not None and modified is not None and modified <= since:
            return 304
    return None


def is_resource_modified(
    environ: Mapping[str, Any],
    etag: str | None = None,
    data: bytes | None = None,
    last_modified: datetime | float | None = None,
    ignore_if_range: bool = True,
) -> bool:
    """False when a request with these validators should be answered 304 Not Modified.

    ``etag`` may be quoted (``W/"x"`` is weak) or bare; with ``data`` instead, the tag is computed from the
    data (giving both is a ``TypeError``). With ``ignore_if_range=False`` and a Range header, an If-Range
    field decides alone: False when it still matches (RFC 9110 §13.1.5, the range may be served).
    """
    if etag is not None and data is not None:
        raise TypeError("pass etag or data, not both")
    if data is not None:
        etag = generate_etag(data)
    tag, weak = unquote_etag(etag)
    if not ignore_if_range and "HTTP_RANGE" in environ and environ.get("HTTP_IF_RANGE"):
        return not if_range_matches(environ, None if weak else tag, last_modified)
    return evaluate_preconditions(environ, (tag, weak) if tag is not None else None, last_modified) != 304


def if_range_matches(
    environ: Mapping[str, Any], etag: str | None, last_modified: datetime | float | None
) -> bool:
    """RFC 9110 §13.1.5: a Range applies only if If-Range (when present) still matches, strongly."""
    value = environ.get("HTTP_IF_RANGE")
    if not value:
        return True
    value = value.strip()
    if value.startswith('"') or value.startswith("W/"):
        tag, weak = unquote_etag(value)
        return not weak and etag is not None and tag == etag
    date = parse_date(value)
    modified = _second(last_modified)
    return date is not None and modified is not None and modified == date


class IfRange:
    """An If-Range value (RFC 9110 §13.1.5): an entity tag or a date, or neither when absent.

    A weak tag keeps only its opaque part: If-Range compares strongly, so a weak one can never match.
    """

    __slots__ = ("date", "etag")

    def __init__(self, etag: str | None = None, date: datetime | None = None) -> None:
        self.etag = etag
        self.date = date

    def to_header(self) -> str:
        if self.date is not None:
            return http_date(self.date)
        if self.etag is not None:
            return quote_etag(self.etag)
        return ""

    def __str__(self) -> str:
        return self.to_header()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.to_header()!r}>"


def parse_if_range_header(value: str | None) -> IfRange:
    """Parse If-Range: an HTTP date, else an entity tag (quoted or not); empty when absent."""
    if not value:
        return IfRange()
    date = parse_date(value)
    if date is not None:
        return IfRange(date=date)
    return IfRange(unquote_etag(value)[0])
