"""Parsing and formatting of HTTP header values: dates, parameters, cookies, ETags, ranges, Accept,
Cache-Control, Authorization, and the conditional-request decision.

Strategy: every parser takes a ``str`` (as found in a WSGI environ) and returns a small value object or
``None``; none raises on malformed client input, because a bad optional header must degrade to "header
absent", never to a 500. All scanning uses regular expressions whose alternatives start with disjoint
characters, or plain ``str.split``, so the cost is linear in the header size whatever the input (header
sizes are already bounded by the server). Formatters validate what they emit (cookie names, ETags, option
values) and raise ``ValueError`` for values that cannot be represented safely.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import email.utils
import hashlib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from time import time
from typing import Any, TypeVar
from urllib.parse import quote as url_quote
from urllib.parse import unquote as url_unquote

from .datastructures import MultiDict

__all__ = [
    "Accept",
    "Authorization",
    "CacheControl",
    "CharsetAccept",
    "ContentRange",
    "ETags",
    "LanguageAccept",
    "MIMEAccept",
    "Range",
    "dump_cache_control",
    "dump_cookie",
    "dump_options_header",
    "evaluate_preconditions",
    "generate_etag",
    "http_date",
    "is_resource_modified",
    "parse_accept_header",
    "parse_authorization_header",
    "parse_cache_control",
    "parse_content_range",
    "parse_cookie",
    "parse_date",
    "parse_etags",
    "parse_list_header",
    "parse_options_header",
    "parse_range_header",
    "quote_etag",
    "quote_header_value",
    "unquote_etag",
    "unquote_header_value",
]

_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_token_re = re.compile(_TOKEN + r"\Z")
# One comma- or semicolon-separated element: runs of ordinary characters or whole quoted strings
# (an unterminated quote runs to the end). Disjoint first characters keep the scan linear.
_semicolon_item_re = re.compile(r'(?:[^;"]+|"(?:[^"\\]|\\.)*"?)*')
_comma_item_re = re.compile(r'(?:[^,"]+|"(?:[^"\\]|\\.)*"?)*')
_backslash_escape_re = re.compile(r"\\(.)", re.DOTALL)

# -- dates ---------------------------------------------------------------------------------------------------


def http_date(timestamp: datetime | float | None = None) -> str:
    """An IMF-fixdate (RFC 9110 §5.6.7), e.g. ``Sun, 06 Nov 1994 08:49:37 GMT``; ``None`` means now.

    Naive datetimes are taken as UTC.
    """
    if timestamp is None:
        timestamp = time()
    if isinstance(timestamp, datetime):
        if timestamp.tzinfo is None:
            timestamp = timestamp.replace(tzinfo=timezone.utc)
        timestamp = timestamp.timestamp()
    return email.utils.formatdate(timestamp, usegmt=True)


def parse_date(value: str | None) -> datetime | None:
    """An aware UTC datetime from any of the three HTTP date formats (RFC 9110 §5.6.7), else ``None``."""
    # Real dates are ~30 characters; refuse to spend effort on anything much longer.
    if not value or len(value) > 64:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:
        # asctime dates carry no zone: RFC 9110 says they are UTC.
        return parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


# -- quoted strings and parameters ---------------------------------------------------------------------------


def quote_header_value(value: object, allow_token: bool = True) -> str:
    """``value`` as a token when it is one (and ``allow_token``), else as an RFC 9110 quoted-string."""
    text = str(value)
    if allow_token and _token_re.match(text):
        return text
    if re.search(r"[\r\n\x00]", text):
        raise ValueError(f"header value cannot contain CR, LF or NUL: {text!r}")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unquote_header_value(value: str, is_filename: bool = False) -> str:
    """Undo :func:`quote_header_value`: strip the quotes of a quoted-string and its backslash escapes.

    Browsers send Windows paths in ``filename`` without escaping backslashes (``"C:\\dir\\f.txt"``), so for
    file names only ``\\\\`` and ``\\"`` are treated as escapes.
    """
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
        if is_filename:
            return value.replace('\\"', '"').replace("\\\\", "\\")
        return _backslash_escape_re.sub(r"\1", value)
    return value


def _split_items(value: str, item_re: re.Pattern[str], sep: str) -> Iterator[str]:
    """Split at ``sep`` outside quoted strings; yields stripped, possibly empty, items."""
    pos, end = 0, len(value)
    while pos <= end:
        match = item_re.match(value, pos)
        assert match is not None  # the pattern matches the empty string
        yield match.group().strip()
        pos = match.end() + 1  # skip the separator (or step past the end)


def _decode_ext_value(value: str) -> str | None:
    """RFC 8187 ext-value ``charset'language'pct-encoded`` -> text, or ``None`` if malformed."""
    parts = value.split("'", 2)
    if len(parts) != 3:
        return None
    charset = parts[0].strip().lower() or "utf-8"
    if charset not in ("utf-8", "iso-8859-1", "us-ascii", "latin-1"):
        return None
    return url_unquote(parts[2], encoding=charset, errors="replace")


def parse_options_header(value: str | None) -> tuple[str, dict[str, str]]:
    """``'form-data; name="f"; filename*=UTF-8''n%C3%A4me'`` -> ``("form-data", {"name": "f", ...})``.

    The main value is lowercased; parameter names are lowercased; ``name*`` (RFC 8187) is decoded and wins
    over ``name``. Malformed parameters are skipped.
    """
    if not value:
        return "", {}
    items = _split_items(value, _semicolon_item_re, ";")
    main = next(items).lower()
    params: dict[str, str] = {}
    extended: dict[str, str] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip().lower()
        if not sep or not key or not _token_re.match(key):
            continue
        raw = raw.strip()
        if key.endswith("*") and len(key) > 1:
            decoded = _decode_ext_value(raw)
            if decoded is not None:
                extended[key[:-1]] = decoded
            continue
        params[key] = unquote_header_value(raw, is_filename=key == "filename")
    params.update(extended)
    return main, params


def dump_options_header(value: str, options: Mapping[str, Any]) -> str:
    """``("text/html", {"charset": "utf-8"})`` -> ``text/html; charset=utf-8``; ``None`` values give bare
    keys; non-ASCII values are emitted as RFC 8187 ``key*=UTF-8''...``."""
    parts = [value]
    for key, option in options.items():
        if option is None:
            parts.append(key)
            continue
        text = str(option)
        if text.isascii():
            parts.append(f"{key}={quote_header_value(text)}")
        else:
            parts.append(f"{key}*=UTF-8''{url_quote(text, safe='')}")
    return "; ".join(parts)


def parse_list_header(value: str | None) -> list[str]:
    """A comma-separated list (RFC 9110 §5.6.1) with quoted items unquoted and empty items dropped."""
    if not value:
        return []
    return [unquote_header_value(item) for item in _split_items(value, _comma_item_re, ",") if item]


def parse_dict_header(value: str | None) -> dict[str, str | None]:
    """``a=1, b="x, y", c`` -> ``{"a": "1", "b": "x, y", "c": None}``."""
    result: dict[str, str | None] = {}
    for item in parse_list_header_raw(value):
        key, sep, raw = item.partition("=")
        key = key.strip()
        if key:
            result[key] = unquote_header_value(raw.strip()) if sep else None
    return result


def parse_list_header_raw(value: str | None) -> list[str]:
    """Like :func:`parse_list_header` but leaves quoting inside items untouched."""
    if not value:
        return []
    return [item for item in _split_items(value, _comma_item_re, ",") if item]


# -- cookies -------------------------------------------------------------------------------------------------

# RFC 6265 §4.1.1 cookie-octet: visible ASCII except DQUOTE, comma, semicolon and backslash.
_cookie_octets_re = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*\Z")
_cookie_escape_re = re.compile(r"\\([0-3][0-7]{2}|.)", re.DOTALL)
_SAMESITE = {"strict": "Strict", "lax": "Lax", "none": "None"}


def _cookie_unquote(value: str) -> str:
    if len(value) < 2 or value[0] != '"' or value[-1] != '"':
        return value
    inner = value[1:-1]

    def replace(match: re.Match[str]) -> str:
        escaped = match.group(1)
        return chr(int(escaped, 8)) if len(escaped) == 3 else escaped

    return _cookie_escape_re.sub(replace, inner)


def _latin1_to_text(value: str) -> str:
    """WSGI strings are bytes decoded as latin-1; re-decode them as the UTF-8 browsers actually send."""
    if value.isascii():
        return value
    try:
        return value.encode("latin-1").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return value


def parse_cookie(header: str | None, cls: type[MultiDict[str, str]] = MultiDict) -> MultiDict[str, str]:
    """The pairs of a Cookie header (RFC 6265 §5.4), in order; pairs without ``=`` are skipped.

    Quoted values are unquoted (including Python-style ``\\ooo`` octal escapes); the raw bytes are decoded
    as UTF-8. ``cls`` picks the MultiDict class of the result.
    """
    pairs: list[tuple[str, str]] = []
    if header:
        for pair in header.split(";"):
            name, sep, value = pair.partition("=")
            name = name.strip()
            if sep and name:
                pairs.append((_latin1_to_text(name), _latin1_to_text(_cookie_unquote(value.strip()))))
    return cls(pairs)


def _cookie_quote(value: str) -> str:
    if _cookie_octets_re.match(value):
        return value
    # Inside the quotes, only cookie-octets and spaces stay literal: browsers split the Cookie header at
    # every ";" even within quotes, so ";" and "," (and non-ASCII bytes) become octal escapes.
    out = []
    for byte in value.encode("utf-8"):
        char = chr(byte)
        if char in '"\\':
            out.append("\\" + char)
        elif char == " " or _cookie_octets_re.match(char):
            out.append(char)
        else:
            out.append(f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


def _check_attribute(name: str, value: str) -> str:
    if re.search(r"[;\x00-\x1f\x7f]", value):
        raise ValueError(f"cookie {name} contains a control character or ';': {value!r}")
    return value


def dump_cookie(
    key: str,
    value: str = "",
    *,
    max_age: timedelta | int | None = None,
    expires: str | datetime | float | None = None,
    path: str | None = "/",
    domain: str | None = None,
    secure: bool = False,
    httponly: bool = False,
    samesite: str | None = None,
) -> str:
    """A Set-Cookie header value (RFC 6265 §4.1). Raises ``ValueError`` for an invalid name or attribute.

    Values that are not plain cookie-octets are sent as a quoted string with octal escapes, which
    :func:`parse_cookie` reverses. ``max_age`` without ``expires`` also sets Expires for old clients.
    """
    if not isinstance(key, str) or not _token_re.match(key):
        raise ValueError(f"invalid cookie name {key!r}")
    parts = [f"{key}={_cookie_quote(value)}"]
    if isinstance(max_age, timedelta):
        max_age = int(max_age.total_seconds())
    if max_age is not None:
        parts.append(f"Max-Age={int(max_age)}")
        if expires is None:
            # Browsers cap lifetimes at 400 days (RFC 6265bis); capping here also keeps the date printable.
            expires = time() + min(max(int(max_age), 0), 400 * 86400)
    if expires is not None:
        parts.append(
            "Expires="
            + (_check_attribute("expires", expires) if isinstance(expires, str) else http_date(expires))
        )
    if domain:
        parts.append(f"Domain={_check_attribute('domain', domain)}")
    if path is not None:
        parts.append(f"Path={_check_attribute('path', path)}")
    if secure:
        parts.append("Secure")
    if httponly:
        parts.append("HttpOnly")
    if samesite is not None:
        normalized = _SAMESITE.get(samesite.lower())
        if normalized is None:
            raise ValueError(f"SameSite must be Strict, Lax or None, not {samesite!r}")
        parts.append(f"SameSite={normalized}")
    return "; ".join(parts)


# -- ETags ---------------------------------------------------------------------------------------------------


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


_etag_re = re.compile(r'\s*(?:(W/)?"([^"]*)"|(\*)|([^\s,"]+))\s*(?:,|$)')


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


# -- ranges --------------------------------------------------------------------------------------------------

MAX_RANGES = 64
_range_spec_re = re.compile(r"\s*(?:(\d{1,19})\s*-\s*(\d{0,19})|-\s*(\d{1,19}))\s*\Z")


class Range:
    """A parsed Range header: ``ranges`` holds ``(start, stop)`` with ``stop`` exclusive or ``None``
    (open-ended); a suffix range ``-N`` is ``(-N, None)``."""

    __slots__ = ("ranges", "units")

    def __init__(self, units: str, ranges: list[tuple[int, int | None]]) -> None:
        self.units = units
        self.ranges = ranges

    def resolve(self, length: int) -> list[tuple[int, int]] | None:
        """Concrete ``(start, stop)`` ranges for a representation of ``length`` bytes.

        Unsatisfiable ranges are dropped (RFC 9110 §14.1.1); overlapping or adjacent ones are coalesced
        (allowed by §14.2), which also defeats "many overlapping ranges" amplification. ``None`` when no
        range is satisfiable (answer 416).
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


