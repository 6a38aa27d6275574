"""StaticFiles: serving, conditional and range requests, directories, and path safety on a real folder."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sockweb.web.httputil import http_date
from sockweb.web.lint import LintMiddleware
from sockweb.web.static import FileIterator, StaticFiles, render_listing, render_not_found, safe_join

SECRET = b"TOP-SECRET-CONTENT"
TEXT = b"hello, static world\n"


class Result:
    def __init__(self, status: str, headers: list[tuple[str, str]], body: bytes, iterable: Any) -> None:
        self.status = status
        self.code = int(status.split(maxsplit=1)[0])
        self.headers = headers
        self.body = body
        self.iterable = iterable

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


def call(
    app: Callable[..., Iterable[bytes]], path: str, method: str = "GET", lint: bool = True, **environ: Any
) -> Result:
    """Run one request through the WSGI app, consuming and closing the body as a server would.

    The app runs under LintMiddleware in strict mode, so every exchange is also checked against PEP 3333.
    """
    env: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    env.update(environ)
    if lint:
        app = LintMiddleware(app, strict=True)
    captured: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured.append((status, headers))
        return lambda data: None

    iterable = app(env, start_response)
    try:
        body = b"".join(iterable)
    finally:
        close = getattr(iterable, "close", None)
        if close is not None:
            close()
    status, headers = captured[0]
    return Result(status, headers, body, iterable)


def fallback_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"from the app"]


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """tmp/secret.txt outside the root; tmp/root holds the site, with symlinks in and out."""
    (tmp_path / "secret.txt").write_bytes(SECRET)
    root = tmp_path / "root"
    root.mkdir()
    (root / "hello.txt").write_bytes(TEXT)
    (root / "style.css").write_bytes(b"body{}")
    (root / "data.bin").write_bytes(bytes(range(256)) * 4)
    (root / "caf\u00e9.txt").write_bytes(b"cafe")
    (root / "sub").mkdir()
    (root / "sub" / "index.html").write_bytes(b"<p>sub index</p>")
    (root / "empty").mkdir()
    (root / "inside-link.txt").symlink_to(root / "hello.txt")
    (root / "escape.txt").symlink_to(tmp_path / "secret.txt")
    (root / "escape-dir").symlink_to(tmp_path)
    return root


@pytest.fixture
def app(site: Path) -> StaticFiles:
    return StaticFiles(None, {"/static": site})


# ------------------------------------------------------------------------------------------ serving


def test_get_file(app: StaticFiles, site: Path) -> None:
    r = call(app, "/static/hello.txt")
    assert r.code == 200
    assert r.body == TEXT
    assert r.header("Content-Type") == "text/plain; charset=utf-8"
    assert r.header("Content-Length") == str(len(TEXT))
    assert r.header("Accept-Ranges") == "bytes"
    assert r.header("Last-Modified") == http_date((site / "hello.txt").stat().st_mtime)
    etag = r.header("ETag")
    assert etag is not None and etag.startswith('"') and etag.endswith('"')
    assert r.header("Cache-Control") == "no-cache"


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("style.css", "text/css; charset=utf-8"),
        ("data.bin", "application/octet-stream"),
    ],
)
def test_content_types(app: StaticFiles, name: str, content_type: str) -> None:
    assert call(app, f"/static/{name}").header("Content-Type") == content_type


def test_gzip_file_is_served_as_gzip(site: Path, app: StaticFiles) -> None:
    (site / "a.tar.gz").write_bytes(b"\x1f\x8b")
    assert call(app, "/static/a.tar.gz").header("Content-Type") == "application/gzip"


def test_cache_max_age(site: Path) -> None:
    app = StaticFiles(None, {"/static": site}, cache_max_age=3600)
    assert call(app, "/static/hello.txt").header("Cache-Control") == "public, max-age=3600"


def test_head_has_headers_but_no_body(app: StaticFiles) -> None:
    r = call(app, "/static/hello.txt", "HEAD")
    assert r.code == 200
    assert r.body == b""
    assert r.header("Content-Length") == str(len(TEXT))


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_other_methods_get_405_with_allow(app: StaticFiles, method: str) -> None:
    r = call(app, "/static/hello.txt", method)
    assert r.code == 405
    assert r.header("Allow") == "GET, HEAD"


def test_utf8_name_arrives_as_latin1(app: StaticFiles) -> None:
    path = "/static/caf\u00e9.txt".encode().decode("latin-1")  # what a PEP 3333 server puts in PATH_INFO
    assert call(app, path).body == b"cafe"
    assert call(app, "/static/caf\udce9.txt".encode("utf-8", "surrogatepass").decode("latin-1")).code == 404


def test_file_wrapper_is_used_for_whole_files(app: StaticFiles) -> None:
    wrapped: list[Any] = []

    def wrapper(file: Any, block_size: int) -> Any:
        wrapped.append(file)
        return FileIterator(file, block_size)

    r = call(app, "/static/hello.txt", **{"wsgi.file_wrapper": wrapper})
    assert r.body == TEXT
    assert len(wrapped) == 1 and wrapped[0].closed


def test_block_iterator_closes_the_file(app: StaticFiles) -> None:
    r = call(app, "/static/data.bin", lint=False)
    assert isinstance(r.iterable, FileIterator)
    assert r.iterable.file.closed
    assert r.body == bytes(range(256)) * 4


def test_longest_prefix_wins(tmp_path: Path, site: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "hello.txt").write_bytes(b"other")
    app = StaticFiles(None, {"/static": site, "/static/x": other})
    assert call(app, "/static/x/hello.txt").body == b"other"
    assert call(app, "/static/hello.txt").body == TEXT


def test_unmatched_paths_go_to_the_app(site: Path) -> None:
    app = StaticFiles(fallback_app, {"/static": site})
    assert call(app, "/elsewhere").body == b"from the app"
    assert call(app, "/static/missing.txt").body == b"from the app"
    assert call(app, "/staticky/hello.txt").body == b"from the app"


def test_404_page_without_app(app: StaticFiles) -> None:
    r = call(app, "/static/<missing>.txt")
    assert r.code == 404
    assert b"&lt;missing&gt;" in r.body and b"<missing>" not in r.body


def test_spa_fallback(site: Path) -> None:
    app = StaticFiles(fallback_app, {"/": site}, fallback="hello.txt")
    assert call(app, "/some/client/route").body == TEXT
    assert call(app, "/some/client/route", "POST").body == b"from the app"


def test_content_etag(site: Path) -> None:
    app = StaticFiles(None, {"/s": site}, etag="content")
    first = call(app, "/s/hello.txt").header("ETag")
    assert first == call(app, "/s/inside-link.txt").header("ETag")  # same bytes, same tag
    (site / "hello.txt").write_bytes(b"changed!")
    os.utime(site / "hello.txt", (1, 1))
    assert call(app, "/s/hello.txt").header("ETag") != first


# ---------------------------------------------------------------------------------------- conditional


def test_if_none_match_gives_304(app: StaticFiles) -> None:
    etag = call(app, "/static/hello.txt").header("ETag")
    r = call(app, "/static/hello.txt", HTTP_IF_NONE_MATCH=etag)
    assert r.code == 304 and r.body == b""
    assert r.header("ETag") == etag
    assert call(app, "/static/hello.txt", HTTP_IF_NONE_MATCH='"other"').code == 200


def test_if_modified_since(app: StaticFiles, site: Path) -> None:
    modified = call(app, "/static/hello.txt").header("Last-Modified")
    assert call(app, "/static/hello.txt", HTTP_IF_MODIFIED_SINCE=modified).code == 304
    assert call(app, "/static/hello.txt", HTTP_IF_MODIFIED_SINCE=http_date(0)).code == 200


def test_if_match_mismatch_gives_412(app: StaticFiles) -> None:
    assert call(app, "/static/hello.txt", HTTP_IF_MATCH='"nope"').code == 412


def test_etag_changes_with_the_file(app: StaticFiles, site: Path) -> None:
    before = call(app, "/static/hello.txt").header("ETag")
    (site / "hello.txt").write_bytes(b"new content, new size")
    assert call(app, "/static/hello.txt").header("ETag") != before


# ---------------------------------------------------------------------------------------------- range


@pytest.mark.parametrize(
    ("spec", "content_range", "expected"),
    [
        ("bytes=0-4", "bytes 0-4/20", TEXT[0:5]),
        ("bytes=7-", "bytes 7-19/20", TEXT[7:]),
        ("bytes=-6", "bytes 14-19/20", TEXT[-6:]),
        ("bytes=15-100", "bytes 15-19/20", TEXT[15:]),
    ],
)
def test_single_range(app: StaticFiles, spec: str, content_range: str, expected: bytes) -> None:
    r = call(app, "/static/hello.txt", HTTP_RANGE=spec)
    assert r.code == 206
    assert r.header("Content-Range") == content_range
    assert r.body == expected
    assert r.header("Content-Length") == str(len(expected))


def test_range_not_reaching_the_end_avoids_file_wrapper(app: StaticFiles) -> None:
    def wrapper(file: Any, block_size: int) -> Any:
        raise AssertionError("file_wrapper would send to the end of the file")

    r = call(app, "/static/hello.txt", HTTP_RANGE="bytes=0-4", **{"wsgi.file_wrapper": wrapper})
    assert r.body == TEXT[:5]


def test_unsatisfiable_range_gives_416(app: StaticFiles) -> None:
    r = call(app, "/static/hello.txt", HTTP_RANGE="bytes=100-")
    assert r.code == 416
    assert r.header("Content-Range") == "bytes */20"


def test_malformed_range_is_ignored(app: StaticFiles) -> None:
    r = call(app, "/static/hello.txt", HTTP_RANGE="bytes=5-2")
    assert r.code == 200 and r.body == TEXT


def test_range_in_another_unit_is_ignored(app: StaticFiles) -> None:
    # RFC 9110 §14.2: a range unit the server does not know is ignored, never served as bytes
    r = call(app, "/static/hello.txt", HTTP_RANGE="items=0-1")
    assert r.code == 200 and r.body == TEXT


def test_if_range_with_stale_etag_sends_everything(app: StaticFiles) -> None:
    etag = call(app, "/static/hello.txt").header("ETag")
    assert call(app, "/static/hello.txt", HTTP_RANGE="bytes=0-1", HTTP_IF_RANGE='"stale"').body == TEXT
    assert call(app, "/static/hello.txt", HTTP_RANGE="bytes=0-1", HTTP_IF_RANGE=etag).body == TEXT[:2]


def test_multiple_ranges(app: StaticFiles) -> None:
    r = call(app, "/static/hello.txt", HTTP_RANGE="bytes=0-1, 5-6")
    assert r.code == 206
    content_type = r.header("Content-Type") or ""
    assert content_type.startswith("multipart/byteranges; boundary=")
    boundary = content_type.split("boundary=")[1].encode()
    assert r.header("Content-Length") == str(len(r.body))
    parts = r.body.split(b"--" + boundary)
    assert parts[-1] == b"--\r\n"
    assert b"Content-Range: bytes 0-1/20\r\n\r\nhe\r\n" in parts[1]
    assert b"Content-Range: bytes 5-6/20\r\n\r\n, \r\n" in parts[2]


def test_head_range(app: StaticFiles) -> None:
    r = call(app, "/static/hello.txt", "HEAD", HTTP_RANGE="bytes=0-4")
    assert r.code == 206 and r.body == b"" and r.header("Content-Length") == "5"


# ------------------------------------------------------------------------------------------ directories


def test_folder_without_slash_redirects(app: StaticFiles) -> None:
    r = call(app, "/static/sub", QUERY_STRING="a=1", SCRIPT_NAME="/app")
    assert r.code == 308
    assert r.header("Location") == "/app/static/sub/?a=1"


def test_folder_index(app: StaticFiles) -> None:
    r = call(app, "/static/sub/")
    assert r.code == 200 and r.body == b"<p>sub index</p>"
    assert r.header("Content-Type") == "text/html; charset=utf-8"


def test_folder_without_index(site: Path) -> None:
    assert call(StaticFiles(fallback_app, {"/s": site}), "/s/empty/").body == b"from the app"
    listing = call(StaticFiles(None, {"/s": site}, listing=True), "/s/")
    assert listing.code == 200
    assert b"hello.txt" in listing.body


def test_render_listing_escapes_and_links(tmp_path: Path) -> None:
    (tmp_path / "<b>&x.txt").write_bytes(b"12345")
    (tmp_path / "a dir").mkdir()
    page = render_listing(tmp_path, "/files/").decode()
    assert "&lt;b&gt;&amp;x.txt" in page and "<b>" not in page
    assert 'href="%3Cb%3E%26x.txt"' in page
    assert 'href="a%20dir/"' in page
    assert page.index("a dir/") < page.index("&lt;b&gt;")  # folders first
    assert 'href="../"' in page
    assert "5 B" in page
    assert 'href="../"' not in render_listing(tmp_path, "/").decode()


def test_render_not_found_escapes() -> None:
    page = render_not_found("/<script>alert(1)</script>").decode()
    assert "<script>" not in page and "&lt;script&gt;" in page


# ------------------------------------------------------------------------------------------ path safety

HOSTILE_PATHS = [
    "/static/../secret.txt",  # decoded form, as the server hands it over
    "/static/sub/../../secret.txt",
    "/static/%2e%2e/secret.txt",  # raw form, if a server forgot to decode
    "/static/%2E%2E/secret.txt",
    "/static/%252e%252e/secret.txt",  # double encoded
    "/static/..%2fsecret.txt",
    "/static/..%5csecret.txt",
    "/static/..\\secret.txt",  # backslashes
    "/static/sub\\..\\..\\secret.txt",
    "/static/secret.txt\x00.png",  # NUL
    "/static/%00",
    "/static/C:/secret.txt",  # drive letter
    "/static/c:secret.txt",
    "/static/escape.txt",  # symlink to a file outside the root
    "/static/escape-dir/secret.txt",  # symlink to a folder outside the root
    "/static/./../secret.txt",
]


@pytest.mark.parametrize("path", HOSTILE_PATHS)
def test_hostile_paths_are_404(app: StaticFiles, path: str) -> None:
    r = call(app, path)
    assert r.code == 404, path
    assert SECRET not in r.body


def test_absolute_path_stays_inside_the_root(app: StaticFiles, site: Path) -> None:
    secret = site.parent / "secret.txt"
    r = call(app, "/static/" + str(secret))
    assert r.code == 404 and SECRET not in r.body
    r = call(app, "/static//" + str(secret).lstrip("/"))
    assert r.code == 404 and SECRET not in r.body


def test_symlink_inside_the_root_is_served(app: StaticFiles) -> None:
    assert call(app, "/static/inside-link.txt").body == TEXT


def test_hostile_paths_are_not_handed_to_the_app(site: Path) -> None:
    app = StaticFiles(fallback_app, {"/static": site})
    assert call(app, "/static/../secret.txt").code == 404


def test_safe_join(site: Path) -> None:
    assert safe_join(str(site), "hello.txt") == os.path.realpath(site / "hello.txt")
    assert safe_join(str(site), "sub//index.html") == os.path.realpath(site / "sub" / "index.html")
    assert safe_join(str(site), "/sub/index.html") is None  # absolute: StaticFiles strips the URL's slash
    assert safe_join(str(site), "../secret.txt") is None
    assert safe_join(str(site), "escape.txt") is None
    assert safe_join(str(site), "") == os.path.realpath(site)


@pytest.mark.parametrize(
    ("filename", "path"),
    [
        (None, "/static/sub/../hello.txt"),  # resolves inside the root, still refused
        ("%2e%2e", "/static/%2e%2e"),  # a name that means ".." to anything decoding once more
        ("a%2fb", "/static/a%2fb"),
        ("a\\b.txt", "/static/a\\b.txt"),  # a backslash is a separator elsewhere
        ("c:x", "/static/c:x"),
        ("tab\there", "/static/tab\there"),
    ],
)
def test_suspicious_segments_are_refused_even_inside_the_root(
    app: StaticFiles, site: Path, filename: str | None, path: str
) -> None:
    if filename is not None:
        (site / filename).write_bytes(b"suspicious")
    assert call(app, path).code == 404


PIECES = [
    "..",
    ".",
    "sub",
    "hello.txt",
    "escape-dir",
    "escape.txt",
    "%2e",
    "%2e%2e",
    "%2f",
    "%5c",
    "\\",
    "/",
    "//",
    "c:",
    "\x00",
    "secret.txt",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pieces=st.lists(st.sampled_from(PIECES), max_size=8))
def test_safe_join_never_leaves_the_root(site: Path, pieces: list[str]) -> None:
    root = os.path.realpath(site)
    result = safe_join(str(site), "".join(pieces))
    assert result is None or os.path.commonpath([root, result]) == root
