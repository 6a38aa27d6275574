"""The ``sockweb`` command: a thin dispatcher over each layer's own sub-command.

Each sub-command lives with the layer it belongs to and exposes ``main(argv, prog) -> int``; this module
only maps names to modules and imports the one that is asked for, so ``sockweb echo`` never imports the
framework and ``sockweb serve`` never imports Jinja2.
"""

from __future__ import annotations

import importlib
import platform
import sys
from collections.abc import Sequence

from sockweb import __version__

# name -> (module providing ``main(argv, prog)``, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("sockweb.server.cli", "serve a WSGI application (MODULE:APP) over HTTP/1.1"),
    "static": ("sockweb.web.dev.static", "serve a folder of static files with the real server"),
    "run": ("sockweb.framework.cli", "run a sockweb App with the development server (--app or SOCKWEB_APP)"),
    "shell": ("sockweb.framework.cli", "a Python shell in a sockweb App's context"),
    "routes": ("sockweb.framework.cli", "list the routes of a sockweb App (MODULE:APP)"),
    "app": ("sockweb.framework.cli", "a sockweb App's commands: run, shell, routes and its own (app.cli)"),
    "demo": ("sockweb.framework.demo.cli", "run Shortly, the URL shortener demo, on http://127.0.0.1:8000"),
    "echo": ("sockweb.net.cli", "TCP/UDP timestamped echo servers and clients"),
}

# The commands that start the server, which needs a POSIX system (sockweb.server.support).
SERVER_COMMANDS = frozenset({"serve", "static", "demo", "run"})


# The options of the App's command group (sockweb.framework.cli), which a Flask user types before the
# command: ``sockweb --app hello run --debug`` is ``sockweb app --app hello run --debug``.
APP_GROUP_OPTIONS = ("-A", "--app", "--debug", "--no-debug", "-e", "--env-file")


def _usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [
        "usage: sockweb [--version] COMMAND [ARGS...]",
        "       sockweb [--app IMPORT] [--debug] [--env-file FILE] run|shell|routes|APP-COMMAND [ARGS...]",
        "",
        "commands:",
    ]
    lines += [f"  {name.ljust(width)}  {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "Run 'sockweb COMMAND --help' for a command's options."]
    return "\n".join(lines)


def _is_app_group_option(arg: str) -> bool:
    return arg in APP_GROUP_OPTIONS or arg.startswith(("--app=", "--env-file=", "-A", "-e"))


def _version() -> str:
    """The version, with the interpreter, and the event loop, request parser and environ header loop
    `sockweb serve` runs on."""
    from sockweb.http import describe_parser
    from sockweb.server.runner import describe_loop
    from sockweb.server.wsgi import describe_environ

    python = f"{platform.python_implementation()} {platform.python_version()}"
    return (
        f"sockweb {__version__}, {python} on {platform.system()}, event loop: {describe_loop('auto')}, "
        f"parser: {describe_parser()}, environ: {describe_environ()}"
    )


def _wants_dev_server(args: Sequence[str]) -> bool:
    for arg in args:
        if arg == "--":
            return False
        if arg in ("--reload", "--debug") or arg.startswith(("--reload=", "--debug=")):
            return True
    return False


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sockweb`` console script and ``python -m sockweb``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0 if args else 2
    if args[0] in ("-V", "--version"):
        print(_version())
        return 0
    name, rest = args[0], args[1:]
    prog = f"sockweb {name}"
    if _is_app_group_option(name):
        # the App's group parses its options and finds the command after them
        name, rest, prog = "app", args, "sockweb"
    if name not in COMMANDS:
        print(f"sockweb: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    starts_server = name in SERVER_COMMANDS or (name == "app" and "run" in rest)
    if starts_server and not {"-h", "--help"} & set(rest):
        from sockweb.server.support import unsupported

        problem = unsupported()
        if problem is not None:  # Windows: one line, not a traceback from deep in the server
            print(f"sockweb {name}: {problem}", file=sys.stderr)
            return 2
    module_name, entry = COMMANDS[name][0], "main"
    if name == "serve" and _wants_dev_server(rest):
        # The server layer must not import the toolkit, so development serving (reloader, debugger) is routed
        # here, above both layers, to the one place where they meet.
        module_name, entry = "sockweb.web.dev", "serve_cli"
    module = importlib.import_module(module_name)
    try:
        code: int = getattr(module, entry)(rest, prog=prog)
    except KeyboardInterrupt:
        return 130
    return code
