"""app.logger: propagates to configured handlers, falls back to wsgi.errors only when nothing would print."""

from __future__ import annotations

import io
import logging
import sys

import pytest

from sockweb.framework import App
from sockweb.framework.logging import default_handler, has_level_handler, wsgi_errors_stream


@pytest.fixture
def bare_root(pytestconfig):
    """No handler on the root logger (pytest's capture handler included) for the test's duration."""
    saved = logging.root.handlers[:]
    logging.root.handlers = []
    plugin = pytestconfig.pluginmanager.unregister(name="logging-plugin")
    yield
    if plugin is not None:
        pytestconfig.pluginmanager.register(plugin, "logging-plugin")
    logging.root.handlers[:] = saved


@pytest.fixture
def fresh_app(tmp_path, bare_root):
    logger = logging.getLogger("sockweb_logging_test")
    logger.handlers = []
    yield App("sockweb_logging_test", root_path=str(tmp_path))
    logger.handlers = []
    logger.setLevel(logging.NOTSET)


def test_fallback_handler_only_when_nothing_handles(fresh_app) -> None:
    assert fresh_app.logger.handlers == [default_handler]
    assert fresh_app.logger.level == logging.NOTSET


def test_debug_sets_level(fresh_app) -> None:
    fresh_app.debug = True
    assert fresh_app.logger.level == logging.DEBUG


def test_configured_root_gets_the_records(tmp_path, bare_root) -> None:
    logging.root.addHandler(logging.StreamHandler(io.StringIO()))
    app = App("sockweb_logging_test2", root_path=str(tmp_path))
    assert app.logger.handlers == []


def test_fallback_stands_aside_for_a_later_handler(fresh_app) -> None:
    # Logging configured after the App was created (a server starting later): no double output.
    logger = fresh_app.logger
    fallback_out = io.StringIO()
    root_out = io.StringIO()
    logging.root.addHandler(logging.StreamHandler(root_out))

    @fresh_app.get("/")
    def index():
        logger.error("only once")
        return ""

    fresh_app.test_client().get("/", errors_stream=fallback_out)
    assert "only once" in root_out.getvalue()
    assert fallback_out.getvalue() == ""


def test_fallback_writes_to_wsgi_errors(fresh_app) -> None:
    out = io.StringIO()

    @fresh_app.get("/")
    def index():
        fresh_app.logger.error("to the request's stream")
        return ""

    fresh_app.test_client().get("/", errors_stream=out)
    assert "ERROR in test_logging: to the request's stream" in out.getvalue()
    assert wsgi_errors_stream._get_current_object() is sys.stderr  # type: ignore[attr-defined]


def test_has_level_handler(bare_root) -> None:
    logger = logging.getLogger("sockweb_level_handler_test")
    assert not has_level_handler(logger)
    handler = logging.StreamHandler(io.StringIO())
    logging.root.addHandler(handler)
    assert has_level_handler(logger)
    logger.propagate = False
    try:
        assert not has_level_handler(logger)
    finally:
        logger.propagate = True
    handler.setLevel(logging.ERROR)
    assert not has_level_handler(logger)
