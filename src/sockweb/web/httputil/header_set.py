"""Set-valued header fields (``Vary``, ``Allow``, ``Content-Language``): :class:`HeaderSet`.

Strategy: an ordered list of the values as sent plus a lowercased index for RFC 9110 §5.6.1 list
members, which compare case-insensitively for these fields; every change calls ``on_update`` so a
Response can keep its header in sync, as :class:`~.cache_control.CacheControl` does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from .params import parse_list_header, quote_header_value


class HeaderSet:
    """An ordered, case-insensitive set of header values; ``to_header()`` renders it back."""

    def __init__(
        self,
        headers: Iterable[str] | None = None,
        on_update: Callable[[HeaderSet], None] | None = None,
    ) -> None:
        self._headers: list[str] = []
        self._set: set[str] = set()
        for value in headers or ():
            if value.lower() not in self._set:
                self._headers.append(value)
                self._set.add(value.lower())
        self.on_update = on_update

    def _changed(self) -> None:
        if self.on_update is not None:
            self.on_update(self)

    def add(self, header: str) -> None:
        """Add ``header`` unless an equal value (ignoring case) is present."""
        self.update((header,))

    def update(self, iterable: Iterable[str]) -> None:
        """Add every value of ``iterable`` that is not present yet."""
        changed = False
        for header in iterable:
            key = header.lower()
            if key not in self._set:
                self._headers.append(header)
                self._set.add(key)
                changed = True
        if changed:
            self._changed()

    def remove(self, header: str) -> None:
        """Remove ``header`` (any case); ``KeyError`` if absent."""
        key = header.lower()
        if key not in self._set:
            raise KeyError(header)
        self._set.remove(key)
        self._headers = [value for value in self._headers if value.lower() != key]
        self._changed()

    def discard(self, header: str) -> None:
        """Remove ``header`` if present."""
        try:
            self.remove(header)
        except KeyError:
            pass

    def find(self, header: str) -> int:
        """The position of ``header`` (any case), or -1."""
        key = header.lower()
        for position, value in enumerate(self._headers):
            if value.lower() == key:
                return position
        return -1

    def index(self, header: str) -> int:
        """The position of ``header`` (any case); ``IndexError`` if absent."""
        position = self.find(header)
        if position < 0:
            raise IndexError(header)
        return position

    def clear(self) -> None:
        """Remove every value."""
        self._set.clear()
        self._headers.clear()
        self._changed()

    def as_set(self, preserve_casing: bool = False) -> set[str]:
        """The values as a plain set, lowercased unless ``preserve_casing``."""
        return set(self._headers) if preserve_casing else set(self._set)

    def to_header(self) -> str:
        """The values as one comma-separated field value, quoted where needed."""
        return ", ".join(quote_header_value(value) for value in self._headers)

    def __getitem__(self, index: int) -> str:
        return self._headers[index]

    def __delitem__(self, index: int) -> None:
        value = self._headers.pop(index)
        self._set.discard(value.lower())
        self._changed()

    def __setitem__(self, index: int, value: str) -> None:
        old = self._headers[index]
        self._set.discard(old.lower())
        self._headers[index] = value
        self._set.add(value.lower())
        self._changed()

    def __contains__(self, header: object) -> bool:
        return isinstance(header, str) and header.lower() in self._set

    def __len__(self) -> int:
        return len(self._set)

    def __iter__(self) -> Iterator[str]:
        return iter(self._headers)

    def __bool__(self) -> bool:
        return bool(self._set)

    def __str__(self) -> str:
        return self.to_header()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._headers!r})"


def parse_set_header(value: str | None, on_update: Callable[[HeaderSet], None] | None = None) -> HeaderSet:
    """Parse a comma-separated set header (``Vary: Accept, Cookie``) into a :class:`HeaderSet`."""
    return HeaderSet(parse_list_header(value) if value else (), on_update)
