from __future__ import annotations

import io
import time
from collections.abc import Callable
from typing import Any

import pytest

from sockweb.web.exceptions import ClientDisconnected, RequestEntityTooLarge, SecurityError
from sockweb.web.httputil import (
    parse_accept_header,
    parse_cache_control,
    parse_cookie,
    parse_etags,
    parse_list_header,
    parse_options_header,
    parse_range_header,
)
from sockweb.web.response import Response
from sockweb.web.testing import create_environ
from sockweb.web.wsgi_util import (
    ClosingIterator,
    FileWrapper,
    LimitedStream,
    get_current_url,
    get_host,
    host_is_trusted,
    wrap_file,
)


def test_limited_stream_exact() -> None:
    stream = LimitedStream(io.BytesIO(b"abcdefgh"), 5)
    assert stream.read(3) == b"abc"
    assert stream.read(10) == b"de"
    assert stream.read(10) == b""
    assert stream.is_exhausted and stream.tell() == 5


def test_limited_stream_disconnect() -> None:
    stream = LimitedStream(io.BytesIO(b"ab"), 5)
    assert stream.read(2) == b"ab"
    with pytest.raises(ClientDisconnected):
        stream.read(1)


def test_limited_stream_maximum() -> None:
    assert LimitedStream(io.BytesIO(b"abc"), 5, is_max=True).read() == b"abc"
    assert LimitedStream(io.BytesIO(b"abcde"), 5, is_max=True).read() == b"abcde"
    with pytest.raises(RequestEntityTooLarge):
        LimitedStream(io.BytesIO(b"abcdef"), 5, is_max=True).read()


def test_limited_stream_exhaust() -> None:
    source = io.BytesIO(b"x" * 200_000 + b"NEXT")
    LimitedStream(source, 200_000).exhaust()
    assert source.read() == b"NEXT"


def test_closing_iterator_runs_each_callback_once() -> None:
    calls: list[str] = []

    class Body:
        def __iter__(self) -> Any:
            return iter([b"a"])

        def close(self) -> None:
            calls.append("body")

    iterator = ClosingIterator(Body(), [lambda: calls.append("cb")])
    assert list(iterator) == [b"a"]
    iterator.close()
    iterator.close()
    assert calls == ["body", "cb"]


def test_file_wrapper_fallback_and_server_wrapper() -> None:
    source = io.BytesIO(b"x" * 10)
    wrapper = wrap_file({}, source, 4)
    assert isinstance(wrapper, FileWrapper) and list(wrapper) == [b"xxxx", b"xxxx", b"xx"]
    sentinel = object()
    assert wrap_file({"wsgi.file_wrapper": lambda f, size: sentinel}, source) is sentinel


def test_get_host_and_url() -> None:
    environ = create_environ("/a b?x=1 2", base_url="http://example.com:8080/mount/")
    assert get_host(environ) == "example.com:8080"
    assert get_current_url(environ) == "http://example.com:8080/mount/a%20b?x=1%202"
    assert get_current_url(environ, root_only=True) == "http://example.com:8080/mount/"
    assert get_current_url(environ, strip_querystring=True) == "http://example.com:8080/mount/a%20b"
    assert get_current_url(environ, host_only=True) == "http://example.com:8080/"
    with pytest.raises(SecurityError):
        get_host(environ, trusted_hosts=["other.com"])
    assert host_is_trusted("api.example.com:8080", [".example.com"])
    assert host_is_trusted("example.com", [".example.com"])
    assert not host_is_trusted("badexample.com", [".example.com"])
    assert host_is_trusted("[::1]", ["[::1]"])


@pytest.mark.parametrize(
    ("header", "host"),
    [("example.com:", "example.com"), ("example.com:80", "example.com"), ("[::1]:65535", "[::1]:65535")],
)
def test_host_ports(header: str, host: str) -> None:
    assert get_host(create_environ(headers={"Host": header})) == host


@pytest.mark.parametrize("header", ["example.com:65536", "example.com:99999", "example.com:8a", "a b", ""])
def test_invalid_hosts_are_400(header: str) -> None:
    with pytest.raises(SecurityError):
        get_host(create_environ(headers={"Host": header}))


@pytest.mark.parametrize(
    ("path", "url"),
    [("/a%253F", "/a%253F"), ("/a%3Fb", "/a%3Fb"), ("/caf%C3%A9", "/caf%C3%A9"), ("/x%23y", "/x%23y")],
)
def test_url_reencodes_decoded_path(path: str, url: str) -> None:
    assert get_current_url(create_environ(path)) == "http://localhost" + url


