"""Routing, return values and the WSGI surface of App."""

from __future__ import annotations

import io
import re

import pytest

from sockweb.framework import App, Response, make_response, request, url_for
from sockweb.web.datastructures import Headers
from sockweb.web.testing import create_environ, run_wsgi_app


def test_route_and_method_decorators(app, client) -> None:
    @app.route("/", methods=["GET", "POST"])
    def index():
        return f"index {request.method}"

    @app.get("/g")
    def g_view():
        return "get"

    @app.post("/p")
    def p_view():
        return "post"

    @app.put("/u")
    def u_view():
        return "put"

    @app.patch("/pa")
    def pa_view():
        return "patch"

    @app.delete("/d")
    def d_view():
        return "delete"

    assert client.get("/").text == "index GET"
    assert client.post("/").text == "index POST"
    assert client.get("/g").text == "get"
    assert client.post("/p").text == "post"
    assert client.put("/u").text == "put"
    assert client.patch("/pa").text == "patch"
    assert client.delete("/d").text == "delete"
    assert client.get("/p").status_code == 405
    with pytest.raises(TypeError):
        app.get("/x", methods=["POST"])


def test_add_url_rule_endpoint_and_view_args(app, client) -> None:
    def show(name, page):
        return f"{name}:{page}:{request.endpoint}:{request.view_args}"

    app.add_url_rule("/show/<name>/<int:page>", "showing", show)
    assert client.get("/show/bob/3").text == "bob:3:showing:{'name': 'bob', 'page': 3}"


def test_endpoint_decorator(app, client) -> None:
    app.add_url_rule("/e", endpoint="later")

    @app.endpoint("later")
    def later():
        return "late"

    assert client.get("/e").text == "late"


def test_duplicate_endpoint_with_another_function_is_an_error(app) -> None:
    @app.route("/a")
    def view():
        return "a"

    def other():
        return "b"

    with pytest.raises(AssertionError, match="view"):
        app.add_url_rule("/b", "view", other)


def test_methods_must_be_a_list(app) -> None:
    with pytest.raises(TypeError):
        app.add_url_rule("/x", "x", lambda: "x", methods="GET")


@pytest.mark.parametrize(
    ("rv", "status", "ctype", "body"),
    [
        ("<b>hi</b>", 200, "text/html; charset=utf-8", b"<b>hi</b>"),
        (b"raw", 200, "text/html; charset=utf-8", b"raw"),
        ({"a": 1}, 200, "application/json", b'{"a":1}\n'),
        ([1, 2], 200, "application/json", b"[1,2]\n"),
        (("created", 201), 201, "text/html; charset=utf-8", b"created"),
        (("teapot", "418 I'm a teapot"), 418, "text/html; charset=utf-8", b"teapot"),
        (({"ok": True}, 202), 202, "application/json", b'{"ok":true}\n'),
        (("x", {"Content-Type": "text/plain"}), 200, "text/plain", b"x"),
        (("x", 203, [("X-A", "1")]), 203, "text/html; charset=utf-8", b"x"),
        (Response("resp", 200, mimetype="text/plain"), 200, "text/plain; charset=utf-8", b"resp"),
        ((Response("r"), 404), 404, "text/html; charset=utf-8", b"r"),
        ((x for x in ["a", "b", b"c"]), 200, "text/html; charset=utf-8", b"abc"),
        (iter([b"it"]), 200, "text/html; charset=utf-8", b"it"),
    ],
)
def test_view_return_values(app, client, rv, status, ctype, body) -> None:
    app.add_url_rule("/", "index", lambda: rv)
    response = client.get("/")
    assert response.status_code == status
    assert response.headers["Content-Type"] == ctype
    assert response.data == body


def test_tuple_headers_are_added(app, client) -> None:
    app.add_url_rule("/", "index", lambda: ("x", 200, Headers([("X-One", "1")])))
    assert client.get("/").headers["X-One"] == "1"


