"""A real server mounted under a prefix (--root-path), shedding load (--limit-concurrency), and the
process settings gunicorn users bring (-e/--env, --pythonpath)."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from pathlib import Path

import pytest
from ops_helpers import wait_until

pytestmark = pytest.mark.timeout(90)

APP = """
import json, os, time

def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/slow":
        with open("inflight.log", "a") as fh:
            fh.write("in\\n")
        time.sleep(float(environ.get("QUERY_STRING") or "1"))
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return (b"x" * 65536 for _ in range(100000))
    body = json.dumps({"script": environ["SCRIPT_NAME"], "path": path,
                       "greeting": os.environ.get("GREETING"), "pid": os.getpid()}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
"""


def _request(server, path: str) -> tuple[int, dict[str, str], bytes]:  # type: ignore[no-untyped-def]
    conn = http.client.HTTPConnection(server.host, server.port, timeout=20)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


@pytest.fixture
def mountapp(app_dir: Path) -> str:
    (app_dir / "mountapp.py").write_text(APP)
    return "mountapp:app"


def test_root_path_sets_script_name_and_strips_path_info(serve, mountapp: str) -> None:
    server = serve("--root-path", "/app/", app=mountapp)
    for path, expected in [
        ("/app/x?q=1", ("/app", "/x")),
        ("/app", ("/app", "")),
        ("/x", ("/app", "/x")),  # a proxy that removed the prefix itself
        ("/apple", ("/app", "/apple")),
    ]:
        status, _, body = _request(server, path)
        data = json.loads(body)
        assert status == 200 and (data["script"], data["path"]) == expected, path


def test_limit_concurrency_sheds_with_503_and_retry_after(serve, mountapp: str, app_dir: Path) -> None:
    server = serve("--limit-concurrency", "1", "--dispatch", "pool", "--threads", "4", app=mountapp)
    results: list[int] = []
    slow = threading.Thread(target=lambda: results.append(_request(server, "/slow?3")[0]))
    slow.start()
    marker = app_dir / "inflight.log"
    wait_until(lambda: marker.exists() and marker.read_text(), 10, "the slow request in the app")
    status, headers, body = _request(server, "/other")
    assert status == 503 and headers["Retry-After"] == "1" and headers["Connection"] == "close"
    assert b"concurrency limit" in body
    slow.join(20)
    assert results == [200]
    assert _request(server, "/other")[0] == 200  # the slot was given back
    assert marker.read_text() == "in\n"  # the shed request never reached the application


def test_limit_concurrency_slot_freed_when_a_suspended_response_loses_its_client(
    serve, mountapp: str
) -> None:
    server = serve("--limit-concurrency", "1", "--dispatch", "inline", app=mountapp)
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 200")
        time.sleep(
            0.5
        )  # the body fills the socket buffers: the response is suspended, then the client leaves
    deadline = time.monotonic() + 10
    while True:
        status = _request(server, "/after")[0]
        if status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert status == 200


def test_env_and_pythonpath(serve, app_dir: Path) -> None:
    lib = app_dir / "lib"
    lib.mkdir()
    (lib / "libapp.py").write_text(APP)
    server = serve("-e", "GREETING=hello=world", "--pythonpath", "lib", app="libapp:app")
    status, _, body = _request(server, "/")
    assert status == 200 and json.loads(body)["greeting"] == "hello=world"
