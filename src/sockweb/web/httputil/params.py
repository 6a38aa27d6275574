"""Quoted strings, header parameters and comma lists (RFC 9110 §5.6, RFC 8187 extended values).

Strategy: one item scanner, a regular expression whose alternatives start with disjoint characters (plain
runs or whole quoted strings, an unterminated quote running to the end), so splitting at ``;`` or ``,``
outside quotes costs one pass over the value whatever it contains. The other modules of this package
build on these helpers.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import quote as url_quote
from urllib.parse import unquote as url_unquote
from urllib.parse import unquote_to_bytes as url_unquote_to_bytes

_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_token_re = re.compile(_TOKEN + r"\Z")
# One comma- or semicolon-separated element: runs of ordinary characters or whole quoted strings
# (an unterminated quote runs to the end). Disjoint first characters keep the scan linear.
_semicolon_item_re = re.compile(r'(?:[^;"]+|"(?:[^"\\]|\\.)*"?)*')
_comma_item_re = re.compile(r'(?:[^,"]+|"(?:[^"\\]|\\.)*"?)*')
# The same without the open-quote escape hatch: an item whose quoted strings are all closed.
# One character per step outside quotes (no nested repetition), so a failing match stays linear.
_closed_item_re = re.compile(r'(?:[^"]|"(?:[^"\\]|\\.)*")*\Z', re.DOTALL)
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


_quoted_string_re = re.compile(r'"(?:[^"\\]|\\.)*"\Z', re.DOTALL)
# RFC 8187 §3.2.1: the charsets every recipient must support; other names leave the value undecoded.
_EXT_CHARSETS = frozenset({"utf-8", "iso8859-1", "ascii"})
# RFC 2231 §3 continuations ``name*0``, ``name*1*``, ...: a bound on the pieces of one parameter.
MAX_CONTINUATIONS = 64
_continuation_re = re.compile(r"(.+?)\*(\d{1,2})(\*?)\Z", re.ASCII)


def _ext_charset(name: str) -> str | None:
    try:
        charset = codecs.lookup(name or "utf-8").name
    except LookupError:
        return None
    return charset if charset in _EXT_CHARSETS else None


def _decode_ext_value(value: str) -> str:
    """RFC 8187 ext-value ``charset'language'pct-encoded`` -> text. Without the two quotes the value is
    taken as percent-encoded UTF-8; with a charset outside :data:`_EXT_CHARSETS` it stays as sent."""
    parts = value.split("'", 2)
    if len(parts) != 3:
        return url_unquote(value, errors="replace")
    charset = _ext_charset(parts[0].strip())
    if charset is None:
        return parts[2]
    return url_unquote(parts[2], encoding=charset, errors="replace")


def _param_value(raw: str, key: str) -> str | None:
    """A parameter value: a token, or a complete quoted-string unquoted; ``None`` if it is neither."""
    if raw.startswith('"'):
        if not _quoted_string_re.match(raw):
            return None  # unterminated (possibly by a trailing backslash escaping the closing quote)
        # HTML's multipart/form-data encoder writes a quote inside a value as %22.
        return unquote_header_value(raw, is_filename=key == "filename").replace("%22", '"')
    return raw if _token_re.match(raw) else None


def _join_continuations(pieces: dict[str, dict[int, tuple[str, bool]]]) -> dict[str, str]:
    """RFC 2231 §4.1: ``a*0*=UTF-8''x;a*1=y`` -> ``{"a": "xy"}``; the first piece names the charset."""
    joined: dict[str, str] = {}
    for name, parts in pieces.items():
        charset = "utf-8"
        data = bytearray()
        if 0 not in parts:
            continue
        for index in range(len(parts)):
            if index not in parts:
                break  # RFC 2231 §3: the pieces are numbered from 0 without gaps
            text, encoded = parts[index]
            if encoded:
                if index == 0 and text.count("'") >= 2:
                    declared, _, text = text.split("'", 2)
                    charset = _ext_charset(declared.strip()) or "utf-8"
                data += url_unquote_to_bytes(text)
            else:
                data += text.encode(charset, "replace")
        joined[name] = data.decode(charset, "replace")
    return joined


def parse_options_header(value: str | None) -> tuple[str, dict[str, str]]:
    """``'form-data; name="f"; filename*=UTF-8''n%C3%A4me'`` -> ``("form-data", {"name": "f", ...})``.

    The main value is lowercased; parameter names are lowercased; ``name*`` (RFC 8187) is decoded and wins
    over ``name``; RFC 2231 continuations (``name*0``, ``name*1*``...) are joined. A parameter whose value
    is neither a token nor a complete quoted-string is skipped, and without a main value there are none.
    """
    if not value:
        return "", {}
    items = _split_items(value, _semicolon_item_re, ";")
    main = next(items).lower()
    params: dict[str, str] = {}
    if not main:
        return "", params
    extended: dict[str, str] = {}
    pieces: dict[str, dict[int, tuple[str, bool]]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip().lower()
        raw = raw.strip()
        if not sep or not key or not raw or not _token_re.match(key):
            continue
        continued = _continuation_re.match(key)
        if continued is not None:
            name, index, star = continued.groups()
            text = raw if star else _param_value(raw, name)
            if text is not None and int(index) < MAX_CONTINUATIONS:
                pieces.setdefault(name, {})[int(index)] = (text, bool(star))
            continue
        if key.endswith("*") and len(key) > 1:
            extended[key[:-1]] = _decode_ext_value(raw)
            continue
        decoded = _param_value(raw, key)
        if decoded is not None:
            params[key] = decoded
    params.update(_join_continuations(pieces))
    params.update(extended)
    return main, params


def dump_options_header(value: str, options: Mapping[str, Any]) -> str:
    """``("text/html", {"charset": "utf-8"})`` -> ``text/html; charset=utf-8``; options whose value is
    ``None`` are left out; non-ASCII values are emitted as RFC 8187 ``key*=UTF-8''...``."""
    parts = [value]
    for key, option in options.items():
        if option is None:
            continue
        text = str(option)
        if text.isascii():
            parts.append(f"{key}={quote_header_value(text)}")
        else:
            parts.append(f"{key}*=UTF-8''{url_quote(text, safe='')}")
    return "; ".join(parts)


def dump_header(iterable: Mapping[str, Any] | Iterable[Any]) -> str:
    """A comma-separated list (``[1, 2]`` -> ``1, 2``) or ``key=value`` pairs from a mapping; values are
    quoted as needed, ``None`` gives a bare key, and a ``key*`` value (RFC 8187) is sent as it is."""
    if isinstance(iterable, Mapping):
        items = []
        for key, item in iterable.items():
            if item is None:
                items.append(key)
            elif key.endswith("*"):
                items.append(f"{key}={_check_field_text(str(item))}")
            else:
                items.append(f"{key}={quote_header_value(item)}")
        return ", ".join(items)
    return ", ".join(quote_header_value(item) for item in iterable)


def _check_field_text(text: str) -> str:
    if re.search(r"[\r\n\x00]", text):
        raise ValueError(f"header value cannot contain CR, LF or NUL: {text!r}")
    return text


def parse_list_header(value: str | None) -> list[str]:
    """A comma-separated list (RFC 9110 §5.6.1) with quoted items unquoted and empty items dropped.

    A quoted string left open makes the whole value malformed: the result is empty.
    """
    return [unquote_header_value(item) for item in parse_list_header_raw(value)]


def parse_dict_header(value: str | None) -> dict[str, str | None]:
    """``a=1, b="x, y", c`` -> ``{"a": "1", "b": "x, y", "c": None}``; empty for a malformed value."""
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
    items = [item for item in _split_items(value, _comma_item_re, ",") if item]
    if any(not _closed_item_re.match(item) for item in items if '"' in item):
        return []  # an unterminated quoted string: where the list ends is unknowable
    return items
