"""Coroutine views, hooks and error handlers run to completion, with the contexts available."""

from __future__ import annotations

import asyncio

from sockweb.framework import App, Blueprint, g, request
from sockweb.framework.sync import async_to_sync
from sockweb.framework.views import MethodView


class Oops(Exception):
    pass


def test_async_view_hooks_and_handlers(app: App, client) -> None:
    calls: list[str] = []

    @app.before_request
    async def before():
        await asyncio.sleep(0)
        g.who = "before"

    @app.after_request
    async def after(response):
        calls.append("after")
        return response

    @app.route("/", methods=["GET", "POST"])
    async def index():
        await asyncio.sleep(0)
        return f"{request.method} {g.who}"

    @app.errorhandler(Oops)
    async def handle(e):
        return "handled", 412

    @app.route("/error")
    async def error():
        raise Oops

    bp = Blueprint("bp", __name__)

    class Items(MethodView):
        async def get(self):
            return "items"

    bp.add_url_rule("/items", view_func=Items.as_view("items"))
    app.register_blueprint(bp, url_prefix="/bp")

    assert client.get("/").text == "GET before"
    assert client.post("/").text == "POST before"
    assert client.get("/error").status_code == 412
    assert client.get("/bp/items").text == "items"
    assert calls == ["after"] * 4


def test_runs_inside_a_running_loop() -> None:
    async def double(x: int) -> int:
        await asyncio.sleep(0)
        return 2 * x

    sync_double = async_to_sync(double)

    async def caller() -> int:
        return sync_double(21)  # called from a thread whose loop is running

    assert sync_double(1) == 2
    assert asyncio.run(caller()) == 42


def test_exception_from_worker_thread_propagates() -> None:
    async def fail() -> None:
        raise Oops("x")

    async def caller() -> None:
        async_to_sync(fail)()

    try:
        asyncio.run(caller())
    except Oops as e:
        assert str(e) == "x"
    else:
        raise AssertionError("expected Oops")
