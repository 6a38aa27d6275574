"""url_for, redirect, abort, send_file, send_from_directory, safe_join."""

from __future__ import annotations

import io

import pytest

from sockweb.framework import (
    App,
    abort,
    redirect,
    send_file,
    send_from_directory,
    url_for,
)
from sockweb.framework.helpers import safe_join
from sockweb.web.exceptions import NotFound
from sockweb.web.routing import BuildError


@pytest.fixture
def uapp(app):
    @app.route("/items/<int:item_id>", methods=["GET", "POST"])
    def item(item_id):
        return str(item_id)

    @app.post("/items")
    def create():
        return "created"

    @app.get("/items", endpoint="list_items")
    def listing():
        return "list"

    return app


def test_url_for_in_a_request(uapp) -> None:
    with uapp.test_request_context("/", base_url="https://example.com:8443/root/"):
        assert url_for("item", item_id=3) == "/root/items/3"
        assert url_for("item", item_id=3, page=2, q="a b") == "/root/items/3?page=2&q=a%20b"
        assert url_for("item", item_id=3, _anchor="top") == "/root/items/3#top"
        assert url_for("item", item_id=3, _external=True) == "https://example.com:8443/root/items/3"
        assert url_for("item", item_id=3, _scheme="http") == "http://example.com:8443/root/items/3"
        assert url_for("create", _method="POST") == "/root/items"
        assert url_for("list_items", _method="GET") == "/root/items"
        with pytest.raises(ValueError):
            url_for("item", item_id=1, _scheme="http", _external=False)
        with pytest.raises(BuildError):
            url_for("nope")
        with pytest.raises(BuildError):
            url_for("item")


def test_url_for_outside_a_request(uapp) -> None:
    with uapp.app_context():
        with pytest.raises(RuntimeError, match="SERVER_NAME"):
            url_for("item", item_id=1)  # no host to put in the URL
        uapp.config.update(SERVER_NAME="api.test", PREFERRED_URL_SCHEME="https", APPLICATION_ROOT="/v1")
        assert url_for("item", item_id=1) == "https://api.test/v1/items/1"
        assert url_for("item", item_id=1, _external=False) == "/v1/items/1"
        assert url_for(".item", item_id=1, _external=False) == "/v1/items/1"
    with pytest.raises(RuntimeError):
        url_for("item", item_id=1)


def test_redirect(app, client) -> None:
    @app.get("/old")
    def old():
        return redirect(url_for("new"))

    @app.get("/new")
    def new():
        return "new"

    @app.post("/form")
    def form():
        return redirect("/new?a=<x>", 303)

    response = client.get("/old")
    assert response.status_code == 302 and response.headers["Location"] == "/new"
    assert "/new" in response.text
    other = client.post("/form")
    assert other.status_code == 303 and "&lt;x&gt;" in other.text
    assert client.get("/old", follow_redirects=True).text == "new"
    assert redirect("/x").status_code == 302  # usable without an app too


def test_abort_codes(app, client) -> None:
    @app.get("/<int:code>")
    def view(code):
        abort(code)

    for code in (400, 401, 403, 404, 409, 410, 418, 422, 429, 500, 503):
        assert client.get(f"/{code}").status_code == code
    with pytest.raises(LookupError):
        abort(299)


def test_send_file_path_and_object(app, client, tmp_path) -> None:
    (tmp_path / "report.txt").write_text("0123456789")

    @app.get("/path")
    def by_path():
        return send_file("report.txt", max_age=60)

    @app.get("/obj")
    def by_object():
        return send_file(io.BytesIO(b"bytes!"), mimetype="application/x-thing", download_name="t.bin")

    @app.get("/attach")
    def attach():
        return send_file(str(tmp_path / "report.txt"), as_attachment=True, download_name="r\u00e9port.txt")

    response = client.get("/path")
    assert response.data == b"0123456789" and response.mimetype == "text/plain"
    assert "max-age=60" in response.headers["Cache-Control"]
    ranged = client.get("/path", headers={"Range": "bytes=2-4"})
    assert ranged.status_code == 206 and ranged.data == b"234"
    obj = client.get("/obj")
    assert obj.data == b"bytes!" and obj.mimetype == "application/x-thing"
    disposition = client.get("/attach").headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "filename*=UTF-8''r%C3%A9port.txt" in disposition