def parse_range_header(value: str | None) -> Range | None:
    """Parse ``bytes=0-499,500-,-200`` (RFC 9110 §14.1.2); ``None`` if absent, malformed or too many.

    A malformed Range header is ignored as a whole (§14.2: the server then sends the full content).
    """
    if not value or "=" not in value:
        return None
    units, _, specs = value.partition("=")
    units = units.strip().lower()
    if units != "bytes":
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


_content_range_re = re.compile(r"\s*(\w+)\s+(?:(\d{1,19})-(\d{1,19})|\*)/(\d{1,19}|\*)\s*\Z")


def parse_content_range(value: str | None) -> ContentRange | None:
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


# -- conditional requests ------------------------------------------------------------------------------------


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
) -> bool:
    """False when a GET/HEAD with these validators should be answered 304 Not Modified.

    With ``data`` and no ``etag``, the tag is computed from the data.
    """
    if etag is None and data is not None:
        etag = generate_etag(data)
    return evaluate_preconditions(environ, etag, last_modified) != 304


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


# -- Accept --------------------------------------------------------------------------------------------------

AcceptT = TypeVar("AcceptT", bound="Accept")
MAX_ACCEPT_ITEMS = 64
_quality_re = re.compile(r"(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)\Z")


class Accept(list[tuple[str, float]]):
    """A list of ``(value, quality)`` from an Accept-* header, best first (ties keep header order)."""

    def __init__(self, values: Iterable[tuple[str, float]] = ()) -> None:
        items = list(values)
        ranked = sorted(
            enumerate(items), key=lambda pair: (-pair[1][1], -self._specificity(pair[1][0]), pair[0])
        )
        super().__init__(item for _, item in ranked)
        self.provided = bool(items)

    def _specificity(self, value: str) -> int:
        return 0 if value == "*" else 1

    def _normalize(self, value: str) -> str:
        return value.lower()

    def _matches(self, offer: str, client: str) -> bool:
        """Does client value ``client`` cover ``offer``? (both normalized)"""
        return client in ("*", offer)

    def _quality_of(self, offer: str) -> float:
        """The quality of the most specific client value covering ``offer`` (0 if none)."""
        offer = self._normalize(offer)
        best: tuple[int, float] | None = None
        for value, quality in self:
            if self._matches(offer, self._normalize(value)):
                rank = self._specificity(value)
                if best is None or rank > best[0]:
                    best = (rank, quality)
        return best[1] if best is not None else 0.0

    def quality(self, key: str) -> float:
        """The quality the client gives to ``key``."""
        return self._quality_of(key)

    def __contains__(self, value: object) -> bool:
        return isinstance(value, str) and self._quality_of(value) > 0

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return self.quality(key)
        return super().__getitem__(key)

    def index(self, key: Any, *args: Any) -> int:
        if isinstance(key, str):
            for position, (value, _) in enumerate(self):
                if self._normalize(value) == self._normalize(key):
                    return position
            raise ValueError(key)
        return super().index(key, *args)

    def find(self, key: str) -> int:
        try:
            return self.index(key)
        except ValueError:
            return -1

    def values(self) -> Iterator[str]:
        for value, _ in self:
            yield value

    def best_match(self, matches: Iterable[str], default: str | None = None) -> str | None:
        """The server offer the client likes best (the first offer wins ties); ``default`` if none fits.

        An absent header accepts anything: the first offer is returned.
        """
        offers = list(matches)
        if not self.provided:
            return offers[0] if offers else default
        best, best_quality = default, 0.0
        for offer in offers:
            quality = self._quality_of(offer)
            if quality > best_quality:
                best, best_quality = offer, quality
        return best

    @property
    def best(self) -> str | None:
        return self[0][0] if len(self) else None

    def to_header(self) -> str:
        return ",".join(value if quality == 1 else f"{value};q={quality:g}" for value, quality in self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self)!r})"


