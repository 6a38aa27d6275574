from __future__ import annotations

import base64
import gc
import io
import json
from typing import Any
from wsgiref.validate import validator

import pytest

from sockweb.web.datastructures import ImmutableMultiDict
from sockweb.web.exceptions import BadRequest, HTTPException, RequestEntityTooLarge, SecurityError
from sockweb.web.multipart import encode_multipart
from sockweb.web.request import Request
from sockweb.web.response import Response
from sockweb.web.testing import Client, create_environ


def make(*args: Any, **kwargs: Any) -> Request:
    return Request(create_environ(*args, **kwargs))


class TestURL:
    def test_parts(self) -> None:
        request = make("/shop/caf%C3%A9?q=1&q=2&x=%E2%82%AC", base_url="https://example.com:8443/app/")
        assert request.method == "GET"
        assert request.scheme == "https" and request.is_secure
        assert request.host == "example.com:8443"
        assert request.root_path == request.script_root == "/app"
        assert request.path == "/shop/café"
        assert request.full_path == "/shop/café?q=1&q=2&x=%E2%82%AC"  # the query stays as sent
        assert request.args.getlist("q") == ["1", "2"] and request.args["x"] == "€"
        assert request.url == "https://example.com:8443/app/shop/caf%C3%A9?q=1&q=2&x=%E2%82%AC"
        assert request.base_url == "https://example.com:8443/app/shop/caf%C3%A9"
        assert request.url_root == "https://example.com:8443/app/"
        assert request.host_url == "https://example.com:8443/"
        assert request.remote_addr == "127.0.0.1"

    def test_from_values(self) -> None:
        request = Request.from_values("/p?x=1", method="POST", data={"a": "b"})
        assert (request.method, request.args["x"], request.form["a"]) == ("POST", "1", "b")

    def test_default_ports_dropped(self) -> None:
        assert make(base_url="http://example.com:80/").host == "example.com"
        assert make(base_url="https://example.com:443/").host == "example.com"

    def test_host_fallback_to_server_name(self) -> None:
        environ = create_environ()
        del environ["HTTP_HOST"]
        environ.update(SERVER_NAME="internal", SERVER_PORT="8080")
        assert Request(environ).host == "internal:8080"

    @pytest.mark.parametrize(
        "host",
        ["evil.com/path", "a b", "x\u00e9.com", "[::1", "h:port", "", "a.com,b.com", "a@b", "h:123456"],
    )
    def test_invalid_host(self, host: str) -> None:
        request = make(environ_overrides={"HTTP_HOST": host})
        with pytest.raises(SecurityError) as info:
            _ = request.host
        assert info.value.code == 400

    def test_trusted_hosts(self) -> None:
        class Trusting(Request):
            trusted_hosts = [".example.com", "localhost"]

        assert Trusting(create_environ(base_url="http://api.example.com/")).host == "api.example.com"
        assert Trusting(create_environ()).host == "localhost"
        with pytest.raises(SecurityError):
            _ = Trusting(create_environ(base_url="http://example.org/")).url

    def test_ipv6_host(self) -> None:
        assert make(base_url="http://[::1]:8000/").host == "[::1]:8000"


