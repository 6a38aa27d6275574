"""The test client of the framework: the toolkit's Client that knows its App.

Strategy: subclass the toolkit's in-process :class:`~sockweb.web.testing.Client` and
:class:`~sockweb.web.testing.EnvironBuilder`. What the App adds:

- requests are built from the App's configuration (``SERVER_NAME``, ``APPLICATION_ROOT``,
  ``PREFERRED_URL_SCHEME``; ``subdomain=`` and ``url_scheme=`` shortcuts) and JSON bodies are dumped with
  ``app.json``;
- :meth:`AppClient.session_transaction` opens the session the way a request would (from the client's
  cookie jar), hands it to the test, and stores it back into the jar as the App would have;
- inside ``with client:`` the last request's contexts stay active after it returns, so the test can read
  ``request``, ``session`` and ``g`` (the App offers them through :data:`PRESERVE_CONTEXT`; they are set
  again, not pushed, so teardown hooks run once, when the request ends).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import Token
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from click.testing import CliRunner, Result

from sockweb.web.testing import _REDIRECTS, MAX_REDIRECTS, Client, TestResponse
from sockweb.web.testing import EnvironBuilder as BaseEnvironBuilder

from .ctx import PRESERVE_CONTEXT
from .globals import _cv_app, _cv_request

if TYPE_CHECKING:
    from .ctx import AppContext, RequestContext

if TYPE_CHECKING:
    from .app import App
    from .sessions import SecureCookieSession


class EnvironBuilder(BaseEnvironBuilder):
    """The toolkit's EnvironBuilder with the App's defaults: ``EnvironBuilder(app, "/path", ...)``.

    Without ``base_url``, the host is ``SERVER_NAME`` (or ``localhost``, with ``subdomain.`` in front when
    given), the script root ``APPLICATION_ROOT`` and the scheme ``url_scheme`` or ``PREFERRED_URL_SCHEME``;
    a full URL as ``path`` gives its own scheme, host and query. ``json=`` is dumped with ``app.json``
    and ``errors_stream=`` becomes ``wsgi.errors``.
    """

    def __init__(
        self,
        app: App,
        path: str = "/",
        base_url: str | None = None,
        subdomain: str | None = None,
        url_scheme: str | None = None,
        *args: Any,
        errors_stream: Any = None,
        **kwargs: Any,
    ) -> None:
        if base_url is not None and (subdomain or url_scheme):
            raise ValueError("pass 'subdomain' or 'url_scheme', or 'base_url', not both")
        if base_url is None:
            config = app.config
            host = config["SERVER_NAME"] or "localhost"
            if subdomain:
                host = f"{subdomain}.{host}"
            url = urlsplit(path)
            scheme = url.scheme or url_scheme or config["PREFERRED_URL_SCHEME"] or "http"
            root = (config["APPLICATION_ROOT"] or "/").lstrip("/")
            base_url = f"{scheme}://{url.netloc or host}/{root}"
            path = url.path or "/"
            if url.query and kwargs.get("query_string") is None:
                kwargs["query_string"] = url.query
        if kwargs.get("json") is not None:
            if kwargs.get("data") is not None:
                raise TypeError("pass data or json, not both")
            kwargs["data"] = app.json.dumps(kwargs.pop("json"))
            kwargs.setdefault("content_type", "application/json")
        if errors_stream is not None:
            overrides = dict(kwargs.get("environ_overrides") or {})
            overrides["wsgi.errors"] = errors_stream
            kwargs["environ_overrides"] = overrides
        self.app = app
        super().__init__(path, base_url, *args, **kwargs)

    def close(self) -> None:
        """Close the files and the input stream, if one was given."""
        super().close()
        if self.input_stream is not None:
            self.input_stream.close()

    def json_dumps(self, obj: Any, **kwargs: Any) -> str:
        """Serialize ``obj`` as the App's JSON provider does."""
        return self.app.json.dumps(obj, **kwargs)


