"""Tagged JSON: JSON that gives back the Python types plain JSON loses (tuples, bytes, Markup, UUIDs,
datetimes), used to serialize the signed-cookie session.

Strategy: before dumping, :meth:`TaggedJSONSerializer.tag` walks the value; the first tag in
``order`` whose :meth:`JSONTag.check` accepts a value turns it into a one-key object ``{tag_key: json}``
(``{" t": [1, 2]}`` for a tuple). Tag keys start with a space, which ordinary keys rarely do; a dict
that is itself one such key is wrapped as ``{" di": {key + "__": value}}`` so that it is not mistaken
for a tag on the way back. Loading is the mirror image: every one-key object whose key is a registered
tag is turned back, innermost first (the ``object_hook`` of :func:`json.loads` runs bottom-up).

Plain JSON is a subset of this format: anything the earlier untagged session serializer wrote reads
back unchanged, except a dict with exactly one key that equals a tag key, which that serializer did not
escape. Datetimes are written as ISO 8601 (keeping microseconds and the offset; a naive value stays
naive); HTTP-date text, which Flask writes under the same key, is read too. Values no tag knows go
through the framework's JSON conversions (dates, Decimals, dataclasses, sets, enums) and come back in
their JSON form. Tags can be added with :meth:`TaggedJSONSerializer.register`.
"""

from __future__ import annotations

import json
from base64 import b64decode, b64encode
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any
from uuid import UUID

from markupsafe import Markup

from .json import default as _json_default

__all__ = [
    "JSONTag",
    "PassDict",
    "PassList",
    "TagBytes",
    "TagDateTime",
    "TagDict",
    "TagMarkup",
    "TagTuple",
    "TagUUID",
    "TaggedJSONSerializer",
]


class JSONTag:
    """One Python type's way in and out of JSON. Subclasses set :attr:`key` and implement
    :meth:`check`, :meth:`to_json` and :meth:`to_python`; a tag without a key only converts the value
    (its contents, say) and adds no marker, so nothing on the way back needs it.
    """

    __slots__ = ("serializer",)

    #: the marker key in the dumped JSON; empty for a tag that adds no marker
    key: str = ""

    def __init__(self, serializer: TaggedJSONSerializer) -> None:
        self.serializer = serializer

    def check(self, value: Any) -> bool:
        """Whether this tag handles ``value``."""
        raise NotImplementedError

    def to_json(self, value: Any) -> Any:
        """``value`` as JSON-ready data (without the marker)."""
        raise NotImplementedError

    def to_python(self, value: Any) -> Any:
        """The Python value back from what :meth:`to_json` produced."""
        raise NotImplementedError

    def tag(self, value: Any) -> Any:
        """``value`` converted, under the marker key when the tag has one."""
        data = self.to_json(value)
        return {self.key: data} if self.key else data


class TagDict(JSONTag):
    """A one-key dict whose key is a tag key: the key gets a ``__`` suffix so it is not read as a tag."""

    __slots__ = ()
    key = " di"

    def check(self, value: Any) -> bool:
        return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in self.serializer.tags

    def to_json(self, value: Any) -> Any:
        ((k, v),) = value.items()
        return {f"{k}__": self.serializer.tag(v)}

    def to_python(self, value: Any) -> Any:
        if not isinstance(value, dict) or len(value) != 1:
            raise ValueError("a ' di' tag holds a one-key object")
        ((k, v),) = value.items()
        return {k[:-2]: v}


class PassDict(JSONTag):
    """Any other dict: its values are tagged, the dict itself needs no marker."""

    __slots__ = ()

    def check(self, value: Any) -> bool:
        return isinstance(value, dict)

    def to_json(self, value: Any) -> Any:
        tag = self.serializer.tag
        return {k: tag(v) for k, v in value.items()}


class TagTuple(JSONTag):
    """A tuple: a JSON array under ``" t"``."""

    __slots__ = ()
    key = " t"

    def check(self, value: Any) -> bool:
        return isinstance(value, tuple)

    def to_json(self, value: Any) -> Any:
        tag = self.serializer.tag
        return [tag(item) for item in value]

    def to_python(self, value: Any) -> Any:
        return tuple(value)


