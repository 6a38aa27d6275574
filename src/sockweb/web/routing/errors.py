"""The exceptions routing raises besides the toolkit's HTTP errors.

Strategy: ``ValidationError`` is a converter's way to say "not this rule" and never leaves the router;
``BuildError`` reports that no rule of an endpoint can build a URL, and suggests the closest rule;
``WebsocketMismatch`` (400) says only rules of the other kind (WebSocket or not) match;
``AutomaticOptions`` is an HTTPException answering 200, so a framework that renders HTTP exceptions as
responses answers OPTIONS without a view.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from difflib import SequenceMatcher
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sockweb.web.exceptions import BadRequest, HTTPException

if TYPE_CHECKING:
    from sockweb.web.routing.adapter import MapAdapter
    from sockweb.web.routing.rules import Rule

WSGIEnvironment = dict[str, Any]


class ValidationError(ValueError):
    """Raised by a converter's ``to_python``/``to_url`` to say "this rule does not apply"."""


class BuildError(LookupError):
    """No rule can build a URL for this endpoint with these values (and method).

    ``suggested`` is the rule of the adapter's map closest to what was asked (by endpoint name, then by
    the values it takes, then by method); the message says what to change to use it.
    """

    def __init__(
        self,
        endpoint: Any,
        values: Mapping[str, Any] | None,
        method: str | None,
        adapter: MapAdapter | None = None,
    ) -> None:
        super().__init__(endpoint, values, method)
        self.endpoint = endpoint
        self.values = dict(values or {})
        self.method = method
        self.adapter = adapter

    @cached_property
    def suggested(self) -> Rule | None:
        """The closest rule of the adapter's map (None without an adapter or rules)."""
        if self.adapter is None:
            return None
        rules = self.adapter.map.rules
        if not rules:
            return None
        wanted = str(self.endpoint)
        given = set(self.values)

        def closeness(rule: Rule) -> tuple[float, bool, bool]:
            name = SequenceMatcher(None, str(rule.endpoint), wanted).ratio()
            takes_values = given <= rule.build_keys
            takes_method = rule.methods is not None and self.method in rule.methods
            return (name, takes_values, takes_method)

        return max(rules, key=closeness)

    def __str__(self) -> str:
        text = f"Could not build url for endpoint {self.endpoint!r}"
        if self.method:
            text += f" ({self.method!r})"
        if self.values:
            text += f" with values {sorted(self.values)!r}"
        text += "."
        rule = self.suggested
        if rule is None:
            return text
        if rule.endpoint != self.endpoint:
            return f"{text} Did you mean {rule.endpoint!r} instead?"
        if self.method and rule.methods is not None and self.method not in rule.methods:
            text += f" Did you mean to use methods {sorted(rule.methods)!r}?"
        missing = rule.build_keys - self.values.keys()
        if missing:
            text += f" Did you forget to specify values {sorted(missing)!r}?"
        return text


class WebsocketMismatch(BadRequest):
    """Only rules of the other kind match: a WebSocket rule for a plain request, or the reverse."""


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
