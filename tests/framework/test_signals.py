"""The ten signals: when each is sent, with what, and only to receivers of that App."""

from __future__ import annotations

import pytest

from sockweb.framework import App, flash, render_template_string
from sockweb.framework import signals as s


@pytest.fixture
def recorder():
    connected: list[tuple[object, object]] = []
    events: list[tuple[str, dict[str, object]]] = []

    def connect(signal, app) -> None:
        def receiver(sender, **kwargs) -> None:
            assert sender is app
            events.append((signal.name, kwargs))

        signal.connect(receiver, app)
        connected.append((signal, receiver))

    yield connect, events
    for signal, receiver in connected:
        signal.disconnect(receiver)


def test_request_signals_in_order(app: App, client, recorder) -> None:
    connect, events = recorder
    for signal in (
        s.request_started,
        s.request_finished,
        s.request_tearing_down,
        s.appcontext_pushed,
        s.appcontext_tearing_down,
        s.appcontext_popped,
    ):
        connect(signal, app)

    @app.route("/")
    def index():
        events.append(("view", {}))
        return "ok"

    assert client.get("/").text == "ok"
    names = [name for name, _ in events]
    assert names == [
        "appcontext-pushed",
        "request-started",
        "view",
        "request-finished",
        "request-tearing-down",
        "appcontext-tearing-down",
        "appcontext-popped",
    ]
    assert events[3][1]["response"].status_code == 200
    assert events[4][1] == {"exc": None}


def test_got_request_exception_and_teardown_exc(app: App, client, recorder) -> None:
    connect, events = recorder
    app.testing = False
    connect(s.got_request_exception, app)
    connect(s.appcontext_tearing_down, app)

    @app.route("/")
    def index():
        raise ZeroDivisionError

    assert client.get("/").status_code == 500
    (name1, kw1), (name2, kw2) = events
    assert name1 == "got-request-exception" and isinstance(kw1["exception"], ZeroDivisionError)
    assert name2 == "appcontext-tearing-down" and kw2["exc"] is kw1["exception"]


def test_template_signals_may_change_the_context(app: App, client, recorder) -> None:
    connect, events = recorder
    connect(s.template_rendered, app)

    def bump(sender, template, context) -> None:
        context["n"] = 43

    s.before_render_template.connect(bump, app)
    try:
        with app.test_request_context():
            assert render_template_string("{{ n }}", n=42) == "43"
    finally:
        s.before_render_template.disconnect(bump, app)
    ((name, kwargs),) = events
    assert name == "template-rendered" and kwargs["context"]["n"] == 43


def test_message_flashed(app: App, client, recorder) -> None:
    connect, events = recorder
    connect(s.message_flashed, app)
    with app.test_request_context():
        flash("hi", "notice")
    assert events == [("message-flashed", {"message": "hi", "category": "notice"})]


def test_app_context_push_pop(app: App, recorder) -> None:
    connect, events = recorder
    connect(s.appcontext_pushed, app)
    connect(s.appcontext_popped, app)
    with app.app_context():
        pass
    assert [name for name, _ in events] == ["appcontext-pushed", "appcontext-popped"]


def test_receiver_of_another_app_hears_nothing(app: App, client, recorder) -> None:
    connect, events = recorder
    connect(s.request_started, App("other"))
    app.add_url_rule("/", "index", lambda: "ok")
    assert client.get("/").text == "ok"
    assert events == []


def test_signal_names_are_flasks() -> None:
    assert sorted(s.__all__) == sorted(
        [
            "template_rendered",
            "before_render_template",
            "request_started",
            "request_finished",
            "request_tearing_down",
            "got_request_exception",
            "appcontext_tearing_down",
            "appcontext_pushed",
            "appcontext_popped",
            "message_flashed",
        ]
    )
