"""Blueprints: a group of routes, hooks, error handlers and folders, registered on an App later.

Strategy: a :class:`Blueprint` records everything through the shared :class:`Scaffold` tables (under
scope ``None``) plus a list of deferred functions for what needs the App (URL rules, app-wide hooks).
``app.register_blueprint(bp, url_prefix=...)`` calls :meth:`Blueprint.register`, which copies the
blueprint's hooks and error handlers into the App under the blueprint's dotted name (so they only run
for that blueprint's endpoints) and replays the deferred functions with a :class:`BlueprintSetupState`
that prefixes rules and endpoint names. Nested blueprints register the same way with the parent's name
and URL prefix in front. A blueprint is frozen once registered: late setup calls raise.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar, overload

from .scaffold import ErrorHandler, Scaffold, ScopeKey, ViewFunc

if TYPE_CHECKING:
    from sockweb.web.response import Response as BaseResponse

    from .app import App
    from .cli import AppGroup

F = TypeVar("F", bound=Callable[..., Any])
_NAME = "\0blueprint-name"  # cli_group's default: a group named after the blueprint
DeferredSetup = Callable[["BlueprintSetupState"], None]


def _join_prefix(prefix: str | None, rule: str) -> str:
    if not prefix:
        return rule
    if not rule:
        return prefix
    return prefix.rstrip("/") + "/" + rule.lstrip("/")


class BlueprintSetupState:
    """One registration of a blueprint on an App: where its rules go and what they are named."""

    def __init__(
        self, blueprint: Blueprint, app: App, options: dict[str, Any], first_registration: bool
    ) -> None:
        self.app = app
        self.blueprint = blueprint
        self.options = options
        self.first_registration = first_registration
        name = options.get("name", blueprint.name)
        name_prefix = options.get("name_prefix", "")
        self.name = f"{name_prefix}.{name}" if name_prefix else name
        url_prefix = options.get("url_prefix")
        self.url_prefix: str | None = url_prefix if url_prefix is not None else blueprint.url_prefix
        self.subdomain: str | None = options.get("subdomain", blueprint.subdomain)
        self.url_defaults: dict[str, Any] = {
            **blueprint.url_values_defaults,
            **options.get("url_defaults", {}),
        }

    def add_url_rule(
        self, rule: str, endpoint: str | None = None, view_func: ViewFunc | None = None, **options: Any
    ) -> None:
        """Add a rule on the App with the prefix, the blueprint's defaults and ``name.endpoint``."""
        rule = _join_prefix(self.url_prefix, rule) or "/"
        options.setdefault("subdomain", self.subdomain)
        if endpoint is None:
            if view_func is None:
                raise TypeError("add_url_rule needs an endpoint or a view function")
            endpoint = view_func.__name__
        defaults = {**self.url_defaults, **(options.pop("defaults", None) or {})}
        self.app.add_url_rule(
            rule, f"{self.name}.{endpoint}", view_func, defaults=defaults or None, **options
        )


