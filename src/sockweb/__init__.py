"""sockweb: from sockets to web server.

The package is layered (see README.md): ``sockweb.http`` (sans-io HTTP/1.1),
``sockweb.server`` (the WSGI server), ``sockweb.web`` (the toolkit), ``sockweb.framework`` (the
Flask-style App) and ``sockweb.net`` (socket tools).

The framework's public names are re-exported here *lazily*, so ``import sockweb.http`` or running the
server never imports the framework (nor Jinja2).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "App",
    "Blueprint",
    "Request",
    "Response",
    "__version__",
    "abort",
    "after_this_request",
    "appcontext_popped",
    "appcontext_pushed",
    "appcontext_tearing_down",
    "before_render_template",
    "copy_current_request_context",
    "current_app",
    "flash",
    "g",
    "get_flashed_messages",
    "get_template_attribute",
    "got_request_exception",
    "has_app_context",
    "has_request_context",
    "jsonify",
    "make_response",
    "message_flashed",
    "redirect",
    "render_template",
    "render_template_string",
    "request",
    "request_finished",
    "request_started",
    "request_tearing_down",
    "send_file",
    "send_from_directory",
    "session",
    "stream_template",
    "stream_template_string",
    "stream_with_context",
    "template_rendered",
    "url_for",
]

if TYPE_CHECKING:  # pragma: no cover
    from sockweb.framework import (
        App,
        Blueprint,
        Request,
        Response,
        abort,
        after_this_request,
        appcontext_popped,
        appcontext_pushed,
        appcontext_tearing_down,
        before_render_template,
        copy_current_request_context,
        current_app,
        flash,
        g,
        get_flashed_messages,
        get_template_attribute,
        got_request_exception,
        has_app_context,
        has_request_context,
        jsonify,
        make_response,
        message_flashed,
        redirect,
        render_template,
        render_template_string,
        request,
        request_finished,
        request_started,
        request_tearing_down,
        send_file,
        send_from_directory,
        session,
        stream_template,
        stream_template_string,
        stream_with_context,
        template_rendered,
        url_for,
    )


def __getattr__(name: str) -> Any:
    # Every public name but the version is the framework's (tests/test_cli.py keeps the lists equal).
    if name in __all__ and name != "__version__":
        module = importlib.import_module("sockweb.framework")
        return getattr(module, name)
    raise AttributeError(f"module 'sockweb' has no attribute {name!r}")
