"""before/after/teardown hooks: order, short-circuits, scoping, errors."""

from __future__ import annotations

import pytest

from sockweb.framework import App, Blueprint, g, request
from sockweb.framework.ctx import after_this_request


def test_hook_order_app_and_nested_blueprints(app, client) -> None:
    calls: list[str] = []
    outer = Blueprint("outer", __name__, url_prefix="/o")
    inner = Blueprint("inner", __name__, url_prefix="/i")

    def hooks(target, name):
        target.before_request(lambda: calls.append(f"before {name} 1"))
        target.before_request(lambda: calls.append(f"before {name} 2"))

        @target.after_request
        def after1(response):
            calls.append(f"after {name} 1")
            return response

        @target.after_request
        def after2(response):
            calls.append(f"after {name} 2")
            return response

        target.teardown_request(lambda exc: calls.append(f"teardown {name}"))

    hooks(app, "app")
    hooks(outer, "outer")
    hooks(inner, "inner")

    @inner.get("/v")
    def view():
        calls.append("view")
        return "v"

    outer.register_blueprint(inner)
    app.register_blueprint(outer)
    app.teardown_appcontext(lambda exc: calls.append("teardown appctx"))

    assert client.get("/o/i/v").text == "v"
    assert calls == [
        "before app 1",
        "before app 2",
        "before outer 1",
        "before outer 2",
        "before inner 1",
        "before inner 2",
        "view",
        "after inner 2",
        "after inner 1",
        "after outer 2",
        "after outer 1",
        "after app 2",
        "after app 1",
        "teardown inner",
        "teardown outer",
        "teardown app",
        "teardown appctx",
    ]


def test_blueprint_hooks_do_not_run_for_other_endpoints(app, client) -> None:
    calls: list[str] = []
    bp = Blueprint("bp", __name__)
    bp.before_request(lambda: calls.append("bp"))

    @bp.get("/in")
    def inside():
        return "in"

    @app.get("/out")
    def outside():
        return "out"

    app.register_blueprint(bp)
    client.get("/out")
    assert calls == []
    client.get("/in")
    assert calls == ["bp"]


def test_app_wide_hooks_from_a_blueprint(app, client) -> None:
    calls: list[str] = []
    bp = Blueprint("bp", __name__)
    bp.before_app_request(lambda: calls.append("before"))

    @bp.after_app_request
    def after(response):
        calls.append("after")
        return response

    bp.teardown_app_request(lambda exc: calls.append("teardown"))

    @app.get("/")
    def index():
        return "x"

    app.register_blueprint(bp)
    client.get("/")
    assert calls == ["before", "after", "teardown"]


def test_before_request_can_answer(app, client) -> None:
    calls: list[str] = []

    @app.before_request
    def guard():
        if request.args.get("deny"):
            return "denied", 403
        return None

    @app.before_request
    def second():
        calls.append("second")

    @app.after_request
    def stamp(response):
        response.headers["X-After"] = "1"
        return response

    @app.get("/")
    def index():
        calls.append("view")
        return "ok"

    denied = client.get("/?deny=1")
    assert (denied.status_code, denied.text, denied.headers["X-After"]) == (403, "denied", "1")
    assert calls == []
    assert client.get("/").text == "ok"
    assert calls == ["second", "view"]


def test_after_request_can_replace_the_response(app, client) -> None:
    @app.after_request
    def replace(response):
        return app.response_class("replaced", 202)

    app.add_url_rule("/", "i", lambda: "orig")
    response = client.get("/")
    assert (response.status_code, response.text) == (202, "replaced")


def test_before_request_runs_for_unmatched_urls(app, client) -> None:
    seen: list[str] = []
    app.before_request(lambda: seen.append(request.path))
    assert client.get("/missing").status_code == 404
    assert seen == ["/missing"]


def test_teardown_receives_the_unhandled_error(app, client) -> None:
    app.testing = False
    errors: list[object] = []
    app.teardown_request(errors.append)
    app.teardown_appcontext(errors.append)

    @app.get("/boom")
    def boom():
        raise KeyError("x")

    @app.get("/fine")
    def fine():
        return "fine"

    assert client.get("/boom").status_code == 500
    assert [type(e) for e in errors] == [KeyError, KeyError]
    errors.clear()
    client.get("/fine")
    assert errors == [None, None]


def test_teardown_runs_when_the_error_propagates(app, client) -> None:
    errors: list[object] = []
    app.teardown_request(errors.append)

    @app.get("/boom")
    def boom():
        raise ValueError("propagated")

    with pytest.raises(ValueError):
        client.get("/boom")
    assert len(errors) == 1 and isinstance(errors[0], ValueError)


def test_after_this_request(app, client) -> None:
    @app.get("/")
    def index():
        @after_this_request
        def add(response):
            response.headers["X-Once"] = "yes"
            return response

        return "x"

    @app.get("/other")
    def other():
        return "y"

    assert client.get("/").headers["X-Once"] == "yes"
    assert "X-Once" not in client.get("/other").headers
    with pytest.raises(RuntimeError):
        after_this_request(lambda r: r)


def test_g_lives_for_one_request(app, client) -> None:
    @app.before_request
    def load():
        g.user = request.args.get("u", "anon")

    @app.get("/")
    def index():
        return f"{g.user}:{g.get('missing', 'dflt')}:{'user' in g}"

    assert client.get("/?u=ann").text == "ann:dflt:True"
    assert client.get("/").text == "anon:dflt:True"


def test_url_value_preprocessor_and_defaults(app, client) -> None:
    from sockweb.framework import url_for

    @app.url_value_preprocessor
    def pull_lang(endpoint, values):
        g.lang = values.pop("lang", None) if values else None

    @app.url_defaults
    def add_lang(endpoint, values):
        if "lang" not in values and app.url_map.rules_for_endpoint(endpoint)[0].arguments >= {"lang"}:
            values["lang"] = g.lang

    @app.get("/<lang>/page")
    def page():
        return f"{g.lang} {url_for('page')}"

    assert client.get("/fr/page").text == "fr /fr/page"


def test_late_blueprint_setup_is_refused() -> None:
    app = App("late")
    bp = Blueprint("bp", __name__)
    app.register_blueprint(bp)
    with pytest.raises(RuntimeError, match="after it was registered"):
        bp.before_request(lambda: None)
    with pytest.raises(RuntimeError):
        bp.add_url_rule("/x", "x", lambda: "x")


def test_hooks_added_after_first_request_take_effect(app, client) -> None:
    app.add_url_rule("/", "i", lambda: "x")
    assert "X-Late" not in client.get("/").headers

    @app.after_request
    def late(response):
        response.headers["X-Late"] = "1"
        return response

    assert client.get("/").headers["X-Late"] == "1"
