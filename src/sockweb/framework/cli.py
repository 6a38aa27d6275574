"""The framework's command line on click: ``sockweb run``, ``sockweb shell``, ``sockweb routes`` and the
App's own commands (``app.cli``, blueprints' ``bp.cli``).

Strategy: a :class:`ScriptInfo` finds and loads the App once per invocation; :class:`AppGroup` runs its
commands inside that App's application context; :class:`FrameworkGroup` (``FlaskGroup`` under the Flask
name) is an AppGroup with the built-in commands, the ``--app``/``--debug``/``--env-file`` options and, once
the App is known, the App's own ``app.cli`` commands.

Where the App comes from, first match wins: ``--app``, the ``SOCKWEB_APP`` environment variable, then
``FLASK_APP`` (so an existing Flask project runs unchanged), then ``wsgi.py`` or ``app.py`` in the current
folder. ``MODULE`` finds the attribute ``app``/``application``, the module's only App, or calls a
``create_app``/``make_app`` factory; ``MODULE:NAME`` and ``MODULE:factory("literal", ...)`` name it.
The same prefixes hold for the debug flag (``SOCKWEB_DEBUG``, ``FLASK_DEBUG``) and for turning off the
loading of ``.env``/``.flaskenv`` files (``SOCKWEB_SKIP_DOTENV``, ``FLASK_SKIP_DOTENV``); those files are
read with python-dotenv when it is installed and never override variables already set.
"""

from __future__ import annotations

import ast
import inspect
import os
import platform
import sys
import traceback
from collections.abc import Callable, Sequence
from functools import update_wrapper
from typing import TYPE_CHECKING, Any, TypeGuard, TypeVar

import click

from .debug import get_debug_flag, get_load_dotenv, getenv

if TYPE_CHECKING:
    from .app import App

F = TypeVar("F", bound=Callable[..., Any])

_NO_APP_HINT = (
    "Could not locate an App. Use the 'sockweb --app' option, the 'SOCKWEB_APP' (or 'FLASK_APP') environment "
    "variable, or a 'wsgi.py' or 'app.py' file in the current directory."
)


class NoAppException(click.UsageError):
    """The App could not be found, imported or created (the message is meant for the terminal)."""


#: The name the framework had before: ``sockweb routes`` callers caught ``LoadError``.
LoadError = NoAppException


def _is_app(value: object) -> TypeGuard[App]:
    from .app import App

    return isinstance(value, App)


def _error_inside(func: Callable[..., Any]) -> bool:
    """True when the exception being handled was raised inside ``func`` (not by the call itself)."""
    tb = sys.exc_info()[2]
    code = getattr(func, "__code__", None)
    while tb is not None:
        if tb.tb_frame.f_code is code:
            return True
        tb = tb.tb_next
    return False


def _call_factory(
    module_name: str, factory: Callable[..., Any], args: Sequence[Any], kwargs: dict[str, Any]
) -> Any:
    try:
        return factory(*args, **kwargs)
    except TypeError:
        if _error_inside(factory):
            raise
        raise NoAppException(
            f"the factory {factory.__name__!r} in module {module_name!r} could not be called with the given "
            "arguments"
        ) from None


def find_best_app(module: Any) -> App:
    """The App of ``module``: ``app``/``application``, the only App, or a ``create_app``/``make_app``
    factory called without arguments."""
    name = getattr(module, "__name__", repr(module))
    for attr in ("app", "application"):
        candidate = getattr(module, attr, None)
        if _is_app(candidate):
            return candidate
    found = [value for value in vars(module).values() if _is_app(value)]
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        raise NoAppException(f"several Apps in module {name!r}; name one with 'MODULE:NAME'")
    for attr in ("create_app", "make_app"):
        factory = getattr(module, attr, None)
        if inspect.isfunction(factory):
            app = _call_factory(name, factory, (), {})
            if _is_app(app):
                return app
    raise NoAppException(f"no App and no factory ('create_app' or 'make_app') found in module {name!r}")


