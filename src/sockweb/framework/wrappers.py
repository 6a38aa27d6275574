"""The framework's Request and Response: the toolkit's classes plus what routing and the App add.

Strategy: subclass, do not wrap. The Request gains the routing result (``url_rule``, ``view_args``,
``endpoint``, ``blueprint``) as plain attributes the App sets, and reads its limits and JSON decoding from
its App; everything else (lazy parsing of args, form, cookies...) is the toolkit's. The Response only
changes the default media type to HTML, the usual type of a view's string.
"""

from __future__ import annotations

import copy
import json as _json
import warnings
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from sockweb.web.datastructures import FileStorage, Headers, ImmutableMultiDict
from sockweb.web.exceptions import BadRequest
from sockweb.web.request import Request as BaseRequest
from sockweb.web.response import Response as BaseResponse

if TYPE_CHECKING:
    from sockweb.web.routing import Rule

    from .app import App


class Request(BaseRequest):
    """The request object of the framework (``from sockweb import request``)."""

    #: the App handling this request (set by the request context)
    app: App | None = None
    #: the matched rule, or None when routing failed
    url_rule: Rule | None = None
    #: the values of the URL's variables, or None when routing failed
    view_args: dict[str, Any] | None = None
    #: the routing error (404, 405, redirect) to raise when the view would have run
    routing_exception: Exception | None = None

    @property
    def endpoint(self) -> str | None:
        """The endpoint of the matched rule (``"bp.index"``)."""
        rule = self.url_rule
        return str(rule.endpoint) if rule is not None else None

    @property
    def blueprint(self) -> str | None:
        """The (dotted) name of the blueprint of the matched endpoint, or None."""
        endpoint = self.endpoint
        if endpoint is None or "." not in endpoint:
            return None
        return endpoint.rpartition(".")[0]

    @property
    def blueprints(self) -> tuple[str, ...]:
        """The blueprint and its parents, innermost first (``("a.b", "a")``)."""
        from .plans import blueprint_chain

        return blueprint_chain(self.endpoint)

    @property
    def json_module(self) -> Any:
        """The App's JSON provider (orjson when installed) parses request bodies; the toolkit's
        ``get_json`` does the rest (415 for a non-JSON type unless ``force``, 400 for a bad body)."""
        app = self.app
        return _json if app is None else app.json

    @property
    def files(self) -> ImmutableMultiDict[str, FileStorage]:
        """The uploaded files; in debug mode, asking for a file of a form that was not sent as
        multipart/form-data explains the missing ``enctype`` (:class:`.debug.DebugFilesKeyError`)."""
        files = super().files
        if not files and self.mimetype != "multipart/form-data":
            app = self.app
            if app is not None and app.debug:
                from .debug import DebugFiles

                return DebugFiles(self)
        return files

    def on_json_loading_failed(self, error: BaseException) -> Any:
        """A bad JSON body: 400 with the parser's detail in debug mode, the plain 400 otherwise (the
        detail helps the developer and tells a client nothing it needs)."""
        try:
            return super().on_json_loading_failed(error)
        except BadRequest as detailed:
            app = self._current_app()
            if app is not None and app.debug:
                raise
            raise BadRequest() from detailed

    def _current_app(self) -> App | None:
        """The App of this request, else the App of the active application context."""
        app = self.app
        if app is None:
            from .globals import _cv_app

            app_ctx = _cv_app.get(None)
            if app_ctx is not None:
                app = app_ctx.app
        return app

    def _limit(self, name: str, fallback: int | None) -> int | None:
        # A value set on this request wins; then the App's config; then the toolkit's default.
        override = self.__dict__.get(f"_{name}", _UNSET)
        if override is not _UNSET:
            return override  # type: ignore[no-any-return]
        app = self._current_app()
        if app is None:
            return fallback
        value: int | None = app.config[name.upper()]
        return value

    @property
    def max_content_length(self) -> int | None:
        """MAX_CONTENT_LENGTH of the App (larger bodies are answered 413), unless set on this request
        (``request.max_content_length = ...`` in a before_request hook raises or lowers it for one view)."""
        return self._limit("max_content_length", BaseRequest.max_content_length)

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self.__dict__["_max_content_length"] = value

    @property
    def max_form_memory_size(self) -> int | None:
        """MAX_FORM_MEMORY_SIZE of the App (in-memory size of non-file form fields), unless set here."""
        return self._limit("max_form_memory_size", BaseRequest.max_form_memory_size)

    @max_form_memory_size.setter
    def max_form_memory_size(self, value: int | None) -> None:
        self.__dict__["_max_form_memory_size"] = value

    @property
    def max_form_parts(self) -> int | None:
        """MAX_FORM_PARTS of the App (number of multipart parts), unless set on this request."""
        return self._limit("max_form_parts", BaseRequest.max_form_parts)

    @max_form_parts.setter
    def max_form_parts(self, value: int | None) -> None:
        self.__dict__["_max_form_parts"] = value