class TestHeaders:
    def test_views(self) -> None:
        auth = "Basic " + base64.b64encode(b"alice:secret").decode()
        request = make(
            headers={
                "Cookie": "a=1; b=two",
                "Accept": "application/json, text/html;q=0.5",
                "Accept-Language": "fr-CH, fr;q=0.9",
                "User-Agent": "tester/1.0",
                "Authorization": auth,
                "If-None-Match": '"x", W/"y"',
                "If-Modified-Since": "Sun, 06 Nov 1994 08:49:37 GMT",
                "Range": "bytes=0-9",
                "Cache-Control": "no-cache",
                "X-Custom": "v",
            }
        )
        assert request.headers["x-custom"] == "v"
        assert request.cookies == {"a": "1", "b": "two"}
        assert request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"
        assert request.accept_languages.best_match(["de", "fr"]) == "fr"
        assert request.user_agent == "tester/1.0"
        assert request.authorization is not None and request.authorization.username == "alice"
        assert request.if_none_match.contains_weak("y")
        assert request.if_modified_since is not None and request.if_modified_since.year == 1994
        assert request.range is not None and request.range.ranges == [(0, 10)]
        assert request.cache_control.no_cache is True

    def test_content_type_parts(self) -> None:
        request = make(method="POST", data=b"x", content_type="Text/Plain; charset=latin-1")
        assert request.mimetype == "text/plain"
        assert request.mimetype_params == {"charset": "latin-1"}
        assert request.content_length == 1

    @pytest.mark.parametrize("value", ["abc", "-1", "1e3", "١٢"])
    def test_bad_content_length(self, value: str) -> None:
        request = make(environ_overrides={"CONTENT_LENGTH": value})
        with pytest.raises(BadRequest):
            _ = request.content_length


class TestBody:
    def test_data_is_cached_and_limited(self) -> None:
        environ = create_environ(method="POST", data=b"hello")
        environ["wsgi.input"] = io.BytesIO(b"hello<next pipelined request>")
        request = Request(environ)
        assert request.get_data() == b"hello"
        assert request.data == b"hello"
        assert request.get_data(as_text=True) == "hello"

    def test_stream_respects_content_length(self) -> None:
        environ = create_environ(method="POST", data=b"abcdef")
        environ["wsgi.input"] = io.BytesIO(b"abcdefEXTRA")
        stream = Request(environ).stream
        assert stream.read(4) == b"abcd"
        assert stream.read() == b"ef"
        assert stream.read() == b""

    def test_truncated_body_is_client_disconnect(self) -> None:
        environ = create_environ(method="POST", data=b"abcdef")
        environ["wsgi.input"] = io.BytesIO(b"abc")
        with pytest.raises(BadRequest):
            Request(environ).get_data()

    def test_without_content_length_body_is_empty(self) -> None:
        environ = create_environ(method="POST")
        environ["wsgi.input"] = io.BytesIO(b"ignored")
        assert Request(environ).get_data() == b""

    def test_input_terminated(self) -> None:
        environ = create_environ(method="POST", environ_overrides={"wsgi.input_terminated": True})
        environ["wsgi.input"] = io.BytesIO(b"chunked body")
        assert Request(environ).get_data() == b"chunked body"

    def test_max_content_length(self) -> None:
        class Small(Request):
            max_content_length = 4

        with pytest.raises(RequestEntityTooLarge):
            Small(create_environ(method="POST", data=b"12345")).get_data()
        with pytest.raises(RequestEntityTooLarge):
            _ = Small(create_environ(method="POST", data={"a": "12345"})).form
        assert Small(create_environ(method="POST", data=b"1234")).get_data() == b"1234"
        environ = create_environ(method="POST", environ_overrides={"wsgi.input_terminated": True})
        environ["wsgi.input"] = io.BytesIO(b"123456789")
        with pytest.raises(RequestEntityTooLarge):
            Small(environ).get_data()
        environ["wsgi.input"] = io.BytesIO(b"1234")
        assert Small(environ).get_data() == b"1234"

    def test_shallow_refuses_body(self) -> None:
        with pytest.raises(RuntimeError):
            Request(create_environ(method="POST", data=b"x"), shallow=True).get_data()


