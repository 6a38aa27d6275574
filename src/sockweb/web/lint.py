"""PEP 3333 conformance checks for both sides of a WSGI call, as a middleware.

Strategy: ``LintMiddleware(app)`` sits between a server and an application and wraps everything that
crosses the boundary: the environ is checked on the way in (keys, native-string values, latin-1 safety,
required CGI and ``wsgi.*`` entries), ``wsgi.input`` and ``wsgi.errors`` are wrapped to check how the
application uses them and what the server returns, ``start_response`` checks the status line, the
header list and the ``exc_info`` protocol, ``write()`` and the returned iterable check the body chunks,
the byte count against Content-Length, bodies where none may be, and that the server calls ``close()``.

Every message says which side broke the rule (``application:`` or ``server:``) and which rule.
Violations are reported as ``WSGIWarning`` through the ``warnings`` module, or raised as ``LintError``
(an ``AssertionError``) with ``strict=True``. A "never closed" report comes from a finalizer, so it is
always a warning.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sockweb.web.httputil.fields import HOP_BY_HOP_HEADERS

__all__ = ["HTTPWarning", "LintError", "LintMiddleware", "WSGIWarning", "check_environ"]

WSGIEnvironment = dict[str, Any]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[WSGIEnvironment, StartResponse], Iterable[bytes]]
Report = Callable[[str], None]


class WSGIWarning(Warning):
    """A PEP 3333 violation found by LintMiddleware."""


class HTTPWarning(Warning):
    """An HTTP-level problem in a response (a relative Location, a status outside 100-999)."""


class LintError(AssertionError):
    """A PEP 3333 violation, raised instead of warned in strict mode."""


REQUIRED_KEYS = (
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "PATH_INFO",
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_PROTOCOL",
    "wsgi.version",
    "wsgi.url_scheme",
    "wsgi.input",
    "wsgi.errors",
    "wsgi.multithread",
    "wsgi.multiprocess",
    "wsgi.run_once",
)
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_STATUS = re.compile(r"([1-9][0-9]{2}) ([^\x00-\x1f\x7f]+)\Z")
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_NO_BODY_STATUSES = frozenset({204, 304})


def _latin1(value: str) -> bool:
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


# ----------------------------------------------------------------------------------------------- environ


def check_environ(environ: Any, report: Report) -> None:
    """Server side: the environ PEP 3333 requires (types, required keys, value formats)."""
    if type(environ) is not dict:
        report(f"server: environ must be a dict (PEP 3333), got {type(environ).__name__}")
        return
    for key in REQUIRED_KEYS:
        if key not in environ:
            report(f"server: environ has no {key!r} (required by PEP 3333)")
    for key, value in environ.items():
        if type(key) is not str:
            report(f"server: environ key {key!r} is not a native str")
            continue
        if "." in key:
            continue  # extension keys (wsgi.*, server.*): any type
        if type(value) is not str:
            report(f"server: environ[{key!r}] must be a native str, got {type(value).__name__}")
        elif not _latin1(value):
            report(f"server: environ[{key!r}] = {value!r} is not latin-1 (PEP 3333 'bytes as latin-1')")
    for key in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
        if key in environ:
            report(f"server: environ has {key!r}; it must be {key[5:]!r} (PEP 3333, CGI)")
    _check_environ_values(environ, report)


def _check_environ_values(environ: dict[str, Any], report: Report) -> None:
    method = environ.get("REQUEST_METHOD")
    if isinstance(method, str) and not _TOKEN.match(method):
        report(f"server: REQUEST_METHOD {method!r} is not an HTTP token")
    script = environ.get("SCRIPT_NAME")
    if isinstance(script, str) and script and (not script.startswith("/") or script == "/"):
        report(f"server: SCRIPT_NAME {script!r} must be empty or start with '/' (and not be '/')")
    path = environ.get("PATH_INFO")
    if isinstance(path, str) and path and not path.startswith("/"):
        report(f"server: PATH_INFO {path!r} must be empty or start with '/'")
    if not script and not path and "SCRIPT_NAME" in environ and "PATH_INFO" in environ:
        report("server: SCRIPT_NAME and PATH_INFO are both empty; PATH_INFO should be '/'")
    protocol = environ.get("SERVER_PROTOCOL")
    if isinstance(protocol, str) and not re.match(r"HTTP/[0-9]\.[0-9]\Z", protocol):
        report(f"server: SERVER_PROTOCOL {protocol!r} is not 'HTTP/x.y'")
    port = environ.get("SERVER_PORT")
    if isinstance(port, str) and not port.isdigit():
        report(f"server: SERVER_PORT {port!r} is not a number")
    length = environ.get("CONTENT_LENGTH")
    if isinstance(length, str) and length and not length.isdigit():
        report(f"server: CONTENT_LENGTH {length!r} is not a non-negative integer")
    if "wsgi.version" in environ and environ["wsgi.version"] != (1, 0):
        report(f"server: wsgi.version must be (1, 0), got {environ['wsgi.version']!r}")
    scheme = environ.get("wsgi.url_scheme")
    if scheme is not None and scheme not in ("http", "https"):
        report(f"server: wsgi.url_scheme {scheme!r} is neither 'http' nor 'https'")
    for key in ("wsgi.multithread", "wsgi.multiprocess", "wsgi.run_once"):
        if key in environ and not isinstance(environ[key], bool):
            report(f"server: {key} must be a bool, got {type(environ[key]).__name__}")
    stream = environ.get("wsgi.input")
    for name in ("read", "readline", "readlines", "__iter__"):
        if stream is not None and not hasattr(stream, name):
            report(f"server: wsgi.input has no {name}()")
    errors = environ.get("wsgi.errors")
    for name in ("write", "writelines", "flush"):
        if errors is not None and not hasattr(errors, name):
            report(f"server: wsgi.errors has no {name}()")
    wrapper = environ.get("wsgi.file_wrapper")
    if wrapper is not None and not callable(wrapper):
        report("server: wsgi.file_wrapper is not callable")


# -------------------------------------------------------------------------------------------- streams


class InputWrapper:
    """``wsgi.input`` as the application sees it: checks calls and what the server returns."""

    def __init__(self, stream: Any, report: Report, content_length: int | None) -> None:
        self._stream = stream
        self._report = report
        self._limit = content_length
        self._read = 0

    def _got(self, data: Any, call: str) -> bytes:
        if type(data) is not bytes:
            self._report(f"server: wsgi.input.{call} returned {type(data).__name__}, not bytes")
            return data  # type: ignore[no-any-return]
        self._read += len(data)
        if self._limit is not None and self._read > self._limit:
            self._report(
                f"server: wsgi.input returned {self._read} bytes, more than CONTENT_LENGTH {self._limit}"
            )
        return data

    def read(self, *args: Any) -> bytes:
        if len(args) > 1:
            self._report("application: wsgi.input.read() takes at most one argument")
        if args and args[0] is not None and type(args[0]) is not int:
            self._report(f"application: wsgi.input.read() size must be an int, got {type(args[0]).__name__}")
        return self._got(self._stream.read(*args), "read()")

    def readline(self, *args: Any) -> bytes:
        if args:
            # PEP 3333: "The optional 'size' argument to readline() is not supported".
            self._report("application: wsgi.input.readline(size) is not portable (PEP 3333)")
        return self._got(self._stream.readline(*args), "readline()")

    def readlines(self, *args: Any) -> list[bytes]:
        lines = self._stream.readlines(*args)
        if type(lines) is not list:
            self._report(f"server: wsgi.input.readlines() returned {type(lines).__name__}, not a list")
        return [self._got(line, "readlines()") for line in lines]

    def __iter__(self) -> Iterator[bytes]:
        for line in self._stream:
            yield self._got(line, "__iter__")

    def close(self) -> None:
        self._report("application: must not close wsgi.input (PEP 3333)")


class ErrorsWrapper:
    """``wsgi.errors``: text only, never closed by the application."""

    def __init__(self, stream: Any, report: Report) -> None:
        self._stream = stream
        self._report = report

    def write(self, text: Any) -> None:
        if type(text) is not str:
            self._report(f"application: wsgi.errors.write() needs a str, got {type(text).__name__}")
        self._stream.write(text)

    def writelines(self, lines: Iterable[Any]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._stream.flush()

    def close(self) -> None:
        self._report("application: must not close wsgi.errors (PEP 3333)")


# ----------------------------------------------------------------------------------------- one request


class _Exchange:
    """The state of one request through the middleware: response head, bytes sent, closing."""

    def __init__(self, environ: WSGIEnvironment, start_response: StartResponse, report: Report) -> None:
        self.environ = environ
        self.server_start_response = start_response
        self.report = report
        self.method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        self.status: int | None = None
        self.content_length: int | None = None
        self.started = False
        self.sent = 0
        self.head_body_reported = False
        self.has_content_type = False
        self.content_type_reported = False

    # -- start_response

    def start_response(self, *args: Any, **kwargs: Any) -> Callable[[bytes], None]:
        if kwargs or not 2 <= len(args) <= 3:
            self.report(
                "application: start_response(status, headers, exc_info=None) takes 2 or 3 positional args"
            )
        status, headers = (*args, None, None)[:2]
        exc_info = args[2] if len(args) == 3 else None
        if exc_info is not None:
            if not (isinstance(exc_info, tuple) and len(exc_info) == 3):
                self.report("application: exc_info must be the 3-tuple from sys.exc_info()")
        elif self.started:
            self.report("application: start_response called a second time without exc_info (PEP 3333)")
        self.check_status(status)
        self.check_headers(headers)
        self.started = True
        body_was_sent = self.sent > 0
        write = self.server_start_response(*args, **kwargs)
        if exc_info is not None and body_was_sent:
            self.report("server: start_response(exc_info) after the body started must re-raise exc_info")
        if not callable(write):
            self.report("server: start_response must return a write(data) callable")

        def lint_write(data: bytes) -> None:
            self.check_chunk(data, "write()")
            write(data)

        return lint_write

    def check_status(self, status: Any) -> None:
        if type(status) is not str:
            self.report(f"application: status must be a native str, got {type(status).__name__}")
            return
        match = _STATUS.match(status)
        if match is None:
            # Name every rule the line breaks (a code of two digits is also below 100 and lacks the
            # space at position 3), so that one fix does not just reveal the next problem.
            code = status.partition(" ")[0]
            if not (len(code) == 3 and code.isascii() and code.isdigit()):
                self.report(f"application: status code {code!r} must be three digits")
            if code.isascii() and code.isdigit() and int(code) < 100:
                self.report(f"application: status code {int(code)} is below 100")
            self.report(f"application: status {status!r} is not 'NNN Reason phrase'")
            return
        if not _latin1(status):
            self.report(f"application: status {status!r} is not latin-1")
        self.status = int(match[1])

    def check_headers(self, headers: Any) -> None:
        if type(headers) is not list:
            self.report(f"application: headers must be a list, got {type(headers).__name__}")
            return
        names = set()
        for item in headers:
            if type(item) is not tuple or len(item) != 2:
                self.report(f"application: header {item!r} is not a (name, value) tuple")
                continue
            name, value = item
            if type(name) is not str or type(value) is not str:
                self.report(f"application: header {item!r} must hold two native str")
                continue
            self.check_header(name, value)
            names.add(name.lower())
        self.has_content_type = "content-type" in names
        if self.status == 204 and self.has_content_type:
            self.report("application: a 204 response must not have a Content-Type (it has no content)")

    def check_header(self, name: str, value: str) -> None:
        lower = name.lower()
        if not _TOKEN.match(name):
            self.report(f"application: header name {name!r} is not an HTTP token")
        if lower == "status":
            self.report("application: 'Status' is not a header; pass the status to start_response")
        if lower in HOP_BY_HOP_HEADERS:  # PEP 3333: connection-specific fields are the server's
            self.report(f"application: hop-by-hop header {name!r} is forbidden (PEP 3333)")
        if _BAD_VALUE.search(value):
            self.report(f"application: header {name!r} value {value!r} holds control characters (CR/LF?)")
        if not _latin1(value):
            self.report(f"application: header {name!r} value {value!r} is not latin-1")
        if lower == "content-length":
            if value.strip().isascii() and value.strip().isdigit():
                self.content_length = int(value)
            else:
                self.report(f"application: Content-Length {value!r} is not a non-negative integer")

    # -- body

    def check_chunk(self, data: Any, where: str) -> None:
        if not self.started:
            self.report(f"application: body data ({where}) before start_response was called")
        if type(data) is not bytes:
            self.report(f"application: body chunks ({where}) must be bytes, got {type(data).__name__}")
            return
        self.sent += len(data)
        if data and not self.has_content_type and not self.content_type_reported:
            # RFC 9110 §8.3: content without a Content-Type leaves the client guessing (sniffing).
            self.content_type_reported = True
            self.report(f"application: body bytes in a {self.status} response without a Content-Type")
        if data and self.status in _NO_BODY_STATUSES:
            self.report(f"application: a {self.status} response must not have a body")
        if data and self.method == "HEAD" and not self.head_body_reported:
            self.head_body_reported = True
            self.report("application: body bytes for a HEAD request (a HEAD response has no body)")

    def finished(self) -> None:
        """The body is complete: the byte count must agree with the declared length."""
        if self.content_length is None or self.method == "HEAD" or self.status in _NO_BODY_STATUSES:
            return
        if self.sent != self.content_length:
            self.report(
                f"application: Content-Length says {self.content_length} bytes but {self.sent} were sent"
            )


class ResultWrapper:
    """The application's iterable as the server sees it."""

    def __init__(self, result: Iterable[bytes], exchange: _Exchange) -> None:
        self._result = result
        self._iterator: Iterator[bytes] | None = None
        self._exchange = exchange
        self._closed = False
        self._done = False

    def __iter__(self) -> ResultWrapper:
        if self._iterator is None:
            self._iterator = iter(self._result)
        return self

    def __next__(self) -> bytes:
        if self._closed:
            self._exchange.report("server: iterating the response after close()")
        if self._iterator is None:
            self._iterator = iter(self._result)
        try:
            chunk = next(self._iterator)
        except StopIteration:
            if not self._done:
                self._done = True
                if not self._exchange.started:
                    self._exchange.report("application: returned without calling start_response")
                self._exchange.finished()
            raise
        self._exchange.check_chunk(chunk, "iterable")
        return chunk

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        close = getattr(self._result, "close", None)
        if close is not None:
            close()

    def __del__(self) -> None:
        if not self._closed:
            # A finalizer cannot raise usefully: always a warning, even in strict mode.
            warnings.warn("server: never called close() on the response iterable (PEP 3333)", WSGIWarning, 2)


