"""Multi-valued dicts: :class:`MultiDict`, its read-only, ordered and combined forms. Re-exported by
:mod:`sockweb.web.datastructures`.

Strategy: a :class:`MultiDict` *is* a ``dict`` whose stored values are the lists of values of each key;
every public read answers with the first value (``md[key]``, ``get``, ``items()``, ``dict(md)``), and the
``*list`` methods see all of them. Storage is reached only through the unbound ``dict`` methods, so an
override of a public method never changes what another one stores. Because ``__iter__`` is defined here,
``dict(md)`` and ``{**md}`` go through ``keys()`` and ``__getitem__`` and see first values, never the
internal lists. :class:`ImmutableMultiDict` refuses every change; :class:`CombinedMultiDict` holds
references to several and merges them on each read, so it follows their later changes.
:class:`OrderedMultiDict` also keeps the order of values across keys (``items(multi=True)`` replays the
insertion order exactly), at the cost of linear-time removals.
"""

from __future__ import annotations

import copy as _copy
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NoReturn, TypeVar, cast, overload

from .exceptions import BadRequestKeyError
from .mappings import TypeConversionDict, convert, convert_all

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")

__all__ = [
    "CombinedMultiDict",
    "ImmutableMultiDict",
    "ImmutableOrderedMultiDict",
    "MultiDict",
    "OrderedMultiDict",
    "iter_multi_items",
]


def iter_multi_items(mapping: Any) -> Iterator[tuple[Any, Any]]:
    """Every ``(key, value)`` pair of a MultiDict (all values), a mapping (list, tuple and set values
    expand to one pair per item) or an iterable of pairs."""
    if isinstance(mapping, MultiDict):
        yield from mapping.items(multi=True)
    elif isinstance(mapping, Mapping):
        for key, value in mapping.items():
            if isinstance(value, (list, tuple, set)):
                for item in value:
                    yield key, item
            else:
                yield key, value
    else:
        yield from mapping


# The storage primitives: a MultiDict's own methods answer with first values, so storage goes through these.
# Typed loosely on purpose: what they store (lists) is not what the class declares (values).
_get_list: Callable[..., Any] = dict.get
_set_list: Callable[[Any, Any, Any], None] = dict.__setitem__
_pop_list: Callable[..., Any] = dict.pop
_list_items: Callable[[Any], Any] = dict.items
_list_values: Callable[[Any], Any] = dict.values


def _refuse(self: object, *args: Any, **kwargs: Any) -> NoReturn:
    raise TypeError(f"{type(self).__name__} objects are immutable")