class TestForms:
    def test_urlencoded(self) -> None:
        request = make("/?a=q", method="POST", data={"a": ["1", "2"], "name": "José & co"})
        assert request.form.getlist("a") == ["1", "2"]
        assert request.form["name"] == "José & co"
        assert request.values.getlist("a") == ["q", "1", "2"]
        assert not request.files

    def test_values_for_get_ignore_body(self) -> None:
        request = make("/?a=q", method="GET", data={"a": "1"})
        assert request.values.getlist("a") == ["q"]

    def test_form_after_get_data_reuses_body(self) -> None:
        request = make(method="POST", data={"a": "1"})
        assert request.get_data() == b"a=1"
        assert request.form["a"] == "1"

    def test_multipart(self) -> None:
        request = make(
            method="POST",
            data={"title": "Ünïcode", "doc": (io.BytesIO(b"%PDF"), "report.pdf"), "many": ["x", "y"]},
        )
        with request:
            assert request.form["title"] == "Ünïcode"
            assert request.form.getlist("many") == ["x", "y"]
            doc = request.files["doc"]
            assert (doc.filename, doc.content_type, doc.read()) == ("report.pdf", "application/pdf", b"%PDF")
        assert doc.stream.closed

    def test_missing_field_is_400(self) -> None:
        request = make(method="POST", data={"a": "1"})
        with pytest.raises(BadRequest):
            request.form["missing"]

    def test_other_types_leave_body_alone(self) -> None:
        request = make(method="POST", data=b'{"a": 1}', content_type="application/json")
        assert not request.form
        assert request.get_data() == b'{"a": 1}'

    @pytest.mark.parametrize(
        ("body", "content_type"),
        [
            (b"--x\r\n\r\nunterminated", "multipart/form-data; boundary=x"),
            (b"no boundary", "multipart/form-data"),
            (b"--x\r\nbroken header\r\n\r\nv\r\n--x--", "multipart/form-data; boundary=x"),
        ],
    )
    def test_malformed_multipart_is_400(self, body: bytes, content_type: str) -> None:
        request = make(method="POST", data=body, content_type=content_type)
        with pytest.raises(BadRequest) as info:
            _ = request.form
        assert info.value.code == 400

    def test_form_error_repeats_on_second_access(self) -> None:
        request = make(
            method="POST", data=b"--x\r\n\r\nunterminated", content_type="multipart/form-data; boundary=x"
        )
        for _ in range(2):
            with pytest.raises(BadRequest):
                _ = request.files

    def test_form_limits_are_413(self) -> None:
        class Strict(Request):
            max_form_memory_size = 100
            max_form_parts = 3

        with pytest.raises(RequestEntityTooLarge):
            _ = Strict(create_environ(method="POST", data={"a": "x" * 200})).form
        many = {f"f{i}": "v" for i in range(5)}
        with pytest.raises(RequestEntityTooLarge):
            _ = Strict(create_environ(method="POST", data=many)).form
        body, content_type = encode_multipart([(f"f{i}", "v") for i in range(5)])
        with pytest.raises(RequestEntityTooLarge):
            _ = Strict(create_environ(method="POST", data=body, content_type=content_type)).form
        body, content_type = encode_multipart([("big", "x" * 200)])
        with pytest.raises(RequestEntityTooLarge):
            _ = Strict(create_environ(method="POST", data=body, content_type=content_type)).form
        # files do not count against the in-memory field budget
        body, content_type = encode_multipart([("f", (b"x" * 1000, "a.bin", None))])
        request = Strict(create_environ(method="POST", data=body, content_type=content_type))
        with request:
            assert request.files["f"].read() == b"x" * 1000

    def test_an_upload_outlives_a_dropped_request(self) -> None:
        # A handler may keep the FileStorage and let the Request go; the file must stay readable.
        big = b"z" * (1 << 20)  # past the spool threshold: a real temporary file
        upload = make(method="POST", data={"f": (io.BytesIO(big), "big.bin")}).files["f"]
        gc.collect()
        assert upload.read() == big
        stream = upload.stream
        del upload
        gc.collect()
        assert stream.closed  # ...and goes when the FileStorage goes (no ResourceWarning)

    def test_large_upload_spools_to_disk(self) -> None:
        request = make(method="POST", data={"f": (io.BytesIO(b"y" * (2 << 20)), "big.bin")})
        with request:
            stream = request.files["f"].stream
            assert getattr(stream, "_rolled", False)
            assert len(stream.read()) == 2 << 20


