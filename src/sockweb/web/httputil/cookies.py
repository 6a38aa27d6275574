"""Cookie headers (RFC 6265): parsing Cookie, formatting Set-Cookie.

Strategy: parsing splits at ``;`` and never fails (bad pairs are skipped); values that are not plain
cookie-octets are written as quoted strings with octal escapes, which the parser reverses, so any text
round-trips and no value can break out of its attribute. Names and attributes are validated on output.
"""

from __future__ import annotations

import re
import warnings
from datetime import datetime, timedelta
from time import time
from urllib.parse import quote

from ..datastructures import MultiDict
from ..urls import encode_host
from .dates import http_date
from .params import _token_re

# RFC 6265 §4.1.1 cookie-octet: visible ASCII except DQUOTE, comma, semicolon and backslash.
_cookie_octets_re = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*\Z")
_cookie_escape_re = re.compile(r"\\([0-3][0-7]{2}|.)", re.DOTALL)
_non_ascii_re = re.compile(r"[^\x00-\x7f]+")
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
    """The pairs of a Cookie header (RFC 6265 §5.4), in order; a pair without ``=`` has an empty value.

    Quoted values are unquoted (including Python-style ``\\ooo`` octal escapes); the raw bytes are decoded
    as UTF-8. ``cls`` picks the MultiDict class of the result.
    """
    if not header:
        return cls([])
    if header.isascii() and '"' not in header:
        # What browsers send: ASCII without quotes, so nothing to unquote or decode; the same pairs as
        # _cookie_pairs gives, without its three calls per pair.
        pairs = []
        for pair in header.split(";"):
            name, _, value = pair.partition("=")
            name = name.strip()
            if name:
                pairs.append((name, value.strip()))
        return cls(pairs)
    return cls(_cookie_pairs(header))


def _cookie_pairs(header: str) -> list[tuple[str, str]]:
    """The pairs of any Cookie header: the reference that parse_cookie's fast path is held equal to."""
    pairs: list[tuple[str, str]] = []
    for pair in header.split(";"):
        # A pair without "=" is a name with an empty value. A name with a double quote is dropped: a
        # quoted '"__Host-x"' must not pass for the prefixed name it imitates (RFC 6265bis §4.1.3).
        name, _, value = pair.partition("=")
        name = name.strip()
        if name and '"' not in name:
            pairs.append((_latin1_to_text(name), _latin1_to_text(_cookie_unquote(value.strip()))))
    return pairs


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


def _quote_match(match: re.Match[str]) -> str:
    return quote(match.group(), safe="")


def _check_attribute(name: str, value: str) -> str:
    if re.search(r"[;\x00-\x1f\x7f]", value):
        raise ValueError(f"cookie {name} contains a control character or ';': {value!r}")
    return value


def dump_cookie(  # noqa: PLR0917 (werkzeug's signature: callers pass max_age etc. by position)
    key: str,
    value: str = "",
    max_age: timedelta | int | None = None,
    expires: str | datetime | float | None = None,
    path: str | None = "/",
    domain: str | None = None,
    secure: bool = False,
    httponly: bool = False,
    sync_expires: bool = True,
    max_size: int = 4093,
    samesite: str | None = None,
    partitioned: bool = False,
) -> str:
    """A Set-Cookie header value (RFC 6265 §4.1). Raises ``ValueError`` for an invalid name or attribute.

    Values that are not plain cookie-octets are sent as a quoted string with octal escapes, which
    :func:`parse_cookie` reverses. ``max_age`` without ``expires`` also sets Expires for old clients
    (unless ``sync_expires`` is false). ``partitioned`` (CHIPS) implies ``secure``, which browsers require
    for it. A header longer than ``max_size`` bytes (0: no limit) gives a warning: browsers drop such
    cookies silently (RFC 6265 §6.1 only promises 4096 bytes per cookie).
    """
    if not isinstance(key, str) or not _token_re.match(key):
        raise ValueError(f"invalid cookie name {key!r}")
    parts = [f"{key}={_cookie_quote(value)}"]
    if isinstance(max_age, timedelta):
        max_age = int(max_age.total_seconds())
    if max_age is not None and expires is None and sync_expires:
        # Browsers cap lifetimes at 400 days (RFC 6265bis); capping here also keeps the date printable.
        expires = time() + min(max(int(max_age), 0), 400 * 86400)
    # Set-Cookie must be latin-1 on the WSGI side and ASCII for browsers: a Unicode domain is IDNA-encoded
    # (RFC 6265 §4.1.2.3 wants the domain "as it appears in DNS"), non-ASCII path characters are
    # percent-encoded (as a browser would send them in the request path).
    if domain:
        parts.append(f"Domain={_check_attribute('domain', encode_host(domain))}")
    if expires is not None:
        parts.append(
            "Expires="
            + (_check_attribute("expires", expires) if isinstance(expires, str) else http_date(expires))
        )
    if max_age is not None:
        parts.append(f"Max-Age={int(max_age)}")
    if secure or partitioned:
        parts.append("Secure")
    if httponly:
        parts.append("HttpOnly")
    if path is not None:
        parts.append(f"Path={_check_attribute('path', _non_ascii_re.sub(_quote_match, path))}")
    if samesite is not None:
        normalized = _SAMESITE.get(samesite.lower())
        if normalized is None:
            raise ValueError(f"SameSite must be Strict, Lax or None, not {samesite!r}")
        parts.append(f"SameSite={normalized}")
    if partitioned:
        parts.append("Partitioned")
    header = "; ".join(parts)
    size = len(header.encode("latin-1", "replace"))
    if max_size and size > max_size:
        warnings.warn(
            f"The {key!r} cookie is too large: its Set-Cookie value is {size} bytes but the limit is"
            f" {max_size} bytes; browsers may ignore it.",
            stacklevel=2,
        )
    return header
