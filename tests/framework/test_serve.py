"""An App served by the real server: ``python -m sockweb serve MODULE:APP --workers 2``."""

from __future__ import annotations

import http.client
import textwrap

import pytest

APP_SOURCE = textwrap.dedent(
    """
    import os

    import time

    from sockweb.framework import App, g, request, session, stream_with_context

    app = App(__name__)
    app.config.update(SECRET_KEY="served secret", MAX_CONTENT_LENGTH=1000)

    @app.get("/")
    def hello():
        return "Hello, World!"

    @app.get("/users/<int:user_id>")
    def user(user_id):
        return {"id": user_id, "pid": os.getpid()}

    @app.post("/count")
    def count():
        session["n"] = session.get("n", 0) + int(request.form.get("by", "1"))
        return str(session["n"])

    @app.get("/stream")
    def stream():
        def gen():
            for i in range(3):
                yield f"{request.args.get('word', 'x')}{i};"
        return stream_with_context(gen())

    @app.get("/echo")
    def echo():
        g.value = request.args["v"]
        time.sleep(0.001)  # let other requests interleave in the worker's thread pool
        return f"{g.value}:{request.args['v']}:{session.get('none')}"

    @app.post("/upload")
    def upload():
        return str(len(request.get_data()))
    """
)


@pytest.fixture
def served(tmp_path, run_server):
    (tmp_path / "served_app.py").write_text(APP_SOURCE)
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "hello.txt").write_text("static hello")
    return run_server("served_app:app", "--workers", "2", cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)})


def request(server, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


@pytest.mark.slow
def test_app_under_the_real_server(served) -> None:
    status, headers, body = request(served, "GET", "/")
    assert (status, body) == (200, b"Hello, World!")
    assert headers["Content-Type"] == "text/html; charset=utf-8"

    status, headers, body = request(served, "GET", "/users/42")
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert body.startswith(b'{"id":42,')

    assert request(served, "GET", "/users/abc")[0] == 404
    assert request(served, "DELETE", "/")[0] == 405

    status, headers, body = request(served, "GET", "/stream?word=w")
    assert (status, body) == (200, b"w0;w1;w2;")
    assert headers.get("Transfer-Encoding") == "chunked"

    assert request(served, "GET", "/static/hello.txt")[2] == b"static hello"
    assert request(served, "HEAD", "/")[2] == b""

    big = b"x" * 2000
    status, _, _ = request(
        served, "POST", "/upload", body=big, headers={"Content-Type": "application/octet-stream"}
    )
    assert status == 413
    assert request(served, "POST", "/upload", body=b"abc")[2] == b"3"


@pytest.mark.slow
def test_signed_session_on_fresh_connections_and_keep_alive(served) -> None:
    # Each count goes on a new connection, so the two workers share the work; the signed cookie
    # carries the state whichever worker answers.
    cookie = ""
    for expected in range(1, 5):
        status, headers, body = request(
            served,
            "POST",
            "/count",
            body="by=1",
            headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
        )
        assert (status, body) == (200, str(expected).encode())
        cookie = headers["Set-Cookie"].split(";", 1)[0]
    assert cookie.startswith("session=")
    conn = http.client.HTTPConnection(served.host, served.port, timeout=10)
    try:
        for user_id in range(3):  # several requests on one kept-alive connection
            conn.request("GET", f"/users/{user_id}")
            response = conn.getresponse()
            assert response.read().startswith(b'{"id":%d,' % user_id)
    finally:
        conn.close()


@pytest.mark.slow
def test_concurrent_requests_each_see_their_own_context(served) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def fetch(n: int) -> bytes:
        return request(served, "GET", f"/echo?v={n}")[2]

    with ThreadPoolExecutor(8) as pool:
        bodies = list(pool.map(fetch, range(40)))
    assert bodies == [f"{n}:{n}:None".encode() for n in range(40)]
