"""HTTP errors as exceptions that are also complete WSGI responses.

Strategy: one base class, :class:`HTTPException`, carries a status code, a reason name and a description.
Raising one anywhere in request handling aborts it; the framework (or any caller) turns it into a response
with :meth:`HTTPException.get_response`, or calls it directly as a WSGI application. Each subclass only
declares its code, its default description, and, when the status needs them, extra headers (Allow,
Location, Retry-After, WWW-Authenticate, Content-Range). The body is a small escaped HTML page, or a JSON
object ``{"code", "name", "description"}`` when the request's Accept header prefers ``application/json``.

This module sits at the bottom of the toolkit: at module level it imports only the standard library and
the protocol layer's status table, and
reaches Accept parsing and :class:`~sockweb.web.response.Response` lazily so that every other module of
``sockweb.web`` may import it.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, NoReturn

from sockweb.http import STATUS_REASONS

if TYPE_CHECKING:
    from .response import Response

WSGIEnvironment = dict[str, Any]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApplication = Callable[[WSGIEnvironment, StartResponse], Iterable[bytes]]

__all__ = [
    "Aborter",
    "BadGateway",
    "BadRequest",
    "BadRequestKeyError",
    "ClientDisconnected",
    "Conflict",
    "ExpectationFailed",
    "FailedDependency",
    "Forbidden",
    "GatewayTimeout",
    "Gone",
    "HTTPException",
    "HTTPVersionNotSupported",
    "ImATeapot",
    "InternalServerError",
    "LengthRequired",
    "Locked",
    "MethodNotAllowed",
    "MisdirectedRequest",
    "NotAcceptable",
    "NotFound",
    "NotImplemented",
    "PreconditionFailed",
    "PreconditionRequired",
    "RangeNotSatisfiable",
    "RequestEntityTooLarge",
    "RequestHeaderFieldsTooLarge",
    "RequestRedirect",
    "RequestTimeout",
    "RequestURITooLarge",
    "RequestedRangeNotSatisfiable",
    "SecurityError",
    "ServiceUnavailable",
    "TooManyRequests",
    "Unauthorized",
    "UnavailableForLegalReasons",
    "UnprocessableEntity",
    "UnsupportedMediaType",
    "abort",
    "default_exceptions",
    "status_name",
    "wants_json",
]


def status_name(code: int) -> str:
    """The reason phrase for ``code``: the protocol layer's table first (one spelling project-wide), then
    the standard library's, else "Unknown Error"."""
    reason = STATUS_REASONS.get(code)
    if reason is not None:
        return reason
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "Unknown Error"


