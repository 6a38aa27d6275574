"""Error handlers, abort, propagation and the plain 500 page."""

from __future__ import annotations

import io
import logging

import pytest

from sockweb.framework import Blueprint, abort
from sockweb.web.exceptions import Forbidden, HTTPException, InternalServerError, NotFound


class AppError(Exception):
    pass


class SpecificError(AppError):
    pass


def test_handlers_by_code_for_404_405_500(app, client) -> None:
    app.testing = False

    @app.errorhandler(404)
    def not_found(e):
        return f"custom 404 {e.code}", 404

    @app.errorhandler(405)
    def not_allowed(e):
        return "custom 405", 405

    @app.errorhandler(500)
    def server_error(e):
        return f"custom 500 {type(e.original_exception).__name__}", 500

    @app.post("/p")
    def p():
        return "p"

    @app.get("/boom")
    def boom():
        raise RuntimeError("x")

    assert client.get("/nope").text == "custom 404 404"
    assert client.get("/p").text == "custom 405"
    response = client.get("/boom")
    assert (response.status_code, response.text) == (500, "custom 500 RuntimeError")


def test_most_specific_exception_class_wins(app, client) -> None:
    @app.errorhandler(Exception)
    def anything(e):
        return "exception", 500

    @app.errorhandler(AppError)
    def app_error(e):
        return "app error", 400

    @app.errorhandler(SpecificError)
    def specific(e):
        return "specific", 409

    @app.get("/<kind>")
    def raise_it(kind):
        raise {"base": AppError, "specific": SpecificError, "other": ValueError}[kind]()

    assert client.get("/specific").text == "specific"
    assert client.get("/base").text == "app error"
    assert client.get("/other").text == "exception"


def test_code_handler_beats_class_handler_and_handles_abort(app, client) -> None:
    @app.errorhandler(HTTPException)
    def any_http(e):
        return f"http {e.code}", e.code

    @app.errorhandler(403)
    def forbidden(e):
        return f"forbidden: {e.description}", 403

    @app.get("/<int:code>")
    def view(code):
        abort(code, description="nope") if code == 403 else abort(code)

    assert client.get("/403").text == "forbidden: nope"
    assert client.get("/410").text == "http 410"


def test_abort_with_a_response(app, client) -> None:
    @app.get("/")
    def view():
        abort(app.response_class("teapot body", 418))

    response = client.get("/")
    assert (response.status_code, response.text) == (418, "teapot body")


def test_http_exceptions_without_handler_render_the_toolkit_page(app, client) -> None:
    @app.get("/")
    def view():
        raise Forbidden()

    response = client.get("/")
    assert response.status_code == 403 and "403 Forbidden" in response.text
    json_response = client.get("/", headers={"Accept": "application/json"})
    assert json_response.json["code"] == 403


def test_unhandled_exception_propagates_when_testing(app, client) -> None:
    @app.get("/")
    def view():
        raise ZeroDivisionError()

    with pytest.raises(ZeroDivisionError):
        client.get("/")
    app.testing = False
    app.config["PROPAGATE_EXCEPTIONS"] = True
    with pytest.raises(ZeroDivisionError):
        client.get("/")


def test_unhandled_exception_is_logged_and_answered_500(app, client, caplog) -> None:
    app.testing = False

    @app.get("/")
    def view():
        raise LookupError("secret detail")

    with caplog.at_level(logging.ERROR, logger=app.name):
        response = client.get("/")
    assert response.status_code == 500
    assert "secret detail" not in response.text
    assert "Internal Server Error" in response.text
    record = caplog.records[-1]
    assert "Exception on / [GET]" in record.getMessage()
    assert record.exc_info is not None and record.exc_info[0] is LookupError


def test_handler_for_internal_server_error_class(app, client) -> None:
    app.testing = False

    @app.errorhandler(InternalServerError)
    def ise(e):
        return {"error": str(e.original_exception)}, 500

    @app.get("/")
    def view():
        raise ValueError("bad value")

    assert client.get("/").json == {"error": "bad value"}


def test_error_in_handler_becomes_plain_500(app, client) -> None:
    app.testing = False

    @app.errorhandler(ValueError)
    def broken(e):
        raise RuntimeError("handler broke")

    @app.get("/")
    def view():
        raise ValueError()

    assert client.get("/").status_code == 500


