"""sockweb.framework: the Flask-style App on the toolkit.

``from sockweb.framework import App, request`` (or ``from sockweb import ...``). The modules, one concept
each: :mod:`.app` (the App and its dispatch), :mod:`.blueprints`, :mod:`.ctx` and :mod:`.globals`
(contexts on ContextVar and the proxies), :mod:`.config`, :mod:`.sessions`, :mod:`.templating`,
:mod:`.json`, :mod:`.helpers`, :mod:`.wrappers` (Request/Response), :mod:`.cli` (``sockweb routes``).
"""

from __future__ import annotations

from .app import App
from .blueprints import Blueprint
from .globals import current_app, g, request, session
from .helpers import (
    abort,
    make_response,
    redirect,
    send_file,
    send_from_directory,
    stream_with_context,
    url_for,
)
from .json import jsonify
from .templating import render_template, render_template_string
from .wrappers import Request, Response

__all__ = [
    "App",
    "Blueprint",
    "Request",
    "Response",
    "abort",
    "current_app",
    "g",
    "jsonify",
    "make_response",
    "redirect",
    "render_template",
    "render_template_string",
    "request",
    "send_file",
    "send_from_directory",
    "session",
    "stream_with_context",
    "url_for",
]
