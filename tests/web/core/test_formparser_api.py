"""FormDataParser and MultiPartParser as a public API: results, silent mode, limits, stream factories."""

from __future__ import annotations

import csv
import io

import pytest

from sockweb.web import formparser
from sockweb.web.datastructures import MultiDict
from sockweb.web.exceptions import BadRequest, RequestEntityTooLarge
from sockweb.web.formparser import FormDataParser, MultiPartParser, default_stream_factory
from sockweb.web.multipart import MultipartError
from sockweb.web.request import Request
from sockweb.web.testing import create_environ

TRUNCATED = b'--b\r\nContent-Disposition: form-data; name="f"; filename="a.txt"\r\n\r\nno end'


def test_parse_returns_the_stream_with_form_and_files() -> None:
    stream = io.BytesIO(b"a=1&a=2")
    got_stream, form, files = FormDataParser().parse(stream, "application/x-www-form-urlencoded", 7)
    assert got_stream is stream and form.getlist("a") == ["1", "2"] and not files
    unknown = FormDataParser().parse(stream, "application/xml", 0)
    assert unknown == (stream, MultiDict(), MultiDict())


def test_parse_from_environ() -> None:
    environ = create_environ(method="POST", data={"a": "1"})
    stream, form, files = FormDataParser().parse_from_environ(environ)
    assert form["a"] == "1" and not files and stream.read() == b""
    stream, form, files = FormDataParser().parse_from_environ({"wsgi.input": io.BytesIO()})
    assert stream is not None and not form and not files


def test_silent_parser_gives_empty_results_for_a_malformed_body() -> None:
    options = {"boundary": "b"}
    _, form, files = FormDataParser().parse(io.BytesIO(TRUNCATED), "multipart/form-data", None, options)
    assert not form and not files
    with pytest.raises(BadRequest):
        FormDataParser(silent=False).parse(io.BytesIO(TRUNCATED), "multipart/form-data", None, options)


def test_silent_parser_still_raises_for_limits() -> None:
    body = b"--b\r\nContent-Disposition: form-data; name=a\r\n\r\n" + b"x" * 50 + b"\r\n--b--\r\n"
    parser = FormDataParser(max_form_memory_size=10)
    with pytest.raises(RequestEntityTooLarge):
        parser.parse(io.BytesIO(body), "multipart/form-data", len(body), {"boundary": "b"})


def test_request_form_parsing_is_not_silent() -> None:
    request = Request(
        create_environ(
            method="POST",
            input_stream=io.BytesIO(TRUNCATED),
            content_length=len(TRUNCATED),
            content_type="multipart/form-data; boundary=b",
        )
    )
    with pytest.raises(BadRequest):
        request.form  # noqa: B018


def test_result_class() -> None:
    _, form, _ = FormDataParser(cls=dict).parse(io.BytesIO(b"a=1"), "application/x-www-form-urlencoded", 3)
    assert type(form) is dict and form == {"a": "1"}


def test_multipart_parser_defaults_and_options() -> None:
    parser = MultiPartParser()
    assert parser.stream_factory is default_stream_factory and parser.cls is MultiDict

    def factory(*args: object) -> io.BytesIO:
        return io.BytesIO()

    custom = MultiPartParser(stream_factory=factory, cls=dict)
    assert custom.stream_factory is factory and custom.cls is dict


def test_multipart_parser_raises_value_errors() -> None:
    with pytest.raises(MultipartError):
        MultiPartParser().parse(io.BytesIO(TRUNCATED), b"b", len(TRUNCATED))
    assert issubclass(MultipartError, ValueError)


def test_field_memory_limit_counts_across_small_reads() -> None:
    body = b"--b\r\nContent-Disposition: form-data; name=a\r\n\r\n" + b"x" * 15 + b"\r\n--b--"
    parser = MultiPartParser(max_form_memory_size=10, buffer_size=5)
    with pytest.raises(RequestEntityTooLarge):
        parser.parse(io.BytesIO(body), b"b", None)


def test_parts_named_with_another_disposition_type_are_read() -> None:
    body = b"--b\r\nContent-Disposition: form-field; name=a\r\n\r\nvalue\r\n--b--"
    form, _ = MultiPartParser().parse(io.BytesIO(body), b"b", len(body))
    assert form["a"] == "value"


@pytest.mark.parametrize("spooled", [True, False])
@pytest.mark.parametrize("size", [10, 5000])
def test_uploads_read_as_text_files(spooled: bool, size: int, monkeypatch: pytest.MonkeyPatch) -> None:
    if not spooled:
        monkeypatch.setattr(formparser, "SpooledTemporaryFile", None)
    data = b"x,y\n" * size
    environ = create_environ(method="POST", data={"f": (io.BytesIO(data), "t.csv")})
    with Request(environ) as request:
        upload = request.files["f"]
        assert upload.readable() and not upload.closed
        assert sum(1 for _ in csv.reader(io.TextIOWrapper(upload))) == size  # type: ignore[arg-type]
    assert upload.closed


def test_default_stream_factory_without_spooling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(formparser, "SpooledTemporaryFile", None)
    small = default_stream_factory(10, None, None)
    assert isinstance(small, io.BytesIO)
    unknown = default_stream_factory(None, None, None)
    assert not isinstance(unknown, io.BytesIO)
    unknown.close()