@pytest.mark.parametrize("bad", [None, 42, ("a", 1, {}, 4), object()])
def test_invalid_return_values_are_500_or_raise(app, client, bad) -> None:
    app.add_url_rule("/", "index", lambda: bad)
    with pytest.raises(TypeError):
        client.get("/")
    app.testing = False
    assert client.get("/").status_code == 500


def test_generator_is_streamed_without_content_length(app, client) -> None:
    def gen():
        yield "a"
        yield "b"

    app.add_url_rule("/", "index", gen)
    response = client.get("/")
    assert response.data == b"ab"
    assert "Content-Length" not in response.headers


def test_head_and_options_are_automatic(app, client) -> None:
    @app.get("/")
    def index():
        return "body"

    head = client.head("/")
    assert head.status_code == 200 and head.data == b""
    assert head.headers["Content-Length"] == "4"
    options = client.options("/")
    assert options.status_code == 200
    assert set(options.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}


def test_404_405_and_allow_header(app, client) -> None:
    @app.post("/only-post")
    def only_post():
        return "p"

    assert client.get("/nope").status_code == 404
    response = client.get("/only-post")
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]


def test_strict_slash_redirect_keeps_the_query(app, client) -> None:
    @app.get("/dir/")
    def folder():
        return "dir"

    response = client.get("/dir?x=1")
    assert response.status_code == 308
    assert response.headers["Location"].endswith("/dir/?x=1")
    assert client.get("/dir?x=1", follow_redirects=True).text == "dir"


def test_max_content_length_is_413(app, client) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 10

    @app.post("/")
    def upload():
        return str(len(request.get_data()))

    assert client.post("/", data=b"x" * 10).text == "10"
    assert client.post("/", data=b"x" * 11).status_code == 413


def test_max_content_length_limits_form_parsing(app, client) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 100

    @app.post("/")
    def upload():
        return str(request.max_content_length)

    assert client.post("/", data={"a": "b"}).text == "100"


def test_wsgi_app_can_be_wrapped_by_middleware(app, client) -> None:
    @app.get("/")
    def index():
        return "inner"

    inner = app.wsgi_app

    def middleware(environ, start_response):
        def wrapped_start(status, headers, exc_info=None):
            return start_response(status, [*headers, ("X-Middleware", "yes")], exc_info)

        return inner(environ, wrapped_start)

    app.wsgi_app = middleware
    response = client.get("/")
    assert response.text == "inner" and response.headers["X-Middleware"] == "yes"


def test_app_is_a_plain_wsgi_callable(app) -> None:
    @app.get("/")
    def index():
        return "plain"

    app_iter, status, _ = run_wsgi_app(app, create_environ("/"), buffered=True)
    assert status == "200 OK" and list(app_iter) == [b"plain"]


def test_non_ascii_path_is_routed(app, client) -> None:
    @app.get("/caf\u00e9/<name>")
    def cafe(name):
        return name

    assert client.get("/caf%C3%A9/cr%C3%A8me").text == "cr\u00e8me"


def test_make_response_helper(app, client) -> None:
    @app.get("/")
    def index():
        response = make_response("made", 201)
        response.headers["X-Made"] = "1"
        return response

    response = client.get("/")
    assert (response.status_code, response.text, response.headers["X-Made"]) == (201, "made", "1")
    with app.test_request_context():
        assert make_response().status_code == 200
        assert make_response({"a": 1}).mimetype == "application/json"


def test_static_folder_is_served(tmp_path) -> None:
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "site.css").write_text("body{}")
    app = App("static_app", root_path=str(tmp_path))
    client = app.test_client()
    response = client.get("/static/site.css")
    assert response.status_code == 200 and response.data == b"body{}"
    assert response.mimetype == "text/css"
    etag = response.headers["ETag"]
    assert client.get("/static/site.css", headers={"If-None-Match": etag}).status_code == 304
    assert client.get("/static/missing.css").status_code == 404
    assert client.get("/static/../secret").status_code == 404
    with app.test_request_context():
        from sockweb.framework import url_for

        assert url_for("static", filename="site.css") == "/static/site.css"


