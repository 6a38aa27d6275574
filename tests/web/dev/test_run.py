"""The entry points without the reloader: run_simple and ``sockweb serve --debug``, on the real server."""

from __future__ import annotations

import http.client
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from ._proc import request, running

APP = """\
def app(environ, start_response):
    if environ["PATH_INFO"] == "/boom":
        local_marker = "<marker & friends>"
        raise LookupError("nothing at " + environ["PATH_INFO"])
    body = b"hello from " + environ["SERVER_SOFTWARE"].encode() if "SERVER_SOFTWARE" in environ else b"hello"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
"""


def test_run_simple_serves_with_keep_alive(tmp_path: Path) -> None:
    (tmp_path / "hello.py").write_text(APP)
    (tmp_path / "serve.py").write_text(
        "from sockweb.web.dev import run_simple\nimport hello\n"
        "run_simple('127.0.0.1', 0, hello.app, threaded=False)\n"
    )
    with running(["serve.py"], cwd=tmp_path) as (proc, url):
        assert proc.lines[0].endswith("(Press CTRL+C to quit)\n")
        assert not any("PIN" in line for line in proc.lines)
        parts = urlsplit(url)
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
        try:
            conn.request("GET", "/")
            first = conn.getresponse()
            assert first.read().startswith(b"hello") and first.status == 200
            sock = conn.sock
            conn.request("GET", "/again")
            second = conn.getresponse()
            assert second.status == 200 and second.read().startswith(b"hello")
            assert conn.sock is sock  # the same connection: keep-alive works
        finally:
            conn.close()
        # without the debugger, an error is the server's plain 500
        reply = request(url, "/boom")
        assert reply.status == 500 and "local_marker" not in reply.text


def test_serve_debug_without_reload(tmp_path: Path) -> None:
    (tmp_path / "hello.py").write_text(APP)
    args = ["-m", "sockweb", "serve", "--debug", "hello:app", "--bind", "127.0.0.1:0"]
    with running(args, cwd=tmp_path) as (proc, url):
        proc.wait_for(r"Debugger PIN: \d{3}-\d{3}-\d{3}")
        assert request(url).status == 200
        page = request(url, "/boom")
        assert page.status == 500
        assert "LookupError" in page.text and "<th>local_marker</th>" in page.text
        assert "&lt;marker &amp; friends&gt;" in page.text


def test_serve_cli_errors(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sockweb", "serve", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
        )

    missing = run("--debug", "--bind", "127.0.0.1:0")
    assert missing.returncode == 2 and "MODULE:APP" in missing.stderr
    broken = run("--debug", "nosuchmodule:app", "--bind", "127.0.0.1:0")
    assert broken.returncode == 1 and "nosuchmodule" in broken.stderr
    assert "Running on" not in broken.stdout  # it never ran