class MultiDict(TypeConversionDict[K, V]):
    """A dict with several values per key; ``md[key]`` is the first one, ``getlist(key)`` all of them.

    A missing key raises :class:`~sockweb.web.exceptions.BadRequestKeyError`, which is a ``KeyError`` for
    code and a 400 response if left uncaught in a view. Values keep their insertion order within a key.
    """

    __slots__ = ()

    def __init__(self, mapping: Any = None) -> None:
        super().__init__()
        if mapping is None:
            return
        if isinstance(mapping, MultiDict) and not isinstance(mapping, OrderedMultiDict):
            for key, values in mapping.lists():
                _set_list(self, key, values)
        elif isinstance(mapping, list):
            # The common case (parsed query strings, cookies): a list of pairs, appended inline.
            for key, value in mapping:
                values = _get_list(self, key)
                if values is None:
                    _set_list(self, key, [value])
                else:
                    values.append(value)
        else:
            for key, value in iter_multi_items(mapping):
                self._append(key, value)

    def _append(self, key: K, value: V) -> None:
        values: list[V] | None = _get_list(self, key)
        if values is None:
            _set_list(self, key, [value])
        else:
            values.append(value)

    def _lists(self) -> Iterator[tuple[K, list[V]]]:
        """The stored ``(key, values)`` pairs, live lists (not copies)."""
        return iter(cast("Iterable[tuple[K, list[V]]]", _list_items(self)))

    # -- first-value reads ----------------------------------------------------------------------------

    def __getitem__(self, key: K) -> V:
        values: list[V] | None = _get_list(self, key)
        if not values:
            raise BadRequestKeyError(key)
        return values[0]

    def __iter__(self) -> Iterator[K]:
        # Defined in Python on purpose: dict(md) and {**md} then read first values through keys() and
        # __getitem__ instead of copying the internal lists.
        return dict.__iter__(self)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, MultiDict):
            return dict(self.lists()) == dict(other.lists())
        if isinstance(other, Mapping):
            return dict(self.items()) == dict(other.items())
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self.items(multi=True))!r})"

    @overload  # type: ignore[override]
    def get(self, key: K) -> V | None: ...
    @overload
    def get(self, key: K, default: V | T) -> V | T: ...
    @overload
    def get(self, key: K, default: T | None = None, *, type: Callable[[V], T]) -> T | None: ...

    def get(self, key: K, default: Any = None, type: Callable[[V], Any] | None = None) -> Any:
        """The first value, or ``default``; with ``type``, the converted value (``default`` when it fails)."""
        try:
            value = self[key]
        except KeyError:
            return default
        return convert(value, type, default)

    def getlist(self, key: K, type: Callable[[V], Any] | None = None) -> list[Any]:
        """Every value of ``key`` (empty list if absent); with ``type``, those that convert."""
        values: list[V] = _get_list(self, key, ())
        return convert_all(values, type)

    @overload  # type: ignore[override]
    def items(self) -> Iterator[tuple[K, V]]: ...
    @overload
    def items(self, multi: bool) -> Iterator[tuple[K, V]]: ...

    def items(self, multi: bool = False) -> Iterator[tuple[K, V]]:
        """``(key, first value)`` pairs, or every ``(key, value)`` pair with ``multi=True``."""
        for key, values in self._lists():
            if multi:
                for value in values:
                    yield key, value
            elif values:
                yield key, values[0]

    def values(self) -> Iterator[V]:  # type: ignore[override]
        """The first value of each key."""
        for values in cast("Iterable[list[V]]", _list_values(self)):
            if values:
                yield values[0]

    def lists(self) -> Iterator[tuple[K, list[V]]]:
        """``(key, all values)`` pairs (the lists are copies)."""
        for key, values in self._lists():
            yield key, list(values)

    def listvalues(self) -> Iterator[list[V]]:
        """The list of all values of each key (copies)."""
        for _, values in self._lists():
            yield list(values)

    def to_dict(self, flat: bool = True) -> dict[K, Any]:
        """A plain dict: first values, or lists of all values with ``flat=False``."""
        if flat:
            return dict(self.items())
        return dict(self.lists())

    # -- changes -------------------------------------------------------------------------------------

    def __setitem__(self, key: K, value: V) -> None:
        _set_list(self, key, [value])

    def add(self, key: K, value: V) -> None:
        """Append a value, keeping the existing ones."""
        self._append(key, value)

    def setlist(self, key: K, values: Iterable[V]) -> None:
        """Replace every value of ``key`` with a copy of ``values``; an empty iterable removes the key."""
        values = list(values)
        if values:
            _set_list(self, key, values)
        else:
            _pop_list(self, key, None)

    def setdefault(self, key: K, default: Any = None) -> Any:
        """The first value of ``key``; if absent, ``default`` is added and returned."""
        if key in self:
            return self[key]
        self.add(key, default)
        return default

    def setlistdefault(self, key: K, default: Iterable[V] = ()) -> list[V]:
        """The live list of values of ``key``, created from ``default`` if absent."""
        values: list[V] | None = _get_list(self, key)
        if values is None:
            values = list(default)
            _set_list(self, key, values)
        return values

    def update(self, mapping: Any = (), /, **kwargs: Any) -> None:
        """Add the values of ``mapping`` (multi-aware) and of ``kwargs`` to the existing ones (as ``add``)."""
        for key, value in iter_multi_items(mapping):
            self.add(key, value)
        for key, value in iter_multi_items(kwargs):
            self.add(key, value)

    def __or__(self, other: Any) -> MultiDict[K, V]:  # type: ignore[override]
        """A copy with the values of ``other`` added."""
        if not isinstance(other, Mapping):
            return NotImplemented
        result = self.copy()
        result.update(other)
        return result

    def __ior__(self, other: Any) -> MultiDict[K, V]:  # type: ignore[override]
        if not isinstance(other, (Mapping, Iterable)):
            return NotImplemented
        self.update(other)
        return self

    def pop(self, key: K, default: Any = ...) -> Any:
        """Remove ``key`` and return its first value (``default``, else BadRequestKeyError, if none)."""
        values: list[V] | None = _pop_list(self, key, None)
        if not values:
            if default is ...:
                raise BadRequestKeyError(key)
            return default
        return values[0]

    def poplist(self, key: K) -> list[V]:
        """Remove ``key`` and return all its values (empty list if absent)."""
        result: list[V] = _pop_list(self, key, [])
        return result

    def popitem(self) -> tuple[K, V]:
        """Remove the last key and return it with its first value."""
        key, values = self.popitemlist()
        if not values:
            raise BadRequestKeyError(key)
        return key, values[0]

    def popitemlist(self) -> tuple[K, list[V]]:
        """Remove the last key and return it with all its values."""
        if not dict.__len__(self):
            raise BadRequestKeyError("popitem(): dictionary is empty")
        return cast("tuple[K, list[V]]", dict.popitem(self))

    # -- copies and pickling -------------------------------------------------------------------------

    def copy(self) -> MultiDict[K, V]:
        """A shallow copy of the same class (the value lists are new, the values shared)."""
        return type(self)(self)

    def deepcopy(self, memo: dict[int, Any] | None = None) -> MultiDict[K, V]:
        """A copy whose values are deep copies too."""
        return type(self)(_copy.deepcopy(list(self.items(multi=True)), memo))

    def __copy__(self) -> MultiDict[K, V]:
        return self.copy()

    def __deepcopy__(self, memo: dict[int, Any]) -> MultiDict[K, V]:
        return self.deepcopy(memo)

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        # Rebuilt from its pairs: the default dict pickling would store first values only.
        return type(self), (list(self.items(multi=True)),)


