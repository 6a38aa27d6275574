"""Containers for request and response data: multi-valued dicts, headers, uploaded files.

Strategy: :class:`MultiDict` keeps ``key -> list of values`` in a plain dict, so lookups are O(1) and the
first value answers ``md[key]`` (the common single-value case) while ``getlist`` sees all of them.
:class:`CombinedMultiDict` is a read-only view over several, merged on read so it follows their changes.
:class:`Headers` keeps the exact ``(name, value)`` list a response will send (order and repeats matter on
the wire) and compares names case-insensitively; it refuses CR, LF and NUL in names and values at the door,
so a header injected from user input can never split a response. :class:`EnvironHeaders` is a read-only
view of a WSGI environ with the same read API. :class:`FileStorage` wraps one uploaded file.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from typing import IO, Any, Generic, NoReturn, TypeVar, overload

from .exceptions import BadRequestKeyError
from .mappings import (
    CallbackDict,
    ImmutableDict,
    ImmutableList,
    ImmutableTypeConversionDict,
    TypeConversionDict,
)

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")

__all__ = [
    "CallbackDict",
    "CombinedMultiDict",
    "EnvironHeaders",
    "FileStorage",
    "Headers",
    "ImmutableDict",
    "ImmutableList",
    "ImmutableMultiDict",
    "ImmutableTypeConversionDict",
    "MultiDict",
    "TypeConversionDict",
]


def _iter_pairs(data: Any) -> Iterator[tuple[Any, Any]]:
    """Pairs from a MultiDict (all values), a mapping (lists/tuples expand) or an iterable of pairs."""
    if isinstance(data, MultiDict):
        yield from data.items(multi=True)
    elif isinstance(data, Mapping):
        for key, value in data.items():
            if isinstance(value, (list, tuple)):
                for item in value:
                    yield key, item
            else:
                yield key, value
    else:
        yield from data


class MultiDict(MutableMapping[K, V], Generic[K, V]):
    """A dict with several values per key; ``md[key]`` is the first one, ``getlist(key)`` all of them.

    A missing key raises :class:`~sockweb.web.exceptions.BadRequestKeyError`, which is a ``KeyError`` for
    code and a 400 response if left uncaught in a view.
    """

    __slots__ = ("_data",)

    def __init__(self, mapping: Any = None) -> None:
        data: dict[K, list[V]] = {}
        self._data = data
        if mapping is None:
            return
        if isinstance(mapping, MultiDict):
            for key, values in mapping._data.items():
                data[key] = list(values)
        elif isinstance(mapping, list):
            # The common case (parsed query strings, cookies): a list of pairs, no generator needed.
            for key, value in mapping:
                existing = data.get(key)
                if existing is None:
                    data[key] = [value]
                else:
                    existing.append(value)
        else:
            for key, value in _iter_pairs(mapping):
                data.setdefault(key, []).append(value)

    # -- Mapping core (first value) ---------------------------------------------------------------------

    def __getitem__(self, key: K) -> V:
        values = self._data.get(key)
        if not values:
            raise BadRequestKeyError(key)
        return values[0]

    def __setitem__(self, key: K, value: V) -> None:
        self._data[key] = [value]

    def __delitem__(self, key: K) -> None:
        del self._data[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __eq__(self, other: object) -> bool:
        if isinstance(other, MultiDict):
            return self._data == other._data
        if isinstance(other, Mapping):
            return dict(self.items()) == dict(other.items())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self.items(multi=True))!r})"

    # -- multi-value API ------------------------------------------------------------------------------

    @overload
    def get(self, key: K) -> V | None: ...
    @overload
    def get(self, key: K, default: V | T) -> V | T: ...
    @overload
    def get(self, key: K, default: T | None = None, *, type: Callable[[V], T]) -> T | None: ...

    def get(self, key: K, default: Any = None, type: Callable[[V], Any] | None = None) -> Any:
        """The first value, or ``default``; with ``type``, the converted value (``default`` when it fails)."""
        values = self._data.get(key)
        if not values:
            return default
        if type is None:
            return values[0]
        try:
            return type(values[0])
        except (ValueError, TypeError):
            return default

    def getlist(self, key: K, type: Callable[[V], Any] | None = None) -> list[Any]:
        """Every value of ``key`` (empty list if absent); with ``type``, those that convert."""
        values = self._data.get(key, [])
        if type is None:
            return list(values)
        result = []
        for value in values:
            try:
                result.append(type(value))
            except (ValueError, TypeError):
                pass
        return result

    def add(self, key: K, value: V) -> None:
        """Append a value, keeping the existing ones."""
        self._data.setdefault(key, []).append(value)

    def setlist(self, key: K, values: Iterable[V]) -> None:
        """Replace every value of ``key``; an empty iterable removes the key."""
        values = list(values)
        if values:
            self._data[key] = values
        else:
            self._data.pop(key, None)

    def setlistdefault(self, key: K, default: Iterable[V] = ()) -> list[V]:
        """The live list of values of ``key``, created from ``default`` if absent."""
        if key not in self._data:
            self._data[key] = list(default)
        return self._data[key]

    @overload  # type: ignore[override]
    def items(self) -> Iterator[tuple[K, V]]: ...
    @overload
    def items(self, multi: bool) -> Iterator[tuple[K, V]]: ...

    def items(self, multi: bool = False) -> Iterator[tuple[K, V]]:
        """``(key, first value)`` pairs, or every ``(key, value)`` pair with ``multi=True``."""
        for key, values in self._data.items():
            if multi:
                for value in values:
                    yield key, value
            elif values:
                yield key, values[0]

    def values(self) -> Iterator[V]:  # type: ignore[override]
        """The first value of each key."""
        for values in self._data.values():
            if values:
                yield values[0]

    def lists(self) -> Iterator[tuple[K, list[V]]]:
        """``(key, all values)`` pairs."""
        for key, values in self._data.items():
            yield key, list(values)

    def listvalues(self) -> Iterator[list[V]]:
        for values in self._data.values():
            yield list(values)

    def to_dict(self, flat: bool = True) -> dict[K, Any]:
        """A plain dict: first values, or lists of all values with ``flat=False``."""
        if flat:
            return dict(self.items())
        return dict(self.lists())

    def update(self, mapping: Any = (), /, **kwargs: V) -> None:
        """Add the values of ``mapping`` (multi-aware) to the existing ones, like :meth:`add`."""
        for key, value in _iter_pairs(mapping):
            self.add(key, value)
        for key, value in kwargs.items():
            self.add(key, value)  # type: ignore[arg-type]

    def pop(self, key: K, default: Any = ...) -> Any:
        """Remove ``key`` and return its first value."""
        values = self._data.pop(key, None)
        if not values:
            if default is ...:
                raise BadRequestKeyError(key)
            return default
        return values[0]

    def poplist(self, key: K) -> list[V]:
        """Remove ``key`` and return all its values (empty list if absent)."""
        return self._data.pop(key, [])

    def popitem(self) -> tuple[K, V]:
        if not self._data:
            raise BadRequestKeyError("popitem(): dictionary is empty")
        key, values = self._data.popitem()
        return key, values[0]

    def clear(self) -> None:
        self._data.clear()

    def copy(self) -> MultiDict[K, V]:
        return MultiDict(self)

    def __copy__(self) -> MultiDict[K, V]:
        return self.copy()


class ImmutableMultiDict(MultiDict[K, V]):
    """A :class:`MultiDict` that refuses changes (request data is read-only) and is hashable."""

    __slots__ = ()

    def _immutable(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError(f"{type(self).__name__} objects are immutable")

    __setitem__ = __delitem__ = _immutable
    add = setlist = setlistdefault = update = pop = poplist = popitem = clear = _immutable

    def setdefault(self, key: K, default: Any = None) -> NoReturn:
        self._immutable()

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(self.items(multi=True)))

    def copy(self) -> MultiDict[K, V]:
        """A mutable copy."""
        return MultiDict(self)


class _OrderedMultiDict(MultiDict[K, V]):
    """Werkzeug's ordered MultiDict, for code that names it: every :class:`MultiDict` here keeps
    insertion order across keys and values, so this adds nothing."""

    __slots__ = ()


class _ImmutableOrderedMultiDict(ImmutableMultiDict[K, V]):
    """Werkzeug's immutable ordered MultiDict; :class:`ImmutableMultiDict` is already ordered."""

    __slots__ = ()


