"""SharedDataMiddleware: folders, single files and package data under URL prefixes; the rest to the app."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from wsgiref.validate import validator

import pytest

from sockweb.web.middleware.shared_data import SharedDataMiddleware
from sockweb.web.testing import Client


def _app(environ: dict[str, Any], start_response: Any) -> Any:
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"APP"]


@pytest.fixture
def client(tmp_path: Path) -> Client:
    (tmp_path / "äöü").write_text("FOUND")
    (tmp_path / "a.txt").write_text("A")
    (tmp_path / "sub").mkdir()
    single = tmp_path / "single.css"
    single.write_text("body{}")
    app = SharedDataMiddleware(
        _app,
        [("/files", tmp_path), ("/one.css", single), ("/pkg", ("sockweb.web", "middleware"))],
        cache_timeout=60,
    )
    return Client(validator(app))


def test_files_are_served_with_type_and_cache(client: Client) -> None:
    response = client.get("/files/a.txt")
    assert response.status_code == 200 and response.get_data() == b"A"
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert "max-age=60" in response.headers["Cache-Control"]
    assert client.get("/files/%C3%A4%C3%B6%C3%BC").get_data() == b"FOUND"
    assert client.get("/one.css").get_data() == b"body{}"
    assert b"SharedDataMiddleware" in client.get("/pkg/shared_data.py").get_data()


@pytest.mark.parametrize("path", ["/missing", "/files/missing", "/files/sub/", "/pkg/"])
def test_everything_else_goes_to_the_app(client: Client, path: str) -> None:
    assert client.get(path).get_data() == b"APP"


def test_escapes_are_refused_not_passed(client: Client) -> None:
    response = client.get("/files/..%2f..%2fetc/passwd")
    assert response.status_code == 404 and response.get_data() != b"APP"


def test_file_loader_and_disallow(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x")
    name, opener = SharedDataMiddleware(None, {}).get_file_loader(str(tmp_path / "f"))(None)
    assert name == "f" and opener is not None
    with opener() as file:
        assert file.read() == b"x"
    with pytest.raises(TypeError):
        SharedDataMiddleware(None, {}, disallow="*.py")  # type: ignore[arg-type]