def test_send_from_directory_refuses_escapes(app, client, tmp_path) -> None:
    public = tmp_path / "public"
    public.mkdir()
    (public / "ok.txt").write_text("ok")
    (public / "sub").mkdir()
    (public / "sub" / "deep.txt").write_text("deep")
    (tmp_path / "secret.txt").write_text("secret")
    (public / "link.txt").symlink_to(tmp_path / "secret.txt")

    @app.get("/files/<path:name>")
    def files(name):
        return send_from_directory("public", name)

    assert client.get("/files/ok.txt").data == b"ok"
    assert client.get("/files/sub/deep.txt").data == b"deep"
    for bad in ("../secret.txt", "%2e%2e/secret.txt", "sub/../../secret.txt", "link.txt", "sub", "nope"):
        assert client.get(f"/files/{bad}").status_code == 404, bad
    with app.test_request_context(), pytest.raises(NotFound):
        send_from_directory(str(public), "..\\secret.txt")


def test_safe_join_is_the_toolkits() -> None:
    # one rule for joining untrusted paths (tested with its table of hostile paths in tests/web/core)
    from sockweb.web import security

    assert safe_join is security.safe_join
    assert safe_join("/base", "a/b.txt") == "/base/a/b.txt"
    assert safe_join("/base", "") == "/base"
    for bad in ("../x", "a/../b.txt", "/etc/passwd", "a\\b", "a\x00b", "..", "%2e%2e/x"):
        assert safe_join("/base", bad) is None


def test_helpers_need_contexts() -> None:
    with pytest.raises(RuntimeError):
        send_file(io.BytesIO(b""))
    from sockweb.framework import make_response

    with pytest.raises(RuntimeError):
        make_response("x")
    assert isinstance(App("x").make_response("x"), App.response_class)


def test_url_for_accepts_self_and_endpoint_as_values(app) -> None:
    # Regression: a URL variable named "self" collided with App.url_for's own parameter (TypeError).
    from sockweb.framework import url_for

    app.add_url_rule("/<self>", "index", lambda self: self)
    app.add_url_rule("/e/<endpoint>", "e", lambda endpoint: endpoint)
    with app.test_request_context():
        assert url_for("index", self="2") == "/2"
        assert app.url_for("e", endpoint="x") == "/e/x"


def test_abort_goes_through_the_app_aborter(app) -> None:
    from sockweb.framework import abort
    from sockweb.web.exceptions import Aborter, HTTPException

    class Teapot(HTTPException):
        code = 499

    class MyAborter(Aborter):
        pass

    class MyApp(App):
        aborter_class = MyAborter

    assert isinstance(MyApp("m").aborter, MyAborter)
    app.aborter.mapping[499] = Teapot
    with app.app_context(), pytest.raises(Teapot):
        abort(499)
    with pytest.raises(LookupError):
        abort(499)  # outside the App: the toolkit's table


def test_redirect_is_made_by_the_app(app) -> None:
    from sockweb.framework import redirect

    made = []

    def app_redirect(location, code=302):
        made.append((location, code))
        return app.response_class("moved", code, headers={"Location": location})

    app.redirect = app_redirect  # type: ignore[method-assign]
    with app.app_context():
        assert redirect("/there", 307).status_code == 307
    assert made == [("/there", 307)]
    assert redirect("/plain").headers["Location"] == "/plain"  # no App: the default redirect


def test_send_static_file_takes_a_path_object(app, tmp_path) -> None:
    import pathlib

    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "a.txt").write_text("A")
    with app.test_request_context():
        response = app.send_static_file(pathlib.PurePosixPath("a.txt"))  # type: ignore[arg-type]
        assert response.get_data() == b"A"
        response.close()
