"""Helpers for applications built on the toolkit: safe upload names, redirects, sending files.

Strategy: :func:`secure_filename` reduces a client-supplied name to a conservative ASCII alphabet (the
one rule for naming stored uploads); the response helpers live with :class:`~.response.Response` and are
gathered here under the names applications look for. Beside them: descriptors for request-like classes
(:class:`cached_property`, :class:`cached_attribute`, :class:`environ_property`,
:class:`header_property`) and the import helpers (:func:`import_string`, :func:`find_modules`) that
configuration by dotted name needs.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any, Generic, TypeVar, overload

from .response import Response, redirect, send_file, send_from_directory
from .security import is_windows_device_name

__all__ = [
    "append_slash_redirect",
    "cached_attribute",
    "cached_property",
    "environ_property",
    "find_modules",
    "header_property",
    "import_string",
    "redirect",
    "secure_filename",
    "send_file",
    "send_from_directory",
]

T = TypeVar("T")

_unsafe_re = re.compile(r"[^A-Za-z0-9_.-]", re.ASCII)


def secure_filename(filename: str) -> str:
    """A name safe to store a client's upload under: ASCII letters, digits, ``_``, ``.`` and ``-`` only.

    Accents are folded (``ü`` -> ``u``), path separators and spaces become ``_``, leading/trailing dots
    and underscores go (no hidden files, no ``..``), and Windows device names get a ``_`` prefix. The
    result may be empty: the caller must then pick a name itself.
    """
    name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode("ascii")
    for separator in (os.sep, os.path.altsep, "/", "\\"):
        if separator:
            name = name.replace(separator, " ")
    name = _unsafe_re.sub("", "_".join(name.split())).strip("._")
    # a stored "con.txt" could not be opened on Windows, whatever the system here is
    if name and is_windows_device_name(name):
        name = f"_{name}"
    return name


def append_slash_redirect(environ: Mapping[str, Any], code: int = 308) -> Response:
    """A redirect to the request path plus a trailing slash, relative to the current segment.

    308 keeps the method and body (RFC 9110 §15.4.9). The Location is the last path segment with the slash
    (``/a/b`` -> ``b/``), so it is right behind any prefix a proxy added.
    """
    path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
    # The last segment; empty when the path already ends in "/" (then "./" is that same directory).
    tail = path.rpartition("/")[2]
    location = f"{tail}/" if tail else "./"
    query = environ.get("QUERY_STRING")
    if query:
        location = f"{location}?{query}"
    return redirect(location, code)


# -- descriptors ------------------------------------------------------------------------------------------


class cached_property(property, Generic[T]):
    """A property computed on first access and then kept in the instance's ``__dict__``.

    Unlike :func:`functools.cached_property` it is a real :class:`property` (so :mod:`inspect` and
    documentation tools list it as one), the stored value may be assigned (``obj.x = 1``) and deleted (the
    next access computes it again), and ``name=`` stores it under another key than the function's name.
    """

    def __init__(self, fget: Callable[[Any], T], name: str | None = None, doc: str | None = None) -> None:
        super().__init__(fget, doc=doc)
        self.__name__ = name or fget.__name__
        self.slot_name = self.__name__
        self.__module__ = fget.__module__
        self.__doc__ = doc or fget.__doc__

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> cached_property[T]: ...
    @overload
    def __get__(self, obj: object, owner: type | None = None) -> T: ...
    def __get__(self, obj: object | None, owner: type | None = None) -> Any:
        if obj is None:
            return self
        store: dict[str, Any] = obj.__dict__
        try:
            return store[self.slot_name]
        except KeyError:
            assert self.fget is not None
            value = store[self.slot_name] = self.fget(obj)
            return value

    def __set__(self, obj: object, value: Any) -> None:
        obj.__dict__[self.slot_name] = value

    def __delete__(self, obj: object) -> None:
        obj.__dict__.pop(self.slot_name, None)


class cached_attribute(Generic[T]):
    """``functools.cached_property`` without the lock Python 3.11's takes on every first read (3.12
    dropped it): computed on the first read and stored in the instance's ``__dict__``, where later reads
    find it without calling this; assigning or deleting the attribute works on that ``__dict__``.

    Not a data descriptor, unlike :class:`cached_property`: a read after the first costs no call, which
    is why :class:`~.request.Request` uses it for its many lazily computed attributes."""

    def __init__(self, func: Callable[[Any], T]) -> None:
        self.func = func
        self.attrname = func.__name__
        self.__doc__ = func.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.attrname = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> cached_attribute[T]: ...
    @overload
    def __get__(self, obj: object, owner: type | None = None) -> T: ...
    def __get__(self, obj: object | None, owner: type | None = None) -> Any:
        if obj is None:
            return self
        value = obj.__dict__[self.attrname] = self.func(obj)
        return value


class _MappingProperty:
    """A property that reads and writes one key of a mapping the instance holds (``environ``,
    ``headers``), converted by ``load_func`` on the way out (a failed conversion reads as the default)
    and by ``dump_func`` on the way in."""

    read_only = False

    def __init__(  # noqa: PLR0917 - werkzeug's positional order, which callers use
        self,
        name: str,
        default: Any = None,
        load_func: Callable[[str], Any] | None = None,
        dump_func: Callable[[Any], str] | None = None,
        read_only: bool | None = None,
        doc: str | None = None,
    ) -> None:
        self.name = name
        self.default = default
        self.load_func = load_func
        self.dump_func = dump_func
        if read_only is not None:
            self.read_only = read_only
        self.__doc__ = doc

    def lookup(self, obj: Any) -> MutableMapping[str, Any]:
        raise NotImplementedError

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        store = self.lookup(obj)
        if self.name not in store:
            return self.default
        value = store[self.name]
        if self.load_func is None:
            return value
        try:
            return self.load_func(value)
        except (ValueError, TypeError):
            return self.default

    def __set__(self, obj: Any, value: Any) -> None:
        if self.read_only:
            raise AttributeError(f"{self.name!r} is read-only")
        self.lookup(obj)[self.name] = self.dump_func(value) if self.dump_func is not None else value

    def __delete__(self, obj: Any) -> None:
        if self.read_only:
            raise AttributeError(f"{self.name!r} is read-only")
        self.lookup(obj).pop(self.name, None)


class environ_property(_MappingProperty):
    """An attribute that is a key of the instance's WSGI ``environ``; read-only unless told otherwise."""

    read_only = True

    def lookup(self, obj: Any) -> MutableMapping[str, Any]:
        return obj.environ  # type: ignore[no-any-return]


