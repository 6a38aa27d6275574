"""The few objects flask exposes that sockweb keeps under another shape, built from sockweb's own parts.

flask's ``flask.globals.request_ctx`` and ``app_ctx`` are proxies to the active contexts; sockweb keeps the
contexts in the same ContextVars and exposes them through functions, so the proxies here only wrap those.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar, cast

from sockweb.framework.globals import LocalProxy, _app_ctx, _request_ctx

if TYPE_CHECKING:
    from sockweb.framework.ctx import AppContext, RequestContext

__all__ = ["app_ctx", "request_ctx"]

T = TypeVar("T")


class _ContextProxy(LocalProxy[T]):
    """A proxy to a context object; ``with request_ctx:`` pushes the current context again, as in flask."""

    __slots__ = ()

    def __enter__(self) -> Any:
        return self._get_current_object().__enter__()  # type: ignore[attr-defined]

    def __exit__(self, *exc_info: object) -> Any:
        return self._get_current_object().__exit__(*exc_info)  # type: ignore[attr-defined]


app_ctx: AppContext = cast("AppContext", _ContextProxy(_app_ctx))
request_ctx: RequestContext = cast("RequestContext", _ContextProxy(_request_ctx))
