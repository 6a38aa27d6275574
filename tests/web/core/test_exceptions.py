from __future__ import annotations

import html
import json
from typing import Any
from wsgiref.validate import validator

import pytest

from sockweb.web import exceptions as exc
from sockweb.web.response import Response
from sockweb.web.testing import create_environ, run_wsgi_app


def run_app(app: Any, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    """``(status, header list, body)`` of one buffered run of ``app``."""
    app_iter, status, headers = run_wsgi_app(app, environ, buffered=True)
    return status, headers.to_wsgi_list(), b"".join(app_iter)


CODES = [400, 401, 403, 404, 405, 406, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 418, 422, 423, 428,
         429, 431, 451, 500, 501, 502, 503, 504, 505]  # fmt: skip


@pytest.mark.parametrize("code", CODES)
def test_every_status_has_a_class_usable_as_wsgi_app(code: int) -> None:
    cls = exc.default_exceptions[code]
    error = cls()
    assert error.code == code
    assert error.name and error.name != "Unknown Error"
    status, headers, body = run_app(validator(error), create_environ())
    assert status == f"{code} {error.name}"
    assert ("Content-Type", "text/html; charset=utf-8") in headers
    assert f"<title>{html.escape(f'{code} {error.name}')}</title>".encode() in body
    assert dict(headers)["Content-Length"] == str(len(body))


@pytest.mark.parametrize("code", CODES)
def test_abort_raises_the_right_class(code: int) -> None:
    with pytest.raises(exc.HTTPException) as info:
        exc.abort(code)
    assert info.value.code == code


def test_abort_unknown_code_and_response() -> None:
    with pytest.raises(LookupError):
        exc.abort(299)
    response = Response("custom", 418)
    with pytest.raises(exc.HTTPException) as info:
        exc.abort(response)
    assert info.value.get_response() is response
    status, _, body = run_app(validator(info.value), create_environ())
    assert (status, body) == ("418 I'm a Teapot", b"custom")


def test_abort_passes_arguments() -> None:
    with pytest.raises(exc.NotFound) as info:
        exc.abort(404, "no such thing")
    assert info.value.description == "no such thing"


def test_description_is_escaped() -> None:
    error = exc.BadRequest("<script>alert('x')</script> & more")
    body = error.get_body()
    assert "<script>" not in body
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more" in body


def test_json_rendering_when_client_prefers_json() -> None:
    environ = create_environ(headers={"Accept": "application/json"})
    status, headers, body = run_app(validator(exc.NotFound("gone <b>")), environ)
    assert status == "404 Not Found"
    assert dict(headers)["Content-Type"] == "application/json"
    assert json.loads(body) == {"code": 404, "name": "Not Found", "description": "gone <b>"}
    response = exc.Forbidden().get_response(environ)
    assert response.status_code == 403 and response.mimetype == "application/json"
    from sockweb.web.request import Request

    assert exc.Forbidden().get_response(Request(environ)).mimetype == "application/json"


@pytest.mark.parametrize(
    ("accept", "is_json"),
    [
        ("application/json", True),
        ("text/html, application/json;q=0.9", False),
        ("application/json, text/html", False),  # a tie goes to HTML
        ("application/json;q=1, text/html;q=0.5", True),
        ("*/*", False),
        ("text/html, */*;q=0.1", False),
        ("application/problem+json", False),
    ],
)
def test_json_preference(accept: str, is_json: bool) -> None:
    body = exc.NotFound().get_body(create_environ(headers={"Accept": accept}))
    assert body.startswith("{") is is_json


def test_method_not_allowed_sets_allow() -> None:
    error = exc.MethodNotAllowed(["GET", "HEAD", "POST"])
    status, headers, _ = run_app(validator(error), create_environ(method="DELETE"))
    assert status == "405 Method Not Allowed"
    assert dict(headers)["Allow"] == "GET, HEAD, POST"
    assert "Allow" not in dict(exc.MethodNotAllowed().get_headers())


def test_request_redirect() -> None:
    error = exc.RequestRedirect('http://localhost/a/?q="x"')
    status, headers, body = run_app(validator(error), create_environ())
    assert status == "308 Permanent Redirect"
    assert dict(headers)["Location"] == 'http://localhost/a/?q="x"'
    assert b"&quot;x&quot;" in body
    assert exc.RequestRedirect("/b", code=301).get_response().status == "301 Moved Permanently"


def test_headers_of_special_errors() -> None:
    assert ("Retry-After", "30") in exc.TooManyRequests(retry_after=30).get_headers()
    assert ("Retry-After", "5") in exc.ServiceUnavailable(retry_after=5).get_headers()
    assert ("Content-Range", "bytes */100") in exc.RangeNotSatisfiable(length=100).get_headers()
    assert ("WWW-Authenticate", 'Basic realm="x"') in exc.Unauthorized(
        www_authenticate='Basic realm="x"'
    ).get_headers()


def test_head_request_has_no_body() -> None:
    status, headers, body = run_app(validator(exc.NotFound()), create_environ(method="HEAD"))
    assert status.startswith("404") and body == b"" and int(dict(headers)["Content-Length"]) > 0


def test_str_and_repr() -> None:
    assert str(exc.NotFound("x")) == "404 Not Found: x"
    assert repr(exc.NotFound()) == "<NotFound '404: Not Found'>"
    assert exc.InternalServerError(original_exception=ValueError("v")).original_exception is not None


def test_bad_request_key_error_is_both() -> None:
    error = exc.BadRequestKeyError("field")
    assert isinstance(error, KeyError) and isinstance(error, exc.BadRequest)
    assert "field" in str(error)


@pytest.mark.parametrize("code", CODES)
def test_html_body_opens_with_the_short_html5_preamble(code: int) -> None:
    body = exc.default_exceptions[code]().get_body()
    assert body.startswith("<!doctype html>\n<html lang=en>\n")


def test_retry_after_from_a_datetime_is_an_http_date() -> None:
    from datetime import datetime, timedelta, timezone

    naive = datetime(2031, 5, 6, 7, 8, 9)
    assert ("Retry-After", "Tue, 06 May 2031 07:08:09 GMT") in exc.ServiceUnavailable(
        retry_after=naive
    ).get_headers()
    aware = datetime(2031, 5, 6, 9, 8, 9, tzinfo=timezone(timedelta(hours=2)))
    assert ("Retry-After", "Tue, 06 May 2031 07:08:09 GMT") in exc.TooManyRequests(
        retry_after=aware
    ).get_headers()


def test_416_class_carries_the_name_werkzeug_gives_it() -> None:
    cls = exc.default_exceptions[416]
    assert cls.__name__ == "RequestedRangeNotSatisfiable"
    assert cls is exc.RangeNotSatisfiable is exc.RequestedRangeNotSatisfiable
    assert repr(cls()) == f"<RequestedRangeNotSatisfiable '416: {cls().name}'>"
