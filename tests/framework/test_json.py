"""JSON: jsonify, the provider (orjson and stdlib give the same text), request.json."""

from __future__ import annotations

import dataclasses
import decimal
import enum
import io
import uuid
from datetime import date, datetime, time, timedelta, timezone

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
    '{"dataclass":{"x":1,"y":2},"date":"Tue, 02 Jan 2024 00:00:00 GMT",'
    '"datetime":"Mon, 06 May 2024 07:08:09 GMT","decimal":"1.10","enum":"red","html":"<b>safe</b>",'
    '"naive":"Mon, 06 May 2024 07:08:09 GMT","text":"caf\u00e9","time":"03:04:05",'
    '"uuid":"12345678-1234-5678-1234-567812345678"}\n'
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
    assert app.json.dump_bytes(VALUES).decode() == EXPECTED
    with app.app_context():
        assert jsonify(VALUES).get_data(as_text=True) == EXPECTED
    assert app.json.loads(EXPECTED.encode())["decimal"] == "1.10"
    with pytest.raises(ValueError):
        app.json.loads("{bad")
    with pytest.raises(TypeError):
        app.json.dump_bytes({"o": object()})


def test_dates_are_http_dates_in_utc(backend) -> None:
    app = App("j")
    east = timezone(timedelta(hours=9))
    values = [datetime(2017, 1, 1, 12, 34, 56, tzinfo=east), date(1975, 1, 5), datetime(1973, 3, 11, 6, 30)]
    expected = [
        "Sun, 01 Jan 2017 03:34:56 GMT",
        "Sun, 05 Jan 1975 00:00:00 GMT",
        "Sun, 11 Mar 1973 06:30:00 GMT",
    ]
    assert app.json.loads(app.json.dump_bytes(values)) == expected
    assert fjson.dumps(values) == app.json.dumps(values)  # outside and inside an app


def test_values_orjson_refuses_fall_back_to_stdlib() -> None:
    app = App("j")
    assert app.json.dump_bytes({"big": 2**70}) == b'{"big":1180591620717411303424}\n'
    app.config["JSON_SORT_KEYS"] = False
    assert app.json.dump_bytes({2: "a", 1: "b"}) == b'{"2":"a","1":"b"}\n'


def test_dumps_is_json_dumps_with_the_provider_settings(backend) -> None:
    app = App("j")
    assert app.json.dumps({"b": [1, 2], "a": "\u2603"}) == '{"a": "\u2603", "b": [1, 2]}'
    assert app.json.dumps({"a": 1}, separators=(",", ":")) == '{"a":1}'
    app.json.ensure_ascii = True
    assert app.json.dumps("\u2603") == '"\\u2603"'
    assert app.json.dump_bytes(["\u2603"]) == b'["\\u2603"]\n'  # responses too
    out = io.StringIO()
    app.json.dump({"x": date(2020, 1, 1)}, out)
    assert app.json.load(io.StringIO(out.getvalue())) == {"x": "Wed, 01 Jan 2020 00:00:00 GMT"}
    fjson.dump([1], out := io.StringIO())
    assert fjson.load(io.StringIO(out.getvalue())) == [1]


def test_sort_keys_and_pretty(backend) -> None:
    app = App("j")
    with app.app_context():
        assert jsonify(b=1, a=2).data == b'{"a":2,"b":1}\n'
        app.config["JSON_SORT_KEYS"] = False
        assert jsonify(b=1, a=2).data == b'{"b":1,"a":2}\n'
        app.config["JSONIFY_PRETTYPRINT"] = True
        assert jsonify({"a": 1}).data == b'{\n  "a": 1\n}\n'
        app.config["JSONIFY_PRETTYPRINT"] = None
        app.debug = True
        assert b"\n" in jsonify({"a": 1}).data


def test_jsonify_forms(app) -> None:
    with app.app_context():
        assert jsonify([1, 2]).data == b"[1,2]\n"
        assert jsonify(1, 2).data == b"[1,2]\n"
        assert jsonify().data == b"{}\n"
        assert jsonify(None).data == b"null\n"
        response = jsonify(a=1)
        assert response.mimetype == "application/json" and response.json == {"a": 1}
        with pytest.raises(TypeError):
            jsonify(1, a=2)
        assert fjson.dumps({"d": date(2020, 1, 1)}) == '{"d": "Wed, 01 Jan 2020 00:00:00 GMT"}'
        assert fjson.loads('{"a":1}') == {"a": 1}
    assert fjson.dumps({"a": 1}) == '{"a": 1}'
    assert fjson.loads("[1]") == [1]


def test_views_returning_json(app, client) -> None:
    @app.post("/echo")
    def echo():
        from sockweb.framework import request

        return {"you sent": request.get_json(), "when": date(2020, 1, 1)}

    response = client.post("/echo", json={"a": [1, 2]})
    assert response.json == {"when": "Wed, 01 Jan 2020 00:00:00 GMT", "you sent": {"a": [1, 2]}}
    assert response.headers["Content-Type"] == "application/json"


def test_custom_provider(app, client) -> None:
    class Upper(fjson.JSONProvider):
        def dumps(self, obj, **kwargs):
            return super().dumps(obj, **kwargs).upper()

    class MyApp(App):
        json_provider_class = Upper

    custom = MyApp("custom")
    with custom.app_context():
        assert custom.json.dumps({"a": "b"}) == '{"A": "B"}'


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
    assert bad.status_code == 400 and "decode JSON" not in bad.text  # the parser's detail: debug only
    app.debug = True
    bad = client.post("/", data=b"[1,", content_type="application/json")
    assert bad.status_code == 400 and "Failed to decode JSON object" in bad.text
    app.debug = False
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
    assert app.json.dumps({"b": 1, "a": 2}) == '{"b": 1, "a": 2}'
    app.json.sort_keys = True
    app.config["JSON_SORT_KEYS"] = False  # the provider's own setting wins
    assert app.json.dumps({"b": 1, "a": 2}) == '{"a": 2, "b": 1}'


def test_jsonify_args_and_kwargs_message(app) -> None:
    with app.app_context(), pytest.raises(TypeError, match="args or kwargs"):
        jsonify(1, a=2)