class HTTPException(Exception):
    """Base of every HTTP error. ``code`` and ``description`` are class defaults a subclass overrides.

    ``HTTPException(response=resp)`` wraps a ready response: :meth:`get_response` then returns it unchanged
    (this is what ``abort(response)`` raises).
    """

    code: int | None = None
    description: str | None = None

    def __init__(self, description: str | None = None, response: Response | None = None) -> None:
        super().__init__()
        if description is not None:
            self.description = description
        self.response = response

    @property
    def name(self) -> str:
        """The reason phrase, e.g. "Not Found"."""
        return status_name(self.code) if self.code is not None else "Unknown Error"

    def get_description(self, environ: WSGIEnvironment | None = None) -> str:
        """The description as escaped HTML (one paragraph)."""
        text = html.escape(self.description or "", quote=True).replace("\n", "<br>")
        return f"<p>{text}</p>"

    def get_body(self, environ: WSGIEnvironment | None = None) -> str:
        """The body text: JSON when the request asks for it, a small HTML page otherwise."""
        if environ is not None and wants_json(environ):
            payload = {"code": self.code, "name": self.name, "description": self.description or ""}
            return json.dumps(payload)
        title = html.escape(f"{self.code} {self.name}")
        # The shortest valid HTML5 preamble (lowercase doctype, bare attribute value): client code and tests
        # written against werkzeug-style error pages look for exactly these two first lines.
        return (
            "<!doctype html>\n"
            "<html lang=en>\n"
            f'<head><meta charset="utf-8"><title>{title}</title></head>\n'
            f"<body>\n<h1>{title}</h1>\n{self.get_description(environ)}\n</body>\n"
            "</html>\n"
        )

    def get_headers(self, environ: WSGIEnvironment | None = None) -> list[tuple[str, str]]:
        """Headers of the error response; subclasses append their own (Allow, Location, ...)."""
        if environ is not None and wants_json(environ):
            return [("Content-Type", "application/json")]
        return [("Content-Type", "text/html; charset=utf-8")]

    def get_response(self, environ: WSGIEnvironment | Any | None = None) -> Response:
        """A :class:`~sockweb.web.response.Response` for this error (or the wrapped one).

        ``environ`` may also be a Request (its ``environ`` is used).
        """
        from .response import Response

        if self.response is not None:
            return self.response
        environ = getattr(environ, "environ", environ)
        return Response(self.get_body(environ), self.code or 500, self.get_headers(environ))

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Serve this error as a WSGI application."""
        if self.response is not None:
            return self.response(environ, start_response)
        body = self.get_body(environ).encode("utf-8")
        headers = [*self.get_headers(environ), ("Content-Length", str(len(body)))]
        if environ.get("REQUEST_METHOD") == "HEAD":
            body = b""
        start_response(f"{self.code or 500} {self.name}", headers)
        return [body]

    def __str__(self) -> str:
        code = self.code if self.code is not None else "???"
        return f"{code} {self.name}: {self.description or ''}".rstrip(": ")

    def __repr__(self) -> str:
        code = self.code if self.code is not None else "???"
        return f"<{type(self).__name__} '{code}: {self.name}'>"


def wants_json(environ: Mapping[str, Any]) -> bool:
    """True when the request's Accept header ranks application/json above text/html."""
    accept = environ.get("HTTP_ACCEPT")
    if not accept or "json" not in accept:
        return False
    from .httputil import MIMEAccept, parse_accept_header

    best = parse_accept_header(accept, MIMEAccept).best_match(["text/html", "application/json"])
    return best == "application/json"


# -- 4xx -----------------------------------------------------------------------------------------------------


class BadRequest(HTTPException):
    code = 400
    description = "The server could not understand the request: it is malformed or incomplete."


class BadRequestKeyError(BadRequest, KeyError):
    """A missing key in request data (form, args, files): a 400 for the client, a KeyError for code."""

    def __init__(self, key: object = None, description: str | None = None) -> None:
        super().__init__(description)
        self.key = key
        if description is None and key is not None:
            self.description = f"The request is missing the required field {key!r}."

    def __str__(self) -> str:
        return BadRequest.__str__(self)


class ClientDisconnected(BadRequest):
    """The client closed the connection before sending the whole body it announced."""

    description = "The client disconnected before the request body was complete."


class SecurityError(BadRequest):
    """Input that looks like an attack (for example a path escaping its root)."""


class Unauthorized(HTTPException):
    code = 401
    description = "This resource needs valid credentials, and the request did not supply them."

    def __init__(
        self,
        description: str | None = None,
        response: Response | None = None,
        www_authenticate: object | Iterable[object] | None = None,
    ) -> None:
        """``www_authenticate``: one challenge or several (strings or
        :class:`~sockweb.web.httputil.WWWAuthenticate`), each sent as its own WWW-Authenticate header."""
        super().__init__(description, response)
        if www_authenticate is None:
            challenges: list[object] = []
        elif isinstance(www_authenticate, (str, bytes)) or not isinstance(www_authenticate, Iterable):
            challenges = [www_authenticate]
        else:
            challenges = list(www_authenticate)
        self.www_authenticate = challenges

    def get_headers(self, environ: WSGIEnvironment | None = None) -> list[tuple[str, str]]:
        headers = super().get_headers(environ)
        headers.extend(("WWW-Authenticate", str(value)) for value in self.www_authenticate)
        return headers


class Forbidden(HTTPException):
    code = 403
    description = "You do not have permission to access this resource."


class NotFound(HTTPException):
    code = 404
    description = "The requested URL was not found on this server."


class MethodNotAllowed(HTTPException):
    """405; ``valid_methods`` becomes the Allow header (RFC 9110 §15.5.6 requires it)."""

    code = 405
    description = "The method is not allowed for the requested URL."

    def __init__(
        self,
        valid_methods: Iterable[str] | None = None,
        description: str | None = None,
        response: Response | None = None,
    ) -> None:
        super().__init__(description, response)
        self.valid_methods = list(valid_methods) if valid_methods is not None else None

    def get_headers(self, environ: WSGIEnvironment | None = None) -> list[tuple[str, str]]:
        headers = super().get_headers(environ)
        if self.valid_methods is not None:
            headers.append(("Allow", ", ".join(self.valid_methods)))
        return headers


