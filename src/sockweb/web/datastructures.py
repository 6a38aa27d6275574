"""Containers for request and response data: multi-valued dicts, headers, uploaded files.

Strategy: the multi-valued dicts live in :mod:`.multidict` and the small dict/list containers in
:mod:`.mappings`; this module re-exports them and holds the header and file containers.
:class:`Headers` keeps the exact ``(name, value)`` list a response will send (order and repeats matter on
the wire) and compares names case-insensitively; it refuses CR, LF and NUL in names and values at the door
(also through positions and slices), so a header injected from user input can never split a response.
:class:`EnvironHeaders` is a read-only view of a WSGI environ with the same read API.
:class:`FileStorage` wraps one uploaded file and passes the rest of the file API through to its stream.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import IO, Any, NoReturn, TypeVar, Union, overload

from .exceptions import BadRequestKeyError
from .mappings import (
    CallbackDict,
    ImmutableDict,
    ImmutableList,
    ImmutableTypeConversionDict,
    TypeConversionDict,
    convert,
    convert_all,
)
from .multidict import (
    CombinedMultiDict,
    ImmutableMultiDict,
    ImmutableOrderedMultiDict,
    MultiDict,
    OrderedMultiDict,
    iter_multi_items,
)

# The private spellings some code imports the ordered variants under.
_OrderedMultiDict = OrderedMultiDict
_ImmutableOrderedMultiDict = ImmutableOrderedMultiDict

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
    "ImmutableOrderedMultiDict",
    "ImmutableTypeConversionDict",
    "MultiDict",
    "OrderedMultiDict",
    "TypeConversionDict",
    "iter_multi_items",
]


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

    @overload
    def __getitem__(self, key: str) -> str: ...
    @overload
    def __getitem__(self, key: int) -> tuple[str, str]: ...
    @overload
    def __getitem__(self, key: slice) -> Headers: ...

    def __getitem__(self, key: str | int | slice) -> str | tuple[str, str] | Headers:
        """The first value of a name; a position gives the ``(name, value)`` pair, a slice a new Headers."""
        if isinstance(key, str):
            lower = key.lower()
            for name, value in self._list:
                if name.lower() == lower:
                    return value
            raise BadRequestKeyError(key)
        if isinstance(key, slice):
            clone = Headers()
            clone._list = self._list[key]
            return clone
        return self._list[key]

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
        return convert(value, type, default)

    def getlist(self, key: str, type: Callable[[str], Any] | None = None) -> list[Any]:
        """Every value of ``key`` in order."""
        lower = key.lower()
        values = [value for name, value in self._list if name.lower() == lower]
        return convert_all(values, type)

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

    @overload
    def __setitem__(self, key: str, value: Any) -> None: ...
    @overload
    def __setitem__(self, key: int, value: tuple[str, Any]) -> None: ...
    @overload
    def __setitem__(self, key: slice, value: Iterable[tuple[str, Any]]) -> None: ...

    def __setitem__(self, key: str | int | slice, value: Any) -> None:
        """Set a name (replacing its fields), a position (a pair) or a slice (pairs); all are validated."""
        if isinstance(key, str):
            self.set(key, value)
        elif isinstance(key, slice):
            self._list[key] = [(_check_name(name), _check_value(item)) for name, item in value]
        else:
            name, item = value
            self._list[key] = (_check_name(name), _check_value(item))

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

    def __delitem__(self, key: str | int | slice) -> None:
        """Remove every field of a name, or the fields at a position or slice."""
        if isinstance(key, str):
            self.remove(key)
        else:
            del self._list[key]

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

    def extend(self, *args: HeaderSource, **kwargs: Any) -> None:
        """Append fields from one mapping or iterable of pairs and from ``kwargs``; list or tuple values
        add one field per item."""
        for key, value in _header_pairs(args, kwargs):
            self.add(key, value)

    def update(self, *args: HeaderSource, **kwargs: Any) -> None:
        """Replace each named field with the given value(s), ``kwargs`` last (as :meth:`setlist`)."""
        for source in (_header_pairs(args, {}), iter_multi_items(kwargs)):
            grouped: dict[str, tuple[str, list[Any]]] = {}
            for key, value in source:
                grouped.setdefault(key.lower(), (key, []))[1].append(value)
            for key, values in grouped.values():
                self.setlist(key, values)

    def setlist(self, key: str, values: Iterable[Any]) -> None:
        """Replace the fields of ``key`` with one per value: the first where the first field was, the
        others appended; an empty iterable removes the fields."""
        items = list(values)
        if not items:
            self.remove(key)
            return
        self.set(key, items[0])
        for item in items[1:]:
            self.add(key, item)

    def setlistdefault(self, key: str, default: Iterable[Any]) -> list[str]:
        """The values of ``key``; if absent, ``default`` is set first (as :meth:`setlist`)."""
        if key not in self:
            self.setlist(key, default)
        return self.getlist(key)

    def __or__(self, other: Any) -> Headers:
        """A copy with the fields of ``other`` replacing those of the same names."""
        if not isinstance(other, (Mapping, Headers)):
            return NotImplemented
        result = self.copy()
        result.update(other)
        return result

    def __ior__(self, other: Any) -> Headers:
        if not isinstance(other, (Mapping, Headers, Iterable)):
            return NotImplemented
        self.update(other)
        return self

    def clear(self) -> None:
        self._list.clear()


HeaderSource = Union["Headers", Mapping[str, Any], Iterable[tuple[str, Any]]]


def _header_pairs(args: tuple[HeaderSource, ...], kwargs: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """The pairs of at most one positional source and of ``kwargs``, list values expanded."""
    if len(args) > 1:
        raise TypeError(f"expected at most 1 positional argument, got {len(args)}")
    if args:
        source = args[0]
        if isinstance(source, Headers):
            yield from source  # not ``_list``: an EnvironHeaders view keeps its pairs in the environ
        else:
            yield from iter_multi_items(source)
    yield from iter_multi_items(kwargs)


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

    def __getitem__(self, key: str) -> str:  # type: ignore[override]
        value = self.environ.get(self._key(key))
        if value is None or (value == "" and key.lower() in ("content-type", "content-length")):
            raise BadRequestKeyError(key)
        return str(value)

    def getlist(self, key: str, type: Callable[[str], Any] | None = None) -> list[Any]:
        try:
            value = self[key]
        except KeyError:
            return []
        return convert_all([value], type)

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
    setlist = setlistdefault = _immutable
    __setitem__ = __delitem__ = __or__ = __ior__ = _immutable


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

    def __bool__(self) -> bool:
        return bool(self.filename)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.filename!r} ({self.content_type!r})>"

    def __getattr__(self, name: str) -> Any:
        # The rest of the file API (closed, fileno, readable, readline, tell, ...) is the stream's, so a
        # FileStorage can go wherever a file object is expected; a temporary file from the form parser
        # lacks some io.IOBase methods, so they are looked up, not inherited.
        if name.startswith("__") or name == "stream":
            raise AttributeError(name)
        return getattr(self.__dict__.get("stream"), name)
