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
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from sockweb.web.mappings import ImmutableDict
from sockweb.web.routing.adapter import INVALID_DOMAIN, MapAdapter
from sockweb.web.routing.converters import DEFAULT_CONVERTERS, BaseConverter
from sockweb.web.routing.rules import Rule
from sockweb.web.urls import encode_host

if TYPE_CHECKING:
    from sockweb.web.routing.factories import RuleFactory

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
    """What Map builds from its rules for matching: the static dict and the prefix groups.

    ``with_domain``: subjects are ``domain|path`` (the map matches hosts, or its rules have different or
    variable subdomains); otherwise every rule has the subdomain ``only_domain`` and subjects are paths.
    """

    __slots__ = (
        "by_endpoint",
        "canonical",
        "groups",
        "max_prefix",
        "only_domain",
        "ordered",
        "static",
        "websocket_rules",
        "with_domain",
    )

    def __init__(self, rules: list[Rule], host_matching: bool) -> None:
        domains = {rule.domain for rule in rules}
        self.with_domain = (
            host_matching or len(domains) > 1 or any(_has_slot(rule._domain_parts) for rule in rules)
        )
        self.only_domain = "" if self.with_domain or not domains else next(iter(domains))
        for rule in rules:
            rule.compile(self.with_domain)
        # The fast path knows nothing of WebSocket rules: a map with some matches by the exact scan.
        self.websocket_rules = any(rule.websocket for rule in rules)
        self.ordered = sorted((rule for rule in rules if not rule.build_only), key=Rule.sort_key)
        self.static: dict[str, list[Rule]] = {}
        grouped: dict[str, list[Rule]] = {}
        slash_optional: list[Rule] = []
        for rule in self.ordered:
            if rule.is_static:
                self.static.setdefault(self._key(rule, _path_of(rule)), []).append(rule)
                if not rule.strict_slashes and rule.rule != "/":
                    slash_optional.append(rule)
            else:
                grouped.setdefault(rule.static_prefix, []).append(rule)
        # strict_slashes=False: the other form of the path (with or without its trailing slash) comes
        # after every rule that has that form as its own.
        for rule in slash_optional:
            path = _path_of(rule)
            other = path[:-1] if path.endswith("/") else path + "/"
            self.static.setdefault(self._key(rule, other), []).append(rule)
        self.groups = {prefix: _Group(members) for prefix, members in grouped.items()}
        # Build order per endpoint (stable in definition order): canonical rules before aliases, then
        # the rules that take more values first, so that a rule whose defaults match is picked over a
        # more general one.
        self.by_endpoint: dict[Any, list[Rule]] = {}
        for rule in rules:
            self.by_endpoint.setdefault(rule.endpoint, []).append(rule)
        for members in self.by_endpoint.values():
            members.sort(key=_build_order)
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
                and not other.alias
                and other.defaults.keys() <= rule.arguments
                and other.arguments <= rule.arguments
            ]
            if aliases:
                self.canonical[id(rule)] = aliases

    def _key(self, rule: Rule, path: str) -> str:
        return f"{rule.domain}|{path}" if self.with_domain else path


def _has_slot(parts: list[Any]) -> bool:
    return any(not isinstance(part, str) for part in parts)


def _path_of(rule: Rule) -> str:
    """The matched path of a static rule (its template with repeated slashes merged when it merges)."""
    part = rule._path_parts[0]
    assert isinstance(part, str)
    return part


def _build_order(rule: Rule) -> tuple[int, int, int]:
    return (1 if rule.alias else 0, -len(rule.build_keys), -len(rule.defaults))