def test_blueprint_error_handlers_are_scoped(app, client) -> None:
    bp = Blueprint("bp", __name__, url_prefix="/bp")

    @bp.errorhandler(AppError)
    def bp_handler(e):
        return "bp handled", 400

    @bp.errorhandler(404)
    def bp_404(e):
        return "bp 404", 404

    @bp.get("/raise")
    def bp_raise():
        raise AppError()

    @bp.get("/missing")
    def bp_missing():
        abort(404)

    @app.errorhandler(AppError)
    def app_handler(e):
        return "app handled", 400

    @app.get("/raise")
    def app_raise():
        raise AppError()

    app.register_blueprint(bp)
    assert client.get("/bp/raise").text == "bp handled"
    assert client.get("/raise").text == "app handled"
    assert client.get("/bp/missing").text == "bp 404"
    # Routing errors are not the blueprint's: no endpoint matched.
    assert client.get("/bp/unknown").text != "bp 404"


def test_app_errorhandler_from_blueprint(app, client) -> None:
    bp = Blueprint("bp", __name__)

    @bp.app_errorhandler(404)
    def everywhere(e):
        return "from bp", 404

    app.register_blueprint(bp)
    assert client.get("/nothing").text == "from bp"


def test_error_handler_registration_errors(app) -> None:
    with pytest.raises(ValueError):
        app.errorhandler(299)(lambda e: "x")
    with pytest.raises(TypeError):
        app.register_error_handler(ValueError(), lambda e: "x")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        app.register_error_handler(str, lambda e: "x")  # type: ignore[arg-type]


def test_trap_http_exceptions(app, client) -> None:
    app.config["TRAP_HTTP_EXCEPTIONS"] = True

    @app.get("/")
    def view():
        raise NotFound()

    with pytest.raises(NotFound):
        client.get("/")


def test_after_request_hooks_run_on_error_responses(app, client) -> None:
    app.testing = False

    @app.after_request
    def stamp(response):
        response.headers["X-Stamp"] = "1"
        return response

    @app.get("/boom")
    def boom():
        raise RuntimeError()

    assert client.get("/boom").headers["X-Stamp"] == "1"
    assert client.get("/none").headers["X-Stamp"] == "1"


# -- url_for build errors and their handlers


def test_url_build_error_handlers_give_urls_in_order(app) -> None:
    from sockweb.framework import url_for
    from sockweb.web.routing import BuildError

    seen: list[tuple[str, dict]] = []

    def declines(error, endpoint, values):
        seen.append((endpoint, dict(values)))
        return None

    def reraises(error, endpoint, values):
        raise BuildError(endpoint, values, None, "still no rule")

    app.url_build_error_handlers.extend([declines, reraises])
    with app.test_request_context():
        with pytest.raises(BuildError):
            url_for("nowhere", x=1)
        assert seen == [
            ("nowhere", {"x": 1, "_anchor": None, "_method": None, "_scheme": None, "_external": False})
        ]
        app.url_build_error_handlers.append(lambda error, endpoint, values: f"/elsewhere/{endpoint}")
        # the handler's URL is url_for's answer as it is (no anchor added)
        assert url_for("nowhere", _anchor="a") == "/elsewhere/nowhere"
    app.config["SERVER_NAME"] = "app.test"
    with app.app_context():
        assert url_for("nowhere") == "/elsewhere/nowhere"
        assert seen[-1][1]["_external"] is True  # outside a request URLs are external


def test_handle_url_build_error_without_handlers_raises_the_error(app) -> None:
    from sockweb.web.routing import BuildError

    error = BuildError("spam", {}, None, "no rule")
    with pytest.raises(BuildError) as info:
        app.handle_url_build_error(error, "spam", {})
    assert info.value is error


# -- trapping 400 errors (TRAP_BAD_REQUEST_ERRORS)