class MIMEAccept(Accept):
    """Accept: media ranges with ``type/*`` and ``*/*`` wildcards; parameters must match when given."""

    def _specificity(self, value: str) -> int:
        base, _, params = value.partition(";")
        kind, _, subtype = base.strip().partition("/")
        score = 0 if kind == "*" else (1 if subtype == "*" else 2)
        return score * 2 + (1 if params.strip() else 0)

    def _normalize(self, value: str) -> str:
        base, params = parse_options_header(value)
        if "/" not in base:
            base = "*/*" if base == "*" else base
        if not params:
            return base
        return base + ";" + ";".join(f"{k}={v.lower()}" for k, v in sorted(params.items()))

    def _matches(self, offer: str, client: str) -> bool:
        offer_base, _, offer_params = offer.partition(";")
        client_base, _, client_params = client.partition(";")
        offer_type, _, offer_sub = offer_base.partition("/")
        client_type, _, client_sub = client_base.partition("/")
        if client_type not in ("*", offer_type):
            return False
        if client_sub not in ("*", offer_sub):
            return False
        if client_params:
            return set(client_params.split(";")) <= set(offer_params.split(";"))
        return True

    @property
    def accept_html(self) -> bool:
        return self._quality_of("text/html") > 0 or self._quality_of("application/xhtml+xml") > 0

    @property
    def accept_json(self) -> bool:
        return self._quality_of("application/json") > 0


