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
from .response import Response, _wants_charset
from .urls import iri_to_uri
from .wsgi_util import ClosingIterator, get_current_url, wsgi_encoding_dance

__all__ = [
    "Client",
    "ClientRedirectError",
    "EnvironBuilder",
    "FileMultiDict",
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


def _read_all(source: Any) -> bytes:
    """Everything ``source`` (bytes or a file object, text or binary) holds, read in blocks."""
    if isinstance(source, (bytes, bytearray)):
        return bytes(source)
    chunks: list[bytes] = []
    while True:
        # A sized read: some file-like objects (sockets, pipes, test doubles) require the argument.
        chunk = source.read(64 * 1024)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk.encode("utf-8") if isinstance(chunk, str) else bytes(chunk))


def _file_storage(name: str, value: Any) -> FileStorage:
    """A FileStorage from a file object, a ``(file_or_bytes, filename[, content_type])`` tuple or one."""
    if isinstance(value, FileStorage):
        return value
    if isinstance(value, tuple):
        source = value[0]
        filename = value[1] if len(value) > 1 else None
        content_type = value[2] if len(value) > 2 else None
    else:
        source, filename, content_type = value, getattr(value, "name", None), None
        # A real file's name is its path; a browser sends only the last component.
        filename = filename.replace("\\", "/").rsplit("/", 1)[-1] if isinstance(filename, str) else None
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(bytes(source))
    return FileMultiDict.make_storage(name, source, filename, content_type)


def _file_part(value: FileStorage) -> tuple[bytes, str | None, str | None]:
    """``(content, filename, content_type)`` of one file field."""
    return _read_all(value.stream), value.filename, value.content_type


