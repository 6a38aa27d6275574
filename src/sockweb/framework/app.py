"""The App: a WSGI application built from routes, hooks, error handlers, blueprints and config.

Strategy: registration (routes, hooks, blueprints) only fills tables; the first request for an endpoint
turns them into a :class:`Plan`, a tuple-of-tuples of what runs for that endpoint (view, before hooks
in order, after and teardown hooks in reverse order, blueprint chain). Any later registration drops the
plans. A request then costs: one Request object (lazy: nothing is parsed until asked for), one context
pair set on two ContextVars, one route match on a URL adapter cached per host/script/scheme, the view,
and turning its return value into a Response through a small type table. Sessions are opened only when
touched. Errors go through the most specific registered handler; unhandled ones become a logged 500
(or propagate in testing/debug mode, for the test client and the debugger).
"""

from __future__ import annotations

import inspect
import logging
import os
import sys
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import timedelta
from functools import cached_property
from typing import IO, TYPE_CHECKING, Any, TypeVar, overload

from sockweb.web.datastructures import Headers
from sockweb.web.exceptions import (
    Aborter,
    BadRequest,
    BadRequestKeyError,
    HTTPException,
    InternalServerError,
    MethodNotAllowed,
    RequestEntityTooLarge,
    RequestRedirect,
)
from sockweb.web.response import Response as BaseResponse
from sockweb.web.routing import AutomaticOptions, BuildError, Map, MapAdapter, Rule
from sockweb.web.wsgi_util import ClosingIterator

from .config import DEFAULT_CONFIG, Config, lifetime_seconds
from .ctx import PRESERVE_CONTEXT, AppContext, RequestContext, _AppCtxGlobals
from .globals import _cv_app, _cv_request
from .json import DefaultJSONProvider, JSONProvider
from .plans import Plan, blueprint_chain, build_plan, find_error_handler
from .scaffold import (
    ErrorHandler,
    Scaffold,
    TeardownFunc,
    ViewFunc,
    find_instance_path,
)
from .sessions import SecureCookieSession, SecureCookieSessionInterface, SessionInterface
from .signals import (
    appcontext_popped,
    appcontext_pushed,
    appcontext_tearing_down,
    got_request_exception,
    request_finished,
    request_started,
    request_tearing_down,
)
from .wrappers import Request, Response

if TYPE_CHECKING:
    import jinja2

    from sockweb.web.testing import Client

    from .blueprints import Blueprint
    from .cli import AppGroup
    from .templating import Environment as TemplateEnvironment
    from .testing import AppCliRunner

F = TypeVar("F", bound=Callable[..., Any])
WSGIEnvironment = dict[str, Any]
StartResponse = Callable[..., Any]

_ADAPTER_CACHE_SIZE = 64


def _path_from_environ(environ: WSGIEnvironment) -> str:
    path: str = environ.get("PATH_INFO") or "/"
    if not path.isascii():
        # PEP 3333 passes the raw bytes as latin-1; URLs are UTF-8.
        try:
            path = path.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    return path


def _find_app_name(import_name: str) -> str:
    if import_name != "__main__":
        return import_name
    path: str | None = getattr(sys.modules.get("__main__"), "__file__", None)
    if path is None:
        return "__main__"
    return os.path.splitext(os.path.basename(path))[0]