@pytest.mark.parametrize(
    ("debug", "trap", "key_raises", "abort_raises"),
    [
        (False, None, False, False),  # the default: answer 400
        (True, None, True, False),  # debug: the missing key raises, a plain 400 is answered
        (False, True, True, True),  # trap every 400
        (True, False, False, False),  # explicitly off, even in debug
    ],
)
def test_trap_bad_request_errors(app, client, debug, trap, key_raises, abort_raises) -> None:
    from sockweb.framework import abort, request
    from sockweb.web.exceptions import BadRequest, BadRequestKeyError

    app.config.update(DEBUG=debug, TRAP_BAD_REQUEST_ERRORS=trap)
    app.add_url_rule("/key", "key", lambda: request.form["missing"])
    app.add_url_rule("/abort", "abort", lambda: abort(400))
    if key_raises:
        with pytest.raises(BadRequestKeyError, match="missing"):
            client.get("/key")
    else:
        assert client.get("/key").status_code == 400
    if abort_raises:
        with pytest.raises(BadRequest):
            client.get("/abort")
    else:
        assert client.get("/abort").status_code == 400


def test_trap_http_exceptions_still_traps_everything(app, client) -> None:
    from sockweb.framework import abort
    from sockweb.web.exceptions import NotFound

    app.config.update(TRAP_HTTP_EXCEPTIONS=True, TRAP_BAD_REQUEST_ERRORS=False)
    app.add_url_rule("/", "i", lambda: abort(404))
    with pytest.raises(NotFound):
        client.get("/")


def test_log_exception_receives_exc_info_and_can_be_overridden(tmp_path) -> None:
    from sockweb.framework import App

    seen = []

    class Quiet(App):
        def log_exception(self, exc_info):
            seen.append(exc_info)

    app = Quiet("quiet", root_path=str(tmp_path))

    @app.get("/")
    def index():
        raise KeyError("boom")

    response = app.test_client().get("/")
    assert response.status_code == 500
    assert seen[0][0] is KeyError and isinstance(seen[0][1], KeyError)


@pytest.mark.parametrize("debug", [False, True])
def test_missing_form_key_names_the_key_only_in_debug(app, client, debug) -> None:
    from sockweb.framework import request

    app.config.update(TESTING=False, DEBUG=debug, TRAP_BAD_REQUEST_ERRORS=False)

    @app.post("/")
    def index():
        return request.form["secret_field"]

    response = client.post("/", data={})
    assert response.status_code == 400
    assert ("secret_field" in response.text) is debug


def test_debug_mode_refuses_a_redirect_that_drops_a_posted_form(app, client, monkeypatch) -> None:
    from sockweb.framework import request
    from sockweb.framework.debug import FormDataRoutingRedirect
    from sockweb.web.exceptions import RequestRedirect

    @app.route("/form/", methods=["GET", "POST"])
    def form():
        return request.form.get("v", "")

    app.debug = True
    assert client.post("/form", data={"v": "kept"}, follow_redirects=True).text == "kept"  # 308
    monkeypatch.setattr(RequestRedirect, "code", 301)
    with pytest.raises(FormDataRoutingRedirect, match="canonical URL 'http://localhost/form/'"):
        client.post("/form", data={"v": "lost"})
    assert client.get("/form").status_code == 301  # a GET loses nothing
    app.debug = False
    assert client.post("/form", data={"v": "x"}).status_code == 301


def test_debug_mode_explains_files_of_a_form_without_multipart(app, client) -> None:
    from sockweb.framework import request
    from sockweb.framework.debug import DebugFilesKeyError

    @app.post("/upload")
    def upload():
        return request.files["doc"].filename or ""

    app.debug = True
    with pytest.raises(DebugFilesKeyError, match=r"This was submitted: 'report\.pdf'") as info:
        client.post("/upload", data={"doc": "report.pdf"})
    assert "multipart/form-data" in str(info.value) and isinstance(info.value, KeyError)
    assert client.post("/upload", data={"doc": (io.BytesIO(b"x"), "a.txt")}).text == "a.txt"
    app.debug = False
    app.testing = False
    assert client.post("/upload", data={"doc": "report.pdf"}).status_code == 400


def test_register_error_handler_says_what_to_register_instead(app) -> None:
    with pytest.raises(TypeError, match=r"is an instance, not a class\. Register the class"):
        app.register_error_handler(KeyError("k"), lambda e: "")
    with pytest.raises(ValueError, match="'list' is not a subclass of Exception"):
        app.register_error_handler(list, lambda e: "")
    with pytest.raises(ValueError, match="Use a subclass of HTTPException"):
        app.register_error_handler(999, lambda e: "")
