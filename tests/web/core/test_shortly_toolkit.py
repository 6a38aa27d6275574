"""Werkzeug's tutorial app, Shortly, ported to the toolkit (apps/shortly_toolkit.py): in-process with the
test client, then end to end behind the real server with keep-alive."""

from __future__ import annotations

import http.client
import importlib.util
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlencode
from wsgiref.validate import validator

import pytest

from sockweb.web.testing import Client

APPS_DIR = Path(__file__).parent / "apps"


def _load_app_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("shortly_toolkit", APPS_DIR / "shortly_toolkit.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


shortly = _load_app_module()


@pytest.fixture
def client() -> Client:
    return Client(validator(shortly.create_app(shortly.MemoryStore())))


def field(page: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}">(.*?)<', page)
    assert match, page
    return match.group(1)


def test_shorten_details_follow_and_count(client: Client) -> None:
    page = client.get("/").get_data(as_text=True)
    assert '<form action="" method="post">' in page
    created = client.post("/", data={"url": "https://example.com/some/page"})
    assert (created.status_code, created.headers["Location"]) == (302, "/1+")
    details = client.get("/1+").get_data(as_text=True)
    assert (field(details, "host"), field(details, "clicks")) == ("example.com", "0")
    for clicks in ("1", "2"):
        followed = client.get("/1")
        assert (followed.status_code, followed.headers["Location"]) == (302, "https://example.com/some/page")
        assert field(client.get("/1+").get_data(as_text=True), "clicks") == clicks
    # The same URL keeps its id; another gets the next one.
    assert client.post("/", data={"url": "https://example.com/some/page"}).headers["Location"] == "/1+"
    assert client.post("/", data={"url": "http://other.example/"}).headers["Location"] == "/2+"


def test_invalid_url_is_shown_back_escaped(client: Client) -> None:
    response = client.post("/", data={"url": 'javascript:alert("x")'})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert field(page, "error") == "Enter an http:// or https:// URL."
    assert 'value="javascript:alert(&#34;x&#34;)"' in page


def test_a_target_with_markup_is_escaped_on_the_details_page(client: Client) -> None:
    location = client.post("/", data={"url": "https://x.example/<script>alert(1)</script>"}).headers[
        "Location"
    ]
    page = client.get(location).get_data(as_text=True)
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_missing_form_field_is_400_and_unknown_links_get_the_404_page(client: Client) -> None:
    assert client.post("/", data={"other": "x"}).status_code == 400
    for path in ("/nope", "/nope+", "/a/b"):
        response = client.get(path)
        assert response.status_code == 404
        assert "no such short link" in response.get_data(as_text=True)


def test_static_files_are_mounted(client: Client) -> None:
    response = client.get("/static/style.css")
    assert response.status_code == 200 and response.mimetype == "text/css"
    assert client.get("/static/../shortly_toolkit.py").status_code == 404


@pytest.fixture(scope="module")
def served(server_factory: Callable[..., Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    handle = server_factory(tmp_path_factory.mktemp("shortly"), "shortly_toolkit:from_env()", cwd=APPS_DIR)
    try:
        yield handle.wait_started()
    finally:
        handle.stop()


def test_behind_the_real_server_on_one_connection(served: Any) -> None:
    conn = http.client.HTTPConnection(served.host, served.port, timeout=20)
    try:

        def ask(method: str, path: str, body: str | None = None) -> tuple[int, str | None, str]:
            headers = {"Content-Type": "application/x-www-form-urlencoded"} if body is not None else {}
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.getheader("Location"), response.read().decode()

        status, location, _ = ask("POST", "/", urlencode({"url": "https://served.example/"}))
        assert (status, location) == (302, "/1+")
        assert ask("GET", "/1")[:2] == (302, "https://served.example/")
        status, _, page = ask("GET", "/1+")
        assert (status, field(page, "clicks")) == (200, "1")
        assert ask("GET", "/static/style.css")[0] == 200
        assert ask("GET", "/missing")[0] == 404
    finally:
        conn.close()