class LanguageAccept(Accept):
    """Accept-Language: ``en`` covers ``en-US`` (RFC 4647 basic filtering); ``_`` is read as ``-``."""

    def _normalize(self, value: str) -> str:
        return value.replace("_", "-").lower()

    def _specificity(self, value: str) -> int:
        return 0 if value == "*" else value.count("-") + 1

    def _matches(self, offer: str, client: str) -> bool:
        return client in ("*", offer) or offer.startswith(client + "-")


class CharsetAccept(Accept):
    """Accept-Charset: names compared after codec normalization (``utf8`` == ``UTF-8``)."""

    def _normalize(self, value: str) -> str:
        try:
            return codecs.lookup(value).name
        except LookupError:
            return value.lower()


def parse_accept_header(value: str | None, cls: type[AcceptT] | None = None) -> AcceptT:
    """Parse an Accept-* header into ``cls`` (default :class:`Accept`), dropping malformed entries.

    At most MAX_ACCEPT_ITEMS entries are kept, so ranking cost stays bounded.
    """
    factory: Callable[[Iterable[tuple[str, float]]], Any] = cls if cls is not None else Accept
    if not value:
        return factory(())  # type: ignore[no-any-return]
    entries: list[tuple[str, float]] = []
    for item in _split_items(value, _comma_item_re, ","):
        if not item:
            continue
        if len(entries) >= MAX_ACCEPT_ITEMS:
            break
        base, params = parse_options_header(item)
        quality = 1.0
        if "q" in params:
            raw = params.pop("q")
            if not _quality_re.match(raw):
                continue
            quality = float(raw)
        if not base:
            continue
        if params:
            base = dump_options_header(base, params)
        entries.append((base, quality))
    return factory(entries)  # type: ignore[no-any-return]


