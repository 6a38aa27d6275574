"""The user-facing context proxies: ``request``, ``session``, ``g`` and ``current_app``.

Strategy: two :class:`contextvars.ContextVar` slots hold the active application context and request
context. Each request sets them on entry and resets them with the tokens it got, so every thread of a
server's pool (and every asyncio task) sees only its own request. The proxies are a small
:class:`LocalProxy` that looks the object up on each use; the framework's own dispatch never goes through
them and passes its context objects explicitly instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

if TYPE_CHECKING:
    from .app import App
    from .ctx import AppContext, RequestContext, _AppCtxGlobals
    from .sessions import SecureCookieSession
    from .wrappers import Request

T = TypeVar("T")

_NO_APP = (
    "Working outside of application context: this needs an active App. Use 'with app.app_context():' "
    "(or app.test_request_context()) around code that runs outside a request."
)
_NO_REQUEST = (
    "Working outside of request context: this needs an active HTTP request. Use "
    "'with app.test_request_context():' in tests and scripts."
)

_cv_app: ContextVar[AppContext] = ContextVar("sockweb.app_ctx")
_cv_request: ContextVar[RequestContext] = ContextVar("sockweb.request_ctx")


class LocalProxy(Generic[T]):
    """Forwards every operation to the object returned by ``lookup()`` at the time of use."""

    __slots__ = ("__lookup",)

    def __init__(self, lookup: Callable[[], T]) -> None:
        object.__setattr__(self, "_LocalProxy__lookup", lookup)

    def _get_current_object(self) -> T:
        """The proxied object itself (to pass it to another thread, or for identity checks)."""
        current: T = self.__lookup()
        return current

    def __getattribute__(self, name: str) -> Any:
        # The proxy's own names (its methods, __class__, ...) are its own; every other one is the object's.
        # Written as __getattribute__ rather than __getattr__, so that forwarding does not first fail
        # the proxy's own lookup (an AttributeError raised and caught on every request.x).
        if name in _PROXY_NAMES:
            return object.__getattribute__(self, name)
        return getattr(object.__getattribute__(self, "_LocalProxy__lookup")(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.__lookup(), name, value)

    def __delattr__(self, name: str) -> None:
        delattr(self.__lookup(), name)

    def __getitem__(self, key: Any) -> Any:
        return self.__lookup()[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        self.__lookup()[key] = value

    def __delitem__(self, key: Any) -> None:
        del self.__lookup()[key]

    def __contains__(self, item: Any) -> bool:
        return item in self.__lookup()

    def __iter__(self) -> Iterator[Any]:
        return iter(self.__lookup())

    def __len__(self) -> int:
        return len(self.__lookup())

    def __bool__(self) -> bool:
        try:
            return bool(self.__lookup())
        except RuntimeError:
            return False  # no active context: falsy, so `if request:` works everywhere

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.__lookup()(*args, **kwargs)

    def __eq__(self, other: object) -> bool:
        return bool(self.__lookup() == other)

    def __ne__(self, other: object) -> bool:
        return bool(self.__lookup() != other)

    __hash__ = None  # type: ignore[assignment]

    def __str__(self) -> str:
        return str(self.__lookup())

    def __repr__(self) -> str:
        try:
            return repr(self.__lookup())
        except RuntimeError:
            return f"<{type(self).__name__} unbound>"

    def __dir__(self) -> list[str]:
        try:
            return dir(self.__lookup())
        except RuntimeError:
            return []


# What the proxy answers itself: the names its class has (as a normal lookup would find them first).
_PROXY_NAMES = frozenset(dir(LocalProxy))


def _app_ctx() -> AppContext:
    try:
        return _cv_app.get()
    except LookupError:
        raise RuntimeError(_NO_APP) from None


def _request_ctx() -> RequestContext:
    try:
        return _cv_request.get()
    except LookupError:
        raise RuntimeError(_NO_REQUEST) from None


def _lookup_app() -> App:
    try:  # one call less than _app_ctx().app: every proxied access comes here
        return _cv_app.get().app
    except LookupError:
        raise RuntimeError(_NO_APP) from None


def _lookup_g() -> _AppCtxGlobals:
    return _app_ctx().g


def _lookup_request() -> Request:
    try:  # one call less than _request_ctx().request: every proxied access comes here
        return _cv_request.get().request
    except LookupError:
        raise RuntimeError(_NO_REQUEST) from None


def _lookup_session() -> SecureCookieSession:
    return _request_ctx().session


def current_app_ctx() -> AppContext | None:
    """The active application context, or None."""
    return _cv_app.get(None)


def current_request_ctx() -> RequestContext | None:
    """The active request context, or None."""
    return _cv_request.get(None)


current_app: App = cast("App", LocalProxy(_lookup_app))
g: _AppCtxGlobals = cast("_AppCtxGlobals", LocalProxy(_lookup_g))
request: Request = cast("Request", LocalProxy(_lookup_request))
session: SecureCookieSession = cast("SecureCookieSession", LocalProxy(_lookup_session))
