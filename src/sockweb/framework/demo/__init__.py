"""Shortly, the demo application: a URL shortener built on the sockweb framework.

:mod:`.app` holds the routes and :func:`~.app.create_app`, :mod:`.storage` the SQLite and Redis link
stores, :mod:`.cli` the ``sockweb demo`` command; ``templates/`` and ``static/`` are package data.
Run it with ``sockweb demo`` (http://127.0.0.1:8000), or under any WSGI server with the factory
``sockweb.framework.demo.app:create_app()``.
"""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