# -- Cache-Control -------------------------------------------------------------------------------------------


def _cache_property(directive: str, kind: str) -> property:
    def getter(self: CacheControl) -> Any:
        if directive not in self:
            return None if kind != "bool" else False
        raw = dict.__getitem__(self, directive)
        if kind == "bool":
            return True
        if kind == "int":
            try:
                return int(raw) if raw is not None else None
            except ValueError:
                return None
        return raw if raw is not None else True

    def setter(self: CacheControl, value: Any) -> None:
        if value is None or value is False:
            self.pop(directive, None)
        elif kind == "bool" or value is True:
            self[directive] = None
        else:
            self[directive] = str(int(value) if kind == "int" else value)
        self._changed()

    return property(getter, setter, doc=f"The {directive} directive.")


class CacheControl(dict[str, str | None]):
    """Cache-Control directives (RFC 9111 §5.2): names lowercased; valueless directives map to ``None``.

    Attribute access (``cc.max_age``, ``cc.no_store``) reads and writes directives; ``on_update`` is called
    after each attribute write (a Response uses it to keep its header in sync).
    """

    def __init__(
        self,
        values: Iterable[tuple[str, str | None]] = (),
        on_update: Callable[[CacheControl], None] | None = None,
    ) -> None:
        super().__init__(values)
        self.on_update = on_update

    def _changed(self) -> None:
        if self.on_update is not None:
            self.on_update(self)

    max_age = _cache_property("max-age", "int")
    s_maxage = _cache_property("s-maxage", "int")
    max_stale = _cache_property("max-stale", "int")
    min_fresh = _cache_property("min-fresh", "int")
    stale_while_revalidate = _cache_property("stale-while-revalidate", "int")
    stale_if_error = _cache_property("stale-if-error", "int")
    no_cache = _cache_property("no-cache", "str")
    private = _cache_property("private", "str")
    no_store = _cache_property("no-store", "bool")
    no_transform = _cache_property("no-transform", "bool")
    only_if_cached = _cache_property("only-if-cached", "bool")
    public = _cache_property("public", "bool")
    must_revalidate = _cache_property("must-revalidate", "bool")
    proxy_revalidate = _cache_property("proxy-revalidate", "bool")
    must_understand = _cache_property("must-understand", "bool")
    immutable = _cache_property("immutable", "bool")

    def to_header(self) -> str:
        return dump_cache_control(self)

    def __str__(self) -> str:
        return self.to_header()


