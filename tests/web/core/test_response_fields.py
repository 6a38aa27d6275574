"""Response header fields as attributes, the body stream, freezing and type conversion."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from sockweb.web.httputil import COEP, COOP, WWWAuthenticate, generate_etag
from sockweb.web.response import Response
from sockweb.web.testing import create_environ


def chunks() -> Iterator[str]:
    yield "ab"
    yield "ç"


class TestStream:
    def test_writes_append_chunks_and_report_their_length(self) -> None:
        response = Response()
        assert response.stream.write("one ") == 4
        assert response.stream.write(b"two") == 3
        assert response.response == ["one ", b"two"]
        assert response.get_data() == b"one two"

    def test_writes_after_a_body_drop_the_stale_content_length(self) -> None:
        response = Response("abc")
        assert response.content_length == 3
        response.stream.writelines(["de", "fg"])
        assert response.content_length is None
        assert response.get_wsgi_headers(create_environ())["Content-Length"] == "7"

    def test_a_tuple_body_becomes_a_list_whatever_the_conversion_setting(self) -> None:
        for implicit in (True, False):
            response = Response()
            response.implicit_sequence_conversion = implicit
            response.response = ("x", "y")
            response.stream.write("z")
            assert response.response == ["x", "y", "z"]

    def test_tell_counts_encoded_bytes(self) -> None:
        response = Response()
        response.stream.write("é")
        assert response.stream.tell() == 2

    def test_a_zip_archive_can_be_written_into_the_body(self) -> None:
        response = Response(mimetype="application/zip")
        with zipfile.ZipFile(response.stream, mode="w") as archive:
            archive.writestr("name.txt", b"content")
        with zipfile.ZipFile(io.BytesIO(response.get_data())) as archive:
            assert archive.namelist() == ["name.txt"]
            assert archive.read("name.txt") == b"content"

    def test_closed_stream_refuses_writes(self) -> None:
        stream = Response().stream
        stream.close()
        with pytest.raises(ValueError):
            stream.write("x")


class TestSequence:
    def test_generator_is_buffered_on_read_by_default(self) -> None:
        response = Response(chunks())
        assert response.is_streamed and not response.is_sequence
        assert response.get_data() == "abç".encode()
        assert response.is_sequence and response.response == [b"ab", "ç".encode()]

    def test_without_implicit_conversion_reading_a_stream_is_an_error(self) -> None:
        response = Response(chunks())
        response.implicit_sequence_conversion = False
        with pytest.raises(RuntimeError):
            response.get_data()
        response.make_sequence()
        assert response.get_data() == "abç".encode()

    def test_calculate_content_length(self) -> None:
        assert Response("你好").calculate_content_length() == 6
        streamed = Response(chunks())
        assert streamed.calculate_content_length() is None
        assert streamed.is_streamed  # not consumed by asking

    def test_freeze_buffers_and_sets_length_and_etag(self) -> None:
        response = Response(chunks())
        response.freeze()
        assert response.response == [b"ab", "ç".encode()]
        assert response.headers["Content-Length"] == "4"
        assert response.get_etag() == (generate_etag("abç".encode()), False)
        plain = Response(chunks())
        plain.freeze(no_etag=True)
        assert "ETag" not in plain.headers

    def test_freeze_reads_and_closes_a_file_body(self) -> None:
        file = io.BytesIO(b"from a file")
        response = Response(file)
        response.freeze()
        assert response.response == [b"from a file"] and file.closed

    def test_force_type(self) -> None:
        class Special(Response):
            def marker(self) -> int:
                return 7

        original = Response("hi", mimetype="text/html")
        forced = Special.force_type(original)
        assert forced is original and isinstance(forced, Special) and forced.marker() == 7
        assert forced.get_data() == b"hi" and forced.mimetype == "text/html"

        def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
            start_response("201 Created", [("Content-Type", "text/csv")])
            return [b"a,b"]

        captured = Special.force_type(app, create_environ())
        assert isinstance(captured, Special) and captured.status_code == 201
        assert captured.get_data() == b"a,b" and captured.mimetype == "text/csv"
        with pytest.raises(TypeError):
            Special.force_type(app)

    def test_from_app_accepts_buffered(self) -> None:
        response = Response.from_app(Response("body"), create_environ(), buffered=True)
        assert response.get_data() == b"body"


class TestStatus:
    def test_empty_status_is_refused_with_a_clear_message(self) -> None:
        with pytest.raises(ValueError, match="Empty status argument"):
            Response(status="")


class TestFields:
    def test_dates_and_seconds(self) -> None:
        response = Response()
        now = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
        assert response.date is None and response.age is None and response.retry_after is None
        response.date = now
        assert response.headers["Date"] == "Mon, 06 May 2024 07:08:09 GMT" and response.date == now
        response.age = timedelta(minutes=2)
        assert response.headers["Age"] == "120" and response.age == timedelta(seconds=120)
        response.age = 5
        assert response.age == timedelta(seconds=5)
        response.retry_after = now
        assert response.retry_after == now
        response.retry_after = 30
        assert response.headers["Retry-After"] == "30"
        assert response.retry_after == timedelta(seconds=30)
        response.headers["Age"] = "soon"
        assert response.age is None  # a malformed value reads as absent
        del response.date
        assert "Date" not in response.headers

    def test_set_fields_write_through(self) -> None:
        response = Response()
        assert not response.vary
        response.vary.add("Cookie")
        response.vary.add("Accept-Encoding")
        assert response.headers["Vary"] == "Cookie, Accept-Encoding"
        assert "cookie" in response.vary
        response.allow = ["GET", "HEAD"]
        assert response.headers["Allow"] == "GET, HEAD"
        response.content_language.add("de")
        assert response.headers["Content-Language"] == "de"
        response.vary = None
        assert "Vary" not in response.headers

    def test_mimetype_params_write_through(self) -> None:
        response = Response(mimetype="text/html")
        params = response.mimetype_params
        params["level"] = "1"
        del params["charset"]
        assert response.content_type == "text/html; level=1"

    def test_content_range(self) -> None:
        response = Response()
        assert not response.content_range.units
        response.content_range.set(0, 10, 100)
        assert response.headers["Content-Range"] == "bytes 0-9/100"
        response.headers["Content-Range"] = "bytes 5-9/20"
        assert (response.content_range.start, response.content_range.stop) == (5, 10)
        response.content_range.unset()
        assert "Content-Range" not in response.headers

    def test_www_authenticate(self) -> None:
        response = Response()
        response.www_authenticate.realm = "staff"
        assert response.headers["WWW-Authenticate"] == 'Basic realm="staff"'
        response.www_authenticate = WWWAuthenticate("digest", {"realm": "r", "qop": "auth, auth-int"})
        response.www_authenticate.parameters["qop"] = "auth"
        assert response.headers["WWW-Authenticate"] == 'Digest realm="r", qop="auth"'
        del response.www_authenticate
        assert "WWW-Authenticate" not in response.headers

    def test_content_security_policy(self) -> None:
        response = Response()
        response.content_security_policy.default_src = "'self'"
        response.content_security_policy.img_src = "*"
        assert response.headers["Content-Security-Policy"] == "default-src 'self'; img-src *"
        assert response.content_security_policy.img_src == "*"
        response.content_security_policy_report_only.script_src = "'none'"
        assert response.headers["Content-Security-Policy-Report-Only"] == "script-src 'none'"
        response.content_security_policy = None
        assert "Content-Security-Policy" not in response.headers
        with pytest.raises(ValueError):
            response.content_security_policy.default_src = "'self'; sandbox"

    def test_cross_origin_policies(self) -> None:
        response = Response()
        assert response.cross_origin_opener_policy is COOP.UNSAFE_NONE
        assert response.cross_origin_embedder_policy is COEP.UNSAFE_NONE
        response.cross_origin_opener_policy = COOP.SAME_ORIGIN
        response.cross_origin_embedder_policy = COEP.REQUIRE_CORP
        assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
        assert response.headers["Cross-Origin-Embedder-Policy"] == "require-corp"
        response.headers["Cross-Origin-Opener-Policy"] = "bogus"
        assert response.cross_origin_opener_policy is COOP.UNSAFE_NONE

    def test_cors_fields(self) -> None:
        response = Response()
        assert response.access_control_allow_credentials is False
        response.access_control_allow_credentials = True
        response.access_control_allow_origin = "https://app.example"
        response.access_control_allow_methods = ["GET", "PUT"]
        response.access_control_max_age = 600
        assert response.headers["Access-Control-Allow-Credentials"] == "true"
        assert response.headers["Access-Control-Allow-Methods"] == "GET, PUT"
        assert response.access_control_max_age == 600
        response.access_control_allow_credentials = False
        assert "Access-Control-Allow-Credentials" not in response.headers


class TestEtagAndConditional:
    def test_no_etag_reads_as_none_none(self) -> None:
        assert Response().get_etag() == (None, None)

    def test_make_conditional_adds_a_date_but_keeps_one_set(self) -> None:
        response = Response("x")
        response.make_conditional(create_environ())
        assert response.date is not None
        fixed = Response("x")
        fixed.date = 1337
        fixed.make_conditional(create_environ())
        assert fixed.date == datetime.fromtimestamp(1337, timezone.utc)


class TestJSON:
    def test_json_body(self) -> None:
        response = Response(json.dumps({"a": [1]}), mimetype="application/json")
        assert response.is_json and response.json == {"a": [1]}

    def test_other_types_need_force(self) -> None:
        response = Response('{"a": 1}')
        assert response.get_json() is None
        assert response.get_json(force=True) == {"a": 1}

    def test_bad_json(self) -> None:
        response = Response("{", mimetype="application/json")
        assert response.get_json(silent=True) is None
        with pytest.raises(ValueError):
            response.get_json()


class TestLocation:
    @pytest.mark.parametrize("header", ["Location", "Content-Location"])
    def test_backslashes_are_encoded(self, header: str) -> None:
        # "/\\evil.example" reads as "//evil.example" in browsers: a redirect off-site.
        response = Response(status=302)
        response.headers[header] = "/\\\\evil.example/?q"
        assert response.get_wsgi_headers(create_environ())[header] == "/%5C%5Cevil.example/?q"