def find_app_by_string(module: Any, spec: str) -> App:
    """The App named by ``NAME`` or ``factory(LITERAL, ...)`` in ``module``."""
    module_name = module.__name__
    try:
        expr = ast.parse(spec.strip(), mode="eval").body
    except SyntaxError:
        raise NoAppException(f"cannot parse {spec!r} as an attribute name or a function call") from None
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    if isinstance(expr, ast.Name):
        name = expr.id
    elif isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name):
        name = expr.func.id
        try:
            args = [ast.literal_eval(arg) for arg in expr.args]
            kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in expr.keywords if kw.arg is not None}
        except ValueError:
            raise NoAppException(f"{spec!r}: the factory's arguments must be Python literals") from None
    else:
        raise NoAppException(f"{spec!r}: expected NAME or NAME(ARGS...)")
    try:
        attr = getattr(module, name)
    except AttributeError:
        raise NoAppException(f"module {module_name!r} has no attribute {name!r}") from None
    app = _call_factory(module_name, attr, args, kwargs) if inspect.isfunction(attr) else attr
    if not _is_app(app):
        raise NoAppException(f"{module_name}:{spec} is a {type(app).__name__}, not a sockweb App")
    return app


def prepare_import(path: str | os.PathLike[str]) -> str:
    """The dotted module name for a file or module path; its top folder goes first on ``sys.path``."""
    path = os.path.realpath(path)
    stem, ext = os.path.splitext(path)
    if ext == ".py":
        path = stem
    if os.path.basename(path) == "__init__":
        path = os.path.dirname(path)
    parts: list[str] = []
    # Walk up while the folder is a package, so "pkg/sub/mod" imports as "pkg.sub.mod".
    while True:
        path, name = os.path.split(path)
        parts.append(name)
        if not os.path.exists(os.path.join(path, "__init__.py")):
            break
    if sys.path[0] != path:
        sys.path.insert(0, path)
    return ".".join(reversed(parts))


def locate_app(module_name: str, app_name: str | None, raise_if_not_found: bool = True) -> App | None:
    """Import ``module_name`` and find the App in it (by ``app_name`` when given).

    A module that does not exist gives None when ``raise_if_not_found`` is false; an ImportError raised
    from inside the module always surfaces, with its traceback.
    """
    try:
        __import__(module_name)
    except ImportError as e:
        missing = e.name is not None and (module_name == e.name or module_name.startswith(e.name + "."))
        if not missing:
            raise NoAppException(
                f"while importing {module_name!r}, an ImportError was raised:\n\n{traceback.format_exc()}"
            ) from None
        if raise_if_not_found:
            raise NoAppException(f"cannot import module {module_name!r}") from None
        return None
    module = sys.modules[module_name]
    if app_name is None:
        return find_best_app(module)
    return find_app_by_string(module, app_name)


def load_app(spec: str) -> App:
    """The App named by ``MODULE[:NAME | :factory(ARGS)]`` (or a file path), imported from the current
    folder; NoAppException says why it could not be loaded."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    return ScriptInfo(app_import_path=spec, set_debug_flag=False).load_app()


def get_version(ctx: click.Context, param: click.Parameter | None, value: Any) -> None:
    """The ``--version`` callback: Python, sockweb and the framework's libraries."""
    if not value or ctx.resilient_parsing:
        return
    from importlib.metadata import PackageNotFoundError, version

    lines = [f"Python {platform.python_version()}"]
    for name in ("sockweb", "flask", "werkzeug"):
        try:  # when the Flask names are served by sockweb.flask_patch, report what they stand in for
            lines.append(f"{name.capitalize()} {version(name)}")
        except PackageNotFoundError:
            pass
    click.echo("\n".join(lines), color=ctx.color)
    ctx.exit()


