"""Cache-Control directives (RFC 9111 §5.2) as a dict with typed attribute access.

Strategy: a dict of directive -> value (``None`` for valueless ones); attributes are generated from a
small table of (directive, kind) pairs, and writes call an ``on_update`` hook so a Response can keep its
header in sync.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .params import _token_re, parse_list_header_raw, quote_header_value, unquote_header_value


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

    def deleter(self: CacheControl) -> None:
        setter(self, None)

    return property(getter, setter, deleter, doc=f"The {directive} directive.")


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

    def __repr__(self) -> str:
        shown = " ".join(f"{key}={value!r}" for key, value in self.items())
        return f"<{type(self).__name__} {shown}>" if shown else f"<{type(self).__name__}>"


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


class RequestCacheControl(CacheControl):
    """The Cache-Control directives of a request (a distinct type so code can tell the two apart)."""


class ResponseCacheControl(CacheControl):
    """The Cache-Control directives of a response."""


def parse_cache_control_header(
    value: str | None,
    on_update: Callable[[CacheControl], None] | None = None,
    cls: type[CacheControl] | None = None,
) -> CacheControl:
    """Werkzeug's spelling of :func:`parse_cache_control`: the result is an instance of ``cls``."""
    parsed = parse_cache_control(value)
    return (cls or CacheControl)(parsed.items(), on_update)
