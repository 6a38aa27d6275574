"""URL routing: a Map of Rules, matched against a request path and used to build URLs back.

Strategy. A rule string such as ``/users/<int(min=1):id>/edit`` is parsed once into static text and
converter slots. Rules are sorted by specificity (segment by segment: static text beats a mixed segment,
which beats a converter, and a low-weight converter such as ``int`` beats ``string``, which beats ``path``),
so the result does not depend on definition order where it matters.

Matching must stay fast with hundreds of rules, so no request loops over every rule:

* fully static rules live in a dict keyed by path (one lookup);
* dynamic rules are grouped by their *static prefix*, the leading segments that hold no converter
  (``/api/v1/users/`` for ``/api/v1/users/<int:id>``); each group is compiled into one alternation regex
  with a named group per rule, so one ``re.match`` call in C finds the first (most specific) rule of the
  group. A request tries the groups of its own prefixes, longest first, which keeps the specificity order.

The fast path returns as soon as the first candidate accepts the method and its converters accept the
values. Anything unusual (a converter raising ValidationError, a method mismatch that may end in 405, a
strict-slash redirect) falls back to a slow, exhaustive scan in the same order, which is rare and still
exact.
"""

from __future__ import annotations

import ast
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, NoReturn
from urllib.parse import quote, urlencode

from sockweb.web.exceptions import HTTPException, MethodNotAllowed, NotFound, RequestRedirect

__all__ = [
    "AnyConverter",
    "AutomaticOptions",
    "BaseConverter",
    "BuildError",
    "FloatConverter",
    "IntegerConverter",
    "Map",
    "MapAdapter",
    "PathConverter",
    "Rule",
    "UUIDConverter",
    "UnicodeConverter",
    "ValidationError",
]

WSGIEnvironment = dict[str, Any]


class ValidationError(ValueError):
    """Raised by a converter's ``to_python``/``to_url`` to say "this rule does not apply"."""


class BuildError(LookupError):
    """No rule can build a URL for this endpoint with these values."""

    def __init__(self, endpoint: str, values: Mapping[str, Any], method: str | None, reason: str) -> None:
        self.endpoint = endpoint
        self.values = dict(values)
        self.method = method
        super().__init__(reason)


class AutomaticOptions(HTTPException):
    """Answer to an OPTIONS request on a path whose rules do not handle OPTIONS themselves.

    It is an HTTPException so that frameworks which render exceptions as responses answer it for free:
    ``200`` with an ``Allow`` header and an empty body.
    """

    code = 200
    description = ""

    def __init__(self, allowed_methods: Iterable[str]) -> None:
        super().__init__()
        self.allowed_methods = sorted(allowed_methods)

    def get_body(self, environ: WSGIEnvironment | None = None) -> str:
        return ""

    def get_headers(self, environ: WSGIEnvironment | None = None) -> list[tuple[str, str]]:
        return [("Allow", ", ".join(self.allowed_methods))]


# --------------------------------------------------------------------------------------------- converters


# Most values are plain words: checking that is cheaper than quote().
_NEEDS_NO_QUOTING = re.compile(r"[A-Za-z0-9_.~!$&'()*+,:;=@-]*\Z").match
_NEEDS_NO_QUOTING_PATH = re.compile(r"[A-Za-z0-9_.~!$&'()*+,:;=@/-]*\Z").match


class BaseConverter:
    """Turns one URL part into a Python value and back.

    ``regex`` is what the part may look like, ``weight`` orders rules (lower is tried first),
    ``part_isolating`` says the regex never crosses a ``/``. ``to_python`` may raise ValidationError to
    make the router skip the rule and try the next one.
    """

    regex = "[^/]+"
    weight = 100
    part_isolating = True

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        self.map = map

    def to_python(self, value: str) -> Any:
        return value

    def to_url(self, value: Any) -> str:
        # "/" is quoted: a single-segment converter could not match it back.
        text = str(value)
        return text if _NEEDS_NO_QUOTING(text) else quote(text, safe="!$&'()*+,:;=@")


class UnicodeConverter(BaseConverter):
    """``<string(minlength=1, maxlength=None, length=None):name>``: one path segment (the default)."""

    def __init__(
        self, map: Map, minlength: int = 1, maxlength: int | None = None, length: int | None = None
    ) -> None:
        super().__init__(map)
        if length is not None:
            bounds = f"{{{int(length)}}}"
        else:
            bounds = f"{{{int(minlength)},{'' if maxlength is None else int(maxlength)}}}"
        self.regex = f"[^/]{bounds}"