class CombinedMultiDict(ImmutableMultiDict[K, V]):
    """A read-only view over several MultiDicts, first one first: ``d[key]`` is the first value found,
    ``getlist`` concatenates every dict's values. Copies are mutable MultiDicts."""

    __slots__ = ("dicts",)

    def __init__(self, dicts: Iterable[MultiDict[K, V]] | None = None) -> None:
        self.dicts: list[MultiDict[K, V]] = list(dicts or ())

    @property
    def _data(self) -> dict[K, list[V]]:  # type: ignore[override]
        # Merged on each read: the view follows later changes to the underlying dicts.
        merged: dict[K, list[V]] = {}
        for source in self.dicts:
            for key, values in source.lists():
                merged.setdefault(key, []).extend(values)
        return merged

    def __contains__(self, key: object) -> bool:
        return any(key in source for source in self.dicts)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.dicts!r})"


# -- Headers -------------------------------------------------------------------------------------------------

# RFC 9110 §5.1: field-name = token.
_token_re = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_forbidden_value_re = re.compile(r"[\r\n\x00]")


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _token_re.match(name):
        raise ValueError(f"invalid header name {name!r}")
    return name


def _check_value(value: Any) -> str:
    if not isinstance(value, str):
        if isinstance(value, bytes):
            raise TypeError("header values must be str, not bytes")
        value = str(value)
    # RFC 9110 §5.5: CR, LF and NUL are never valid in a field value; refusing them prevents splitting.
    if _forbidden_value_re.search(value):
        raise ValueError(f"header value contains CR, LF or NUL: {value!r}")
    return str(value)


