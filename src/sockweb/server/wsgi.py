"""PEP 3333 on top of sockweb.http: the environ, start_response/write, and driving the response iterable.

Strategy: the environ of a request is a copy of a per-listening-socket template (the wsgi.* keys and
SERVER_NAME/PORT never change) plus the request's own keys; header names map to environ keys through a
cache dict, so a request costs one dict copy, one partition of the target and one loop over its headers.
That loop runs in C (sockweb.server._environ) when the extension was built and SOCKWEB_PURE_PYTHON is not
set; `_fill_headers_py` is its reference (tests/server/test_environ_speedups.py holds the two equal).
An `Exchange` is one request/response: `start_response` records status and headers, `body`/`finish` frame
the body with the plan from `plan_response`, and every byte leaves through `send`, which is the
connection's loop-side queue when the application runs inline or its thread-safe sender when it runs in a
worker thread. A response that is wrong (bad status or header, wrong Content-Length, a non-bytes chunk,
no start_response) becomes a 500 if nothing was sent yet, else the connection is closed: never corrupt
bytes on the wire. `close()` of the iterable is called on every path.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from io import BytesIO
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote_to_bytes

from sockweb.http import ProtocolError, Request
from sockweb.http._accel import PURE_ENV
from sockweb.server.filewrapper import FileWrapper
from sockweb.server.input import EMPTY_INPUT, ClientDisconnected, StreamInput

if TYPE_CHECKING:
    from sockweb.server.exchange_api import BodyFramer, Carrier, Head
    from sockweb.server.proxy import ProxyFixer

log = logging.getLogger("sockweb.error")

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
Environ = dict[str, Any]

_INTERNAL_ERROR = ProtocolError("the application failed; see the server log", status=500)
_MAX_CACHED_KEYS = 512
# The environ keys of the forwarding headers that a ProxyFixer reads. Their names never enter the header-key
# cache, so `build_environ` sees each one arrive and calls the fixer only for requests that carry one.
FORWARDING_KEYS = frozenset(
    (
        "HTTP_FORWARDED",
        "HTTP_X_FORWARDED_FOR",
        "HTTP_X_FORWARDED_HOST",
        "HTTP_X_FORWARDED_PORT",
        "HTTP_X_FORWARDED_PREFIX",
        "HTTP_X_FORWARDED_PROTO",
    )
)


class HeaderFiller(Protocol):
    """The C header loop's signature (sockweb.server._environ): what head_environ's loop does; True when a
    forwarding key was seen."""

    def __call__(
        self,
        env: Environ,
        keys: dict[bytes, str],
        headers: list[tuple[bytes, bytes]],
        forwarding_keys: frozenset[str],
        max_cached: int,
        /,
    ) -> bool: ...


class HeadEnviron(Protocol):
    """`head_environ`'s signature: the part of a request's environ that its listener and its head decide,
    and whether the head carries a forwarding header."""

    def __call__(
        self, template: Environ, keys: dict[bytes, str], req: Request, /
    ) -> tuple[Environ, bool]: ...


def load_header_filler(
    environ: Mapping[str, str] = os.environ,
    import_module: Callable[[str], ModuleType] = importlib.import_module,
) -> tuple[HeaderFiller | None, str]:
    """(the C header loop, or None for the pure-Python loop in head_environ; the reason, in words). The
    same rule as the parser's accelerator: SOCKWEB_PURE_PYTHON set to a non-empty value other than "0", or
    an extension that was not built, means the pure path."""
    if environ.get(PURE_ENV, "") not in ("", "0"):
        return None, f"pure Python ({PURE_ENV} is set)"
    try:
        module = import_module("sockweb.server._environ")
    except ImportError:
        return None, "pure Python (the C accelerator is not built: no compiler at install time)"
    filler: HeaderFiller = module.fill_header_environ
    return filler, "C accelerator (sockweb.server._environ)"


_FILL_HEADERS, _ENVIRON_DESCRIPTION = load_header_filler()


def describe_environ() -> str:
    """Which header loop builds the environ in this process, in words for a person."""
    return _ENVIRON_DESCRIPTION


class BadResponse(Exception):
    """The application's response breaks PEP 3333 or HTTP (it can never be sent as is)."""


def environ_template(
    server_name: str, server_port: str, scheme: str, multithread: bool, errors: Any = None
) -> Environ:
    """The keys every request on one listening socket shares."""
    return {
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "SERVER_NAME": server_name,
        "SERVER_PORT": server_port,
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scheme,
        "wsgi.errors": sys.stderr if errors is None else errors,
        "wsgi.multithread": multithread,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.file_wrapper": FileWrapper,
        "wsgi.input": EMPTY_INPUT,  # replaced when the request has a body
    }


