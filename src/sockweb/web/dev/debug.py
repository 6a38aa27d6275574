"""The debugger middleware: an error page with the traceback, and a PIN-locked console in its frames.

Strategy: :class:`DebuggedApplication` wraps a WSGI app and iterates its response itself, so an exception
raised while calling the app *or* while producing the body is caught in one place. If nothing of the body
has gone out yet, the response is replaced (``start_response`` with ``exc_info``) by a 500 page built by
:mod:`.tbinfo`; if part of it has, the response cannot be fixed any more: the exception is logged and
re-raised so the server closes the connection and the client sees a truncated response, never a complete
looking wrong one. Every caught exception is logged.

The traceback page shows source and the value of every local variable; the console evaluates Python in
a frame of a captured traceback, which is remote code execution by design. One gate,
:meth:`DebuggedApplication.trusted_client`, decides whether a request may see any of it: the request comes
from a loopback address (``REMOTE_ADDR`` in 127.0.0.0/8 or ::1) and names a local host (``localhost``, an
IP literal, or a configured trusted host: a page from a DNS-rebinding site fails). Every debugger
response goes through it, the traceback page and every console endpoint alike; a client that fails it
gets the toolkit's plain 500 page for an error (no traceback, no source, no locals) and 403 from the
endpoints, and the exception is logged as always. Running code needs two more checks, each enough to
refuse:

* the per-process secret embedded in the error page (another site cannot read it);
* an unlock cookie obtained by posting the PIN printed on the server's terminal. PINs are compared with
  :func:`hmac.compare_digest`; after ``MAX_PIN_ATTEMPTS`` wrong ones the console stays locked until the
  process restarts.

The PIN is not asked before showing the page, which is where it is typed: the page is for the developer
at this machine, which the gate establishes; the PIN guards running code.

A framework application catches its views' exceptions and answers its own 500 page, so the debugger
would never see them. :func:`attach_debugger`, which the development server uses to wrap an application,
first switches on the application's debug mode (exceptions propagate, templates reload) through a small
written-down protocol, :func:`enable_debug_mode`: every object of the wrapper chain that has a ``debug``
property with a setter (sockweb's ``App``, Flask's) gets ``debug = True``.

Captured tracebacks (with their live frames, which the console needs) live in a small LRU cache, so a
page that keeps failing does not keep every frame of every request alive.
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
import io
import ipaddress
import logging
import os
import secrets
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs

from sockweb.web.exceptions import InternalServerError

from .tbinfo import CapturedTraceback, capture, render_page, safe_repr

__all__ = [
    "PIN_ENV",
    "DebuggedApplication",
    "attach_debugger",
    "enable_debug_mode",
    "generate_pin",
    "is_loopback",
]

log = logging.getLogger("sockweb.web.dev.debug")

Environ = dict[str, Any]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

PIN_ENV = "SOCKWEB_DEBUGGER_PIN"  # lets the reloader keep one PIN across child restarts
MAX_PIN_ATTEMPTS = 5
MAX_TRACEBACKS = 16
MAX_OUTPUT = 64 * 1024
UNLOCK_LIFETIME = 8 * 3600.0
MAX_FORM = 256 * 1024
MAX_WRAPPERS = 32  # layers of middleware followed to find the application's debug switch


def generate_pin() -> str:
    """A random 9-digit PIN, grouped for reading: ``123-456-789``."""
    digits = f"{secrets.randbelow(10**9):09d}"
    return f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"


def _normalize_pin(pin: str) -> str:
    return "".join(ch for ch in pin if ch.isdigit())


def is_loopback(addr: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and IPv4-mapped loopback (``::ffff:127.0.0.1``)."""
    if not addr:
        return False
    try:
        ip = ipaddress.ip_address(addr.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


def enable_debug_mode(app: object) -> list[object]:
    """Switch on the debug mode of ``app`` and of the applications behind its wrappers; return them.

    The protocol between the development server and a framework: an application whose debug mode
    changes how it handles errors declares it as a ``debug`` property with a setter (sockweb's ``App``:
    exceptions propagate instead of becoming its 500 page, templates auto-reload; Flask's ``debug`` does
    the same). Each such object is given ``debug = True``. Wrappers are followed through their ``app``
    attribute, the WSGI middleware convention (``StaticFiles``, ``LintMiddleware``, werkzeug's
    middlewares), and a bound method (``app.wsgi_app``) through the object it is bound to. A plain
    ``debug`` attribute is left alone: it may mean anything.
    """
    switched: list[object] = []
    seen: set[int] = set()
    current: object = app
    while current is not None and id(current) not in seen and len(seen) < MAX_WRAPPERS:
        seen.add(id(current))
        if inspect.ismethod(current):
            current = current.__self__
            continue
        switch = getattr(type(current), "debug", None)
        if isinstance(switch, property) and switch.fset is not None:
            switch.fset(current, True)
            switched.append(current)
        try:
            current = getattr(current, "app", None)
        except Exception:  # a proxy or lazy attribute that cannot answer here: stop looking
            break
    return switched


def attach_debugger(app: WSGIApp, *, evalex: bool = True, pin: str | None = None) -> DebuggedApplication:
    """What ``--debug`` does to the served application: its debug mode on, then the debugger around it."""
    for found in enable_debug_mode(app):
        log.info("debug mode on for %r", found)
    return DebuggedApplication(app, evalex=evalex, pin=pin)


def _request_line(environ: Environ) -> str:
    return f"{environ.get('REQUEST_METHOD', '?')} {environ.get('PATH_INFO', '')}"


def _host_name(environ: Environ) -> str:
    host = str(environ.get("HTTP_HOST") or environ.get("SERVER_NAME") or "")
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _is_local_host_name(name: str, trusted: frozenset[str]) -> bool:
    name = name.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost") or name in trusted:
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class _Console:
    """A namespace built from one frame; assignments made in the console persist between commands.

    Output is captured by swapping ``sys.stdout``/``sys.stderr`` for the command's duration, which is
    process-wide: a print from another request's thread in that instant lands in the console. A
    development server can live with that.
    """

    def __init__(self, globals_: dict[str, Any], locals_: dict[str, Any]) -> None:
        self.namespace: dict[str, Any] = dict(globals_)
        self.namespace.update(locals_)
        self.lock = threading.Lock()

    def run(self, source: str) -> str:
        out = io.StringIO()
        with self.lock, redirect_stdout(out), redirect_stderr(out):
            try:
                try:
                    code = compile(source, "<console>", "eval")
                except SyntaxError:
                    exec(compile(source, "<console>", "exec"), self.namespace)
                else:
                    result = eval(code, self.namespace)
                    if result is not None:
                        self.namespace["_"] = result
                        out.write(safe_repr(result, MAX_OUTPUT) + "\n")
            except BaseException as exc:  # SystemExit from the console must not stop the server
                # drop this function's own frame from what the user sees
                tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
                out.write("".join(traceback.format_exception(type(exc), exc, tb)))
        text = out.getvalue()
        return text if len(text) <= MAX_OUTPUT else text[:MAX_OUTPUT] + "\n[output truncated]\n"


class _Pin:
    """The PIN check with its attempt counter and the unlock tokens it hands out."""

    def __init__(self, pin: str) -> None:
        self.pin = pin
        self.failures = 0
        self.tokens: dict[str, float] = {}  # token -> expiry (monotonic)
        self.lock = threading.Lock()

    @property
    def locked_out(self) -> bool:
        return self.failures >= MAX_PIN_ATTEMPTS

    def try_unlock(self, attempt: str) -> str | None:
        """A new unlock token if ``attempt`` is the PIN, else None (and one attempt fewer)."""
        with self.lock:
            if self.locked_out:
                return None
            expected = _normalize_pin(self.pin).encode()
            if hmac.compare_digest(_normalize_pin(attempt).encode(), expected):
                token = secrets.token_urlsafe(24)
                now = time.monotonic()
                self.tokens = {t: exp for t, exp in self.tokens.items() if exp > now}
                self.tokens[token] = now + UNLOCK_LIFETIME
                return token
            self.failures += 1
            return None

    def is_unlocked(self, token: str | None) -> bool:
        if not token:
            return False
        with self.lock:
            for known, expiry in self.tokens.items():
                if hmac.compare_digest(known.encode(), token.encode()) and expiry > time.monotonic():
                    return True
        return False


def _text(
    start_response: StartResponse, status: str, text: str, extra: list[tuple[str, str]] | None = None
) -> list[bytes]:
    body = text.encode("utf-8")
    headers = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
        ("X-Content-Type-Options", "nosniff"),
    ]
    start_response(status, headers + (extra or []))
    return [body]