def test_custom_static_url_path_and_no_static(tmp_path) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "a.txt").write_text("A")
    app = App("s", static_folder="assets", static_url_path="/files", root_path=str(tmp_path))
    assert app.test_client().get("/files/a.txt").data == b"A"
    bare = App("bare", static_folder=None, root_path=str(tmp_path))
    assert [rule.endpoint for rule in bare.url_map.iter_rules()] == []


def test_name_config_and_repr(app) -> None:
    assert app.name == "test_app"
    assert "test_app" in repr(app)
    assert app.testing is True
    app.debug = True
    assert app.config["DEBUG"] is True
    assert App("__main__").name != ""


def test_subdomain_routes_with_subdomain_matching() -> None:
    app = App(__name__, subdomain_matching=True)
    app.config["SERVER_NAME"] = "shop.test"
    app.add_url_rule("/", "home", lambda: "home")
    app.add_url_rule("/", "api", lambda: "api", subdomain="api")
    app.add_url_rule("/u", "user", lambda user: user, subdomain="<user>")
    client = app.test_client()
    assert client.get("/", base_url="http://api.shop.test").text == "api"
    assert client.get("/", base_url="http://shop.test").text == "home"
    assert client.get("/u", base_url="http://ann.shop.test").text == "ann"
    with app.test_request_context("/", base_url="http://api.shop.test"):
        assert url_for("api") == "/"
        assert url_for("home") == "http://shop.test/"
        assert url_for("user", user="bob") == "http://bob.shop.test/u"


def test_without_subdomain_matching_every_host_is_the_default_subdomain() -> None:
    app = App(__name__)
    app.config["SERVER_NAME"] = "shop.test"
    app.add_url_rule("/", "home", lambda: "home")
    assert app.test_client().get("/", base_url="http://other.test").text == "home"


def test_static_host_goes_with_host_matching() -> None:
    app = App(__name__, host_matching=True, static_host="cdn.test")
    assert app.url_map.rules_for_endpoint("static")[0].host == "cdn.test"
    with pytest.raises(AssertionError):
        App(__name__, static_host="cdn.test")
    with pytest.raises(AssertionError):
        App(__name__, host_matching=True)
    App(__name__, host_matching=True, static_folder=None)


def test_request_body_and_form(app, client) -> None:
    @app.post("/form")
    def form():
        return request.form["name"]

    @app.post("/json")
    def json_view():
        return {"got": request.json}

    assert client.post("/form", data={"name": "ann"}).text == "ann"
    assert client.post("/json", json={"a": [1]}).json == {"got": {"a": [1]}}
    bad = client.post("/json", data=b"{", content_type="application/json")
    assert bad.status_code == 400


def test_wsgi_input_missing_is_fine(app) -> None:
    @app.get("/")
    def index():
        return "ok"

    environ = create_environ("/")
    environ["wsgi.input"] = io.BytesIO()
    assert b"".join(run_wsgi_app(app, environ, buffered=True)[0]) == b"ok"


def test_run_uses_the_dev_server_lazily(app, monkeypatch) -> None:
    import sockweb.web.dev as dev

    calls = []
    monkeypatch.setattr(dev, "run_simple", lambda *a, **kw: calls.append((a, kw)))
    app.run(port=1234, debug=True)
    ((args, kwargs),) = calls
    assert args == ("127.0.0.1", 1234, app)
    assert kwargs == {"use_reloader": True, "use_debugger": True}
    calls.clear()
    app.run(debug=False, threads=2)
    assert calls[0][1] == {"use_reloader": False, "use_debugger": False, "threads": 2}


