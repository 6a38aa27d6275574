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
        ("routes_no_app", "no App found"),
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
        assert capsys.readouterr().out.strip() == "No routes."
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
