"""``--debug`` debugs an App: the development server switches on the App's debug mode, so a view's
exception reaches the debugger instead of becoming the App's own 500 page. (Served through
``sockweb serve --debug`` in tests/web/dev/test_debug_app.py.)"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from sockweb.framework import App
from sockweb.web.dev.debug import DebuggedApplication, attach_debugger, enable_debug_mode
from sockweb.web.lint import LintMiddleware
from sockweb.web.static import StaticFiles

LOCAL_VALUE = "VIEW-LOCAL-7f3a"


def make_app(tmp_path: Path) -> App:
    app = App("debug_mode_app", root_path=str(tmp_path))

    @app.get("/boom")
    def failing_view() -> str:
        secret_in_view = LOCAL_VALUE  # noqa: F841 - the debugger page shows it
        raise KeyError("missing thing")

    return app


def get(app: Any, path: str = "/boom") -> tuple[int, str]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "5000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "localhost:5000",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    seen: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen.append(status)
        return lambda data: None

    body = b"".join(app(environ, start_response))
    return int(seen[-1].split()[0]), body.decode("utf-8")


# -- the protocol -----------------------------------------------------------------------------------------


def test_attach_debugger_switches_on_the_apps_debug_mode(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    assert not app.debug
    code, page = get(attach_debugger(app, pin="111-222-333"))
    assert app.debug and app.jinja_env.auto_reload
    assert code == 500 and "KeyError" in page and "failing_view" in page and LOCAL_VALUE in page


def test_the_debugger_alone_sees_only_the_apps_own_500(tmp_path: Path) -> None:
    """What --debug did before: the App answered its 500 page and the debugger had nothing to show."""
    code, page = get(DebuggedApplication(make_app(tmp_path), pin="111-222-333"))
    assert code == 500 and LOCAL_VALUE not in page and "KeyError" not in page


def test_the_app_is_found_behind_wrappers(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    wrapped = LintMiddleware(StaticFiles(app, {"/static": tmp_path}))
    assert enable_debug_mode(wrapped) == [app]
    assert app.debug
    other = make_app(tmp_path)
    assert enable_debug_mode(LintMiddleware(other.wsgi_app)) == [other]  # through a bound method


def test_a_plain_debug_attribute_is_left_alone() -> None:
    class Middleware:
        debug = "verbose logging"  # not a settable property: its meaning is its own

        def __init__(self, app: object) -> None:
            self.app = app

    looped = Middleware(None)
    looped.app = looped  # a cycle ends the walk
    assert enable_debug_mode(looped) == []
    assert looped.debug == "verbose logging"


def test_flask_apps_follow_the_same_protocol() -> None:
    flask = pytest.importorskip("flask")
    app = flask.Flask("flask_debug_mode")
    assert enable_debug_mode(app) == [app] and app.debug
