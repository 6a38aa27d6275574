"""The debugger middleware, called in-process: the error page, its escaping, and the console's locks."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode
from wsgiref.validate import validator

import pytest

from sockweb.web.dev import debug as debug_mod
from sockweb.web.dev.debug import DebuggedApplication, generate_pin, is_loopback

PIN = "314-159-265"


class Result:
    def __init__(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.text = body.decode("utf-8")

    @property
    def code(self) -> int:
        return int(self.status.split()[0])

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


def call(
    app: Any,
    path: str = "/",
    method: str = "GET",
    form: dict[str, str] | None = None,
    remote: str = "127.0.0.1",
    host: str = "localhost:5000",
    cookie: str | None = None,
    accept: str | None = None,
) -> Result:
    body = urlencode(form).encode() if form is not None else b""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "5000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": remote,
        "HTTP_HOST": host,
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if form is not None:
        environ["CONTENT_TYPE"] = "application/x-www-form-urlencoded"
        environ["CONTENT_LENGTH"] = str(len(body))
    if cookie:
        environ["HTTP_COOKIE"] = cookie
    if accept:
        environ["HTTP_ACCEPT"] = accept
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen["status"], seen["headers"] = status, headers
        return lambda data: None

    iterable = validator(app)(environ, start_response)
    try:
        data = b"".join(iterable)
    finally:
        iterable.close()
    return Result(seen["status"], seen["headers"], data)


def failing_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    hostile = "<script>alert('owned')</script>"  # noqa: F841 - a local the page must escape
    answer = 21
    marker_line = "SOURCE-CONTEXT-MARKER"  # noqa: F841 - a line the page must quote
    raise ValueError(f"bad value <b>{answer}</b>")


def frame_id_of(page: str, function: str) -> str:
    """The id of the frame whose summary names ``function``."""
    for match in re.finditer(
        r'<details class="frame[^"]*" id="frame-([^"]+)"[^>]*><summary>(.*?)</summary>', page
    ):
        if f">{function}</code>" in match.group(2):
            return match.group(1)
    raise AssertionError(f"no frame for {function}")


def secret_of(page: str) -> str:
    found = re.search(r'data-secret="([^"]+)"', page)
    assert found is not None
    return found.group(1)


@pytest.fixture
def app() -> DebuggedApplication:
    return DebuggedApplication(failing_app, evalex=True, pin=PIN)


def unlock(app: DebuggedApplication, secret: str) -> str:
    res = call(app, "/__debugger__/pin", "POST", {"s": secret, "pin": PIN})
    assert res.code == 200, res.text
    set_cookie = res.header("Set-Cookie")
    assert set_cookie is not None and "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie
    return set_cookie.split(";", 1)[0]


def console(app: DebuggedApplication, secret: str, frame: str, cmd: str, cookie: str | None = None) -> Any:
    """POST one console command for ``frame``."""
    form = {"s": secret, "frame": frame, "cmd": cmd}
    return call(app, "/__debugger__/console", "POST", form, cookie=cookie)


# -- the page ------------------------------------------------------------------------------------


def test_error_page_shows_exception_source_and_escaped_locals(
    app: DebuggedApplication, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="sockweb.web.dev.debug"):
        res = call(app)
    assert res.code == 500
    assert res.header("Content-Type") == "text/html; charset=utf-8"
    page = res.text
    assert "<h1>ValueError</h1>" in page
    assert "bad value &lt;b&gt;21&lt;/b&gt;" in page and "<b>21</b>" not in page
    # source context: the raising line and its neighbours, escaped
    assert "SOURCE-CONTEXT-MARKER" in page
    assert "raise ValueError(f&quot;bad value &lt;b&gt;{answer}&lt;/b&gt;&quot;)" in page
    # locals, escaped: the hostile string never appears raw
    assert "&lt;script&gt;alert(" in page
    assert "<script>alert(" not in page
    assert "<th>answer</th><td>21</td>" in page
    # plain-text traceback to copy
    assert re.search(r'<textarea readonly id="plain">Traceback \(most recent call last\):', page)
    # the middleware's own frame is not shown
    assert "dev/debug.py" not in page
    # and it was logged
    assert any(r.exc_info and r.exc_info[0] is ValueError for r in caplog.records)


def test_the_only_script_carries_the_csp_nonce(app: DebuggedApplication) -> None:
    res = call(app)
    csp = res.header("Content-Security-Policy") or ""
    nonce = re.search(r"'nonce-([^']+)'", csp)
    assert nonce is not None
    scripts = re.findall(r"<script([^>]*)>", res.text)
    assert scripts == [f' nonce="{nonce.group(1)}"']


def test_exception_while_iterating_the_body_gives_the_page() -> None:
    def streaming(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b""
        raise KeyError("late")

    res = call(DebuggedApplication(streaming, pin=PIN))
    assert res.code == 500
    assert "KeyError" in res.text and ".streaming</code>" in res.text
    assert "dev/debug.py" not in res.text


def test_exception_after_the_body_started_is_reraised_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    closed = []

    class Body:
        def __iter__(self) -> Iterator[bytes]:
            yield b"partial"
            raise RuntimeError("too late")

        def close(self) -> None:
            closed.append(True)

    def app(environ: dict[str, Any], start_response: Any) -> Body:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Body()

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "wsgi.input": io.BytesIO()}
    chunks = []
    with caplog.at_level(logging.ERROR), pytest.raises(RuntimeError, match="too late"):
        for chunk in DebuggedApplication(app, pin=PIN)(environ, lambda *a: None):
            chunks.append(chunk)
    assert chunks == [b"partial"]
    assert closed == [True]
    assert "after the response started" in caplog.text


def test_file_wrapper_responses_pass_through_untouched() -> None:
    class FileWrapper:
        def __init__(self, f: Any, block_size: int = 8192) -> None:
            self.f = f

        def __iter__(self) -> Iterator[bytes]:
            yield self.f.read()

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return environ["wsgi.file_wrapper"](io.BytesIO(b"file body"))

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "wsgi.file_wrapper": FileWrapper}
    result = DebuggedApplication(app, pin=PIN)(environ, lambda *a: None)
    assert isinstance(result, FileWrapper)  # the server can still recognise it and use sendfile
    assert b"".join(result) == b"file body"

    body = [b"already", b" built"]
    listed = DebuggedApplication(lambda environ, start_response: body, pin=PIN)
    assert listed({"PATH_INFO": "/"}, lambda *a: None) is body  # the server's fast path for lists stays


def test_mounted_under_a_prefix_the_console_follows_script_name(app: DebuggedApplication) -> None:
    def mounted(**kwargs: Any) -> Result:
        def prefixed(environ: dict[str, Any], start_response: Any) -> Any:
            environ["SCRIPT_NAME"] = "/tools"
            return app(environ, start_response)

        return call(prefixed, **kwargs)

    page = mounted().text
    assert 'data-base="/tools/__debugger__"' in page
    res = mounted(path="/__debugger__/pin", method="POST", form={"s": secret_of(page), "pin": PIN})
    assert "Path=/tools/__debugger__/;" in (res.header("Set-Cookie") or "")


def test_chained_exceptions_are_all_shown() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        try:
            {}["missing"]
        except KeyError as exc:
            raise LookupError("wrapped") from exc
        return []

    page = call(DebuggedApplication(app, pin=PIN)).text
    first, second = page.index("<h2>KeyError: &#x27;missing&#x27;"), page.index("<h2>LookupError: wrapped")
    assert first < page.index("direct cause") < second


def test_plain_text_for_clients_that_do_not_accept_html(app: DebuggedApplication) -> None:
    res = call(app, accept="application/json")
    assert res.header("Content-Type") == "text/plain; charset=utf-8"
    assert res.text.startswith("Traceback (most recent call last):")
    assert res.text.rstrip().endswith("ValueError: bad value <b>21</b>")


def test_broken_repr_does_not_break_the_page() -> None:
    class Evil:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        thing = Evil()
        big = "x" * 10_000
        raise TypeError(f"{type(thing).__name__} {len(big)}")

    page = call(DebuggedApplication(app, pin=PIN)).text
    assert "&lt;repr of Evil failed: RuntimeError&gt;" in page
    assert "x" * 2000 not in page  # long reprs are truncated


# -- the console ---------------------------------------------------------------------------------


def test_console_needs_the_pin_then_evaluates_in_the_frame(app: DebuggedApplication) -> None:
    page = call(app).text
    secret, frame = secret_of(page), frame_id_of(page, "failing_app")
    res = console(app, secret, frame, "answer * 2")
    assert res.code == 401
    cookie = unlock(app, secret)
    res = console(app, secret, frame, "answer * 2", cookie=cookie)
    assert (res.code, res.text) == (200, "42\n")
    # statements, printed output, and names that persist between commands
    res = console(app, secret, frame, "doubled = answer * 2\nprint('got', doubled)", cookie=cookie)
    assert res.text == "got 42\n"
    res = console(app, secret, frame, "hostile", cookie=cookie)
    assert res.header("Content-Type") == "text/plain; charset=utf-8"
    assert "<script>alert('owned')</script>" in res.text  # plain text; the page inserts it with textContent
    res = console(app, secret, frame, "1/0", cookie=cookie)
    assert "ZeroDivisionError" in res.text and res.code == 200


def test_console_survives_systemexit(app: DebuggedApplication) -> None:
    page = call(app).text
    secret, frame = secret_of(page), frame_id_of(page, "failing_app")
    cookie = unlock(app, secret)
    res = console(app, secret, frame, "raise SystemExit(3)", cookie=cookie)
    assert "SystemExit: 3" in res.text


def test_wrong_pins_lock_the_console(app: DebuggedApplication) -> None:
    secret = secret_of(call(app).text)
    codes = [
        call(app, "/__debugger__/pin", "POST", {"s": secret, "pin": "000-000-000"}).code
        for _ in range(debug_mod.MAX_PIN_ATTEMPTS)
    ]
    assert codes == [401] * (debug_mod.MAX_PIN_ATTEMPTS - 1) + [429]
    # locked: even the right PIN is refused now
    assert call(app, "/__debugger__/pin", "POST", {"s": secret, "pin": PIN}).code == 429


def test_pin_accepts_it_without_dashes(app: DebuggedApplication) -> None:
    secret = secret_of(call(app).text)
    assert call(app, "/__debugger__/pin", "POST", {"s": secret, "pin": PIN.replace("-", "")}).code == 200


@pytest.mark.parametrize("remote", ["10.0.0.7", "192.168.1.2", "::ffff:10.1.1.1", "", "not-an-ip"])
def test_console_refuses_non_local_clients(app: DebuggedApplication, remote: str) -> None:
    secret = secret_of(call(app).text)  # even with the secret from a local page
    assert call(app, "/__debugger__/pin", "POST", {"s": secret, "pin": PIN}, remote=remote).code == 403


def test_console_refuses_a_foreign_host_name(app: DebuggedApplication) -> None:
    """A DNS-rebinding page reaches 127.0.0.1 under its own host name: refused."""
    secret = secret_of(call(app).text)
    res = call(app, "/__debugger__/pin", "POST", {"s": secret, "pin": PIN}, host="rebind.example:5000")
    assert res.code == 403
    trusted = DebuggedApplication(failing_app, pin=PIN, trusted_hosts=["myapp.test"])
    secret = secret_of(call(trusted).text)
    assert (
        call(trusted, "/__debugger__/pin", "POST", {"s": secret, "pin": PIN}, host="myapp.test").code == 200
    )


def test_console_needs_the_page_secret(app: DebuggedApplication) -> None:
    call(app)
    assert call(app, "/__debugger__/pin", "POST", {"s": "guess", "pin": PIN}).code == 403
    assert call(app, "/__debugger__/pin", "POST", {"pin": PIN}).code == 403


def test_console_endpoints_are_post_only_and_known(app: DebuggedApplication) -> None:
    assert call(app, "/__debugger__/console").code == 405
    assert call(app, "/__debugger__/nothing", "POST", {}).code == 404


def test_without_evalex_there_is_no_console() -> None:
    app = DebuggedApplication(failing_app, evalex=False, pin=PIN)
    page = call(app).text
    assert "Console in this frame" not in page and "<script" not in page
    # the reserved path is the app's again
    res = call(app, "/__debugger__/pin", "POST", {"s": secret_of(page), "pin": PIN})
    assert res.code == 500


def test_tracebacks_are_kept_in_a_bounded_cache(app: DebuggedApplication) -> None:
    first = call(app).text
    secret, frame = secret_of(first), frame_id_of(first, "failing_app")
    cookie = unlock(app, secret)
    for _ in range(debug_mod.MAX_TRACEBACKS):
        call(app)
    res = console(app, secret, frame, "answer", cookie=cookie)
    assert res.code == 404
    assert len(app._tracebacks) == debug_mod.MAX_TRACEBACKS


def test_pin_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(debug_mod.PIN_ENV, "111-222-333")
    assert DebuggedApplication(failing_app).pin == "111-222-333"


def test_generated_pins() -> None:
    pins = {generate_pin() for _ in range(20)}
    assert all(re.fullmatch(r"\d{3}-\d{3}-\d{3}", p) for p in pins)
    assert len(pins) > 15


@pytest.mark.parametrize(
    ("addr", "expected"),
    [
        ("127.0.0.1", True),
        ("127.9.8.7", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("10.0.0.1", False),
        ("::", False),
        ("0.0.0.0", False),
        (None, False),
        ("localhost", False),
    ],
)
def test_is_loopback(addr: str | None, expected: bool) -> None:
    assert is_loopback(addr) is expected


def test_an_unlocked_console_still_refuses_non_local_clients(app: DebuggedApplication) -> None:
    # A PIN cookie obtained from localhost does not open the console to another address.
    page = call(app).text
    secret, frame = secret_of(page), frame_id_of(page, "failing_app")
    cookie = unlock(app, secret)
    form = {"s": secret, "frame": frame, "cmd": "answer"}
    assert call(app, "/__debugger__/console", "POST", form, cookie=cookie, remote="10.0.0.7").code == 403
    assert console(app, secret, frame, "answer", cookie=cookie).code == 200
