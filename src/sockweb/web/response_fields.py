"""The Response's header fields as typed attributes: caching, negotiation, CORS and security policies.

Strategy: one line per field, built by the factories of :mod:`sockweb.web.header_fields`; the mixin
needs only a ``headers`` attribute (a :class:`~sockweb.web.datastructures.Headers`), so it holds no state
of its own. Fields whose value is a structure (Vary, Content-Security-Policy, WWW-Authenticate,
Content-Range) return live objects: changing them rewrites the header.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .header_fields import (
    bool_field,
    date_field,
    date_or_seconds_field,
    enum_field,
    int_field,
    live_field,
    seconds_field,
    set_field,
    text_field,
)
from .httputil import (
    COEP,
    COOP,
    ContentRange,
    WWWAuthenticate,
    parse_content_range,
    parse_csp_header,
)
from .mappings import CallbackDict

if TYPE_CHECKING:
    from .datastructures import Headers

__all__ = ["ResponseFields"]


class _LiveContentRange(ContentRange):
    """A ContentRange whose changes (``unset()``, ``set()`` or attribute writes) rewrite the header."""

    on_update: Callable[[Any], None] | None = None

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name != "on_update" and self.on_update is not None:
            self.on_update(self if self.units else None)

    def set(
        self, start: int | None, stop: int | None, length: int | None = None, units: str = "bytes"
    ) -> None:
        """Replace the range (``None`` bounds: the unsatisfied form ``*/length``)."""
        self.__dict__.update(units=units, start=start, stop=stop, length=length)
        if self.on_update is not None:
            self.on_update(self)

    def unset(self) -> None:
        """Remove the header."""
        self.__dict__.update(units="", start=None, stop=None, length=None)
        if self.on_update is not None:
            self.on_update(None)


def _parse_content_range(value: str | None, on_update: Callable[[Any], None]) -> _LiveContentRange:
    parsed = parse_content_range(value)
    live = _LiveContentRange.__new__(_LiveContentRange)
    live.__dict__.update(
        units=parsed.units if parsed else "",
        start=parsed.start if parsed else None,
        stop=parsed.stop if parsed else None,
        length=parsed.length if parsed else None,
    )
    live.__dict__["on_update"] = on_update
    return live


def _parse_www_authenticate(value: str | None, on_update: Callable[[Any], None]) -> WWWAuthenticate:
    # An absent challenge reads as an empty Basic one, so ``response.www_authenticate.realm = "x"`` works.
    challenge = WWWAuthenticate.from_header(value) or WWWAuthenticate("basic")
    # WWWAuthenticate stores every parameter write in ``parameters``: a live dict there syncs the header.
    challenge.parameters = CallbackDict(challenge.parameters, lambda _params: on_update(challenge))
    return challenge


class ResponseFields:
    """Header fields of a response as attributes (mixed into :class:`~sockweb.web.response.Response`)."""

    headers: Headers

    # RFC 9110 §6.6.1, RFC 9111 §5.1, §5.3, RFC 9110 §10.2.3
    date = date_field("Date")
    age = seconds_field("Age")
    retry_after = date_or_seconds_field("Retry-After")
    # RFC 9110 §12.5.5, §10.2.1, §8.5
    vary = set_field("Vary")
    allow = set_field("Allow")
    content_language = set_field("Content-Language")
    content_location = text_field("Content-Location")
    content_encoding = text_field("Content-Encoding")
    content_md5 = text_field("Content-MD5")
    # RFC 9110 §14.4
    content_range = live_field("Content-Range", _parse_content_range)
    # RFC 9110 §11.6.1
    www_authenticate = live_field("WWW-Authenticate", _parse_www_authenticate)
    # W3C CSP Level 3 §3.1, §3.2
    content_security_policy = live_field("Content-Security-Policy", parse_csp_header)
    content_security_policy_report_only = live_field("Content-Security-Policy-Report-Only", parse_csp_header)
    # HTML Living Standard §7.1.3, §7.1.4
    cross_origin_opener_policy = enum_field("Cross-Origin-Opener-Policy", COOP, COOP.UNSAFE_NONE)
    cross_origin_embedder_policy = enum_field("Cross-Origin-Embedder-Policy", COEP, COEP.UNSAFE_NONE)
    # Fetch standard §3.2.3 (CORS response headers)
    access_control_allow_credentials = bool_field("Access-Control-Allow-Credentials")
    access_control_allow_headers = set_field("Access-Control-Allow-Headers")
    access_control_allow_methods = set_field("Access-Control-Allow-Methods")
    access_control_allow_origin = text_field("Access-Control-Allow-Origin")
    access_control_expose_headers = set_field("Access-Control-Expose-Headers")
    access_control_max_age = int_field("Access-Control-Max-Age")
