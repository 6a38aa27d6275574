"""The Werkzeug-named building blocks: HeaderSet, Cache-Control parsing by class, COEP/COOP, Aborter and
421, RangeWrapper, run_wsgi_app's (app_iter, status, headers), redirect loops, multipart streams, auth=."""

from __future__ import annotations

import io
from typing import Any
from wsgiref.validate import validator

import pytest

from sockweb.web import exceptions as exc
from sockweb.web.datastructures import MultiDict
from sockweb.web.formparser import parse_form_data
from sockweb.web.httputil import (
    COOP,
    HeaderSet,
    ResponseCacheControl,
    parse_cache_control_header,
    parse_set_header,
)
from sockweb.web.response import Response, redirect
from sockweb.web.routing import RequestRedirect
from sockweb.web.testing import (
    Client,
    ClientRedirectError,
    EnvironBuilder,
    create_environ,
    run_wsgi_app,
    stream_encode_multipart,
)
from sockweb.web.wsgi_util import RangeWrapper


class TestHeaderSet:
    def test_case_insensitive_ordered_set(self) -> None:
        changes: list[str] = []
        hs = parse_set_header('foo, Bar, "Blah baz"', on_update=lambda s: changes.append(s.to_header()))
        assert list(hs) == ["foo", "Bar", "Blah baz"] and "bar" in hs and "BLAH BAZ" in hs
        hs.add("FOO")
        assert changes == [] and len(hs) == 3  # already there: no change, no callback
        hs.add("Cookie")
        assert changes == ['foo, Bar, "Blah baz", Cookie']
        assert hs.find("cookie") == 3 and hs.find("x") == -1
        with pytest.raises(IndexError):
            hs.index("x")
        hs.discard("BAR")
        hs.discard("missing")
        assert list(hs) == ["foo", "Blah baz", "Cookie"]
        with pytest.raises(KeyError):
            hs.remove("missing")
        hs.clear()
        assert not hs and HeaderSet(["a", "A"]).as_set() == {"a"}


def test_cache_control_header_takes_a_class() -> None:
    cc = parse_cache_control_header('private, community="UCI"', None, ResponseCacheControl)
    assert isinstance(cc, ResponseCacheControl) and cc.private and cc["community"] == "UCI"
    assert parse_cache_control_header("max-age=0, no-cache").max_age == 0
    assert COOP("same-origin") is COOP.SAME_ORIGIN


def test_misdirected_request_and_aborter() -> None:
    assert exc.default_exceptions[421] is exc.MisdirectedRequest
    with pytest.raises(exc.MisdirectedRequest):
        exc.abort(421)
    custom = exc.Aborter({1: exc.NotFound})
    with pytest.raises(LookupError):
        custom(404)
    with pytest.raises(exc.NotFound):
        exc.Aborter(extra={1: exc.NotFound})(1)
    assert RequestRedirect is exc.RequestRedirect
    assert exc.RequestedRangeNotSatisfiable is exc.RangeNotSatisfiable


@pytest.mark.parametrize(
    ("chunks", "start", "length", "expect"),
    [
        ([b"Hello World"], 6, 4, [b"Worl"]),
        ([b"Hello World"], 1, 0, []),
        ([b"Hello World"], 6, 100, [b"World"]),
        ([b"He", b"ll", b"o W", b"o", b"rld"], 6, 4, [b"W", b"o", b"rl"]),
        ([b"He", b"llo"], 3, None, [b"lo"]),
    ],
)
def test_range_wrapper(chunks: list[bytes], start: int, length: int | None, expect: list[bytes]) -> None:
    wrapper = RangeWrapper(iter(chunks), start, length)
    assert not wrapper.seekable and list(wrapper) == expect


def test_range_wrapper_seeks_a_file() -> None:
    response = Response(io.BytesIO(b"FOUND\n"))
    wrapper = RangeWrapper(response.response, 1, 2)
    assert wrapper.seekable and list(wrapper) == [b"OU"]


