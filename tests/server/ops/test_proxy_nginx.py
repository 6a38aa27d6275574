"""A hostile client behind real nginx: the application sees nginx's truth, never the client's headers.

The nginx configurations under test are read from docs/operations.md (the fenced blocks after a
``<!-- nginx-config: NAME ... -->`` marker), so the documented configuration cannot drift from the tested
one. Only the listen ports, certificates and upstream address are the test's own; every ``proxy_*`` line
of the documented ``location /`` is used verbatim.
"""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from ops_helpers import NginxFront

pytestmark = [pytest.mark.nginx, pytest.mark.timeout(90)]

DOCS = Path(__file__).resolve().parents[3] / "docs" / "operations.md"

# Echoes what the application sees: the CGI keys the proxy rules rewrite, and every header that names a
# client address, scheme or host.
APP = """
import json

SEEN = ("HTTP_FORWARDED", "HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST",
        "HTTP_X_FORWARDED_PORT", "HTTP_X_REAL_IP")


def app(environ, start_response):
    info = {key: environ.get(key) for key in ("REMOTE_ADDR", "HTTP_HOST", "SERVER_NAME", "SERVER_PORT")}
    info["scheme"] = environ["wsgi.url_scheme"]
    info["headers"] = {key: environ[key] for key in SEEN if key in environ}
    body = json.dumps(info).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
"""

# What an attacker sends to nginx, hoping to become local, https and "localhost".
SPOOF = {
    "Forwarded": "for=127.0.0.1;proto=https;host=localhost",
    "X-Forwarded-For": "127.0.0.1",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "localhost",
    "X-Forwarded-Port": "443",
    "X-Real-IP": "127.0.0.1",
}
CLIENT = NginxFront.CLIENT  # the attacker's address (nginx and sockweb trust only 127.0.0.1)

# The operations guide's configuration before it set every forwarding header: it passes the client's
# Forwarded and X-Forwarded-Host on. sockweb itself must not believe them.
LAX_LOCATION = """
        proxy_pass http://sockweb;
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
"""


def documented_block(name: str) -> str:
    """The operations guide's nginx block marked ``<!-- nginx-config: NAME -->``."""
    text = DOCS.read_text()
    block = re.search(rf"<!-- nginx-config: {name}\b[^>]*-->\s*```nginx\n(.*?)```", text, re.S)
    assert block is not None, f"docs/operations.md has no nginx block marked {name!r}"
    return block.group(1)


def documented_location(name: str) -> str:
    """The body of ``location / { ... }`` in the operations guide's nginx block marked ``name``."""
    locations = re.findall(r"location / \{\n(.*?)\n\s*\}", documented_block(name), re.S)
    assert len(locations) == 1, f"expected one 'location /' in the {name!r} block"
    body: str = locations[0]
    assert "proxy_pass http://sockweb;" in body
    return "\n" + body + "\n"


def front(binary: str, tmp: Path, app_port: int, location: str, path: str = "/") -> NginxFront:
    """nginx (plain and TLS) with ``location PATH { LOCATION }`` before the application on ``app_port``."""
    upstream = f"upstream sockweb {{ server 127.0.0.1:{app_port}; keepalive 4; }}"
    return NginxFront(binary, tmp, upstream, f"location {path} {{{location}}}")


@pytest.fixture
def behind_nginx(serve, app_dir: Path, nginx_binary: str) -> Iterator[Callable[..., NginxFront]]:  # type: ignore[no-untyped-def]
    """``behind_nginx(location, *server_args)``: sockweb (trusting 127.0.0.1 only) behind nginx."""
    (app_dir / "trustapp.py").write_text(APP)
    started: list[NginxFront] = []

    def start(location: str, *args: str) -> NginxFront:
        server = serve("--forwarded-allow-ips", "127.0.0.1", *args, app="trustapp:app")
        proxy = front(nginx_binary, app_dir, server.port, location)
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.stop()


