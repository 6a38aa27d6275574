"""The framework's test client: requests built from the App's config, preserved contexts, sessions."""

from __future__ import annotations

import io

import pytest

from sockweb.framework import App, request, session
from sockweb.framework.globals import _cv_request
from sockweb.framework.testing import AppCliRunner, EnvironBuilder


def test_requests_use_server_name_root_and_scheme(app, client) -> None:
    app.config.update(SERVER_NAME="example.com:1234", APPLICATION_ROOT="/foo", PREFERRED_URL_SCHEME="https")

    @app.get("/")
    def index():
        return request.url

    assert client.get("/").text == "https://example.com:1234/foo/"
    assert client.get("/", url_scheme="http").text == "http://example.com:1234/foo/"
    assert client.get("/", subdomain="api").text == "https://api.example.com:1234/foo/"
    assert client.get("http://other.test/?a=1").text == "http://other.test/foo/?a=1"
    with pytest.raises(ValueError):
        EnvironBuilder(app, "/", "http://x/", url_scheme="https")


def test_base_url_positional(app, client) -> None:
    @app.get("/")
    def index():
        return request.url

    assert client.get("/", "https://localhost").text == "https://localhost/"


def test_json_body_uses_app_provider(app) -> None:
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    builder = EnvironBuilder(app, "/", json="\u20ac")
    assert builder.body == '"\u20ac"'.encode()


def test_errors_stream_becomes_wsgi_errors(app) -> None:
    stream = io.StringIO()
    with app.test_request_context(errors_stream=stream):
        assert request.environ["wsgi.errors"] is stream


def test_with_client_preserves_last_request(app, client) -> None:
    torn_down = []
    app.teardown_request(lambda exc: torn_down.append(request.path))

    @app.get("/<name>")
    def index(name):
        session["name"] = name
        return name

    with client:
        client.get("/first")
        assert request.path == "/first" and session["name"] == "first"
        client.get("/second")
        assert request.path == "/second"
        assert torn_down == ["/first", "/second"]  # teardown ran once per request, not again
    assert _cv_request.get(None) is None
    client.get("/third")
    assert _cv_request.get(None) is None


def test_session_transaction_keeps_outer_context(app, client) -> None:
    @app.get("/")
    def index():
        return str(session.get("n"))

    with client:
        client.get("/")
        outer = request._get_current_object()  # type: ignore[attr-defined]
        with client.session_transaction() as sess:
            assert request._get_current_object() is outer  # type: ignore[attr-defined]
            sess["n"] = 5
    assert client.get("/").text == "5"


def test_session_transaction_errors(tmp_path) -> None:
    app = App("t", root_path=str(tmp_path))
    no_cookies = app.test_client(use_cookies=False)
    with pytest.raises(TypeError, match="Cookies are disabled"), no_cookies.session_transaction():
        pass
    with pytest.raises(RuntimeError, match="did not open a session"), app.test_client().session_transaction():
        pass


def test_cli_runner_class(app) -> None:
    class Runner(AppCliRunner):
        pass

    app.test_cli_runner_class = Runner
    assert isinstance(app.test_cli_runner(), Runner)


def test_open_an_environ_rebuilds_it_with_the_client_environ_base(app, client) -> None:
    from sockweb.framework import request
    from sockweb.framework.testing import EnvironBuilder

    @app.post("/who")
    def who():
        return f"{request.remote_addr} {request.args['q']} {request.get_data(as_text=True)}"

    environ = EnvironBuilder(app, "/who?q=1", method="POST", data="body").get_environ()
    client.environ_base["REMOTE_ADDR"] = "10.0.0.9"
    assert client.open(environ).text == "10.0.0.9 1 body"