def new_header_keys() -> dict[bytes, str]:
    return {b"content-type": "CONTENT_TYPE", b"content-length": "CONTENT_LENGTH"}


def build_environ(  # noqa: PLR0917 - positional on purpose
    template: Environ,
    keys: dict[bytes, str],
    req: Request,
    remote_addr: str,
    remote_port: str,
    proxy: ProxyFixer | None = None,
) -> Environ:
    """The environ of `req`, with `proxy` applied when it carries a forwarding header; its wsgi.input is
    the template's empty stream (the caller replaces it once the body's fate is known)."""
    env, forwarded = head_environ(template, keys, req)
    env["REMOTE_ADDR"] = remote_addr
    env["REMOTE_PORT"] = remote_port
    if forwarded and proxy is not None:
        proxy.apply(env)
    return env


def _head_environ_py(template: Environ, keys: dict[bytes, str], req: Request) -> tuple[Environ, bool]:
    """head_environ in Python: the reference of the C path, and the path of absolute-form targets."""
    env = template.copy()
    target = req.target
    authority = None
    if target[0] != 47 and target.find(b"://") >= 0:  # 47: "/"
        target, authority = _absolute_form(target)
    env["REQUEST_METHOD"] = req.method
    # Searched as str: `bytes in bytes` first tries (and fails) to read its operand as an int, which
    # costs an exception on every call.
    env["RAW_URI"] = path = target.decode("latin-1")
    if "?" in path:
        path, _, env["QUERY_STRING"] = path.partition("?")  # the template holds QUERY_STRING ""
    env["PATH_INFO"] = unquote_to_bytes(path.encode("latin-1")).decode("latin-1") if "%" in path else path
    if req.http_version != "1.1":  # the template holds HTTP/1.1
        env["SERVER_PROTOCOL"] = "HTTP/1.0"
    if _FILL_HEADERS is not None:  # the C loop (sockweb.server._environ); the loop below is its reference
        forwarded = _FILL_HEADERS(env, keys, req.headers, FORWARDING_KEYS, _MAX_CACHED_KEYS)
    else:
        forwarded = _fill_headers_py(env, keys, req.headers)
    if req.chunked:
        env["wsgi.input_terminated"] = True
    elif "CONTENT_LENGTH" in env:
        # RFC 9110 §8.6: repeated equal lengths were accepted as one; the application sees that one.
        env["CONTENT_LENGTH"] = str(req.content_length)
    if authority is not None:
        # RFC 9112 §3.2.2: with an absolute-form target the server MUST use its host, not the Host field.
        env["HTTP_HOST"] = authority
    return env, forwarded


def load_head_environ(filler: HeaderFiller | None = _FILL_HEADERS) -> HeadEnviron:
    """`head_environ`: the C builder when the extension is in use (`filler` is its header loop), called
    with no Python frame in between; else the pure-Python reference."""
    if filler is None:
        return _head_environ_py
    module = importlib.import_module("sockweb.server._environ")
    builder: HeadEnviron = module.EnvironBuilder(FORWARDING_KEYS, _MAX_CACHED_KEYS, _head_environ_py)
    return builder


head_environ: HeadEnviron = load_head_environ()
"""head_environ(template, keys, req) -> (environ, forwarded): the part of `req`'s environ that its listener
and its head decide (all but REMOTE_ADDR/PORT and the proxy fixes), and whether the head carries a
forwarding header (see `build_environ`). One C call when the extension is built
(sockweb.server._environ.EnvironBuilder), which leaves absolute-form targets to `_head_environ_py`, its
reference (tests/server/test_environ_speedups.py holds the two equal)."""


def _fill_headers_py(env: Environ, keys: dict[bytes, str], headers: list[tuple[bytes, bytes]]) -> bool:
    """The pure-Python header loop of head_environ, the reference of sockweb.server._environ: add the
    fields to `env`, growing the `keys` cache; whether a forwarding header was seen."""
    forwarded = False
    for name, raw in headers:
        key = keys.get(name)
        if key is None:
            key = "HTTP_" + name.decode("latin-1").upper().replace("-", "_")
            if key in FORWARDING_KEYS:
                forwarded = True
            elif len(keys) < _MAX_CACHED_KEYS:
                keys[name] = key
        value = raw.decode("latin-1")
        if key in env:
            # RFC 9110 §5.3: repeated fields combine with ", "; RFC 6265 §5.4: cookies with "; ".
            value = env[key] + ("; " if key == "HTTP_COOKIE" else ", ") + value
        env[key] = value
    return forwarded