@pytest.mark.parametrize(
    ("host", "port", "server_name", "expected"),
    [
        (None, None, None, ("127.0.0.1", 5000)),
        (None, None, "api.test:8080", ("api.test", 8080)),
        ("0.0.0.0", None, "api.test:8080", ("0.0.0.0", 8080)),
        (None, 0, "api.test:8080", ("api.test", 0)),
        (None, None, "api.test", ("api.test", 5000)),
        (None, None, "[::1]:81", ("[::1]", 81)),
    ],
)
def test_run_takes_host_and_port_from_server_name(
    app, monkeypatch, host, port, server_name, expected
) -> None:
    import sockweb.web.dev as dev

    calls = []
    monkeypatch.setattr(dev, "run_simple", lambda *a, **kw: calls.append(a[:2]))
    app.config["SERVER_NAME"] = server_name
    app.run(host, port)
    assert calls == [expected]


def test_run_loads_dotenv(app, monkeypatch, tmp_path) -> None:
    import sockweb.web.dev as dev

    monkeypatch.setattr(dev, "run_simple", lambda *a, **kw: None)
    (tmp_path / ".env").write_text(
        "# comment\nSOCKWEB_TEST_DOTENV='from file'\nexport SOCKWEB_TEST_OTHER=2\n"
    )
    monkeypatch.chdir(tmp_path)
    for name in ("SOCKWEB_TEST_DOTENV", "SOCKWEB_TEST_OTHER"):
        monkeypatch.setenv(name, "")  # recorded, so the values the test sets are undone
        monkeypatch.delenv(name)
    app.run(load_dotenv=True)
    import os

    assert os.environ["SOCKWEB_TEST_DOTENV"] == "from file"
    assert os.environ["SOCKWEB_TEST_OTHER"] == "2"


def test_rule_without_view_function_is_a_clear_error(app, client) -> None:
    app.add_url_rule("/orphan", endpoint="orphan")
    with pytest.raises(LookupError, match="orphan"):
        client.get("/orphan")


def test_route_decorator_can_be_reused(app, client) -> None:
    decorator = app.route("/a", endpoint="shared_a", methods=["GET"])
    decorator(lambda: "a")
    with pytest.raises(AssertionError):
        decorator(lambda: "b")  # same endpoint again, another function: refused, not silently renamed


def test_custom_converter(app, client) -> None:
    from sockweb.web.routing import BaseConverter

    class ListConverter(BaseConverter):
        def to_python(self, value):
            return value.split(",")

        def to_url(self, value):
            return ",".join(value)

    app.url_map.converters["list"] = ListConverter

    @app.get("/tags/<list:tags>")
    def tags(tags):
        from sockweb.framework import url_for

        return f"{len(tags)} {url_for('tags', tags=['x', 'y'])}"

    assert client.get("/tags/a,b,c").text == "3 /tags/x,y"


def test_a_child_blueprints_subdomain_is_below_its_parents() -> None:
    from sockweb.framework import Blueprint

    app = App(__name__, subdomain_matching=True)
    app.config["SERVER_NAME"] = "shop.test"
    parent = Blueprint("parent", __name__)
    child = Blueprint("child", __name__, subdomain="api")
    child.add_url_rule("/", "index", lambda: "child")
    parent.register_blueprint(child)
    app.register_blueprint(parent, subdomain="eu")
    client = app.test_client()
    assert client.get("/", base_url="http://api.eu.shop.test").text == "child"
    assert client.get("/", base_url="http://eu.shop.test").status_code == 404


def test_static_url_path_follows_the_folder_name(tmp_path) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "a.css").write_text("a")
    (tmp_path / "root.txt").write_text("root")
    app = App("s", root_path=str(tmp_path), static_folder="assets")
    assert app.static_url_path == "/assets"
    assert app.test_client().get("/assets/a.css").text == "a"
    top = App("t", root_path=str(tmp_path), static_folder="")  # the root folder, served from "/"
    assert top.static_url_path == ""
    assert top.test_client().get("/root.txt").text == "root"