class NotAcceptable(HTTPException):
    code = 406
    description = "None of the representations of this resource matches what the request accepts."


class RequestTimeout(HTTPException):
    code = 408
    description = "The server timed out waiting for the request."


class Conflict(HTTPException):
    code = 409
    description = "The request conflicts with the current state of the resource."


class Gone(HTTPException):
    code = 410
    description = "The resource is no longer available here and has no forwarding address."


class LengthRequired(HTTPException):
    code = 411
    description = "The request must declare its body size with a Content-Length header."


class PreconditionFailed(HTTPException):
    code = 412
    description = "A precondition in the request headers did not hold."


class RequestEntityTooLarge(HTTPException):
    code = 413
    description = "The request body is larger than this server accepts."


class RequestURITooLarge(HTTPException):
    code = 414
    description = "The request URL is longer than this server accepts."


class UnsupportedMediaType(HTTPException):
    code = 415
    description = "The server does not support the media type of the request body."


class RequestedRangeNotSatisfiable(HTTPException):
    """416; with ``length``, adds ``Content-Range: bytes */length`` (RFC 9110 §15.5.17).

    Named as werkzeug names it (the class name shows in reprs and logs); :data:`RangeNotSatisfiable`,
    RFC 9110's name for the status, is the same class.
    """

    code = 416
    description = "No part of the requested range lies within the resource."

    def __init__(
        self,
        length: int | None = None,
        units: str = "bytes",
        description: str | None = None,
        response: Response | None = None,
    ) -> None:
        super().__init__(description, response)
        self.length = length
        self.units = units

    def get_headers(self, environ: WSGIEnvironment | None = None) -> list[tuple[str, str]]:
        headers = super().get_headers(environ)
        if self.length is not None:
            headers.append(("Content-Range", f"{self.units} */{self.length}"))
        return headers


class MisdirectedRequest(HTTPException):
    # RFC 9110 §15.5.20: the request reached a server that cannot answer for its target URI.
    code = 421
    description = "The server is not able to produce a response for this request."


class ExpectationFailed(HTTPException):
    code = 417
    description = "The server cannot meet the expectation given in the Expect header."


class ImATeapot(HTTPException):
    code = 418
    description = "This server is a teapot and refuses to brew coffee."


class UnprocessableEntity(HTTPException):
    code = 422
    description = "The request was well-formed but its content could not be processed."


class Locked(HTTPException):
    code = 423
    description = "The resource is locked."


class FailedDependency(HTTPException):
    code = 424
    description = "The request depended on another request that failed."


class PreconditionRequired(HTTPException):
    code = 428
    description = "This request must be conditional (send If-Match or If-Unmodified-Since)."


class _RetryAfterMixin(HTTPException):
    """Adds Retry-After when ``retry_after`` is given: seconds (an int), a datetime (sent as an HTTP date;
    a naive one is UTC), or a ready header string."""

    def __init__(
        self,
        description: str | None = None,
        response: Response | None = None,
        retry_after: int | str | datetime | None = None,
    ) -> None:
        super().__init__(description, response)
        self.retry_after = retry_after

    def get_headers(self, environ: WSGIEnvironment | None = None) -> list[tuple[str, str]]:
        headers = super().get_headers(environ)
        value = self.retry_after
        if isinstance(value, datetime):
            from .httputil.dates import http_date

            # RFC 9110 §10.2.3: Retry-After = HTTP-date / delay-seconds.
            value = http_date(value)
        if value is not None:
            headers.append(("Retry-After", str(value)))
        return headers


class TooManyRequests(_RetryAfterMixin):
    code = 429
    description = "Too many requests were sent in a given amount of time; try again later."


class RequestHeaderFieldsTooLarge(HTTPException):
    code = 431
    description = "One header field, or all of them together, are larger than this server accepts."


class UnavailableForLegalReasons(HTTPException):
    code = 451
    description = "This resource is unavailable for legal reasons."


# -- 5xx -----------------------------------------------------------------------------------------------------


