"""The framework's static routes (app and blueprint) hide dotfiles, as `sockweb static` does."""

from __future__ import annotations

from pathlib import Path

import pytest

from sockweb.framework import App, Blueprint

HIDDEN = ["/.env", "/.git/config", "/sub/.secret", "/%2eenv", "/sub/%2Esecret"]


def make(tmp_path: Path) -> App:
    static = tmp_path / "static"
    (static / ".git").mkdir(parents=True)
    (static / "sub").mkdir()
    (static / ".env").write_text("SECRET=1")
    (static / ".git" / "config").write_text("[core]")
    (static / "sub" / ".secret").write_text("x")
    (static / "style.css").write_text("body {}")
    app = App("hiddenapp", root_path=str(tmp_path))
    app.register_blueprint(Blueprint("bp", "hiddenbp", static_folder=str(static), url_prefix="/bp"))
    return app


@pytest.mark.parametrize("prefix", ["/static", "/bp/static"])
@pytest.mark.parametrize("path", HIDDEN)
def test_hidden_files_are_404(tmp_path: Path, prefix: str, path: str) -> None:
    client = make(tmp_path).test_client()
    resp = client.get(prefix + path)
    assert resp.status_code == 404
    assert b"SECRET" not in resp.get_data()


@pytest.mark.parametrize("prefix", ["/static", "/bp/static"])
def test_plain_files_are_served(tmp_path: Path, prefix: str) -> None:
    client = make(tmp_path).test_client()
    assert client.get(prefix + "/style.css").get_data() == b"body {}"
