"""Drive any WSGI application in-process: build environs, send requests, keep cookies, follow redirects.

Strategy: :class:`EnvironBuilder` turns keyword arguments (path with query, headers, form data with files,
JSON) into a complete PEP 3333 environ, encoding bodies the way a browser would (URL-encoded forms, or
multipart when a file is present). :class:`Client` runs the application on that environ, collects the
body (calling ``close()`` on the iterable, as a server must), stores cookies from ``Set-Cookie`` in a
small RFC 6265 jar keyed by domain and path, and wraps the outcome in a :class:`TestResponse`.
No sockets, no threads: what runs is exactly the application code.
"""

from __future__ import annotations

import io
import json as jsonlib
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from itertools import chain
from time import time
from typing import IO, Any
from urllib.parse import quote, unquote_to_bytes, urlencode, urljoin, urlsplit

from .datastructures import FileStorage, Headers, MultiDict
from .httputil import Authorization, parse_date
from .multipart import encode_multipart
from .request import Request
from .response import Response
from .wsgi_util import ClosingIterator, get_current_url

__all__ = [
    "Client",
    "ClientRedirectError",
    "EnvironBuilder",
    "TestResponse",
    "create_environ",
    "run_wsgi_app",
    "stream_encode_multipart",
]

WSGIEnvironment = dict[str, Any]
WSGIApplication = Callable[[WSGIEnvironment, Callable[..., Any]], Iterable[bytes]]
_REDIRECTS = frozenset({301, 302, 303, 305, 307, 308})
MAX_REDIRECTS = 20


def _is_file_value(value: Any) -> bool:
    return isinstance(value, (tuple, FileStorage)) or hasattr(value, "read")


def _file_part(value: Any) -> tuple[bytes, str | None, str | None]:
    """``(content, filename, content_type)`` from a file object, ``(file, name[, type])`` or FileStorage."""
    content_type: str | None = None
    if isinstance(value, FileStorage):
        return value.stream.read(), value.filename, value.content_type
    if isinstance(value, tuple):
        source, filename = value[0], value[1]
        if len(value) > 2:
            content_type = value[2]
    else:
        source, filename = value, getattr(value, "name", None)
        # A real file's name is its path; a browser sends only the last component.
        filename = filename.replace("\\", "/").rsplit("/", 1)[-1] if isinstance(filename, str) else None
    content = source if isinstance(source, (bytes, bytearray)) else source.read()
    if isinstance(content, str):
        content = content.encode("utf-8")
    if content_type is None and filename:
        import mimetypes

        content_type = mimetypes.guess_type(filename)[0]
    return bytes(content), filename, content_type


class ClientRedirectError(RuntimeError):
    """Following redirects went in a loop or past :data:`MAX_REDIRECTS`."""


def stream_encode_multipart(
    data: Mapping[str, Any],
    use_tempfile: bool = True,
    threshold: int = 1024 * 500,
    boundary: str | None = None,
) -> tuple[IO[bytes], int, str]:
    """Encode ``data`` (fields, files, FileStorages) as multipart/form-data: ``(stream, length, boundary)``.

    The body is built in memory and moved to a temporary file when ``use_tempfile`` and it is larger than
    ``threshold`` bytes; the stream is positioned at its start.
    """
    source = data.items(multi=True) if isinstance(data, MultiDict) else data.items()
    fields = [(str(key), _file_part(value) if _is_file_value(value) else str(value)) for key, value in source]
    body, content_type = encode_multipart(fields, boundary)
    stream: IO[bytes]
    if use_tempfile and len(body) > threshold:
        stream = tempfile.TemporaryFile()  # noqa: SIM115 (the caller reads and closes it)
        stream.write(body)
        stream.seek(0)
    else:
        stream = io.BytesIO(body)
    return stream, len(body), content_type.partition("boundary=")[2].strip('"')


def _auth_header(auth: Authorization | tuple[str, str]) -> str:
    """The Authorization header value for a ``(username, password)`` pair (Basic) or an object."""
    if isinstance(auth, tuple):
        return Authorization("basic", username=auth[0], password=auth[1]).to_header()
    return auth.to_header()