class FileMultiDict(MultiDict[str, FileStorage]):
    """The files of an :class:`EnvironBuilder`: field name -> :class:`FileStorage`, several per name."""

    @staticmethod
    def make_storage(
        name: str, file: Any, filename: str | None = None, content_type: str | None = None
    ) -> FileStorage:
        if content_type is None and filename:
            import mimetypes

            content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        return FileStorage(file, filename, name, content_type)

    def add_file(
        self, name: str, file: Any, filename: str | None = None, content_type: str | None = None
    ) -> None:
        """Add a file (a file object, a path, or a FileStorage); the type is guessed from the filename."""
        if isinstance(file, FileStorage):
            self.add(name, file)
            return
        if isinstance(file, str):
            filename = filename or file
            file = open(file, "rb")  # noqa: SIM115 (closed by EnvironBuilder.close)
        self.add(name, self.make_storage(name, file, filename, content_type))


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
    fields = [
        (str(key), _file_part(_file_storage(str(key), value)) if _is_file_value(value) else str(value))
        for key, value in source
    ]
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

    ``data`` may be bytes or text (sent as is, or read from a file object), or a mapping whose values go to
    :attr:`form`, or to :attr:`files` when they are files (an object with ``read``, a ``(file_or_bytes,
    filename[, content_type])`` tuple, or a FileStorage). ``json`` serializes a value and sets
    ``application/json``; ``mimetype`` sets the content type, with ``charset=utf-8`` for text types.
    ``form`` and ``files`` may also be filled after construction; the body is encoded when the environ is
    built (URL-encoded, or multipart when there is a file). :meth:`close` closes the files.
    """

    def __init__(  # noqa: PLR0917 - werkzeug's positional order, which callers use
        self,
        path: str = "/",
        base_url: str | None = None,
        query_string: str | Mapping[str, Any] | None = None,
        method: str = "GET",
        input_stream: IO[bytes] | None = None,
        content_type: str | None = None,
        content_length: int | None = None,
        errors_stream: IO[str] | None = None,
        multithread: bool = False,
        multiprocess: bool = False,
        run_once: bool = False,
        headers: Headers | Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
        data: bytes | str | IO[bytes] | Mapping[str, Any] | None = None,
        environ_base: Mapping[str, Any] | None = None,
        environ_overrides: Mapping[str, Any] | None = None,
        mimetype: str | None = None,
        json: Any = None,
        auth: Authorization | tuple[str, str] | None = None,
    ) -> None:
        url = urlsplit(path)
        if query_string is not None and "?" in path:
            raise ValueError("the query is given twice: in the path and as query_string")
        self.base_url = base_url or (f"{url.scheme}://{url.netloc}/" if url.netloc else "http://localhost/")
        # The path is kept as a URI (an IRI's non-ASCII characters percent-encoded), as a client sends it.
        self.path = iri_to_uri(url.path) or "/"
        self.request_uri = self.path + (f"?{url.query}" if "?" in path else "")
        if query_string is None:
            query_string = url.query
        elif not isinstance(query_string, str):
            query_string = urlencode(list(MultiDict(query_string).items(multi=True)))
        self.query_string = query_string
        self.method = method.upper()
        self.headers = Headers(headers)
        if auth is not None:
            self.headers["Authorization"] = _auth_header(auth)
        self.errors_stream = errors_stream
        self.multithread, self.multiprocess, self.run_once = multithread, multiprocess, run_once
        self.environ_base = dict(environ_base or {})
        self.environ_overrides = dict(environ_overrides or {})
        self._input_stream: IO[bytes] | None = input_stream
        self._form: MultiDict[str, Any] | None = None
        self._files: FileMultiDict | None = None
        self.closed = False
        if json is not None:
            if data is not None:
                raise TypeError("pass data or json, not both")
            data = self.json_dumps(json)
            content_type = content_type or "application/json"
        if content_type is None and mimetype is not None:
            content_type = f"{mimetype}; charset=utf-8" if _wants_charset(mimetype) else mimetype
        self._content_type = content_type if content_type is not None else self.headers.get("Content-Type")
        if isinstance(data, Mapping):
            self._fill(data)
        elif data is not None:
            raw = _read_all(data) if hasattr(data, "read") else data
            body = raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)
            self._input_stream = io.BytesIO(body)
            if content_length is None:
                content_length = len(body)
        self.content_length = content_length

    def json_dumps(self, obj: Any) -> str:
        """Serialize a ``json=`` value (a subclass may use another encoder)."""
        return jsonlib.dumps(obj)

    def _fill(self, data: Mapping[str, Any]) -> None:
        source = data.items(multi=True) if isinstance(data, MultiDict) else data.items()
        for key, value in source:
            # A list gives several values; a tuple is one file spec (file, filename[, content_type]).
            for item in value if isinstance(value, list) else [value]:
                if _is_file_value(item):
                    self.files.add(str(key), _file_storage(str(key), item))
                else:
                    self.form.add(str(key), item)

    # -- URL parts ----------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``scheme://host/script_root/``; setting it sets those three (an IRI host is IDNA-encoded)."""
        return f"{self.url_scheme}://{self.host}{self.script_root}/"

    @base_url.setter
    def base_url(self, value: str) -> None:
        base = urlsplit(iri_to_uri(value))
        self.url_scheme = base.scheme or "http"
        self.host = base.netloc or "localhost"
        self.script_root = base.path.rstrip("/")

    @property
    def server_name(self) -> str:
        """The host without its port."""
        if self.host.startswith("["):
            return self.host[: self.host.index("]") + 1]
        return self.host.partition(":")[0]

    @property
    def server_port(self) -> int:
        """The port of the host, else the scheme's default."""
        rest = self.host[len(self.server_name) :]
        if rest.startswith(":") and rest[1:].isdigit():
            return int(rest[1:])
        return 443 if self.url_scheme == "https" else 80

    # -- body -----------------------------------------------------------------------------------------------

    @property
    def form(self) -> MultiDict[str, Any]:
        """Form fields to send (filled from a mapping ``data``, or directly)."""
        if self._form is None:
            self._form = MultiDict()
        return self._form

    @property
    def files(self) -> FileMultiDict:
        """Files to send as multipart parts."""
        if self._files is None:
            self._files = FileMultiDict()
        return self._files

    @property
    def input_stream(self) -> IO[bytes] | None:
        """A ready body stream; setting one drops the form and files."""
        return self._input_stream

    @input_stream.setter
    def input_stream(self, value: IO[bytes] | None) -> None:
        self._input_stream = value
        self._form = self._files = None

    @property
    def content_type(self) -> str | None:
        """The given content type, else the one the form implies (multipart with files, else URL-encoded)."""
        if self._content_type is not None:
            return self._content_type
        if self._input_stream is None:
            if self._files:
                return "multipart/form-data"
            if self._form:
                return "application/x-www-form-urlencoded"
        return None

    @content_type.setter
    def content_type(self, value: str | None) -> None:
        self._content_type = value

    @property
    def mimetype(self) -> str | None:
        """The content type without its parameters."""
        value = self.content_type
        return value.split(";", 1)[0].strip().lower() if value else None

    def _encoded(self) -> tuple[bytes | None, str | None]:
        """``(body, content_type)`` of the form and files, or ``(None, content_type)`` when there is none."""
        content_type = self.content_type
        if self._input_stream is not None or not (self._form or self._files):
            return None, content_type
        # values are stringified here, so that form["n"] = 1 may be set after construction too
        pairs = [(key, str(value)) for key, value in self.form.items(multi=True)]
        if self._files or (content_type or "").startswith("multipart/"):
            files = [(key, _file_part(value)) for key, value in self.files.items(multi=True)]
            fields: list[tuple[str, Any]] = [*pairs, *files]
            body, multipart_type = encode_multipart(fields)
            return body, multipart_type
        return urlencode(pairs).encode("ascii"), content_type

    @property
    def body(self) -> bytes | None:
        """The request body as bytes (encoded form, or the data given), ``None`` without one."""
        body, _ = self._encoded()
        if body is None and isinstance(self._input_stream, io.BytesIO):
            return self._input_stream.getvalue()
        return body

    def close(self) -> None:
        """Close the files of :attr:`files` (once)."""
        if self.closed:
            return
        self.closed = True
        if self._files:
            for _, storage in self._files.items(multi=True):
                storage.close()

    def get_environ(self) -> WSGIEnvironment:
        """A complete PEP 3333 environ for this request."""
        host, _, port = self.host.partition(":")
        if self.host.startswith("["):
            host, _, port = self.host[1:].partition("]")
            port = port.lstrip(":")
        port = port or ("443" if self.url_scheme == "https" else "80")
        body, content_type = self._encoded()
        content_length = self.content_length
        stream: IO[bytes]
        if body is not None:
            stream, content_length = io.BytesIO(body), len(body)
        else:
            stream = self._input_stream if self._input_stream is not None else io.BytesIO()
        query = f"?{self.query_string}" if self.query_string or "?" in self.request_uri else ""
        environ: WSGIEnvironment = {
            "REQUEST_METHOD": self.method,
            "SCRIPT_NAME": _to_wsgi(self.script_root),
            "PATH_INFO": _to_wsgi(self.path),
            "QUERY_STRING": self.query_string.encode("utf-8").decode("latin-1"),
            # The target as sent on the request line, still percent-encoded (what servers put here).
            "REQUEST_URI": wsgi_encoding_dance(self.script_root + self.path + query),
            "RAW_URI": wsgi_encoding_dance(self.script_root + self.path + query),
            "SERVER_NAME": host,
            "SERVER_PORT": port,
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": self.host,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": self.url_scheme,
            "wsgi.input": stream,
            "wsgi.errors": self.errors_stream if self.errors_stream is not None else sys.stderr,
            "wsgi.multithread": self.multithread,
            "wsgi.multiprocess": self.multiprocess,
            "wsgi.run_once": self.run_once,
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
        if content_type is not None:
            environ["CONTENT_TYPE"] = content_type
        if content_length is not None:
            environ["CONTENT_LENGTH"] = str(content_length)
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
            "query_string": environ.get("QUERY_STRING", "").encode("latin-1").decode("utf-8", "replace"),
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
        "HTTP_HOST", "CONTENT_TYPE", "CONTENT_LENGTH", "wsgi.url_scheme", "wsgi.input", "REQUEST_URI",
        "RAW_URI",
    }
)  # fmt: skip


