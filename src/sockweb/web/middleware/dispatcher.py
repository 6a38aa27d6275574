"""DispatcherMiddleware: several WSGI applications under one, each mounted at a path prefix.

Strategy: the longest mounted prefix that is a whole-segment prefix of PATH_INFO wins (``/app`` serves
``/app`` and ``/app/x``, never ``/apple``); the matched part moves from PATH_INFO to SCRIPT_NAME, as
PEP 3333 describes for mounting, so the mounted application builds its URLs under the prefix. Anything
else goes to the default application.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["DispatcherMiddleware"]

WSGIEnvironment = dict[str, Any]
WSGIApplication = Callable[[WSGIEnvironment, Callable[..., Any]], Iterable[bytes]]


class DispatcherMiddleware:
    """``DispatcherMiddleware(frontend, {"/api": api_app, "/admin": admin_app})``."""

    def __init__(self, app: WSGIApplication, mounts: Mapping[str, WSGIApplication] | None = None) -> None:
        self.app = app
        self.mounts: dict[str, WSGIApplication] = {
            prefix.rstrip("/"): mounted for prefix, mounted in (mounts or {}).items()
        }

    def __call__(self, environ: WSGIEnvironment, start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        script, rest = path, ""
        # Walk back one segment at a time: the first hit is the longest mounted prefix.
        while True:
            app = self.mounts.get(script)
            if app is not None:
                break
            if "/" not in script:
                app, script, rest = self.app, "", path
                break
            script, last = script.rsplit("/", 1)
            rest = f"/{last}{rest}"
        environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + script
        environ["PATH_INFO"] = rest
        return app(environ, start_response)
