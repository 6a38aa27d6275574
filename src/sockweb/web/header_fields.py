"""Typed properties over one header field of a ``headers`` attribute, shared by Request and Response.

Strategy: each factory returns a ``property`` that reads the named field from ``self.headers`` through a
parser and, unless read-only, writes it back through a formatter (``None`` removes the field). Set-valued
and structured fields (``Vary``, Content-Security-Policy) return a live object whose ``on_update`` writes
the field again, so ``response.vary.add("Cookie")`` changes the header at once. One factory per kind of
value keeps the dozens of header attributes of the wrappers to one line each.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, TypeVar

from .httputil import HeaderSet, http_date, parse_date, parse_set_header

__all__ = [
    "bool_field",
    "date_field",
    "date_or_seconds_field",
    "enum_field",
    "int_field",
    "live_field",
    "seconds_field",
    "set_field",
    "text_field",
]

E = TypeVar("E", bound=Enum)


def _setter(name: str, dump: Callable[[Any], str]) -> Callable[[Any, Any], None]:
    def setter(self: Any, value: Any) -> None:
        if value is None:
            self.headers.remove(name)
        else:
            self.headers.set(name, dump(value))

    return setter


def _deleter(name: str) -> Callable[[Any], None]:
    def deleter(self: Any) -> None:
        self.headers.remove(name)

    return deleter


def _field(
    name: str, load: Callable[[str | None], Any], dump: Callable[[Any], str] | None, doc: str
) -> property:
    def getter(self: Any) -> Any:
        return load(self.headers.get(name))

    if dump is None:
        return property(getter, doc=doc)
    return property(getter, _setter(name, dump), _deleter(name), doc)


def text_field(name: str, doc: str = "", *, read_only: bool = False) -> property:
    """The raw value of ``name`` (``None`` when absent)."""
    return _field(name, lambda value: value, None if read_only else str, doc or f"The {name} header.")


def _to_int(value: str | None) -> int | None:
    if value is None:
        return None
    value = value.strip()
    # RFC 9110 §5.6.1 fields of 1*DIGIT: anything else reads as absent, never as a crash.
    return int(value) if value.isascii() and value.isdigit() else None


def int_field(name: str, doc: str = "", *, read_only: bool = False) -> property:
    """A non-negative integer field; a malformed value reads as ``None``."""
    dump = None if read_only else (lambda value: str(int(value)))
    return _field(name, _to_int, dump, doc or f"The {name} header as an int.")


def _dump_date(value: datetime | float | str) -> str:
    return value if isinstance(value, str) else http_date(value)


def date_field(name: str, doc: str = "", *, read_only: bool = False) -> property:
    """An HTTP-date field as an aware UTC ``datetime``; accepts a datetime or a timestamp on assignment."""
    return _field(
        name, parse_date, None if read_only else _dump_date, doc or f"The {name} header as a datetime."
    )


def _load_seconds(value: str | None) -> timedelta | None:
    seconds = _to_int(value)
    return None if seconds is None else timedelta(seconds=seconds)


def _dump_seconds(value: timedelta | int) -> str:
    if isinstance(value, timedelta):
        return str(int(value.total_seconds()))
    return str(int(value))


def seconds_field(name: str, doc: str = "") -> property:
    """A delta-seconds field (``Age``, RFC 9111 §5.1) as a ``timedelta``; accepts an int too."""
    return _field(name, _load_seconds, _dump_seconds, doc or f"The {name} header as a timedelta.")


def _load_date_or_seconds(value: str | None) -> datetime | timedelta | None:
    # RFC 9110 §10.2.3: Retry-After = HTTP-date / delay-seconds.
    if value is None:
        return None
    seconds = _to_int(value)
    if seconds is not None:
        return timedelta(seconds=seconds)
    return parse_date(value)


def _dump_date_or_seconds(value: datetime | timedelta | float | str) -> str:
    if isinstance(value, timedelta):
        return str(int(value.total_seconds()))
    if isinstance(value, int):
        return str(value)
    return _dump_date(value)


def date_or_seconds_field(name: str, doc: str = "") -> property:
    """A field that is an HTTP-date or delay-seconds (``Retry-After``): a datetime or a timedelta."""
    return _field(name, _load_date_or_seconds, _dump_date_or_seconds, doc or f"The {name} header.")


def bool_field(name: str, doc: str = "") -> property:
    """A field whose only meaningful value is ``true`` (``Access-Control-Allow-Credentials``); ``False``
    removes it, since the Fetch standard gives no meaning to any other value."""

    def getter(self: Any) -> bool:
        return bool(self.headers.get(name) == "true")

    def setter(self: Any, value: bool | None) -> None:
        if value:
            self.headers.set(name, "true")
        else:
            self.headers.remove(name)

    return property(getter, setter, _deleter(name), doc or f"Whether {name} is true.")


def enum_field(name: str, enum: type[E], default: E, doc: str = "") -> property:
    """A field with a fixed set of values; an absent or unknown value reads as ``default``."""

    def load(value: str | None) -> E:
        try:
            return enum(value) if value is not None else default
        except ValueError:
            return default

    def dump(value: E | str) -> str:
        return str(enum(value).value)

    return _field(name, load, dump, doc or f"The {name} header.")


def live_field(
    name: str,
    parse: Callable[[str | None, Callable[[Any], None]], Any],
    doc: str = "",
    *,
    read_only: bool = False,
) -> property:
    """A structured field read as a live object: ``parse(value, on_update)`` builds it, and every change
    to it calls ``on_update`` with it, which writes ``to_header()`` back (or removes an empty field)."""

    def getter(self: Any) -> Any:
        if read_only:
            return parse(self.headers.get(name), _ignore)

        def on_update(value: Any) -> None:
            text = value.to_header() if value is not None else ""
            if text:
                self.headers.set(name, text)
            else:
                self.headers.remove(name)

        return parse(self.headers.get(name), on_update)

    def dump(value: Any) -> str:
        return value if isinstance(value, str) else str(value.to_header())

    if read_only:
        return property(getter, doc=doc)
    return property(getter, _setter(name, dump), _deleter(name), doc or f"The {name} header.")


def _ignore(_value: Any) -> None:
    return None


def _parse_set(value: str | None, on_update: Callable[[HeaderSet], None]) -> HeaderSet:
    return parse_set_header(value, on_update)


def _dump_set(value: HeaderSet | str | Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, HeaderSet):
        return value.to_header()
    return HeaderSet(value).to_header()


def set_field(name: str, doc: str = "", *, read_only: bool = False) -> property:
    """A comma-separated set field (``Vary``, ``Allow``) as a live :class:`HeaderSet`; assigning a list or
    a set replaces the field, assigning ``None`` removes it."""
    prop = live_field(name, _parse_set, doc or f"The {name} header as a set.", read_only=read_only)
    if read_only:
        return prop
    return prop.setter(_setter(name, _dump_set))
