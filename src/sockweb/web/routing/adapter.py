"""MapAdapter: a Map bound to one request (or host), matching paths and building URLs.

Strategy. ``match`` first tries a fast path over the map's index: one dict lookup for static paths,
then the prefix groups of the path's own prefixes, longest first, one regex call each, which keeps the
specificity order. It returns as soon as the first candidate accepts the method and its converters
accept the values. Anything unusual (a converter raising ValidationError, a method mismatch that may
end in 405, a strict-slash or merged-slashes redirect) falls back to a slow, exhaustive scan in the same
order, which is rare and still exact. ``build`` takes the endpoint's rules in specificity order and
picks the first one that fits the values, preferring the one that leaves the fewest values over for the
query string.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import quote, urlencode

from sockweb.web.exceptions import HTTPException, MethodNotAllowed, NotFound, RequestRedirect
from sockweb.web.routing.errors import AutomaticOptions, BuildError, ValidationError, WebsocketMismatch
from sockweb.web.routing.rules import PATH_SAFE, VARIABLE
from sockweb.web.urls import encode_host

if TYPE_CHECKING:
    from sockweb.web.routing.map import Map, _Index
    from sockweb.web.routing.rules import Rule

_REPEATED_SLASHES = re.compile("//+")
_WEBSOCKET_SCHEMES = frozenset({"ws", "wss"})
# The subdomain of a request whose host is not the server name or below it: matches no rule.
INVALID_DOMAIN = "<invalid>"
_MISS = 0  # _fast_match: no rule pattern matches the path
_SLOW = 1  # _fast_match: a pattern matches but the exhaustive scan must decide


class MapAdapter:
    """A Map bound to one host/script name/request: ``match()`` and ``build()``."""

    def __init__(
        self,
        map: Map,
        *,
        server_name: str,
        script_name: str,
        subdomain: str,
        url_scheme: str,
        path_info: str,
        default_method: str,
        query_args: str | Mapping[str, Any] | None,
    ) -> None:
        self.map = map
        self.server_name = server_name
        self.subdomain = subdomain
        self.script_name = script_name if script_name.endswith("/") else script_name + "/"
        self._quoted_script = quote(self.script_name)
        self.url_scheme = url_scheme
        self.websocket = url_scheme in _WEBSOCKET_SCHEMES
        self.path_info = path_info
        self.default_method = default_method.upper()
        self.query_args = query_args
        # The domain part of matching subjects. A "|" in it would read as the separator, and the invalid
        # subdomain (a host outside the server name) must not fill a <converter>: both become "/", which
        # no domain pattern matches (a rule without a host, matching any host, still does).
        domain = server_name if map.host_matching else subdomain
        invalid = "|" in domain or "/" in domain or (not map.host_matching and domain == INVALID_DOMAIN)
        self._domain = "/" if invalid else domain

    # -- matching

    def match(
        self,
        path_info: str | None = None,
        method: str | None = None,
        return_rule: bool = False,
        query_args: str | Mapping[str, Any] | None = None,
        websocket: bool | None = None,
    ) -> tuple[Any, dict[str, Any]]:
        """``(endpoint, values)`` (or ``(rule, values)`` with ``return_rule``) for the request.

        Raises NotFound, MethodNotAllowed (with the allowed methods), WebsocketMismatch (only rules of
        the other kind match), RequestRedirect (strict or merged slashes, ``redirect_to``, aliases,
        defaults) or AutomaticOptions (OPTIONS on a path whose rules do not list OPTIONS). ``query_args``
        (default: the adapter's) go into redirect targets.
        """
        path = self.path_info if path_info is None else path_info
        if query_args is not None:
            return self._with_query(query_args).match(path, method, return_rule, None, websocket)
        if not path:
            # an empty path is the application's root, whose URL ends in "/"
            raise RequestRedirect(self._url("", self._query_string()))
        if path[0] != "/":
            path = "/" + path
        method = (method or self.default_method).upper()
        if websocket is None:
            websocket = self.websocket
        index = self.map.index()
        if websocket or index.websocket_rules:
            found: tuple[Rule, dict[str, Any]] | int = _SLOW  # the exact scan weighs websocket rules
        elif not index.with_domain and self._domain != index.only_domain:
            self._raise_not_found(path, method, websocket)  # every rule is of another subdomain
        else:
            found = self._fast_match(path, method, index)
        if isinstance(found, int):
            if found == _MISS:
                self._raise_not_found(path, method, websocket)
            found = self._slow_match(path, method, websocket)
        rule, values = found
        if rule.redirect_to is not None:
            raise RequestRedirect(self._redirect_target(rule, values))
        if self.map.redirect_defaults:
            if rule.alias:
                self._redirect_alias(rule, values, method)
            self._redirect_to_canonical(rule, values, method)
        return (rule if return_rule else rule.endpoint), values

    def _with_query(self, query_args: str | Mapping[str, Any]) -> MapAdapter:
        return MapAdapter(
            self.map,
            server_name=self.server_name,
            script_name=self.script_name,
            subdomain=self.subdomain,
            url_scheme=self.url_scheme,
            path_info=self.path_info,
            default_method=self.default_method,
            query_args=query_args,
        )

    def _redirect_alias(self, rule: Rule, values: dict[str, Any], method: str) -> None:
        """An alias rule redirects to the URL the endpoint builds for the same values."""
        url = self.build(rule.endpoint, values, method, force_external=True, append_unknown=False)
        query = self._query_string()
        raise RequestRedirect(f"{url}?{query}" if query else url)

    def _redirect_to_canonical(self, rule: Rule, values: dict[str, Any], method: str) -> None:
        """RequestRedirect when another rule of the endpoint serves these values by its defaults."""
        aliases = self.map.index().canonical.get(id(rule))
        if not aliases:
            return
        for other in aliases:
            if other.methods is not None and method not in other.methods:
                continue
            if all(values.get(key) == value for key, value in other.defaults.items()):
                try:
                    domain, path = other.build_parts({**values, **other.defaults})
                except (ValidationError, ValueError, TypeError, KeyError):
                    continue
                raise RequestRedirect(self._url(path, self._query_string(), self._host_for(other, domain)))

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
        """Methods some rule accepts for this path, and OPTIONS (empty when nothing matches)."""
        path = self.path_info if path_info is None else path_info
        methods: set[str] = set()
        for rule, _ in self._candidates(self._subject(path), path):
            if rule.methods is None:
                return sorted({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
            methods |= rule.methods
        if methods:
            methods.add("OPTIONS")  # the map answers OPTIONS itself (AutomaticOptions)
        return sorted(methods)

    def dispatch(
        self,
        view_func: Callable[[Any, dict[str, Any]], Any],
        path_info: str | None = None,
        method: str | None = None,
        catch_http_exceptions: bool = False,
    ) -> Any:
        """Match and call ``view_func(endpoint, values)``; a redirect is returned as the exception (a WSGI
        application), other HTTP exceptions too with ``catch_http_exceptions``, else raised."""
        try:
            try:
                endpoint, values = self.match(path_info, method)
            except RequestRedirect as redirect:
                return redirect
            return view_func(endpoint, values)
        except HTTPException as error:
            if catch_http_exceptions:
                return error
            raise

    def _subject(self, path: str) -> str:
        return f"{self._domain}|{path}" if self.map.index().with_domain else path

    def _fast_match(
        self, path: str, method: str | None, index: _Index | None = None
    ) -> tuple[Rule, dict[str, Any]] | int:
        """The common case in a few dict lookups and one regex call per prefix group.

        Returns the match, or _MISS when no rule's pattern matches the path at all (a plain 404, unless a
        slash redirect applies), or _SLOW when the exhaustive scan must decide (405, ValidationError).
        ``method=None`` accepts any method.
        """
        if index is None:
            index = self.map.index()
        subject = f"{self._domain}|{path}" if index.with_domain else path
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

    def _slow_match(self, path: str, method: str, websocket: bool) -> tuple[Rule, dict[str, Any]]:
        allowed: set[str] = set()
        websocket_mismatch = False
        for rule, match in self._candidates(self._subject(path), path):
            try:
                values = rule.match_values(match, rule._own_groups)
            except ValidationError:
                continue
            if rule.methods is not None and method not in rule.methods:
                allowed |= rule.methods
            elif rule.websocket != websocket:
                websocket_mismatch = True
            else:
                return rule, values
        if allowed:
            # The method is wrong here, but right on the same path with a slash: redirect there.
            slashed = path + "/"
            if not path.endswith("/") and self._slash_redirect_applies(slashed, method, websocket):
                raise RequestRedirect(self._url(quote(slashed, safe=PATH_SAFE), self._query_string()))
            if method == "OPTIONS":
                raise AutomaticOptions(allowed | {"OPTIONS"})
            raise MethodNotAllowed(valid_methods=sorted(allowed | {"OPTIONS"}))
        self._raise_not_found(path, method, websocket, websocket_mismatch)

    def _raise_not_found(
        self, path: str, method: str, websocket: bool, websocket_mismatch: bool = False
    ) -> NoReturn:
        """NotFound, or RequestRedirect when the path plus a slash matches a strict-slash rule that
        accepts the method (a redirect to a 405 would only cost the client a round trip), or when the
        path with repeated slashes merged matches a rule that merges slashes (``merge_slashes``).
        WebsocketMismatch when only rules of the other kind (WebSocket or not) match."""
        if self.map.merge_slashes and "//" in path:
            merged = _REPEATED_SLASHES.sub("/", path)
            try:
                rule, _ = self.match(merged, method, return_rule=True, websocket=websocket)
            except NotFound:
                pass  # nothing there either: the 404 below
            else:
                if rule.merge_slashes:
                    raise RequestRedirect(self._url(quote(merged, safe=PATH_SAFE), self._query_string()))
        if not path.endswith("/"):
            slashed = path + "/"
            if self._slash_redirect_applies(slashed, method, websocket):
                raise RequestRedirect(self._url(quote(slashed, safe=PATH_SAFE), self._query_string()))
        if websocket_mismatch:
            raise WebsocketMismatch()
        raise NotFound()

    def _slash_redirect_applies(self, path: str, method: str, websocket: bool) -> bool:
        for rule, match in self._candidates(self._subject(path), path):
            if not rule.strict_slashes or (rule.methods is not None and method not in rule.methods):
                continue
            if rule.websocket != websocket:
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
            url = VARIABLE.sub(lambda m: _converter_url(rule, m["name"], values), target)
        if "://" in url:
            return url
        return self._url(url, self._query_string())

    def _query_string(self) -> str:
        query = self.query_args
        if query is None:
            return ""
        if isinstance(query, str):
            return query
        return self._encode_query(query)

    def _encode_query(self, values: Mapping[str, Any]) -> str:
        return _encode_query(values, self.map.sort_key if self.map.sort_parameters else None)

    def _host_for(self, rule: Rule, domain: str) -> str:
        """The host of a URL built by ``rule``, from its built domain part."""
        if self.map.host_matching:
            return domain or self.server_name
        return f"{domain}.{self.server_name}" if domain else self.server_name

    def _url(
        self, quoted_path: str, query: str = "", host: str | None = None, scheme: str | None = None
    ) -> str:
        """Absolute URL for an already quoted path below this adapter's script name."""
        # A Unicode host (``☃.net``) goes out IDNA-encoded: the URL may end up in a Location header.
        scheme = self.url_scheme if scheme is None else scheme
        start = f"{scheme}:" if scheme else ""
        root = f"{start}//{encode_host(host or self.server_name)}{self._quoted_script}"
        url = root + quoted_path.lstrip("/")
        return f"{url}?{query}" if query else url

    # -- building

    def build(  # noqa: PLR0917 - the werkzeug-compatible signature
        self,
        endpoint: Any,
        values: Mapping[str, Any] | None = None,
        method: str | None = None,
        force_external: bool = False,
        append_unknown: bool = True,
        url_scheme: str | None = None,
    ) -> str:
        """The URL of ``endpoint`` with ``values``; values no rule argument takes become query args.

        Among the endpoint's rules it takes the first (canonical rules before aliases, those taking more
        values first) that accepts the method (without one: the adapter's default method if a rule
        accepts it, else any), has every argument it needs and whose defaults agree with the values,
        preferring the rule that leaves the fewest values over for the query string and, with host
        matching, a rule of the adapter's host. Raises BuildError when none fits.

        The URL is relative unless ``force_external``, the rule is of another subdomain (or host), or it
        is a WebSocket rule; ``url_scheme`` replaces the adapter's scheme (``""``: a scheme-relative URL).
        A WebSocket rule's URL has the ``ws``/``wss`` scheme, other rules' ``http``/``https``.
        """
        given = _plain_values(values)
        if method is not None:
            method = method.upper()
        picked = None
        if method is None:
            picked = self._pick_rule(endpoint, given, self.default_method)
        if picked is None:
            picked = self._pick_rule(endpoint, given, method)
        if picked is None:
            raise BuildError(endpoint, given, method, self)
        leftover, rule, domain, path = picked
        query = ""
        if leftover and append_unknown:
            used = rule.build_keys
            query = self._encode_query({key: value for key, value in given.items() if key not in used})
        scheme = self.url_scheme if url_scheme is None else url_scheme
        if scheme and (rule.websocket or scheme in _WEBSOCKET_SCHEMES):
            secure = scheme in {"https", "wss"}
            if rule.websocket:
                scheme, force_external = ("wss" if secure else "ws"), True
            elif scheme in _WEBSOCKET_SCHEMES:
                scheme = "https" if secure else "http"
        if (domain or not self.map.host_matching) and domain != self._domain:
            force_external = True
        if force_external:
            return self._url(path, query, self._host_for(rule, domain), scheme)
        url = self._quoted_script + path[1:]
        return f"{url}?{query}" if query else url

    def _pick_rule(
        self, endpoint: Any, values: dict[str, Any], method: str | None
    ) -> tuple[int, Rule, str, str] | None:
        """(number of values left for the query string, rule, domain, path) of the best rule."""
        rules = self.map.index().by_endpoint.get(endpoint)
        if not rules:
            return None
        best: tuple[int, Rule, str, str] | None = None
        prefer_domain = self.map.host_matching
        for rule in rules:
            if rule.build_problem(values, method) is not None:
                continue
            try:
                domain, path = rule.build_parts({**rule.defaults, **values} if rule.defaults else values)
            except ValidationError:
                continue  # the converter refuses the value: not this rule (other errors are the caller's)
            if len(values) == len(rule.arguments) and not rule.defaults:
                leftover = 0  # every argument is present (checked above), so nothing is left over
            else:
                used = rule.build_keys
                leftover = len(values) - sum(1 for key in values if key in used)
            if prefer_domain and domain and domain != self._domain:
                leftover += 1_000_000  # another host: only when no rule of this host fits as well
            if best is None or leftover < best[0]:
                best = (leftover, rule, domain, path)
                if leftover == 0:
                    break  # rules come in build order: the first exact fit is the best one
        return best