class AppClient(Client):
    """``app.test_client()``: requests in-process, cookies kept, and ``session_transaction()``."""

    __test__ = False

    def __init__(self, app: App, use_cookies: bool = True) -> None:
        super().__init__(app, use_cookies=use_cookies)
        self.app = app
        #: environ entries every request of this client starts from (a request's own override them)
        self.environ_base: dict[str, Any] = {"REMOTE_ADDR": "127.0.0.1", "HTTP_USER_AGENT": "sockweb-test"}
        self.preserve_context = False
        self._preserved: list[tuple[Token[AppContext], Token[RequestContext]]] = []
        self._offered: list[RequestContext] = []

    def __enter__(self) -> AppClient:
        if self.preserve_context:
            raise RuntimeError("cannot nest 'with client:' blocks")
        self.preserve_context = True
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.preserve_context = False
        self._release()

    def _release(self) -> None:
        while self._preserved:
            app_token, request_token = self._preserved.pop()
            _cv_request.reset(request_token)
            _cv_app.reset(app_token)

    def open(
        self, *args: Any, follow_redirects: bool = False, buffered: bool = False, **kwargs: Any
    ) -> TestResponse:
        """Send one request: ``open("/path", method="POST", json=...)``, an EnvironBuilder, or an environ
        (rebuilt, with this client's :attr:`environ_base` over the environ's own extra keys)."""
        if args and isinstance(args[0], BaseEnvironBuilder):
            builder = args[0]
        elif args and isinstance(args[0], dict):
            builder = BaseEnvironBuilder.from_environ(args[0])
            builder.environ_base = {**(builder.environ_base or {}), **self.environ_base}
        else:
            kwargs["environ_base"] = {**self.environ_base, **(kwargs.get("environ_base") or {})}
            builder = EnvironBuilder(self.app, *args, **kwargs)
        self._release()
        if self.preserve_context:
            builder.environ_overrides[PRESERVE_CONTEXT] = self._offered.append
        response = self._run(builder)
        history: list[TestResponse] = []
        while follow_redirects and response.status_code in _REDIRECTS and "Location" in response.headers:
            if len(history) >= MAX_REDIRECTS:
                raise RuntimeError(f"more than {MAX_REDIRECTS} redirects")
            history.append(response)
            builder = self._redirect_builder(builder, response)
            if self.preserve_context:
                builder.environ_overrides[PRESERVE_CONTEXT] = self._offered.append
            response = self._run(builder)
        response.history = tuple(history)
        if self._offered:
            ctx = self._offered[-1]
            self._offered.clear()
            assert ctx.app_ctx is not None
            self._preserved.append((_cv_app.set(ctx.app_ctx), _cv_request.set(ctx)))
        return response

    @contextmanager
    def session_transaction(self, path: str = "/", **kwargs: Any) -> Iterator[SecureCookieSession]:
        """``with client.session_transaction() as sess: sess["user"] = 1`` before a request."""
        if self.cookie_jar is None:
            raise TypeError("Cookies are disabled: session_transaction() needs use_cookies=True")
        app = self.app
        name = app.session_interface.get_cookie_name(app)
        ctx = app.test_request_context(path, **kwargs)
        value = self.get_cookie(name)
        if value is not None:
            ctx.request.environ["HTTP_COOKIE"] = f"{name}={value}"
        # The context is active only while the session is opened: the test's block sees its own
        # contexts (a request preserved by 'with client:'), as a request's hooks would not be running.
        with ctx:
            session = app.open_session(ctx.request)
        if app.session_interface.is_null_session(session):
            raise RuntimeError("Session backend did not open a session: set a SECRET_KEY")
        yield session
        response = app.response_class()
        app.session_interface.save_session(app, session, response)
        for header in response.headers.getlist("Set-Cookie"):
            cookie_name, _, rest = header.partition("=")
            cookie_value = rest.split(";", 1)[0]
            if "Max-Age=0" in header or "expires=Thu, 01 Jan 1970" in header.lower():
                self.delete_cookie(cookie_name)
            else:
                self.set_cookie(cookie_name, cookie_value)


class AppCliRunner(CliRunner):
    """``app.test_cli_runner()``: invokes the App's commands (``app.cli``) with the App already loaded."""

    def __init__(self, app: App, **kwargs: Any) -> None:
        self.app = app
        super().__init__(**kwargs)

    def invoke(self, cli: Any = None, args: Any = None, **kwargs: Any) -> Result:  # type: ignore[override]
        """Run ``cli`` (default: the App's group) with ``args``; the App is the one loaded."""
        from .cli import ScriptInfo

        if cli is None:
            cli = self.app.cli
        if "obj" not in kwargs:
            kwargs["obj"] = ScriptInfo(create_app=lambda: self.app)
        return super().invoke(cli, args, **kwargs)