class Blueprint(Scaffold):
    """``Blueprint(name, import_name, url_prefix=..., static_folder=..., template_folder=...)``.

    Endpoints get the blueprint's name in front (``bp.index``); inside the blueprint,
    ``url_for(".index")`` means the blueprint's own ``index``.
    """

    def __init__(  # noqa: PLR0917 - the positional order is the documented, Flask-compatible one
        self,
        name: str,
        import_name: str,
        static_folder: str | os.PathLike[str] | None = None,
        static_url_path: str | None = None,
        template_folder: str | os.PathLike[str] | None = None,
        url_prefix: str | None = None,
        subdomain: str | None = None,
        url_defaults: dict[str, Any] | None = None,
        root_path: str | None = None,
        cli_group: str | None = _NAME,
    ) -> None:
        super().__init__(import_name, static_folder, static_url_path, template_folder, root_path)
        if not name:
            raise ValueError("a blueprint needs a non-empty name")
        if "." in name:
            raise ValueError("a blueprint's name may not contain a dot ('.')")
        self.name = name
        self.url_prefix = url_prefix
        self.subdomain = subdomain
        self.url_values_defaults: dict[str, Any] = dict(url_defaults or {})
        #: where ``bp.cli``'s commands go: a group named ``cli_group`` (default: the blueprint's name), or
        #: with None straight into the App's group
        self.cli_group = cli_group
        self.deferred_functions: list[DeferredSetup] = []
        self._blueprints: list[tuple[Blueprint, dict[str, Any]]] = []
        self._got_registered_once = False

    def _check_setup_finished(self, what: str) -> None:
        if self._got_registered_once:
            raise RuntimeError(
                f"{what}() was called on blueprint {self.name!r} after it was registered; set up a "
                "blueprint completely before registering it, so every registration sees the same thing."
            )

    # -- deferred setup

    def record(self, func: DeferredSetup) -> None:
        """Run ``func(state)`` at every registration of this blueprint."""
        self._check_setup_finished("record")
        self.deferred_functions.append(func)

    def record_once(self, func: DeferredSetup) -> None:
        """Run ``func(state)`` at the first registration only."""

        def once(state: BlueprintSetupState) -> None:
            if state.first_registration:
                func(state)

        self.record(once)

    def add_url_rule(
        self,
        rule: str,
        endpoint: str | None = None,
        view_func: ViewFunc | None = None,
        provide_automatic_options: bool | None = None,
        **options: Any,
    ) -> None:
        """Record a rule; it is added to the App, prefixed, when the blueprint is registered."""
        if endpoint and "." in endpoint:
            raise ValueError("an endpoint name may not contain a dot ('.')")
        if view_func is not None and "." in getattr(view_func, "__name__", ""):
            raise ValueError("a view function's name may not contain a dot ('.')")
        self.record(lambda state: state.add_url_rule(rule, endpoint, view_func, **options))

    def register_blueprint(self, blueprint: Blueprint, **options: Any) -> None:
        """Nest ``blueprint`` in this one: its names and URLs get this blueprint's in front."""
        if blueprint is self:
            raise ValueError("a blueprint cannot be registered on itself")
        self._check_setup_finished("register_blueprint")
        self._blueprints.append((blueprint, options))

    # -- registration

    def register(self, app: App, options: dict[str, Any]) -> None:
        """Called by ``app.register_blueprint``: copy hooks and handlers, add the rules."""
        name_prefix = options.get("name_prefix", "")
        self_name = options.get("name", self.name)
        name = f"{name_prefix}.{self_name}".lstrip(".")
        if name in app.blueprints:
            existing = app.blueprints[name]
            raise ValueError(
                f"a blueprint named {name!r} is already registered ({existing!r}); pass name= to register "
                "another one (or this one again) under a different name"
            )
        first_registration = not any(bp is self for bp in app.blueprints.values())
        app.blueprints[name] = self
        self._got_registered_once = True
        state = BlueprintSetupState(self, app, options, first_registration)

        if self.has_static_folder and self.static_url_path is not None:
            state.add_url_rule(
                f"{self.static_url_path}/<path:filename>", endpoint="static", view_func=self.send_static_file
            )
        self._merge_into(app, name)  # every registration has its own name, so its own scope
        for deferred in self.deferred_functions:
            deferred(state)

        self._register_cli(app, options, name)
        for child, child_options in self._blueprints:
            merged = dict(child_options)
            child_prefix = merged.get("url_prefix")
            if child_prefix is None:  # url_prefix=None given or not: the child's own prefix holds
                child_prefix = child.url_prefix
            merged["url_prefix"] = _join_prefix(state.url_prefix, child_prefix or "") or None
            merged["name_prefix"] = name
            # A child's subdomain is below its parent's: "api" in "parent" is "api.parent".
            child_subdomain = merged.get("subdomain", child.subdomain)
            if child_subdomain and state.subdomain:
                merged["subdomain"] = f"{child_subdomain}.{state.subdomain}"
            elif not child_subdomain and state.subdomain is not None:
                merged["subdomain"] = state.subdomain
            child.register(app, merged)
        app._changed()

    @cached_property
    def cli(self) -> AppGroup:
        """The blueprint's click group; its commands join the App's at registration (see ``cli_group``)."""
        from .cli import AppGroup

        return AppGroup(self.name)

    def _register_cli(self, app: App, options: dict[str, Any], name: str) -> None:
        if "cli" not in self.__dict__ or not self.cli.commands:
            return  # an empty group is not added
        group = options.get("cli_group", self.cli_group)
        if group is None:
            app.cli.commands.update(self.cli.commands)
            return
        self.cli.name = name.rpartition(".")[2] if group == _NAME else group
        app.cli.add_command(self.cli)

    def _merge_into(self, app: App, name: str) -> None:
        def scope(key: ScopeKey) -> str:
            return name if key is None else f"{name}.{key}"

        tables: list[tuple[dict[ScopeKey, list[Any]], dict[ScopeKey, list[Any]]]] = [
            (self.before_request_funcs, app.before_request_funcs),
            (self.after_request_funcs, app.after_request_funcs),
            (self.teardown_request_funcs, app.teardown_request_funcs),
            (self.template_context_processors, app.template_context_processors),
            (self.url_value_preprocessors, app.url_value_preprocessors),
            (self.url_default_functions, app.url_default_functions),
        ]
        for source, target in tables:
            for key, funcs in source.items():
                target.setdefault(scope(key), []).extend(funcs)
        for key, by_code in self.error_handler_spec.items():
            target_spec = app.error_handler_spec.setdefault(scope(key), {})
            for code, handlers in by_code.items():
                target_spec.setdefault(code, {}).update(handlers)
        # Views given with @bp.endpoint(name) serve a rule added to the App itself: the name is the
        # App's, as written (routes added through the blueprint go to the App at registration).
        app.view_functions.update(self.view_functions)

    # -- folders

    def send_static_file(self, filename: str) -> BaseResponse:
        """The view serving this blueprint's static folder."""
        from .helpers import send_from_directory

        folder = self.static_folder_path
        if folder is None:
            from sockweb.web.exceptions import NotFound

            raise NotFound()
        return send_from_directory(
            folder, filename, allow_hidden=False, max_age=self.get_send_file_max_age(filename)
        )

    def get_send_file_max_age(self, filename: str | None) -> int | None:
        """The Cache-Control max-age of this blueprint's static files: the App's (override to change)."""
        from .globals import current_app

        return current_app.get_send_file_max_age(filename)

    # -- app-wide variants of the hooks

    def _app_hook(self, attribute: str, f: F) -> F:
        def setup(state: BlueprintSetupState) -> None:
            table: dict[ScopeKey, list[Any]] = getattr(state.app, attribute)
            table.setdefault(None, []).append(f)

        self.record_once(setup)
        return f

    def before_app_request(self, f: F) -> F:
        """Like ``app.before_request``: runs for every request of the App, not only this blueprint's."""
        return self._app_hook("before_request_funcs", f)

    def after_app_request(self, f: F) -> F:
        return self._app_hook("after_request_funcs", f)

    def teardown_app_request(self, f: F) -> F:
        return self._app_hook("teardown_request_funcs", f)

    def app_context_processor(self, f: F) -> F:
        return self._app_hook("template_context_processors", f)

    def app_url_value_preprocessor(self, f: F) -> F:
        return self._app_hook("url_value_preprocessors", f)

    def app_url_defaults(self, f: F) -> F:
        return self._app_hook("url_default_functions", f)

    def app_errorhandler(self, code_or_exception: type[BaseException] | int) -> Callable[[F], F]:
        """Like ``app.errorhandler``: handles the error for the whole App."""

        def decorator(f: F) -> F:
            def setup(state: BlueprintSetupState) -> None:
                handler: ErrorHandler = f
                state.app.register_error_handler(code_or_exception, handler)

            self.record_once(setup)
            return f

        return decorator

    # -- templates, registered on the App when the blueprint is

    def _app_template(self, table: str, name: str | Callable[..., Any] | None) -> Any:
        if callable(name):
            self._add_app_template(table, name, None)
            return name

        def decorator(f: F) -> F:
            self._add_app_template(table, f, name)
            return f

        return decorator

    def _add_app_template(self, table: str, f: Callable[..., Any], name: str | None) -> None:
        def setup(state: BlueprintSetupState) -> None:
            state.app._add_template(table, f, name)

        self.record_once(setup)

    @overload
    def app_template_filter(self, name: F) -> F: ...

    @overload
    def app_template_filter(self, name: str | None = None) -> Callable[[F], F]: ...

    def app_template_filter(self, name: str | Callable[..., Any] | None = None) -> Any:
        """Decorator adding a Jinja2 filter to the App's environment."""
        return self._app_template("filters", name)

    def add_app_template_filter(self, f: Callable[..., Any], name: str | None = None) -> None:
        self._add_app_template("filters", f, name)

    @overload
    def app_template_test(self, name: F) -> F: ...

    @overload
    def app_template_test(self, name: str | None = None) -> Callable[[F], F]: ...

    def app_template_test(self, name: str | Callable[..., Any] | None = None) -> Any:
        """Decorator adding a Jinja2 test to the App's environment."""
        return self._app_template("tests", name)

    def add_app_template_test(self, f: Callable[..., Any], name: str | None = None) -> None:
        self._add_app_template("tests", f, name)

    @overload
    def app_template_global(self, name: F) -> F: ...

    @overload
    def app_template_global(self, name: str | None = None) -> Callable[[F], F]: ...

    def app_template_global(self, name: str | Callable[..., Any] | None = None) -> Any:
        """Decorator adding a Jinja2 global to the App's environment."""
        return self._app_template("globals", name)

    def add_app_template_global(self, f: Callable[..., Any], name: str | None = None) -> None:
        self._add_app_template("globals", f, name)
