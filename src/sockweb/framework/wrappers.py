"""The framework's Request and Response: the toolkit's classes plus what routing and the App add.

Strategy: subclass, do not wrap. The Request gains the routing result (``url_rule``, ``view_args``,
``endpoint``, ``blueprint``) as plain attributes the App sets, and reads its limits and JSON decoding from
its App; everything else (lazy parsing of args, form, cookies...) is the toolkit's. The Response only
changes the default media type to HTML, the usual type of a view's string.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sockweb.web.request import Request as BaseRequest
from sockweb.web.response import Response as BaseResponse

if TYPE_CHECKING:
    from sockweb.web.exceptions import HTTPException
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
    routing_exception: HTTPException | None = None

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
        from .app import blueprint_chain

        return blueprint_chain(self.endpoint)

    @property
    def max_content_length(self) -> int | None:
        """The App's MAX_CONTENT_LENGTH (larger bodies are answered 413)."""
        app = self.app
        if app is None:
            return None
        value: int | None = app.config["MAX_CONTENT_LENGTH"]
        return value

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        raise AttributeError("set the App's MAX_CONTENT_LENGTH config value instead")

    @property
    def max_form_memory_size(self) -> int | None:  # type: ignore[override]
        """The App's MAX_FORM_MEMORY_SIZE (in-memory size of non-file form fields)."""
        app = self.app
        value: int | None = app.config["MAX_FORM_MEMORY_SIZE"] if app is not None else 500 * 1024
        return value

    @property
    def max_form_parts(self) -> int | None:  # type: ignore[override]
        """The App's MAX_FORM_PARTS (number of multipart parts)."""
        app = self.app
        value: int | None = app.config["MAX_FORM_PARTS"] if app is not None else 1000
        return value


class Response(BaseResponse):
    """The response class of the framework: like the toolkit's, with ``text/html`` as default type."""

    default_mimetype = "text/html"

    @property
    def json(self) -> Any:
        """The body parsed as JSON (for tests), or None when it is not JSON."""
        if self.mimetype != "application/json" and not (self.mimetype or "").endswith("+json"):
            return None
        import json

        return json.loads(self.get_data())