class ScriptInfo:
    """How to find the App (``app_import_path`` or ``create_app``), and the App once loaded."""

    def __init__(
        self,
        app_import_path: str | None = None,
        create_app: Callable[..., App] | None = None,
        set_debug_flag: bool = True,
        load_dotenv_defaults: bool = True,
    ) -> None:
        self.app_import_path = app_import_path
        self.create_app = create_app
        self.set_debug_flag = set_debug_flag
        self.load_dotenv_defaults = get_load_dotenv(load_dotenv_defaults)
        self.data: dict[Any, Any] = {}
        self._loaded_app: App | None = None

    def load_app(self) -> App:
        """Load the App (once; later calls return the same object)."""
        if self._loaded_app is not None:
            return self._loaded_app
        app: App | None = None
        if self.create_app is not None:
            app = self.create_app()
        elif self.app_import_path:
            if self.app_import_path.startswith(":"):
                raise NoAppException(f"{self.app_import_path!r}: expected MODULE:APP")
            path, name = self._split(self.app_import_path)
            app = locate_app(prepare_import(path), name)
        else:
            for candidate in ("wsgi.py", "app.py"):
                app = locate_app(prepare_import(candidate), None, raise_if_not_found=False)
                if app is not None:
                    break
        if app is None:
            raise NoAppException(_NO_APP_HINT)
        if self.set_debug_flag:
            app.debug = get_debug_flag()
        self._loaded_app = app
        return app

    @staticmethod
    def _split(spec: str) -> tuple[str, str | None]:
        # "C:\\path\\app.py:name": the first colon may be a Windows drive, so split on the last one that
        # is not followed by a path separator.
        head, sep, tail = spec.rpartition(":")
        if sep and head and not tail.startswith(("\\", "/")):
            return head, tail
        return spec, None


pass_script_info = click.make_pass_decorator(ScriptInfo, ensure=True)


def with_appcontext(f: F) -> F:
    """Run the decorated command inside the loaded App's application context."""

    @click.pass_context
    def decorator(ctx: click.Context, /, *args: Any, **kwargs: Any) -> Any:
        from .globals import current_app_ctx

        if current_app_ctx() is None:
            app = ctx.ensure_object(ScriptInfo).load_app()
            ctx.with_resource(app.app_context())
        return ctx.invoke(f, *args, **kwargs)

    return update_wrapper(decorator, f)  # type: ignore[return-value]


