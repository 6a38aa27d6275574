"""Quoted strings, header parameters and comma lists (RFC 9110 §5.6, RFC 8187 extended values).

Strategy: one item scanner, a regular expression whose alternatives start with disjoint characters (plain
runs or whole quoted strings, an unterminated quote running to the end), so splitting at ``;`` or ``,``
outside quotes costs one pass over the value whatever it contains. The other modules of this package
build on these helpers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote as url_quote
from urllib.parse import unquote as url_unquote

_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_token_re = re.compile(_TOKEN + r"\Z")
# One comma- or semicolon-separated element: runs of ordinary characters or whole quoted strings
# (an unterminated quote runs to the end). Disjoint first characters keep the scan linear.
_semicolon_item_re = re.compile(r'(?:[^;"]+|"(?:[^"\\]|\\.)*"?)*')
_comma_item_re = re.compile(r'(?:[^,"]+|"(?:[^"\\]|\\.)*"?)*')
_backslash_escape_re = re.compile(r"\\(.)", re.DOTALL)


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
