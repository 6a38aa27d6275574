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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sockweb.web.routing.converters import BaseConverter, parse_converter_args

if TYPE_CHECKING:
    from sockweb.web.routing.map import Map

# A variable in a rule template: ``<name>``, ``<converter:name>``, ``<converter(args):name>``.
# Also used by the adapter to fill ``redirect_to`` templates.
VARIABLE = re.compile(
    r"<(?:(?P<converter>[A-Za-z_][A-Za-z0-9_]*)"
    r"""(?:\((?P<args>(?:"[^"]*"|'[^']*'|[^)"'])*)\))?:)?"""  # arguments may quote a ")"
    r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)>"
)


_REPEATED_SLASHES = re.compile("//+")
_WEBSOCKET_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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
    ``subdomain``: a subdomain pattern (with converters; default: the map's ``default_subdomain``),
    matched against the adapter's subdomain when the map does not match hosts. ``host``: a host pattern
    for maps with ``host_matching=True``. ``strict_slashes`` (default: the map's): a rule ending in ``/``
    requested without it redirects (308); with ``strict_slashes=False`` the trailing slash is optional,
    for rules without one too. ``merge_slashes`` (default: the map's): ``/a//b`` redirects to ``/a/b``;
    False keeps repeated slashes significant. ``redirect_to``: a rule template string or a callable
    ``(adapter, **values) -> str``; matching raises RequestRedirect to it. ``alias``: a second URL of
    the endpoint that redirects to the URL the endpoint builds for the matched values. ``websocket``:
    the rule matches only WebSocket requests (``ws``/``wss`` adapters, or an Upgrade request), and
    only those; its methods may only be GET, HEAD and OPTIONS.

    The positional order of the arguments is the werkzeug one (``string, defaults, subdomain, methods,
    build_only, endpoint, ...``); pass everything after ``string`` by keyword.
    """

    # Rules compare by what they match; being mutable (methods, defaults), they are not hashable.
    __hash__ = None  # type: ignore[assignment]

    def __init__(  # noqa: PLR0917 - the werkzeug-compatible signature
        self,
        string: str,
        defaults: Mapping[str, Any] | None = None,
        subdomain: str | None = None,
        methods: Iterable[str] | None = None,
        build_only: bool = False,
        endpoint: Any = None,
        strict_slashes: bool | None = None,
        merge_slashes: bool | None = None,
        redirect_to: str | Callable[..., str] | None = None,
        alias: bool = False,
        host: str | None = None,
        websocket: bool = False,
    ) -> None:
        if not string.startswith("/"):
            raise ValueError(f"rule {string!r} must start with '/'")
        self.rule = string
        self.endpoint = endpoint
        self.is_leaf = not string.endswith("/")
        self.is_branch = not self.is_leaf
        if methods is not None:
            if isinstance(methods, str):
                raise TypeError("methods must be a list of strings, not a string")
            upper = {method.upper() for method in methods}
            if "GET" in upper:
                upper.add("HEAD")
            if websocket and upper - _WEBSOCKET_METHODS:
                # RFC 6455 §4.1: the opening handshake is a GET request; nothing else can become one.
                raise ValueError("websocket rules can only use GET, HEAD and OPTIONS")
            self.methods: set[str] | None = upper
        else:
            self.methods = None
        self.defaults: dict[str, Any] = dict(defaults or {})
        self.subdomain = subdomain
        self.host = host
        self.strict_slashes = strict_slashes
        self.merge_slashes = merge_slashes
        self.redirect_to = redirect_to
        self.alias = alias
        self.websocket = websocket
        self.build_only = build_only
        self.map: Map | None = None
        self.arguments: set[str] = set()
        self.build_keys: frozenset[str] = frozenset()
        self._path_parts: list[_Part] = []
        self._domain_parts: list[_Part] = []
        self._slots: list[_Slot] = []
        self._regex: re.Pattern[str] | None = None
        self._compiled_for: bool | None = None
        self._own_groups: list[str] = []
        self._domain_build: list[_Part] = []
        self._path_build: list[_Part] = []

    def __repr__(self) -> str:
        methods = f" ({', '.join(sorted(self.methods))})" if self.methods else ""
        return f"<Rule {self.rule!r}{methods} -> {self.endpoint}>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, type(self)):
            return NotImplemented
        return self._identity() == other._identity()

    def _identity(self) -> tuple[Any, ...]:
        return (self.rule, self.subdomain, self.host, self.websocket, self.strict_slashes)

    def get_empty_kwargs(self) -> dict[str, Any]:
        """The keyword arguments that recreate this rule unbound (``empty`` and the rule factories use them).

        A subclass with arguments of its own extends this dict and ``__init__`` alike.
        """
        return {
            "defaults": dict(self.defaults) if self.defaults else None,
            "subdomain": self.subdomain,
            "methods": set(self.methods) if self.methods is not None else None,
            "build_only": self.build_only,
            "endpoint": self.endpoint,
            "strict_slashes": self.strict_slashes,
            "merge_slashes": self.merge_slashes,
            "redirect_to": self.redirect_to,
            "alias": self.alias,
            "host": self.host,
            "websocket": self.websocket,
        }

    def empty(self) -> Rule:
        """An unbound copy of this rule (the same arguments, no map), e.g. to add it to a second map."""
        return type(self)(self.rule, **self.get_empty_kwargs())

    def get_rules(self, map: Map) -> Iterator[Rule]:
        """A rule is its own rule factory: it yields itself."""
        yield self

    # -- binding and compiling

    def bind(self, map: Map) -> None:
        """Attach to a map and compile (done by Map.add)."""
        if self.map is not None and self.map is not map:
            raise RuntimeError(f"{self!r} already belongs to another map")
        self.map = map
        if self.strict_slashes is None:
            self.strict_slashes = map.strict_slashes
        if self.merge_slashes is None:
            self.merge_slashes = map.merge_slashes
        if self.subdomain is None:
            self.subdomain = map.default_subdomain
        template = self.rule
        if self.merge_slashes:
            # The rule's own repeated slashes merge too: it matches and builds its merged form.
            template = _REPEATED_SLASHES.sub("/", template)
        self._path_parts = _parse(template, map)
        if self.host is not None:
            self.host = self.host.lower()
        domain = (self.host if map.host_matching else self.subdomain) or ""
        self._domain_parts = _parse(domain, map) if domain else []
        self._slots = [part for part in self._domain_parts + self._path_parts if isinstance(part, _Slot)]
        names = [slot.name for slot in self._slots]
        if len(set(names)) != len(names):
            raise ValueError(f"rule {self.rule!r} uses a variable name twice")
        self.arguments = set(names)
        self.build_keys = frozenset(self.arguments | self.defaults.keys())
        self._own_groups = [f"a{i}" for i in range(len(names))]
        self._domain_build = _quote_static(self._domain_parts, "")
        self._path_build = _quote_static(self._path_parts, "/")
        self.compile(map.host_matching or bool(domain))

    @property
    def domain(self) -> str:
        """The domain template this rule matches: its host with host matching, else its subdomain."""
        if self.map is not None and self.map.host_matching:
            return self.host or ""
        return self.subdomain or ""

    def compile(self, with_domain: bool) -> None:
        """Compile the rule's own regex, for subjects ``domain|path`` (``with_domain``) or ``path``.

        The map decides: it matches domains once some rule has a subdomain of its own (or it matches
        hosts), and recompiles its rules when that changes.
        """
        if self._compiled_for is with_domain and self._regex is not None:
            return
        self._compiled_for = with_domain
        self._regex = re.compile(self.pattern("a") + r"\Z", re.DOTALL)

    def pattern(self, prefix: str) -> str:
        """The regex source for this rule, with converter groups named ``prefix0``, ``prefix1``, ..."""
        domain = ""
        if self._compiled_for:
            if self._domain_parts:
                domain = _regex(self._domain_parts, prefix)
            elif self.map is not None and self.map.host_matching:
                domain = "[^|]*"  # no host: any host
            domain += r"\|"
        domain_slots = sum(isinstance(part, _Slot) for part in self._domain_parts)
        path = _regex(self._path_parts, prefix, domain_slots)
        if not self.strict_slashes and len(self._path_parts[-1:]) and self.rule != "/":
            last = self._path_parts[-1]
            if isinstance(last, str) and last.endswith("/"):
                path = path[:-1] + "/?"
            elif isinstance(last, str) or last.converter.part_isolating:
                # strict_slashes=False: a leaf also answers with a trailing slash
                path += "/?"
        return domain + path

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
        """Specificity: the domain, then segment by segment (static text first, then by weight)."""
        return (
            _segment_weight(self._domain_parts),
            tuple(_segment_weight(segment) for segment in _segments(self._path_parts)),
            len(self._slots),
            -len(self.defaults),
        )

    # -- matching and building

    def match_values(self, match: re.Match[str], groups: Sequence[int | str]) -> dict[str, Any]:
        """Converted values for this rule from a regex match (raises ValidationError)."""
        values = {}
        for slot, group in zip(self._slots, groups, strict=True):
            values[slot.name] = slot.converter.to_python(match.group(group))
        if self.defaults:
            # A default wins over a variable of the same name: the rule fixes that value.
            values.update(self.defaults)
        return values

    def build_parts(self, values: Mapping[str, Any]) -> tuple[str, str]:
        """(domain, path) for these values, url-quoted (raises ValidationError); the domain is the
        host with host matching, else the subdomain."""
        domain = _build(self._domain_build, values) if self._domain_build else ""
        return domain, _build(self._path_build, values)

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


def _segments(parts: list[_Part]) -> list[list[_Part]]:
    """The parts split at ``/``; from a converter that crosses slashes (``path``) on, one segment."""
    segments: list[list[_Part]] = [[]]
    final = False
    for part in parts:
        if isinstance(part, _Slot):
            segments[-1].append(part)
            final = final or not part.converter.part_isolating
            continue
        for index, piece in enumerate(part.split("/")):
            if index and not final:
                segments.append([])
            if piece:
                segments[-1].append(piece)
    return segments


def _segment_weight(segment: list[_Part]) -> tuple[Any, ...]:
    """Static segments first (longer text first); then by more static pieces, more converters (a
    ``path`` segment holds the rest of the rule) and lower converter weights, in that order."""
    statics = tuple(-len(piece) for piece in segment if isinstance(piece, str))
    weights = tuple(piece.converter.weight for piece in segment if isinstance(piece, _Slot))
    if not weights:
        return (0, (sum(statics),))
    return (1, (-len(statics), statics, -len(weights), weights))


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
