"""``sockweb static DIR`` over real sockets: listing, 404, traversal, ranges, 304, keep-alive."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from ._proc import raw, request, running


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("site")
    (root / "hello.txt").write_text("hello, static world\n")
    (root / "<i>odd & name</i>.txt".replace("/", "_")).write_text("odd\n")
    (root / "docs").mkdir()
    (root / "docs" / "guide.html").write_text("<h1>guide</h1>\n")
    (root / "site").mkdir()
    (root / "site" / "index.html").write_text("<p>the index</p>\n")
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret.txt").write_text("TOP SECRET\n")
    (root / "leak").symlink_to(outside)
    with running(["-m", "sockweb", "static", str(root), "--bind", "127.0.0.1:0"], cwd=root) as (proc, url):
        assert any(str(root) in line for line in proc.lines)  # it says what it serves
        yield url


def test_listing_escapes_names_and_quotes_links(site: str) -> None:
    reply = request(site, "/")
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("text/html")
    assert "Index of /" in reply.text
    assert "&lt;i&gt;odd &amp; name&lt;_i&gt;.txt" in reply.text
    assert 'href="%3Ci%3Eodd%20%26%20name%3C_i%3E.txt"' in reply.text
    assert "<i>odd" not in reply.text
    assert 'href="docs/"' in reply.text and 'href="hello.txt"' in reply.text


def test_files_and_index(site: str) -> None:
    reply = request(site, "/hello.txt")
    assert (reply.status, reply.body) == (200, b"hello, static world\n")
    assert reply.headers["Content-Type"].startswith("text/plain")
    assert request(site, "/site/").text == "<p>the index</p>\n"
    redirect = request(site, "/docs")
    assert redirect.status in (301, 308) and redirect.headers["Location"].endswith("/docs/")
    assert "guide.html" in request(site, "/docs/").text


def test_not_found_page(site: str) -> None:
    reply = request(site, "/nothing/<here>")
    assert reply.status == 404
    assert reply.headers["Content-Type"].startswith("text/html")
    assert "<here>" not in reply.text and "&lt;here&gt;" in reply.text


@pytest.mark.parametrize(
    "target",
    [
        "/../../../../etc/passwd",
        "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/docs/..%2f..%2f..%2fetc/passwd",
        "/..%5c..%5cetc%5cpasswd",
        "/docs/%00.txt",
        "/leak/secret.txt",
    ],
)
def test_traversal_is_404(site: str, target: str) -> None:
    data = raw(site, f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    assert data.startswith(b"HTTP/1.1 404 "), data[:200]
    assert b"root:" not in data and b"TOP SECRET" not in data


def test_range_conditional_and_keep_alive(site: str) -> None:
    parts = urlsplit(site)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        conn.request("GET", "/hello.txt", headers={"Range": "bytes=7-12"})
        resp = conn.getresponse()
        assert (resp.status, resp.read()) == (206, b"static")
        assert resp.headers["Content-Range"] == "bytes 7-12/20"
        conn.request("GET", "/hello.txt")
        resp = conn.getresponse()
        etag, modified = resp.headers["ETag"], resp.headers["Last-Modified"]
        assert resp.read() == b"hello, static world\n" and etag and modified
        sock = conn.sock
        conn.request("GET", "/hello.txt", headers={"If-None-Match": etag})
        resp = conn.getresponse()
        assert (resp.status, resp.read()) == (304, b"")
        conn.request("GET", "/hello.txt", headers={"If-Modified-Since": modified})
        resp = conn.getresponse()
        assert (resp.status, resp.read()) == (304, b"")
        conn.request("HEAD", "/hello.txt")
        resp = conn.getresponse()
        assert (resp.status, resp.read(), resp.headers["Content-Length"]) == (200, b"", "20")
        assert conn.sock is sock  # all of it on one kept-alive connection
    finally:
        conn.close()


def test_bad_directory_is_an_error(tmp_path: Path) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "sockweb", "static", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and "not a directory" in result.stderr


@pytest.mark.parametrize("command", [["static"], ["serve", "--debug", "app:app"]])
def test_bind_errors_are_one_line_with_the_right_status(command: list[str], tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys

    def run(bind: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sockweb", *command, "--bind", bind],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
        )

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        in_use = run(f"127.0.0.1:{port}")
    malformed = run("127.0.0.1:99999")
    prog = f"sockweb {command[0]}"
    # A malformed address is a usage error (2); an address that cannot be listened on, a runtime one (1).
    # (The wording after the address is the server's; only its shape is checked here.)
    assert malformed.returncode == 2
    # `serve` validates --bind with the rest of its settings (the message names the setting); `static`
    # parses its one address itself.
    expected = (
        "--bind: expected a port number" if command[0] == "serve" else "invalid bind '127.0.0.1:99999': "
    )
    assert malformed.stderr.startswith(f"{prog}: error: {expected}")
    assert in_use.returncode == 1
    assert in_use.stderr.startswith(f"{prog}: error: cannot listen on 127.0.0.1:{port}: ")
    assert "in use" in in_use.stderr
    for result in (malformed, in_use):
        assert result.stderr.count("\n") == 1 and result.stdout == ""
