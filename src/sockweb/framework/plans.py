"""What runs for an endpoint, resolved once: hooks in order, and the error handler for an exception.

Strategy: registration fills tables keyed by scope (``None`` for the App, a dotted blueprint name for a
blueprint). Per request, walking those tables would mean merging lists for the App and every enclosing
blueprint. Instead :func:`build_plan` flattens them once per endpoint into a :class:`Plan` of tuples, in
the order they must run: before-request hooks and URL value preprocessors from the App inwards, after-
request and teardown hooks from the innermost blueprint outwards, each scope's list reversed. The App
caches plans and drops them on any registration. :func:`find_error_handler` encodes the precedence of
error handlers; the App caches its answers per exception class, status code and blueprint chain.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .scaffold import (
    AfterRequestFunc,
    BeforeRequestFunc,
    ErrorHandler,
    ScopeKey,
    TeardownFunc,
    URLValuePreprocessor,
    ViewFunc,
)

if TYPE_CHECKING:
    from .scaffold import Scaffold


class Plan:
    """What runs for one endpoint (``view`` is None for requests that matched no rule)."""

    __slots__ = ("after", "before", "blueprints", "preprocessors", "teardown", "view")

    def __init__(
        self,
        *,
        view: ViewFunc | None,
        blueprints: tuple[str, ...],
        before: tuple[BeforeRequestFunc, ...],
        after: tuple[AfterRequestFunc, ...],
        teardown: tuple[TeardownFunc, ...],
        preprocessors: tuple[URLValuePreprocessor, ...],
    ) -> None:
        self.view = view
        self.blueprints = blueprints
        self.before = before
        self.after = after
        self.teardown = teardown
        self.preprocessors = preprocessors


def blueprint_chain(endpoint: str | None) -> tuple[str, ...]:
    """``"a.b.view"`` -> ``("a.b", "a")``: the blueprints of an endpoint, innermost first."""
    if not endpoint or "." not in endpoint:
        return ()
    name = endpoint.rpartition(".")[0]
    chain = [name]
    while "." in name:
        name = name.rpartition(".")[0]
        chain.append(name)
    return tuple(chain)


def _same(func: Callable[..., Any]) -> Callable[..., Any]:
    return func


def build_plan(
    app: Scaffold, endpoint: str | None, sync: Callable[[Callable[..., Any]], Callable[..., Any]] = _same
) -> Plan:
    """Flatten the App's hook tables for ``endpoint``; ``sync`` wraps each function once (the App's
    ``ensure_sync``, so coroutine functions run to completion)."""
    chain = blueprint_chain(endpoint)
    outer_first: tuple[ScopeKey, ...] = (None, *reversed(chain))
    inner_first: tuple[ScopeKey, ...] = (*chain, None)

    def forward(table: Mapping[ScopeKey, list[Any]]) -> tuple[Any, ...]:
        return tuple(sync(f) for name in outer_first for f in table.get(name, ()))

    def backward(table: Mapping[ScopeKey, list[Any]]) -> tuple[Any, ...]:
        return tuple(sync(f) for name in inner_first for f in reversed(table.get(name, ())))

    view = app.view_functions.get(endpoint) if endpoint is not None else None
    return Plan(
        view=sync(view) if view is not None else None,
        blueprints=chain,
        before=forward(app.before_request_funcs),
        after=backward(app.after_request_funcs),
        teardown=backward(app.teardown_request_funcs),
        preprocessors=forward(app.url_value_preprocessors),
    )


def find_error_handler(
    spec: Mapping[ScopeKey, Mapping[int | None, Mapping[type[BaseException], ErrorHandler]]],
    exc_class: type[BaseException],
    code: int | None,
    blueprints: tuple[str, ...],
) -> ErrorHandler | None:
    """The handler for an exception of ``exc_class`` (with HTTP status ``code``, if any).

    A handler for the status code beats one for a class; within each, the innermost blueprint beats
    its parents and the App, and a subclass beats its bases (the class's MRO order).
    """
    mro = exc_class.__mro__
    for lookup_code in (code, None) if code is not None else (None,):
        for name in (*blueprints, None):
            handlers = spec.get(name, {}).get(lookup_code)
            if not handlers:
                continue
            for cls in mro:
                handler = handlers.get(cls)
                if handler is not None:
                    return handler
    return None