def _converter_url(rule: Rule, name: str, values: Mapping[str, Any]) -> str:
    """Format one value with the converter the rule uses for ``name`` (for ``redirect_to`` templates)."""
    for slot in rule._slots:
        if slot.name == name:
            return slot.converter.to_url(values[name])
    return quote(str(values[name]), safe="")


def _plain_values(values: Mapping[str, Any] | None) -> dict[str, Any]:
    """The build values: a dict without its ``None`` values; a MultiDict's keys with their one value, or
    the list of them when repeated (its empty lists dropped, its ``None`` items kept for the converter
    to judge)."""
    if not values:
        return {}
    lists = getattr(values, "lists", None)
    if lists is None:
        return {key: value for key, value in values.items() if value is not None}
    return {key: items[0] if len(items) == 1 else items for key, items in lists() if items}


def _encode_query(values: Mapping[str, Any], sort_key: Callable[[tuple[str, Any]], Any] | None = None) -> str:
    pairs: list[tuple[str, str]] = []
    for key, value in values.items():
        if isinstance(value, (list, tuple)):
            pairs.extend((key, str(item)) for item in value if item is not None)
        elif value is not None:
            pairs.append((key, str(value)))
    pairs.sort(key=sort_key or _by_key)
    return urlencode(pairs, quote_via=quote)


def _by_key(pair: tuple[str, str]) -> str:
    return pair[0]