class Map:
    """The rules of an application.

    ``Map([Rule("/", endpoint="index"), Rule("/user/<int:id>", endpoint="user")])``; then
    ``map.bind_to_environ(environ).match()`` or ``map.bind("example.com").build("user", {"id": 1})``.
    Rule factories (``Submount``, ``Subdomain``, ``EndpointPrefix``, ``RuleTemplate``) may stand
    among the rules.

    Options: ``strict_slashes`` and ``merge_slashes`` (the rules' defaults: a missing trailing slash,
    or repeated slashes, redirect to the URL of the rule), ``default_subdomain`` (the subdomain of rules
    that name none), ``host_matching`` (rules match ``host`` patterns instead of subdomains; rules
    without one match any host, ``default_host`` otherwise), ``converters`` (extra or replacement
    converter classes by name, over the class's ``default_converters``), ``redirect_defaults``
    (``/page/1`` redirects to ``/page/`` when a rule of the endpoint has ``defaults={"n": 1}``),
    ``sort_parameters``/``sort_key`` (the order of the query arguments of built URLs).
    """

    default_converters: Mapping[str, type[BaseConverter]] = ImmutableDict(DEFAULT_CONVERTERS)

    def __init__(
        self,
        rules: Iterable[RuleFactory] | None = None,
        *,
        default_subdomain: str = "",
        strict_slashes: bool = True,
        merge_slashes: bool = True,
        redirect_defaults: bool = True,
        converters: Mapping[str, type[BaseConverter]] | None = None,
        sort_parameters: bool = False,
        sort_key: Callable[[tuple[str, Any]], Any] | None = None,
        host_matching: bool = False,
        default_host: str = "",
    ) -> None:
        self.default_subdomain = default_subdomain
        self.strict_slashes = strict_slashes
        self.merge_slashes = merge_slashes
        self.redirect_defaults = redirect_defaults
        self.host_matching = host_matching
        self.default_host = default_host
        self.sort_parameters = sort_parameters
        self.sort_key = sort_key
        self.converters: dict[str, type[BaseConverter]] = dict(self.default_converters)
        self.converters.update(converters or {})
        self._rules: list[Rule] = []
        self._by_endpoint: dict[Any, list[Rule]] = {}
        self._index: _Index | None = None
        for rule in rules or ():
            self.add(rule)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._rules!r})"

    def add(self, rulefactory: RuleFactory) -> None:
        """Add a rule, or the rules of a rule factory (compiled now; the matching index is rebuilt on the
        next match)."""
        for rule in rulefactory.get_rules(self):
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

    def is_endpoint_expecting(self, endpoint: Any, *arguments: str) -> bool:
        """Whether some rule of the endpoint takes all these arguments (from the URL or its defaults)."""
        wanted = set(arguments)
        return any(wanted <= rule.build_keys for rule in self._by_endpoint.get(endpoint, ()))

    def index(self) -> _Index:
        index = self._index
        if index is None:
            # Built lazily and assigned in one step, so concurrent first requests at worst build it twice.
            index = self._index = _Index(self._rules, self.host_matching)
        return index

    def bind(  # noqa: PLR0917 - the positional order is the documented, werkzeug-compatible one
        self,
        server_name: str,
        script_name: str | None = None,
        subdomain: str | None = None,
        url_scheme: str = "http",
        default_method: str = "GET",
        path_info: str | None = None,
        query_args: str | Mapping[str, Any] | None = None,
    ) -> MapAdapter:
        """An adapter for one request (or for building URLs outside a request).

        ``subdomain`` (default: ``default_subdomain``) is the part of the request's host in front of
        ``server_name``; rules match it unless the map matches hosts.
        """
        server_name = server_name.lower()
        if self.host_matching and subdomain is not None:
            raise RuntimeError("host matching is on: the host is the server name, there is no subdomain")
        return MapAdapter(
            self,
            server_name=_encode_server_name(server_name),
            script_name=script_name or "/",
            subdomain=self.default_subdomain if subdomain is None else subdomain,
            url_scheme=url_scheme,
            path_info="/" if path_info is None else path_info,
            default_method=default_method,
            query_args=query_args,
        )

    def bind_to_environ(
        self, environ: WSGIEnvironment, server_name: str | None = None, subdomain: str | None = None
    ) -> MapAdapter:
        """An adapter for the request described by a WSGI environ.

        ``server_name``: the application's host name; the request's host must end with it and what
        comes in front is the subdomain (a request for another host gets the subdomain ``<invalid>``,
        which no rule matches, and a warning). Without it the request's host is the server name.
        A WebSocket upgrade request binds with the ``ws``/``wss`` scheme.
        """
        scheme = environ.get("wsgi.url_scheme", "http")
        if _is_websocket_upgrade(environ):
            scheme = "wss" if scheme == "https" else "ws"
        request_host = _host_from_environ(environ, scheme)
        if server_name is None:
            server_name = request_host
        else:
            server_name = _strip_default_port(server_name.lower(), scheme)
        if subdomain is None and not self.host_matching:
            subdomain = _subdomain_of(request_host, server_name)
        return self.bind(
            server_name,
            _wsgi_to_str(environ.get("SCRIPT_NAME", "")) or "/",
            subdomain,
            scheme,
            environ.get("REQUEST_METHOD", "GET"),
            _wsgi_to_str(environ.get("PATH_INFO", "")) or "/",
            environ.get("QUERY_STRING", ""),
        )


def _subdomain_of(host: str, server_name: str) -> str:
    """The labels of ``host`` in front of ``server_name``; ``<invalid>`` (and a warning) when the host is
    not ``server_name`` or below it."""
    host_labels = host.split(".")
    server_labels = server_name.split(".")
    if host_labels[-len(server_labels) :] != server_labels:
        # Also when a client reaches the server by its IP address: answered with 404, not an error.
        warnings.warn(
            f"the request's host {host!r} is not the configured server name {server_name!r} or below it",
            stacklevel=3,
        )
        return INVALID_DOMAIN
    return ".".join(label for label in host_labels[: -len(server_labels)] if label)


def _is_websocket_upgrade(environ: WSGIEnvironment) -> bool:
    # RFC 6455 §4.1: the handshake carries "Upgrade: websocket" and a Connection header listing "Upgrade".
    connection = environ.get("HTTP_CONNECTION", "").lower()
    if "upgrade" not in connection:
        return False
    if not any(token.strip(" \t") == "upgrade" for token in connection.split(",")):
        return False
    return bool(environ.get("HTTP_UPGRADE", "").lower() == "websocket")


_DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443"}


def _encode_server_name(server_name: str) -> str:
    """The server name as ASCII (IDNA), its port kept apart from the last label."""
    host, colon, port = server_name.rpartition(":")
    if colon and port.isdigit() and (":" not in host or host.endswith("]")):
        return f"{encode_host(host)}:{port}"
    return encode_host(server_name)


def _strip_default_port(host: str, scheme: str) -> str:
    port = _DEFAULT_PORTS.get(scheme)
    return host[: -len(port) - 1] if port and host.endswith(f":{port}") else host


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