def _to_wsgi(path: str) -> str:
    """A URL path (possibly percent-encoded, possibly non-ASCII) as a PEP 3333 latin-1 string."""
    return unquote_to_bytes(path.encode("utf-8")).decode("latin-1")


def create_environ(*args: Any, **kwargs: Any) -> WSGIEnvironment:
    """Shortcut for ``EnvironBuilder(*args, **kwargs).get_environ()`` (the builder's files are closed)."""
    builder = EnvironBuilder(*args, **kwargs)
    try:
        return builder.get_environ()
    finally:
        builder.close()


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
    # Chunks pass through as the application yields them (a lenient caller may join text chunks).
    if buffered:
        try:
            body = [*written, *app_rv]
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
                early.append(chunk)
        except BaseException:
            if close is not None:
                close()
            raise
        body = ClosingIterator(chain(list(written), early, iterator), [close] if close is not None else [])
    if "status" not in state:
        raise RuntimeError("the application returned without calling start_response")
    return body, state["status"], Headers(state["headers"])


def _as_bytes(chunk: bytes | str) -> bytes:
    # PEP 3333 wants bytes; text from a sloppy application is taken as UTF-8, as Response does.
    return chunk.encode("utf-8") if isinstance(chunk, str) else bytes(chunk)


def _read_app(app: WSGIApplication, environ: WSGIEnvironment) -> tuple[bytes, str, Headers]:
    """``(body, status, headers)`` of one complete run of ``app``, its iterable always closed."""
    app_iter, status, headers = run_wsgi_app(app, environ, buffered=True)
    return b"".join(map(_as_bytes, app_iter)), status, headers