_UNSET: Any = object()


class Response(BaseResponse):
    """The response class of the framework: like the toolkit's, with ``text/html`` as default type.

    It also answers the most common case, a complete in-memory body with a 2xx status and nothing to
    run on close, without the general machinery (no header copy, no closing wrapper): the server gets the
    header list and the body list directly. Everything else goes through the toolkit's ``__call__``.
    """

    default_mimetype = "text/html"
    _has_close_callbacks = False
    #: (class, content type) -> what from_body copies: shared immutable state, attributes to copy, headers
    _templates: dict[tuple[type[Response], str | None], _Template] = {}

    @classmethod
    def from_body(cls, data: bytes, content_type: str | None = None) -> Response:
        """``cls(data, content_type=content_type)`` for a 200 response, built faster.

        Views return such bodies on almost every request, so instead of parsing the status and validating
        constant headers each time, this copies a response built once by the regular constructor and
        sets the body and its Content-Length. Only immutable values are shared with that template; every
        other attribute is copied, so the responses are independent.
        """
        template = cls._templates.get((cls, content_type))
        if template is None:
            template = cls._templates[(cls, content_type)] = _Template(cls(b"", content_type=content_type))
        response = cls.__new__(cls)
        state = response.__dict__
        state.update(template.shared)
        for name, value in template.copied:
            state[name] = copy.copy(value)
        headers = Headers()
        headers._list = [*template.header_pairs, ("Content-Length", str(len(data)))]
        response.headers = headers
        response.response = [data]
        return response

    def call_on_close(self, func: Callable[[], object]) -> Callable[[], object]:
        self._has_close_callbacks = True
        return super().call_on_close(func)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        body = self.response
        if (
            type(body) is list
            and len(body) == 1
            and type(body[0]) is bytes
            and self.file is None
            and not self._has_close_callbacks
            and not self.direct_passthrough
            and 200 <= self.status_code < 300
            and self.status_code != 204
        ):
            start_response(self.status, self.headers.to_wsgi_list())
            # RFC 9110 §9.3.2: HEAD gets the same headers and no content.
            return [] if environ.get("REQUEST_METHOD") == "HEAD" else body
        return super().__call__(environ, start_response)

    @property
    def max_cookie_size(self) -> int:
        """MAX_COOKIE_SIZE of the active App, or its default outside an app context; 0 means no limit."""
        from .config import DEFAULT_CONFIG
        from .globals import _cv_app

        app_ctx = _cv_app.get(None)
        config = app_ctx.app.config if app_ctx is not None else DEFAULT_CONFIG
        return int(config["MAX_COOKIE_SIZE"])

    def set_cookie(self, key: str, value: str = "", **kwargs: Any) -> None:
        """The toolkit's ``set_cookie``, then a warning when the header passes :attr:`max_cookie_size`:
        browsers silently drop such cookies, which otherwise shows up as a lost login far from here."""
        super().set_cookie(key, value, **kwargs)
        limit = self.max_cookie_size
        if limit:
            size = len(self.headers.getlist("Set-Cookie")[-1].encode("latin-1", "replace"))
            if size > limit:
                warnings.warn(
                    f"The {key!r} cookie is too large: its Set-Cookie value is {size} bytes, over the "
                    f"{limit} bytes of MAX_COOKIE_SIZE. Browsers may ignore it silently.",
                    stacklevel=2,
                )

    @property
    def json(self) -> Any:
        """The body parsed as JSON (for tests), or None when it is not JSON."""
        if self.mimetype != "application/json" and not (self.mimetype or "").endswith("+json"):
            return None
        import json

        return json.loads(self.get_data())


_IMMUTABLE = (str, bytes, int, float, bool, type(None), tuple, frozenset)


class _Template:
    """A response built by the regular constructor, split up for :meth:`Response.from_body`."""

    __slots__ = ("copied", "header_pairs", "shared")

    def __init__(self, response: Response) -> None:
        state = vars(response)
        self.shared = {k: v for k, v in state.items() if isinstance(v, _IMMUTABLE)}
        skip = {"headers", "response"}
        self.copied = [(k, v) for k, v in state.items() if k not in self.shared and k not in skip]
        self.header_pairs = [pair for pair in response.headers.to_wsgi_list() if pair[0] != "Content-Length"]
