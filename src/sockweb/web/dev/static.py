"""``sockweb static [DIR] [--bind HOST:PORT]``: serve a folder with the real server.

Strategy: this module only wires two existing pieces. The toolkit's :class:`sockweb.web.static.StaticFiles`
mounted at ``/`` does all the file work: MIME types, ETag / Last-Modified / 304, Range / 206, HEAD,
``index.html`` for folders and a listing page (``render_listing``) for folders without one, its 404 page,
``wsgi.file_wrapper``, and the refusal of traversal (``..``, ``%2e%2e``, backslashes, NUL, symlinks leaving
the root) with 404. Hidden files and folders (``.env``, ``.git/``, any path segment starting with a dot)
answer the same 404 and are not listed unless ``--dotfiles allow``: serving the current folder must not
publish its secrets. The server is :func:`sockweb.server.runner.serve`, so keep-alive and sendfile work as
in production.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

__all__ = ["build_app", "main"]

Environ = dict[str, Any]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]


def build_app(root: str, dotfiles: str = "deny") -> WSGIApp:
    """The WSGI app serving ``root``: the toolkit's static files with listings and its 404 page."""
    from sockweb.web.static import StaticFiles

    app: WSGIApp = StaticFiles(None, {"/": os.path.abspath(root)}, listing=True, dotfiles=dotfiles)
    return app


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Serve a folder over HTTP with the sockweb server: files with caching and ranges, "
        "a listing for folders without index.html.",
    )
    parser.add_argument(
        "directory", nargs="?", default=".", metavar="DIR", help="folder to serve (default: .)"
    )
    parser.add_argument(
        "--bind",
        "-b",
        default="127.0.0.1:8000",
        metavar="HOST:PORT",
        help="address (default: 127.0.0.1:8000)",
    )
    parser.add_argument(
        "--dotfiles",
        choices=("deny", "allow"),
        default="deny",
        help="hidden files and folders (names starting with a dot, e.g. .env, .git/): 'deny' answers "
        "404 as for a missing file and leaves them out of listings (default); 'allow' serves them",
    )
    parser.add_argument(
        "--access-log", metavar="FILE", help="access log file ('-' for stdout); off by default"
    )
    return parser


def main(argv: Sequence[str], prog: str = "sockweb static") -> int:
    """Entry point of ``sockweb static``."""
    from sockweb.server.config import Config, ConfigError
    from sockweb.server.runner import serve

    from . import announce, configure_dev_logging, listen_or_status

    options = _parser(prog).parse_args(list(argv))
    root = os.path.abspath(options.directory)
    if not os.path.isdir(root):
        print(f"{prog}: error: not a directory: {options.directory}", file=sys.stderr)
        return 2
    try:
        config = Config(bind=(options.bind,), access_log=options.access_log, graceful_timeout=2.0)
    except ConfigError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    configure_dev_logging(config)
    app = build_app(root, options.dotfiles)
    sockets = listen_or_status(config, prog)
    if isinstance(sockets, int):
        return sockets
    print(f" * Serving {root}", flush=True)
    announce(sockets, None)
    return serve(config, app, sockets)