class TestResponse(Response):
    """The response the client received: ``status_code``, ``headers``, ``data``/``text``/``json``, the
    ``request`` that produced it and the redirect ``history`` before it."""

    __test__ = False  # not a pytest test class
    default_mimetype = None  # show exactly the headers the application sent

    def __init__(
        self, body: bytes | Iterable[bytes], status: str, headers: Headers, request: Request
    ) -> None:
        super().__init__([body] if isinstance(body, bytes) else body, status, headers)
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


def _response_class(wrapper: type[Response] | None) -> type[TestResponse]:
    """The class of the client's responses: :class:`TestResponse`, or one that is also ``wrapper``."""
    if wrapper is None or issubclass(wrapper, TestResponse):
        return wrapper or TestResponse
    cached = _WRAPPED.get(wrapper)
    if cached is None:
        cached = _WRAPPED[wrapper] = type(f"{wrapper.__name__}TestResponse", (TestResponse, wrapper), {})
    return cached


_WRAPPED: dict[type[Response], type[TestResponse]] = {}


def _same_site(host: str, target: str, allow_subdomains: bool) -> bool:
    """Is ``target`` the request's ``host`` (ports ignored), or, when allowed, a subdomain of it?"""
    host, target = host.rsplit(":", 1)[0].lower(), target.rsplit(":", 1)[0].lower()
    if target == host:
        return True
    if not allow_subdomains:
        return False
    # a subdomain of the host's parent domain (login.example.com from www.example.com or example.com)
    parent = host.split(".", 1)[1] if host.count(".") > 1 else host
    return target.endswith("." + parent)


