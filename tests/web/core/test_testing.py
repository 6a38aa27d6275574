from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any
from wsgiref.validate import validator

import pytest

from sockweb.web.request import Request
from sockweb.web.response import Response
from sockweb.web.testing import Client, ClientRedirectError, EnvironBuilder, create_environ, run_wsgi_app
from sockweb.web.utils import redirect

WSGIEnv = dict[str, Any]


def cookie_app(environ: WSGIEnv, start_response: Any) -> Any:
    request = Request(environ)
    response = Response(json.dumps(request.cookies.to_dict()), mimetype="application/json")
    action = request.args.get("set")
    if action == "root":
        response.set_cookie("root", "r v")
    elif action == "admin":
        response.set_cookie("adm", "a", path="/admin")
    elif action == "domain":
        response.set_cookie("wide", "w", domain="example.com")
    elif action == "secure":
        response.set_cookie("sec", "s", secure=True)
    elif action == "delete":
        response.delete_cookie("root")
    elif action == "foreign-domain":
        response.set_cookie("foreign", "f", domain="evil.example")
    elif action == "default-path":
        response.headers.add("Set-Cookie", "dp=1")
    return response(environ, start_response)


@pytest.fixture
def client() -> Client:
    return Client(validator(cookie_app))


class TestCookies:
    def test_kept_across_calls_and_deleted(self, client: Client) -> None:
        client.get("/?set=root")
        assert client.get("/").json == {"root": "r v"}
        assert client.get_cookie("root") == "r v"
        client.get("/?set=delete")
        assert client.get("/").json == {}

    def test_path_scoping(self, client: Client) -> None:
        client.get("/admin/x?set=admin")
        assert client.get("/").json == {}
        assert client.get("/admin").json == {"adm": "a"}
        assert client.get("/admin/deeper").json == {"adm": "a"}
        assert client.get("/administrator").json == {}

    def test_default_path_is_request_directory(self, client: Client) -> None:
        client.get("/docs/page?set=default-path")
        assert client.get("/docs/other").json == {"dp": "1"}
        assert client.get("/elsewhere").json == {}

    def test_domain_scoping(self, client: Client) -> None:
        client.get("/?set=domain", base_url="http://www.example.com/")
        assert client.get("/", base_url="http://api.example.com/").json == {"wide": "w"}
        assert client.get("/", base_url="http://example.org/").json == {}
        client.get("/?set=root", base_url="http://www.example.com/")
        assert client.get("/", base_url="http://api.example.com/").json == {"wide": "w"}  # host-only

    def test_domain_not_covering_the_host_is_refused(self, client: Client) -> None:
        client.get("/?set=foreign", base_url="http://www.example.com/")
        assert client.get("/", base_url="http://evil.example/").json == {}
        assert len(client.cookie_jar or []) == 0

    def test_secure_only_over_https(self, client: Client) -> None:
        client.get("/?set=secure")
        assert client.get("/").json == {}
        assert client.get("/", base_url="https://localhost/").json == {"sec": "s"}

    def test_manual_cookies_and_disabled_jar(self) -> None:
        client = Client(validator(cookie_app))
        client.set_cookie("manual", "m")
        assert client.get("/").json == {"manual": "m"}
        client.delete_cookie("manual")
        assert client.get("/").json == {}
        plain = Client(validator(cookie_app), use_cookies=False)
        plain.get("/?set=root")
        assert plain.get("/").json == {}
        assert plain.get("/", headers={"Cookie": "h=1"}).json == {"h": "1"}
        with pytest.raises(TypeError):
            plain.set_cookie("x", "y")


def redirect_app(environ: WSGIEnv, start_response: Any) -> Any:
    request = Request(environ)
    path = request.path
    if path.startswith("/go/"):
        code = int(path.split("/")[2])
        response = Response("", code, {"Location": "../target?from=" + str(code)})
    elif path == "/loop":
        response = Response("", 302, {"Location": "/loop"})
    elif path == "/absolute":
        response = Response("", 301, {"Location": "http://localhost/target"})
    else:
        body = {
            "method": request.method,
            "args": request.args.to_dict(),
            "data": request.get_data(as_text=True),
        }
        response = Response(json.dumps(body), mimetype="application/json")
    return response(environ, start_response)