class IntegerConverter(BaseConverter):
    """``<int(fixed_digits=0, min=None, max=None, signed=False):name>``: ASCII digits only."""

    weight = 50
    _kind: Callable[[str], Any] = int
    _digits = "[0-9]+"

    def __init__(
        self,
        map: Map,
        fixed_digits: int = 0,
        min: float | None = None,
        max: float | None = None,
        signed: bool = False,
    ) -> None:
        super().__init__(map)
        self.fixed_digits = fixed_digits
        self.min = min
        self.max = max
        self.signed = signed
        # [0-9], not \d: \d also matches non-ASCII digits, which int() would accept.
        digits = f"[0-9]{{{fixed_digits}}}" if fixed_digits else self._digits
        self.regex = f"-?{digits}" if signed else digits

    def to_python(self, value: str) -> Any:
        if self.fixed_digits and len(value.lstrip("-")) != self.fixed_digits:
            raise ValidationError(value)
        number = self._kind(value)
        if (self.min is not None and number < self.min) or (self.max is not None and number > self.max):
            raise ValidationError(value)
        return number

    def to_url(self, value: Any) -> str:
        text = str(self._kind(value))
        if self.fixed_digits:
            sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
            text = sign + digits.zfill(self.fixed_digits)
        return text


class FloatConverter(IntegerConverter):
    """``<float(min=None, max=None, signed=False):name>``: digits, a dot, digits."""

    _kind = float
    _digits = r"[0-9]+\.[0-9]+"

    def __init__(
        self, map: Map, min: float | None = None, max: float | None = None, signed: bool = False
    ) -> None:
        super().__init__(map, 0, min, max, signed)


class PathConverter(BaseConverter):
    """``<path:name>``: the rest of the path, slashes included (never empty, never starts with /)."""

    regex = "[^/].*?"
    weight = 200
    part_isolating = False

    def to_url(self, value: Any) -> str:
        text = str(value)
        return text if _NEEDS_NO_QUOTING_PATH(text) else quote(text, safe="!$&'()*+,/:;=@")


class UUIDConverter(BaseConverter):
    """``<uuid:name>``: a hyphenated UUID, converted to ``uuid.UUID``."""

    regex = "[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12}"

    def to_python(self, value: str) -> Any:
        return uuid.UUID(value)

    def to_url(self, value: Any) -> str:
        return str(value)


class AnyConverter(BaseConverter):
    """``<any(about, help, "contact us"):page>``: one of a fixed set of words."""

    def __init__(self, map: Map, *items: str) -> None:
        super().__init__(map)
        if not items:
            raise ValueError("any() needs at least one item")
        self.items = frozenset(str(item) for item in items)
        self.regex = "(?:" + "|".join(re.escape(item) for item in sorted(self.items, key=len)[::-1]) + ")"

    def to_url(self, value: Any) -> str:
        if str(value) not in self.items:
            raise ValidationError(f"{value!r} is not one of {sorted(self.items)}")
        return super().to_url(value)


DEFAULT_CONVERTERS: dict[str, type[BaseConverter]] = {
    "default": UnicodeConverter,
    "string": UnicodeConverter,
    "int": IntegerConverter,
    "float": FloatConverter,
    "path": PathConverter,
    "uuid": UUIDConverter,
    "any": AnyConverter,
}

# ------------------------------------------------------------------------------------------ rule parsing

_VARIABLE = re.compile(
    r"<(?:(?P<converter>[A-Za-z_][A-Za-z0-9_]*)(?:\((?P<args>[^)]*)\))?:)?(?P<name>[A-Za-z_][A-Za-z0-9_]*)>"
)
_ARGUMENT = re.compile(
    r"""\s*(?:(?P<key>[A-Za-z_][A-Za-z0-9_]*)\s*=\s*)?(?P<value>"[^"]*"|'[^']*'|[^,]*?)\s*(?:,|$)"""
)


