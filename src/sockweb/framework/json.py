"""JSON for the framework: ``jsonify`` and the provider an App uses to read and write JSON.

Strategy: one provider object per App (``app.json``) owns every JSON conversion, so an application can
swap the implementation by setting ``App.json_provider_class``. Two kinds of output:

- :meth:`JSONProvider.response` (``jsonify``, views returning a dict or list) writes compact UTF-8 with a
  final newline. It uses orjson when it is installed (several times faster than the standard library for
  typical API payloads) and falls back to :mod:`json` otherwise, or for the few values orjson refuses
  (integers beyond 64 bits, non-string keys); both give the same bytes.
- :meth:`JSONProvider.dumps` behaves like :func:`json.dumps` (its separators, its keyword arguments) with
  the provider's ``default``, ``sort_keys`` and ``ensure_ascii``; templates' ``tojson`` use it.

The conversions of :func:`default`, shared by both: dates and datetimes as HTTP dates (RFC 9110 §5.6.7,
in UTC, as Flask writes them), times as ISO 8601, UUIDs and Decimals as strings (every digit kept),
dataclasses as objects, objects with ``__html__`` as their markup, sets as lists and enums as their value.
"""

from __future__ import annotations

import dataclasses
import decimal
import enum
import importlib
import json as _json
import uuid
import weakref
from collections.abc import Callable
from datetime import date, time
from typing import IO, TYPE_CHECKING, Any

from sockweb.web.httputil import http_date

from .wrappers import Response as FrameworkResponse

if TYPE_CHECKING:
    from sockweb.web.response import Response

    from .app import App

# orjson is optional; imported by name so that the type checker gives the same verdict with or without it.
_orjson: Any = None
try:
    _orjson = importlib.import_module("orjson")
except ImportError:  # pragma: no cover - orjson is optional
    pass


# Dates go through default() (HTTP dates, not orjson's ISO 8601); bodies end in a newline.
_ORJSON_OPTIONS = 0 if _orjson is None else _orjson.OPT_PASSTHROUGH_DATETIME | _orjson.OPT_APPEND_NEWLINE


def default(o: Any) -> Any:
    """Convert the values JSON has no type for; raise TypeError for anything else."""
    if isinstance(o, date):
        return http_date(o)  # naive datetimes are taken as UTC, a date as its midnight UTC
    if isinstance(o, time):
        return o.isoformat()
    if isinstance(o, (decimal.Decimal, uuid.UUID)):
        return str(o)
    if dataclasses.is_dataclass(o) and not isinstance(o, type):
        return dataclasses.asdict(o)
    if hasattr(o, "__html__"):
        return str(o.__html__())
    if isinstance(o, (set, frozenset)):
        return list(o)
    if isinstance(o, enum.Enum):
        return o.value
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


