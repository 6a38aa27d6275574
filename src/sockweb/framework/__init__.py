"""sockweb.framework: the Flask-style App on the toolkit.

``from sockweb.framework import App, request`` (or ``from sockweb import ...``). The modules, one concept
each: :mod:`.app` (the App and its dispatch), :mod:`.blueprints`, :mod:`.views` (class-based views),
:mod:`.ctx` and :mod:`.globals` (contexts on ContextVar and the proxies), :mod:`.config`, :mod:`.sessions`,
:mod:`.templating`, :mod:`.json`, :mod:`.helpers`, :mod:`.wrappers` (Request/Response), :mod:`.signals`
(blinker), :mod:`.sync` (coroutine views), :mod:`.cli` (``sockweb run``/``shell``/``routes`` on click).
"""

from __future__ import annotations

from .app import App
from .blueprints import Blueprint
from .ctx import (
    after_this_request,
    copy_current_request_context,
    has_app_context,
    has_request_context,
)
from .globals import current_app, g, request, session
from .helpers import (
    abort,
    flash,
    get_flashed_messages,
    make_response,
    redirect,
    send_file,
    send_from_directory,
    stream_with_context,
    url_for,
)
from .json import jsonify
from .signals import (
    appcontext_popped,
    appcontext_pushed,
    appcontext_tearing_down,
    before_render_template,
    got_request_exception,
    message_flashed,
    request_finished,
    request_started,
    request_tearing_down,
    template_rendered,
)
from .templating import (
    get_template_attribute,
    render_template,
    render_template_string,
    stream_template,
    stream_template_string,
)
from .wrappers import Request, Response

__all__ = [
    "App",
    "Blueprint",
    "Request",
    "Response",
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