def test_a_dropped_app_is_freed_without_the_garbage_collector(tmp_path) -> None:
    import gc
    import weakref

    gc.disable()
    try:
        app = App("freed", root_path=str(tmp_path))
        assert app.view_functions["static"] and app.json.sort_keys
        ref = weakref.ref(app)
        del app
        assert ref() is None
    finally:
        gc.enable()


def test_the_same_method_bound_twice_is_the_same_view(app, client) -> None:
    class Views:
        def __init__(self, app):
            app.add_url_rule("/", "index", self.index)
            app.add_url_rule("/<name>/", "index", self.index)

        def index(self, name="top"):
            return name

    Views(app)
    assert client.get("/").text == "top" and client.get("/x/").text == "x"


@pytest.mark.parametrize(
    ("rv", "message"),
    [
        (None, "endpoint 'bad' did not return a valid response: it returned None"),
        (("body",), "endpoint 'bad' returned a tuple of 1 items: the tuple must have the form"),
        (True, "but it was a bool"),
    ],
)
def test_bad_return_values_name_the_endpoint(app, client, rv, message) -> None:
    app.add_url_rule("/", "bad", lambda: rv)
    with pytest.raises(TypeError, match=re.escape(message)):
        client.get("/")


def _make_module(folder, name: str, package: bool = False) -> None:
    code = "from sockweb.framework import App\napp = App(__name__)\n"
    if package:
        (folder / name).mkdir(parents=True)
        (folder / name / "__init__.py").write_text(code)
    else:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.py").write_text(code)


@pytest.mark.parametrize("package", [False, True])
def test_instance_folder_is_beside_the_project_code(tmp_path, monkeypatch, package) -> None:
    import importlib
    import sys

    name = f"sw_instance_{'pkg' if package else 'mod'}"
    _make_module(tmp_path / "project", name, package)
    monkeypatch.syspath_prepend(str(tmp_path / "project"))
    monkeypatch.delitem(sys.modules, name, raising=False)
    app = importlib.import_module(name).app
    monkeypatch.delitem(sys.modules, name)
    assert app.instance_path == str(tmp_path / "project" / "instance")


@pytest.mark.parametrize("layout", ["lib/python3.x/site-packages", "Lib/site-packages", "prefix-path"])
def test_instance_folder_of_installed_code_is_under_the_prefix_var(tmp_path, monkeypatch, layout) -> None:
    import importlib
    import sys

    prefix = tmp_path / "env"
    folder = prefix / ("path" if layout == "prefix-path" else layout)
    name = "sw_installed_" + layout.replace("/", "_").replace(".", "_").replace("-", "_").lower()
    _make_module(folder, name, package=True)
    monkeypatch.syspath_prepend(str(folder))
    if layout == "prefix-path":
        monkeypatch.setattr(sys, "prefix", str(prefix))  # anything under sys.prefix is installed code
    monkeypatch.delitem(sys.modules, name, raising=False)
    app = importlib.import_module(name).app
    monkeypatch.delitem(sys.modules, name)
    assert app.instance_path == str(prefix / "var" / f"{name}-instance")


def test_instance_folder_of_an_unimportable_app_is_in_its_root(tmp_path) -> None:
    assert App("not_a_module_anywhere", root_path=str(tmp_path)).instance_path == str(tmp_path / "instance")
    with pytest.raises(ValueError, match="must be absolute"):
        App("x", instance_path="relative")


def test_405_lists_options_only_when_a_rule_answers_it(app, client) -> None:
    app.add_url_rule("/plain", "plain", lambda: "p", provide_automatic_options=False)
    app.add_url_rule("/auto", "auto", lambda: "a")
    app.add_url_rule("/own", "own", lambda: "o", methods=["GET", "OPTIONS"])
    assert client.post("/plain").headers["Allow"] == "GET, HEAD"
    assert client.open("/plain", method="OPTIONS").status_code == 405
    assert client.post("/auto").headers["Allow"] == "GET, HEAD, OPTIONS"
    assert client.post("/own").headers["Allow"] == "GET, HEAD, OPTIONS"
