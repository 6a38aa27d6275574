"""JSON: jsonify, the provider (orjson and stdlib give the same text), request.json."""

from __future__ import annotations

import dataclasses
import decimal
import enum
import uuid
from datetime import date, datetime, time, timezone

import pytest

from sockweb.framework import App, jsonify
from sockweb.framework import json as fjson


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Color(enum.Enum):
    RED = "red"


class Html:
    def __html__(self) -> str:
        return "<b>safe</b>"


VALUES = {
    "dataclass": Point(1, 2),
    "datetime": datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=timezone.utc),
    "naive": datetime(2024, 5, 6, 7, 8, 9),
    "date": date(2024, 1, 2),
    "time": time(3, 4, 5),
    "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "decimal": decimal.Decimal("1.10"),
    "text": "caf\u00e9",
    "enum": Color.RED,
    "html": Html(),
}
EXPECTED = (
    '{"dataclass":{"x":1,"y":2},"date":"2024-01-02","datetime":"2024-05-06T07:08:09.123456+00:00",'
    '"decimal":"1.10","enum":"red","html":"<b>safe</b>","naive":"2024-05-06T07:08:09",'
    '"text":"caf\u00e9","time":"03:04:05","uuid":"12345678-1234-5678-1234-567812345678"}'
)


@pytest.fixture(params=["orjson", "stdlib"])
def backend(request, monkeypatch):
    if request.param == "stdlib":
        monkeypatch.setattr(fjson, "_orjson", None)
    elif fjson._orjson is None:
        pytest.skip("orjson is not installed")
    return request.param


def test_both_backends_write_the_same_text(backend) -> None:
    app = App("j")
    assert app.json.dumps(VALUES) == EXPECTED
    assert app.json.loads(EXPECTED.encode())["decimal"] == "1.10"
    with pytest.raises(ValueError):
        app.json.loads("{bad")
    with pytest.raises(TypeError):
        app.json.dumps({"o": object()})


def test_values_orjson_refuses_fall_back_to_stdlib() -> None:
    app = App("j")
    assert app.json.dumps({"big": 2**70}) == '{"big":1180591620717411303424}'
    app.config["JSON_SORT_KEYS"] = False
    assert app.json.dumps({2: "a", 1: "b"}) == '{"2":"a","1":"b"}'


def test_sort_keys_and_pretty(backend) -> None:
    app = App("j")
    with app.app_context():
        assert jsonify(b=1, a=2).data == b'{"a":2,"b":1}'
        app.config["JSON_SORT_KEYS"] = False
        assert jsonify(b=1, a=2).data == b'{"b":1,"a":2}'
        app.config["JSONIFY_PRETTYPRINT"] = True
        assert jsonify({"a": 1}).data == b'{\n  "a": 1\n}'
        app.config["JSONIFY_PRETTYPRINT"] = None
        app.debug = True
        assert b"\n" in jsonify({"a": 1}).data


def test_jsonify_forms(app) -> None:
    with app.app_context():
        assert jsonify([1, 2]).data == b"[1,2]"
        assert jsonify(1, 2).data == b"[1,2]"
        assert jsonify().data == b"{}"
        assert jsonify(None).data == b"null"
        response = jsonify(a=1)
        assert response.mimetype == "application/json" and response.json == {"a": 1}
        with pytest.raises(TypeError):
            jsonify(1, a=2)
        assert fjson.dumps({"d": date(2020, 1, 1)}) == '{"d":"2020-01-01"}'
        assert fjson.loads('{"a":1}') == {"a": 1}
    assert fjson.dumps({"a": 1}) == '{"a": 1}'
    assert fjson.loads("[1]") == [1]


def test_views_returning_json(app, client) -> None:
    @app.post("/echo")
    def echo():
        from sockweb.framework import request

        return {"you sent": request.get_json(), "when": date(2020, 1, 1)}

    response = client.post("/echo", json={"a": [1, 2]})
    assert response.json == {"when": "2020-01-01", "you sent": {"a": [1, 2]}}
    assert response.headers["Content-Type"] == "application/json"


def test_custom_provider(app, client) -> None:
    class Upper(fjson.JSONProvider):
        def dumps(self, obj, **kwargs):
            return super().dumps(obj, **kwargs).upper()

    class MyApp(App):
        json_provider_class = Upper

    custom = MyApp("custom")
    with custom.app_context():
        assert custom.json.dumps({"a": "b"}) == '{"A":"B"}'


def test_request_json_goes_through_the_provider(app, client, backend) -> None:
    from sockweb.framework import request

    calls: list[bytes] = []
    loads = app.json.loads

    def spy(data, **kwargs):
        calls.append(data)
        return loads(data, **kwargs)

    app.json.loads = spy  # type: ignore[method-assign]

    @app.post("/")
    def echo():
        first = request.get_json()
        assert request.json is first  # cached
        return {"got": first, "silent": request.get_json(force=True, silent=True) is first}

    assert client.post("/", json={"a": 1}).json == {"got": {"a": 1}, "silent": True}
    # The test client dumps the body with the App's provider (compact), as the App would answer.
    assert calls == [app.json.dumps({"a": 1}).encode()]
    bad = client.post("/", data=b"[1,", content_type="application/json")
    assert bad.status_code == 400 and "not valid JSON" in bad.text
    assert client.post("/", data=b"{}", content_type="text/plain").status_code == 415

    @app.post("/silent")
    def silent():
        return {"v": request.get_json(silent=True)}

    assert client.post("/silent", data=b"{", content_type="application/json").json == {"v": None}
    assert client.post("/silent", data=b"{}", content_type="text/plain").json == {"v": None}


@pytest.mark.parametrize(
    ("compact", "debug", "indented"), [(True, True, False), (False, False, True), (None, True, True)]
)
def test_provider_compact_attribute_wins_over_debug(app, compact, debug, indented) -> None:
    app.debug = debug
    app.json.compact = compact
    with app.app_context():
        body = app.json.response({"a": {"b": 1}}).get_data()
    assert (b"\n" in body.strip()) is indented
    assert (b" " in body) is indented


def test_provider_sort_keys_can_be_set(app) -> None:
    app.json.sort_keys = False
    assert app.json.dumps({"b": 1, "a": 2}) == '{"b":1,"a":2}'
    app.json.sort_keys = True
    app.config["JSON_SORT_KEYS"] = False  # the provider's own setting wins
    assert app.json.dumps({"b": 1, "a": 2}) == '{"a":2,"b":1}'


def test_jsonify_args_and_kwargs_message(app) -> None:
    with app.app_context(), pytest.raises(TypeError, match="args or kwargs"):
        jsonify(1, a=2)
