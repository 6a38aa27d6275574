from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from wsgiref.validate import validator

import pytest

from sockweb.web.httputil import http_date, parse_options_header
from sockweb.web.response import Response, redirect, send_file
from sockweb.web.testing import create_environ, run_wsgi_app


def run_app(app: Any, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    """``(status, header list, body)`` of one buffered run of ``app``."""
    app_iter, status, headers = run_wsgi_app(app, environ, buffered=True)
    return status, headers.to_wsgi_list(), b"".join(app_iter)


def serve(response: Response, **environ_args: Any) -> tuple[str, dict[str, str], bytes]:
    status, headers, body = run_app(validator(response), create_environ(**environ_args))
    return status, dict(headers), body


class TestBodyAndType:
    def test_text_defaults(self) -> None:
        status, headers, body = serve(Response("héllo"))
        assert status == "200 OK"
        assert headers["Content-Type"] == "text/plain; charset=utf-8"
        assert headers["Content-Length"] == "6"
        assert body == "héllo".encode()

    @pytest.mark.parametrize(
        ("kwargs", "content_type"),
        [
            ({"mimetype": "text/html"}, "text/html; charset=utf-8"),
            ({"mimetype": "application/json"}, "application/json"),
            ({"mimetype": "image/svg+xml"}, "image/svg+xml; charset=utf-8"),
            ({"content_type": "text/csv; charset=latin-1"}, "text/csv; charset=latin-1"),
            ({"headers": {"Content-Type": "application/x-custom"}}, "application/x-custom"),
        ],
    )
    def test_content_type(self, kwargs: dict[str, Any], content_type: str) -> None:
        assert Response(b"x", **kwargs).headers["Content-Type"] == content_type

    def test_mimetype_property(self) -> None:
        response = Response("x", mimetype="text/html")
        assert response.mimetype == "text/html"
        assert response.mimetype_params == {"charset": "utf-8"}
        response.mimetype = "application/xml"
        assert response.content_type == "application/xml; charset=utf-8"

    def test_data_roundtrip(self) -> None:
        response = Response()
        # No body yet: the length is left to the moment of sending (writes to .stream may still come).
        assert response.data == b"" and response.content_length is None
        assert response.get_wsgi_headers({})["Content-Length"] == "0"
        response.data = "abc"
        assert response.get_data() == b"abc" and response.text == "abc"
        assert response.content_length == 3
        response.set_data(b"\x00\x01")
        assert response.get_data(as_text=True) == "\x00\x01"

    def test_streaming_iterable(self) -> None:
        def generate() -> Iterator[str | bytes]:
            yield "a"
            yield b"b"

        response = Response(generate())
        assert response.is_streamed
        assert "Content-Length" not in response.headers
        _status, headers, body = serve(response)
        assert body == b"ab" and "Content-Length" not in headers

    def test_get_data_buffers_a_stream(self) -> None:
        response = Response(iter([b"a", b"bc"]))
        assert response.get_data() == b"abc"
        assert response.get_data() == b"abc"
        assert response.content_length == 3
        assert not response.is_streamed

    def test_invalid_body_items(self) -> None:
        with pytest.raises(TypeError):
            Response([1, 2]).get_data()  # type: ignore[list-item]

    def test_file_body_uses_file_wrapper(self) -> None:
        wrapped: list[Any] = []

        class Wrapper:
            def __init__(self, file: io.BytesIO, block: int) -> None:
                wrapped.append(file)
                self.file = file

            def __iter__(self) -> Iterator[bytes]:
                return iter([self.file.read()])

            def close(self) -> None:
                self.file.close()

        source = io.BytesIO(b"file content")
        _status, _, body = serve(Response(source), environ_overrides={"wsgi.file_wrapper": Wrapper})
        assert body == b"file content" and wrapped == [source]
        assert source.closed
        source = io.BytesIO(b"no wrapper")
        assert serve(Response(source))[2] == b"no wrapper"
        assert source.closed


def test_from_app_captures_exactly_the_answer() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("201 Created", [("X-Id", "7"), ("Content-Type", "x/y")])
        return [b"made"]

    def bare(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("204 No Content", [])
        return []

    response = Response.from_app(validator(app), create_environ())
    assert (response.status_code, response.get_data()) == (201, b"made")
    assert list(response.headers) == [("X-Id", "7"), ("Content-Type", "x/y")]
    assert list(Response.from_app(validator(bare), create_environ()).headers) == []


def test_redirect() -> None:
    status, headers, body = serve(redirect('/next?a=1&b="2"', 303))
    assert status == "303 See Other"
    assert headers["Location"] == '/next?a=1&b="2"'
    assert b'href="/next?a=1&amp;b=&quot;2&quot;"' in body
    with pytest.raises(ValueError):
        redirect("/x", 200)
    with pytest.raises(ValueError):
        redirect("/x\r\nSet-Cookie: a=b")


class TestStatus:
    @pytest.mark.parametrize(
        ("value", "line", "code"),
        [
            (404, "404 Not Found", 404),
            ("404 Not Found", "404 Not Found", 404),
            ("404", "404 Not Found", 404),
            ("299 Custom Thing", "299 Custom Thing", 299),
            (299, "299 Unknown Error", 299),
        ],
    )
    def test_status_forms(self, value: int | str, line: str, code: int) -> None:
        response = Response(status=value)
        assert (response.status, response.status_code) == (line, code)

    @pytest.mark.parametrize("value", ["abc", "99 x", "1000 x", "200 OK\r\nX: y", 42])
    def test_invalid_status(self, value: int | str) -> None:
        with pytest.raises(ValueError):
            Response(status=value)

    def test_status_code_setter(self) -> None:
        response = Response()
        response.status_code = 201
        assert response.status == "201 Created"


class TestHeadersAndCookies:
    def test_header_injection_refused(self) -> None:
        with pytest.raises(ValueError):
            Response(headers={"X-Evil": "a\r\nSet-Cookie: x=1"})
        response = Response()
        with pytest.raises(ValueError):
            response.headers["Location"] = "/x\r\n"

    def test_cookies(self) -> None:
        response = Response()
        response.set_cookie("sid", "v 1", max_age=60, httponly=True, secure=True, samesite="Lax")
        response.delete_cookie("old", path="/app")
        cookies = response.headers.getlist("Set-Cookie")
        assert cookies[0].startswith('sid="v 1"; Expires=')
        assert cookies[0].endswith("; Max-Age=60; Secure; HttpOnly; Path=/; SameSite=Lax")
        assert cookies[1].startswith("old=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/app")
        with pytest.raises(ValueError):
            response.set_cookie("bad name", "x")

    def test_cache_control_and_dates(self) -> None:
        response = Response()
        response.cache_control.max_age = 60
        response.cache_control.public = True
        assert response.headers["Cache-Control"] == "max-age=60, public"
        response.cache_control.max_age = None
        assert response.headers["Cache-Control"] == "public"
        response.last_modified = 0
        assert response.headers["Last-Modified"] == "Thu, 01 Jan 1970 00:00:00 GMT"
        assert response.last_modified is not None and response.last_modified.timestamp() == 0
        response.expires = None
        assert "Expires" not in response.headers

    def test_etags(self) -> None:
        response = Response("body")
        response.add_etag()
        tag, weak = response.get_etag()
        assert tag and not weak
        response.set_etag("x", weak=True)
        assert response.headers["ETag"] == 'W/"x"'

    @pytest.mark.parametrize("code", [204, 304])
    def test_bodiless_statuses_drop_entity_headers(self, code: int) -> None:
        status, headers, body = serve(Response("ignored", code))
        assert status.startswith(str(code)) and body == b""
        assert "Content-Type" not in headers and "Content-Length" not in headers

    def test_head_keeps_length_without_body(self) -> None:
        _status, headers, body = serve(Response("12345"), method="HEAD")
        assert body == b"" and headers["Content-Length"] == "5"


class TestClosing:
    def test_call_on_close_and_iterable_close(self) -> None:
        events: list[str] = []

        def generate() -> Iterator[bytes]:
            try:
                yield b"x"
            finally:
                events.append("generator closed")

        response = Response(generate())

        @response.call_on_close
        def cleanup() -> None:
            events.append("callback")

        serve(response)
        assert events == ["generator closed", "callback"]
        response.close()
        assert events == ["generator closed", "callback"]  # callbacks run once

    def test_close_runs_every_callback_even_if_one_fails(self) -> None:
        events: list[str] = []
        response = Response()

        def boom() -> None:
            raise RuntimeError("boom")

        response.call_on_close(boom)
        response.call_on_close(lambda: events.append("second"))
        with pytest.raises(RuntimeError):
            response.close()
        assert events == ["second"]


class TestConditional:
    def make(self) -> Response:
        response = Response(b"0123456789", mimetype="application/octet-stream")
        response.set_etag("v1")
        response.last_modified = 1_700_000_000
        return response

    def conditional(self, **headers: str) -> Response:
        environ = create_environ(headers=headers)
        return self.make().make_conditional(environ, accept_ranges=True)

    def test_304_from_etag_and_date(self) -> None:
        for headers in ({"If-None-Match": '"v1"'}, {"If-Modified-Since": http_date(1_700_000_000)}):
            response = self.conditional(**headers)
            status, out, body = serve(response)
            assert status == "304 Not Modified" and body == b""
            assert out["ETag"] == '"v1"'

    def test_412(self) -> None:
        response = self.make().make_conditional(create_environ(method="PUT", headers={"If-Match": '"other"'}))
        assert response.status_code == 412
        assert serve(response, method="PUT")[2] == b""

    def test_single_range(self) -> None:
        response = self.conditional(Range="bytes=2-4")
        status, headers, body = serve(response)
        assert status == "206 Partial Content"
        assert headers["Content-Range"] == "bytes 2-4/10"
        assert headers["Content-Length"] == "3"
        assert headers["Accept-Ranges"] == "bytes"
        assert body == b"234"

    def test_suffix_and_open_ranges(self) -> None:
        assert serve(self.conditional(Range="bytes=-3"))[2] == b"789"
        assert serve(self.conditional(Range="bytes=8-"))[2] == b"89"
        assert serve(self.conditional(Range="bytes=5-100"))[1]["Content-Range"] == "bytes 5-9/10"

    def test_multiple_ranges(self) -> None:
        status, headers, body = serve(self.conditional(Range="bytes=0-1,5-6"))
        assert status == "206 Partial Content"
        mimetype, params = parse_options_header(headers["Content-Type"])
        assert mimetype == "multipart/byteranges"
        assert int(headers["Content-Length"]) == len(body)
        parts = body.split(b"--" + params["boundary"].encode())
        assert parts[-1] == b"--\r\n"
        contents = [part.split(b"\r\n\r\n", 1) for part in parts[1:-1]]
        assert [c[1] for c in contents] == [b"01\r\n", b"56\r\n"]
        assert b"Content-Range: bytes 0-1/10" in contents[0][0]
        assert b"Content-Type: application/octet-stream" in contents[0][0]

    def test_unsatisfiable_range(self) -> None:
        status, headers, body = serve(self.conditional(Range="bytes=50-60"))
        assert status.startswith("416 ")
        assert headers["Content-Range"] == "bytes */10"
        assert body == b""

    def test_ignored_ranges(self) -> None:
        assert serve(self.conditional(Range="bytes=2-1"))[0] == "200 OK"  # malformed: ignored
        assert serve(self.conditional(Range="bytes=2-4", **{"If-Range": '"v0"'}))[2] == b"0123456789"
        assert serve(self.conditional(Range="bytes=2-4", **{"If-Range": '"v1"'}))[2] == b"234"
        response = self.make().make_conditional(
            create_environ(method="POST", headers={"Range": "bytes=0-1"}), True
        )
        assert response.status_code == 200
        streamed = Response(iter([b"abc"])).make_conditional(
            create_environ(headers={"Range": "bytes=0-1"}), True
        )
        assert streamed.status_code == 200  # unknown length: full response
        no_ranges = self.make().make_conditional(create_environ(headers={"Range": "bytes=0-1"}))
        assert no_ranges.status_code == 200 and "Accept-Ranges" not in no_ranges.headers

    def test_error_responses_are_not_conditional(self) -> None:
        response = Response("x", 404)
        response.set_etag("v1")
        assert response.make_conditional(create_environ(headers={"If-None-Match": '"v1"'})).status_code == 404


class TestSendFile:
    @pytest.fixture
    def data_file(self, tmp_path: Path) -> Path:
        path = tmp_path / "report.txt"
        path.write_bytes(b"line one\nline two\n")
        return path

    def test_path(self, data_file: Path) -> None:
        environ = create_environ()
        status, headers, body = serve(send_file(data_file, environ))
        assert status == "200 OK" and body == data_file.read_bytes()
        assert headers["Content-Type"] == "text/plain; charset=utf-8"
        assert headers["Content-Length"] == str(len(body))
        assert headers["Content-Disposition"] == "inline; filename=report.txt"
        assert headers["Accept-Ranges"] == "bytes"
        assert headers["Cache-Control"] == "no-cache"
        assert "ETag" in headers and "Last-Modified" in headers

    def test_conditional_and_range(self, data_file: Path) -> None:
        first = send_file(data_file, create_environ())
        etag = first.headers["ETag"]
        first.close()
        again = send_file(data_file, create_environ(headers={"If-None-Match": etag}))
        assert serve(again)[0] == "304 Not Modified"
        ranged = send_file(data_file, create_environ(headers={"Range": "bytes=5-7"}))
        status, headers, body = serve(ranged)
        assert (status, body, headers["Content-Range"]) == ("206 Partial Content", b"one", "bytes 5-7/18")
        multi = send_file(data_file, create_environ(headers={"Range": "bytes=0-3,9-12"}))
        status, headers, body = serve(multi)
        assert (
            status == "206 Partial Content"
            and b"line" in body
            and int(headers["Content-Length"]) == len(body)
        )

    def test_attachment_with_unicode_name(self, data_file: Path) -> None:
        response = send_file(data_file, create_environ(), as_attachment=True, download_name="résumé €.txt")
        disposition = response.headers["Content-Disposition"]
        assert disposition.startswith('attachment; filename="resume .txt"; ')  # accents folded, € dropped
        assert "filename*=UTF-8''r%C3%A9sum%C3%A9%20%E2%82%AC.txt" in disposition
        assert parse_options_header(disposition)[1]["filename"] == "résumé €.txt"
        response.close()

    def test_file_object_and_max_age(self) -> None:
        source = io.BytesIO(b"%PDF-1.4 data")
        response = send_file(source, create_environ(), download_name="doc.pdf", max_age=120, etag="fixed")
        _status, headers, body = serve(response)
        assert body == b"%PDF-1.4 data"
        assert headers["Content-Type"] == "application/pdf"
        assert headers["Content-Length"] == "13"
        assert headers["Cache-Control"] == "public, max-age=120"
        assert headers["ETag"] == '"fixed"'
        assert source.closed

    def test_ranges_count_from_the_file_position(self) -> None:
        source = io.BytesIO(b"HEADERpayload")
        source.seek(6)
        response = send_file(source, create_environ(headers={"Range": "bytes=0-2"}), download_name="p.bin")
        status, headers, body = serve(response)
        assert (status, body, headers["Content-Range"]) == ("206 Partial Content", b"pay", "bytes 0-2/7")

    def test_file_object_attachment_needs_name(self) -> None:
        with pytest.raises(TypeError):
            send_file(io.BytesIO(b"x"), create_environ(), as_attachment=True)

    def test_real_file_with_wrapper_is_closed(self, data_file: Path) -> None:
        response = send_file(data_file, create_environ())
        file = response.file
        assert file is not None and hasattr(file, "fileno") and os.fstat(file.fileno()).st_size == 18
        serve(response)
        assert file.closed