def _literal(text: str) -> Any:
    """A converter argument: a Python literal (1, 2.5, True, "x") or a bare word taken as a string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_converter_args(text: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """``'a, "b c", min=1'`` -> ``(("a", "b c"), {"min": 1})``."""
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    position = 0
    text = text.strip()
    while position < len(text):
        match = _ARGUMENT.match(text, position)
        if match is None or match.end() == position:
            raise ValueError(f"cannot parse converter arguments {text!r}")
        position = match.end()
        value = _literal(match["value"])
        if match["key"]:
            kwargs[match["key"]] = value
        else:
            args.append(value)
    return tuple(args), kwargs


class _Slot:
    """One converter slot of a rule: the variable name and the converter instance."""

    __slots__ = ("converter", "name")

    def __init__(self, name: str, converter: BaseConverter) -> None:
        self.name = name
        self.converter = converter


_Part = str | _Slot


def _parse(template: str, map: Map) -> list[_Part]:
    parts: list[_Part] = []
    position = 0
    for match in _VARIABLE.finditer(template):
        if match.start() > position:
            parts.append(template[position : match.start()])
        name = match["converter"] or "default"
        try:
            converter_class = map.converters[name]
        except KeyError:
            raise LookupError(f"rule {template!r}: no converter named {name!r}") from None
        args, kwargs = parse_converter_args(match["args"] or "")
        parts.append(_Slot(match["name"], converter_class(map, *args, **kwargs)))
        position = match.end()
    if position < len(template):
        parts.append(template[position:])
    rest = "".join(part for part in parts if isinstance(part, str))
    if "<" in rest or ">" in rest:
        raise ValueError(f"malformed variable in rule {template!r}")
    return parts


def _regex(parts: list[_Part], prefix: str, start: int = 0) -> str:
    """Regex source for parts; converter groups are named ``prefix<start>``, ``prefix<start+1>``..."""
    out: list[str] = []
    index = start
    for part in parts:
        if isinstance(part, str):
            out.append(re.escape(part))
        else:
            out.append(f"(?P<{prefix}{index}>{part.converter.regex})")
            index += 1
    return "".join(out)


# ------------------------------------------------------------------------------------------------- rule


class Rule:
    """One URL pattern and what it leads to.

    ``methods``: allowed methods (None: any); HEAD is added when GET is there. ``defaults``: values
    for the endpoint that the URL does not carry (also used to pick this rule when building).
    ``host``: a host pattern (with converters) for maps with ``host_matching=True``. ``strict_slashes``
    (default: the map's): a rule ending in ``/`` requested without it redirects (308), otherwise the
    trailing slash is optional. ``redirect_to``: a rule template string or a callable
    ``(adapter, **values) -> str``; matching raises RequestRedirect to it.
    """

    def __init__(
        self,
        string: str,
        endpoint: Any = None,
        *,
        methods: Iterable[str] | None = None,
        defaults: Mapping[str, Any] | None = None,
        host: str | None = None,
        strict_slashes: bool | None = None,
        redirect_to: str | Callable[..., str] | None = None,
        build_only: bool = False,
    ) -> None:
        if not string.startswith("/"):
            raise ValueError(f"rule {string!r} must start with '/'")
        self.rule = string
        self.endpoint = endpoint
        if methods is not None:
            if isinstance(methods, str):
                raise TypeError("methods must be a list of strings, not a string")
            upper = {method.upper() for method in methods}
            if "GET" in upper:
                upper.add("HEAD")
            self.methods: frozenset[str] | None = frozenset(upper)
        else:
            self.methods = None
        self.defaults: dict[str, Any] = dict(defaults or {})
        self.host = host
        self.strict_slashes = strict_slashes
        self.redirect_to = redirect_to
        self.build_only = build_only
        self.map: Map | None = None
        self.arguments: frozenset[str] = frozenset()
        self.build_keys: frozenset[str] = frozenset()
        self._path_parts: list[_Part] = []
        self._host_parts: list[_Part] = []
        self._slots: list[_Slot] = []
        self._regex: re.Pattern[str] | None = None
        self._own_groups: list[str] = []
        self._host_build: list[_Part] = []
        self._path_build: list[_Part] = []

    def __repr__(self) -> str:
        methods = f" ({', '.join(sorted(self.methods))})" if self.methods else ""
        return f"<Rule {self.rule!r}{methods} -> {self.endpoint!r}>"

    # -- binding and compiling

    def bind(self, map: Map) -> None:
        """Attach to a map and compile (done by Map.add)."""
        if self.map is not None and self.map is not map:
            raise RuntimeError(f"{self!r} already belongs to another map")
        self.map = map
        if self.strict_slashes is None:
            self.strict_slashes = map.strict_slashes
        self._path_parts = _parse(self.rule, map)
        if self.host is not None:
            self.host = self.host.lower()
        self._host_parts = _parse(self.host, map) if map.host_matching and self.host else []
        self._slots = [part for part in self._host_parts + self._path_parts if isinstance(part, _Slot)]
        names = [slot.name for slot in self._slots]
        if len(set(names)) != len(names):
            raise ValueError(f"rule {self.rule!r} uses a variable name twice")
        self.arguments = frozenset(names)
        self.build_keys = self.arguments | self.defaults.keys()
        self._own_groups = [f"a{i}" for i in range(len(names))]
        self._host_build = _quote_static(self._host_parts, "")
        self._path_build = _quote_static(self._path_parts, "/")
        self._regex = re.compile(self.pattern("a") + r"\Z", re.DOTALL)

    def pattern(self, prefix: str) -> str:
        """The regex source for this rule, with converter groups named ``prefix0``, ``prefix1``, ..."""
        host = ""
        if self.map is not None and self.map.host_matching:
            host = (_regex(self._host_parts, prefix) if self._host_parts else "[^|]*") + r"\|"
        host_slots = sum(isinstance(part, _Slot) for part in self._host_parts)
        path = _regex(self._path_parts, prefix, host_slots)
        if not self.strict_slashes and self.rule.endswith("/") and len(self.rule) > 1:
            path = path[:-1] + "/?"
        return host + path

    @property
    def is_static(self) -> bool:
        """Matchable by a dict lookup: no converter, and with host matching a fixed host."""
        if self.map is not None and self.map.host_matching and not self.host:
            return False
        return not self._slots

    @property
    def static_prefix(self) -> str:
        """The leading whole segments free of converters, ending in ``/`` (``/`` at least)."""
        text = self._path_parts[0] if isinstance(self._path_parts[0], str) else "/"
        return text[: text.rfind("/") + 1]

    def sort_key(self) -> tuple[Any, ...]:
        """Specificity, segment by segment: static < mixed < converter (by weight); fewer args first."""
        weights: list[tuple[int, int]] = []
        segment: list[_Part] = []
        for part in self._path_parts:
            pieces: list[_Part] = list(part.split("/")) if isinstance(part, str) else [part]
            for piece_index, piece in enumerate(pieces):
                if piece_index:  # a "/" closes the current segment
                    weights.append(_segment_weight(segment))
                    segment = []
                if piece != "":
                    segment.append(piece)
        weights.append(_segment_weight(segment))
        return (tuple(weights), len(self._slots), -len(self.defaults))

    # -- matching and building

    def match_values(self, match: re.Match[str], groups: Sequence[int | str]) -> dict[str, Any]:
        """Converted values for this rule from a regex match (raises ValidationError)."""
        values = dict(self.defaults) if self.defaults else {}
        for slot, group in zip(self._slots, groups, strict=True):
            values[slot.name] = slot.converter.to_python(match.group(group))
        return values

    def build_parts(self, values: Mapping[str, Any]) -> tuple[str, str]:
        """(host, path) for these values, url-quoted (raises ValidationError)."""
        host = _build(self._host_build, values) if self._host_build else ""
        return host, _build(self._path_build, values)

    def build_problem(self, values: Mapping[str, Any], method: str | None) -> str | None:
        """Why this rule cannot build a URL from these values (None: it can, unless a converter objects)."""
        if method is not None and self.methods is not None and method not in self.methods:
            return f"does not accept {method}"
        if not self.build_keys:
            return None
        defaults = self.defaults
        for name in self.arguments:
            if name not in values and name not in defaults:
                missing = sorted(self.arguments - values.keys() - defaults.keys())
                return f"needs {', '.join(missing)}"
        for key, value in defaults.items():
            if key in values and values[key] != value:
                return f"has defaults {defaults!r} that the values contradict"
        return None


def _segment_weight(segment: list[_Part]) -> tuple[int, int]:
    if all(isinstance(piece, str) for piece in segment):
        return (0, -sum(len(piece) for piece in segment if isinstance(piece, str)))
    slots = [piece for piece in segment if isinstance(piece, _Slot)]
    if len(segment) > 1:
        return (1, -sum(len(piece) for piece in segment if isinstance(piece, str)))
    if not slots[0].converter.part_isolating:
        return (3, slots[0].converter.weight)
    return (2, slots[0].converter.weight)


_PATH_SAFE = "/!$&'()*+,:;=@"


def _quote_static(parts: list[_Part], safe: str) -> list[_Part]:
    return [quote(part, safe=safe + _PATH_SAFE[1:]) if isinstance(part, str) else part for part in parts]


def _build(parts: list[_Part], values: Mapping[str, Any]) -> str:
    if len(parts) == 1 and isinstance(parts[0], str):
        return parts[0]  # a static rule
    out = [part if isinstance(part, str) else part.converter.to_url(values[part.name]) for part in parts]
    return "".join(out)


# --------------------------------------------------------------------------------------------------- map


class _Group:
    """Dynamic rules sharing one static prefix, compiled into one alternation regex."""

    __slots__ = ("by_index", "combined", "rules", "single")

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules
        self.by_index: dict[int, tuple[int, list[int]]] = {}
        self.single: tuple[int, list[int]] | None = None
        if len(rules) == 1:
            # One rule: its own compiled regex does the job, no second compilation.
            own = rules[0]._regex
            assert own is not None
            self.combined: re.Pattern[str] | None = own
            self.single = (0, [own.groupindex[name] for name in rules[0]._own_groups])
            return
        source = "|".join(f"(?P<r{k}>{rule.pattern(f'r{k}_')})" for k, rule in enumerate(rules))
        compiled: re.Pattern[str] | None
        try:
            compiled = re.compile(f"(?:{source})" + r"\Z", re.DOTALL)
        except re.error:
            compiled = None  # e.g. custom converter regexes reusing group names: scan rule by rule
        self.combined = compiled
        if compiled is not None:
            index = compiled.groupindex
            for k, rule in enumerate(rules):
                groups = [index[f"r{k}_{i}"] for i in range(len(rule.arguments))]
                self.by_index[index[f"r{k}"]] = (k, groups)


class _Index:
    """What Map builds from its rules for matching: the static dict and the prefix groups."""

    __slots__ = ("by_endpoint", "canonical", "groups", "max_prefix", "ordered", "static")

    def __init__(self, rules: list[Rule]) -> None:
        self.ordered = sorted((rule for rule in rules if not rule.build_only), key=Rule.sort_key)
        self.static: dict[str, list[Rule]] = {}
        grouped: dict[str, list[Rule]] = {}
        for rule in self.ordered:
            if rule.is_static:
                for key in _static_keys(rule):
                    self.static.setdefault(key, []).append(rule)
            else:
                grouped.setdefault(rule.static_prefix, []).append(rule)
        self.groups = {prefix: _Group(members) for prefix, members in grouped.items()}
        # Build order per endpoint: specificity order, build-only rules last.
        self.by_endpoint: dict[Any, list[Rule]] = {}
        for rule in self.ordered + [rule for rule in rules if rule.build_only]:
            self.by_endpoint.setdefault(rule.endpoint, []).append(rule)
        self.max_prefix = max((len(prefix) for prefix in self.groups), default=0)
        # Rules whose URL carries values that another rule of the endpoint has as defaults:
        # /page/1 is the same page as /page/ with defaults {"n": 1}, which is the canonical URL.
        self.canonical: dict[int, list[Rule]] = {}
        for rule in self.ordered:
            aliases = [
                other
                for other in self.by_endpoint[rule.endpoint]
                if other is not rule
                and other.defaults
                and other.defaults.keys() <= rule.arguments
                and other.arguments <= rule.arguments
            ]
            if aliases:
                self.canonical[id(rule)] = aliases


def _static_keys(rule: Rule) -> list[str]:
    path = rule.rule
    host = f"{rule.host}|" if rule.map is not None and rule.map.host_matching else ""
    keys = [host + path]
    if not rule.strict_slashes and path.endswith("/") and len(path) > 1:
        keys.append(host + path[:-1])
    return keys


class Map:
    """The rules of an application.

    ``Map([Rule("/", endpoint="index"), Rule("/user/<int:id>", endpoint="user")])``; then
    ``map.bind_to_environ(environ).match()`` or ``map.bind("example.com").build("user", {"id": 1})``.

    Options: ``strict_slashes`` (the rules' default), ``host_matching`` (rules match ``host`` patterns,
    rules without one match any host, ``default_host`` otherwise), ``converters`` (extra or replacement
    converter classes by name), ``redirect_defaults`` (``/page/1`` redirects to ``/page/`` when a rule of
    the endpoint has ``defaults={"n": 1}``), ``merge_slashes`` (``/a//b`` redirects to ``/a/b`` when
    only that matches).
    """

    def __init__(
        self,
        rules: Iterable[Rule] = (),
        *,
        strict_slashes: bool = True,
        host_matching: bool = False,
        converters: Mapping[str, type[BaseConverter]] | None = None,
        default_host: str = "",
        redirect_defaults: bool = True,
        merge_slashes: bool = True,
    ) -> None:
        self.strict_slashes = strict_slashes
        self.merge_slashes = merge_slashes
        self.redirect_defaults = redirect_defaults
        self.host_matching = host_matching
        self.default_host = default_host
        self.converters: dict[str, type[BaseConverter]] = dict(DEFAULT_CONVERTERS)
        self.converters.update(converters or {})
        self._rules: list[Rule] = []
        self._by_endpoint: dict[Any, list[Rule]] = {}
        self._index: _Index | None = None
        for rule in rules:
            self.add(rule)

    def add(self, rule: Rule) -> None:
        """Add a rule (compiles it; the matching index is rebuilt on the next match)."""
        if self.host_matching and rule.host is None:
            rule.host = self.default_host
        rule.bind(self)
        self._rules.append(rule)
        self._by_endpoint.setdefault(rule.endpoint, []).append(rule)
        self._index = None

    @property
    def rules(self) -> list[Rule]:
        """The rules in definition order."""
        return list(self._rules)

    def iter_rules(self, endpoint: Any = None) -> Iterator[Rule]:
        """Rules in definition order, optionally only those of one endpoint."""
        if endpoint is None:
            return iter(list(self._rules))
        return iter(list(self._by_endpoint.get(endpoint, ())))

    def rules_for_endpoint(self, endpoint: Any) -> list[Rule]:
        """The rules of one endpoint, in definition order."""
        return list(self._by_endpoint.get(endpoint, ()))

    def index(self) -> _Index:
        index = self._index
        if index is None:
            # Built lazily and assigned in one step, so concurrent first requests at worst build it twice.
            index = self._index = _Index(self._rules)
        return index

    def bind(  # noqa: PLR0917 - the positional order is the documented, werkzeug-compatible one
        self,
        server_name: str,
        script_name: str | None = "/",
        url_scheme: str = "http",
        path_info: str = "/",
        method: str = "GET",
        query_args: str | Mapping[str, Any] | None = None,
    ) -> MapAdapter:
        """An adapter for one request (or for building URLs outside a request)."""
        return MapAdapter(
            self,
            server_name=server_name.lower(),
            script_name=script_name or "/",
            url_scheme=url_scheme,
            path_info=path_info,
            default_method=method,
            query_args=query_args,
        )

    def bind_to_environ(self, environ: WSGIEnvironment, server_name: str | None = None) -> MapAdapter:
        """An adapter for the request described by a WSGI environ."""
        scheme = environ.get("wsgi.url_scheme", "http")
        if server_name is None:
            server_name = _host_from_environ(environ, scheme)
        return self.bind(
            server_name,
            _wsgi_to_str(environ.get("SCRIPT_NAME", "")) or "/",
            scheme,
            _wsgi_to_str(environ.get("PATH_INFO", "")) or "/",
            environ.get("REQUEST_METHOD", "GET"),
            environ.get("QUERY_STRING", ""),
        )


_REPEATED_SLASHES = re.compile("//+")
_MISS = 0  # _fast_match: no rule pattern matches the path
_SLOW = 1  # _fast_match: a pattern matches but the exhaustive scan must decide
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def _host_from_environ(environ: WSGIEnvironment, scheme: str) -> str:
    host: str = environ.get("HTTP_HOST") or ""
    if not host:
        host = environ.get("SERVER_NAME", "localhost")
        port = environ.get("SERVER_PORT", "")
        if port and port != _DEFAULT_PORTS.get(scheme):
            host = f"{host}:{port}"
    elif host.endswith(f":{_DEFAULT_PORTS.get(scheme)}"):
        host = host.rsplit(":", 1)[0]
    return host.lower()


def _wsgi_to_str(value: str) -> str:
    """PEP 3333 hands paths over as latin-1 decoded bytes; URLs are UTF-8."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


# ------------------------------------------------------------------------------------------- map adapter


class MapAdapter:
    """A Map bound to one host/script name/request: ``match()`` and ``build()``."""

    def __init__(
        self,
        map: Map,
        *,
        server_name: str,
        script_name: str,
        url_scheme: str,
        path_info: str,
        default_method: str,
        query_args: str | Mapping[str, Any] | None,
    ) -> None:
        self.map = map
        self.server_name = server_name
        self.script_name = script_name if script_name.endswith("/") else script_name + "/"
        self._quoted_script = quote(self.script_name)
        self.url_scheme = url_scheme
        self.path_info = path_info
        self.default_method = default_method.upper()
        self.query_args = query_args

    # -- matching

    def match(
        self, path_info: str | None = None, method: str | None = None, return_rule: bool = False
    ) -> tuple[Any, dict[str, Any]]:
        """``(endpoint, values)`` (or ``(rule, values)`` with ``return_rule``) for the request.

        Raises NotFound, MethodNotAllowed (with the allowed methods), RequestRedirect (strict slashes,
        ``redirect_to``) or AutomaticOptions (OPTIONS on a path whose rules do not list OPTIONS).
        """
        path = self.path_info if path_info is None else path_info
        if not path.startswith("/"):
            path = "/" + path
        method = (method or self.default_method).upper()
        found = self._fast_match(path, method)
        if isinstance(found, int):
            if found == _MISS:
                self._raise_not_found(path, method)
            found = self._slow_match(path, method)
        rule, values = found
        if rule.redirect_to is not None:
            raise RequestRedirect(self._redirect_target(rule, values))
        if self.map.redirect_defaults:
            self._redirect_to_canonical(rule, values, method)
        return (rule if return_rule else rule.endpoint), values

    def _redirect_to_canonical(self, rule: Rule, values: dict[str, Any], method: str) -> None:
        """RequestRedirect when another rule of the endpoint serves these values by its defaults."""
        aliases = self.map.index().canonical.get(id(rule))
        if not aliases:
            return
        for other in aliases:
            if other.methods is not None and method not in other.methods:
                continue
            if all(values.get(key) == value for key, value in other.defaults.items()):
                rest = {key: value for key, value in values.items() if key not in other.build_keys}
                try:
                    _, path = other.build_parts({**other.defaults, **rest})
                except (ValidationError, ValueError, TypeError, KeyError):
                    continue
                raise RequestRedirect(self._url(path, self._query_string()))

    def test(self, path_info: str | None = None, method: str | None = None) -> bool:
        """Whether the path matches (redirects count as a match)."""
        try:
            self.match(path_info, method)
        except RequestRedirect:
            return True
        except HTTPException:
            return False
        return True

    def allowed_methods(self, path_info: str | None = None) -> list[str]:
        """Methods some rule accepts for this path (empty when nothing matches)."""
        path = self.path_info if path_info is None else path_info
        methods: set[str] = set()
        for rule, _ in self._candidates(self._subject(path), path):
            if rule.methods is None:
                return sorted({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
            methods |= rule.methods
        if methods:
            methods.add("OPTIONS")
        return sorted(methods)

    def _subject(self, path: str) -> str:
        return f"{self.server_name}|{path}" if self.map.host_matching else path

    def _fast_match(self, path: str, method: str | None) -> tuple[Rule, dict[str, Any]] | int:
        """The common case in a few dict lookups and one regex call per prefix group.

        Returns the match, or _MISS when no rule's pattern matches the path at all (a plain 404, unless a
        slash redirect applies), or _SLOW when the exhaustive scan must decide (405, ValidationError).
        ``method=None`` accepts any method.
        """
        index = self.map.index()
        subject = f"{self.server_name}|{path}" if self.map.host_matching else path
        rules = index.static.get(subject)
        if rules is not None:
            rule = rules[0]
            if method is None or rule.methods is None or method in rule.methods:
                return rule, dict(rule.defaults)
            return _SLOW
        groups = index.groups
        end = path.rfind("/", 0, index.max_prefix)
        while end >= 0:
            group = groups.get(path[: end + 1])
            if group is not None:
                combined = group.combined
                if combined is None:
                    return _SLOW
                match = combined.match(subject)
                if match is not None:
                    k, arg_groups = group.single or group.by_index[match.lastindex or 0]
                    rule = group.rules[k]
                    if method is not None and rule.methods is not None and method not in rule.methods:
                        return _SLOW
                    try:
                        return rule, rule.match_values(match, arg_groups)
                    except ValidationError:
                        return _SLOW
            end = path.rfind("/", 0, end)
        return _MISS

    def _candidates(self, subject: str, path: str) -> Iterator[tuple[Rule, re.Match[str]]]:
        """Every rule whose pattern matches, most specific first."""
        index = self.map.index()
        for rule in index.static.get(subject, ()):
            match = rule._regex.match(subject) if rule._regex is not None else None
            if match is not None:
                yield rule, match
        end = path.rfind("/", 0, index.max_prefix)
        while end >= 0:
            group = index.groups.get(path[: end + 1])
            if group is not None:
                for rule in group.rules:
                    match = rule._regex.match(subject) if rule._regex is not None else None
                    if match is not None:
                        yield rule, match
            end = path.rfind("/", 0, end)

    def _slow_match(self, path: str, method: str) -> tuple[Rule, dict[str, Any]]:
        allowed: set[str] = set()
        for rule, match in self._candidates(self._subject(path), path):
            try:
                values = rule.match_values(match, rule._own_groups)
            except ValidationError:
                continue
            if rule.methods is None or method in rule.methods:
                return rule, values
            allowed |= rule.methods
        if allowed:
            if method == "OPTIONS":
                raise AutomaticOptions(allowed | {"OPTIONS"})
            raise MethodNotAllowed(valid_methods=sorted(allowed | {"OPTIONS"}))
        self._raise_not_found(path, method)

    def _raise_not_found(self, path: str, method: str) -> NoReturn:
        """NotFound, or RequestRedirect when the path plus a slash matches a strict-slash rule that
        accepts the method (a redirect to a 405 would only cost the client a round trip), or when the
        path with repeated slashes merged matches (``merge_slashes``)."""
        if self.map.merge_slashes and "//" in path:
            merged = _REPEATED_SLASHES.sub("/", path)
            try:
                self.match(merged, method)
            except NotFound:
                pass  # nothing there either: the 404 below
            else:
                raise RequestRedirect(self._url(quote(merged, safe=_PATH_SAFE), self._query_string()))
        if not path.endswith("/"):
            slashed = path + "/"
            if self._fast_match(slashed, None) is not _MISS and self._slash_redirect_applies(slashed, method):
                raise RequestRedirect(self._url(quote(slashed, safe=_PATH_SAFE), self._query_string()))
        raise NotFound()

    def _slash_redirect_applies(self, path: str, method: str) -> bool:
        for rule, match in self._candidates(self._subject(path), path):
            if not rule.strict_slashes or (rule.methods is not None and method not in rule.methods):
                continue
            try:
                rule.match_values(match, rule._own_groups)
            except ValidationError:
                continue
            return True
        return False

    def _redirect_target(self, rule: Rule, values: dict[str, Any]) -> str:
        target = rule.redirect_to
        if callable(target):
            url = target(self, **values)
        else:
            assert target is not None
            url = _VARIABLE.sub(lambda m: _converter_url(rule, m["name"], values), target)
        if "://" in url:
            return url
        return self._url(url, self._query_string())

    def _query_string(self) -> str:
        query = self.query_args
        if query is None:
            return ""
        if isinstance(query, str):
            return query
        return _encode_query(query)

    def _url(self, quoted_path: str, query: str = "", host: str | None = None) -> str:
        """Absolute URL for an already quoted path below this adapter's script name."""
        root = f"{self.url_scheme}://{host or self.server_name}{self._quoted_script}"
        url = root + quoted_path.lstrip("/")
        return f"{url}?{query}" if query else url

    # -- building

    def build(
        self,
        endpoint: Any,
        values: Mapping[str, Any] | None = None,
        method: str | None = None,
        force_external: bool = False,
        append_unknown: bool = True,
    ) -> str:
        """The URL of ``endpoint`` with ``values``; values no rule argument takes become query args.

        Among the endpoint's rules it takes the first (in specificity order) that accepts the method,
        has every argument it needs and whose defaults agree with the values, preferring the rule that
        leaves the fewest values over for the query string. Raises BuildError when none fits.
        """
        given = _plain_values(values)
        leftover, rule, host, path = self._pick_rule(endpoint, given, method)
        query = ""
        if leftover and append_unknown:
            used = rule.build_keys
            query = _encode_query({key: value for key, value in given.items() if key not in used})
        if host and self.map.host_matching and host != self.server_name:
            force_external = True
        if force_external:
            return self._url(path, query, host or None)
        url = self._quoted_script + path[1:]
        return f"{url}?{query}" if query else url

    def _pick_rule(
        self, endpoint: Any, values: dict[str, Any], method: str | None
    ) -> tuple[int, Rule, str, str]:
        """(number of values left for the query string, rule, host, path) of the best rule."""
        rules = self.map.index().by_endpoint.get(endpoint)
        if not rules:
            raise BuildError(endpoint, values, method, f"no rule for endpoint {endpoint!r}")
        if method is not None:
            method = method.upper()
        best: tuple[int, Rule, str, str] | None = None
        for rule in rules:
            if rule.build_problem(values, method) is not None:
                continue
            try:
                host, path = rule.build_parts({**rule.defaults, **values} if rule.defaults else values)
            except (ValidationError, ValueError, TypeError):
                continue
            if len(values) == len(rule.arguments) and not rule.defaults:
                leftover = 0  # every argument is present (checked above), so nothing is left over
            else:
                used = rule.build_keys
                leftover = len(values) - sum(1 for key in values if key in used)
            if best is None or leftover < best[0]:
                best = (leftover, rule, host, path)
                if leftover == 0:
                    break  # rules come in specificity order: the first exact fit is the best one
        if best is None:
            raise BuildError(endpoint, values, method, self._build_failure(rules, endpoint, values, method))
        return best

    @staticmethod
    def _build_failure(rules: list[Rule], endpoint: Any, values: dict[str, Any], method: str | None) -> str:
        """Why no rule of the endpoint could build, one reason per rule."""
        reasons = []
        for rule in rules:
            problem = rule.build_problem(values, method)
            if problem is None:
                try:
                    rule.build_parts({**rule.defaults, **values})
                except (ValidationError, ValueError, TypeError) as exc:
                    problem = f"rejects the values ({exc})"
            reasons.append(f"{rule.rule!r} {problem}")
        return f"cannot build a URL for {endpoint!r} with {values!r}: {'; '.join(reasons)}"


def _converter_url(rule: Rule, name: str, values: Mapping[str, Any]) -> str:
    """Format one value with the converter the rule uses for ``name`` (for ``redirect_to`` templates)."""
    for slot in rule._slots:
        if slot.name == name:
            return slot.converter.to_url(values[name])
    return quote(str(values[name]), safe="")


def _plain_values(values: Mapping[str, Any] | None) -> dict[str, Any]:
    if not values:
        return {}
    return {key: value for key, value in values.items() if value is not None}


def _encode_query(values: Mapping[str, Any]) -> str:
    pairs: list[tuple[str, str]] = []
    for key, value in sorted(values.items()):
        if isinstance(value, (list, tuple)):
            pairs.extend((key, str(item)) for item in value)
        elif value is not None:
            pairs.append((key, str(value)))
    return urlencode(pairs, quote_via=quote)
