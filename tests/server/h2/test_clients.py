"""HTTP/2 with real clients: curl (prior knowledge, and ALPN over TLS), nghttp, h2load, httpx; the environ of
a stream, bodies both ways through flow control, and HTTP/1.1 still served on the same listener."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import trustme

from server.conftest import APPS_DIR
from server.h2.conftest import _need

pytestmark = pytest.mark.timeout(90)


def _curl(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([_need("curl"), "-sS", *args], capture_output=True, timeout=30, check=True)


def test_curl_prior_knowledge_environ(h2server) -> None:
    out = _curl("--http2-prior-knowledge", "-D", "-", f"http://127.0.0.1:{h2server.port}/echo?a=1").stdout
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/2 200")
    info = json.loads(body)
    assert info["server_protocol"] == "HTTP/2"
    assert info["headers"]["HTTP_HOST"] == f"127.0.0.1:{h2server.port}"  # from :authority
    assert info["query_string"] == "a=1" and info["method"] == "GET"
    assert b"connection:" not in head.lower() and b"transfer-encoding" not in head.lower()


def test_http11_still_served_on_the_same_listener(h2server) -> None:
    with httpx.Client() as client:
        r = client.get(f"http://127.0.0.1:{h2server.port}/echo")
    assert r.http_version == "HTTP/1.1" and r.json()["server_protocol"] == "HTTP/1.1"


def test_httpx_http2_bodies_both_ways(h2server) -> None:
    body = bytes(range(256)) * 12000  # 3 MB: many windows' worth each way
    with httpx.Client(http1=False, http2=True, timeout=30) as client:
        url = f"http://127.0.0.1:{h2server.port}"
        r = client.post(url + "/echo", content=body, headers={"content-type": "application/x-test"})
        assert r.http_version == "HTTP/2"
        info = r.json()
        assert info["body_size"] == len(body)
        assert info["body_sha256"] == hashlib.sha256(body).hexdigest()
        assert info["content_length"] == str(len(body))
        r = client.get(url + "/big?mib=3")
        assert r.content == (bytes(range(256)) * 256) * 48
        r = client.get(url + "/stream?chunks=5&size=7")
        assert r.content == b"AAAAAAABBBBBBBCCCCCCCDDDDDDDEEEEEEE"
        # A body without content-length: wsgi.input_terminated, read to its end.
        r = client.post(url + "/echo", content=iter([b"ab", b"cd"]))
        assert r.json()["body_size"] == 4 and r.json()["input_terminated"] is True


def test_errors_and_responses_without_a_body(h2server) -> None:
    with httpx.Client(http1=False, http2=True, timeout=30) as client:
        url = f"http://127.0.0.1:{h2server.port}"
        r = client.get(url + "/crash")
        assert r.status_code == 500 and r.headers["content-length"] == str(len(r.content))
        r = client.head(url + "/big?mib=1")
        assert r.status_code == 200 and r.content == b"" and r.headers["content-length"] == str(1 << 20)
        r = client.get(url + "/own_date")
        assert r.headers.get_list("date") == ["Thu, 01 Jan 2015 00:00:00 GMT"]
        assert r.headers.get_list("server") == ["app/1"]
        # A response that breaks after its head: the stream is reset, not ended as if complete.
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(url + "/crash_midway")
        assert client.get(url + "/hello").text == "Hello, World!"  # the connection is still good


def test_nghttp_concurrent_streams(h2server) -> None:
    out = subprocess.run(
        [_need("nghttp"), "-n", "-s", "-m", "8", f"http://127.0.0.1:{h2server.port}/big?mib=1"],
        capture_output=True,
        timeout=60,
        check=True,
    ).stdout.decode()
    assert out.count("/big?mib=1") >= 8


def test_h2load_smoke(h2server) -> None:
    out = subprocess.run(
        [_need("h2load"), "-n", "400", "-c", "4", "-m", "16", f"http://127.0.0.1:{h2server.port}/hello"],
        capture_output=True,
        timeout=60,
        check=True,
    ).stdout.decode()
    assert "400 succeeded, 0 failed" in out and "400 2xx" in out


def test_tls_alpn_prefers_h2(run_server, certs, ca: trustme.CA) -> None:
    srv = run_server(
        "fixtureapps:dispatch",
        "--http2",
        "--certfile",
        certs["cert"],
        "--keyfile",
        certs["key"],
        cwd=APPS_DIR,
    )
    url = f"https://127.0.0.1:{srv.port}/echo"
    out = _curl("--http2", "--cacert", certs["ca"], "-D", "-", url).stdout
    assert out.startswith(b"HTTP/2 200")
    assert json.loads(out.partition(b"\r\n\r\n")[2])["url_scheme"] == "https"
    # A client that offers only http/1.1 keeps it.
    assert _curl("--http1.1", "--cacert", certs["ca"], "-D", "-", url).stdout.startswith(b"HTTP/1.1 200")


def test_tls_without_http2_offers_only_http11(run_server, certs) -> None:
    srv = run_server(
        "fixtureapps:dispatch", "--certfile", certs["cert"], "--keyfile", certs["key"], cwd=APPS_DIR
    )
    out = _curl("--http2", "--cacert", certs["ca"], "-D", "-", f"https://127.0.0.1:{srv.port}/hello").stdout
    assert out.startswith(b"HTTP/1.1 200")


def test_flask_and_django_over_http2(run_server) -> None:
    flask = run_server("flask_site:app", "--http2", cwd=APPS_DIR)
    django = run_server("django_site.wsgi:application", "--http2", cwd=APPS_DIR)
    with httpx.Client(http1=False, http2=True, timeout=30) as client:
        r = client.get(f"http://127.0.0.1:{flask.port}/json/21?x=y")
        assert r.http_version == "HTTP/2" and r.json() == {"n": 21, "double": 42, "args": {"x": "y"}}
        r = client.post(
            f"http://127.0.0.1:{flask.port}/form",
            data={"name": "ada"},
            files={"upload": ("f.bin", b"\0" * 100_000)},
        )
        assert r.text == "hello ada, 100000 bytes"
        r = client.get(f"http://127.0.0.1:{django.port}/hello/world/?q=%3Cb%3E")
        assert r.status_code == 200 and "<p>Hello, world! q=&lt;b&gt;</p>" in r.text


def test_the_cli_says_when_h2_is_missing(tmp_path: Path) -> None:
    # A stand-in package that fails to import as h2 would when absent (find_spec sees no spec).
    (tmp_path / "sitecustomize.py").write_text(
        "import importlib.util, sys\n"
        "_find = importlib.util.find_spec\n"
        "importlib.util.find_spec = lambda name, *a: None if name == 'h2' else _find(name, *a)\n"
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, "-m", "sockweb", "serve", "fixtureapps:hello", "--http2"],
        capture_output=True,
        timeout=30,
        env=env,
        cwd=APPS_DIR,
    )
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert "--http2: needs the h2 package" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("app", "answer"),
    [
        ("bad_status", 500),
        ("bad_header", 500),
        ("bad_length_short", 500),  # one chunk: the declared length is checked before anything is sent
        ("bad_no_start", 500),
        ("bad_chunk_type", 500),
        ("bad_length_short_stream", "reset"),  # the head was sent: the stream is reset, never ended clean
        ("bad_length_long_stream", "reset"),
    ],
)
def test_invalid_responses(h2server, app: str, answer: object) -> None:
    with httpx.Client(http1=False, http2=True, timeout=30) as client:
        url = f"http://127.0.0.1:{h2server.port}/{app}"
        if answer == "reset":
            with pytest.raises(httpx.RemoteProtocolError):
                client.get(url)
        else:
            r = client.get(url)
            assert r.status_code == answer and b"pwned" not in r.content
            assert "set-cookie" not in r.headers
        assert client.get(f"http://127.0.0.1:{h2server.port}/hello").text == "Hello, World!"
