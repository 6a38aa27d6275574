"""Running coroutine functions (``async def`` views, hooks, error handlers) to completion in a WSGI App.

Strategy: a WSGI request is handled by one thread that must return a response, so a coroutine function is
wrapped into a plain function that runs the coroutine to completion and returns its result. The rule,
without a dependency on asgiref:

* the calling thread runs no event loop (the normal case: a WSGI server thread, the test client):
  ``asyncio.run`` in that thread, one fresh loop per call;
* the calling thread already runs a loop (the App called from async code): ``asyncio.run`` in a short-lived
  worker thread, and the caller's thread waits for it (a running loop cannot be re-entered).

Either way the coroutine runs in a copy of the caller's ``contextvars`` context, so ``request``, ``g``,
``session`` and ``current_app`` work inside it. Such a view does not make the server asynchronous: the
thread is held until the coroutine ends, as with Flask.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


def _in_thread(func: Callable[[], T]) -> T:
    """``func()`` in a new thread with a copy of the current context; re-raises its exception."""
    context = contextvars.copy_context()
    outcome: list[Any] = []

    def target() -> None:
        try:
            outcome.append((True, context.run(func)))
        except BaseException as exc:
            outcome.append((False, exc))

    thread = threading.Thread(target=target, name="sockweb-async-view", daemon=True)
    thread.start()
    thread.join()
    ok, value = outcome[0]
    if not ok:
        raise value
    result: T = value
    return result


def run_coroutine(make: Callable[[], Awaitable[T]]) -> T:
    """Run the awaitable ``make()`` returns to completion (see the module docstring for where)."""

    async def main() -> T:
        return await make()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    return _in_thread(lambda: asyncio.run(main()))


def async_to_sync(func: Callable[..., Awaitable[T]]) -> Callable[..., T]:
    """A plain function calling the coroutine function ``func`` and running the result to completion."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        return run_coroutine(lambda: func(*args, **kwargs))

    return wrapper