class TestJSON:
    def test_json(self) -> None:
        request = make(method="POST", json={"a": [1, 2]})
        assert request.is_json
        assert request.json == {"a": [1, 2]}
        assert request.get_json() is request.get_json()

    def test_plus_json_type(self) -> None:
        request = make(method="POST", data=b"[1]", content_type="application/vnd.api+json")
        assert request.is_json and request.json == [1]

    def test_bad_json_is_clear_400(self) -> None:
        request = make(method="POST", data=b'{"a": 1,}', content_type="application/json")
        with pytest.raises(BadRequest) as info:
            request.get_json()
        assert "Failed to decode JSON object" in (info.value.description or "")
        assert "line 1 column" in (info.value.description or "")
        assert request.get_json(silent=True) is None

    def test_deeply_nested_json_is_400(self) -> None:
        request = make(method="POST", data=b"[" * 100_000, content_type="application/json")
        with pytest.raises(BadRequest):
            request.get_json()

    def test_invalid_utf8_is_400(self) -> None:
        request = make(method="POST", data=b'"\xff\xfe\xfa"', content_type="application/json")
        with pytest.raises(BadRequest):
            request.get_json()

    def test_json_module_can_be_replaced(self) -> None:
        class Loads:
            @staticmethod
            def loads(data: bytes) -> Any:
                if data == b"bad":
                    raise ValueError("not this one")
                return {"parsed by": "Loads", "data": data.decode()}

        class Custom(Request):
            json_module = Loads

        request = Custom(create_environ(method="POST", data=b"[1]", content_type="application/json"))
        assert request.json == {"parsed by": "Loads", "data": "[1]"}
        bad = Custom(create_environ(method="POST", data=b"bad", content_type="application/json"))
        with pytest.raises(BadRequest) as info:
            bad.get_json()
        assert "not this one" in (info.value.description or "")

    def test_wrong_type_is_415_unless_forced(self) -> None:
        request = make(method="POST", data=b'{"a": 1}', content_type="text/plain")
        with pytest.raises(HTTPException) as info:
            _ = request.json
        assert info.value.code == 415
        assert request.get_json(silent=True) is None
        assert request.get_json(force=True) == {"a": 1}


def echo_app(environ: dict[str, Any], start_response: Any) -> Any:
    """An app that reports what Request saw, and turns HTTP errors into responses."""
    request = Request(environ)
    try:
        with request:
            payload = {
                "method": request.method,
                "path": request.path,
                "args": request.args.to_dict(flat=False),
                "form": request.form.to_dict(flat=False),
                "files": {name: storage.read().decode() for name, storage in request.files.items(multi=True)},
                "json": request.get_json(silent=True),
            }
        response = Response(json.dumps(payload), mimetype="application/json")
    except HTTPException as error:
        return error(environ, start_response)
    return response(environ, start_response)


def test_request_inside_validated_app() -> None:
    client = Client(validator(echo_app))
    result = client.post("/p?x=1", data={"f": (io.BytesIO(b"data"), "f.txt"), "k": "v"}).json
    assert (
        result["files"] == {"f": "data"} and result["form"] == {"k": ["v"]} and result["args"] == {"x": ["1"]}
    )
    bad = client.post("/p", data=b"--x\r\n", content_type="multipart/form-data; boundary=x")
    assert bad.status_code == 400


def test_a_cached_attribute_is_computed_once_and_can_be_replaced_or_dropped() -> None:
    request = Request(create_environ("/?a=1"))
    first = request.args
    assert request.args is first and request.args["a"] == "1"
    assert "args" in request.__dict__  # later reads find the value without the descriptor
    request.args = ImmutableMultiDict([("a", "2")])  # type: ignore[misc]
    assert request.args["a"] == "2"
    del request.args
    assert request.args["a"] == "1" and request.args is not first  # computed again
    assert Request.args.__doc__ and "query string" in Request.args.__doc__
