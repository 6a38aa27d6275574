"""The exceptions routing raises besides the toolkit's HTTP errors.

Strategy: ``ValidationError`` is a converter's way to say "not this rule" and never leaves the router;
``BuildError`` reports why no rule of an endpoint can build a URL, one reason per rule;
``AutomaticOptions`` is an HTTPException answering 200, so a framework that renders HTTP exceptions as
responses answers OPTIONS without a view.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sockweb.web.exceptions import HTTPException

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
