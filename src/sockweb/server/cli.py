"""``sockweb serve [options] MODULE:APP``: build the Config, then run one process or the arbiter.

Strategy: :func:`sockweb.server.config.load_config` turns argv + environment + config file into a frozen
Config (every error is one line and exit status 2, a malformed ``--bind`` included); ``--print-config``
and ``--check-config`` stop there. Otherwise the listening sockets are created here (so a taken port is
reported before anything else starts, one line and exit status 1), privileges are dropped, and either
the single-process runner serves on them (``--workers 1``, the default) or the arbiter pre-forks workers
that share them (``--workers N`` or ``--max-requests``, which needs a master to replace recycled
workers). A single process reloads on HUP by handing its sockets over (:mod:`sockweb.server.handover`);
the processes of that hand-over find their sockets in ``SOCKWEB_HANDOVER`` instead of binding.

``--reload`` and ``--debug`` belong to the development server; the top-level ``sockweb`` dispatcher sends
such command lines there, so reaching this module with them set (e.g. from SOCKWEB_RELOAD) is an error.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from collections.abc import Sequence

from sockweb.server.config import Config, ConfigError, load_config, render_toml
from sockweb.server.logconfig import LogConfigError, configure_logging

__all__ = ["check_config", "main", "serve_single"]

log = logging.getLogger("sockweb.error")


def _fail(prog: str, message: str, code: int) -> int:
    print(f"{prog}: {message}", file=sys.stderr)
    return code


def check_config(config: Config, prog: str) -> int:
    """--check-config: TLS files load, the app imports. 0 when all is well, else 1.

    (The binds were parsed with the rest of the configuration: a bad one never gets here.)
    """
    from sockweb.server.loader import AppLoadError, load_app

    try:
        if config.certfile:
            from sockweb.server.tls import TLSConfigError, build_ssl_context

            try:
                build_ssl_context(config)
            except TLSConfigError as exc:
                return _fail(prog, str(exc), 1)
        load_app(config.app, factory=config.factory)
    except AppLoadError as exc:
        return _fail(prog, str(exc), 1)
    print(f"{prog}: configuration OK ({config.app}, {config.workers} worker(s), {', '.join(config.bind)})")
    return 0


def serve_single(config: Config, argv: Sequence[str] = (), cwd: str | None = None) -> int:
    """One process, no master: bind, drop privileges, serve until TERM/INT; HUP reloads the application.

    `argv` and `cwd` (the command line and where it was given) start the reload's processes.
    """
    from sockweb.server import hooks, systemd, workers
    from sockweb.server.binds import BindError, create_sockets, remove_unix_files, unix_paths
    from sockweb.server.handover import HandoverError, SingleProcess, take_inherited
    from sockweb.server.runner import serve

    activated = "LISTEN_FDS" in os.environ  # systemd's socket files are systemd's to remove
    info = hooks.ServerInfo(config, os.getpid(), "single")
    try:
        hooks.call_fatal(config, "on_starting", info)
        inherited = take_inherited(os.environ)
        sockets: list[socket.socket] = inherited.sockets() if inherited else create_sockets(config)
    except (BindError, HandoverError, hooks.HookError) as exc:
        log.error("%s", exc)
        return 1
    paths = [] if activated else unix_paths(sockets)
    if inherited is not None:  # the unix socket files, if any, are the first image's to remove
        paths = list(inherited.paths)
    process = SingleProcess(
        config, argv, cwd or os.getcwd(), sockets=sockets, paths=paths, inherited=inherited
    )
    process.install_early()
    pidfile = workers.PidFile(config.pid) if config.pid and not process.is_bridge else None
    status_sock: socket.socket | None = None
    try:
        if pidfile is not None:
            pidfile.create(os.getpid())
        # A reload's bridge has no status listener: the serving image holds its address meanwhile.
        if config.metrics_bind and not process.is_bridge:
            from sockweb.server.status import bind_status

            status_sock = bind_status(config.metrics_bind)
        workers.drop_privileges(config.user, config.group)
        workers.set_title(config, "reload bridge" if process.is_bridge else "single")
        # A bridge is stopped once the new image serves the same sockets: no balancer needs a delay.
        delay = 0.0 if process.is_bridge else config.drain_delay
        code = serve(
            config,
            sockets=sockets,
            control=process,
            status_sock=status_sock,
            server=info,
            drain_delay=delay,
        )
        if process.exec_pending:
            return process.reexec()  # returns only when execve failed
        process.finish()
        if not process.is_bridge:
            systemd.notify("STOPPING=1")
        hooks.call(config, "on_exit", info)
        return code
    except (workers.ProcessError, BindError) as exc:
        log.error("%s", exc)
        process.finish()
        return 1
    finally:
        if status_sock is not None:
            status_sock.close()
        if not process.is_bridge:
            remove_unix_files(paths)
        for sock in sockets:
            sock.close()
        if pidfile is not None:
            pidfile.remove()


def _apply_environment(config: Config) -> None:
    """--env and --pythonpath (relative to --chdir): before the application is imported; workers
    inherit them, and a reload's new process applies them again from its command line."""
    for item in config.env:
        key, _, value = item.partition("=")
        os.environ[key] = value
    for directory in reversed(config.pythonpath):
        path = os.path.abspath(directory)
        if path not in sys.path:
            sys.path.insert(0, path)


def main(argv: Sequence[str], prog: str = "sockweb serve") -> int:
    """Entry point of ``sockweb serve``; returns the exit status."""
    try:
        config = load_config(argv, prog=prog)
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0
    except ConfigError as exc:
        return _fail(prog, str(exc), 2)
    if config.print_config:
        sys.stdout.write(render_toml(config))
        return 0
    if not config.app:
        return _fail(prog, "missing MODULE:APP (or SOCKWEB_APP, or app = ... in the config file)", 2)
    if config.reload or config.debug:
        return _fail(
            prog, "--reload/--debug are handled by the development server: pass them on the command line", 2
        )
    cwd = os.getcwd()
    if config.chdir:
        try:
            os.chdir(config.chdir)
        except OSError as exc:
            return _fail(prog, f"--chdir: cannot change to {config.chdir!r}: {exc.strerror}", 2)
    _apply_environment(config)
    try:
        configure_logging(
            log_level=config.log_level,
            error_log=config.error_log,
            log_config=config.log_config,
            json_format=config.access_log_format == "json",
        )
    except LogConfigError as exc:
        return _fail(prog, str(exc), 2)
    if config.check_config:
        return check_config(config, prog)
    if config.certfile:
        from sockweb.server.tls import TLSConfigError, build_ssl_context

        try:  # fail before binding anything, with the setting's name rather than an OpenSSL code
            build_ssl_context(config)
        except TLSConfigError as exc:
            return _fail(prog, str(exc), 1)
    from sockweb.server.arbiter import STATE_ENV, Arbiter
    from sockweb.server.handover import HANDOVER_ENV

    wants_master = config.workers > 1 or config.max_requests > 0
    if HANDOVER_ENV in os.environ:
        if wants_master:  # a reload of one process: its sockets are not a master's (one per slot)
            log.error("a reload cannot switch to --workers N or --max-requests: restart the server")
            return 1
        return serve_single(config, argv, cwd)
    if wants_master or STATE_ENV in os.environ:
        return Arbiter(config, argv=list(argv), cwd=cwd).run()
    return serve_single(config, argv, cwd)
