"""The App's logger: ``app.logger`` is ``logging.getLogger(app.name)``, with a fallback handler.

Strategy: logging stays the deployment's business. When something up the logger hierarchy already
handles the App's level (the server's error log on the root logger, under ``sockweb serve`` or the
development server, or a handler the user configured), the App adds no handler and its records
propagate there, in the server's format. Only a logger that would otherwise print nothing gets
:data:`default_handler`, which writes to the current request's ``wsgi.errors`` (or ``sys.stderr``
outside a request). Because logging may be configured after the App was created, the handler checks
again at each record and stands aside when another handler has appeared, so a record is never written
twice.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, TextIO

from .globals import LocalProxy, _cv_request

if TYPE_CHECKING:
    from .app import App

__all__ = ["create_logger", "default_handler", "has_level_handler", "wsgi_errors_stream"]


def _errors_stream() -> TextIO:
    """The active request's ``wsgi.errors``, or ``sys.stderr`` outside a request."""
    ctx = _cv_request.get(None)
    if ctx is not None:
        stream: TextIO = ctx.request.environ["wsgi.errors"]
        return stream
    return sys.stderr


#: a proxy to the stream :data:`default_handler` writes to: ``wsgi.errors`` in a request, else stderr
wsgi_errors_stream: TextIO = LocalProxy(_errors_stream)  # type: ignore[assignment]


def has_level_handler(logger: logging.Logger, *, ignore: logging.Handler | None = None) -> bool:
    """True when a handler on ``logger`` or an ancestor it propagates to takes its effective level."""
    level = logger.getEffectiveLevel()
    current: logging.Logger | None = logger
    while current is not None:
        if any(h.level <= level and h is not ignore for h in current.handlers):
            return True
        if not current.propagate:
            break
        current = current.parent
    return False


class _FallbackHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to :data:`wsgi_errors_stream` unless another handler up the hierarchy takes the record."""

    def handle(self, record: logging.LogRecord) -> bool:
        logger = logging.getLogger(record.name)
        if has_level_handler(logger, ignore=self):
            return False  # the record propagates to the server's (or the user's) handlers
        return super().handle(record)


#: the handler an App's logger gets when nothing else would print its records
default_handler: logging.Handler = _FallbackHandler(wsgi_errors_stream)
default_handler.setFormatter(logging.Formatter("[%(asctime)s] %(levelname)s in %(module)s: %(message)s"))


def create_logger(app: App) -> logging.Logger:
    """The App's logger, set to DEBUG in debug mode, with :data:`default_handler` when it needs one."""
    logger = logging.getLogger(app.name)
    if app.debug and not logger.level:
        logger.setLevel(logging.DEBUG)
    if not has_level_handler(logger):
        logger.addHandler(default_handler)
    return logger