class TestRedirects:
    def test_not_followed_by_default(self) -> None:
        response = Client(validator(redirect_app)).get("/go/302")
        assert response.status_code == 302 and response.headers["Location"] == "../target?from=302"

    @pytest.mark.parametrize(
        ("code", "method"), [(301, "GET"), (302, "GET"), (303, "GET"), (307, "POST"), (308, "POST")]
    )
    def test_method_rewriting(self, code: int, method: str) -> None:
        response = Client(validator(redirect_app)).post(f"/go/{code}", data=b"payload", follow_redirects=True)
        assert response.status_code == 200
        assert response.json["method"] == method
        assert response.json["args"] == {"from": str(code)}
        assert response.json["data"] == ("payload" if method == "POST" else "")
        assert [r.status_code for r in response.history] == [code]
        assert response.request.path == "/target"

    def test_absolute_location_and_loop(self) -> None:
        client = Client(validator(redirect_app))
        assert client.get("/absolute", follow_redirects=True).json["method"] == "GET"
        with pytest.raises(RuntimeError):
            client.get("/loop", follow_redirects=True)


def echo_app(environ: WSGIEnv, start_response: Any) -> Any:
    request = Request(environ)
    with request:
        body = {
            "method": request.method,
            "path": request.path,
            "args": request.args.to_dict(flat=False),
            "form": request.form.to_dict(flat=False),
            "files": [
                [k, f.filename, f.content_type, f.read().decode()] for k, f in request.files.items(multi=True)
            ],
            "json": request.get_json(silent=True),
            "headers": {k: v for k, v in request.headers.items() if k.startswith("X-")},
            "content_type": request.mimetype,
        }
    return Response(json.dumps(body), mimetype="application/json")(environ, start_response)


class TestRequests:
    def test_methods(self) -> None:
        client = Client(validator(echo_app))
        for name in ("get", "post", "put", "patch", "delete", "options"):
            assert getattr(client, name)("/m").json["method"] == name.upper()
        head = client.head("/m")
        assert head.status_code == 200 and head.data == b"" and int(head.headers["Content-Length"]) > 0

    def test_query_headers_json(self) -> None:
        client = Client(validator(echo_app))
        result = client.put(
            "/p/ü", query_string={"a": ["1", "2"], "b": "é"}, headers={"X-Trace": "t1"}, json={"k": [1]}
        ).json
        assert result["path"] == "/p/ü"
        assert result["args"] == {"a": ["1", "2"], "b": ["é"]}
        assert result["headers"] == {"X-Trace": "t1"}
        assert result["json"] == {"k": [1]}
        assert result["content_type"] == "application/json"

    def test_multipart_built_for_you(self) -> None:
        client = Client(validator(echo_app))
        result = client.post(
            "/upload",
            data={
                "plain": "v",
                "one": (io.BytesIO(b"first"), "one.txt"),
                "two": (b"second", "two.bin", "application/x-thing"),
                "list": [(io.BytesIO(b"a"), "a.txt"), (io.BytesIO(b"b"), "b.txt")],
            },
        ).json
        assert result["form"] == {"plain": ["v"]}
        assert result["files"] == [
            ["one", "one.txt", "text/plain", "first"],
            ["two", "two.bin", "application/x-thing", "second"],
            ["list", "a.txt", "text/plain", "a"],
            ["list", "b.txt", "text/plain", "b"],
        ]
        assert result["content_type"] == "multipart/form-data"

    def test_json_and_data_exclusive(self) -> None:
        with pytest.raises(TypeError):
            Client(validator(echo_app)).post("/", json={}, data=b"x")