def _with_params(value: Any, params: Mapping[str, Any]) -> str:
    if not params:
        return _check_value(value)
    from .httputil import dump_options_header

    return _check_value(dump_options_header(str(value), params))


class Headers:
    """An ordered, multi-valued, case-insensitive list of header fields.

    ``headers[name]`` is the first value (``KeyError`` if absent); iteration yields ``(name, value)``
    pairs in order; :meth:`to_wsgi_list` gives the list ``start_response`` expects.
    """

    __slots__ = ("_list",)

    def __init__(
        self, defaults: Headers | Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None
    ) -> None:
        self._list: list[tuple[str, str]] = []
        if defaults is not None:
            self.extend(defaults)

    # -- reads --------------------------------------------------------------------------------------------

    def __getitem__(self, key: str) -> str:
        lower = key.lower()
        for name, value in self._list:
            if name.lower() == lower:
                return value
        raise BadRequestKeyError(key)

    @overload
    def get(self, key: str) -> str | None: ...
    @overload
    def get(self, key: str, default: str | T) -> str | T: ...
    @overload
    def get(self, key: str, default: T | None = None, *, type: Callable[[str], T]) -> T | None: ...

    def get(self, key: str, default: Any = None, type: Callable[[str], Any] | None = None) -> Any:
        """The first value of ``key`` or ``default``; with ``type``, converted (``default`` if it fails)."""
        try:
            value = self[key]
        except KeyError:
            return default
        if type is None:
            return value
        try:
            return type(value)
        except (ValueError, TypeError):
            return default

    def getlist(self, key: str, type: Callable[[str], Any] | None = None) -> list[Any]:
        """Every value of ``key`` in order."""
        lower = key.lower()
        values = [value for name, value in self._list if name.lower() == lower]
        if type is None:
            return values
        result = []
        for value in values:
            try:
                result.append(type(value))
            except (ValueError, TypeError):
                pass
        return result

    get_all = getlist

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        lower = key.lower()
        return any(name.lower() == lower for name, _ in self._list)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(list(self._list))

    def __len__(self) -> int:
        return len(self._list)

    def __bool__(self) -> bool:
        return bool(self._list)

    def keys(self, lower: bool = False) -> list[str]:
        return [name.lower() if lower else name for name, _ in self._list]

    def values(self) -> list[str]:
        return [value for _, value in self._list]

    def items(self, lower: bool = False) -> list[tuple[str, str]]:
        return [(name.lower() if lower else name, value) for name, value in self._list]

    def to_wsgi_list(self) -> list[tuple[str, str]]:
        """A fresh list of ``(name, value)`` pairs for ``start_response``."""
        return list(self._list)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return sorted(self.items(lower=True)) == sorted(other.items(lower=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._list!r})"

    def __str__(self) -> str:
        return "".join(f"{name}: {value}\r\n" for name, value in self._list) + "\r\n"

    def copy(self) -> Headers:
        clone = Headers()
        clone._list = list(self._list)  # already validated: no need to check each pair again
        return clone

    __copy__ = copy

    # -- writes -------------------------------------------------------------------------------------------

    def add(self, key: str, value: Any, **params: Any) -> None:
        """Append a field; keyword ``params`` are added as ``; key=value`` options (quoted when needed)."""
        self._list.append((_check_name(key), _with_params(value, params)))

    add_header = add

    def set(self, key: str, value: Any, **params: Any) -> None:
        """Replace every field named ``key`` with one, kept at the position of the first."""
        pair = (_check_name(key), _with_params(value, params))
        lower = key.lower()
        for index, (name, _) in enumerate(self._list):
            if name.lower() == lower:
                self._list[index] = pair
                self._list[index + 1 :] = [p for p in self._list[index + 1 :] if p[0].lower() != lower]
                return
        self._list.append(pair)

    def __setitem__(self, key: str, value: Any) -> None:
        self.set(key, value)

    def setdefault(self, key: str, default: Any) -> str:
        """The first value of ``key``; if absent, add ``default`` and return it."""
        try:
            return self[key]
        except KeyError:
            self.add(key, default)
            return self._list[-1][1]

    def remove(self, key: str) -> None:
        """Remove every field named ``key`` (no error if absent)."""
        lower = key.lower()
        self._list[:] = [pair for pair in self._list if pair[0].lower() != lower]

    def __delitem__(self, key: str) -> None:
        self.remove(key)

    def pop(self, key: str, default: Any = ...) -> Any:
        """Remove every field named ``key`` and return the first value."""
        try:
            value = self[key]
        except KeyError:
            if default is ...:
                raise
            return default
        self.remove(key)
        return value

    def extend(self, other: Headers | Mapping[str, Any] | Iterable[tuple[str, Any]]) -> None:
        """Append fields; mapping values that are lists or tuples add one field per item."""
        for key, value in _iter_header_pairs(other):
            self.add(key, value)

    def update(self, other: Headers | Mapping[str, Any] | Iterable[tuple[str, Any]]) -> None:
        """Replace each named field with the given value(s)."""
        grouped: dict[str, list[tuple[str, Any]]] = {}
        for key, value in _iter_header_pairs(other):
            grouped.setdefault(key.lower(), []).append((key, value))
        for pairs in grouped.values():
            self.set(*pairs[0])
            for key, value in pairs[1:]:
                self.add(key, value)

    def clear(self) -> None:
        self._list.clear()


