"""Real Flask extensions from PyPI (Flask-Login, Flask-WTF, Flask-SQLAlchemy) run through sockweb.flask_patch.

Each example app in ``apps/`` imports the patch first and asserts its own behaviour; it runs in a fresh
interpreter, with the real Flask installed alongside (the case the patch must get right). The same app with
the patch line removed runs on the real Flask too, which keeps the examples themselves honest. An app that
does not run on sockweb yet is a strict xfail naming the missing piece: once the piece lands the test fails
until the marker goes, so docs/flask_patch.md's table of working extensions stays true.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

APPS = Path(__file__).resolve().parent / "apps"
SRC = str(Path(__file__).resolve().parents[2] / "src")
PATCH_LINE = "import sockweb.flask_patch"

# app -> (distribution module it needs, why it does not run on sockweb yet or None)
EXTENSIONS = {
    "login_app": ("flask_login", None),
    "wtf_app": ("flask_wtf", None),
    "sqla_app": ("flask_sqlalchemy", None),
}


def run_app(path: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")]))
    return subprocess.run(
        [sys.executable, "-W", "error", str(path)], env=env, capture_output=True, text=True, timeout=120
    )


def params(xfail: bool) -> list[object]:
    out = []
    for name, (module, missing) in EXTENSIONS.items():
        marks = [pytest.mark.skipif(importlib.util.find_spec(module) is None, reason=f"needs {module}")]
        if xfail and missing:
            marks.append(pytest.mark.xfail(reason=missing, strict=True))
        out.append(pytest.param(name, marks=marks, id=name))
    return out


@pytest.mark.parametrize("name", params(xfail=True))
def test_extension_app_runs_through_the_patch(name: str) -> None:
    proc = run_app(APPS / f"{name}.py")
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-3000:]


@pytest.mark.skipif(importlib.util.find_spec("flask") is None, reason="needs the real Flask installed")
@pytest.mark.parametrize("name", params(xfail=False))
def test_extension_app_runs_on_the_real_flask(name: str, tmp_path: Path) -> None:
    source = (APPS / f"{name}.py").read_text(encoding="utf-8")
    assert PATCH_LINE in source
    plain = tmp_path / f"{name}.py"
    plain.write_text(source.replace(PATCH_LINE, "pass  #"), encoding="utf-8")
    proc = run_app(plain)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-3000:]
