"""Application and request contexts.

Strategy: an :class:`AppContext` carries the App and ``g``; a :class:`RequestContext` carries one
request, its session (opened lazily, on first use) and the URL adapter, plus the AppContext it runs
in. ``push()`` sets the ContextVars of :mod:`.globals` and keeps the tokens; ``pop()`` runs the teardown
hooks and resets the variables with those tokens, so nested and concurrent contexts (threads of a
server pool, asyncio tasks) never see each other's values. Contexts are also context managers.
The framework's dispatch hands these objects around explicitly; only user code goes through the proxies.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextvars import Token
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .globals import _cv_app, _cv_request
from .signals import appcontext_popped, appcontext_pushed

if TYPE_CHECKING:
    from sockweb.web.response import Response
    from sockweb.web.routing import MapAdapter

    from .app import App
    from .sessions import SecureCookieSession
    from .wrappers import Request

_sentinel = object()


#: environ key of a callable the App hands the request context to before ending the request; the test
#: client sets it inside ``with client:`` to keep the last request's contexts active
PRESERVE_CONTEXT = "sockweb.preserve_context"


class _AppCtxGlobals:
    """``g``: a namespace for data that lives as long as the application context (one request)."""

    def get(self, name: str, default: Any = None) -> Any:
        return self.__dict__.get(name, default)

    def pop(self, name: str, default: Any = _sentinel) -> Any:
        if default is _sentinel:
            return self.__dict__.pop(name)
        return self.__dict__.pop(name, default)

    def setdefault(self, name: str, default: Any = None) -> Any:
        return self.__dict__.setdefault(name, default)

    def __contains__(self, name: object) -> bool:
        return name in self.__dict__

    def __iter__(self) -> Iterator[str]:
        return iter(self.__dict__)

    def __getattr__(self, name: str) -> Any:
        # Only reached for missing attributes: say which one, as AttributeError (so getattr defaults work).
        raise AttributeError(f"'g' has no attribute {name!r}")

    def __repr__(self) -> str:
        return f"<sockweb.g {self.__dict__!r}>"


class AppContext:
    """The App being used, and ``g``. Pushed for each request, or by ``with app.app_context():``."""

    __slots__ = ("_tokens", "app", "g", "url_adapter")

    def __init__(self, app: App) -> None:
        self.app = app
        self.g: _AppCtxGlobals = app.app_ctx_globals_class()
        self.url_adapter: MapAdapter | None = None
        self._tokens: list[Token[AppContext]] = []

    def push(self) -> None:
        self._tokens.append(_cv_app.set(self))
        if appcontext_pushed.receivers:
            appcontext_pushed.send(self.app)

    def pop(self, exc: BaseException | None = _sentinel) -> None:  # type: ignore[assignment]
        """Run the teardown_appcontext hooks, then deactivate this context."""
        try:
            if len(self._tokens) == 1:
                if exc is _sentinel:
                    exc = sys.exc_info()[1]
                self.app.do_teardown_appcontext(exc)
        finally:
            token = self._tokens.pop()
            _cv_app.reset(token)
        if appcontext_popped.receivers:
            appcontext_popped.send(self.app)

    def __enter__(self) -> AppContext:
        self.push()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.pop(exc)


class RequestContext:
    """One request being handled: the Request, its session, the matched URL, and its AppContext."""

    __slots__ = (
        "_after_request_functions",
        "_pushed_app_ctx",
        "_session",
        "_tokens",
        "app",
        "app_ctx",
        "plan",
        "request",
        "streaming",
        "url_adapter",
    )

    def __init__(
        self, app: App, environ: dict[str, Any], request: Request | None = None, session: Any = None
    ) -> None:
        self.app = app
        self.request: Request = request if request is not None else app.request_class(environ)
        self.request.app = app
        self.url_adapter: MapAdapter | None = None
        self._session: SecureCookieSession | None = session
        self._after_request_functions: list[Callable[[Response], Response]] = []
        self.app_ctx: AppContext | None = None
        self._pushed_app_ctx: list[bool] = []
        self._tokens: list[Token[RequestContext]] = []
        #: set by stream_with_context: the teardown waits for the end of the response body
        self.streaming = False
        #: what the App resolved for the matched endpoint (set during dispatch)
        self.plan: Any = None

    @property
    def session(self) -> SecureCookieSession:
        """The session, read from the request's cookie the first time it is needed."""
        session = self._session
        if session is None:
            session = self._session = self.app.open_session(self.request)
        return session

    @session.setter
    def session(self, value: SecureCookieSession) -> None:
        self._session = value

    @property
    def session_opened(self) -> bool:
        return self._session is not None

    def push(self) -> None:
        """Activate this context (and an AppContext for its App unless one is already active).

        The URL is matched now if it was not yet, so ``request.endpoint`` and relative ``url_for``
        work in ``test_request_context()`` too.
        """
        if self.url_adapter is None:
            self.plan = self.app._match(self)
        app_ctx = _cv_app.get(None)
        if app_ctx is None or app_ctx.app is not self.app:
            app_ctx = self.app_ctx = AppContext(self.app)
            app_ctx.push()
            self._pushed_app_ctx.append(True)
        else:
            self.app_ctx = app_ctx
            self._pushed_app_ctx.append(False)
        self._tokens.append(_cv_request.set(self))

    def pop(self, exc: BaseException | None = _sentinel) -> None:  # type: ignore[assignment]
        """Run the teardown_request hooks, deactivate, and pop the AppContext pushed with this one."""
        if exc is _sentinel:
            exc = sys.exc_info()[1]
        outermost = len(self._tokens) == 1
        try:
            if outermost:
                self.app.do_teardown_request(self, exc)
                close = getattr(self.request, "close", None)
                if close is not None:
                    close()
        finally:
            _cv_request.reset(self._tokens.pop())
            if self._pushed_app_ctx.pop() and self.app_ctx is not None:
                self.app_ctx.pop(exc)

    def copy(self) -> RequestContext:
        """A new context for the same request and session (for work continued in another thread)."""
        return type(self)(self.app, self.request.environ, self.request, self._session)

    def __enter__(self) -> RequestContext:
        self.push()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.pop(exc)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.request.method} {self.request.path!r} of {self.app.name!r}>"


def has_request_context() -> bool:
    """True inside a request (or test request) context."""
    return _cv_request.get(None) is not None


def has_app_context() -> bool:
    """True inside an application context."""
    return _cv_app.get(None) is not None


def after_this_request(f: Callable[[Response], Response]) -> Callable[[Response], Response]:
    """Run ``f(response)`` after the current request only (before the App's after_request hooks)."""
    ctx = _cv_request.get(None)
    if ctx is None:
        raise RuntimeError("after_this_request() needs an active request context")
    ctx._after_request_functions.append(f)
    return f


def copy_current_request_context(f: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``f`` so it runs inside a copy of the current request context (e.g. in another thread)."""
    import functools

    ctx = _cv_request.get(None)
    if ctx is None:
        raise RuntimeError("copy_current_request_context() needs an active request context")
    copied = ctx.copy()

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with copied:
            return f(*args, **kwargs)

    return wrapper