class InternalServerError(HTTPException):
    """500; ``original_exception`` keeps the error that caused it, for logging and debugging."""

    code = 500
    description = "The server met an unexpected condition and could not complete the request."

    def __init__(
        self,
        description: str | None = None,
        response: Response | None = None,
        original_exception: BaseException | None = None,
    ) -> None:
        super().__init__(description, response)
        self.original_exception = original_exception


# Shadows the builtin inside this module only; the name follows the status phrase "Not Implemented".
class NotImplemented(HTTPException):
    code = 501
    description = "The server does not support the functionality needed for this request."


class BadGateway(HTTPException):
    code = 502
    description = "The upstream server sent an invalid response."


class ServiceUnavailable(_RetryAfterMixin):
    code = 503
    description = "The service is temporarily unavailable; try again later."


class GatewayTimeout(HTTPException):
    code = 504
    description = "The upstream server did not answer in time."


class HTTPVersionNotSupported(HTTPException):
    code = 505
    description = "The server does not support the HTTP version of the request."


# -- redirects (raised by routing) ---------------------------------------------------------------------------


class RequestRedirect(HTTPException):
    """A redirect raised during URL matching (e.g. the canonical URL with a trailing slash).

    308 keeps the method and body (RFC 9110 §15.4.9), so it is the default.
    """

    code = 308

    def __init__(self, new_url: str, code: int | None = None) -> None:
        super().__init__(None)
        self.new_url = new_url
        if code is not None:  # else the class's code, which an application may change
            self.code = code
        self.description = f"The resource moved to {new_url}."

    def get_description(self, environ: WSGIEnvironment | None = None) -> str:
        url = html.escape(self.new_url, quote=True)
        return f'<p>Redirecting to <a href="{url}">{url}</a>.</p>'

    def get_headers(self, environ: WSGIEnvironment | None = None) -> list[tuple[str, str]]:
        headers = super().get_headers(environ)
        from .urls import iri_to_uri

        # A WSGI header value must be latin-1: a Unicode target goes out IRI->URI encoded.
        url = self.new_url
        headers.append(("Location", url if url.isascii() else iri_to_uri(url)))
        return headers


#: RFC 9110's name for the 416 exception.
RangeNotSatisfiable = RequestedRangeNotSatisfiable

#: status code -> exception class, for :func:`abort`.
default_exceptions: dict[int, type[HTTPException]] = {
    cls.code: cls
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        NotAcceptable,
        RequestTimeout,
        Conflict,
        Gone,
        LengthRequired,
        PreconditionFailed,
        RequestEntityTooLarge,
        RequestURITooLarge,
        UnsupportedMediaType,
        RequestedRangeNotSatisfiable,
        ExpectationFailed,
        ImATeapot,
        MisdirectedRequest,
        UnprocessableEntity,
        Locked,
        FailedDependency,
        PreconditionRequired,
        TooManyRequests,
        RequestHeaderFieldsTooLarge,
        UnavailableForLegalReasons,
        InternalServerError,
        NotImplemented,
        BadGateway,
        ServiceUnavailable,
        GatewayTimeout,
        HTTPVersionNotSupported,
    )
    if cls.code is not None
}


class Aborter:
    """Raises the HTTP exception for a status code: ``Aborter()(404)`` raises :class:`NotFound`.

    ``mapping`` replaces the status -> class table (default :data:`default_exceptions`); ``extra`` adds to
    it. Calling with a Response raises an :class:`HTTPException` that carries it unchanged.
    """

    def __init__(
        self,
        mapping: Mapping[int, type[HTTPException]] | None = None,
        extra: Mapping[int, type[HTTPException]] | None = None,
    ) -> None:
        self.mapping = dict(default_exceptions if mapping is None else mapping)
        if extra is not None:
            self.mapping.update(extra)

    def __call__(self, status: int | Response, *args: Any, **kwargs: Any) -> NoReturn:
        if isinstance(status, int):
            cls = self.mapping.get(status)
            if cls is None:
                raise LookupError(f"no exception for status {status}")
            raise cls(*args, **kwargs)
        raise HTTPException(response=status)


_aborter = Aborter()


def abort(status: int | Response, *args: Any, **kwargs: Any) -> NoReturn:
    """Raise the HTTP exception for ``status`` (extra arguments go to its constructor).

    ``abort(response)`` raises an :class:`HTTPException` that carries that response unchanged.
    """
    _aborter(status, *args, **kwargs)