def parse_cache_control(
    value: str | None, on_update: Callable[[CacheControl], None] | None = None
) -> CacheControl:
    """Parse a Cache-Control header; the first occurrence of a repeated directive wins."""
    pairs: dict[str, str | None] = {}
    for item in parse_list_header_raw(value):
        key, sep, raw = item.partition("=")
        key = key.strip().lower()
        if key:
            pairs.setdefault(key, unquote_header_value(raw.strip()) if sep else None)
    return CacheControl(pairs.items(), on_update)


def dump_cache_control(directives: Mapping[str, str | None]) -> str:
    """``{"max-age": "60", "public": None}`` -> ``max-age=60, public``."""
    parts = []
    for key, value in directives.items():
        if not _token_re.match(key):
            raise ValueError(f"invalid Cache-Control directive {key!r}")
        parts.append(key if value is None else f"{key}={quote_header_value(value)}")
    return ", ".join(parts)


# -- Authorization -------------------------------------------------------------------------------------------


_token68_re = re.compile(r"[A-Za-z0-9\-._~+/]+=*\Z")


@dataclass
class Authorization:
    """Credentials from an Authorization header: ``type`` is lowercased (``basic``, ``bearer``, ...)."""

    type: str
    username: str | None = None
    password: str | None = None
    token: str | None = None
    params: dict[str, str | None] | None = None


def parse_authorization_header(value: str | None) -> Authorization | None:
    """Basic credentials (RFC 7617) decoded; other schemes give their token or auth-params."""
    if not value:
        return None
    scheme, _, rest = value.strip().partition(" ")
    scheme = scheme.lower()
    rest = rest.strip()
    if not scheme:
        return None
    if scheme == "basic":
        try:
            decoded = base64.b64decode(rest, validate=True)
        except (binascii.Error, ValueError):
            return None
        # RFC 7617 §2.1: UTF-8 is the only charset a server may announce; fall back to latin-1 as clients did.
        try:
            text = decoded.decode("utf-8")
        except UnicodeDecodeError:
            text = decoded.decode("latin-1")
        username, sep, password = text.partition(":")
        if not sep:
            return None
        return Authorization("basic", username, password)
    if not rest or _token68_re.match(rest):
        return Authorization(scheme, token=rest or None)
    return Authorization(scheme, params=parse_dict_header(rest))