class DebuggedApplication:
    """Wrap ``app`` so that unhandled exceptions answer an HTML traceback page (500).

    ``evalex`` enables the interactive console (PIN-locked, loopback only). ``pin`` is the console PIN:
    None reads ``SOCKWEB_DEBUGGER_PIN`` from the environment or generates a random one; read it from
    :attr:`pin` to print it. ``trusted_hosts`` adds Host names (besides localhost and IP literals) the
    console accepts.
    """

    def __init__(
        self,
        app: WSGIApp,
        evalex: bool = True,
        pin: str | None = None,
        *,
        console_path: str = "/__debugger__",
        trusted_hosts: Iterable[str] = (),
        secret: str | None = None,
    ) -> None:
        self.app = app
        self.evalex = evalex
        self.pin: str = pin or os.environ.get(PIN_ENV) or generate_pin()
        self.console_path = console_path.rstrip("/")
        self.trusted_hosts = frozenset(h.lower() for h in trusted_hosts)
        self.secret = secret or secrets.token_urlsafe(24)
        self.cookie_name = "sockweb_debugger_" + hashlib.sha256(self.secret.encode()).hexdigest()[:10]
        self._pin = _Pin(self.pin)
        self._tracebacks: OrderedDict[str, CapturedTraceback] = OrderedDict()
        self._consoles: dict[str, _Console] = {}
        self._lock = threading.Lock()
        self._endpoints: dict[str, Callable[[Environ, StartResponse, dict[str, str]], list[bytes]]] = {
            "/console": self._handle_console,
            "/pin": self._handle_pin,
        }

    # -- WSGI -------------------------------------------------------------------------------------

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO") or "")
        if self.evalex and path.startswith(self.console_path + "/"):
            return self._endpoint(environ, start_response, path[len(self.console_path) :])
        try:
            app_iter = self.app(environ, start_response)
        except Exception as exc:
            return [self._error_page(environ, start_response, exc)]
        if type(app_iter) in (list, tuple):
            return app_iter  # iterating it cannot raise; the server keeps its fast path for lists
        wrapper = environ.get("wsgi.file_wrapper")
        if isinstance(wrapper, type) and isinstance(app_iter, wrapper):
            return app_iter  # a file: hand it to the server as is, so it can still use sendfile
        return self._iterate(environ, start_response, app_iter)

    def _iterate(
        self, environ: Environ, start_response: StartResponse, app_iter: Iterable[bytes]
    ) -> Iterator[bytes]:
        body_started = False
        try:
            for chunk in app_iter:
                body_started = body_started or bool(chunk)
                yield chunk
        except Exception as exc:
            if body_started:
                log.error(
                    "Exception on %s after the response started; closing the connection",
                    _request_line(environ),
                    exc_info=exc,
                )
                raise
            yield self._error_page(environ, start_response, exc)
        finally:
            close = getattr(app_iter, "close", None)
            if close is not None:
                close()

    def _error_page(self, environ: Environ, start_response: StartResponse, exc: Exception) -> bytes:
        """Log ``exc``, start a 500 response and return its body (the page, plain text, or for a client
        that may not see debugger internals the plain 500 page)."""
        request = _request_line(environ)
        log.error("Exception on %s", request, exc_info=exc)
        if not self.trusted_client(environ):
            return self._plain_error(environ, start_response, exc)
        captured = self._remember(exc)
        console = self.evalex
        nonce = secrets.token_urlsafe(16)
        accept = str(environ.get("HTTP_ACCEPT") or "")
        if accept and "text/html" not in accept and "*/*" not in accept:
            body = captured.text.encode("utf-8")
            content_type = "text/plain; charset=utf-8"
        else:
            page = render_page(
                captured,
                request_line=request,
                console=console,
                base=self._base(environ),
                secret=self.secret,
                nonce=nonce,
            )
            body = page.encode("utf-8")
            content_type = "text/html; charset=utf-8"
        headers = [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            ("X-Content-Type-Options", "nosniff"),
            (
                "Content-Security-Policy",
                f"default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-{nonce}'; "
                "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'",
            ),
        ]
        # raises (the original exception) if the server already sent the app's headers
        start_response("500 INTERNAL SERVER ERROR", headers, (type(exc), exc, exc.__traceback__))
        return body

    def _plain_error(self, environ: Environ, start_response: StartResponse, exc: Exception) -> bytes:
        """The toolkit's 500 page, as the application would answer without the debugger."""
        error = InternalServerError()
        body = error.get_body(environ).encode("utf-8")
        headers = [
            *error.get_headers(environ),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
        ]
        start_response("500 INTERNAL SERVER ERROR", headers, (type(exc), exc, exc.__traceback__))
        return body

    def _base(self, environ: Environ) -> str:
        """Where the console endpoints are, seen from the client (the app may be mounted under a prefix)."""
        return str(environ.get("SCRIPT_NAME") or "").rstrip("/") + self.console_path

    def _remember(self, exc: BaseException) -> CapturedTraceback:
        tb_id = secrets.token_hex(6)
        captured = capture(exc, tb_id, skip=1)  # frame 0 is __call__ or _iterate
        with self._lock:
            self._tracebacks[tb_id] = captured
            while len(self._tracebacks) > MAX_TRACEBACKS:
                _, dropped = self._tracebacks.popitem(last=False)
                for frame_id in dropped.frames():
                    self._consoles.pop(frame_id, None)
        return captured

    # -- the gate ----------------------------------------------------------------------------------

    def trusted_client(self, environ: Environ) -> bool:
        """Whether this request may see debugger internals (tracebacks, source, locals, the console).

        The one check behind every debugger response: a loopback peer that names a local host. Behind a
        reverse proxy on the same machine every peer is loopback; the proxy's public Host name then
        fails the second half unless it was added to ``trusted_hosts`` (the server rewrites
        ``REMOTE_ADDR`` from forwarding headers only for ``--forwarded-allow-ips``).
        """
        return is_loopback(environ.get("REMOTE_ADDR")) and _is_local_host_name(
            _host_name(environ), self.trusted_hosts
        )

    # -- console endpoints -------------------------------------------------------------------------

    def _endpoint(self, environ: Environ, start_response: StartResponse, name: str) -> list[bytes]:
        # the gate comes first: an outside client learns nothing, not even which endpoints exist
        if not self.trusted_client(environ):
            return _text(start_response, "403 FORBIDDEN", "The debugger only answers local requests.\n")
        handler = self._endpoints.get(name)
        if handler is None:
            return _text(start_response, "404 NOT FOUND", "Not found.\n")
        if environ.get("REQUEST_METHOD") != "POST":
            return _text(start_response, "405 METHOD NOT ALLOWED", "Use POST.\n", [("Allow", "POST")])
        form = self._read_form(environ)
        if not hmac.compare_digest(form.get("s", "").encode(), self.secret.encode()):
            return _text(start_response, "403 FORBIDDEN", "Bad or missing debugger secret.\n")
        return handler(environ, start_response, form)

    def _read_form(self, environ: Environ) -> dict[str, str]:
        try:
            length = min(int(environ.get("CONTENT_LENGTH") or 0), MAX_FORM)
        except ValueError:
            length = 0
        raw = environ["wsgi.input"].read(length) if length > 0 else b""
        parsed = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
        return {key: values[0] for key, values in parsed.items()}

    def _cookie_token(self, environ: Environ) -> str | None:
        cookie = SimpleCookie()
        try:
            cookie.load(str(environ.get("HTTP_COOKIE") or ""))
        except Exception:
            return None
        morsel = cookie.get(self.cookie_name)
        return morsel.value if morsel is not None else None

    def _handle_pin(
        self, environ: Environ, start_response: StartResponse, form: dict[str, str]
    ) -> list[bytes]:
        if self._pin.locked_out:
            return _text(
                start_response, "429 TOO MANY REQUESTS", "Too many wrong PINs: restart the server.\n"
            )
        token = self._pin.try_unlock(form.get("pin", ""))
        if token is None:
            left = MAX_PIN_ATTEMPTS - self._pin.failures
            if left <= 0:
                log.warning("debugger console locked after %d wrong PINs", MAX_PIN_ATTEMPTS)
                return _text(
                    start_response, "429 TOO MANY REQUESTS", "Too many wrong PINs: restart the server.\n"
                )
            return _text(start_response, "401 UNAUTHORIZED", f"Wrong PIN ({left} attempts left).\n")
        cookie = (
            f"{self.cookie_name}={token}; Path={self._base(environ)}/; HttpOnly; SameSite=Strict; "
            f"Max-Age={int(UNLOCK_LIFETIME)}"
        )
        return _text(start_response, "200 OK", "Unlocked.\n", [("Set-Cookie", cookie)])

    def _handle_console(
        self, environ: Environ, start_response: StartResponse, form: dict[str, str]
    ) -> list[bytes]:
        if not self._pin.is_unlocked(self._cookie_token(environ)):
            if self._pin.locked_out:
                return _text(start_response, "429 TOO MANY REQUESTS", "Console locked: restart the server.\n")
            return _text(start_response, "401 UNAUTHORIZED", "PIN required.\n")
        console = self._console_for(form.get("frame", ""))
        if console is None:
            return _text(
                start_response, "404 NOT FOUND", "That traceback is gone (too old): reload the page.\n"
            )
        return _text(start_response, "200 OK", console.run(form.get("cmd", "")))

    def _console_for(self, frame_id: str) -> _Console | None:
        with self._lock:
            console = self._consoles.get(frame_id)
            if console is not None:
                return console
            captured = self._tracebacks.get(frame_id.split("-", 1)[0])
            frame = captured.frames().get(frame_id) if captured is not None else None
            if frame is None:
                return None
            console = _Console(frame.frame.f_globals, dict(frame.frame.f_locals))
            self._consoles[frame_id] = console
            return console
