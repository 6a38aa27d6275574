"""Interoperability: bodies and headers produced by other HTTP libraries, and other frameworks' apps."""

from __future__ import annotations

import io
from http.cookies import SimpleCookie
from typing import Any
from wsgiref.validate import validator

import pytest

from sockweb.web.formparser import FormDataParser
from sockweb.web.httputil import dump_cookie, http_date, parse_cookie, parse_date, parse_range_header
from sockweb.web.multipart import encode_multipart
from sockweb.web.request import Request
from sockweb.web.response import Response
from sockweb.web.testing import Client, create_environ

werkzeug_http = pytest.importorskip("werkzeug.http")
werkzeug_formparser = pytest.importorskip("werkzeug.formparser")
werkzeug_test = pytest.importorskip("werkzeug.test")


def parse(
    body: bytes, content_type: str
) -> tuple[dict[str, list[str]], dict[str, list[tuple[str, str, bytes]]]]:
    request = Request(create_environ(method="POST", data=body, content_type=content_type))
    with request:
        files = {
            name: [(f.filename or "", f.content_type or "", f.read()) for f in request.files.getlist(name)]
            for name in request.files
        }
        return request.form.to_dict(flat=False), files


def test_urllib3_multipart_bodies() -> None:
    filepost = pytest.importorskip("urllib3.filepost")
    body, content_type = filepost.encode_multipart_formdata(
        [
            ("title", "Hello wörld"),
            ("doc", ("notes.txt", b"line\r\n--not a boundary", "text/plain")),
            ("n", "2"),
        ]
    )
    form, files = parse(body, content_type)
    assert form == {"title": ["Hello wörld"], "n": ["2"]}
    assert files == {"doc": [("notes.txt", "text/plain", b"line\r\n--not a boundary")]}


def test_browser_style_body() -> None:
    # As Chromium sends it: WebKit boundary, a quote in the file name percent-encoded (HTML spec), an
    # empty file input (filename="" and no content).
    boundary = "----WebKitFormBoundaryx8FaM0A1b2C3d4E5"
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="caption"\r\n\r\n'
        "caf\u00e9 au lait\r\n"
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="photo"; filename="my %22best%22 pic.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
        "\x89PNG\r\n\x1a\n\r\n"
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="intl"; filename="fallback.txt"; filename*=UTF-8\'\'%E2%82%AC.txt\r\n'
        "\r\n"
        "euro\r\n"
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="empty"; filename=""\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
        "\r\n"
        f"--{boundary}--\r\n"
    ).encode()
    form, files = parse(body, f"multipart/form-data; boundary={boundary}")
    assert form == {"caption": ["café au lait"]}
    # HTML's form encoder writes a quote in a file name as %22; it is decoded back
    assert files["photo"] == [('my "best" pic.png', "image/png", "\x89PNG\r\n\x1a\n".encode())]
    assert files["empty"] == [("", "application/octet-stream", b"")]
    assert files["intl"] == [("€.txt", "", b"euro")]  # RFC 8187 filename* wins over the fallback


def test_our_multipart_parses_in_werkzeug() -> None:
    body, content_type = encode_multipart(
        [("a", "1"), ("f", (b"\x00data\r\n", "naïve.bin", "application/x-y"))]
    )
    environ = create_environ(method="POST", data=body, content_type=content_type)
    _, form, files = werkzeug_formparser.parse_form_data(environ)
    try:
        assert form["a"] == "1"
        assert files["f"].filename == "naïve.bin"
        assert files["f"].read() == b"\x00data\r\n"
        assert files["f"].content_type == "application/x-y"
    finally:
        files["f"].close()


def test_werkzeug_built_multipart_parses_here() -> None:
    builder = werkzeug_test.EnvironBuilder(
        method="POST", data={"x": "y", "up": (io.BytesIO(b"content"), "u.txt", "text/plain")}
    )
    try:
        environ = builder.get_environ()
    finally:
        builder.close()
    stream = environ["wsgi.input"]
    parser = FormDataParser()
    _, form, files = parser.parse(
        stream,
        "multipart/form-data",
        int(environ["CONTENT_LENGTH"]),
        {"boundary": environ["CONTENT_TYPE"].split("boundary=")[1].strip('"')},
    )
    assert form["x"] == "y"
    assert files["up"].read() == b"content"
    files["up"].close()


@pytest.mark.parametrize("value", ["plain", "with space", 'q"uote', "semi;colon", "ünï", "a,b", "\\"])
def test_cookies_against_stdlib_and_werkzeug(value: str) -> None:
    header = dump_cookie("k", value, path=None)
    jar: SimpleCookie = SimpleCookie()
    jar.load(header)
    assert jar["k"].value.encode("latin-1").decode("utf-8") == value  # stdlib decodes octal escapes to bytes
    assert werkzeug_http.parse_cookie(header)["k"] == value
    theirs = werkzeug_http.dump_cookie("k", value, path=None)
    assert parse_cookie(theirs.encode("utf-8").decode("latin-1"))["k"] == value


@pytest.mark.parametrize(
    "value",
    ["Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "nope"],
)
def test_dates_agree_with_werkzeug(value: str) -> None:
    assert parse_date(value) == werkzeug_http.parse_date(value)
    assert http_date(1_700_000_000) == werkzeug_http.http_date(1_700_000_000)


@pytest.mark.parametrize(
    "value", ["bytes=0-499", "bytes=500-", "bytes=-200", "bytes=0-1,4-5", "bytes=5-1", "bytes=a"]
)
def test_ranges_agree_with_werkzeug(value: str) -> None:
    ours, theirs = parse_range_header(value), werkzeug_http.parse_range_header(value)
    assert (ours.ranges if ours else None) == (theirs.ranges if theirs else None)


def test_flask_app_through_our_client() -> None:
    flask = pytest.importorskip("flask")
    app = flask.Flask(__name__)
    app.secret_key = "test"

    @app.post("/login")
    def login() -> Any:
        flask.session["user"] = flask.request.form["name"]
        upload = flask.request.files["avatar"]
        flask.session["avatar"] = upload.read().decode()
        return flask.redirect("/me")

    @app.get("/me")
    def me() -> Any:
        return {"user": flask.session.get("user"), "avatar": flask.session.get("avatar")}

    client = Client(validator(app.wsgi_app))
    response = client.post(
        "/login", data={"name": "ada", "avatar": (io.BytesIO(b"png"), "a.png")}, follow_redirects=True
    )
    assert response.status_code == 200
    assert response.json == {"user": "ada", "avatar": "png"}
    assert [r.status_code for r in response.history] == [302]


def test_our_app_through_werkzeug_client() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        response = Response(f"{request.method} {request.args.get('q')} {request.cookies.get('c')}")
        response.set_cookie("c", "from app")
        return response(environ, start_response)

    client = werkzeug_test.Client(validator(app))
    for query, expected in (("1", "GET 1 None"), ("2", "GET 2 from app")):
        response = client.get(f"/?q={query}")
        try:
            assert response.text == expected
        finally:
            response.close()