class EnvironBuilder:
    """Builds a WSGI environ for a request; :meth:`get_environ` returns a fresh one each call.

    ``data`` may be bytes or text (sent as is), or a mapping: URL-encoded, or multipart when a value is a
    file (an object with ``read``, a ``(file_or_bytes, filename[, content_type])`` tuple, or a
    FileStorage). ``json`` serializes a value and sets ``application/json``.
    """

    def __init__(
        self,
        path: str = "/",
        base_url: str | None = None,
        *,
        query_string: str | Mapping[str, Any] | None = None,
        method: str = "GET",
        input_stream: IO[bytes] | None = None,
        content_type: str | None = None,
        content_length: int | None = None,
        headers: Headers | Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
        data: bytes | str | IO[bytes] | Mapping[str, Any] | None = None,
        json: Any = None,
        environ_base: Mapping[str, Any] | None = None,
        environ_overrides: Mapping[str, Any] | None = None,
        auth: Authorization | tuple[str, str] | None = None,
    ) -> None:
        url = urlsplit(path)
        base = urlsplit(base_url or (f"{url.scheme}://{url.netloc}/" if url.netloc else "http://localhost/"))
        self.url_scheme = base.scheme or "http"
        self.host = base.netloc or "localhost"
        self.script_root = base.path.rstrip("/")
        self.path = url.path or "/"
        if query_string is None:
            query_string = url.query
        elif not isinstance(query_string, str):
            query_string = urlencode(list(MultiDict(query_string).items(multi=True)))
        self.query_string = query_string
        self.method = method.upper()
        self.headers = Headers(headers)
        if auth is not None:
            self.headers["Authorization"] = _auth_header(auth)
        self.environ_base = dict(environ_base or {})
        self.environ_overrides = dict(environ_overrides or {})
        self.body: bytes | None = None
        self.input_stream = input_stream
        if json is not None:
            if data is not None:
                raise TypeError("pass data or json, not both")
            data = jsonlib.dumps(json)
            content_type = content_type or "application/json"
        if content_type is None:
            content_type = self.headers.get("Content-Type")
        if isinstance(data, Mapping):
            self.body, content_type = self._encode_form(data, content_type)
        elif isinstance(data, str):
            self.body = data.encode("utf-8")
        elif hasattr(data, "read"):
            self.body = data.read()  # type: ignore[union-attr]
        elif data is not None:
            self.body = bytes(data)
        self.content_type = content_type
        if content_length is None and self.body is not None:
            content_length = len(self.body)
        self.content_length = content_length

    @staticmethod
    def _encode_form(data: Mapping[str, Any], content_type: str | None) -> tuple[bytes, str]:
        pairs: list[tuple[Any, Any]] = []
        source = data.items(multi=True) if isinstance(data, MultiDict) else data.items()
        for key, value in source:
            # A list gives several values; a tuple is one file spec (file, filename[, content_type]).
            pairs.extend((key, item) for item in (value if isinstance(value, list) else [value]))
        if any(_is_file_value(value) for _, value in pairs) or (content_type or "").startswith("multipart/"):
            fields = [
                (str(key), _file_part(value) if _is_file_value(value) else str(value)) for key, value in pairs
            ]
            body, multipart_type = encode_multipart(fields)
            return body, multipart_type
        body = urlencode([(str(key), str(value)) for key, value in pairs]).encode("ascii")
        return body, content_type or "application/x-www-form-urlencoded"

    def get_environ(self) -> WSGIEnvironment:
        """A complete PEP 3333 environ for this request."""
        host, _, port = self.host.partition(":")
        if self.host.startswith("["):
            host, _, port = self.host[1:].partition("]")
            port = port.lstrip(":")
        port = port or ("443" if self.url_scheme == "https" else "80")
        body = self.body if self.body is not None else b""
        stream = self.input_stream if self.input_stream is not None else io.BytesIO(body)
        environ: WSGIEnvironment = {
            "REQUEST_METHOD": self.method,
            "SCRIPT_NAME": _to_wsgi(self.script_root),
            "PATH_INFO": _to_wsgi(self.path),
            "QUERY_STRING": self.query_string.encode("utf-8").decode("latin-1"),
            "SERVER_NAME": host,
            "SERVER_PORT": port,
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": self.host,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": self.url_scheme,
            "wsgi.input": stream,
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        environ.update(self.environ_base)
        given: set[str] = set()  # keys set by this request's own headers (they replace environ_base's)
        for name, value in self.headers:
            key = name.upper().replace("-", "_")
            if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                continue
            key = "HTTP_" + key
            text = value.encode("utf-8").decode("latin-1")
            # RFC 9110 §5.3: repeated fields combine into one comma-separated value (Cookie uses "; ").
            if key in given and key != "HTTP_HOST":
                joiner = "; " if key == "HTTP_COOKIE" else ", "
                environ[key] = f"{environ[key]}{joiner}{text}"
            else:
                environ[key] = text
                given.add(key)
        if self.content_type is not None:
            environ["CONTENT_TYPE"] = self.content_type
        if self.content_length is not None:
            environ["CONTENT_LENGTH"] = str(self.content_length)
        environ.update(self.environ_overrides)
        return environ

    @classmethod
    def from_environ(cls, environ: WSGIEnvironment, **kwargs: Any) -> EnvironBuilder:
        """A builder that reproduces ``environ`` (path, query, method, headers, body stream, extra keys);
        ``kwargs`` override what it takes from the environ."""
        headers = Headers()
        extra: dict[str, Any] = {}
        for key, value in environ.items():
            if key.startswith("HTTP_") and key != "HTTP_HOST":
                headers.add(
                    key[5:].replace("_", "-").title(), value.encode("latin-1").decode("utf-8", "replace")
                )
            elif key not in _BUILT_KEYS:
                extra[key] = value
        length = environ.get("CONTENT_LENGTH")
        values: dict[str, Any] = {
            "base_url": get_current_url(environ, root_only=True),
            "query_string": environ.get("QUERY_STRING", ""),
            "method": environ.get("REQUEST_METHOD", "GET"),
            "input_stream": environ.get("wsgi.input"),
            "content_type": environ.get("CONTENT_TYPE"),
            "content_length": int(length) if length and length.isdigit() else None,
            "headers": headers,
            "environ_base": extra,
        }
        values.update(kwargs)
        path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
        return cls(quote(path, safe="/:@!$&'()*+,;="), **values)

    def get_request(self, cls: type[Request] = Request) -> Request:
        return cls(self.get_environ())


def _url_of(builder: EnvironBuilder) -> str:
    query = f"?{builder.query_string}" if builder.query_string else ""
    return f"{builder.url_scheme}://{builder.host}{builder.script_root}{builder.path}{query}"


# The environ keys EnvironBuilder.get_environ writes itself (from_environ does not copy them).
_BUILT_KEYS = frozenset(
    {
        "REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "SERVER_NAME", "SERVER_PORT",
        "HTTP_HOST", "CONTENT_TYPE", "CONTENT_LENGTH", "wsgi.url_scheme", "wsgi.input",
    }
)  # fmt: skip


def _to_wsgi(path: str) -> str:
    """A URL path (possibly percent-encoded, possibly non-ASCII) as a PEP 3333 latin-1 string."""
    return unquote_to_bytes(path.encode("utf-8")).decode("latin-1")


def create_environ(*args: Any, **kwargs: Any) -> WSGIEnvironment:
    """Shortcut for ``EnvironBuilder(*args, **kwargs).get_environ()``."""
    return EnvironBuilder(*args, **kwargs).get_environ()


def run_wsgi_app(
    app: WSGIApplication, environ: WSGIEnvironment, buffered: bool = False
) -> tuple[Iterable[bytes], str, Headers]:
    """Call ``app`` as a server would and return ``(app_iter, status, headers)`` (Werkzeug's order).

    The body is iterated until ``start_response`` has been called (an application may call it late, from
    inside its generator); what is left stays lazy unless ``buffered``. Bytes passed to the ``write``
    callable come first. The returned iterable's ``close()`` closes the application's; with ``buffered``
    it has already been closed.
    """
    state: dict[str, Any] = {}
    written: list[bytes] = []

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        if exc_info is not None and state.get("sent"):
            raise exc_info[1].with_traceback(exc_info[2])
        state["status"], state["headers"] = status, list(headers)
        return written.append

    app_rv = app(environ, start_response)
    close = getattr(app_rv, "close", None)
    body: Iterable[bytes]
    if buffered:
        try:
            body = [*written, *(bytes(chunk) for chunk in app_rv)]
        finally:
            if close is not None:
                close()
    else:
        iterator = iter(app_rv)
        early: list[bytes] = []
        try:
            while "status" not in state:
                chunk = next(iterator, None)
                if chunk is None:
                    break
                state["sent"] = True
                early.append(bytes(chunk))
        except BaseException:
            if close is not None:
                close()
            raise
        body = ClosingIterator(chain(list(written), early, iterator), [close] if close is not None else [])
    if "status" not in state:
        raise RuntimeError("the application returned without calling start_response")
    return body, state["status"], Headers(state["headers"])


def _read_app(app: WSGIApplication, environ: WSGIEnvironment) -> tuple[bytes, str, Headers]:
    """``(body, status, headers)`` of one complete run of ``app``, its iterable always closed."""
    app_iter, status, headers = run_wsgi_app(app, environ, buffered=True)
    return b"".join(app_iter), status, headers


class TestResponse(Response):
    """The response the client received: ``status_code``, ``headers``, ``data``/``text``/``json``, the
    ``request`` that produced it and the redirect ``history`` before it."""

    __test__ = False  # not a pytest test class
    default_mimetype = None  # show exactly the headers the application sent

    def __init__(self, body: bytes, status: str, headers: Headers, request: Request) -> None:
        super().__init__([body], status, headers)
        self.request = request
        self.history: tuple[TestResponse, ...] = ()

    @property
    def json(self) -> Any:
        """The body parsed as JSON (ValueError if it is not JSON)."""
        return jsonlib.loads(self.get_data())

    def get_json(self, force: bool = False, silent: bool = False) -> Any:
        """Like :attr:`json` (whatever the content type, so ``force`` changes nothing); with ``silent``,
        ``None`` instead of an error for a non-JSON body."""
        try:
            return self.json
        except ValueError:
            if silent:
                return None
            raise


@dataclass
class _Cookie:
    name: str
    value: str
    domain: str
    path: str
    host_only: bool
    secure: bool
    http_only: bool
    expires: float | None

    def matches(self, host: str, path: str, secure: bool) -> bool:
        if self.secure and not secure:
            return False
        if self.host_only:
            if host != self.domain:
                return False
        elif host != self.domain and not host.endswith("." + self.domain):
            return False
        # RFC 6265 §5.1.4 path-match
        return path == self.path or (
            path.startswith(self.path) and (self.path.endswith("/") or path[len(self.path)] == "/")
        )


class CookieJar:
    """The cookies of a test client, keyed by ``(domain, path, name)`` as RFC 6265 §5.3 stores them."""

    def __init__(self) -> None:
        self._cookies: dict[tuple[str, str, str], _Cookie] = {}

    def set_from_header(self, header: str, host: str, request_path: str) -> None:
        pairs = [part.strip() for part in header.split(";")]
        name, sep, value = pairs[0].partition("=")
        if not sep or not name.strip():
            return
        attrs: dict[str, str] = {}
        for item in pairs[1:]:
            key, _, attr = item.partition("=")
            attrs[key.strip().lower()] = attr.strip()
        domain = attrs.get("domain", "").lstrip(".").lower()
        # RFC 6265 §5.3 step 6: a Domain attribute that does not cover the request host is refused.
        if domain and host != domain and not host.endswith("." + domain):
            return
        host_only = not domain
        path = attrs.get("path") or ""
        if not path.startswith("/"):
            # RFC 6265 §5.1.4 default-path: the request path up to its last slash.
            path = request_path[: request_path.rfind("/")] or "/"
        expires: float | None = None
        if "max-age" in attrs:
            try:
                expires = time() + int(attrs["max-age"])
            except ValueError:
                pass
        elif "expires" in attrs:
            when = parse_date(attrs["expires"])
            expires = when.timestamp() if when else None
        cookie = _Cookie(
            name.strip(),
            _unquote_cookie(value.strip()),
            domain or host,
            path,
            host_only,
            "secure" in attrs,
            "httponly" in attrs,
            expires,
        )
        cookie_key = (cookie.domain, cookie.path, cookie.name)
        if expires is not None and expires <= time():
            self._cookies.pop(cookie_key, None)
        else:
            self._cookies[cookie_key] = cookie

    def header_for(self, host: str, path: str, secure: bool) -> str | None:
        now = time()
        for key in [
            key
            for key, cookie in self._cookies.items()
            if cookie.expires is not None and cookie.expires <= now
        ]:
            del self._cookies[key]
        chosen = [cookie for cookie in self._cookies.values() if cookie.matches(host, path, secure)]
        # RFC 6265 §5.4: longer paths first.
        chosen.sort(key=lambda cookie: -len(cookie.path))
        if not chosen:
            return None
        return "; ".join(f"{cookie.name}={_quote_cookie_for_header(cookie.value)}" for cookie in chosen)

    def get(self, name: str, domain: str = "localhost", path: str = "/") -> _Cookie | None:
        return self._cookies.get((domain, path, name))

    def set(self, name: str, value: str, domain: str = "localhost", path: str = "/") -> None:
        self._cookies[(domain, path, name)] = _Cookie(name, value, domain, path, True, False, False, None)

    def delete(self, name: str, domain: str = "localhost", path: str = "/") -> None:
        self._cookies.pop((domain, path, name), None)

    def __iter__(self) -> Any:
        return iter(list(self._cookies.values()))

    def __len__(self) -> int:
        return len(self._cookies)


def _unquote_cookie(value: str) -> str:
    from .httputil import parse_cookie

    return parse_cookie(f"x={value}").get("x", value)


def _quote_cookie_for_header(value: str) -> str:
    from .httputil import dump_cookie

    return dump_cookie("x", value, path=None).partition("=")[2]


class Client:
    """Sends requests to a WSGI application in-process.

    ``client.get("/path", query_string=..., headers=..., follow_redirects=True)``; ``post``/``put``/
    ``patch`` also take ``data`` and ``json``. Cookies set by the app are sent back on later requests
    (``use_cookies=False`` disables the jar).
    """

    __test__ = False

    def __init__(self, app: WSGIApplication, use_cookies: bool = True) -> None:
        self.application = app
        self.cookie_jar: CookieJar | None = CookieJar() if use_cookies else None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def set_cookie(self, key: str, value: str = "", domain: str = "localhost", path: str = "/") -> None:
        if self.cookie_jar is None:
            raise TypeError("cookies are disabled for this client")
        self.cookie_jar.set(key, value, domain, path)

    def get_cookie(self, key: str, domain: str = "localhost", path: str = "/") -> str | None:
        cookie = self.cookie_jar.get(key, domain, path) if self.cookie_jar is not None else None
        return cookie.value if cookie is not None else None

    def delete_cookie(self, key: str, domain: str = "localhost", path: str = "/") -> None:
        if self.cookie_jar is not None:
            self.cookie_jar.delete(key, domain, path)

    def open(
        self,
        path: str | EnvironBuilder | WSGIEnvironment | Request = "/",
        method: str = "GET",
        *,
        follow_redirects: bool = False,
        **kwargs: Any,
    ) -> TestResponse:
        """Send one request (and, with ``follow_redirects``, the redirects it leads to).

        ``path`` may also be a ready :class:`EnvironBuilder`, a WSGI environ or a :class:`Request`; an environ
        (or a Request's) is sent exactly as given.
        """
        environ: WSGIEnvironment | None = None
        if isinstance(path, EnvironBuilder):
            builder = path
        elif isinstance(path, (dict, Request)):
            environ = dict(path.environ if isinstance(path, Request) else path)
            builder = EnvironBuilder.from_environ(environ)
        else:
            builder = EnvironBuilder(path, method=method, **kwargs)
        response = self._run(builder, environ)
        history: list[TestResponse] = []
        seen = {_url_of(builder)}
        while follow_redirects and response.status_code in _REDIRECTS and "Location" in response.headers:
            if len(history) >= MAX_REDIRECTS:
                raise ClientRedirectError(f"more than {MAX_REDIRECTS} redirects")
            history.append(response)
            builder = self._redirect_builder(builder, response)
            if _url_of(builder) in seen:
                raise ClientRedirectError(f"redirect loop at {_url_of(builder)}")
            seen.add(_url_of(builder))
            response = self._run(builder)
        response.history = tuple(history)
        return response

    def _redirect_builder(self, previous: EnvironBuilder, response: TestResponse) -> EnvironBuilder:
        current = f"{previous.url_scheme}://{previous.host}{previous.script_root}{previous.path}"
        target = urlsplit(urljoin(current, response.headers["Location"]))
        keep_body = response.status_code in (307, 308)
        method = previous.method if keep_body or previous.method == "HEAD" else "GET"
        headers = Headers(previous.headers)
        if not keep_body:
            headers.remove("Content-Type")
            headers.remove("Content-Length")
        base = f"{target.scheme}://{target.netloc}/"
        path = target.path
        if previous.script_root and path.startswith(previous.script_root + "/"):
            base += previous.script_root.lstrip("/")
            path = path[len(previous.script_root) :]
        return EnvironBuilder(
            path,
            base_url=base,
            query_string=target.query,
            method=method,
            headers=headers,
            data=previous.body if keep_body else None,
            content_type=previous.content_type if keep_body else None,
            environ_base=previous.environ_base,
        )

    def _run(self, builder: EnvironBuilder, environ: WSGIEnvironment | None = None) -> TestResponse:
        if environ is None:
            environ = builder.get_environ()
        host = builder.host.rsplit(":", 1)[0] if not builder.host.endswith("]") else builder.host
        request_path = builder.script_root + builder.path
        if self.cookie_jar is not None:
            header = self.cookie_jar.header_for(host, request_path, builder.url_scheme == "https")
            if header:
                existing = environ.get("HTTP_COOKIE")
                environ["HTTP_COOKIE"] = f"{existing}; {header}" if existing else header
        body, status, headers = _read_app(self.application, environ)
        response = TestResponse(body, status, headers, Request(environ, populate_request=False))
        if self.cookie_jar is not None:
            for value in response.headers.getlist("Set-Cookie"):
                self.cookie_jar.set_from_header(value, host, request_path)
        return response

    def get(self, path: str = "/", **kwargs: Any) -> TestResponse:
        return self.open(path, "GET", **kwargs)

    def post(self, path: str = "/", **kwargs: Any) -> TestResponse:
        return self.open(path, "POST", **kwargs)

    def put(self, path: str = "/", **kwargs: Any) -> TestResponse:
        return self.open(path, "PUT", **kwargs)

    def patch(self, path: str = "/", **kwargs: Any) -> TestResponse:
        return self.open(path, "PATCH", **kwargs)

    def delete(self, path: str = "/", **kwargs: Any) -> TestResponse:
        return self.open(path, "DELETE", **kwargs)

    def head(self, path: str = "/", **kwargs: Any) -> TestResponse:
        return self.open(path, "HEAD", **kwargs)

    def options(self, path: str = "/", **kwargs: Any) -> TestResponse:
        return self.open(path, "OPTIONS", **kwargs)
