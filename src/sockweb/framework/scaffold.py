"""What an App and a Blueprint have in common: routes, hooks, error handlers, folders.

Strategy: a :class:`Scaffold` only *records* things in plain dicts and lists; the App decides how to use
them. Hooks and error handlers are stored under a scope key: ``None`` for the App itself, or the dotted
blueprint name when a blueprint's hooks are copied into the App at registration. The App turns these
tables into per-endpoint tuples once (see ``App._plan``), so a request never walks or merges them.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import jinja2

from sockweb.web.exceptions import HTTPException, default_exceptions

if TYPE_CHECKING:
    from sockweb.web.response import Response

F = TypeVar("F", bound=Callable[..., Any])

ViewFunc = Callable[..., Any]
BeforeRequestFunc = Callable[[], Any]
AfterRequestFunc = Callable[["Response"], "Response"]
TeardownFunc = Callable[[BaseException | None], Any]
ErrorHandler = Callable[[Any], Any]
ContextProcessor = Callable[[], dict[str, Any]]
URLValuePreprocessor = Callable[[str | None, dict[str, Any] | None], None]
URLDefaultFunc = Callable[[str, dict[str, Any]], None]

ScopeKey = str | None


def get_root_path(import_name: str) -> str:
    """The folder of the module or package named ``import_name`` (the cwd when it cannot be found)."""
    module = sys.modules.get(import_name)
    path = getattr(module, "__file__", None) if module is not None else None
    if path is None:
        try:
            spec = importlib.util.find_spec(import_name)
        except (ImportError, ValueError):
            spec = None
        path = spec.origin if spec is not None and spec.origin not in (None, "built-in", "frozen") else None
    if path is None:
        return os.getcwd()
    return os.path.dirname(os.path.abspath(path))


def _package_parent(import_name: str) -> str | None:
    """The folder holding the top-level package or module of ``import_name`` (a ``sys.path`` entry, or
    for a namespace package the entry that holds ``import_name``'s part); None when it cannot be found."""
    top = import_name.partition(".")[0]
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    locations = list(spec.submodule_search_locations or ())
    if not locations:  # a plain module: its folder
        return os.path.dirname(spec.origin) if spec.origin else None
    if spec.origin not in (None, "namespace"):  # a regular package: the folder above its __init__.py
        return os.path.dirname(os.path.dirname(spec.origin))
    # A namespace package spans several folders: take the one that holds the named part.
    target = locations[0]
    if import_name != top:
        try:
            part = importlib.util.find_spec(import_name)
        except (ImportError, ValueError):
            part = None
        origin = part.origin if part is not None else None
        if origin:
            target = next((loc for loc in locations if _is_under(origin, loc)), target)
    return os.path.dirname(target)


def _is_under(path: str, folder: str) -> bool:
    path, folder = os.path.abspath(path), os.path.abspath(folder)
    return os.path.commonpath([path, folder]) == folder


def find_instance_path(import_name: str, app_name: str, root_path: str) -> str:
    """Where an App keeps its instance folder when none is given.

    Next to the project: ``instance`` beside the top-level package or module. For code installed into
    a Python environment (under ``sys.prefix``, or a ``site-packages`` folder) the project folder is
    not the user's: ``<prefix>/var/<app name>-instance`` instead. When the module cannot be found
    (an App made in a test or a shell), ``instance`` in ``root_path``.
    """
    parent = _package_parent(import_name)
    if parent is None:
        return os.path.join(root_path, "instance")
    prefix = os.path.abspath(sys.prefix)
    if _is_under(parent, prefix):
        return os.path.join(prefix, "var", f"{app_name}-instance")
    base, folder = os.path.split(os.path.abspath(parent))
    if folder.lower() == "site-packages":
        # The environment's prefix is above its "lib": lib/pythonX.Y/site-packages, or Lib/site-packages.
        if os.path.basename(base).lower() == "lib":
            base = os.path.dirname(base)
        elif os.path.basename(os.path.dirname(base)).lower() == "lib":
            base = os.path.dirname(os.path.dirname(base))
        return os.path.join(base, "var", f"{app_name}-instance")
    return os.path.join(parent, "instance")


def exception_class_and_code(
    exc_class_or_code: type[BaseException] | int,
) -> tuple[type[BaseException], int | None]:
    """Normalize an ``errorhandler`` key: ``404`` -> (NotFound, 404); a class -> (cls, its code)."""
    if isinstance(exc_class_or_code, int):
        cls = default_exceptions.get(exc_class_or_code)
        if cls is None:
            raise ValueError(
                f"{exc_class_or_code} is not an HTTP error status this framework knows. Use a subclass of "
                "HTTPException with that code instead."
            )
        return cls, exc_class_or_code
    if isinstance(exc_class_or_code, BaseException):
        raise TypeError(f"{exc_class_or_code!r} is an instance, not a class. Register the class itself.")
    if not isinstance(exc_class_or_code, type) or not issubclass(exc_class_or_code, Exception):
        name = getattr(exc_class_or_code, "__name__", repr(exc_class_or_code))
        raise ValueError(
            f"{name!r} is not a subclass of Exception. Register an exception class or a status code."
        )
    if issubclass(exc_class_or_code, HTTPException):
        return exc_class_or_code, exc_class_or_code.code
    return exc_class_or_code, None


class Scaffold:
    """Route and hook registration shared by :class:`App` and :class:`Blueprint`."""

    name: str
    _setup_finished = False

    def __init__(
        self,
        import_name: str,
        static_folder: str | os.PathLike[str] | None = None,
        static_url_path: str | None = None,
        template_folder: str | os.PathLike[str] | None = None,
        root_path: str | None = None,
    ) -> None:
        self.import_name = import_name
        self.root_path = root_path if root_path is not None else get_root_path(import_name)
        self.static_folder = os.fspath(static_folder) if static_folder is not None else None
        if static_url_path is not None:
            static_url_path = static_url_path.rstrip("/")
        self._static_url_path = static_url_path
        self.template_folder = os.fspath(template_folder) if template_folder is not None else None
        self.view_functions: dict[str, ViewFunc] = {}
        self.before_request_funcs: dict[ScopeKey, list[BeforeRequestFunc]] = {}
        self.after_request_funcs: dict[ScopeKey, list[AfterRequestFunc]] = {}
        self.teardown_request_funcs: dict[ScopeKey, list[TeardownFunc]] = {}
        self.template_context_processors: dict[ScopeKey, list[ContextProcessor]] = {}
        self.url_value_preprocessors: dict[ScopeKey, list[URLValuePreprocessor]] = {}
        self.url_default_functions: dict[ScopeKey, list[URLDefaultFunc]] = {}
        # scope -> status code (None for non-HTTP exceptions) -> exception class -> handler
        self.error_handler_spec: dict[
            ScopeKey, dict[int | None, dict[type[BaseException], ErrorHandler]]
        ] = {}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    def _check_setup_finished(self, what: str) -> None:
        """Hook for subclasses to refuse late registration (a registered blueprint is frozen)."""

    def _changed(self) -> None:
        """Hook called after every registration (the App drops its cached dispatch plans)."""

    # -- folders

    @property
    def static_url_path(self) -> str | None:
        """URL prefix of the static folder (default: ``/`` + the folder's base name)."""
        if self._static_url_path is not None:
            return self._static_url_path
        if self.static_folder is not None:
            # "" for the root folder itself: its files are served from the top of the URL space
            return ("/" + os.path.basename(self.static_folder.rstrip("/\\"))).rstrip("/")
        return None

    @static_url_path.setter
    def static_url_path(self, value: str | None) -> None:
        self._static_url_path = value.rstrip("/") if value is not None else None

    @property
    def static_folder_path(self) -> str | None:
        """Absolute path of the static folder."""
        if self.static_folder is None:
            return None
        return os.path.join(self.root_path, self.static_folder)

    @property
    def has_static_folder(self) -> bool:
        return self.static_folder is not None

    @property
    def jinja_loader(self) -> jinja2.BaseLoader | None:
        """A loader for this scaffold's own template folder (None when it has none)."""
        if self.template_folder is None:
            return None
        return jinja2.FileSystemLoader(os.path.join(self.root_path, self.template_folder))

    # -- routes

    def add_url_rule(
        self,
        rule: str,
        endpoint: str | None = None,
        view_func: ViewFunc | None = None,
        provide_automatic_options: bool | None = None,
        **options: Any,
    ) -> None:
        raise NotImplementedError

    def route(self, rule: str, **options: Any) -> Callable[[F], F]:
        """Decorator: ``@app.route("/users/<int:id>", methods=["GET", "POST"], endpoint="user")``."""

        def decorator(f: F) -> F:
            rule_options = dict(options)  # the decorator may be applied more than once
            endpoint = rule_options.pop("endpoint", None)
            self.add_url_rule(rule, endpoint, f, **rule_options)
            return f

        return decorator

    def _method_route(self, method: str, rule: str, options: dict[str, Any]) -> Callable[[F], F]:
        if "methods" in options:
            raise TypeError(f"use route() to give several methods; {method.lower()}() means {method} only")
        return self.route(rule, methods=[method], **options)

    def get(self, rule: str, **options: Any) -> Callable[[F], F]:
        """``route(rule, methods=["GET"])`` (HEAD is answered automatically)."""
        return self._method_route("GET", rule, options)

    def post(self, rule: str, **options: Any) -> Callable[[F], F]:
        return self._method_route("POST", rule, options)

    def put(self, rule: str, **options: Any) -> Callable[[F], F]:
        return self._method_route("PUT", rule, options)

    def patch(self, rule: str, **options: Any) -> Callable[[F], F]:
        return self._method_route("PATCH", rule, options)

    def delete(self, rule: str, **options: Any) -> Callable[[F], F]:
        return self._method_route("DELETE", rule, options)

    def endpoint(self, endpoint: str) -> Callable[[F], F]:
        """Decorator registering the view function of an endpoint whose rule is added separately."""

        def decorator(f: F) -> F:
            self._check_setup_finished("endpoint")
            self.view_functions[endpoint] = f
            self._changed()
            return f

        return decorator

    # -- hooks

    def _hook(self, table: dict[ScopeKey, list[Any]], f: F, what: str) -> F:
        self._check_setup_finished(what)
        table.setdefault(None, []).append(f)
        self._changed()
        return f

    def before_request(self, f: F) -> F:
        """Run ``f()`` before each request; a non-None return value becomes the response (the view is
        skipped, after_request hooks still run)."""
        return self._hook(self.before_request_funcs, f, "before_request")

    def after_request(self, f: F) -> F:
        """Run ``f(response)`` after each request; it returns the (possibly new) response."""
        return self._hook(self.after_request_funcs, f, "after_request")

    def teardown_request(self, f: F) -> F:
        """Run ``f(error_or_None)`` when the request context ends, even after an unhandled error."""
        return self._hook(self.teardown_request_funcs, f, "teardown_request")

    def context_processor(self, f: F) -> F:
        """``f()`` returns a dict of extra values for every template rendered."""
        return self._hook(self.template_context_processors, f, "context_processor")

    def url_value_preprocessor(self, f: F) -> F:
        """``f(endpoint, view_args)`` may pop values from the matched URL values before the view."""
        return self._hook(self.url_value_preprocessors, f, "url_value_preprocessor")

    def url_defaults(self, f: F) -> F:
        """``f(endpoint, values)`` may add values before url_for builds a URL."""
        return self._hook(self.url_default_functions, f, "url_defaults")

    # -- error handlers

    def errorhandler(self, code_or_exception: type[BaseException] | int) -> Callable[[F], F]:
        """Decorator: ``@app.errorhandler(404)`` or ``@app.errorhandler(MyError)``.

        The handler receives the exception and returns a response value like a view does. For a given
        error the most specific registration wins: a status code over a class, a subclass over its base.
        """

        def decorator(f: F) -> F:
            self.register_error_handler(code_or_exception, f)
            return f

        return decorator

    def register_error_handler(self, code_or_exception: type[BaseException] | int, f: ErrorHandler) -> None:
        self._check_setup_finished("errorhandler")
        exc_class, code = exception_class_and_code(code_or_exception)
        self.error_handler_spec.setdefault(None, {}).setdefault(code, {})[exc_class] = f
        self._changed()