class App(Scaffold):
    """A web application: ``app = App(__name__)``, then ``@app.route("/")`` and a WSGI server.

    ``static_folder`` (relative to ``root_path``, the folder of the ``import_name`` module) is served
    under ``static_url_path`` (default: ``/`` and the folder's name); ``template_folder`` holds the Jinja2
    templates.
    """

    request_class: type[Request] = Request
    response_class: type[Response] = Response
    config_class = Config
    json_provider_class: type[JSONProvider] = DefaultJSONProvider
    url_map_class = Map
    url_rule_class = Rule
    app_ctx_globals_class = _AppCtxGlobals
    #: the class of :attr:`aborter`
    aborter_class: type[Aborter] = Aborter
    session_interface: SessionInterface = SecureCookieSessionInterface()
    jinja_options: dict[str, Any] = {}
    test_client_class: type[Client] | None = None
    test_cli_runner_class: type[AppCliRunner] | None = None
    default_config: dict[str, Any] = DEFAULT_CONFIG

    def __init__(
        self,
        import_name: str,
        static_folder: str | os.PathLike[str] | None = "static",
        static_url_path: str | None = None,
        template_folder: str | os.PathLike[str] | None = "templates",
        root_path: str | None = None,
        *,
        strict_slashes: bool = True,
        instance_path: str | None = None,
        instance_relative_config: bool = False,
        host_matching: bool = False,
        subdomain_matching: bool = False,
        static_host: str | None = None,
    ) -> None:
        super().__init__(import_name, static_folder, static_url_path, template_folder, root_path)
        #: requests' subdomains (relative to SERVER_NAME) select rules; off, every request is of the
        #: map's default subdomain
        self.subdomain_matching = subdomain_matching
        self.name = _find_app_name(import_name)
        if instance_path is None:
            instance_path = find_instance_path(import_name, self.name, self.root_path)
        elif not os.path.isabs(instance_path):
            raise ValueError(f"instance_path must be absolute, not {instance_path!r}")
        #: a folder for files the deployment owns (configuration, databases), not the package
        self.instance_path = instance_path
        self.instance_relative_config = instance_relative_config
        self.shell_context_processors: list[Callable[[], dict[str, Any]]] = []
        self.config = self.config_class(
            self.instance_path if instance_relative_config else self.root_path, self.default_config
        )
        self.json: JSONProvider = self.json_provider_class(self)
        #: what :func:`.abort` raises through: add codes to ``app.aborter.mapping`` for custom errors
        self.aborter: Aborter = self.aborter_class()
        self.url_map = self.url_map_class(strict_slashes=strict_slashes, host_matching=host_matching)
        has_static_route = self.static_folder is not None and self.static_url_path is not None
        if has_static_route and bool(static_host) != host_matching:
            # With host matching every rule names its host, the static route too; without, there is none.
            raise AssertionError("static_host is needed with host_matching=True, and only then")
        self.blueprints: dict[str, Blueprint] = {}
        self.extensions: dict[str, Any] = {}
        self.teardown_appcontext_funcs: list[TeardownFunc] = []
        #: called as ``handler(error, endpoint, values)`` when url_for cannot build a URL; the first that
        #: returns a value other than None gives url_for's result (see :meth:`handle_url_build_error`)
        self.url_build_error_handlers: list[Callable[[Exception, str, dict[str, Any]], str | None]] = []
        self._plans: dict[str | None, Plan] = {}
        self._adapters: dict[tuple[Any, ...], MapAdapter] = {}
        self._handler_cache: dict[tuple[type[BaseException], int | None, tuple[str, ...]], Any] = {}
        if has_static_route:
            # The view reaches the App through a weak reference: a bound method in view_functions would
            # be a cycle keeping a dropped App alive until the garbage collector runs.
            app_ref = weakref.ref(self)

            def static(filename: str) -> BaseResponse:
                app = app_ref()
                assert app is not None
                return app.send_static_file(filename)

            self.add_url_rule(
                f"{self.static_url_path}/<path:filename>",
                endpoint="static",
                view_func=static,
                host=static_host,
            )

    # -- command line, resources

    @cached_property
    def cli(self) -> AppGroup:
        """The App's click group: ``@app.cli.command()`` adds a command to ``sockweb app``."""
        from .cli import AppGroup

        return AppGroup(self.name)

    def test_cli_runner(self, **kwargs: Any) -> AppCliRunner:
        """A click runner invoking this App's commands (``runner.invoke(args=["cmd"])``)."""
        cls = self.test_cli_runner_class
        if cls is None:
            from .testing import AppCliRunner

            cls = AppCliRunner
        return cls(self, **kwargs)

    def shell_context_processor(self, f: F) -> F:
        """``f()`` returns names for ``sockweb shell``."""
        self.shell_context_processors.append(f)
        return f

    def make_shell_context(self) -> dict[str, Any]:
        """The namespace of ``sockweb shell``: ``app``, ``g`` and the shell context processors' names."""
        from .globals import g

        namespace: dict[str, Any] = {"app": self, "g": g}
        for processor in self.shell_context_processors:
            namespace.update(processor())
        return namespace

    def open_resource(self, resource: str, mode: str = "rb", encoding: str | None = None) -> IO[Any]:
        """Open a file relative to the App's ``root_path`` for reading (``mode`` "r", "rt" or "rb")."""
        if mode not in {"r", "rt", "rb"}:
            raise ValueError("resources can only be opened for reading")
        path = os.path.join(self.root_path, resource)
        if mode == "rb":
            return open(path, mode)
        return open(path, mode, encoding=encoding)

    def open_instance_resource(
        self, resource: str, mode: str = "rb", encoding: str | None = "utf-8"
    ) -> IO[Any]:
        """Open a file relative to the App's ``instance_path`` (writing allowed)."""
        path = os.path.join(self.instance_path, resource)
        if "b" in mode:
            return open(path, mode)
        return open(path, mode, encoding=encoding)

    # -- settings shortcuts

    @property
    def debug(self) -> bool:
        """DEBUG: detailed errors propagate to the debugger, templates reload."""
        return bool(self.config["DEBUG"])

    @debug.setter
    def debug(self, value: bool) -> None:
        self.config["DEBUG"] = bool(value)
        if "jinja_env" in self.__dict__:
            self.jinja_env.auto_reload = bool(value)

    @property
    def testing(self) -> bool:
        """TESTING: unhandled errors propagate to the caller (the test client) instead of a 500 page."""
        return bool(self.config["TESTING"])

    @testing.setter
    def testing(self, value: bool) -> None:
        self.config["TESTING"] = bool(value)

    @property
    def secret_key(self) -> str | bytes | None:
        value: str | bytes | None = self.config["SECRET_KEY"]
        return value

    @secret_key.setter
    def secret_key(self, value: str | bytes | None) -> None:
        self.config["SECRET_KEY"] = value

    @property
    def permanent_session_lifetime(self) -> timedelta:
        """PERMANENT_SESSION_LIFETIME as a timedelta (a number in the config is seconds)."""
        return timedelta(seconds=lifetime_seconds(self.config["PERMANENT_SESSION_LIFETIME"]))

    @permanent_session_lifetime.setter
    def permanent_session_lifetime(self, value: timedelta | int) -> None:
        self.config["PERMANENT_SESSION_LIFETIME"] = value

    @cached_property
    def logger(self) -> logging.Logger:
        """The ``logging`` logger named after the App; unhandled errors are logged here.

        Its records propagate to the root logger, where the server (``sockweb serve``, the development
        server) puts its error log, so they come out in the server's format and at its ``--log-level``.
        Only when nothing would print them does it get :data:`.logging.default_handler` (see there)."""
        from .logging import create_logger

        return create_logger(self)

    @cached_property
    def jinja_env(self) -> jinja2.Environment:
        """The Jinja2 environment, created on first use."""
        return self.create_jinja_environment()

    def create_jinja_environment(self) -> jinja2.Environment:
        from .templating import create_environment

        return create_environment(self)

    @property
    def jinja_environment(self) -> type[TemplateEnvironment]:
        """The class of :attr:`jinja_env` (a subclass of :class:`.templating.Environment`); a subclass
        of the App may set it as a class attribute."""
        from .templating import Environment

        return Environment

    def create_global_jinja_loader(self) -> jinja2.BaseLoader:
        """The loader of :attr:`jinja_env`: the App's template folder, then each blueprint's (override
        to load templates from elsewhere)."""
        from .templating import DispatchingLoader

        return DispatchingLoader(self)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    # -- registration

    def _changed(self) -> None:
        self._plans = {}
        self._handler_cache = {}

    def add_url_rule(
        self,
        rule: str,
        endpoint: str | None = None,
        view_func: ViewFunc | None = None,
        provide_automatic_options: bool | None = None,
        **options: Any,
    ) -> None:
        """Map ``rule`` to ``endpoint`` (default: the view function's name) and ``view_func``.

        ``methods`` defaults to the view's ``methods`` attribute or ``["GET"]``; HEAD follows GET and
        OPTIONS is answered automatically. Other options go to the toolkit's Rule (``defaults``,
        ``strict_slashes``, ``redirect_to``, ``host``, ``build_only``).
        """
        if endpoint is None:
            if view_func is None:
                raise TypeError("add_url_rule needs an endpoint or a view function")
            endpoint = view_func.__name__
        # What a view function may carry (View.as_view sets these): methods, provide_automatic_options.
        methods = options.pop("methods", None)
        if methods is None:
            methods = getattr(view_func, "methods", None) or ("GET",)
        if isinstance(methods, str):
            raise TypeError("methods must be a list of strings, like methods=['GET', 'POST']")
        methods = {method.upper() for method in methods}
        if provide_automatic_options is None:
            provide_automatic_options = getattr(view_func, "provide_automatic_options", None)
        if provide_automatic_options is None:
            provide_automatic_options = "OPTIONS" not in methods
        if provide_automatic_options:
            methods.add("OPTIONS")
        url_rule = self.url_rule_class(rule, endpoint=endpoint, methods=methods, **options)
        # Read at dispatch: OPTIONS on this rule is answered by the App, not the view.
        url_rule.provide_automatic_options = bool(provide_automatic_options)  # type: ignore[attr-defined]
        if view_func is not None:
            existing = self.view_functions.get(endpoint)
            # != rather than "is not": the same method of one object, bound twice, is equal, not identical.
            if existing is not None and existing != view_func:
                raise AssertionError(
                    f"endpoint {endpoint!r} already has view function {existing.__qualname__}; give this "
                    "route another endpoint= name"
                )
        self.url_map.add(url_rule)
        if view_func is not None:
            self.view_functions[endpoint] = view_func
        self._changed()

    def register_blueprint(self, blueprint: Blueprint, **options: Any) -> None:
        """Add a blueprint's routes, hooks and handlers (``url_prefix=``, ``name=``, ``url_defaults=``)."""
        blueprint.register(self, options)

    def iter_blueprints(self) -> Iterator[Blueprint]:
        """Registered blueprints in registration order."""
        return iter(list(self.blueprints.values()))

    def teardown_appcontext(self, f: F) -> F:
        """Run ``f(error_or_None)`` when an application context ends (after each request too)."""
        self.teardown_appcontext_funcs.append(f)
        return f

    def _template_registration(self, table: str, name: str | Callable[..., Any] | None) -> Any:
        """The decorator of ``template_filter``/``_test``/``_global``, used bare or with a name."""
        if callable(name):
            self._add_template(table, name, None)
            return name

        def decorator(f: F) -> F:
            self._add_template(table, f, name)
            return f

        return decorator

    def _add_template(self, table: str, f: Callable[..., Any], name: str | None) -> None:
        registry: dict[str, Any] = getattr(self.jinja_env, table)
        registry[name or f.__name__] = f

    @overload
    def template_filter(self, name: F) -> F: ...

    @overload
    def template_filter(self, name: str | None = None) -> Callable[[F], F]: ...

    def template_filter(self, name: str | Callable[..., Any] | None = None) -> Any:
        """Decorator adding a Jinja2 filter (named after the function unless ``name`` is given)."""
        return self._template_registration("filters", name)

    def add_template_filter(self, f: Callable[..., Any], name: str | None = None) -> None:
        """Add a Jinja2 filter."""
        self._add_template("filters", f, name)

    @overload
    def template_test(self, name: F) -> F: ...

    @overload
    def template_test(self, name: str | None = None) -> Callable[[F], F]: ...

    def template_test(self, name: str | Callable[..., Any] | None = None) -> Any:
        """Decorator adding a Jinja2 test (``{% if n is prime %}``)."""
        return self._template_registration("tests", name)

    def add_template_test(self, f: Callable[..., Any], name: str | None = None) -> None:
        """Add a Jinja2 test."""
        self._add_template("tests", f, name)

    @overload
    def template_global(self, name: F) -> F: ...

    @overload
    def template_global(self, name: str | None = None) -> Callable[[F], F]: ...

    def template_global(self, name: str | Callable[..., Any] | None = None) -> Any:
        """Decorator adding a Jinja2 global."""
        return self._template_registration("globals", name)

    def add_template_global(self, f: Callable[..., Any], name: str | None = None) -> None:
        """Add a Jinja2 global."""
        self._add_template("globals", f, name)

    # -- plans

    def _plan(self, endpoint: str | None) -> Plan:
        plan = self._plans.get(endpoint)
        if plan is None:
            plan = self._plans[endpoint] = self._build_plan(endpoint)
        return plan

    def _build_plan(self, endpoint: str | None) -> Plan:
        return build_plan(self, endpoint, self.ensure_sync)

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """``func`` itself, or for a coroutine function a plain function running it to completion.

        The App applies it once per endpoint when it builds the endpoint's plan (views, hooks) and once
        per error handler, so the request path never inspects functions."""
        if inspect.iscoroutinefunction(func):
            return self.async_to_sync(func)
        return func

    def async_to_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap a coroutine function so a call runs it to completion (see :mod:`.sync` for where);
        override to use another runner, such as asgiref's."""
        from .sync import async_to_sync

        return async_to_sync(func)

    def context_processors_for(self, blueprints: tuple[str, ...]) -> list[Callable[[], dict[str, Any]]]:
        """Template context processors of the App, then of each blueprint from the outermost."""
        table = self.template_context_processors
        return [self.ensure_sync(f) for name in (None, *reversed(blueprints)) for f in table.get(name, ())]

    # -- contexts

    def app_context(self) -> AppContext:
        """``with app.app_context():`` makes ``current_app`` and ``g`` work outside a request."""
        return AppContext(self)

    def request_context(self, environ: WSGIEnvironment) -> RequestContext:
        return RequestContext(self, environ)

    def test_request_context(self, *args: Any, **kwargs: Any) -> RequestContext:
        """A request context for a made-up request (arguments as for the test client's requests)."""
        from .testing import EnvironBuilder

        return RequestContext(self, EnvironBuilder(self, *args, **kwargs).get_environ())

    def test_client(self, use_cookies: bool = True, **kwargs: Any) -> Client:
        """The toolkit's test client calling this App in-process (cookies kept across requests)."""
        cls = self.test_client_class
        if cls is None:
            from .testing import AppClient

            cls = AppClient
        return cls(self, use_cookies=use_cookies, **kwargs)

    def open_session(self, request: Request) -> SecureCookieSession:
        session = self.session_interface.open_session(self, request)
        if session is None:
            session = self.session_interface.make_null_session(self)
        return session

    # -- the WSGI application

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return self.wsgi_app(environ, start_response)

    def wsgi_app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Handle one request. Wrap this attribute (``app.wsgi_app = Middleware(app.wsgi_app)``) to add
        WSGI middleware while keeping ``app`` itself."""
        ctx = RequestContext(self, environ)
        # A request inside an active context of this App (``with app.app_context(): client.get(...)``)
        # runs in that context: same ``g``, and its teardown stays with the outer ``with``.
        outer = _cv_app.get(None)
        own_app_ctx = outer is None or outer.app is not self
        if own_app_ctx:
            app_ctx = ctx.app_ctx = AppContext(self)
            app_token = _cv_app.set(app_ctx)
            if appcontext_pushed.receivers:
                appcontext_pushed.send(self)
        else:
            ctx.app_ctx = outer
        request_token = _cv_request.set(ctx)
        error: BaseException | None = None
        deferred = False
        try:
            try:
                response = self.full_dispatch_request(ctx)
            except Exception as e:
                error = e
                response = self.handle_exception(ctx, e)
            result = response(environ, start_response)
            if ctx.streaming:
                # stream_with_context: the teardown waits until the server has sent the whole body.
                deferred = True
                return ClosingIterator(result, [lambda: self._finish_streamed(ctx, own_app_ctx)])
            return result
        except BaseException as e:
            error = e
            raise
        finally:
            preserve = environ.get(PRESERVE_CONTEXT)
            if preserve is not None:
                preserve(ctx)  # the test client inside 'with client:' keeps the contexts active
            try:
                if not deferred:
                    self._end_request(ctx, error, own_app_ctx)
            finally:
                _cv_request.reset(request_token)
                if own_app_ctx:
                    _cv_app.reset(app_token)
                    if appcontext_popped.receivers and not deferred:
                        appcontext_popped.send(self)

    def _end_request(self, ctx: RequestContext, error: BaseException | None, own_app_ctx: bool) -> None:
        try:
            plan = ctx.plan
            if plan is None or plan.teardown or request_tearing_down.receivers:
                self.do_teardown_request(ctx, error)
        finally:
            try:
                ctx.request.close()  # uploaded files' temporary files
            finally:
                if own_app_ctx and (self.teardown_appcontext_funcs or appcontext_tearing_down.receivers):
                    self.do_teardown_appcontext(error)

    def _finish_streamed(self, ctx: RequestContext, own_app_ctx: bool) -> None:
        # Runs when the server closes the body, maybe in another thread: set the variables afresh.
        assert ctx.app_ctx is not None
        app_token = _cv_app.set(ctx.app_ctx)
        request_token = _cv_request.set(ctx)
        try:
            self._end_request(ctx, None, own_app_ctx)
        finally:
            _cv_request.reset(request_token)
            _cv_app.reset(app_token)
            if own_app_ctx and appcontext_popped.receivers:
                appcontext_popped.send(self)

    def full_dispatch_request(self, ctx: RequestContext | None = None) -> BaseResponse:
        """Match, run the before hooks and the view, then the after hooks; errors go to the handlers.

        ``ctx`` defaults to the active request context (``with app.test_request_context(): ...``)."""
        if ctx is None:
            ctx = _active_request_context()
        request = ctx.request
        plan = ctx.plan = self._match(ctx)
        if request_started.receivers:
            request_started.send(self)
        try:
            for preprocess in plan.preprocessors:
                preprocess(request.endpoint, request.view_args)
            rv = None
            for before in plan.before:
                rv = before()
                if rv is not None:
                    break
            else:
                if request.routing_exception is not None:
                    raise request.routing_exception
                # Only read the request's limit (which a hook may have changed) when the App has one.
                if self.config["MAX_CONTENT_LENGTH"] is not None:
                    limit = request.max_content_length
                    if limit is not None and (request.content_length or 0) > limit:
                        raise RequestEntityTooLarge()
                view = plan.view
                if view is None:
                    raise LookupError(f"no view function is registered for endpoint {request.endpoint!r}")
                # The environ's method, not request.method: that property (cached under a lock) would be
                # computed on every request for a check that is almost always false.
                method = request.environ.get("REQUEST_METHOD") or ""
                if (
                    len(method) == 7
                    and method.upper() == "OPTIONS"
                    and getattr(request.url_rule, "provide_automatic_options", False)
                ):
                    rv = self.make_default_options_response(ctx)
                else:
                    rv = view(**request.view_args)  # type: ignore[arg-type]
        except Exception as e:
            rv = self.handle_user_exception(ctx, e, plan)
        response = self.make_response(rv)
        response = self.process_response(ctx, response, plan)
        if request_finished.receivers:
            request_finished.send(self, response=response)
        return response

    def make_default_options_response(self, ctx: RequestContext) -> BaseResponse:
        """The answer to OPTIONS on a rule with automatic options: 200, empty, ``Allow`` listing every
        method some rule accepts for the path."""
        adapter = ctx.url_adapter
        assert adapter is not None
        response = self.response_class()
        response.headers.set("Allow", ", ".join(adapter.allowed_methods(ctx.request.path)))
        return response

    def _match(self, ctx: RequestContext) -> Plan:
        request = ctx.request
        environ = request.environ
        trusted_hosts = self.config["TRUSTED_HOSTS"]
        if trusted_hosts is not None:
            # The toolkit's host check (one rule for every user of request.host); only when configured.
            request.trusted_hosts = trusted_hosts
            try:
                request.host  # noqa: B018 - validates, raising SecurityError (400)
            except HTTPException as e:
                request.routing_exception = e
                return self._plan(None)
        host = environ.get("HTTP_HOST") or (environ.get("SERVER_NAME"), environ.get("SERVER_PORT"))
        key = (host, environ.get("SCRIPT_NAME"), environ.get("wsgi.url_scheme"))
        adapter = self._adapters.get(key)
        if adapter is None:
            adapter = self.create_url_adapter(environ)
            if len(self._adapters) >= _ADAPTER_CACHE_SIZE:
                self._adapters.clear()  # hosts come from clients: keep the cache bounded
            self._adapters[key] = adapter
        ctx.url_adapter = adapter
        try:
            rule, view_args = adapter.match(
                _path_from_environ(environ), environ.get("REQUEST_METHOD") or "GET", return_rule=True
            )
        except RequestRedirect as e:
            request.routing_exception = e
            # The cached adapter knows no query string; a fresh one puts it into the redirect target.
            try:
                self.create_url_adapter(environ).match()
            except HTTPException as fresh:
                request.routing_exception = fresh
            if self.debug:
                from .debug import check_redirect_keeps_body

                check_redirect_keeps_body(request)
            return self._plan(None)
        except AutomaticOptions as e:
            # Every rule that wants OPTIONS answered lists it (add_url_rule), so the router's own answer
            # means the matching rules opted out with provide_automatic_options=False.
            allowed = sorted(set(e.allowed_methods) - {"OPTIONS"})
            request.routing_exception = MethodNotAllowed(valid_methods=allowed)
            return self._plan(None)
        except MethodNotAllowed as e:
            request.routing_exception = self._without_router_options(adapter, environ, e)
            return self._plan(None)
        except HTTPException as e:
            request.routing_exception = e
            return self._plan(None)
        request.url_rule = rule
        request.view_args = view_args
        plan = self._plans.get(rule.endpoint)
        return plan if plan is not None else self._plan(rule.endpoint)

    @staticmethod
    def _without_router_options(
        adapter: MapAdapter, environ: WSGIEnvironment, error: MethodNotAllowed
    ) -> MethodNotAllowed:
        """The 405 for a path, without OPTIONS in Allow when its rules opted out of automatic OPTIONS.

        The router lists OPTIONS on every 405 (it answers OPTIONS itself); here a rule that answers OPTIONS
        lists it (add_url_rule), so when an OPTIONS request would get the router's own answer, no rule
        does. Only 405s pay for the second match."""
        methods = error.valid_methods or []
        if "OPTIONS" not in methods:
            return error
        try:
            adapter.match(_path_from_environ(environ), "OPTIONS")
        except AutomaticOptions:
            return MethodNotAllowed(valid_methods=[m for m in methods if m != "OPTIONS"])
        except HTTPException:
            pass
        return error

    def create_url_adapter(self, environ: WSGIEnvironment | None) -> MapAdapter:
        """A URL adapter for a request's environ, or (None) for building URLs outside a request from
        SERVER_NAME, APPLICATION_ROOT and PREFERRED_URL_SCHEME."""
        if environ is not None:
            server_name = self.config["SERVER_NAME"]
            subdomain = None
            if self.url_map.host_matching:
                server_name = None  # the request's host is what rules match, not SERVER_NAME
            elif not self.subdomain_matching:
                subdomain = self.url_map.default_subdomain  # every request is of the default subdomain
            return self.url_map.bind_to_environ(environ, server_name=server_name, subdomain=subdomain)
        return self.url_map.bind(
            self.config["SERVER_NAME"] or "localhost",
            script_name=self.config["APPLICATION_ROOT"] or "/",
            url_scheme=self.config["PREFERRED_URL_SCHEME"] or "http",
        )

    def process_response(self, ctx: RequestContext, response: BaseResponse, plan: Plan) -> BaseResponse:
        """Run after_this_request functions and after_request hooks, then save the session."""
        for func in ctx._after_request_functions:
            response = func(response)
        for after in plan.after:
            response = after(response)
        session = ctx._session
        if session is not None and not self.session_interface.is_null_session(session):
            self.session_interface.save_session(self, session, response)
        return response

    # -- return values

    def make_response(self, rv: Any) -> BaseResponse:
        """Turn a view's return value into a Response.

        Accepted: a Response, ``str``/``bytes`` (HTML by default), ``dict``/``list`` (JSON), an iterator or
        generator (streamed), or a tuple ``(body, status)``, ``(body, headers)``, ``(body, status, headers)``.
        """
        status: Any = None
        headers: Any = None
        if isinstance(rv, tuple):
            size = len(rv)
            if size == 3:
                rv, status, headers = rv
            elif size == 2:
                if isinstance(rv[1], (Headers, Mapping, list, tuple)):
                    rv, headers = rv
                else:
                    rv, status = rv
            else:
                raise TypeError(
                    f"{_view_name()} returned a tuple of {size} items: the tuple must have the form "
                    "(body, status), (body, headers) or (body, status, headers)"
                )
        kind = type(rv)
        if kind is str or kind is bytes:
            cls = self.response_class
            if status is None and headers is None and issubclass(cls, Response):
                return cls.from_body(rv.encode(cls.charset) if kind is str else rv)
            return cls(rv, status, headers)
        if isinstance(rv, BaseResponse):
            response = rv
        elif isinstance(rv, (dict, list)):
            response = self.json.response(rv)
        elif isinstance(rv, (str, bytes, bytearray)):
            response = self.response_class(rv)
        elif isinstance(rv, HTTPException):
            response = rv.get_response(_request_environ())
        elif rv is None:
            raise TypeError(
                f"{_view_name()} did not return a valid response: it returned None (or ended without a "
                "return statement); return a string, dict, list, tuple or Response"
            )
        elif isinstance(rv, Iterator) or (isinstance(rv, Iterable) and not isinstance(rv, Mapping)):
            response = self.response_class(rv)
        else:
            raise TypeError(
                f"{_view_name()} did not return a valid response: the return type must be a string, dict, "
                f"list, tuple, iterable or Response, but it was a {type(rv).__name__}"
            )
        if status is not None:
            response.status = status
        if headers is not None:
            response.headers.update(headers)
        return response

    # -- errors

    def _propagate_exceptions(self) -> bool:
        setting = self.config["PROPAGATE_EXCEPTIONS"]
        if setting is not None:
            return bool(setting)
        return self.testing or self.debug

    def _find_error_handler(self, e: BaseException, blueprints: tuple[str, ...]) -> ErrorHandler | None:
        code = e.code if isinstance(e, HTTPException) else None
        key = (type(e), code, blueprints)
        cache = self._handler_cache
        if key in cache:
            cached: ErrorHandler | None = cache[key]
            return cached
        handler = find_error_handler(self.error_handler_spec, type(e), code, blueprints)
        if handler is not None:
            handler = self.ensure_sync(handler)
        cache[key] = handler
        return handler

    def trap_http_exception(self, e: HTTPException) -> bool:
        """Whether an HTTP error is raised like any exception instead of answered (to debug it).

        TRAP_HTTP_EXCEPTIONS traps them all; TRAP_BAD_REQUEST_ERRORS traps 400s, and when it is None
        (the default), debug mode traps the 400 for a missing request key, whose KeyError traceback
        shows which line asked for which key.
        """
        config = self.config
        if config["TRAP_HTTP_EXCEPTIONS"]:
            return True
        trap_bad_request = config["TRAP_BAD_REQUEST_ERRORS"]
        if trap_bad_request is None:
            return self.debug and isinstance(e, BadRequestKeyError)
        return bool(trap_bad_request) and isinstance(e, BadRequest)

    def handle_user_exception(self, ctx: RequestContext, e: Exception, plan: Plan | None = None) -> Any:
        """An exception raised by a hook or view: its handler's return value, or the HTTP error itself."""
        blueprints = plan.blueprints if plan is not None else ()
        if isinstance(e, HTTPException):
            if e.code is None or e.code < 400:
                return e.get_response(ctx.request.environ)  # redirects and automatic OPTIONS
            if self.trap_http_exception(e):
                raise e
            handler = self._find_error_handler(e, blueprints)
            if handler is None:
                if isinstance(e, BadRequestKeyError) and not self.debug:
                    # The missing key names a field of the app's code: tell the developer, not clients.
                    return BadRequest().get_response(ctx.request.environ)
                return e.get_response(ctx.request.environ)
            return handler(e)
        handler = self._find_error_handler(e, blueprints)
        if handler is None:
            raise e
        return handler(e)

    def handle_exception(self, ctx: RequestContext, e: Exception) -> BaseResponse:
        """An unhandled exception: re-raised in testing/debug mode, otherwise logged and answered 500."""
        if got_request_exception.receivers:
            got_request_exception.send(self, exception=e)
        if self._propagate_exceptions():
            raise e
        self.log_exception((type(e), e, e.__traceback__))
        server_error = InternalServerError(original_exception=e)
        rule = ctx.request.url_rule
        plan = self._plan(rule.endpoint if rule is not None else None)
        handler = self._find_error_handler(server_error, plan.blueprints)
        rv: Any = (
            handler(server_error) if handler is not None else server_error.get_response(ctx.request.environ)
        )
        response = self.make_response(rv)
        try:
            return self.process_response(ctx, response, plan)
        except Exception:
            self.logger.exception("Request finalizing failed with an error while handling an error")
            return response

    def log_exception(self, exc_info: tuple[type[BaseException], BaseException, Any]) -> None:
        """Log an unhandled exception of the active request (override to send it elsewhere)."""
        request = _active_request_context().request
        self.logger.error("Exception on %s [%s]", request.path, request.method, exc_info=exc_info)

    # -- teardown

    def do_teardown_request(self, ctx: RequestContext, exc: BaseException | None = None) -> None:
        plan = ctx.plan
        if plan is None:
            rule = ctx.request.url_rule
            plan = self._plan(rule.endpoint if rule is not None else None)
        for teardown in plan.teardown:
            teardown(exc)
        if request_tearing_down.receivers:
            request_tearing_down.send(self, exc=exc)

    def do_teardown_appcontext(self, exc: BaseException | None = None) -> None:
        for teardown in reversed(self.teardown_appcontext_funcs):
            self.ensure_sync(teardown)(exc)
        if appcontext_tearing_down.receivers:
            appcontext_tearing_down.send(self, exc=exc)

    # -- URLs

    def inject_url_defaults(self, endpoint: str, values: dict[str, Any]) -> None:
        table = self.url_default_functions
        for name in (None, *reversed(blueprint_chain(endpoint))):
            for func in table.get(name, ()):
                func(endpoint, values)

    def url_for(
        self,
        endpoint: str,
        /,
        *,
        _anchor: str | None = None,
        _method: str | None = None,
        _scheme: str | None = None,
        _external: bool | None = None,
        **values: Any,
    ) -> str:
        """The URL of ``endpoint``; ``.name`` is relative to the current blueprint.

        Inside a request the URL is relative (``/path``) unless ``_external``; outside one it is absolute,
        built from SERVER_NAME (RuntimeError when it is not set). Unknown values become query arguments.
        """
        from urllib.parse import quote

        ctx = _cv_request.get(None)
        if ctx is not None and ctx.app is self:
            adapter = ctx.url_adapter or self.create_url_adapter(ctx.request.environ)
            if endpoint[:1] == ".":
                blueprint = ctx.request.blueprint
                endpoint = f"{blueprint}{endpoint}" if blueprint else endpoint[1:]
            external = _scheme is not None if _external is None else _external
        else:
            app_ctx = _cv_app.get(None)
            adapter_or_none = app_ctx.url_adapter if app_ctx is not None and app_ctx.app is self else None
            if adapter_or_none is None and not self.config["SERVER_NAME"]:
                # A guessed host (localhost) would make links in mails and tasks silently wrong.
                raise RuntimeError(
                    "url_for outside a request needs the SERVER_NAME setting (and APPLICATION_ROOT, "
                    "PREFERRED_URL_SCHEME) to know where the App is served"
                )
            adapter = adapter_or_none or self.create_url_adapter(None)
            endpoint = endpoint.lstrip(".")
            external = True if _external is None else _external
        if _scheme is not None:
            if not external:
                raise ValueError("_scheme needs an external URL (_external=True)")
            adapter = self.url_map.bind(
                adapter.server_name,
                script_name=adapter.script_name,
                subdomain=None if self.url_map.host_matching else adapter.subdomain,
                url_scheme=_scheme,
            )
        self.inject_url_defaults(endpoint, values)
        try:
            url = adapter.build(endpoint, values, method=_method, force_external=external)
        except BuildError as error:
            values.update(_anchor=_anchor, _method=_method, _scheme=_scheme, _external=external)
            return self.handle_url_build_error(error, endpoint, values)
        if _anchor is not None:
            url += "#" + quote(_anchor, safe="%!#$&'()*+,/:;=?@")
        return url

    def handle_url_build_error(self, error: BuildError, endpoint: str, values: dict[str, Any]) -> str:
        """Ask each of :attr:`url_build_error_handlers` for a URL; none gives one: raise the BuildError.

        ``values`` holds the build values and url_for's ``_anchor``, ``_method``, ``_scheme`` and
        ``_external``. A handler that raises BuildError replaces the error the next handlers see.
        """
        for handler in self.url_build_error_handlers:
            try:
                rv = handler(error, endpoint, values)
            except BuildError as e:
                error = e
                continue
            if rv is not None:
                return rv
        raise error

    def redirect(self, location: str, code: int = 302) -> BaseResponse:
        """The response of :func:`.redirect` in this App (override to change every redirect)."""
        from .helpers import make_redirect

        return make_redirect(location, code, self.response_class)

    # -- static files

    def get_send_file_max_age(self, filename: str | None) -> int | None:
        value = self.config["SEND_FILE_MAX_AGE_DEFAULT"]
        if value is None:
            return None
        if hasattr(value, "total_seconds"):
            return int(value.total_seconds())
        return int(value)

    def send_static_file(self, filename: str) -> BaseResponse:
        """The view behind the ``static`` endpoint."""
        from .helpers import send_from_directory

        folder = self.static_folder_path
        assert folder is not None
        # A static folder is public: hidden files in it (.env, .git/) are not (the rule of `sockweb static`).
        return send_from_directory(
            folder, filename, allow_hidden=False, max_age=self.get_send_file_max_age(filename)
        )

    # -- running

    def run(
        self,
        host: str | None = None,
        port: int | None = None,
        debug: bool | None = None,
        load_dotenv: bool = False,
        **options: Any,
    ) -> None:
        """Serve the App with the development server (reloader and debugger when ``debug``).

        ``host`` and ``port`` default to those of SERVER_NAME when it is set, else 127.0.0.1:5000."""
        if load_dotenv:
            from .config import load_dotenv as load_env_file

            load_env_file(os.path.join(os.getcwd(), ".env"))
        if debug is not None:
            self.debug = bool(debug)
        name_host, name_port = _split_server_name(self.config["SERVER_NAME"])
        host = host or name_host or "127.0.0.1"
        if port is None:
            port = name_port if name_port is not None else 5000
        from sockweb.web.dev import run_simple

        use_debug = self.debug
        options.setdefault("use_reloader", use_debug)
        options.setdefault("use_debugger", use_debug)
        run_simple(host, port, self, **options)


def _split_server_name(server_name: str | None) -> tuple[str | None, int | None]:
    """``("example.com", 8080)`` for ``"example.com:8080"``; the port is None when absent."""
    if not server_name:
        return None, None
    host, colon, port = server_name.rpartition(":")
    if colon and port.isdigit() and not host.endswith(":"):  # not the inside of a bare IPv6 address
        return host, int(port)
    return server_name, None


def _view_name() -> str:
    """``the view of endpoint 'name'`` for error messages about a view's return value."""
    ctx = _cv_request.get(None)
    endpoint = ctx.request.endpoint if ctx is not None else None
    return f"the view of endpoint {endpoint!r}" if endpoint is not None else "the view"


def _active_request_context() -> RequestContext:
    ctx = _cv_request.get(None)
    if ctx is None:
        raise RuntimeError("this needs an active request context (app.test_request_context())")
    return ctx


def _request_environ() -> WSGIEnvironment | None:
    ctx = _cv_request.get(None)
    return ctx.request.environ if ctx is not None else None
