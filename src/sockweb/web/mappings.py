"""Dict and list containers: read-only dicts and lists, typed ``get``, change callbacks. Re-exported by
:mod:`sockweb.web.datastructures`.

Strategy: each is a thin subclass of ``dict``/``list`` (or of :class:`ImmutableMultiDict`), so they stay as
fast as the builtins; immutable ones refuse every mutating method with ``TypeError``, are hashable, and copy
to a mutable builtin. :class:`CombinedMultiDict` keeps references to its dicts and merges on read, so it
always shows their current contents (``request.values`` over ``args`` and ``form``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NoReturn, TypeVar

K = TypeVar("K")
V = TypeVar("V")

__all__ = [
    "CallbackDict",
    "ImmutableDict",
    "ImmutableList",
    "ImmutableTypeConversionDict",
    "TypeConversionDict",
]


def _refuse(self: object, *args: Any, **kwargs: Any) -> NoReturn:
    raise TypeError(f"{type(self).__name__} objects are immutable")


def convert(value: Any, type: Callable[[Any], Any] | None, default: Any) -> Any:
    """``type(value)``, or ``default`` when ``type`` refuses it (``ValueError``/``TypeError``; other
    errors propagate); ``value`` itself without a ``type``. The rule of every ``get(..., type=)``."""
    if type is None:
        return value
    try:
        return type(value)
    except (ValueError, TypeError):
        return default


def convert_all(values: Iterable[Any], type: Callable[[Any], Any] | None) -> list[Any]:
    """The values ``type`` accepts, converted (all of them without a ``type``): every ``getlist(type=)``."""
    if type is None:
        return list(values)
    result = []
    for value in values:
        try:
            result.append(type(value))
        except (ValueError, TypeError):
            pass
    return result


class TypeConversionDict(dict[K, V]):
    """A dict whose ``get`` can convert: ``d.get("page", 1, type=int)``; a value ``type`` refuses
    (``ValueError``/``TypeError``) gives the default, other errors propagate."""

    def get(self, key: K, default: Any = None, type: Callable[[V], Any] | None = None) -> Any:
        if key not in self:
            return default
        return convert(self[key], type, default)


class ImmutableDict(dict[K, V]):
    """A read-only, hashable dict (rule defaults, configuration snapshots); ``copy()`` is a plain dict."""

    __setitem__ = __delitem__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __ior__(self, other: Any) -> NoReturn:  # type: ignore[misc]
        _refuse(self)

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))

    def copy(self) -> dict[K, V]:
        """A mutable copy."""
        return dict(self)

    def __copy__(self) -> ImmutableDict[K, V]:
        return self  # immutable: the copy may be the object itself

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict.__repr__(self)})"


class ImmutableTypeConversionDict(ImmutableDict[K, V], TypeConversionDict[K, V]):
    """A read-only :class:`TypeConversionDict` (``request.cookies`` style data)."""

    def copy(self) -> TypeConversionDict[K, V]:
        return TypeConversionDict(self)


class ImmutableList(list[V]):
    """A read-only, hashable list (hashes like the tuple of its items)."""

    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = extend = insert = pop = remove = reverse = sort = clear = _refuse

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list.__repr__(self)})"


class CallbackDict(dict[K, V]):
    """A dict that calls ``on_update(self)`` after each change (sessions use it to know they are dirty).

    Only real changes call it: ``pop`` of a missing key, ``setdefault`` of a present key or a failed
    ``del`` do not.
    """

    def __init__(
        self,
        initial: Any = None,
        on_update: Callable[[CallbackDict[K, V]], object] | None = None,
    ) -> None:
        super().__init__(initial or ())
        self.on_update = on_update

    def _changed(self) -> None:
        if self.on_update is not None:
            self.on_update(self)

    def __setitem__(self, key: K, value: V) -> None:
        super().__setitem__(key, value)
        self._changed()

    def __delitem__(self, key: K) -> None:
        super().__delitem__(key)
        self._changed()

    def __ior__(self, other: Any) -> CallbackDict[K, V]:  # type: ignore[override,misc]
        super().update(other)
        self._changed()
        return self

    def clear(self) -> None:
        super().clear()
        self._changed()

    def pop(self, key: K, *default: Any) -> Any:
        present = key in self
        value = super().pop(key, *default)
        if present:
            self._changed()
        return value

    def popitem(self) -> tuple[K, V]:
        item = super().popitem()
        self._changed()
        return item

    def setdefault(self, key: K, default: Any = None) -> Any:
        if key in self:
            return self[key]
        self[key] = default
        return default

    def update(self, *args: Any, **kwargs: Any) -> None:
        super().update(*args, **kwargs)
        self._changed()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {dict.__repr__(self)}>"
