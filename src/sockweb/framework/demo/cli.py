"""``sockweb demo``: run Shortly on the real sockweb server.

    sockweb demo [--host 127.0.0.1] [--port 8000] [--db PATH | --redis URL] [--workers N] [--access-log]

The storage is opened (and the SQLite file created) before the server starts, so a bad ``--db`` path or
an unreachable Redis is one error line and exit status 1, not a failure in every worker. The choice is
also put in the environment (``SHORTLY_DB`` / ``SHORTLY_REDIS_URL``) because with ``--workers N`` each
worker process builds its own app with ``create_app()``, as ``sockweb serve`` would.

The server is imported inside :func:`main` only: the framework layer must not depend on the server at
import time.
"""

from __future__ import annotations

import argparse
import os
import sys

from .storage import StorageError, default_db_path, open_storage

__all__ = ["main"]

APP_FACTORY = "sockweb.framework.demo.app:create_app()"


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Run Shortly, the URL shortener demo, on the sockweb server.",
        epilog=f"Links are kept in SQLite at {default_db_path()} unless --db or --redis says otherwise.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    store = parser.add_mutually_exclusive_group()
    store.add_argument("--db", metavar="PATH", help="SQLite database file (created on first run)")
    store.add_argument(
        "--redis", metavar="URL", help="keep links in Redis instead, e.g. redis://localhost:6379/0"
    )
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--access-log", action="store_true", help="log each request to stdout")
    return parser


def _fail(prog: str, message: str, code: int) -> int:
    print(f"{prog}: error: {message}", file=sys.stderr)
    return code


def main(argv: list[str], prog: str = "sockweb demo") -> int:
    """Entry point of ``sockweb demo``; returns the exit status."""
    parser = build_parser(prog)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    if not 0 <= args.port <= 65535:
        return _fail(prog, f"--port must be from 0 to 65535, got {args.port}", 2)
    if args.workers < 1:
        return _fail(prog, f"--workers must be at least 1, got {args.workers}", 2)
    try:
        storage = open_storage(args.db, args.redis)
    except StorageError as exc:
        return _fail(prog, str(exc), 1)
    where = args.redis or str(getattr(storage, "path", ""))
    os.environ["SHORTLY_REDIS_URL" if args.redis else "SHORTLY_DB"] = where
    storage.close()
    return _serve(args, prog, where)


def _serve(args: argparse.Namespace, prog: str, where: str) -> int:
    from sockweb.server.binds import BindError, create_sockets, describe
    from sockweb.server.config import Config, ConfigError
    from sockweb.server.logconfig import configure_logging

    host = f"[{args.host}]" if ":" in args.host else args.host
    try:
        config = Config(
            app=APP_FACTORY,
            bind=(f"{host}:{args.port}",),
            workers=args.workers,
            access_log="-" if args.access_log else None,
        )
    except ConfigError as exc:
        return _fail(prog, str(exc), 2)
    configure_logging(log_level="warning", error_log=None, log_config=None)
    try:
        sockets = create_sockets(config)
    except BindError as exc:
        return _fail(prog, str(exc), 1)
    if args.workers > 1:
        from sockweb.server.arbiter import Arbiter

        # The arbiter serves the sockets bound here: a taken port is reported above, and the line below
        # is true as soon as it is printed.
        print(
            f"Shortly running on http://{describe(sockets[0])} ({args.workers} workers; links in {where})",
            flush=True,
        )
        return Arbiter(config, argv=[], sockets=sockets).run()

    from sockweb.server.runner import serve

    from .app import create_app

    app = create_app()
    try:
        print(f"Shortly running on http://{describe(sockets[0])} (links in {where})", flush=True)
        return serve(config, app=app, sockets=sockets)
    finally:
        app.extensions["shortly"].close()
