"""Blueprints: prefixes, names, url_for, folders, nesting, registration rules."""

from __future__ import annotations

import pytest

from sockweb.framework import App, Blueprint, render_template, request, url_for


def test_prefix_endpoint_names_and_relative_url_for(app, client) -> None:
    bp = Blueprint("admin", __name__, url_prefix="/admin")

    @bp.get("/")
    def index():
        return f"{request.endpoint} {request.blueprint} {url_for('.users')} {url_for('home')}"

    @bp.get("/users")
    def users():
        return "users"

    @app.get("/")
    def home():
        return url_for("admin.index")

    app.register_blueprint(bp)
    assert client.get("/").text == "/admin/"
    assert client.get("/admin/").text == "admin.index admin /admin/users /"
    assert client.get("/admin/users").text == "users"


def test_register_options_override_prefix_and_name(app, client) -> None:
    bp = Blueprint("api", __name__, url_prefix="/api")

    @bp.get("/ping")
    def ping():
        return request.endpoint

    app.register_blueprint(bp)
    app.register_blueprint(bp, url_prefix="/v2", name="api_v2")
    assert client.get("/api/ping").text == "api.ping"
    assert client.get("/v2/ping").text == "api_v2.ping"
    with pytest.raises(ValueError, match="already registered"):
        app.register_blueprint(bp)


def test_nested_blueprints(app, client) -> None:
    parent = Blueprint("parent", __name__, url_prefix="/p")
    child = Blueprint("child", __name__, url_prefix="/c")

    @child.get("/x")
    def x():
        return f"{request.endpoint} {request.blueprints} {url_for('.x')} {url_for('parent.child.x')}"

    parent.register_blueprint(child)
    app.register_blueprint(parent)
    assert client.get("/p/c/x").text == "parent.child.x ('parent.child', 'parent') /p/c/x /p/c/x"


def test_url_defaults_of_a_blueprint(app, client) -> None:
    bp = Blueprint("lang", __name__, url_prefix="/<lang>", url_defaults={"section": "news"})

    @bp.get("/hello")
    def hello(lang, section):
        return f"{lang} {section}"

    app.register_blueprint(bp)
    app.register_blueprint(bp, name="sport", url_prefix="/s/<lang>", url_defaults={"section": "sport"})
    assert client.get("/fr/hello").text == "fr news"
    assert client.get("/s/fr/hello").text == "fr sport"
    with app.test_request_context():
        assert url_for("lang.hello", lang="de") == "/de/hello"


def test_blueprint_static_and_template_folders(tmp_path) -> None:
    (tmp_path / "bp_static").mkdir()
    (tmp_path / "bp_static" / "bp.js").write_text("js")
    (tmp_path / "bp_templates").mkdir()
    (tmp_path / "bp_templates" / "bp.html").write_text("bp says {{ word }}")
    (tmp_path / "bp_templates" / "shared.html").write_text("from blueprint")
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "shared.html").write_text("from app")
    app = App("bpfolders", root_path=str(tmp_path))
    bp = Blueprint(
        "shop",
        "bpfolders",
        url_prefix="/shop",
        static_folder="bp_static",
        static_url_path="/assets",
        template_folder="bp_templates",
        root_path=str(tmp_path),
    )

    @bp.get("/")
    def index():
        return render_template("bp.html", word="<hi>") + "|" + render_template("shared.html")

    app.register_blueprint(bp)
    client = app.test_client()
    assert client.get("/shop/assets/bp.js").data == b"js"
    # the App's own template folder wins over a blueprint's for the same name
    assert client.get("/shop/").text == "bp says &lt;hi&gt;|from app"
    with app.test_request_context():
        assert url_for("shop.static", filename="bp.js") == "/shop/assets/bp.js"
    assert app.jinja_env.loader.list_templates() == ["bp.html", "shared.html"]


def test_blueprint_names_and_endpoints_are_validated() -> None:
    with pytest.raises(ValueError):
        Blueprint("a.b", __name__)
    with pytest.raises(ValueError):
        Blueprint("", __name__)
    bp = Blueprint("ok", __name__)
    with pytest.raises(ValueError):
        bp.add_url_rule("/", "a.b", lambda: "x")
    with pytest.raises(ValueError):
        bp.register_blueprint(bp)


