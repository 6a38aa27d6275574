"""The framework's Request and Response, including the Response fast paths."""

from __future__ import annotations

import pytest

from sockweb.framework import App, Request, Response, request
from sockweb.web.response import Response as ToolkitResponse
from sockweb.web.testing import create_environ, run_wsgi_app


def as_wsgi(response, method="GET"):
    app_iter, status, headers = run_wsgi_app(response, create_environ("/", method=method), buffered=True)
    return status, headers.to_wsgi_list(), b"".join(app_iter)


@pytest.mark.parametrize("content_type", [None, "application/json", "text/plain; charset=utf-8"])
def test_from_body_matches_the_regular_constructor(content_type) -> None:
    fast = Response.from_body(b"payload", content_type)
    regular = Response(b"payload", content_type=content_type)
    assert fast.status == regular.status == "200 OK" and fast.status_code == 200
    assert fast.headers.to_wsgi_list() == regular.headers.to_wsgi_list()
    assert fast.get_data() == b"payload" and fast.content_length == 7
    assert as_wsgi(fast) == as_wsgi(regular)
    assert set(vars(fast)) == set(vars(regular))


def test_from_body_responses_share_no_mutable_state() -> None:
    first = Response.from_body(b"one")
    second = Response.from_body(b"two")
    for name, value in vars(first).items():
        if isinstance(value, (list, dict, set)) or hasattr(value, "to_wsgi_list"):
            assert value is not vars(second)[name], name
    first.headers["X-First"] = "1"
    first.set_cookie("c", "v")
    first.call_on_close(lambda: None)
    first.status_code = 201
    assert "X-First" not in second.headers and "Set-Cookie" not in second.headers
    assert second.status_code == 200
    assert Response.from_body(b"three").headers.get("X-First") is None


def test_fast_call_path_and_general_path_agree() -> None:
    closed: list[bool] = []
    plain = Response("body")
    with_callback = Response("body")
    with_callback.call_on_close(lambda: closed.append(True))
    assert as_wsgi(plain) == as_wsgi(with_callback)
    assert closed == [True]
    head = as_wsgi(Response("body"), "HEAD")
    assert head[2] == b"" and ("Content-Length", "4") in head[1]
    for status in (204, 304, 404, 500):
        ours = as_wsgi(Response("x", status))
        toolkit = as_wsgi(ToolkitResponse("x", status, mimetype="text/html"))
        assert ours == toolkit
    streamed = Response(iter([b"a", "b"]))
    assert as_wsgi(streamed)[2] == b"ab"


def test_response_defaults_and_json() -> None:
    assert Response("x").mimetype == "text/html"
    assert Response('{"a": 1}', mimetype="application/json").json == {"a": 1}
    assert Response("x").json is None


def test_request_routing_attributes(app) -> None:
    from sockweb.framework import Blueprint

    bp = Blueprint("outer", __name__)
    inner = Blueprint("inner", __name__)

    @inner.get("/x")
    def x():
        return "x"

    bp.register_blueprint(inner)
    app.register_blueprint(bp)
    app.config["MAX_CONTENT_LENGTH"] = 5
    with app.test_request_context("/x") as ctx:
        plan = app._match(ctx)
        request = ctx.request
        assert isinstance(request, Request)
        assert request.endpoint == "outer.inner.x" and request.blueprint == "outer.inner"
        assert request.blueprints == ("outer.inner", "outer") and plan.blueprints == request.blueprints
        assert request.view_args == {} and request.url_rule is not None
        assert request.max_content_length == 5
        assert request.max_form_memory_size == app.config["MAX_FORM_MEMORY_SIZE"]
        assert request.max_form_parts == app.config["MAX_FORM_PARTS"]
        request.max_content_length = 1  # one request may raise or lower the App's limit
        assert request.max_content_length == 1 and app.config["MAX_CONTENT_LENGTH"] == 5
    with app.test_request_context("/missing") as ctx:
        app._match(ctx)
        assert ctx.request.endpoint is None and ctx.request.blueprint is None
        assert ctx.request.routing_exception is not None


def test_request_without_app_uses_toolkit_defaults() -> None:
    request = Request(create_environ("/"))
    assert request.max_content_length is None
    assert request.max_form_parts == 1000 and request.max_form_memory_size == 500_000


def test_request_limits_come_from_the_active_app_unless_set_on_the_request() -> None:
    app = App("limits")
    app.config.update(MAX_CONTENT_LENGTH=10, MAX_FORM_MEMORY_SIZE=20, MAX_FORM_PARTS=3)
    request = Request(create_environ("/"))  # made outside any request context: no request.app
    with app.app_context():
        assert (request.max_content_length, request.max_form_memory_size, request.max_form_parts) == (
            10,
            20,
            3,
        )
    request.max_form_parts = 7
    request.max_form_memory_size = None
    with app.app_context():
        assert request.max_form_parts == 7 and request.max_form_memory_size is None


def test_response_class_can_be_the_toolkit_one(tmp_path) -> None:
    class PlainApp(App):
        response_class = ToolkitResponse  # type: ignore[assignment]

    app = PlainApp("plain", root_path=str(tmp_path))
    app.add_url_rule("/", "i", lambda: "text")
    app.add_url_rule("/j", "j", lambda: {"a": 1})
    client = app.test_client()
    assert client.get("/").text == "text"
    assert client.get("/j").json == {"a": 1}


def test_trusted_hosts(app, client) -> None:
    @app.get("/")
    def index():
        return request.host

    assert client.get("/", "http://anything.test").status_code == 200  # unset: every host
    app.config["TRUSTED_HOSTS"] = ["example.test", ".other.test"]
    assert client.get("/", "http://example.test").text == "example.test"
    assert client.get("/", "http://a.other.test").status_code == 200
    assert client.get("/", "http://bad.test").status_code == 400
