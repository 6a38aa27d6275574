"""``sockweb serve --debug`` (with and without the reloader) and ``run_simple(use_debugger=True)`` on a
framework App with a failing view: the debugger page shows the view's traceback; without --debug the
App answers its own 500 page."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ._proc import request, running

LOCAL_VALUE = "VIEW-LOCAL-7f3a"

APP_SOURCE = textwrap.dedent(
    f"""
    from sockweb.framework import App

    app = App(__name__)

    @app.get("/")
    def index():
        return "fine"

    @app.get("/boom")
    def failing_view():
        secret_in_view = "{LOCAL_VALUE}"
        raise KeyError("missing thing")
    """
)


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    (tmp_path / "debugapp.py").write_text(APP_SOURCE)
    return tmp_path


@pytest.mark.parametrize("reload", [False, True], ids=["serve", "reloader-child"])
def test_serve_debug_shows_the_views_traceback(app_dir: Path, reload: bool) -> None:
    args = ["-m", "sockweb", "serve", "--debug", "debugapp:app", "--bind", "127.0.0.1:0"]
    with running([*args, "--reload"] if reload else args, cwd=app_dir) as (_, url):
        page = request(url, "/boom")
        assert page.status == 500
        assert "KeyError" in page.text and "failing_view" in page.text and LOCAL_VALUE in page.text
        assert request(url, "/").text == "fine"


def test_without_the_debugger_the_app_answers_its_own_500(app_dir: Path) -> None:
    (app_dir / "serve.py").write_text(
        "from sockweb.web.dev import run_simple\nimport debugapp\nrun_simple('127.0.0.1', 0, debugapp.app)\n"
    )
    with running(["serve.py"], cwd=app_dir) as (_, url):
        page = request(url, "/boom")
        assert page.status == 500 and "Internal Server Error" in page.text
        assert LOCAL_VALUE not in page.text and "failing_view" not in page.text


def test_run_simple_with_the_debugger_debugs_an_app(app_dir: Path) -> None:
    (app_dir / "serve.py").write_text(
        "from sockweb.web.dev import run_simple\nimport debugapp\n"
        "run_simple('127.0.0.1', 0, debugapp.app, use_debugger=True)\n"
    )
    with running(["serve.py"], cwd=app_dir) as (_, url):
        page = request(url, "/boom")
        assert page.status == 500 and "failing_view" in page.text and LOCAL_VALUE in page.text
