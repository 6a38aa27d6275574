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
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import quote, urlencode

from sockweb.web.exceptions import HTTPException, MethodNotAllowed, NotFound, RequestRedirect
from sockweb.web.routing.errors import AutomaticOptions, BuildError, ValidationError
from sockweb.web.routing.rules import PATH_SAFE, VARIABLE
from sockweb.web.urls import encode_host

if TYPE_CHECKING:
    from sockweb.web.routing.map import Map
    from sockweb.web.routing.rules import Rule

_REPEATED_SLASHES = re.compile("//+")
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
                raise RequestRedirect(self._url(quote(merged, safe=PATH_SAFE), self._query_string()))
        if not path.endswith("/"):
            slashed = path + "/"
            if self._fast_match(slashed, None) is not _MISS and self._slash_redirect_applies(slashed, method):
                raise RequestRedirect(self._url(quote(slashed, safe=PATH_SAFE), self._query_string()))
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
        return _encode_query(query)

    def _url(self, quoted_path: str, query: str = "", host: str | None = None) -> str:
        """Absolute URL for an already quoted path below this adapter's script name."""
        # A Unicode host (``☃.net``) goes out IDNA-encoded: the URL may end up in a Location header.
        root = f"{self.url_scheme}://{encode_host(host or self.server_name)}{self._quoted_script}"
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
    """The build values without ``None``; a MultiDict's repeated keys become lists (all values are kept)."""
    if not values:
        return {}
    lists = getattr(values, "lists", None)
    if lists is None:
        return {key: value for key, value in values.items() if value is not None}
    plain: dict[str, Any] = {}
    for key, items in lists():
        kept = [item for item in items if item is not None]
        if kept:
            plain[key] = kept[0] if len(kept) == 1 else kept
    return plain


def _encode_query(values: Mapping[str, Any]) -> str:
    pairs: list[tuple[str, str]] = []
    for key, value in sorted(values.items()):
        if isinstance(value, (list, tuple)):
            pairs.extend((key, str(item)) for item in value)
        elif value is not None:
            pairs.append((key, str(value)))
    return urlencode(pairs, quote_via=quote)