class AppGroup(click.Group):
    """A click group whose commands (and sub-groups) run inside the App's application context
    (``with_appcontext=False`` on a command opts out)."""

    def command(self, *args: Any, **kwargs: Any) -> Any:
        wrap = kwargs.pop("with_appcontext", True)

        def decorator(f: Callable[..., Any]) -> click.Command:
            if wrap:
                f = with_appcontext(f)
            return click.Group.command(self, *args, **kwargs)(f)  # type: ignore[no-any-return]

        return decorator

    def group(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cls", AppGroup)
        return click.Group.group(self, *args, **kwargs)


def _set_app(ctx: click.Context, param: click.Option, value: str | None) -> str | None:
    if value is None:
        value = getenv("APP")
    if value:
        ctx.ensure_object(ScriptInfo).app_import_path = value
    return value


_DEFAULT_SOURCES = (click.core.ParameterSource.DEFAULT, click.core.ParameterSource.DEFAULT_MAP)


def _set_debug(ctx: click.Context, param: click.Option, value: bool | None) -> bool | None:
    # Only a given --debug/--no-debug counts (the default is None); the environment is read when the App
    # loads. Click records the parameter's source only after this callback since 8.2, so an unknown (None)
    # source means the command line, not the default.
    source = ctx.get_parameter_source(param.name or "debug")
    if value is not None and source not in _DEFAULT_SOURCES:
        os.environ["SOCKWEB_DEBUG"] = "1" if value else "0"
        os.environ["FLASK_DEBUG"] = "1" if value else "0"
    return value


def _env_file(ctx: click.Context, param: click.Option, value: str | None) -> str | None:
    try:
        import dotenv  # noqa: F401
    except ImportError:
        if value is not None:
            raise click.BadParameter(
                "loading an env file needs python-dotenv (pip install python-dotenv)"
            ) from None
        return None
    info = ctx.ensure_object(ScriptInfo)
    if value is not None or info.load_dotenv_defaults:
        load_dotenv(value, load_defaults=info.load_dotenv_defaults)
    return value


_app_option = click.Option(
    ["-A", "--app"],
    metavar="IMPORT",
    help="The App to load: 'module:name', 'module:factory(args)' or a file. Default: SOCKWEB_APP/FLASK_APP.",
    is_eager=True,
    expose_value=False,
    callback=_set_app,
)


def _set_app_here(ctx: click.Context, param: click.Option, value: str | None) -> str | None:
    # The sub-command's --app: only an explicit value counts (the group already read the environment,
    # and an --app given before the command must not be overwritten by it).
    if value:
        ctx.ensure_object(ScriptInfo).app_import_path = value
    return value


#: ``sockweb run --app hello``: the built-in commands take --app after their name too (Flask only takes it
#: before), since ``sockweb run`` is a command of its own and its help points to --app.
_command_app_option = click.Option(
    ["-A", "--app"],
    metavar="IMPORT",
    help="The App to load (as the group's --app; the later one wins).",
    is_eager=True,
    expose_value=False,
    allow_from_autoenv=False,
    callback=_set_app_here,
)
_debug_option = click.Option(
    ["--debug/--no-debug"],
    default=None,
    help="Debug mode (reloader and debugger for 'run').",
    expose_value=False,
    callback=_set_debug,
)
_env_file_option = click.Option(
    ["-e", "--env-file"],
    type=click.Path(exists=True, dir_okay=False),
    help="Load environment variables from this file (needs python-dotenv); .env and .flaskenv are "
    "loaded anyway unless SOCKWEB_SKIP_DOTENV is set.",
    is_eager=True,
    expose_value=False,
    callback=_env_file,
)
_version_option = click.Option(
    ["--version"],
    help="Show the versions and exit.",
    expose_value=False,
    callback=get_version,
    is_flag=True,
    is_eager=True,
)


class FrameworkGroup(AppGroup):
    """The ``sockweb`` command of an App: ``run``, ``shell``, ``routes`` and the App's ``app.cli``."""

    def __init__(
        self,
        add_default_commands: bool = True,
        create_app: Callable[..., App] | None = None,
        add_version_option: bool = True,
        load_dotenv: bool = True,
        set_debug_flag: bool = True,
        **extra: Any,
    ) -> None:
        params = list(extra.pop("params", None) or ())
        params += [_env_file_option, _app_option, _debug_option]
        if add_version_option:
            params.append(_version_option)
        extra.setdefault("context_settings", {}).setdefault("auto_envvar_prefix", "SOCKWEB")
        super().__init__(params=params, **extra)
        self.create_app = create_app
        self.load_dotenv = load_dotenv
        self.set_debug_flag = set_debug_flag
        if add_default_commands:
            self.add_command(run_command)
            self.add_command(shell_command)
            self.add_command(routes_command)
        self._loaded_plugin_commands = False

    def _app_commands(self, ctx: click.Context) -> click.Group | None:
        try:
            app = ctx.ensure_object(ScriptInfo).load_app()
        except NoAppException as e:
            click.secho(f"Error: {e.format_message()}\n", err=True, fg="red")
            return None
        except Exception:
            click.secho(f"{traceback.format_exc()}\n", err=True, fg="red")
            return None
        # The App's commands run inside its context too (also when called through this group).
        ctx.with_resource(app.app_context())
        return app.cli

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is not None:
            return command
        app_cli = self._app_commands(ctx)
        return app_cli.get_command(ctx, name) if app_cli is not None else None

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(super().list_commands(ctx))
        app_cli = self._app_commands(ctx)
        if app_cli is not None:
            names.update(app_cli.list_commands(ctx))
        return sorted(names)

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        # A nested group gets its ScriptInfo from the enclosing one's obj, if any.
        if "obj" not in extra and "obj" not in self.context_settings:
            extra["obj"] = ScriptInfo(
                create_app=self.create_app,
                set_debug_flag=self.set_debug_flag,
                load_dotenv_defaults=self.load_dotenv,
            )
        return super().make_context(info_name, args, parent=parent, **extra)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args and self.no_args_is_help:
            # Load the env files and the App anyway, so the help lists the App's commands.
            _env_file(ctx, _env_file_option, None)
            _set_app(ctx, _app_option, None)
        return super().parse_args(ctx, args)


#: Flask's name for the same class.
FlaskGroup = FrameworkGroup


def load_dotenv(path: str | os.PathLike[str] | None = None, load_defaults: bool = True) -> bool:
    """Set environment variables from ``.flaskenv`` and ``.env`` (found from the current folder up) and
    from ``path``; later files win over earlier ones, variables already set win over all files.

    Returns True when some file was loaded. Without python-dotenv nothing is loaded (False)."""
    try:
        import dotenv
    except ImportError:
        if path or os.path.isfile(".env") or os.path.isfile(".flaskenv"):
            click.secho(
                " * Tip: there are .env files present. Install python-dotenv to use them.",
                fg="yellow",
                err=True,
            )
        return False
    values: dict[str, str | None] = {}
    loaded = False
    if load_defaults:
        for name in (".flaskenv", ".env"):
            found = dotenv.find_dotenv(name, usecwd=True)
            if found:
                values.update(dotenv.dotenv_values(found, encoding="utf-8"))
                loaded = True
    if path is not None and os.path.isfile(path):
        values.update(dotenv.dotenv_values(path, encoding="utf-8"))
        loaded = True
    for key, value in values.items():
        if key not in os.environ and value is not None:
            os.environ[key] = value
    return loaded


# ---------------------------------------------------------------- the built-in commands


def _validate_key(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    cert = ctx.params.get("cert")
    if value is not None and cert is None:
        raise click.BadParameter('"--cert" is required when "--key" is given.', ctx, param)
    if cert is not None and value is None:
        raise click.BadParameter('"--key" is required when "--cert" is given.', ctx, param)
    if value is not None:
        ctx.params["cert"] = (cert, value)
    return value


def _validate_cert(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not os.path.isfile(value):
        raise click.BadParameter(
            "expected a PEM certificate file (sockweb's server takes files, not 'adhoc' or an SSLContext)",
            ctx,
            param,
        )
    return value


def _split_paths(ctx: click.Context, param: click.Parameter, value: str | None) -> list[str] | None:
    # One option holding several paths, split as PATH is (":" on POSIX, ";" on Windows).
    return [part for part in value.split(os.pathsep) if part] if value else None


@click.command("run", short_help="Run the development server.")
@click.option("--host", "-h", default="127.0.0.1", help="The interface to bind to.")
@click.option("--port", "-p", default=5000, help="The port to bind to.")
@click.option(
    "--cert", type=click.Path(dir_okay=False), callback=_validate_cert, is_eager=True,
    help="A PEM certificate file for HTTPS (with --key).",
)  # fmt: skip
@click.option(
    "--key", type=click.Path(exists=True, dir_okay=False), callback=_validate_key, expose_value=False,
    help="The PEM private key of --cert.",
)  # fmt: skip
@click.option("--reload/--no-reload", default=None, help="Restart on code changes (default: in debug mode).")
@click.option(
    "--debugger/--no-debugger", default=None, help="The in-browser debugger (default: in debug mode)."
)
@click.option(
    "--extra-files", default=None, type=click.Path(), multiple=True,
    help="More files whose change triggers a reload.",
)  # fmt: skip
@click.option(
    "--exclude-patterns", default=None, callback=_split_paths,
    help=f"fnmatch patterns of files the reloader ignores, separated by {os.pathsep!r}.",
)  # fmt: skip
@pass_script_info
def run_command(  # noqa: PLR0917 - click passes the options positionally by name
    info: ScriptInfo,
    host: str,
    port: int,
    cert: str | tuple[str, str] | None,
    reload: bool | None,
    debugger: bool | None,
    extra_files: tuple[str, ...],
    exclude_patterns: list[str] | None,
) -> None:
    """Serve the App with the development server: sockweb's server plus reloader and debugger."""
    try:
        app = info.load_app()
    except Exception as e:
        if not (reload if reload is not None else get_debug_flag()):
            raise
        # With the reloader on, a broken App is reported by the child on each change instead of exiting.
        click.secho(f"Error loading the App: {e}", err=True, fg="red")
        return
    debug = get_debug_flag()
    options: dict[str, Any] = {}
    if isinstance(cert, tuple):
        options["certfile"], options["keyfile"] = cert
    from sockweb.web.dev import run_simple

    run_simple(
        host,
        port,
        app,
        use_reloader=debug if reload is None else reload,
        use_debugger=debug if debugger is None else debugger,
        extra_files=extra_files or None,
        exclude_patterns=exclude_patterns,
        **options,
    )


@click.command("shell", short_help="Run a Python shell in the App's context.")
@with_appcontext
def shell_command() -> None:
    """An interactive Python shell with ``app`` and ``g`` (and the App's shell context) defined."""
    import code

    from .globals import current_app

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    banner = f"Python {sys.version} on {sys.platform}\nApp: {app.import_name}\nInstance: {app.instance_path}"
    namespace: dict[str, Any] = {}
    startup = os.environ.get("PYTHONSTARTUP")
    if startup and os.path.isfile(startup):
        with open(startup) as f:
            exec(compile(f.read(), startup, "exec"), namespace)
    namespace.update(app.make_shell_context())
    code.interact(banner=banner, local=namespace)


_IMPLIED_METHODS = frozenset({"HEAD", "OPTIONS"})


def route_rows(app: App, sort: str = "endpoint", all_methods: bool = False) -> list[tuple[str, ...]]:
    """(endpoint, methods, [host], rule) for each rule of the App, sorted by ``sort``."""
    rules = list(app.url_map.iter_rules())
    with_host = app.url_map.host_matching and any(rule.host for rule in rules)
    rows: list[tuple[str, ...]] = []
    for rule in rules:
        methods = set(rule.methods or ("ANY",))
        if not all_methods:
            methods -= _IMPLIED_METHODS
        row = [str(rule.endpoint), ", ".join(sorted(methods))]
        if with_host:
            row.append(rule.host or "")
        row.append(rule.rule)
        rows.append(tuple(row))
    column = {"endpoint": 0, "methods": 1, "rule": len(rows[0]) - 1 if rows else 2}.get(sort)
    if column is not None:
        rows.sort(key=lambda row: (row[column], row[-1]))
    return rows


def format_table(rows: Sequence[tuple[str, ...]], header: tuple[str, ...]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, tuple("-" * width for width in widths), *rows]
    ]
    return "\n".join(lines)


@click.command("routes", short_help="Show the routes of the App.")
@click.option(
    "--sort", "-s", type=click.Choice(("endpoint", "methods", "rule", "match")), default="endpoint",
    help="Order of the rows ('match': the order the router tries them).",
)  # fmt: skip
@click.option("--all-methods", is_flag=True, help="Also show HEAD and OPTIONS.")
@with_appcontext
def routes_command(sort: str, all_methods: bool) -> None:
    """One row per rule: endpoint, methods, host (with host matching) and rule."""
    from .globals import current_app

    app: App = current_app._get_current_object()  # type: ignore[attr-defined]
    rows = route_rows(app, sort, all_methods)
    if not rows:
        click.echo("No routes were registered.")
        return
    header = ("Endpoint", "Methods", "Host", "Rule") if len(rows[0]) == 4 else ("Endpoint", "Methods", "Rule")
    click.echo(format_table(rows, header))


# Where a Flask user types them: ``run --debug`` (as Flask), and ``--app`` after run, shell and routes.
# The App loads inside each command's body, after these callbacks ran.
for _command in (run_command, shell_command, routes_command):
    _command.params.insert(0, _command_app_option)
run_command.params.insert(1, _debug_option)

cli = FrameworkGroup(
    name="sockweb",
    help="The commands of a sockweb App: run, shell, routes and the App's own (app.cli).\n\n"
    "The App comes from --app, SOCKWEB_APP or FLASK_APP, or wsgi.py/app.py in the current folder.",
)


def main(argv: Sequence[str] | None = None, prog: str = "sockweb routes") -> int:
    """Entry point of ``sockweb app COMMAND`` and of the shortcuts ``sockweb run|shell|routes``.

    ``sockweb routes MODULE:APP`` (a positional App, as before) still works."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = prog.rsplit(" ", 1)[-1]
    if command in ("run", "shell", "routes"):
        if command == "routes" and args and not args[0].startswith("-"):
            args = ["--app", args[0], "routes", *args[1:]]  # the positional App of the first version
        else:
            args = [command, *args]
        prog = prog.rsplit(" ", 1)[0]
    try:
        cli.main(args=args, prog_name=prog, standalone_mode=False)
    except click.exceptions.Exit as e:
        return int(e.exit_code or 0)
    except click.ClickException as e:
        e.show()
        return 2 if isinstance(e, click.UsageError) else e.exit_code
    except click.exceptions.Abort:
        return 1
    return 0
