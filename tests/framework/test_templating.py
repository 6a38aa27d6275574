"""Jinja2 templates: loading, autoescape, globals and context values."""

from __future__ import annotations

import jinja2
import pytest

from sockweb.framework import App, g, render_template, render_template_string, session
from sockweb.framework.templating import select_autoescape, stream_template


@pytest.fixture
def tapp(tmp_path):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "page.html").write_text("<p>{{ value }}</p>")
    (templates / "page.txt").write_text("{{ value }}")
    (templates / "page.xml").write_text("<v>{{ value }}</v>")
    (templates / "ctx.html").write_text(
        "{{ request.path }}|{{ g.user }}|{{ session.get('k') }}|{{ config.SECRET_KEY }}|"
        "{{ url_for('show', name='x y') }}|{{ extra }}"
    )
    (templates / "base.html").write_text("[{% block body %}{% endblock %}]")
    (templates / "child.html").write_text("{% extends 'base.html' %}{% block body %}child{% endblock %}")
    app = App("tapp", root_path=str(tmp_path))
    app.config.update(TESTING=True, SECRET_KEY="s")
    return app


def test_autoescape_by_extension(tapp) -> None:
    with tapp.app_context():
        assert render_template("page.html", value="<b>") == "<p>&lt;b&gt;</p>"
        assert render_template("page.xml", value="<b>") == "<v>&lt;b&gt;</v>"
        assert render_template("page.txt", value="<b>") == "<b>"
        assert render_template_string("{{ v }}", v="<i>") == "&lt;i&gt;"
        assert render_template_string("{{ v|safe }}", v="<i>") == "<i>"
    assert select_autoescape(None) and select_autoescape("a.SVG") and not select_autoescape("a.js")


def test_context_has_request_g_session_config_url_for(tapp) -> None:
    tapp.context_processor(lambda: {"extra": "processed"})

    @tapp.get("/show/<name>")
    def show(name):
        g.user = "ann"
        session["k"] = "v"
        return render_template("ctx.html")

    client = tapp.test_client()
    assert client.get("/show/a").text == "/show/a|ann|v|s|/show/x%20y|processed"


def test_explicit_context_beats_processors(tapp) -> None:
    tapp.context_processor(lambda: {"value": "processor"})
    with tapp.test_request_context():
        assert render_template("page.txt", value="given") == "given"
        assert render_template("page.txt") == "processor"


def test_inheritance_lists_and_missing(tapp) -> None:
    with tapp.app_context():
        assert render_template("child.html") == "[child]"
        assert render_template(["missing.html", "page.txt"], value=1) == "1"
        with pytest.raises(jinja2.TemplateNotFound):
            render_template("missing.html")


def test_rendering_needs_an_app_context(tapp) -> None:
    with pytest.raises(RuntimeError, match="application context"):
        render_template_string("x")


def test_filters_globals_and_jinja_options(tapp) -> None:
    @tapp.template_filter()
    def shout(text):
        return text.upper()

    @tapp.template_global("answer")
    def the_answer():
        return 42

    with tapp.app_context():
        assert render_template_string("{{ 'hi'|shout }} {{ answer() }}") == "HI 42"
        assert render_template_string("{{ {'b': 1, 'a': [2]}|tojson }}") == '{"a": [2], "b": 1}'


def test_auto_reload_follows_debug(tapp, tmp_path) -> None:
    tapp.debug = True
    assert tapp.jinja_env.auto_reload is True
    tapp.debug = False
    assert tapp.jinja_env.auto_reload is False


def test_stream_template(tapp) -> None:
    @tapp.get("/")
    def index():
        return stream_template("page.html", value="s")

    assert tapp.test_client().get("/").text == "<p>s</p>"


def test_flashed_messages_in_templates(tapp) -> None:
    from sockweb.framework.helpers import flash

    @tapp.get("/flash")
    def do_flash():
        flash("<saved>")
        return "ok"

    @tapp.get("/show")
    def show():
        return render_template_string("{% for m in get_flashed_messages() %}[{{ m }}]{% endfor %}")

    client = tapp.test_client()
    client.get("/flash")
    assert client.get("/show").text == "[&lt;saved&gt;]"
    assert client.get("/show").text == ""


def test_rendering_does_not_open_the_session_unless_used(tapp) -> None:
    opened: list[bool] = []
    original = tapp.open_session

    def spy(request):
        opened.append(True)
        return original(request)

    tapp.open_session = spy  # type: ignore[method-assign]
    with tapp.test_request_context(headers={"Cookie": "session=x"}):
        assert render_template_string("{{ request.path }}") == "/"
        assert opened == []
        assert render_template_string("{{ session.get('a') }}") == "None"
        assert opened == [True]


def test_macro_from_python(tapp, tmp_path) -> None:
    from sockweb.framework import get_template_attribute

    (tmp_path / "templates" / "_macros.html").write_text("{% macro hi(name) %}Hi {{ name }}!{% endmacro %}")
    with tapp.app_context():
        assert get_template_attribute("_macros.html", "hi")("<you>") == "Hi &lt;you&gt;!"


def test_environment_class_and_loader_can_be_replaced(tmp_path) -> None:
    from sockweb.framework.templating import Environment

    class MyEnvironment(Environment):
        pass

    class MyApp(App):
        jinja_environment = MyEnvironment

        def create_global_jinja_loader(self):
            return jinja2.DictLoader({"page.html": "from the dict"})

    app = MyApp("custom", root_path=str(tmp_path))
    assert isinstance(app.jinja_env, MyEnvironment)
    with app.app_context():
        assert render_template("page.html") == "from the dict"


class _Row(dict):  # a dict subclass may have attributes of its own
    label = "attribute"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ row.name }}", "sock"),  # an item
        ("{{ row.items is callable }}", "True"),  # a dict method wins over the item "items"
        ("{{ row['items'] }}", "3"),
        ("{{ row.missing is undefined }}", "True"),
        ("{{ row.label }}", "item"),  # a plain dict: the item
        ("{{ sub.label }}", "attribute"),  # a subclass: its attribute first, as Jinja2 does
        ("{{ sub.name }}", "sub"),
        ("{{ obj.real }}", "5"),  # not a dict at all
    ],
)
def test_attributes_of_dicts_resolve_as_in_jinja2(tapp, source: str, expected: str) -> None:
    values = {
        "row": {"name": "sock", "items": 3, "label": "item"},
        "sub": _Row(name="sub", label="item"),
        "obj": 5,
    }
    plain = jinja2.Environment(autoescape=True)
    with tapp.app_context():
        assert render_template_string(source, **values) == expected
    assert plain.from_string(source).render(**values) == expected


def test_a_missing_dict_item_is_the_configured_undefined(tapp) -> None:
    tapp.jinja_options = {"undefined": jinja2.StrictUndefined}
    with tapp.app_context(), pytest.raises(jinja2.UndefinedError, match="'dict object' has no attribute"):
        render_template_string("{{ row.missing }}", row={})
