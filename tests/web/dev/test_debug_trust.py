"""The debugger's one gate: only a local client (loopback peer naming a local host) sees tracebacks,
source, locals or the console; any other client gets the plain 500 page and 403 from the endpoints."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from sockweb.web.dev.debug import DebuggedApplication

from .test_debug import PIN, call, frame_id_of, secret_of, unlock

LOCAL_VALUE = "LOCAL-VALUE-0xC0FFEE"
SOURCE_MARKER = "SOURCE-LINE-MARKER"


def leaky_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    password = LOCAL_VALUE  # noqa: F841 - a local the page would show
    raise RuntimeError("boom " + SOURCE_MARKER)


def leaky_body(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    password = LOCAL_VALUE  # noqa: F841
    raise RuntimeError("late boom " + SOURCE_MARKER)
    yield b""  # a generator: the error comes while the server iterates the body


# (REMOTE_ADDR, Host) pairs that are not the developer at this machine
OUTSIDERS = [
    ("10.0.0.7", "localhost:5000"),
    ("192.168.1.2", "127.0.0.1:5000"),
    ("203.0.113.9", "example.com"),
    ("::ffff:10.1.1.1", "localhost"),
    ("2001:db8::1", "[::1]:5000"),
    ("", "localhost"),
    ("not-an-ip", "localhost"),
    ("127.0.0.1", "rebind.example:5000"),  # DNS rebinding: a loopback peer, a foreign name
    ("::1", "attacker.test"),
]


@pytest.fixture(params=[leaky_app, leaky_body], ids=["call", "body"])
def app(request: pytest.FixtureRequest) -> DebuggedApplication:
    return DebuggedApplication(request.param, evalex=True, pin=PIN)


def _assert_plain_500(text: str) -> None:
    assert LOCAL_VALUE not in text  # no locals
    assert SOURCE_MARKER not in text and "RuntimeError" not in text  # no exception, no source
    assert "Traceback" not in text and ".py" not in text and "data-secret" not in text
    assert "Internal Server Error" in text


@pytest.mark.parametrize(("remote", "host"), OUTSIDERS)
@pytest.mark.parametrize("accept", [None, "text/plain", "application/json"])
def test_outsiders_get_the_plain_500(
    app: DebuggedApplication, remote: str, host: str, accept: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="sockweb.web.dev.debug"):
        res = call(app, remote=remote, host=host, accept=accept)
    assert res.code == 500
    _assert_plain_500(res.text)
    assert "<script" not in res.text
    # the developer still finds the exception in the log
    assert any(r.exc_info and SOURCE_MARKER in str(r.exc_info[1]) for r in caplog.records)


@pytest.mark.parametrize(("remote", "host"), [("127.0.0.1", "localhost:5000"), ("::1", "[::1]:8000")])
def test_a_local_client_gets_the_debugger_page(app: DebuggedApplication, remote: str, host: str) -> None:
    res = call(app, remote=remote, host=host)
    assert res.code == 500
    assert LOCAL_VALUE in res.text and SOURCE_MARKER in res.text and "RuntimeError" in res.text
    assert "data-secret" in res.text


@pytest.mark.parametrize(("remote", "host"), OUTSIDERS)
@pytest.mark.parametrize(
    ("endpoint", "method"),
    [("/pin", "POST"), ("/console", "POST"), ("/console", "GET"), ("/source", "GET"), ("/nothing", "POST")],
)
def test_every_endpoint_refuses_outsiders_first(
    app: DebuggedApplication, remote: str, host: str, endpoint: str, method: str
) -> None:
    """Known or not, GET or POST: an outsider gets 403 before anything else (not 404/405)."""
    page = call(app).text  # a local page: its secret and a frame, which an outsider may have stolen
    secret, frame = secret_of(page), frame_id_of(page, app.app.__name__)
    cookie = unlock(app, secret)
    form = {"s": secret, "pin": PIN, "frame": frame, "cmd": "password"}
    res = call(app, "/__debugger__" + endpoint, method, form, remote=remote, host=host, cookie=cookie)
    assert res.code == 403
    assert LOCAL_VALUE not in res.text


def test_the_gate_is_one_method(app: DebuggedApplication, monkeypatch: pytest.MonkeyPatch) -> None:
    """The page and the console both ask trusted_client: closing it closes both."""
    page = call(app).text
    secret, frame = secret_of(page), frame_id_of(page, app.app.__name__)
    cookie = unlock(app, secret)
    monkeypatch.setattr(DebuggedApplication, "trusted_client", lambda self, environ: False)
    _assert_plain_500(call(app).text)
    form = {"s": secret, "frame": frame, "cmd": "password"}
    assert call(app, "/__debugger__/console", "POST", form, cookie=cookie).code == 403
