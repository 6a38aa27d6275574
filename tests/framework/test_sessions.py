"""Signed cookie sessions: round trip, tampering, rotation, expiry, flags, laziness."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from sockweb.framework import App, session
from sockweb.framework.helpers import flash, get_flashed_messages
from sockweb.framework.sessions import SecureCookieSession, session_json_serializer


@pytest.fixture
def sapp(app):
    @app.get("/set/<key>/<value>")
    def set_value(key, value):
        session[key] = value
        return "set"

    @app.get("/get/<key>")
    def get_value(key):
        return str(session.get(key))

    @app.get("/clear")
    def clear():
        session.clear()
        return "cleared"

    @app.get("/permanent")
    def permanent():
        session.permanent = True
        session["p"] = 1
        return "perm"

    @app.get("/nothing")
    def nothing():
        return "nothing"

    return app


def set_cookie_headers(response) -> list[str]:
    return response.headers.getlist("Set-Cookie")


def test_round_trip_and_cookie_flags(sapp) -> None:
    client = sapp.test_client()
    response = client.get("/set/user/ann")
    (cookie,) = set_cookie_headers(response)
    assert cookie.startswith("session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie and "Expires" not in cookie
    assert response.headers["Vary"] == "Cookie"
    assert client.get("/get/user").text == "ann"


def test_cookie_settings_from_config(sapp) -> None:
    sapp.config.update(
        SESSION_COOKIE_NAME="sid",
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=False,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_PATH="/app",
        SESSION_COOKIE_DOMAIN="example.com",
    )
    (cookie,) = set_cookie_headers(sapp.test_client().get("/set/a/b"))
    assert cookie.startswith("sid=")
    assert "Secure" in cookie and "HttpOnly" not in cookie and "SameSite=Strict" in cookie
    assert "Path=/app" in cookie and "Domain=example.com" in cookie.replace("Domain=.", "Domain=")


def test_no_set_cookie_when_not_modified(sapp) -> None:
    client = sapp.test_client()
    client.get("/set/a/1")
    read = client.get("/get/a")
    assert read.text == "1" and set_cookie_headers(read) == []
    assert read.headers["Vary"] == "Cookie"  # the response depended on the cookie
    untouched = client.get("/nothing")
    assert set_cookie_headers(untouched) == [] and "Vary" not in untouched.headers


@pytest.mark.parametrize(
    "mangle",
    [
        lambda v: v[:-2] + ("AA" if not v.endswith("AA") else "BB"),  # bad signature
        lambda v: "x" + v,  # payload changed
        lambda v: "garbage",
        lambda v: "...",
        lambda v: "\u00e9\u00e9.\u00e9",
        lambda v: v.split(".")[0],  # signature missing
    ],
)
def test_tampered_or_garbage_cookie_is_a_new_session(sapp, mangle) -> None:
    client = sapp.test_client()
    client.get("/set/role/admin")
    value = client.get_cookie("session")
    assert value is not None
    client.set_cookie("session", mangle(value))
    response = client.get("/get/role")
    assert response.status_code == 200 and response.text == "None"


def test_non_dict_payload_is_ignored(sapp) -> None:
    serializer = sapp.session_interface.get_signing_serializer(sapp)
    client = sapp.test_client()
    client.set_cookie("session", serializer.dumps([1, 2]))
    assert client.get("/get/x").text == "None"


def test_key_rotation_with_fallbacks(sapp) -> None:
    client = sapp.test_client()
    client.get("/set/user/ann")
    sapp.config.update(SECRET_KEY="new secret", SECRET_KEY_FALLBACKS=["test secret"])
    assert client.get("/get/user").text == "ann"
    client.get("/set/more/1")  # re-signed with the new key
    sapp.config["SECRET_KEY_FALLBACKS"] = []
    assert client.get("/get/user").text == "ann"
    sapp.config["SECRET_KEY"] = "third"
    assert client.get("/get/user").text == "None"


def test_expired_cookie_is_ignored(sapp, monkeypatch) -> None:
    sapp.config["PERMANENT_SESSION_LIFETIME"] = timedelta(seconds=60)
    serializer = sapp.session_interface.get_signing_serializer(sapp)
    from itsdangerous.timed import TimestampSigner

    now = int(time.time())
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: now - 3600)
    old = serializer.dumps({"user": "ann"})
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: now - 30)
    recent = serializer.dumps({"user": "bob"})
    monkeypatch.undo()
    client = sapp.test_client()
    client.set_cookie("session", old)
    assert client.get("/get/user").text == "None"
    client.set_cookie("session", recent)
    assert client.get("/get/user").text == "bob"


def test_permanent_session_has_expiry_and_refreshes(sapp) -> None:
    sapp.config["PERMANENT_SESSION_LIFETIME"] = 3600
    client = sapp.test_client()
    (cookie,) = set_cookie_headers(client.get("/permanent"))
    assert "Expires=" in cookie
    # a permanent session slides its expiry on each request that uses it
    assert len(set_cookie_headers(client.get("/get/p"))) == 1
    sapp.config["SESSION_REFRESH_EACH_REQUEST"] = False
    assert set_cookie_headers(client.get("/get/p")) == []


def test_emptied_session_deletes_the_cookie(sapp) -> None:
    client = sapp.test_client()
    client.get("/set/a/1")
    (cookie,) = set_cookie_headers(client.get("/clear"))
    assert cookie.startswith("session=;") or cookie.startswith('session="";') or "Max-Age=0" in cookie
    assert client.get_cookie("session") is None


def test_without_secret_key_reads_work_and_writes_explain(app, client) -> None:
    app.config["SECRET_KEY"] = None

    @app.get("/read")
    def read():
        return str(session.get("x"))

    @app.get("/write")
    def write():
        session["x"] = 1
        return "x"

    assert client.get("/read").text == "None"
    with pytest.raises(RuntimeError, match="secret key"):
        client.get("/write")


def test_session_dict_tracks_access_and_changes() -> None:
    s = SecureCookieSession({"a": 1})
    assert not s.accessed and not s.modified
    assert s["a"] == 1 and s.accessed and not s.modified
    s.setdefault("b", 2)
    assert s.modified
    for op in (lambda: s.update(c=3), lambda: s.pop("c"), s.popitem, lambda: s.__delitem__("a")):
        s.modified = False
        op()
        assert s.modified
    assert s.permanent is False
    s.permanent = True
    assert s["_permanent"] is True


def test_session_serializer_is_json() -> None:
    text = session_json_serializer.dumps({"t": (1, 2), "s": "\u00e9"})
    assert text == '{"t":{" t":[1,2]},"s":"\u00e9"}'
    with pytest.raises(TypeError):
        session_json_serializer.dumps({"o": object()})


def test_session_is_opened_lazily(app, client) -> None:
    opened: list[bool] = []
    original = app.open_session

    def spy(request):
        opened.append(True)
        return original(request)

    app.open_session = spy  # type: ignore[method-assign]
    app.add_url_rule("/", "i", lambda: "x")
    client.set_cookie("session", "whatever")
    client.get("/")
    assert opened == []


def test_session_transaction(sapp) -> None:
    client = sapp.test_client()
    with client.session_transaction() as sess:
        sess["user"] = "tx"
    assert client.get("/get/user").text == "tx"
    with client.session_transaction() as sess:
        assert sess["user"] == "tx"


def test_flash_messages(app, client) -> None:
    @app.get("/flash")
    def do_flash():
        flash("saved")
        flash("careful", "warning")
        return "ok"

    @app.get("/show")
    def show():
        first = get_flashed_messages(with_categories=True)
        again = get_flashed_messages(category_filter=["warning"])
        return f"{first} {again}"

    client.get("/flash")
    assert client.get("/show").text == "[('message', 'saved'), ('warning', 'careful')] ['careful']"
    assert client.get("/show").text == "[] []"
    with App("x").app_context():
        assert get_flashed_messages() == []


def test_permanent_session_lifetime_property(app) -> None:
    from datetime import timedelta

    app.config["PERMANENT_SESSION_LIFETIME"] = 42
    assert app.permanent_session_lifetime == timedelta(seconds=42)
    app.permanent_session_lifetime = timedelta(hours=1)
    assert app.config["PERMANENT_SESSION_LIFETIME"] == timedelta(hours=1)


def test_max_cookie_size_warns(app, client) -> None:
    import warnings

    from sockweb.framework import Response

    assert Response().max_cookie_size == 4093
    app.config["MAX_COOKIE_SIZE"] = 100
    with app.app_context():
        assert Response().max_cookie_size == 100

    @app.get("/")
    def index():
        response = Response("", status=204)
        response.set_cookie("big", "x" * 200)
        response.set_cookie("small", "x")
        return response

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client.get("/")
    assert [str(w.message) for w in caught if "too large" in str(w.message)] == [
        str(caught[0].message)
    ] and "'big'" in str(caught[0].message)
    app.config["MAX_COOKIE_SIZE"] = 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        client.get("/")


def test_vary_cookie_joins_the_one_vary_header(sapp) -> None:
    from sockweb.framework import Response

    @sapp.get("/vary/<given>")
    def vary(given):
        response = Response("v")
        if given != "none":
            response.headers.set("Vary", given)
        session["k"] = "v"
        return response

    client = sapp.test_client()
    for given, expected in [
        ("none", "Cookie"),
        ("Accept-Encoding", "Accept-Encoding, Cookie"),
        ("Accept-Encoding, cookie", "Accept-Encoding, cookie"),
        ("*", "*"),
    ]:
        assert client.get(f"/vary/{given}").headers.getlist("Vary") == [expected]