class ImmutableMultiDict(MultiDict[K, V]):
    """A :class:`MultiDict` that refuses changes (request data is read-only) and is hashable."""

    __slots__ = ()

    __setitem__ = __delitem__ = _refuse
    add = setlist = setlistdefault = update = pop = poplist = popitem = popitemlist = clear = _refuse

    def setdefault(self, key: K, default: Any = None) -> NoReturn:
        _refuse(self)

    def __ior__(self, other: Any) -> NoReturn:
        _refuse(self)

    def __hash__(self) -> int:  # type: ignore[override]
        # Equality ignores the order of keys, so the hash must too; the order of a key's values counts.
        return hash(frozenset((key, tuple(values)) for key, values in self._lists()))

    def copy(self) -> MultiDict[K, V]:
        """A mutable copy."""
        return MultiDict(self)

    def __copy__(self) -> ImmutableMultiDict[K, V]:
        return self  # immutable: the copy may be the object itself


class OrderedMultiDict(MultiDict[K, V]):
    """A :class:`MultiDict` that also remembers the order of values across keys: after ``add("a", 1)``,
    ``add("b", 2)``, ``add("a", 3)``, ``items(multi=True)`` gives them back in that order.

    Kept for code written against that order; removing values is linear in the size. Two ordered dicts
    are equal only with the same pairs in the same order. ``setlistdefault`` is refused (a live list could
    not keep the order).
    """

    __slots__ = ("_order",)

    def __init__(self, mapping: Any = None) -> None:
        self._order: list[tuple[K, V]] = []
        super().__init__()
        if mapping is not None:
            for key, value in iter_multi_items(mapping):
                self._append(key, value)

    def _append(self, key: K, value: V) -> None:
        super()._append(key, value)
        self._order.append((key, value))

    def _forget(self, key: K) -> None:
        self._order = [pair for pair in self._order if pair[0] != key]

    def items(self, multi: bool = False) -> Iterator[tuple[K, V]]:  # type: ignore[override]
        if multi:
            return iter(list(self._order))
        return super().items()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, OrderedMultiDict):
            return self._order == other._order
        return super().__eq__(other)

    __hash__ = None

    def __setitem__(self, key: K, value: V) -> None:
        self.poplist(key)
        self._append(key, value)

    def __delitem__(self, key: K) -> None:
        dict.__delitem__(self, key)
        self._forget(key)

    def setlist(self, key: K, values: Iterable[V]) -> None:
        self.poplist(key)
        for value in values:
            self._append(key, value)

    def setlistdefault(self, key: K, default: Iterable[V] = ()) -> NoReturn:
        raise TypeError("setlistdefault is not supported by ordered multi dicts")

    def pop(self, key: K, default: Any = ...) -> Any:
        value = super().pop(key, default)
        self._forget(key)
        return value

    def poplist(self, key: K) -> list[V]:
        values = super().poplist(key)
        self._forget(key)
        return values

    def popitemlist(self) -> tuple[K, list[V]]:
        key, values = super().popitemlist()
        self._forget(key)
        return key, values

    def clear(self) -> None:
        dict.clear(self)
        self._order.clear()

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        return type(self), (list(self._order),)


