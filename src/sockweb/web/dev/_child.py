"""The reloader's child: serve inherited sockets, report imported files, survive a broken application.

Strategy: ``python -m sockweb.web.dev._child`` reads what to serve from the ``SOCKWEB_DEV_CHILD``
environment variable written by the parent (:mod:`.reloader`): the listening socket fds, the report socket
fd, and either an application (``MODULE:APP`` plus the ``sockweb serve`` arguments) or a script / module to
run again (``run_simple`` from a user's ``__main__``). It loads the application with the full traceback
kept; when that fails (a syntax error, an exception at import) it serves a page showing that traceback on
every request instead of exiting, because a child that dies leaves the browser with a refused
connection and the user with a terminal to read. It reports the imported module files to the parent, and
the files of the failing traceback, so fixing the error is what triggers the next restart.

A script run again calls :func:`sockweb.web.dev.run_simple`, which finds the :class:`ChildContext` left
here by :func:`take_context` and serves on the inherited sockets instead of binding.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import html
import importlib
import importlib.util
import json
import logging
import os
import runpy
import signal
import socket
import sys
import threading
import traceback
from collections.abc import Callable, Iterable
from typing import Any

from .reloader import CHILD_ENV, encode_report, excluded, module_files, watchable

__all__ = ["ChildContext", "error_app", "main", "take_context"]

log = logging.getLogger("sockweb.web.dev.reloader")

Environ = dict[str, Any]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]


class ChildContext:
    """The inherited sockets and the report channel of this child process."""

    def __init__(self, fds: list[int], report_fd: int) -> None:
        self.sockets = [socket.socket(fileno=fd) for fd in fds]
        self.channel = socket.socket(fileno=report_fd)
        self.reported: set[str] = set()
        #: fnmatch patterns of files never reported (run_simple's ``exclude_patterns``)
        self.exclude: tuple[str, ...] = ()
        self.lock = threading.Lock()
        self.serving = False

    def report(self, extra: Iterable[str] = ()) -> None:
        """Send the module files (and ``extra`` files) not sent yet."""
        with self.lock:
            paths = (module_files() | {os.path.abspath(p) for p in extra if watchable(p)}) - self.reported
            if self.exclude:
                paths = {p for p in paths if not excluded(p, self.exclude)}
            if not paths:
                return
            try:
                self.channel.sendall(encode_report(sorted(paths)))
            except OSError:
                return
            self.reported |= paths

    def start_lifeline(self) -> None:
        """Report lazily imported modules every second; stop this process when the parent goes away."""
        threading.Thread(target=self._lifeline, name="sockweb-reload-lifeline", daemon=True).start()

    def _lifeline(self) -> None:
        self.channel.settimeout(1.0)
        while True:
            try:
                data = self.channel.recv(1)
            except TimeoutError:
                self.report()
                continue
            except OSError:
                data = b""
            if not data:  # parent gone (or it closed the channel): stop serving
                os.kill(os.getpid(), signal.SIGTERM)
                return


_context: list[ChildContext] = []  # filled by main() in the child process only


def take_context() -> ChildContext | None:
    """The child context, once: run_simple serves on it instead of binding a new socket."""
    if _context and not _context[0].serving:
        _context[0].serving = True
        return _context[0]
    return None


def _failure_files(exc: BaseException) -> set[str]:
    """The files of the failing traceback, through the chain of causes (a factory's own error)."""
    files: set[str] = set()
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        files.update(frame.filename for frame in _frames(current))
        if isinstance(current, SyntaxError) and current.filename:
            files.add(current.filename)
        current = current.__cause__ or current.__context__
    return {f for f in files if watchable(f)}


def _is_machinery(filename: str) -> bool:
    """Frames of this module, the server's app loader, runpy and the import system: noise above the
    user's failing line."""
    from sockweb.server import loader

    return (
        filename in (__file__, loader.__file__)
        or filename.startswith("<frozen ")
        or os.path.basename(os.path.dirname(filename)) == "importlib"
        or os.path.basename(filename) == "runpy.py"
    )


def format_user_traceback(exc: BaseException) -> str:
    """The traceback of a failed import or run, without the loading machinery's frames.

    The server's loader reports a failing factory (or a missing name) as an ``AppLoadError`` raised
    ``from None``: its one-line message comes first, then the user's own exception, which it keeps as
    ``__context__``, when that went through the user's code (a factory that raised).
    """
    from sockweb.server.loader import AppLoadError

    if not isinstance(exc, AppLoadError):
        return _format_without_machinery(exc)
    text = f"{exc}\n"
    inner = exc.__cause__ or exc.__context__
    if inner is not None and any(not _is_machinery(f.filename) for f in _frames(inner)):
        text += "\n" + _format_without_machinery(inner)
    return text


def _frames(exc: BaseException) -> traceback.StackSummary:
    return traceback.extract_tb(exc.__traceback__)


def _format_without_machinery(exc: BaseException) -> str:
    summary = traceback.TracebackException.from_exception(exc)
    summary.stack = traceback.StackSummary.from_list(
        [f for f in summary.stack if not _is_machinery(f.filename)]
    )
    return "".join(summary.format())


def error_app(title: str, text: str) -> WSGIApp:
    """A WSGI app answering 500 with ``text`` (a traceback) on a small HTML page, to every request."""
    page = (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>"
        "body{margin:0;font:15px/1.45 system-ui,sans-serif;color:#1d232b}"
        "header{background:#b3261e;color:#fff;padding:18px 28px}h1{margin:0;font-size:22px}"
        "main{padding:10px 28px}pre{background:#f6f7f9;border:1px solid #d9dee4;border-radius:6px;"
        "padding:12px;overflow-x:auto;font:13px/1.5 ui-monospace,Menlo,Consolas,monospace}"
        "</style></head><body>"
        f"<header><h1>{html.escape(title)}</h1><p>The development server keeps running: fix the error "
        "and save, the application is reloaded automatically.</p></header>"
        f'<main><pre id="traceback">{html.escape(text)}</pre></main></body></html>\n'
    ).encode()

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response(
            "500 INTERNAL SERVER ERROR",
            [
                ("Content-Type", "text/html; charset=utf-8"),
                ("Content-Length", str(len(page))),
                ("Cache-Control", "no-store"),
            ],
        )
        return [page]

    return app


def _load(spec: str, factory: bool) -> WSGIApp:
    """Import the module ourselves first, so a failure keeps its whole traceback, then resolve ``spec``."""
    from sockweb.server.loader import load_app

    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    importlib.import_module(spec.partition(":")[0])
    return load_app(spec, factory=factory)


def _module_origin(spec: str) -> str | None:
    with contextlib.suppress(Exception):
        found = importlib.util.find_spec(spec.partition(":")[0])
        return found.origin if found is not None else None
    return None


def _serve_app(ctx: ChildContext, payload: dict[str, Any]) -> int:
    from sockweb.server.config import load_config
    from sockweb.server.runner import serve

    from . import DEV_GRACEFUL_TIMEOUT, configure_dev_logging
    from .debug import attach_debugger

    config = load_config(payload["argv"], prog="sockweb serve")
    # a reload should not wait half a minute for a stuck request (the parent kills after STOP_GRACE anyway)
    config = dataclasses.replace(config, graceful_timeout=min(config.graceful_timeout, DEV_GRACEFUL_TIMEOUT))
    configure_dev_logging(config)
    app: WSGIApp
    try:
        app = _load(config.app, config.factory)
    except Exception as exc:
        text = format_user_traceback(exc)
        log.error("Cannot load the application %s:\n%s", config.app, text)
        origin = _module_origin(config.app)
        ctx.report(_failure_files(exc) | ({origin} if origin else set()))
        app = error_app(f"Cannot load {config.app}", text)
    else:
        if config.debug:
            app = attach_debugger(app, evalex=True)
    ctx.report()
    ctx.start_lifeline()
    ctx.serving = True
    return serve(config, app, ctx.sockets)


def _run_program(ctx: ChildContext, kind: str, target: str, args: list[str]) -> int:
    sys.argv = [target, *args]
    try:
        if kind == "module":
            runpy.run_module(target, run_name="__main__", alter_sys=True)
        else:
            sys.path.insert(0, os.path.dirname(target))
            runpy.run_path(target, run_name="__main__")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except Exception as exc:
        if ctx.serving:
            raise
        from sockweb.server.config import Config
        from sockweb.server.runner import serve

        text = format_user_traceback(exc)
        log.error("The program failed before serving:\n%s", text)
        ctx.report(_failure_files(exc) | ({target} if kind == "script" else set()))
        ctx.start_lifeline()
        ctx.serving = True
        return serve(
            Config(graceful_timeout=2.0), error_app("Cannot start the application", text), ctx.sockets
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m sockweb.web.dev._child`` (started by the reloader, not by hand)."""
    raw = os.environ.pop(CHILD_ENV, None)
    if raw is None:
        print("sockweb.web.dev._child is started by the reloader", file=sys.stderr)
        return 2
    payload: dict[str, Any] = json.loads(raw)
    ctx = ChildContext(payload["fds"], payload["report_fd"])
    _context.append(ctx)
    parser = argparse.ArgumentParser(prog="sockweb.web.dev._child")
    parser.add_argument("--script")
    parser.add_argument("--module")
    parser.add_argument("args", nargs="*")
    options = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if options.module:
        return _run_program(ctx, "module", options.module, options.args)
    if options.script:
        return _run_program(ctx, "script", options.script, options.args)
    return _serve_app(ctx, payload)


if __name__ == "__main__":
    # run through the importable module, not this ``__main__`` copy: run_simple looks for the context there
    from sockweb.web.dev._child import main as child_main

    sys.exit(child_main())
