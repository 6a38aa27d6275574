"""Rules: one URL template, parsed once into static text and converter slots, and compiled.

Strategy. ``Rule.bind`` (called by ``Map.add``) parses the template into parts (static strings and
``_Slot`` converter slots), checks the variable names, and compiles the rule's own anchored regex.
``Rule.pattern`` gives the same regex source with group names of the caller's choosing, so the map can
join many rules into one alternation. ``Rule.sort_key`` is the specificity order, segment by segment:
static text beats a mixed segment, which beats a converter, and a low-weight converter such as ``int``
beats ``string``, which beats ``path``. Building is per rule too: the static parts are url-quoted once
at bind time, so building a URL only formats the converter values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sockweb.web.routing.converters import BaseConverter, parse_converter_args

if TYPE_CHECKING:
    from sockweb.web.routing.map import Map

# A variable in a rule template: ``<name>``, ``<converter:name>``, ``<converter(args):name>``.
# Also used by the adapter to fill ``redirect_to`` templates.
VARIABLE = re.compile(
    r"<(?:(?P<converter>[A-Za-z_][A-Za-z0-9_]*)(?:\((?P<args>[^)]*)\))?:)?(?P<name>[A-Za-z_][A-Za-z0-9_]*)>"
)


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
    for match in VARIABLE.finditer(template):
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


# Left unquoted in built URLs: the sub-delims, ":" and "@" (RFC 3986 pchar) and "/" between segments.
# The adapter quotes redirect paths with it too.
PATH_SAFE = "/!$&'()*+,:;=@"


def _quote_static(parts: list[_Part], safe: str) -> list[_Part]:
    return [quote(part, safe=safe + PATH_SAFE[1:]) if isinstance(part, str) else part for part in parts]


def _build(parts: list[_Part], values: Mapping[str, Any]) -> str:
    if len(parts) == 1 and isinstance(parts[0], str):
        return parts[0]  # a static rule
    out = [part if isinstance(part, str) else part.converter.to_url(values[part.name]) for part in parts]
    return "".join(out)