def _late_start(environ: dict[str, Any], start_response: Any) -> Any:
    # start_response is called from inside the generator, as streaming apps do
    start_response("200 OK", [("Content-Type", "text/plain")])
    yield b"a"
    yield b"b"


def test_run_wsgi_app_returns_iter_status_headers() -> None:
    app_iter, status, headers = run_wsgi_app(validator(_late_start), create_environ())
    assert status == "200 OK" and headers["Content-Type"] == "text/plain"
    assert list(app_iter) == [b"a", b"b"]
    app_iter.close()  # type: ignore[attr-defined]
    app_iter, _, _ = run_wsgi_app(validator(_late_start), create_environ(), buffered=True)
    assert app_iter == [b"a", b"b"]


def test_redirect_loop_is_an_error() -> None:
    def loop(environ: dict[str, Any], start_response: Any) -> Any:
        target = "/b" if environ["PATH_INFO"] == "/a" else "/a"
        return redirect(target)(environ, start_response)

    with pytest.raises(ClientRedirectError):
        Client(loop).get("/a", follow_redirects=True)


@pytest.mark.parametrize("use_tempfile", [False, True])
def test_stream_encode_multipart_round_trips(use_tempfile: bool) -> None:
    data = MultiDict([("s", "\N{SNOWMAN}"), ("f", (io.BytesIO(b"abc"), "a.txt")), ("s", "two")])
    stream, length, boundary = stream_encode_multipart(data, use_tempfile, threshold=10)
    assert isinstance(stream, io.BytesIO) != use_tempfile
    _, form, files = parse_form_data(
        {
            "wsgi.input": stream,
            "CONTENT_LENGTH": str(length),
            "CONTENT_TYPE": f'multipart/form-data; boundary="{boundary}"',
            "REQUEST_METHOD": "POST",
        }
    )
    assert form.getlist("s") == ["\N{SNOWMAN}", "two"] and files["f"].read() == b"abc"
    files["f"].close()
    stream.close()


def test_builder_auth() -> None:
    request = EnvironBuilder(auth=("user", "pa:ss")).get_request()
    assert request.authorization is not None
    assert (request.authorization.username, request.authorization.password) == ("user", "pa:ss")


def _to_parrot(environ: dict[str, Any], start_response: Any) -> Any:
    return redirect("/root/parrot")(environ, start_response)


def test_autocorrect_location_header(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Client(_to_parrot).get("/x").headers["Location"] == "/root/parrot"  # off by default
    monkeypatch.setattr(Response, "autocorrect_location_header", True)
    response = Client(_to_parrot).get("/x", base_url="https://h.example:8443/")
    assert response.headers["Location"] == "https://h.example:8443/root/parrot"


def test_client_sends_an_environ_or_request_as_given() -> None:
    def echo(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [f"{environ['REMOTE_ADDR']} {environ.get('HTTP_HOST')} {environ['PATH_INFO']}".encode()]

    environ = create_environ("/p", environ_overrides={"REMOTE_ADDR": "192.0.2.1"})
    del environ["HTTP_HOST"]
    assert Client(echo).open(environ).get_data() == b"192.0.2.1 None /p"
    request = EnvironBuilder("/q", base_url="http://h.example/").get_request()
    assert Client(echo).open(request).get_data() == b"127.0.0.1 h.example /q"
    assert Client(echo).open(EnvironBuilder("/r")).get_data() == b"127.0.0.1 localhost /r"


def test_builder_from_environ_round_trips() -> None:
    environ = create_environ("/a%20b", base_url="https://h.example/root/", query_string="x=1",
                             method="POST", data=b"body", headers={"X-Token": "t"})  # fmt: skip
    again = EnvironBuilder.from_environ(environ).get_environ()
    for key in ("PATH_INFO", "SCRIPT_NAME", "QUERY_STRING", "REQUEST_METHOD", "HTTP_X_TOKEN", "HTTP_HOST"):
        assert again[key] == environ[key], key
    assert again["wsgi.input"].read() == b"body" and again["wsgi.url_scheme"] == "https"