def test_list_body_gets_a_length() -> None:
    response = Response()
    response.response = [b"ab", "c"]
    response.headers.remove("Content-Length")
    assert response.get_wsgi_headers(create_environ())["Content-Length"] == "3"


# -- hostile header values: the cost must grow linearly with the size ---------------------------------------

HOSTILE: dict[str, Callable[[int], Any]] = {
    "options-unterminated-quotes": lambda n: parse_options_header("a;" + 'b="\\' * n),
    "options-semicolons": lambda n: parse_options_header("a" + "; x" * n),
    "options-spaces": lambda n: parse_options_header("a; b=" + " " * (4 * n) + "c"),
    "cookie-quotes": lambda n: parse_cookie('a="' + "\\" * (4 * n)),
    "cookie-pairs": lambda n: parse_cookie("a=b; " * n),
    "accept-params": lambda n: parse_accept_header("text/html" + ";a=b" * n),
    "accept-commas": lambda n: parse_accept_header("," * (4 * n)),
    "etags": lambda n: parse_etags('W/"' * n + '"x' * n),
    "list": lambda n: parse_list_header('"' + "\\," * (2 * n)),
    "range": lambda n: parse_range_header("bytes=" + "1" * (4 * n)),
    "cache-control": lambda n: parse_cache_control('max-age="' + " " * (4 * n)),
}


def cpu_cost(func: Callable[[int], Any], n: int) -> float:
    best = float("inf")
    for _ in range(5):
        start = time.process_time()
        func(n)
        best = min(best, time.process_time() - start)
    return best


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_header_values_scale_linearly(name: str) -> None:
    # CPU time of this process (best of 5) on inputs 4x apart: a linear parser costs about 4x, a quadratic
    # one 16x. The factor allowed is generous, and sizes are large enough to dwarf timer resolution.
    func = HOSTILE[name]
    small, large = cpu_cost(func, 10_000), cpu_cost(func, 40_000)
    assert large <= max(10 * small, 0.05), (small, large)


def test_limited_stream_on_exhausted_hook() -> None:
    class Strict(LimitedStream):
        def on_exhausted(self) -> bytes:
            raise ClientDisconnected("read past the body")

    stream = Strict(io.BytesIO(b"abcdef"), 3)
    assert stream.read() == b"abc"  # reading up to the limit is fine
    with pytest.raises(ClientDisconnected):
        stream.read()
    plain = LimitedStream(io.BytesIO(b"abcdef"), 2)
    assert (plain.read(1), plain.read(), plain.read(), plain.read(5)) == (b"a", b"b", b"", b"")


def test_limited_stream_over_a_closed_input_is_a_disconnect() -> None:
    source = io.BytesIO(b"x" * 10)
    source.close()
    with pytest.raises(ClientDisconnected):
        LimitedStream(source, 10).read()


def test_closing_iterator_is_an_iterator_and_takes_one_callback() -> None:
    closed: list[str] = []

    class Body:
        def __iter__(self) -> Any:
            yield b"a"
            yield b"b"

        def close(self) -> None:
            closed.append("body")

    body = ClosingIterator(Body(), lambda: closed.append("callback"))
    assert next(body) == b"a"
    assert list(body) == [b"b"]  # the same position: iter() and next() share one iterator
    with pytest.raises(StopIteration):
        next(body)
    body.close()
    assert closed == ["body", "callback"]


def test_trusted_host_entry_with_a_port_matches_only_that_port() -> None:
    environ = {"SERVER_NAME": "example.org", "SERVER_PORT": "8080", "wsgi.url_scheme": "http"}
    assert get_host(environ, trusted_hosts=[".example.org:8080"]) == "example.org:8080"
    assert get_host(environ, trusted_hosts=["example.org"]) == "example.org:8080"
    with pytest.raises(SecurityError):
        get_host(environ, trusted_hosts=["example.org:9090"])
    assert host_is_trusted("[::1]:8000", ["[::1]:8000"])
    assert not host_is_trusted("[::1]:8001", ["[::1]:8000"])
    assert host_is_trusted("[::1]", ["[::1]"])


def test_get_path_info_decodes_utf8() -> None:
    from sockweb.web.wsgi_util import get_path_info

    environ = create_environ("/caf%C3%A9", "http://example.com/r%C3%BCck/")
    assert get_path_info(environ) == "/caf\u00e9"
    assert get_path_info({"PATH_INFO": "/\xff"}) == "/\ufffd"


def test_responder_turns_a_response_factory_into_an_app() -> None:
    from sockweb.web.testing import Client
    from sockweb.web.wsgi_util import responder

    @responder
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Response:
        return Response(f"path {environ['PATH_INFO']}")

    assert Client(app).get("/x").text == "path /x"
    assert app.__name__ == "app"