class header_property(_MappingProperty):
    """An attribute that is a header of the instance's ``headers``."""

    def lookup(self, obj: Any) -> MutableMapping[str, Any]:
        return obj.headers  # type: ignore[no-any-return]


# -- importing by name -----------------------------------------------------------------------------------


def import_string(import_name: str, silent: bool = False) -> Any:
    """The object a dotted name points to: ``"pkg.module"``, ``"pkg.module.attr"`` or ``"pkg.module:attr"``.

    An error while importing an existing module propagates as it is (its traceback shows the real cause);
    a name that does not exist raises :class:`ImportError`, or gives ``None`` when ``silent``.
    """
    try:
        return _import(import_name.strip())
    except ImportError:
        if silent:
            return None
        raise


def _import(name: str) -> Any:
    if ":" in name:
        module_name, _, attr = name.partition(":")
        return _attribute(importlib.import_module(module_name), attr, name)
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        # Only "this very name is not a module" falls back to an attribute; a module that fails to import
        # something else is a real error and keeps its traceback.
        module_name, _, attr = name.rpartition(".")
        if exc.name != name or not module_name:
            raise
    return _attribute(_import(module_name), attr, name)


def _attribute(obj: Any, path: str, name: str) -> Any:
    for part in path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError as exc:
            raise ImportError(f"cannot import {name!r}: no attribute {part!r}") from exc
    return obj


def find_modules(import_path: str, include_packages: bool = False, recursive: bool = False) -> Iterator[str]:
    """The dotted names of the modules in package ``import_path`` (packages too with ``include_packages``;
    their contents with ``recursive``)."""
    package = import_string(import_path)
    path = getattr(package, "__path__", None)
    if path is None:
        raise ValueError(f"{import_path!r} is not a package")
    for info in pkgutil.iter_modules(path, prefix=f"{import_path}."):
        if info.ispkg:
            if include_packages:
                yield info.name
            if recursive:
                yield from find_modules(info.name, include_packages, True)
        else:
            yield info.name