class TestRunner:
    def test_close_called_even_when_iteration_fails(self) -> None:
        closed: list[bool] = []

        class Body:
            def __iter__(self) -> Iterator[bytes]:
                yield b"partial"
                raise RuntimeError("broken")

            def close(self) -> None:
                closed.append(True)

        def app(environ: WSGIEnv, start_response: Any) -> Any:
            start_response("200 OK", [("Content-Type", "text/plain")])
            return Body()

        with pytest.raises(RuntimeError):
            Client(validator(app)).get("/")
        assert closed == [True]

    def test_write_callable_and_lazy_start(self) -> None:
        def app(environ: WSGIEnv, start_response: Any) -> Any:
            write = start_response("200 OK", [("Content-Type", "text/plain")])
            write(b"written ")
            return [b"returned"]

        def lazy(environ: WSGIEnv, start_response: Any) -> Iterator[bytes]:
            start_response("201 Created", [("Content-Type", "text/plain")])
            yield b"gen"

        with Client(validator(app)) as client:
            response = client.get("/")
        assert response.data == b"written returned"
        assert response.get_json(silent=True) is None
        with pytest.raises(ValueError):
            response.get_json()
        response = Client(validator(lazy)).get("/")
        assert (response.status_code, response.text) == (201, "gen")

    def test_error_replacement_with_exc_info(self) -> None:
        def app(environ: WSGIEnv, start_response: Any) -> Any:
            start_response("200 OK", [("Content-Type", "text/plain")])
            try:
                raise ValueError("late")
            except ValueError:
                import sys

                start_response("500 Internal Server Error", [("Content-Type", "text/plain")], sys.exc_info())
            return [b"error"]

        assert Client(validator(app)).get("/").status_code == 500

    def test_response_headers_are_exactly_the_apps(self) -> None:
        def app(environ: WSGIEnv, start_response: Any) -> Any:
            start_response("204 No Content", [])
            return []

        response = Client(validator(app)).get("/")
        assert response.status_code == 204 and list(response.headers) == []

    def test_app_must_start_response(self) -> None:
        with pytest.raises(RuntimeError):
            # Not wrapped in the validator: it would report the same fault with its own AssertionError.
            run_wsgi_app(lambda environ, start_response: [], create_environ())


class TestEnviron:
    def test_complete_pep3333_environ(self) -> None:
        environ = create_environ(
            "/a%20b/ü?x=1", method="post", data=b"body", headers={"X-A": "1", "Cookie": "c=1"}
        )
        assert environ["REQUEST_METHOD"] == "POST"
        assert environ["PATH_INFO"] == "/a b/\u00c3\u00bc"  # UTF-8 bytes as latin-1 (PEP 3333)
        assert environ["QUERY_STRING"] == "x=1"
        assert environ["CONTENT_LENGTH"] == "4"
        assert environ["HTTP_X_A"] == "1" and environ["HTTP_COOKIE"] == "c=1"
        assert environ["wsgi.input"].read() == b"body"
        assert environ["wsgi.url_scheme"] == "http" and environ["SERVER_PORT"] == "80"
        for key in ("SCRIPT_NAME", "SERVER_NAME", "SERVER_PROTOCOL", "wsgi.errors", "wsgi.version"):
            assert key in environ
        assert "CONTENT_TYPE" not in create_environ()

    def test_file_data_and_content_type_header(self) -> None:
        environ = create_environ(method="PUT", data=io.BytesIO(b"raw"), headers={"Content-Type": "x/y"})
        assert environ["wsgi.input"].read() == b"raw" and environ["CONTENT_TYPE"] == "x/y"
        environ = create_environ(
            method="POST", data={"a": "1"}, headers={"Content-Type": "multipart/form-data"}
        )
        assert environ["CONTENT_TYPE"].startswith("multipart/form-data; boundary=")
        assert "HTTP_CONTENT_TYPE" not in environ

    def test_repeated_headers_are_joined(self) -> None:
        environ = create_environ(headers=[("Accept", "a/b"), ("Accept", "c/d")])
        assert environ["HTTP_ACCEPT"] == "a/b, c/d"

    def test_builder_request(self) -> None:
        builder = EnvironBuilder("/x", base_url="https://h.example/root/", query_string="q=1")
        request = builder.get_request()
        assert request.url == "https://h.example/root/x?q=1"
        assert builder.get_environ() is not builder.get_environ()

    def test_every_environ_passes_the_validator(self) -> None:
        def app(environ: WSGIEnv, start_response: Any) -> Any:
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))]

        checked = validator(app)
        for kwargs in (
            {},
            {"method": "POST", "data": {"a": "1"}},
            {"json": [1]},
            {"base_url": "https://x:8443/p/"},
        ):
            run_wsgi_app(checked, create_environ(**kwargs), buffered=True)