# -------------------------------------------------------------------------------------------- middleware


class LintMiddleware:
    """Wrap ``app`` to check the server and the application against PEP 3333.

    Violations become ``WSGIWarning`` warnings, or ``LintError`` exceptions with ``strict=True``.
    ``head_body=False`` tolerates applications that send a body for HEAD (servers drop it; PEP 3333
    itself does not forbid it, HTTP does for what goes on the wire).
    """

    def __init__(self, app: WSGIApp, strict: bool = False, head_body: bool = True) -> None:
        self.app = app
        self.strict = strict
        self.head_body = head_body

    def report(self, message: str) -> None:
        if self.strict:
            raise LintError(message)
        warnings.warn(message, WSGIWarning, stacklevel=3)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        report = self.report
        check_environ(environ, report)
        if type(environ) is dict:
            length = environ.get("CONTENT_LENGTH")
            limit = int(length) if isinstance(length, str) and length.isascii() and length.isdigit() else None
            if "wsgi.input" in environ:
                environ["wsgi.input"] = InputWrapper(environ["wsgi.input"], report, limit)
            if "wsgi.errors" in environ:
                environ["wsgi.errors"] = ErrorsWrapper(environ["wsgi.errors"], report)
        exchange = _Exchange(environ if type(environ) is dict else {}, start_response, report)
        exchange.head_body_reported = not self.head_body
        result = self.app(environ, exchange.start_response)
        if isinstance(result, (str, bytes, bytearray)):
            kind = type(result).__name__
            report(f"application: returned a {kind}; return an iterable of bytes, e.g. [body]")
            # Keep the exchange going after the warning: one chunk holding the whole body.
            result = [result.encode() if isinstance(result, str) else bytes(result)]
        elif result is None or not hasattr(result, "__iter__"):
            report(f"application: returned {result!r}, not an iterable of bytes")
            result = []
        return ResultWrapper(result, exchange)
