"""Class-based views: View, MethodView, and the as_view -> add_url_rule contract."""

from __future__ import annotations

import pytest

from sockweb.framework import App, request
from sockweb.framework.views import MethodView, View


def _allow(response) -> list[str]:
    return sorted(part.strip() for part in response.headers["Allow"].split(","))


def test_view_dispatch_and_methods(app, client) -> None:
    class Echo(View):
        methods = ["GET", "POST"]

        def dispatch_request(self, **kwargs):
            return f"{request.method} {kwargs}"

    app.add_url_rule("/e/<int:n>", view_func=Echo.as_view("echo"))
    assert client.get("/e/3").text == "GET {'n': 3}"
    assert client.post("/e/3").text == "POST {'n': 3}"
    assert client.put("/e/3").status_code == 405
    assert _allow(client.options("/e/3")) == ["GET", "HEAD", "OPTIONS", "POST"]


def test_as_view_sets_exactly_the_contract_attributes() -> None:
    class Index(View):
        methods = ["PUT"]
        provide_automatic_options = False

        def dispatch_request(self):
            return ""

    view = Index.as_view("idx")
    assert view.__name__ == "idx"
    assert view.view_class is Index
    assert view.methods == ["PUT"]
    assert view.provide_automatic_options is False


def test_method_view_collects_methods_from_handlers_and_bases(app, client) -> None:
    class Base(MethodView):
        def get(self):
            return "GET"

    class Other(MethodView):
        def delete(self):
            return "DELETE"

    class Both(Base, Other):
        def post(self):
            return "POST"

    assert Both.methods == {"GET", "POST", "DELETE"}
    app.add_url_rule("/", view_func=Both.as_view("both"))
    assert client.get("/").text == "GET"
    assert client.delete("/").text == "DELETE"
    assert client.head("/").status_code == 200  # HEAD falls back to get
    assert client.put("/").status_code == 405

    class OnlyGet(Both):
        methods = ["GET"]

    app.add_url_rule("/only", view_func=OnlyGet.as_view("only"))
    assert client.post("/only").status_code == 405


def test_provide_automatic_options_false_is_honoured(app, client) -> None:
    class NoOptions(View):
        provide_automatic_options = False

        def dispatch_request(self):
            return "hello"

    app.add_url_rule("/", view_func=NoOptions.as_view("index"))
    assert client.options("/").status_code == 405
    assert client.get("/").text == "hello"


def test_explicit_options_goes_to_the_view(app, client) -> None:
    class Options(View):
        methods = ["OPTIONS"]

        def dispatch_request(self):
            return "mine"

    app.add_url_rule("/", view_func=Options.as_view("index"))
    assert client.options("/").text == "mine"


def test_add_url_rule_keyword_overrides_the_view_attribute(app, client) -> None:
    def index():
        return "view"

    index.provide_automatic_options = False  # type: ignore[attr-defined]
    app.add_url_rule("/", view_func=index, provide_automatic_options=True)
    assert client.options("/").status_code == 200
    app.add_url_rule("/b", "b", lambda: "b", provide_automatic_options=False)
    assert client.options("/b").status_code == 405


def test_view_class_is_replaceable_and_decorators_apply(app, client) -> None:
    def tag(f):
        def wrapper(**kwargs):
            return f(**kwargs) + "!"

        return wrapper

    class A(View):
        decorators = [tag]

        def dispatch_request(self):
            return "A"

    class B(A):
        def dispatch_request(self):
            return "B"

    view = A.as_view("index")
    view.view_class = B  # type: ignore[attr-defined]
    app.add_url_rule("/", view_func=view)
    assert client.get("/").text == "B!"


@pytest.mark.parametrize(("every", "expected"), [(True, ["1", "2"]), (False, ["1", "1"])])
def test_init_every_request(app: App, client, every: bool, expected: list[str]) -> None:
    count = 0

    class Counted(View):
        init_every_request = every

        def __init__(self, start: int) -> None:
            nonlocal count
            count += start

        def dispatch_request(self):
            return str(count)

    app.add_url_rule("/", view_func=Counted.as_view("index", 1))
    assert [client.get("/").text, client.get("/").text] == expected