class ImmutableOrderedMultiDict(OrderedMultiDict[K, V]):
    """A read-only :class:`OrderedMultiDict`; hashable, and the hash follows the order of the pairs."""

    __slots__ = ()

    def __init__(self, mapping: Any = None) -> None:
        super().__init__(mapping)

    __setitem__ = __delitem__ = _refuse
    add = setlist = update = pop = poplist = popitem = popitemlist = clear = _refuse

    def setdefault(self, key: K, default: Any = None) -> NoReturn:
        _refuse(self)

    def __ior__(self, other: Any) -> NoReturn:
        _refuse(self)

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(self._order))

    def copy(self) -> OrderedMultiDict[K, V]:
        """A mutable copy."""
        return OrderedMultiDict(self)

    def __copy__(self) -> ImmutableOrderedMultiDict[K, V]:
        return self


class CombinedMultiDict(ImmutableMultiDict[K, V]):
    """A read-only view over several MultiDicts, first one first: ``d[key]`` is the first value found,
    ``getlist`` concatenates every dict's values. Copies are mutable MultiDicts."""

    __slots__ = ("dicts",)

    def __init__(self, dicts: Iterable[MultiDict[K, V]] | None = None) -> None:
        super().__init__()
        self.dicts: list[MultiDict[K, V]] = list(dicts or ())

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        return type(self), (self.dicts,)

    def _lists(self) -> Iterator[tuple[K, list[V]]]:
        # Merged on each read: the view follows later changes to the underlying dicts.
        merged: dict[K, list[V]] = {}
        for source in self.dicts:
            for key, values in source.lists():
                merged.setdefault(key, []).extend(values)
        return iter(merged.items())

    def __getitem__(self, key: K) -> V:
        for source in self.dicts:
            values = source.getlist(key)
            if values:
                return cast("V", values[0])
        raise BadRequestKeyError(key)

    def getlist(self, key: K, type: Callable[[V], Any] | None = None) -> list[Any]:
        result: list[Any] = []
        for source in self.dicts:
            result.extend(source.getlist(key, type))
        return result

    def values(self) -> Iterator[V]:  # type: ignore[override]
        for _, values in self._lists():
            if values:
                yield values[0]

    def keys(self) -> Any:
        return dict(self._lists()).keys()

    def __iter__(self) -> Iterator[K]:
        return iter(dict(self._lists()))

    def __len__(self) -> int:
        return len(dict(self._lists()))

    def __bool__(self) -> bool:
        return any(self.dicts)

    def __contains__(self, key: object) -> bool:
        return any(key in source for source in self.dicts)

    def copy(self) -> MultiDict[K, V]:
        """A mutable MultiDict with the merged contents."""
        return MultiDict(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.dicts!r})"
