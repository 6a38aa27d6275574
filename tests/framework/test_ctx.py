"""Contexts and proxies: activation, nesting, threads, copies."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from sockweb.framework import App, current_app, g, request, session
from sockweb.framework.ctx import copy_current_request_context, has_app_context, has_request_context
from sockweb.framework.globals import LocalProxy


def test_proxies_outside_contexts_raise_clearly() -> None:
    with pytest.raises(RuntimeError, match="outside of request context"):
        request.path  # noqa: B018
    with pytest.raises(RuntimeError, match="outside of request context"):
        session.get("x")
    with pytest.raises(RuntimeError, match="outside of application context"):
        current_app.name  # noqa: B018
    with pytest.raises(RuntimeError, match="outside of application context"):
        g.x = 1
    assert not request
    assert "unbound" in repr(request)
    assert dir(g) == []
    assert not has_request_context() and not has_app_context()


def test_app_context(app) -> None:
    with app.app_context() as ctx:
        assert current_app._get_current_object() is app
        assert current_app.name == "test_app"
        g.value = 42
        assert g.get("value") == 42 and g.pop("value") == 42 and "value" not in g
        assert g.setdefault("y", 1) == 1 and list(g) == ["y"]
        assert "y" in repr(g)
        assert ctx.g is g._get_current_object()
        assert has_app_context() and not has_request_context()
        with pytest.raises(AttributeError, match="missing"):
            g.missing  # noqa: B018
    assert not has_app_context()


def test_teardown_appcontext_runs_on_exit(app) -> None:
    seen: list[object] = []
    app.teardown_appcontext(seen.append)
    with app.app_context():
        pass
    with pytest.raises(KeyError), app.app_context():
        raise KeyError("k")
    assert seen[0] is None and isinstance(seen[1], KeyError)


def test_nested_app_contexts_restore_the_outer_one(app) -> None:
    other = App("other")
    with app.app_context():
        g.mark = "outer"
        with other.app_context():
            assert current_app.name == "other"
            assert "mark" not in g
        assert current_app.name == "test_app" and g.mark == "outer"


def test_test_request_context(app) -> None:
    with app.test_request_context("/path?q=1", method="POST", headers={"X-A": "b"}) as ctx:
        assert request.path == "/path" and request.args["q"] == "1"
        assert request.method == "POST" and request.headers["X-A"] == "b"
        assert current_app._get_current_object() is app
        assert ctx.request is request._get_current_object()
        assert has_request_context()
        session["k"] = "v"
        assert session.modified
        assert "POST" in repr(ctx)
    assert not has_request_context()


def test_request_context_reuses_an_active_app_context(app) -> None:
    with app.app_context():
        g.shared = 1
        with app.test_request_context():
            assert g.shared == 1


def test_proxy_operations_forward(app) -> None:
    data = {"a": 1}
    proxy: LocalProxy[dict[str, int]] = LocalProxy(lambda: data)
    proxy["b"] = 2
    assert proxy["b"] == 2 and "a" in proxy and len(proxy) == 2
    assert sorted(proxy) == ["a", "b"]
    del proxy["a"]
    assert proxy == {"b": 2} and proxy != {}
    assert str(proxy) == "{'b': 2}" and bool(proxy)
    calls = LocalProxy(lambda: len)
    assert calls([1, 2]) == 2

    class Obj:
        pass

    obj = Obj()
    attr_proxy = LocalProxy(lambda: obj)
    attr_proxy.x = 1
    assert obj.x == 1  # type: ignore[attr-defined]
    del attr_proxy.x
    assert not hasattr(obj, "x")
    with pytest.raises(TypeError):
        hash(proxy)


def test_each_thread_sees_its_own_request(app) -> None:
    barrier = threading.Barrier(4)

    @app.get("/<int:n>")
    def view(n):
        g.n = n
        barrier.wait(timeout=10)  # every request is in flight at once
        return f"{request.view_args['n']} {g.n} {request.path}"

    client = app.test_client()
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda n: client.get(f"/{n}").text, range(4)))
    assert results == [f"{n} {n} /{n}" for n in range(4)]
    assert not has_request_context()


def test_copy_current_request_context_runs_in_another_thread(app, client) -> None:
    @app.get("/")
    def view():
        @copy_current_request_context
        def work():
            return request.path

        with ThreadPoolExecutor(1) as pool:
            return pool.submit(work).result(timeout=10)

    assert client.get("/").text == "/"
    with pytest.raises(RuntimeError):
        copy_current_request_context(lambda: None)


def test_context_is_gone_after_each_request(app, client) -> None:
    app.add_url_rule("/", "i", lambda: "x")
    client.get("/")
    assert not has_request_context() and not has_app_context()


def test_test_request_context_matches_the_url(app) -> None:
    from sockweb.framework import Blueprint, url_for

    bp = Blueprint("shop", __name__, url_prefix="/shop")

    @bp.get("/item/<int:n>")
    def item(n):
        return str(n)

    @bp.get("/")
    def index():
        return "i"

    app.register_blueprint(bp)
    with app.test_request_context("/shop/item/3"):
        assert request.endpoint == "shop.item" and request.view_args == {"n": 3}
        assert url_for(".index") == "/shop/"
    with app.test_request_context("/nowhere"):
        assert request.endpoint is None and request.routing_exception is not None


def test_request_inside_an_app_context_of_the_same_app_runs_in_it(app, client) -> None:
    torn_down: list[object] = []
    app.teardown_appcontext(torn_down.append)

    @app.get("/")
    def index():
        return g.get("outer", "none")

    with app.app_context():
        g.outer = "shared"
        assert client.get("/").text == "shared"  # same g
        assert torn_down == []  # the request did not end the outer context
    assert torn_down == [None]
    assert client.get("/").text == "none"  # alone, the request has its own context, torn down after
    assert torn_down == [None, None]
    other = App("other")
    with other.app_context():
        g.outer = "other app"
        assert client.get("/").text == "none"


def test_full_dispatch_request_uses_the_active_request_context(app) -> None:
    app.add_url_rule("/", "index", lambda: "hello")
    with app.test_request_context("/"):
        assert app.full_dispatch_request().get_data() == b"hello"
    with pytest.raises(RuntimeError, match="request context"):
        app.full_dispatch_request()
