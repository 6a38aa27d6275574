"""The Map: the rules of an application, indexed for matching and building.

Strategy. Matching must stay fast with hundreds of rules, so no request loops over every rule. From its
rules the map builds, lazily and once per change, an ``_Index``:

* fully static rules live in a dict keyed by path (one lookup);
* dynamic rules are grouped by their *static prefix*, the leading segments that hold no converter
  (``/api/v1/users/`` for ``/api/v1/users/<int:id>``); each group is compiled into one alternation regex
  with a named group per rule, so one ``re.match`` call in C finds the first (most specific) rule of the
  group;
* per endpoint, the rules in build order, and the rules whose URLs have a canonical alias by defaults.

Walking the index for a request is the adapter's job (``MapAdapter``, made by ``Map.bind`` and
``Map.bind_to_environ``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from sockweb.web.routing.adapter import MapAdapter
from sockweb.web.routing.converters import DEFAULT_CONVERTERS, BaseConverter
from sockweb.web.routing.rules import Rule

WSGIEnvironment = dict[str, Any]


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