def test_a_header_replaces_the_environ_base_value_and_repeats_still_combine() -> None:
    from sockweb.web.testing import EnvironBuilder

    builder = EnvironBuilder(
        "/",
        headers=[("User-Agent", "mine"), ("Accept", "a"), ("Accept", "b")],
        environ_base={"HTTP_USER_AGENT": "default", "HTTP_ACCEPT": "x"},
    )
    environ = builder.get_environ()
    assert environ["HTTP_USER_AGENT"] == "mine"
    assert environ["HTTP_ACCEPT"] == "a, b"


def form_echo_app(environ: WSGIEnv, start_response: Any) -> Any:
    request = Request(environ)
    parts = [f"{name}={value}" for name, value in sorted(request.form.items(multi=True))] + [
        f"file:{name}:{f.filename}:{f.content_type}:{f.read().decode()}" for name, f in request.files.items()
    ]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return ["|".join(parts).encode()]


def test_builder_form_and_files_filled_after_construction() -> None:
    builder = EnvironBuilder(method="POST")
    assert builder.content_type is None
    builder.form["n"] = 1  # stringified when the body is built
    assert builder.content_type == "application/x-www-form-urlencoded"
    builder.files.add_file("doc", io.BytesIO(b"hello"), "notes.txt")
    assert builder.content_type == "multipart/form-data"
    assert builder.files["doc"].content_type == "text/plain"
    environ = builder.get_environ()
    assert environ["CONTENT_TYPE"].startswith("multipart/form-data; boundary=")
    body, _, _ = run_wsgi_app(form_echo_app, environ, buffered=True)
    assert b"".join(body) == b"n=1|file:doc:notes.txt:text/plain:hello"
    builder.close()
    assert builder.files["doc"].stream.closed


def test_builder_data_mapping_goes_to_form_and_files() -> None:
    builder = EnvironBuilder(data={"a": ["1", "2"], "up": [(io.BytesIO(b"x"), "x.bin"), (b"y", "y.txt")]})
    assert builder.form.getlist("a") == ["1", "2"]
    assert [f.filename for f in builder.files.getlist("up")] == ["x.bin", "y.txt"]
    text = EnvironBuilder(data="caf\u00e9")
    assert text.input_stream is not None and text.input_stream.read() == "caf\u00e9".encode()


def test_create_environ_closes_the_files_it_read_with_sized_reads() -> None:
    closed: list[bool] = []

    class OnlySizedReads:
        def __init__(self) -> None:
            self.data = io.BytesIO(b"payload")

        def read(self, size: int) -> bytes:  # no default: a bare read() would fail
            return self.data.read(size)

        def close(self) -> None:
            closed.append(True)

    environ = create_environ(method="POST", data={"f": (OnlySizedReads(), "p.bin")})
    assert b"payload" in environ["wsgi.input"].read()
    assert closed == [True]


def test_builder_text_file_data_is_encoded(tmp_path: Any) -> None:
    path = tmp_path / "body.txt"
    path.write_text("caf\u00e9", encoding="utf-8")
    with open(path, encoding="utf-8") as handle:
        environ = create_environ(method="POST", data=handle)
    assert environ["CONTENT_LENGTH"] == "5"
    assert environ["wsgi.input"].read() == "caf\u00e9".encode()