class PassList(JSONTag):
    """A list: its items are tagged."""

    __slots__ = ()

    def check(self, value: Any) -> bool:
        return isinstance(value, list)

    def to_json(self, value: Any) -> Any:
        tag = self.serializer.tag
        return [tag(item) for item in value]


class TagBytes(JSONTag):
    """Bytes: base64 text under ``" b"``."""

    __slots__ = ()
    key = " b"

    def check(self, value: Any) -> bool:
        return isinstance(value, bytes)

    def to_json(self, value: Any) -> Any:
        return b64encode(value).decode("ascii")

    def to_python(self, value: Any) -> Any:
        return b64decode(value, validate=True)


class TagMarkup(JSONTag):
    """Anything with ``__html__`` (already-safe HTML): its HTML under ``" m"``, back as Markup."""

    __slots__ = ()
    key = " m"

    def check(self, value: Any) -> bool:
        return callable(getattr(value, "__html__", None))

    def to_json(self, value: Any) -> Any:
        return str(value.__html__())

    def to_python(self, value: Any) -> Any:
        return Markup(value)


class TagUUID(JSONTag):
    """A UUID: its hex digits under ``" u"``."""

    __slots__ = ()
    key = " u"

    def check(self, value: Any) -> bool:
        return isinstance(value, UUID)

    def to_json(self, value: Any) -> Any:
        return value.hex

    def to_python(self, value: Any) -> Any:
        return UUID(str(value))


class TagDateTime(JSONTag):
    """A datetime: ISO 8601 under ``" d"`` (an HTTP date, as Flask writes it, is read too)."""

    __slots__ = ()
    key = " d"

    def check(self, value: Any) -> bool:
        return isinstance(value, datetime)

    def to_json(self, value: Any) -> Any:
        return value.isoformat()

    def to_python(self, value: Any) -> Any:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return parsedate_to_datetime(value)  # "Wed, 21 Oct 2015 07:28:00 GMT" -> aware UTC


class TaggedJSONSerializer:
    """Dumps and loads tagged JSON (compact). Tags are tried in :attr:`order`; :attr:`tags` maps
    each marker key to its tag.
    """

    __slots__ = ("order", "tags")

    #: the tags every serializer starts with, in the order they are tried (dicts first: a one-key
    #: dict named like a tag must be escaped before the plain dict tag takes it)
    default_tags: list[type[JSONTag]] = [
        TagDict,
        PassDict,
        TagTuple,
        PassList,
        TagBytes,
        TagMarkup,
        TagUUID,
        TagDateTime,
    ]

    def __init__(self) -> None:
        self.tags: dict[str, JSONTag] = {}
        self.order: list[JSONTag] = []
        for cls in self.default_tags:
            self.register(cls)

    def register(self, tag_class: type[JSONTag], force: bool = False, index: int | None = None) -> None:
        """Add a tag. A key already taken raises KeyError unless ``force`` replaces it; ``index`` is
        where in :attr:`order` it goes (None: last, so it is tried after the built-in tags).
        """
        tag = tag_class(self)
        key = tag.key
        if key:
            if not force and key in self.tags:
                raise KeyError(f"Tag '{key}' is already registered.")
            self.tags[key] = tag
        if index is None:
            self.order.append(tag)
        else:
            self.order.insert(index, tag)

    def tag(self, value: Any) -> Any:
        """``value`` with every part that plain JSON would lose replaced by its tagged form."""
        for tag in self.order:
            if tag.check(value):
                return tag.tag(value)
        return value

    def untag(self, value: dict[str, Any]) -> Any:
        """A one-key dict whose key is a registered tag becomes that tag's Python value."""
        if len(value) != 1:
            return value
        key = next(iter(value))
        tag = self.tags.get(key)
        if tag is None:
            return value
        return tag.to_python(value[key])

    def dumps(self, value: Any) -> str:
        """Tagged, compact JSON text."""
        return json.dumps(self.tag(value), separators=(",", ":"), ensure_ascii=False, default=_json_default)

    def loads(self, value: str | bytes) -> Any:
        """The Python value back from :meth:`dumps` output (or from plain JSON)."""
        return json.loads(value, object_hook=self.untag)