def _ask(nginx: NginxFront, tls: bool) -> tuple[dict[str, object], str]:
    host = f"127.0.0.1:{nginx.port(tls)}"
    return nginx.get("/", tls, {"Host": host, **SPOOF}), host


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_documented_config_defeats_a_spoofing_client(behind_nginx, tls: bool) -> None:  # type: ignore[no-untyped-def]
    nginx = behind_nginx(documented_location("x-forwarded"))
    seen, host = _ask(nginx, tls)
    assert seen["REMOTE_ADDR"] == CLIENT
    assert seen["scheme"] == ("https" if tls else "http")
    assert (seen["HTTP_HOST"], seen["SERVER_NAME"]) == (host, "127.0.0.1")
    # Only what nginx wrote reaches the application: X-Forwarded-For with the client's entry on the left
    # and nginx's on the right, its own X-Real-IP; no Forwarded at all.
    assert seen["headers"] == {
        "HTTP_X_FORWARDED_FOR": f"127.0.0.1, {CLIENT}",
        "HTTP_X_FORWARDED_PROTO": seen["scheme"],
        "HTTP_X_REAL_IP": CLIENT,
    }


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_documented_config_with_host_and_port(behind_nginx, tls: bool) -> None:  # type: ignore[no-untyped-def]
    nginx = behind_nginx(documented_location("x-forwarded"), "--forwarded-fields", "for,proto,host,port")
    seen, host = _ask(nginx, tls)
    assert seen["REMOTE_ADDR"] == CLIENT and seen["scheme"] == ("https" if tls else "http")
    assert (seen["HTTP_HOST"], seen["SERVER_NAME"], seen["SERVER_PORT"]) == (
        host,
        "127.0.0.1",
        str(nginx.port(tls)),
    )
    assert "HTTP_FORWARDED" not in seen["headers"]  # type: ignore[operator]


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_documented_forwarded_config(behind_nginx, tls: bool) -> None:  # type: ignore[no-untyped-def]
    nginx = behind_nginx(documented_location("forwarded"), "--forwarded-headers", "forwarded")
    seen, host = _ask(nginx, tls)
    assert (seen["REMOTE_ADDR"], seen["scheme"], seen["HTTP_HOST"]) == (
        CLIENT,
        "https" if tls else "http",
        host,
    )
    scheme = "https" if tls else "http"
    assert seen["headers"] == {
        "HTTP_FORWARDED": f'for="{CLIENT}";proto={scheme}',
        "HTTP_X_REAL_IP": "127.0.0.1",
    }


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_a_lax_proxy_config_still_does_not_let_the_client_in(behind_nginx, tls: bool) -> None:  # type: ignore[no-untyped-def]
    # nginx passes the client's Forwarded, X-Forwarded-Host and -Port through: sockweb's defaults must not
    # merge them (before, Forwarded won and the client became 127.0.0.1, https, "localhost").
    nginx = behind_nginx(LAX_LOCATION)
    seen, host = _ask(nginx, tls)
    assert seen["REMOTE_ADDR"] == CLIENT
    assert seen["scheme"] == ("https" if tls else "http")
    assert (seen["HTTP_HOST"], seen["SERVER_NAME"]) == (host, "127.0.0.1")
    assert set(seen["headers"]) == {  # type: ignore[arg-type]
        "HTTP_X_FORWARDED_FOR",
        "HTTP_X_FORWARDED_PROTO",
        "HTTP_X_REAL_IP",  # not a header sockweb reads; the lax config leaves the client's
    }


# A framework application whose links and redirects must carry the mount point.
MOUNTED_APP = """
from sockweb.framework import App, redirect, request, url_for

app = App(__name__)


@app.route("/")
def index():
    return {"link": url_for("page", name="x"), "script": request.environ["SCRIPT_NAME"],
            "path": request.environ["PATH_INFO"], "external": url_for("page", name="x", _external=True)}


@app.route("/go")
def go():
    return redirect(url_for("page", name="y"))


@app.route("/page/<name>")
def page(name):
    return {"page": name, "script": request.environ["SCRIPT_NAME"], "path": request.environ["PATH_INFO"]}
"""


def documented_prefix_location(name: str) -> str:
    """The body of ``location /app/ { ... }`` in the operations guide's nginx block marked ``name``."""
    (body,) = re.findall(r"location /app/ \{\n(.*?)\n\s*\}", documented_block(name), re.S)
    return "\n" + str(body) + "\n"


@pytest.mark.parametrize(
    ("block", "args"),
    [
        ("prefix-root-path", ("--root-path", "/app")),
        ("prefix-forwarded", ("--forwarded-fields", "for,proto,prefix")),
    ],
)
def test_mounted_under_a_prefix_behind_nginx(  # type: ignore[no-untyped-def]
    serve, app_dir: Path, nginx_binary: str, block: str, args: tuple[str, ...]
) -> None:
    (app_dir / "mountedapp.py").write_text(MOUNTED_APP)
    server = serve("--forwarded-allow-ips", "127.0.0.1", *args, app="mountedapp:app")
    nginx = front(nginx_binary, app_dir, server.port, documented_prefix_location(block), path="/app/")
    conn = http.client.HTTPConnection("127.0.0.1", nginx.plain, timeout=10)
    try:
        conn.request("GET", "/app/")
        resp = conn.getresponse()
        seen = json.loads(resp.read())
        assert resp.status == 200, seen
        assert seen["script"] == "/app" and seen["path"] == "/"
        assert seen["link"] == "/app/page/x"
        assert seen["external"] == f"http://127.0.0.1:{nginx.plain}/app/page/x"
        conn.request("GET", "/app/go")
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 302
        location = resp.getheader("Location") or ""
        assert location.endswith("/app/page/y"), location
        conn.request("GET", "/app/page/y")  # the redirect, followed through nginx
        resp = conn.getresponse()
        assert resp.status == 200 and json.loads(resp.read()) == {
            "page": "y",
            "script": "/app",
            "path": "/page/y",
        }
    finally:
        conn.close()  # also when an assertion failed: a leaked socket would fail the next test
        nginx.stop()
