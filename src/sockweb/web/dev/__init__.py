"""sockweb.web.dev: the development server, which is the real server plus a reloader and a debugger.

Strategy: nothing here serves HTTP itself. :func:`run_simple` and :func:`serve_cli` build a
:class:`~sockweb.server.config.Config`, bind the listening sockets once, and hand them to
:func:`sockweb.server.runner.serve` (so keep-alive, pipelining, limits and logging are the production
server's), after wrapping the application in :class:`~.debug.DebuggedApplication` when asked
(:func:`~.debug.attach_debugger`, which also switches on a framework application's own debug mode so
that its exceptions reach the debugger instead of its 500 page). With the
reloader the sockets go to :func:`~.reloader.run_with_reloader`, which serves them from a child process
restarted on every edit.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from .debug import PIN_ENV, DebuggedApplication, attach_debugger, generate_pin

if TYPE_CHECKING:
    from sockweb.server.config import Config

__all__ = ["DebuggedApplication", "run_simple", "serve_cli"]

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

DEV_GRACEFUL_TIMEOUT = 2.0  # an edit should not wait 30 s for a stuck request


def configure_dev_logging(config: Config) -> None:
    """The server's error-log setup (level, file, dictConfig) for a development process."""
    from sockweb.server.logconfig import configure_logging

    configure_logging(
        log_level=config.log_level,
        error_log=config.error_log,
        log_config=config.log_config,
        json_format=config.access_log_format == "json",
    )


def create_sockets(config: Config) -> list[socket.socket]:
    """Bind ``config.bind`` with the server's own bind parser (``sockweb.server.binds``)."""
    from sockweb.server.binds import create_sockets as create

    return create(config)


def listen_or_status(config: Config, prog: str) -> list[socket.socket] | int:
    """The listening sockets, or the exit status after one error line on stderr: 2 for a ``--bind``
    that does not parse (a usage error), 1 for an address that cannot be listened on."""
    from sockweb.server.binds import BindError, parse_bind

    for text in config.bind:
        try:
            parse_bind(text)
        except BindError as exc:
            print(f"{prog}: error: {exc}", file=sys.stderr)
            return 2
    try:
        return create_sockets(config)
    except BindError as exc:  # its message names the address: "cannot listen on HOST:PORT: ..."
        print(f"{prog}: error: {exc}", file=sys.stderr)
    except (OSError, ValueError) as exc:
        print(f"{prog}: error: cannot listen: {exc}", file=sys.stderr)
    return 1


def socket_url(sock: socket.socket, scheme: str = "http") -> str:
    """``http://HOST:PORT`` (``[V6]`` bracketed) or ``unix:PATH`` for a listening socket."""
    name = sock.getsockname()
    if isinstance(name, (str, bytes)):
        return f"unix:{name!s}"
    host, port = name[0], name[1]
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


def announce(sockets: Sequence[socket.socket], pin: str | None, scheme: str = "http") -> None:
    for sock in sockets:
        print(f" * Running on {socket_url(sock, scheme)} (Press CTRL+C to quit)", flush=True)
    if pin is not None:
        print(f" * Debugger PIN: {pin}", flush=True)


def _shared_pin() -> str:
    """The PIN for this server, also handed to reloaded children through the environment."""
    pin = os.environ.get(PIN_ENV) or generate_pin()
    os.environ[PIN_ENV] = pin
    return pin


