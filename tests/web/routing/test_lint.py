"""LintMiddleware: a conforming exchange is silent; each PEP 3333 check fires on its violation."""

from __future__ import annotations

import gc
import io
import re
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest

from sockweb.web.lint import LintError, LintMiddleware, WSGIWarning

App = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def make_environ(**overrides: Any) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/p",
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_LENGTH": "12",
        "CONTENT_TYPE": "text/plain",
        "HTTP_HOST": "localhost:8000",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b"line1\nline2\n"),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    environ.update(overrides)
    return environ


def server_start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
    if exc_info is not None and getattr(server_start_response, "sent", False):
        raise exc_info[1].with_traceback(exc_info[2])
    return lambda data: None


def serve(
    app: App, environ: dict[str, Any] | None = None, start_response: Any = None, **options: Any
) -> bytes:
    """Act as a conforming server: iterate the result and always close it."""
    result = LintMiddleware(app, **options)(
        environ or make_environ(), start_response or server_start_response
    )
    try:
        return b"".join(result)
    finally:
        result.close()  # type: ignore[attr-defined]


def reports(pattern: str, app: App, environ: dict[str, Any] | None = None, **options: Any) -> list[str]:
    """Serve once, recording every lint warning; the pattern must match one of them.

    Broken environs and apps may raise after the warning (a str where bytes belong...): that is fine.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            serve(app, environ, **options)
        except (TypeError, AttributeError, UnicodeEncodeError):
            pass
    messages = [str(w.message) for w in caught if issubclass(w.category, WSGIWarning)]
    assert any(re.search(pattern, message) for message in messages), messages
    return messages


def good_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    stream = environ["wsgi.input"]
    first = stream.readline()
    rest = stream.read()
    environ["wsgi.errors"].write("a log line\n")
    body = first + rest
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def respond(status: str = "200 OK", headers: Any = None, body: Iterable[Any] = (b"ok",)) -> App:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[Any]:
        start_response(status, [("Content-Type", "text/plain")] if headers is None else headers)
        return list(body)

    return app


def test_conforming_exchange_is_silent() -> None:
    # filterwarnings=error: any warning would fail this test.
    assert serve(good_app) == b"line1\nline2\n"


def test_conforming_generator_app_and_iteration_of_input() -> None:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
        lines = list(environ["wsgi.input"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield from lines

    assert serve(app) == b"line1\nline2\n"


def test_write_callable_counts_towards_content_length() -> None:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        write = start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "4")])
        write(b"ab")
        return [b"cd"]

    assert serve(app) == b"cd"


def test_error_with_exc_info_before_the_body_is_fine() -> None:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise ValueError("boom")
        except ValueError:
            start_response("500 Internal Server Error", [("Content-Type", "text/plain")], sys.exc_info())
        return [b"error"]

    assert serve(app) == b"error"


# ----------------------------------------------------------------------------------------- server side


class NotADict(dict[str, Any]):
    pass


SERVER_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("missing key", {"SERVER_PROTOCOL": None}, "no 'SERVER_PROTOCOL'"),
    ("bytes value", {"PATH_INFO": b"/p"}, r"environ\['PATH_INFO'\] must be a native str"),
    ("not latin-1", {"PATH_INFO": "/caf\u00e9\u20ac"}, "not latin-1"),
    ("HTTP_CONTENT_LENGTH", {"HTTP_CONTENT_LENGTH": "12"}, "must be 'CONTENT_LENGTH'"),
    ("script name", {"SCRIPT_NAME": "/"}, "SCRIPT_NAME '/'"),
    ("path info", {"PATH_INFO": "p"}, "PATH_INFO 'p' must be empty or start"),
    ("method", {"REQUEST_METHOD": "GE T"}, "not an HTTP token"),
    ("port", {"SERVER_PORT": "http"}, "SERVER_PORT"),
    ("protocol", {"SERVER_PROTOCOL": "HTTP/1.1 "}, "SERVER_PROTOCOL 'HTTP/1.1 '"),
    ("content length", {"CONTENT_LENGTH": "-1"}, "CONTENT_LENGTH '-1'"),
    ("version", {"wsgi.version": (2, 0)}, r"wsgi.version must be \(1, 0\)"),
    ("scheme", {"wsgi.url_scheme": "ftp"}, "wsgi.url_scheme 'ftp'"),
    ("multithread", {"wsgi.multithread": 1}, "wsgi.multithread must be a bool"),
    ("input api", {"wsgi.input": object()}, "wsgi.input has no read"),
    ("errors api", {"wsgi.errors": object()}, "wsgi.errors has no write"),
    ("file wrapper", {"wsgi.file_wrapper": "nope"}, "wsgi.file_wrapper is not callable"),
]


@pytest.mark.parametrize(("name", "overrides", "message"), SERVER_CASES, ids=[c[0] for c in SERVER_CASES])
def test_server_environ_checks(name: str, overrides: dict[str, Any], message: str) -> None:
    environ = make_environ(**overrides)
    for key, value in overrides.items():
        if value is None:
            del environ[key]
    app = respond() if name in ("input api", "errors api") else good_app
    reports(f"^server: .*{message}", app, environ)


def test_environ_must_be_a_real_dict() -> None:
    with pytest.warns(WSGIWarning, match="environ must be a dict"):
        serve(respond(), NotADict(make_environ()))


def test_input_returning_text() -> None:
    class TextInput(io.StringIO):
        pass

    reports(
        r"server: wsgi.input.readline\(\) returned str",
        good_app,
        make_environ(**{"wsgi.input": TextInput("a\n")}),
    )


def test_input_returning_more_than_content_length() -> None:
    with pytest.warns(WSGIWarning, match="more than CONTENT_LENGTH 4"):
        serve(good_app, make_environ(CONTENT_LENGTH="4"))


def test_start_response_must_return_write() -> None:
    with pytest.warns(WSGIWarning, match="server: start_response must return a write"):
        serve(respond(), start_response=lambda status, headers, exc_info=None: None)


def test_server_must_reraise_exc_info_after_body() -> None:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"partial")
        try:
            raise ValueError("late")
        except ValueError:
            start_response("500 Internal Server Error", [("Content-Type", "text/plain")], sys.exc_info())
        return []

    with pytest.warns(WSGIWarning, match=r"server: start_response\(exc_info\) after the body"):
        serve(app)


def test_server_never_closing_the_iterable() -> None:
    result = LintMiddleware(respond())(make_environ(), server_start_response)
    assert b"".join(result) == b"ok"
    with pytest.warns(WSGIWarning, match="server: never called close"):
        del result
        gc.collect()


def test_server_iterating_after_close() -> None:
    result: Any = LintMiddleware(respond(body=[b"a", b"b"]))(make_environ(), server_start_response)
    iterator = iter(result)
    next(iterator)
    result.close()
    with pytest.warns(WSGIWarning, match="server: iterating the response after close"):
        next(iterator)


# ------------------------------------------------------------------------------------ application side


def app_calling(action: Callable[[dict[str, Any]], Any]) -> App:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        action(environ)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    return app


def twice(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def body_first(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
    yield b"too early"
    start_response("200 OK", [("Content-Type", "text/plain")])


def no_start(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    return []


def write_text(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])("text")  # type: ignore[arg-type]
    return []


def returns(value: Any) -> App:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return value

    return app


APP_CASES: list[tuple[str, App, str]] = [
    (
        "readline size",
        app_calling(lambda e: e["wsgi.input"].readline(3)),
        r"readline\(size\) is not portable",
    ),
    ("read size type", app_calling(lambda e: e["wsgi.input"].read("3")), "size must be an int"),
    ("close input", app_calling(lambda e: e["wsgi.input"].close()), "must not close wsgi.input"),
    (
        "errors bytes",
        app_calling(lambda e: e["wsgi.errors"].write(b"x")),
        r"wsgi.errors.write\(\) needs a str",
    ),
    ("close errors", app_calling(lambda e: e["wsgi.errors"].close()), "must not close wsgi.errors"),
    ("called twice", twice, "start_response called a second time"),
    ("status no reason", respond("200"), "status '200' is not 'NNN Reason phrase'"),
    ("status bytes", respond(b"200 OK"), "status must be a native str"),  # type: ignore[arg-type]
    ("status code", respond("99 Weird"), "is not 'NNN Reason phrase'"),
    ("headers tuple", respond(headers=(("Content-Type", "text/plain"),)), "headers must be a list"),
    ("header shape", respond(headers=[["Content-Type", "text/plain"]]), r"is not a \(name, value\) tuple"),
    ("header bytes", respond(headers=[("Content-Type", b"text/plain")]), "must hold two native str"),
    ("header name", respond(headers=[("Content Type", "x")]), "not an HTTP token"),
    (
        "hop-by-hop",
        respond(headers=[("Content-Type", "t/p"), ("Connection", "close")]),
        "hop-by-hop header 'Connection'",
    ),
    (
        "transfer-enc",
        respond(headers=[("Content-Type", "t/p"), ("Transfer-Encoding", "chunked")]),
        "hop-by-hop",
    ),
    (
        "crlf value",
        respond(headers=[("Content-Type", "t/p"), ("X-A", "a\r\nSet-Cookie: x=1")]),
        "control characters",
    ),
    (
        "value latin-1",
        respond(headers=[("Content-Type", "t/p"), ("X-A", "\u20ac")]),
        "value '\u20ac' is not latin-1",
    ),
    (
        "status header",
        respond(headers=[("Content-Type", "t/p"), ("Status", "200 OK")]),
        "'Status' is not a header",
    ),
    ("no content-type", respond(headers=[]), "body bytes in a 200 response without a Content-Type"),
    (
        "bad length",
        respond(headers=[("Content-Type", "t/p"), ("Content-Length", "ten")]),
        "Content-Length 'ten'",
    ),
    (
        "length too big",
        respond(headers=[("Content-Type", "t/p"), ("Content-Length", "5")]),
        "says 5 bytes but 2",
    ),
    (
        "length too small",
        respond(headers=[("Content-Type", "t/p"), ("Content-Length", "1")], body=[b"ab", b"c"]),
        "says 1 bytes but 3",
    ),
    ("str chunk", respond(body=["text"]), "body chunks .iterable. must be bytes, got str"),
    ("204 body", respond("204 No Content", headers=[]), "a 204 response must not have a body"),
    ("204 content-type", respond("204 No Content", body=[]), "204 response must not have a Content-Type"),
    ("304 body", respond("304 Not Modified", headers=[]), "a 304 response must not have a body"),
    ("body first", body_first, "body data .iterable. before start_response"),
    ("no start", no_start, "returned without calling start_response"),
    ("write text", write_text, r"body chunks .write\(\). must be bytes"),
    ("returns str", returns("hello"), "returned a str"),
    ("returns bytes", returns(b"hello"), "returned a bytes"),
    ("returns None", returns(None), "returned None, not an iterable"),
]


@pytest.mark.parametrize(("name", "app", "message"), APP_CASES, ids=[c[0] for c in APP_CASES])
def test_application_checks(name: str, app: App, message: str) -> None:
    reports(f"^application: .*{message}", app)


def test_empty_redirect_needs_no_content_type() -> None:
    serve(respond("302 Found", headers=[("Location", "/x")], body=[]))  # silent


def test_head_body() -> None:
    with pytest.warns(WSGIWarning, match="application: body bytes for a HEAD request"):
        serve(respond(), make_environ(REQUEST_METHOD="HEAD"))
    serve(respond(), make_environ(REQUEST_METHOD="HEAD"), head_body=False)  # tolerated, silently


def test_strict_mode_raises() -> None:
    with pytest.raises(LintError, match="hop-by-hop"):
        serve(respond(headers=[("Content-Type", "t/p"), ("Keep-Alive", "5")]), strict=True)
    with pytest.raises(AssertionError):  # LintError is an AssertionError
        serve(respond("OK"), strict=True)


def test_a_real_framework_app_passes_strict_lint() -> None:
    flask = pytest.importorskip("flask")
    app = flask.Flask("lint_probe")

    @app.post("/p")
    def echo() -> Any:
        return flask.jsonify(size=len(flask.request.get_data()))

    @app.get("/stream")
    def stream() -> Any:
        return flask.Response((b"chunk%d" % i for i in range(3)), mimetype="text/plain")

    @app.get("/redirect")
    def redirect() -> Any:
        return flask.redirect("/p")

    assert serve(app.wsgi_app, strict=True) == b'{"size":12}\n'
    assert serve(app.wsgi_app, make_environ(REQUEST_METHOD="GET", PATH_INFO="/stream"), strict=True) == (
        b"chunk0chunk1chunk2"
    )
    serve(app.wsgi_app, make_environ(REQUEST_METHOD="GET", PATH_INFO="/redirect"), strict=True)
    serve(app.wsgi_app, make_environ(REQUEST_METHOD="GET", PATH_INFO="/missing"), strict=True)
    serve(app.wsgi_app, make_environ(REQUEST_METHOD="HEAD", PATH_INFO="/stream"), strict=True)


def test_bad_status_line_names_every_rule_it_breaks() -> None:
    messages = reports("is not 'NNN Reason phrase'", respond("42 Odd"))
    assert any("status code '42' must be three digits" in message for message in messages)
    assert any("status code 42 is below 100" in message for message in messages)