def test_record_once_runs_once(app) -> None:
    bp = Blueprint("rec", __name__)
    calls: list[str] = []
    bp.record(lambda state: calls.append(f"every {state.name}"))
    bp.record_once(lambda state: calls.append(f"once {state.name}"))
    app.register_blueprint(bp)
    app.register_blueprint(bp, name="rec2")
    assert calls == ["every rec", "once rec", "every rec2"]


def test_blueprint_context_processor_is_scoped(app, client) -> None:
    bp = Blueprint("bp", __name__, url_prefix="/bp")
    bp.context_processor(lambda: {"who": "blueprint"})
    bp.app_context_processor(lambda: {"everywhere": "yes"})
    app.context_processor(lambda: {"who": "app"})
    from sockweb.framework import render_template_string

    @bp.get("/")
    def inside():
        return render_template_string("{{ who }} {{ everywhere }}")

    @app.get("/")
    def outside():
        return render_template_string("{{ who }} {{ everywhere }}")

    app.register_blueprint(bp)
    assert client.get("/bp/").text == "blueprint yes"
    assert client.get("/").text == "app yes"


def test_blueprint_repr_and_method_routes(app, client) -> None:
    bp = Blueprint("m", __name__)

    @bp.post("/p")
    def p():
        return "posted"

    @bp.route("/r", methods=["PUT"])
    def r():
        return "put"

    app.register_blueprint(bp)
    assert repr(bp) == "<Blueprint 'm'>"
    assert client.post("/p").text == "posted"
    assert client.put("/r").text == "put"


def test_one_child_under_two_parents_keeps_its_hooks(app, client) -> None:
    child = Blueprint("child", __name__, url_prefix="/c")
    child.before_request(lambda: None)

    @child.after_request
    def mark(response):
        response.headers["X-Child"] = request.blueprint
        return response

    @child.get("/")
    def index():
        return request.endpoint

    first = Blueprint("first", __name__, url_prefix="/1")
    second = Blueprint("second", __name__, url_prefix="/2")
    first.register_blueprint(child)
    second.register_blueprint(child)
    app.register_blueprint(first)
    app.register_blueprint(second)
    one, two = client.get("/1/c/"), client.get("/2/c/")
    assert (one.text, one.headers["X-Child"]) == ("first.child.index", "first.child")
    assert (two.text, two.headers["X-Child"]) == ("second.child.index", "second.child")


@pytest.mark.parametrize(
    ("parent_init", "child_init", "parent_registration", "child_registration"),
    [
        ("/parent", "/child", None, None),
        ("/parent", None, None, "/child"),
        (None, None, "/parent", "/child"),
        ("/other", "/something", "/parent", "/child"),
    ],
)
def test_nested_prefix_survives_url_prefix_none(
    app, client, parent_init, child_init, parent_registration, child_registration
) -> None:
    # Regression: register_blueprint(child, url_prefix=None) dropped the child's own url_prefix.
    parent = Blueprint("parent", __name__, url_prefix=parent_init)
    child = Blueprint("child", __name__, url_prefix=child_init)
    child.add_url_rule("/", "index", lambda: "index")
    parent.register_blueprint(child, url_prefix=child_registration)
    app.register_blueprint(parent, url_prefix=parent_registration)
    assert client.get("/parent/child/").status_code == 200


def test_blueprint_endpoint_decorator_serves_an_app_rule(app, client) -> None:
    from sockweb.web.routing import Rule

    app.url_map.add(Rule("/raw", endpoint="raw"))
    bp = Blueprint("bp", __name__)

    @bp.endpoint("raw")
    def raw():
        return f"raw {request.endpoint}"

    app.register_blueprint(bp, url_prefix="/bp")
    assert client.get("/raw").text == "raw raw"


def test_blueprint_static_max_age_can_be_overridden(app, tmp_path) -> None:
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "x.css").write_text("x")

    class ShortLived(Blueprint):
        def get_send_file_max_age(self, filename):
            return 7

    bp = ShortLived("bp", __name__, static_folder=str(tmp_path / "static"))
    app.register_blueprint(bp)
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = 3600
    with app.test_request_context():
        response = bp.send_static_file("x.css")
        assert response.cache_control.max_age == 7
        response.close()
        plain = Blueprint("plain", __name__, static_folder=str(tmp_path / "static"))
        response = plain.send_static_file("x.css")
        assert response.cache_control.max_age == 3600  # the App's setting
        response.close()