def test_builder_url_parts() -> None:
    builder = EnvironBuilder("/p\u00e4th", base_url="http://\u2603.example/app")
    assert builder.path == "/p%C3%A4th"
    assert builder.base_url == "http://xn--n3h.example/app/"
    builder.base_url = "https://example.com:8443/"
    assert (builder.host, builder.server_name, builder.server_port) == (
        "example.com:8443",
        "example.com",
        8443,
    )
    assert builder.script_root == ""
    builder.host = "[::1]"
    assert (builder.server_name, builder.server_port) == ("[::1]", 443)
    with pytest.raises(ValueError):
        EnvironBuilder("/x?a=1", query_string={"b": "2"})


def test_builder_request_uri_and_mimetype() -> None:
    environ = create_environ("/a%2Fb", "http://localhost/root", query_string="q=1")
    assert environ["REQUEST_URI"] == "/root/a%2Fb?q=1"
    assert environ["PATH_INFO"] == "/a/b"
    assert create_environ("/x%3f?")["REQUEST_URI"] == "/x%3f?"
    assert create_environ(data=b"a{}", mimetype="text/css")["CONTENT_TYPE"] == "text/css; charset=utf-8"
    assert create_environ(data=b"\0", mimetype="image/png")["CONTENT_TYPE"] == "image/png"


def text_chunk_app(environ: WSGIEnv, start_response: Any) -> Any:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return ["t\u00e9", "xt"]


def test_run_wsgi_app_passes_chunks_through_and_client_reads_text_chunks() -> None:
    app_iter, _, _ = run_wsgi_app(text_chunk_app, create_environ(), buffered=True)
    assert list(app_iter) == ["t\u00e9", "xt"]
    assert Client(text_chunk_app).get("/").data == "t\u00e9xt".encode()


def test_client_response_wrapper_and_positional_base_url() -> None:
    class Custom(Response):
        marker = "custom"

    @Request.application
    def app(request: Request) -> Response:
        return Response(request.url)

    client = Client(app, Custom)
    response = client.get("/p", "http://example.com/base")
    assert response.text == "http://example.com/base/p"
    assert isinstance(response, Custom) and response.marker == "custom"
    assert response.request.path == "/p"


def test_redirect_history_is_a_chain() -> None:
    @Request.application
    def app(request: Request) -> Response:
        hops = {"/1": "/2", "/2": "/3"}
        if request.path in hops:
            return redirect(hops[request.path])
        return Response("end")

    final = Client(app).get("/1", follow_redirects=True)
    assert [r.request.path for r in final.history] == ["/1", "/2"]
    assert final.history[1].history == (final.history[0],)
    assert final.history[0].history == ()


def test_redirects_stay_on_the_application_site() -> None:
    @Request.application
    def app(request: Request) -> Response:
        if request.host == "www.example.com":
            return redirect("http://login.example.com/in")
        if request.host == "login.example.com":
            return Response("logged in")
        return redirect("http://elsewhere.test/")

    with pytest.raises(ClientRedirectError):
        Client(app).get("/", "http://localhost/", follow_redirects=True)
    with pytest.raises(ClientRedirectError):
        Client(app).get("/", "http://www.example.com/", follow_redirects=True)
    sub = Client(app, allow_subdomain_redirects=True)
    assert sub.get("/", "http://www.example.com/", follow_redirects=True).text == "logged in"


def test_unbuffered_response_streams_until_closed() -> None:
    events: list[str] = []

    def app(environ: WSGIEnv, start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            events.append("first")
            yield b"a"
            events.append("second")
            yield b"b"
        finally:
            events.append("closed")

    response = Client(app).get("/", buffered=False)
    assert events == ["first"]  # the first chunk is read to find start_response; the rest waits
    assert response.get_data() == b"ab"
    response.close()
    assert events == ["first", "second", "closed"]
