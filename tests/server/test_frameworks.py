"""Real frameworks served unchanged: Flask and Django pages through the server."""

from __future__ import annotations

import pytest
import requests

from server.conftest import APPS_DIR

pytestmark = pytest.mark.timeout(60)


def test_flask_app(run_server):
    srv = run_server("flask_site:app", cwd=APPS_DIR)
    r = requests.get(srv.url + "/", timeout=10)
    assert r.status_code == 200 and r.text == "<h1>Flask on sockweb</h1>"
    assert r.headers["Content-Type"].startswith("text/html")
    assert requests.get(srv.url + "/json/21?x=y", timeout=10).json() == {
        "n": 21,
        "double": 42,
        "args": {"x": "y"},
    }
    r = requests.post(
        srv.url + "/form", data={"name": "ada"}, files={"upload": ("f.bin", b"\0" * 100_000)}, timeout=10
    )
    assert r.text == "hello ada, 100000 bytes"
    assert requests.get(srv.url + "/missing", timeout=10).status_code == 404


def test_django_app(run_server):
    srv = run_server("django_site.wsgi:application", cwd=APPS_DIR)
    r = requests.get(srv.url + "/hello/world/?q=%3Cb%3E", timeout=10)
    assert r.status_code == 200
    assert "<p>Hello, world! q=&lt;b&gt;</p>" in r.text
    # CommonMiddleware's APPEND_SLASH redirect.
    r = requests.get(srv.url + "/hello/world", allow_redirects=False, timeout=10)
    assert r.status_code == 301 and r.headers["Location"] == "/hello/world/"
    r = requests.post(
        srv.url + "/upload/", data=b"x" * 5000, headers={"Content-Type": "application/x-raw"}, timeout=10
    )
    assert r.text == "got 5000 bytes of application/x-raw"
    assert requests.get(srv.url + "/nope/", timeout=10).status_code == 404
