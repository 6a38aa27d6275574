"""``sockweb routes MODULE:APP``."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from sockweb.framework.cli import LoadError, load_app, main

APP_SOURCE = textwrap.dedent(
    """
    from sockweb.framework import App, Blueprint

    app = App(__name__)
    bp = Blueprint("admin", __name__, url_prefix="/admin")

    @app.get("/")
    def index():
        return "i"

    @app.route("/items/<int:id>", methods=["GET", "PUT", "DELETE"])
    def item(id):
        return "x"

    @bp.post("/users")
    def users():
        return "u"

    app.register_blueprint(bp)

    def create_app(name="made"):
        made = App(name)
        made.add_url_rule("/made", "made", lambda: "m")
        return made

    not_an_app = 42
    """
)


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "routes_demo_app.py").write_text(APP_SOURCE)
    (tmp_path / "routes_two_apps.py").write_text(
        "from sockweb.framework import App\na = App('a')\nb = App('b')\n"
    )
    (tmp_path / "routes_no_app.py").write_text("x = 1\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in ("routes_demo_app", "routes_two_apps", "routes_no_app"):
        sys.modules.pop(name, None)


def test_routes_table(project, capsys) -> None:
    assert main(["routes_demo_app:app"], prog="sockweb routes") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["Endpoint", "Methods", "Rule"]
    assert set(lines[1]) <= {"-", " "}
    rows = [line.split(None, 1) for line in lines[2:]]
    assert [row[0] for row in rows] == ["admin.users", "index", "item", "static"]
    item = next(line for line in lines if line.startswith("item"))
    assert "DELETE, GET, PUT" in item and "/items/<int:id>" in item and "HEAD" not in item


def test_routes_options(project, capsys) -> None:
    assert main(["routes_demo_app", "--sort", "rule", "--all-methods"]) == 0
    out = capsys.readouterr().out
    body = out.splitlines()[2:]
    assert [line.split()[-1] for line in body] == sorted(line.split()[-1] for line in body)
    # the App answers OPTIONS on every rule (automatic options), so --all-methods lists it
    assert "HEAD" in out and "OPTIONS" in out.splitlines()[2]
    assert main(["routes_demo_app:create_app('other')"]) == 0
    assert "/made" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("routes_missing_module:app", "cannot import"),
        ("routes_demo_app:missing", "no attribute"),
        ("routes_demo_app:not_an_app", "not a sockweb App"),
        ("routes_two_apps", "several Apps"),
        ("routes_no_app", "no App"),
        ("routes_demo_app:create_app(x)", "literals"),
        (":app", "expected MODULE:APP"),
    ],
)
def test_load_errors(project, capsys, spec, message) -> None:
    with pytest.raises(LoadError, match=message):
        load_app(spec)
    assert main([spec]) == 2
    assert message in capsys.readouterr().err


def test_empty_app(project, capsys) -> None:
    (project / "routes_empty.py").write_text(
        "from sockweb.framework import App\napp = App('e', static_folder=None)\n"
    )
    try:
        assert main(["routes_empty:app"]) == 0
        assert capsys.readouterr().out.strip() == "No routes were registered."
    finally:
        sys.modules.pop("routes_empty", None)


def test_through_the_sockweb_command(project) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sockweb", "routes", "routes_demo_app:app"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=project,
    )
    assert proc.returncode == 0, proc.stderr
    assert "admin.users" in proc.stdout and "/admin/users" in proc.stdout


def test_app_cli_user_command_blueprint_groups_and_runner(app) -> None:
    import click

    from sockweb.framework import Blueprint, current_app

    @app.cli.command("hello")
    @click.argument("who")
    def hello(who):
        click.echo(f"hello {who} from {current_app.name}")

    grouped = Blueprint("grouped", __name__)
    merged = Blueprint("merged", __name__, cli_group=None)
    empty = Blueprint("empty", __name__)

    @grouped.cli.command("g")
    def g_command():
        click.echo("g")

    @merged.cli.command("m")
    def m_command():
        click.echo("m")

    app.register_blueprint(grouped)
    app.register_blueprint(merged)
    app.register_blueprint(empty)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["hello", "you"]).output == "hello you from test_app\n"
    assert runner.invoke(args=["grouped", "g"]).output == "g\n"
    assert runner.invoke(args=["m"]).output == "m\n"
    assert runner.invoke(args=["empty", "--help"]).exit_code == 2


def test_framework_group_finds_the_app_from_the_environment(project, monkeypatch) -> None:
    from click.testing import CliRunner

    from sockweb.framework.cli import FrameworkGroup, ScriptInfo

    for name in ("SOCKWEB_APP", "FLASK_APP", "SOCKWEB_DEBUG", "FLASK_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()
    monkeypatch.setenv("FLASK_APP", "routes_demo_app:app")
    assert "admin.users" in runner.invoke(FrameworkGroup(), ["routes"]).output
    monkeypatch.setenv("SOCKWEB_APP", "routes_demo_app:create_app('first')")
    assert "/made" in runner.invoke(FrameworkGroup(), ["routes"]).output
    monkeypatch.setenv("SOCKWEB_DEBUG", "1")
    assert ScriptInfo(app_import_path="routes_demo_app:app").load_app().debug is True


def test_load_dotenv_order(tmp_path, monkeypatch) -> None:
    pytest.importorskip("dotenv")
    from sockweb.framework.cli import load_dotenv

    (tmp_path / ".flaskenv").write_text("SW_A=flaskenv\nSW_B=flaskenv\n")
    (tmp_path / ".env").write_text("SW_A=env\nSW_C=env\n")
    monkeypatch.chdir(tmp_path)
    for name in ("SW_A", "SW_B", "SW_C"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SW_C", "preset")
    assert load_dotenv()
    import os

    assert (os.environ["SW_A"], os.environ["SW_B"], os.environ["SW_C"]) == ("env", "flaskenv", "preset")
    for name in ("SW_A", "SW_B"):
        monkeypatch.delenv(name)
    assert not load_dotenv("missing", load_defaults=False)


DEBUG_APP = (
    "from sockweb.framework import App, current_app\n"
    "app = App(__name__)\n"
    "@app.get('/')\n"
    "def index():\n"
    "    return f'debug={current_app.debug}'\n"
)


@pytest.mark.parametrize(
    "args",
    [
        ["--app", "cli_debug_app", "run", "--debug"],  # Flask's order: group options first
        ["run", "--app", "cli_debug_app", "--debug"],  # the sockweb run shortcut with its own --app
        ["--app=cli_debug_app", "--debug", "run"],
    ],
)
def test_run_takes_app_and_debug_where_flask_users_type_them(tmp_path, args) -> None:
    import os
    import re
    import signal
    import time
    import urllib.request

    (tmp_path / "cli_debug_app.py").write_text(DEBUG_APP)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SOCKWEB_APP", "FLASK_APP", "SOCKWEB_DEBUG", "FLASK_DEBUG")
    }
    log = tmp_path / "err.txt"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sockweb", *args, "--no-reload", "--port", "0"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 30
        while not (match := re.search(r"Listening at http://127\.0\.0\.1:(\d+)", log.read_text())):
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        with urllib.request.urlopen(f"http://127.0.0.1:{match.group(1)}/", timeout=10) as response:
            assert response.read() == b"debug=True"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


def test_routes_and_shell_take_app_after_the_command(project, capsys, monkeypatch) -> None:
    from sockweb.cli import main as sockweb_main

    for name in ("SOCKWEB_APP", "FLASK_APP"):
        monkeypatch.delenv(name, raising=False)
    assert sockweb_main(["routes", "--app", "routes_demo_app:app"]) == 0
    assert "admin.users" in capsys.readouterr().out
    assert sockweb_main(["--app", "routes_demo_app:app", "routes", "--sort", "rule"]) == 0
    assert "/admin/users" in capsys.readouterr().out
    # the later --app wins, and an environment App never overrides an explicit one
    monkeypatch.setenv("SOCKWEB_APP", "routes_demo_app:app")
    assert sockweb_main(["-A", "routes_two_apps:a", "routes", "-A", "routes_demo_app:create_app()"]) == 0
    assert "/made" in capsys.readouterr().out
    assert sockweb_main(["--app", "routes_demo_app:create_app()", "routes"]) == 0
    assert "/made" in capsys.readouterr().out
    assert sockweb_main(["shell", "--app", "routes_demo_app:app", "--help"]) == 0


def test_top_level_usage_names_the_app_options(capsys) -> None:
    from sockweb.cli import main as sockweb_main

    assert sockweb_main(["--help"]) == 0
    assert "--app IMPORT" in capsys.readouterr().out
    assert sockweb_main(["--app"]) == 2  # the group's own message: the option needs a value
    assert "requires an argument" in capsys.readouterr().err


def test_run_exclude_patterns_are_split_like_path(monkeypatch) -> None:
    import os

    from sockweb.framework.cli import run_command

    context = run_command.make_context("run", ["--exclude-patterns", f"*/a/*{os.pathsep}*.tmp"])
    assert context.params["exclude_patterns"] == ["*/a/*", "*.tmp"]
    assert run_command.make_context("run", []).params["exclude_patterns"] is None