def _absolute_form(target: bytes) -> tuple[bytes, str]:
    """(origin-form path and query, authority) of an absolute-form target such as http://a.b:8/x?y."""
    start = target.find(b"://") + 3
    end = len(target)
    for stop in (b"/", b"?", b"#"):
        i = target.find(stop, start)
        if 0 <= i < end:
            end = i
    authority = target[start:end].rpartition(b"@")[2].decode("latin-1")
    rest = target[end:]
    return (rest if rest[:1] == b"/" else b"/" + rest), authority


class Exchange:
    """One request and its response; see the module docstring."""

    __slots__ = (
        "body_error",
        "conn",
        "environ",
        "headers",
        "input",
        "iterator",
        "plan",
        "request",
        "result",
        "send",
        "sent",
        "started",
        "status",
        "threaded",
        "writer",
    )

    def __init__(self, conn: Carrier, request: Request, environ: Environ) -> None:
        self.begin(conn, request, environ)

    def begin(self, conn: Carrier, request: Request, environ: Environ) -> None:
        """Set the exchange up for `request`: what ``__init__`` does, and the override point of subclasses.

        The HTTP/1.1 connection makes its exchanges with ``object.__new__(cls)`` and then calls this:
        calling the class runs ``__init__`` through the type's slot wrapper, which costs about a thousand
        instructions more per request (CPython 3.11). So a subclass extends `begin`, never ``__init__``.
        """
        self.conn = conn
        self.request = request
        self.environ = environ
        self.status: str | None = None
        self.headers: list[tuple[str, str]] = []
        self.plan: Head | None = None
        self.writer: BodyFramer | None = None
        self.send: Callable[[bytes], None] = conn.send
        self.sent = 0
        self.result: Iterable[bytes] | None = None
        self.iterator: Iterator[bytes] | None = None
        self.input: StreamInput | None = None
        self.started = 0.0
        self.threaded = False
        self.body_error: ProtocolError | None = None

    def to_thread(self) -> None:
        """From now on the application runs in a worker thread: send and finish through the loop."""
        self.threaded = True
        self.send = self.conn.send_threadsafe

    # -- the application's side -------------------------------------------------------------------------
    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
    ) -> Callable[[bytes], None]:
        if exc_info is not None:
            try:
                if self.plan is not None:
                    # PEP 3333: headers already sent -> re-raise the application's exception.
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise AssertionError("start_response() called a second time without exc_info")
        self.status = status
        self.headers = headers
        return self.body

    def body(self, data: bytes) -> None:
        """Send one piece of the body (also the `write()` callable)."""
        if type(data) is not bytes:
            if not isinstance(data, bytes):
                raise BadResponse(f"the response body must be bytes, got {type(data).__name__}")
            data = bytes(data)
        if self.plan is None:
            if not data:
                return  # PEP 3333: no head before the first non-empty chunk
            head = self.make_head(None)
            writer = self.writer
            self.send(head + writer.write(data) if writer is not None else head)
        elif self.writer is not None and data:
            try:
                self.send(self.writer.write(data))
            except ValueError as exc:
                raise BadResponse(str(exc)) from None
        self.sent += len(data)

    def finish(self) -> None:
        if self.plan is None:
            self.send(self.make_head(0))
        elif self.writer is not None:
            try:
                tail = self.writer.finish()
            except ValueError as exc:
                raise BadResponse(str(exc)) from None
            if tail:
                self.send(tail)

    def make_head(self, body_length: int | None) -> bytes:
        """The response head (the plan is recorded, and a body writer made when a body follows)."""
        plan = self.plan_head(body_length)
        if plan.send_body:
            self.writer = self.conn.body_framer(plan)
        return plan.head

    def body_failed(self, error: ProtocolError) -> None:
        """The request body broke: the application's next read fails (see `gone`)."""
        self.body_error = error

    def plan_head(self, body_length: int | None) -> Head:
        """Validate the application's status and headers and plan the response (recorded in `plan`)."""
        if self.body_error is not None:
            raise ClientDisconnected("the request body was malformed")
        self.plan = plan = self.conn.plan_head(self, body_length)
        return plan

    def extra(self) -> bytes:
        return self.conn.state.extra

    # -- driving the response ----------------------------------------------------------------------------
    def gone(self) -> None:
        """The client went away, or sent a malformed body: answer that error if nothing was sent yet."""
        error = self.body_error
        if error is not None and self.plan is None:
            self.status = f"{error.status} Bad Request Body"
            try:
                self.send(self.conn.error_response(error, self.extra()))
            except ClientDisconnected:
                pass
        self.close_result()
        self.done(False)

    def run(self, suspendable: bool) -> bool:
        """Call the application and send its response; False if it is suspended (resume with `pump`).

        Every fault of the call and of its result (not iterable, ``__iter__`` raising or returning a
        non-iterator, an invalid head) ends in `fail` or `gone` here: nothing escapes to the caller, which
        is the event loop or a pool thread, where an exception would leave the connection without an answer.
        """
        try:
            result = self.conn.state.app(self.environ, self.start_response)
            if type(result) is list and len(result) == 1 and self.plan is None and type(result[0]) is bytes:
                # A one-chunk body: Content-Length is known, head and body leave in one write.
                chunk = result[0]
                size = len(chunk)
                # plan_head inlined (the hot path: one call fewer per request)
                if self.body_error is not None:
                    raise ClientDisconnected("the request body was malformed")
                self.plan = plan = self.conn.plan_head(self, size)
                # With the length known, a response that has a body is always framed by Content-Length
                # (plan_response), and plan_head checked that the application's own length agrees.
                if not plan.send_body:
                    self.send(plan.head)
                elif plan.framing != "length":  # a carrier that frames every piece (HTTP/2 DATA frames)
                    framer = self.conn.body_framer(plan)
                    assert framer is not None
                    self.send(plan.head + framer.write(chunk) + framer.finish())
                elif size < 65536:
                    self.send(plan.head + chunk)
                else:  # no copy of a big body: the transport writes both with one writev
                    self.send(plan.head)
                    self.send(chunk)
                self.sent = size
            else:
                self.result = result
                if type(result) is FileWrapper and self.conn.try_sendfile(self, result):
                    return False
                try:
                    self.iterator = iter(result)
                except TypeError as exc:
                    name = type(result).__name__
                    raise BadResponse(f"the application returned {name}, not an iterable ({exc})") from None
                plan = None
        except ClientDisconnected:
            self.gone()
            return True
        except BadResponse:
            self.fail("Invalid response from the WSGI application")
            return True
        except Exception:
            self.fail("Error in the WSGI application")
            return True
        if plan is not None:
            self.done(plan.keep_alive)
            return True
        return self.pump(suspendable)

    def run_threaded(self) -> None:
        self.run(False)

    def pump(self, suspendable: bool) -> bool:
        """Iterate the body; stop early (return False) while the transport is paused and `suspendable`."""
        iterator = self.iterator
        assert iterator is not None
        conn = self.conn
        try:
            for chunk in iterator:
                self.body(chunk)
                if suspendable and conn.write_paused:
                    return False
            self.finish()
        except ClientDisconnected:
            self.gone()
            return True
        except Exception as exc:
            self.close_result()
            kind = "Invalid response from" if isinstance(exc, BadResponse) else "Error in"
            self.fail(f"{kind} the WSGI application")
            return True
        self.close_result()
        self.done(self.keep_alive())
        return True

    def keep_alive(self) -> bool:
        plan = self.plan
        return plan is not None and plan.keep_alive

    def close_result(self) -> None:
        result, self.result = self.result, None
        if result is None:
            return
        try:
            close = getattr(result, "close", None)  # in the try: a property can raise too
            if close is not None:
                close()
        except Exception:
            log.exception("Error in the close() method of the WSGI response")

    def fail(self, message: str) -> None:
        """Log the current exception; answer 500 when nothing was sent, else cut the connection."""
        exc = sys.exc_info()[1]
        if isinstance(exc, BadResponse):
            log.error(
                "%s: %s (%s %s)", message, exc, self.environ["REQUEST_METHOD"], self.environ["PATH_INFO"]
            )
        else:
            log.exception("%s (%s %s)", message, self.environ["REQUEST_METHOD"], self.environ["PATH_INFO"])
        self.close_result()
        if self.plan is None:
            error = self.body_error or _INTERNAL_ERROR
            self.status = f"{error.status} Error"
            try:
                self.send(self.conn.error_response(error, self.extra()))
            except ClientDisconnected:
                pass
        self.done(False)

    def done(self, keep_alive: bool) -> None:
        if self.threaded:
            self.conn.state.post(self.conn.thread_done, self, keep_alive)
        else:
            self.conn.exchange_done(self, keep_alive)


def buffered_input(body: bytes) -> BytesIO:
    return BytesIO(body)