def _iter_header_pairs(other: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(other, Headers):
        return iter(other)  # not ``_list``: an EnvironHeaders view keeps its pairs in the environ
    return _iter_pairs(other)


class EnvironHeaders(Headers):
    """A live, read-only :class:`Headers` view of the request headers in a WSGI environ.

    Names come back in ``Title-Case`` (the environ keeps no original spelling); CONTENT_TYPE and
    CONTENT_LENGTH, which PEP 3333 stores without the ``HTTP_`` prefix, are included.
    """

    __slots__ = ("environ",)

    def __init__(self, environ: Mapping[str, Any]) -> None:
        super().__init__()
        self.environ = environ

    @staticmethod
    def _key(name: str) -> str:
        key = name.upper().replace("-", "_")
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            return key
        return "HTTP_" + key

    def __getitem__(self, key: str) -> str:
        value = self.environ.get(self._key(key))
        if value is None or (value == "" and key.lower() in ("content-type", "content-length")):
            raise BadRequestKeyError(key)
        return str(value)

    def getlist(self, key: str, type: Callable[[str], Any] | None = None) -> list[Any]:
        try:
            value = self[key]
        except KeyError:
            return []
        if type is None:
            return [value]
        try:
            return [type(value)]
        except (ValueError, TypeError):
            return []

    get_all = getlist

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        try:
            self[key]
        except KeyError:
            return False
        return True

    def _pairs(self) -> list[tuple[str, str]]:
        pairs = []
        for key, value in self.environ.items():
            if key.startswith("HTTP_") and key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
                pairs.append((key[5:].replace("_", "-").title(), str(value)))
            elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
                pairs.append((key.replace("_", "-").title(), str(value)))
        return pairs

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._pairs())

    def __len__(self) -> int:
        return len(self._pairs())

    def __bool__(self) -> bool:
        return bool(self._pairs())

    def keys(self, lower: bool = False) -> list[str]:
        return [name.lower() if lower else name for name, _ in self._pairs()]

    def values(self) -> list[str]:
        return [value for _, value in self._pairs()]

    def items(self, lower: bool = False) -> list[tuple[str, str]]:
        return [(name.lower() if lower else name, value) for name, value in self._pairs()]

    def to_wsgi_list(self) -> list[tuple[str, str]]:
        return self._pairs()

    def copy(self) -> Headers:
        """A mutable :class:`Headers` snapshot."""
        return Headers(self._pairs())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._pairs()!r})"

    def __str__(self) -> str:
        return "".join(f"{name}: {value}\r\n" for name, value in self._pairs()) + "\r\n"

    def _immutable(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("request headers are read-only")

    add = add_header = set = setdefault = remove = pop = extend = update = clear = _immutable
    __setitem__ = __delitem__ = _immutable


# -- uploaded files ------------------------------------------------------------------------------------------


class FileStorage:
    """One uploaded file: its form field ``name``, client ``filename``, ``content_type`` and ``stream``.

    The stream is positioned at the start of the content; it may be in memory or a temporary file.
    """

    def __init__(
        self,
        stream: IO[bytes] | None = None,
        filename: str | None = None,
        name: str | None = None,
        content_type: str | None = None,
        content_length: int | None = None,
        *,
        headers: Headers | None = None,
    ) -> None:
        if stream is None:
            import io

            stream = io.BytesIO()
        self.stream: IO[bytes] = stream
        self.filename = filename
        self.name = name
        self.headers = headers if headers is not None else Headers()
        if content_type is not None and "Content-Type" not in self.headers:
            self.headers.set("Content-Type", content_type)
        self._content_length = content_length

    @property
    def content_type(self) -> str | None:
        return self.headers.get("Content-Type")

    @property
    def mimetype(self) -> str:
        """The content type without parameters, lowercased (``""`` if unknown)."""
        return (self.content_type or "").split(";", 1)[0].strip().lower()

    @property
    def mimetype_params(self) -> dict[str, str]:
        from .httputil import parse_options_header

        return parse_options_header(self.content_type or "")[1]

    @property
    def content_length(self) -> int:
        """The size declared by the part headers, or the size of the stored content when known."""
        if self._content_length is not None:
            return self._content_length
        declared = self.headers.get("Content-Length", type=int)
        return declared if declared is not None else 0

    def save(self, dst: str | os.PathLike[str] | IO[bytes], buffer_size: int = 64 * 1024) -> None:
        """Copy the content to a path or a writable binary file (the path's file is closed afterwards)."""
        if isinstance(dst, (str, os.PathLike)):
            with open(dst, "wb") as out:
                shutil.copyfileobj(self.stream, out, buffer_size)
        else:
            shutil.copyfileobj(self.stream, dst, buffer_size)

    def read(self, size: int = -1) -> bytes:
        return self.stream.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.stream.seek(offset, whence)

    def close(self) -> None:
        try:
            self.stream.close()
        except Exception:
            pass

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.stream)

    def __getattr__(self, name: str) -> Any:
        # The rest of the file API (closed, readable, readline, tell, ...) is the stream's, so a
        # FileStorage can go wherever a file object is expected.
        if name.startswith("__") or name == "stream":
            raise AttributeError(name)
        return getattr(self.stream, name)

    def __bool__(self) -> bool:
        return bool(self.filename)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.filename!r} ({self.content_type!r})>"