class Client:
    """Sends requests to a WSGI application in-process.

    ``client.get("/path", base_url, query_string=..., headers=..., follow_redirects=True)`` (positional and
    keyword arguments are :class:`EnvironBuilder`'s); ``post``/``put``/``patch`` also take ``data`` and
    ``json``. Cookies set by the app are sent back on later requests (``use_cookies=False`` disables the
    jar). Responses are :class:`TestResponse`, or a subclass that is also ``response_wrapper``. Redirects
    are followed only within the request's host (and its subdomains with ``allow_subdomain_redirects``):
    the application under test cannot answer for another site.
    """

    __test__ = False

    def __init__(
        self,
        application: WSGIApplication,
        response_wrapper: type[Response] | None = None,
        use_cookies: bool = True,
        allow_subdomain_redirects: bool = False,
    ) -> None:
        self.application = application
        self.response_wrapper = _response_class(response_wrapper)
        self.cookie_jar: CookieJar | None = CookieJar() if use_cookies else None
        self.allow_subdomain_redirects = allow_subdomain_redirects

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
        *args: Any,
        buffered: bool = True,
        follow_redirects: bool = False,
        **kwargs: Any,
    ) -> TestResponse:
        """Send one request (and, with ``follow_redirects``, the redirects it leads to).

        The first argument may also be a ready :class:`EnvironBuilder`, a WSGI environ or a
        :class:`Request`; an environ (or a Request's) is sent exactly as given. With ``buffered`` (the
        default) the body is read and the application's iterable closed before this returns; without,
        the last response's body stays lazy until it is read or closed (redirects in between are always
        read whole).
        """
        environ: WSGIEnvironment | None = None
        first = args[0] if args else None
        if isinstance(first, EnvironBuilder):
            builder = first
        elif isinstance(first, (dict, Request)):
            environ = dict(first.environ if isinstance(first, Request) else first)
            builder = EnvironBuilder.from_environ(environ)
        else:
            builder = EnvironBuilder(*args, **kwargs)
        response = self._run(builder, environ, buffered=buffered or follow_redirects)
        history: list[TestResponse] = []
        seen = {_url_of(builder)}
        while follow_redirects and response.status_code in _REDIRECTS and "Location" in response.headers:
            if len(history) >= MAX_REDIRECTS:
                raise ClientRedirectError(f"more than {MAX_REDIRECTS} redirects")
            history.append(response)
            builder = self._redirect_builder(builder, response)
            if not _same_site(response.request.host, builder.host, self.allow_subdomain_redirects):
                raise ClientRedirectError(f"the redirect leaves the application's site: {_url_of(builder)}")
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

    def _run(
        self, builder: EnvironBuilder, environ: WSGIEnvironment | None = None, buffered: bool = True
    ) -> TestResponse:
        if environ is None:
            environ = builder.get_environ()
        host = builder.host.rsplit(":", 1)[0] if not builder.host.endswith("]") else builder.host
        request_path = builder.script_root + builder.path
        if self.cookie_jar is not None:
            header = self.cookie_jar.header_for(host, request_path, builder.url_scheme == "https")
            if header:
                existing = environ.get("HTTP_COOKIE")
                environ["HTTP_COOKIE"] = f"{existing}; {header}" if existing else header
        body: bytes | Iterable[bytes]
        if buffered:
            body, status, headers = _read_app(self.application, environ)
        else:
            body, status, headers = run_wsgi_app(self.application, environ)
        request = Request(environ, populate_request=False)
        response = self.response_wrapper(body, status, headers, request)
        if self.cookie_jar is not None:
            for value in response.headers.getlist("Set-Cookie"):
                self.cookie_jar.set_from_header(value, host, request_path)
        return response

    def get(self, *args: Any, **kwargs: Any) -> TestResponse:
        return self.open(*args, method="GET", **kwargs)

    def post(self, *args: Any, **kwargs: Any) -> TestResponse:
        return self.open(*args, method="POST", **kwargs)

    def put(self, *args: Any, **kwargs: Any) -> TestResponse:
        return self.open(*args, method="PUT", **kwargs)

    def patch(self, *args: Any, **kwargs: Any) -> TestResponse:
        return self.open(*args, method="PATCH", **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> TestResponse:
        return self.open(*args, method="DELETE", **kwargs)

    def head(self, *args: Any, **kwargs: Any) -> TestResponse:
        return self.open(*args, method="HEAD", **kwargs)

    def options(self, *args: Any, **kwargs: Any) -> TestResponse:
        return self.open(*args, method="OPTIONS", **kwargs)

    def trace(self, *args: Any, **kwargs: Any) -> TestResponse:
        return self.open(*args, method="TRACE", **kwargs)