def run_simple(  # noqa: PLR0917 - werkzeug's positional signature, kept for familiarity
    hostname: str,
    port: int,
    application: WSGIApp,
    use_reloader: bool = False,
    use_debugger: bool = False,
    use_evalex: bool = True,
    extra_files: Iterable[str] | None = None,
    exclude_patterns: Iterable[str] | None = None,
    reloader_type: str = "auto",
    threaded: bool = True,
    **server_options: Any,
) -> None:
    """Serve ``application`` on ``hostname:port`` with the sockweb server until CTRL+C.

    ``use_debugger`` wraps it in :class:`DebuggedApplication` (the console, with ``use_evalex``, needs
    the PIN printed at startup) after switching on its debug mode (:func:`~.debug.enable_debug_mode`).
    ``use_reloader`` runs this program again in a child process that is restarted when an imported
    module or one of ``extra_files`` changes (files matching an :mod:`fnmatch` pattern of
    ``exclude_patterns`` are not watched); call ``run_simple`` from a script or a module run with
    ``python -m``. ``threaded=False`` calls the app on the event loop.
    ``server_options`` are :class:`~sockweb.server.config.Config` fields (``keepalive_timeout=...``).
    """
    from sockweb.server.config import Config
    from sockweb.server.runner import serve
    from sockweb.server.support import unsupported

    from . import _child

    problem = unsupported()
    if problem is not None:
        raise RuntimeError(problem)
    from .reloader import child_command_for_script, run_with_reloader

    host = f"[{hostname}]" if ":" in hostname and not hostname.startswith("[") else hostname
    options: dict[str, Any] = {"graceful_timeout": DEV_GRACEFUL_TIMEOUT, **server_options}
    config = Config(bind=(f"{host}:{port}",), dispatch="pool" if threaded else "inline", **options)
    pin = _shared_pin() if use_debugger and use_evalex else None
    if use_debugger:
        application = attach_debugger(application, evalex=use_evalex, pin=pin)

    context = _child.take_context()
    if context is not None:  # we are the reloader's child: serve the inherited sockets
        configure_dev_logging(config)
        context.exclude = tuple(exclude_patterns or ())
        context.report(extra_files or ())
        context.start_lifeline()
        serve(config, application, context.sockets)
        return

    configure_dev_logging(config)
    sockets = create_sockets(config)
    announce(sockets, pin)
    if use_reloader:
        run_with_reloader(
            sockets,
            child_command_for_script(),
            {},
            extra_files=extra_files or (),
            reloader_type=reloader_type,
        )
        for sock in sockets:
            sock.close()
        return
    serve(config, application, sockets)


def serve_cli(argv: Sequence[str], prog: str = "sockweb serve") -> int:
    """``sockweb serve --reload --debug MODULE:APP [options]``: the server's options, one process."""
    from sockweb.server.config import ConfigError, load_config
    from sockweb.server.loader import AppLoadError, load_app
    from sockweb.server.runner import serve

    from .reloader import run_with_reloader

    try:
        config = load_config(list(argv), prog=prog)
    except ConfigError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    if config.print_config or config.check_config:
        import importlib

        code: int = importlib.import_module("sockweb.server.cli").main(list(argv), prog=prog)
        return code
    if not config.app:
        print(f"{prog}: error: expected the application as MODULE:APP", file=sys.stderr)
        return 2
    if config.chdir:
        os.chdir(config.chdir)
    configure_dev_logging(config)
    if config.workers > 1:
        print(f"{prog}: --reload/--debug run one process; --workers ignored", file=sys.stderr)
    sockets = listen_or_status(config, prog)
    if isinstance(sockets, int):
        return sockets
    pin = _shared_pin() if config.debug else None
    scheme = "https" if config.certfile else "http"
    if config.reload:
        announce(sockets, pin, scheme)
        try:
            return run_with_reloader(
                sockets, [sys.executable, "-m", "sockweb.web.dev._child"], {"argv": list(argv)}
            )
        finally:
            for sock in sockets:
                sock.close()
    # Without the reloader a broken app ends the command: load it before saying "Running on".
    try:
        app = load_app(config.app, factory=config.factory)
    except AppLoadError as exc:
        for sock in sockets:
            sock.close()
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    if config.debug:
        app = attach_debugger(app, evalex=True, pin=pin)
    announce(sockets, pin, scheme)
    return serve(config, app, sockets)
