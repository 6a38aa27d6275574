"""Tagged JSON and the session cookie: types survive the round trip, tag-like keys are escaped,
older (untagged) cookies still read, malformed tagged cookies start a fresh session."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from itsdangerous import URLSafeTimedSerializer
from markupsafe import Markup

from sockweb.framework import session
from sockweb.framework.json_tag import JSONTag, TaggedJSONSerializer

NOW = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=timezone(timedelta(hours=2)))


@pytest.mark.parametrize(
    "value",
    [
        (1, (2, 3), [4, (5,)]),
        {"t": (1, 2), "nested": {"b": b"\x00\xff"}},
        {" t": (1, 2)},  # a dict whose one key is a tag key
        {" di": " di"},
        {" t__": b"a"},
        [b"x", Markup("<b>"), uuid.UUID(int=7)],
        NOW,
        datetime(2024, 1, 1, 12, 0),  # naive stays naive
        "plain",
        None,
    ],
)
def test_round_trip_keeps_types(value: object) -> None:
    s = TaggedJSONSerializer()
    back = s.loads(s.dumps(value))
    assert back == value
    assert type(back) is type(value)


def test_markup_and_bytes_come_back_as_their_types() -> None:
    s = TaggedJSONSerializer()
    back = s.loads(s.dumps({"m": Markup("<i>x</i>"), "b": b"\xff"}))
    assert type(back["m"]) is Markup and back["m"] == "<i>x</i>"
    assert type(back["b"]) is bytes


def test_dumps_is_compact_and_marks_only_what_json_loses() -> None:
    s = TaggedJSONSerializer()
    assert s.dumps({"a": [1, "x"], "t": (1,)}) == '{"a":[1,"x"],"t":{" t":[1]}}'
    assert s.dumps({" t": 1}) == '{" di":{" t__":1}}'


def test_plain_json_reads_unchanged() -> None:
    # what the earlier, untagged session serializer wrote
    s = TaggedJSONSerializer()
    plain = {"user": 3, "items": [1, 2], "when": "2024-01-01T00:00:00", "two": {"a": 1, "b": 2}}
    assert s.loads(json.dumps(plain)) == plain


def test_http_date_is_read_as_aware_utc() -> None:
    s = TaggedJSONSerializer()
    back = s.loads('{" d":"Wed, 21 Oct 2015 07:28:00 GMT"}')
    assert back == datetime(2015, 10, 21, 7, 28, tzinfo=timezone.utc)


def test_other_values_use_the_framework_conversions() -> None:
    s = TaggedJSONSerializer()
    assert s.loads(s.dumps({"s": {3}})) == {"s": [3]}
    with pytest.raises(TypeError):
        s.dumps(object())


def test_register_custom_tag_and_duplicates() -> None:
    class Point:
        def __init__(self, x: int) -> None:
            self.x = x

    class TagPoint(JSONTag):
        __slots__ = ()
        key = " p"

        def check(self, value: object) -> bool:
            return isinstance(value, Point)

        def to_json(self, value: Point) -> object:
            return self.serializer.tag((value.x,))

        def to_python(self, value: object) -> Point:
            assert isinstance(value, tuple)
            return Point(value[0])

    s = TaggedJSONSerializer()
    s.register(TagPoint)
    assert s.loads(s.dumps([Point(4)]))[0].x == 4
    with pytest.raises(KeyError):
        s.register(TagPoint)
    s.register(TagPoint, force=True, index=0)
    assert isinstance(s.order[0], TagPoint) and s.tags[" p"] is s.order[0]
    with pytest.raises(NotImplementedError):
        JSONTag(s).check(1)


def test_session_keeps_special_types(app, client) -> None:
    the_uuid = uuid.uuid4()

    @app.get("/set")
    def set_values():
        session.update(t=(1, 2), b=b"\xff", m=Markup("<p>"), u=the_uuid, d=NOW, k={" t": "x"})
        return ""

    @app.get("/get")
    def get_values():
        kinds = {k: type(session[k]).__name__ for k in "tbmudk"}
        ok = (session["t"], session["b"], session["u"], session["d"], session["k"]) == (
            (1, 2),
            b"\xff",
            the_uuid,
            NOW,
            {" t": "x"},
        )
        return json.dumps([kinds, ok])

    client.get("/set")
    kinds, ok = json.loads(client.get("/get").text)
    assert kinds == {"t": "tuple", "b": "bytes", "m": "Markup", "u": "UUID", "d": "datetime", "k": "dict"}
    assert ok


def _cookie(app, payload: str) -> str:
    # sign a raw JSON text the way the session interface does, to plant old or malformed cookies
    iface = app.session_interface
    signer = URLSafeTimedSerializer(
        app.config["SECRET_KEY"],
        salt=iface.salt,
        signer_kwargs={"key_derivation": iface.key_derivation, "digest_method": iface.digest_method},
    )
    return signer.dumps(json.loads(payload))


def test_untagged_cookie_still_reads(app, client) -> None:
    @app.get("/")
    def show():
        return json.dumps(dict(session))

    client.set_cookie("session", _cookie(app, '{"n":1,"l":[1,2],"d":"2024-01-01"}'))
    assert json.loads(client.get("/").text) == {"n": 1, "l": [1, 2], "d": "2024-01-01"}


@pytest.mark.parametrize(
    "payload", ['{"x":{" di":[1]}}', '{"x":{" u":5}}', '{"x":{" b":"***"}}', '{"x":{" d":"nope"}}']
)
def test_malformed_tag_gives_fresh_session(app, client, payload: str) -> None:
    @app.get("/")
    def show():
        return json.dumps([dict(session), session.new])

    client.set_cookie("session", _cookie(app, payload))
    assert json.loads(client.get("/").text) == [{}, True]


def test_signed_cookie_that_is_not_json_gives_fresh_session(app, client) -> None:
    # a valid signature over a payload no JSON parser accepts: itsdangerous says BadPayload
    class Raw:
        @staticmethod
        def dumps(obj: object) -> str:
            return "{not json"

        @staticmethod
        def loads(text: str) -> object:
            raise AssertionError("unused")

    iface = app.session_interface
    signer = URLSafeTimedSerializer(
        app.config["SECRET_KEY"],
        salt=iface.salt,
        serializer=Raw,
        signer_kwargs={"key_derivation": iface.key_derivation, "digest_method": iface.digest_method},
    )

    @app.get("/")
    def show():
        return json.dumps([dict(session), session.new])

    client.set_cookie("session", signer.dumps({}))
    assert json.loads(client.get("/").text) == [{}, True]