class JSONProvider:
    """Reads and writes JSON for one App; subclass and set ``App.json_provider_class`` to customize.

    ``sort_keys`` defaults to the app's JSON_SORT_KEYS; ``compact`` (None: the app's JSONIFY_PRETTYPRINT,
    which when None means compact unless DEBUG) controls indentation of :meth:`response` bodies. Both
    can be set on the provider (``app.json.compact = False``), which then wins over the config.
    ``ensure_ascii`` escapes non-ASCII characters as ``\\uXXXX`` (off: JSON is UTF-8, RFC 8259 §8.1).
    """

    mimetype = "application/json"
    #: True: compact responses, False: indented, None: from the config (see the class docstring)
    compact: bool | None = None
    #: escape every non-ASCII character (needed only by consumers that cannot read UTF-8)
    ensure_ascii: bool = False
    #: hook for values the serializer does not know, shared by both backends
    default: Callable[[Any], Any] = staticmethod(default)

    def __init__(self, app: App) -> None:
        # A weak reference: the App holds its provider, and a cycle would keep a dropped App alive until
        # the garbage collector runs.
        self._app_ref = weakref.ref(app)
        self._sort_keys: bool | None = None

    @property
    def _app(self) -> App:
        app = self._app_ref()
        if app is None:
            raise RuntimeError("the App of this JSON provider no longer exists")
        return app

    @property
    def sort_keys(self) -> bool:
        return self._sorts(self._app)

    @sort_keys.setter
    def sort_keys(self, value: bool) -> None:
        self._sort_keys = bool(value)

    def _sorts(self, app: App) -> bool:
        if self._sort_keys is not None:
            return self._sort_keys
        return bool(app.config.get("JSON_SORT_KEYS", True))

    def _pretty(self, app: App) -> bool:
        if self.compact is not None:
            return not self.compact
        setting = app.config.get("JSONIFY_PRETTYPRINT")
        return bool(app.debug if setting is None else setting)

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        """Serialize to a string like :func:`json.dumps` (same keyword arguments and separators), with
        the provider's ``default``, ``sort_keys`` and ``ensure_ascii`` unless given."""
        kwargs.setdefault("default", self.default)
        kwargs.setdefault("sort_keys", self.sort_keys)
        kwargs.setdefault("ensure_ascii", self.ensure_ascii)
        return _json.dumps(obj, **kwargs)

    def dump(self, obj: Any, fp: IO[str], **kwargs: Any) -> None:
        """Write :meth:`dumps` of ``obj`` to the text file ``fp``."""
        fp.write(self.dumps(obj, **kwargs))

    def dump_bytes(self, obj: Any, *, pretty: bool = False) -> bytes:
        """The UTF-8 body of a JSON response for ``obj``: compact (or indented), ending in a newline."""
        return self._encode(obj, self.sort_keys, pretty)

    def _encode(self, obj: Any, sort_keys: bool, pretty: bool) -> bytes:
        if _orjson is not None and not self.ensure_ascii:
            # orjson's own output for dataclasses and UUIDs matches default().
            option = _ORJSON_OPTIONS
            if sort_keys:
                option |= _orjson.OPT_SORT_KEYS
            if pretty:
                option |= _orjson.OPT_INDENT_2
            try:
                data: bytes = _orjson.dumps(obj, default=self.default, option=option)
                return data
            except TypeError:
                pass  # e.g. a 65-bit int or a non-str key: the stdlib handles those
        text = _json.dumps(
            obj,
            default=self.default,
            sort_keys=sort_keys,
            ensure_ascii=self.ensure_ascii,
            indent=2 if pretty else None,
            separators=None if pretty else (",", ":"),
        )
        return (text + "\n").encode("utf-8")

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse JSON text (``str`` or UTF-8 ``bytes``); raises ValueError on bad input."""
        if _orjson is not None and not kwargs:
            try:
                return _orjson.loads(s)
            except _orjson.JSONDecodeError as e:
                raise ValueError(str(e)) from None
        return _json.loads(s, **kwargs)

    def load(self, fp: IO[Any], **kwargs: Any) -> Any:
        """Parse the JSON text read from the file ``fp``."""
        return self.loads(fp.read(), **kwargs)

    def response(self, *args: Any, **kwargs: Any) -> Response:
        """A JSON response: one positional value, several (a list), or keyword arguments (an object)."""
        if args and kwargs:
            raise TypeError("jsonify() takes either args or kwargs (positional or keyword), not both")
        if not args:
            obj: Any = kwargs
        elif len(args) == 1:
            obj = args[0]
        else:
            obj = list(args)
        app = self._app_ref()  # resolved once, without the property: this runs for every JSON response
        if app is None:
            raise RuntimeError("the App of this JSON provider no longer exists")
        sort_keys = self._sort_keys
        if sort_keys is None:
            sort_keys = bool(app.config.get("JSON_SORT_KEYS", True))
        body = self._encode(obj, sort_keys, self._pretty(app))
        cls = app.response_class
        if issubclass(cls, FrameworkResponse):
            return cls.from_body(body, self.mimetype)
        return cls(body, mimetype=self.mimetype)


DefaultJSONProvider = JSONProvider


def jsonify(*args: Any, **kwargs: Any) -> Response:
    """A JSON :class:`Response` for the arguments, serialized by the current app's provider."""
    from .globals import current_app

    return current_app.json.response(*args, **kwargs)


def dumps(obj: Any, **kwargs: Any) -> str:
    """Serialize with the current app's provider, or the default conversions outside an app."""
    from .globals import current_app_ctx

    ctx = current_app_ctx()
    if ctx is not None:
        return ctx.app.json.dumps(obj, **kwargs)
    kwargs.setdefault("default", default)
    return _json.dumps(obj, **kwargs)


def loads(s: str | bytes, **kwargs: Any) -> Any:
    """Parse with the current app's provider, or :func:`json.loads` outside an app."""
    from .globals import current_app_ctx

    ctx = current_app_ctx()
    if ctx is not None:
        return ctx.app.json.loads(s, **kwargs)
    return _json.loads(s, **kwargs)


def dump(obj: Any, fp: IO[str], **kwargs: Any) -> None:
    """Write :func:`dumps` of ``obj`` to the text file ``fp``."""
    fp.write(dumps(obj, **kwargs))


def load(fp: IO[Any], **kwargs: Any) -> Any:
    """Parse the JSON text read from the file ``fp`` (see :func:`loads`)."""
    return loads(fp.read(), **kwargs)
