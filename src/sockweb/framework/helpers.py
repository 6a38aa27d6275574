"""Helpers for views: URLs, redirects, errors, files, flashed messages and streaming.

Strategy: each helper is a thin function over the active contexts (it is called from user code, where
the proxies are the point) and the toolkit: ``url_for`` delegates to :meth:`App.url_for`, ``send_file``
to the toolkit's conditional file response, ``abort`` is the toolkit's. :func:`stream_with_context`
keeps the request context alive while a streamed body is produced: each step of the generator runs with
the context variables set (and reset right after, so it works whichever server thread drives it), and
the request's teardown waits until the body is closed.
"""

from __future__ import annotations

import functools
import html
import os
from collections.abc import Callable, Iterable, Iterator
from typing import IO, TYPE_CHECKING, Any, NoReturn, TypeVar

from sockweb.web.exceptions import Aborter, NotFound
from sockweb.web.response import Response as BaseResponse
from sockweb.web.response import send_file as _send_file
from sockweb.web.security import safe_join

from .globals import _cv_app, _cv_request, _request_ctx, current_app_ctx

if TYPE_CHECKING:
    from datetime import datetime

    from .ctx import RequestContext

__all__ = [
    "abort",
    "flash",
    "get_flashed_messages",
    "make_response",
    "redirect",
    "safe_join",
    "send_file",
    "send_from_directory",
    "stream_with_context",
    "url_for",
]

T = TypeVar("T")


def url_for(
    endpoint: str,
    /,
    *,
    _anchor: str | None = None,
    _method: str | None = None,
    _scheme: str | None = None,
    _external: bool | None = None,
    **values: Any,
) -> str:
    """The URL of ``endpoint`` built with ``values`` (see :meth:`App.url_for`)."""
    ctx = current_app_ctx()
    if ctx is None:
        raise RuntimeError("url_for() needs an application context (inside a request, or app.app_context())")
    return ctx.app.url_for(
        endpoint, _anchor=_anchor, _method=_method, _scheme=_scheme, _external=_external, **values
    )


_default_aborter = Aborter()


def abort(status: int | BaseResponse, *args: Any, **kwargs: Any) -> NoReturn:
    """Raise the HTTP exception for ``status`` (extra arguments go to its constructor), through the
    active App's :attr:`~.App.aborter` (which may map more codes) or the toolkit's default one."""
    ctx = current_app_ctx()
    (ctx.app.aborter if ctx is not None else _default_aborter)(status, *args, **kwargs)


def redirect(location: str, code: int = 302, Response: type[BaseResponse] | None = None) -> BaseResponse:
    """A redirect response to ``location`` (302 by default; 303 after a POST, 307/308 keep the method).

    Inside an application context (and without ``Response``) the App's :meth:`~.App.redirect` makes it,
    so an App may change how every redirect looks."""
    if Response is None:
        ctx = current_app_ctx()
        if ctx is not None:
            return ctx.app.redirect(location, code)
    return make_redirect(location, code, Response or BaseResponse)


def make_redirect(location: str, code: int, Response: type[BaseResponse]) -> BaseResponse:
    """The redirect response of :func:`redirect`, built with the ``Response`` class."""
    escaped = html.escape(location, quote=True)
    body = (
        "<!doctype html>\n<html lang=en>\n<title>Redirecting...</title>\n<h1>Redirecting...</h1>\n"
        f'<p>You should be redirected to <a href="{escaped}">{escaped}</a>.</p>\n'
    )
    response = Response(body, code, mimetype="text/html")
    response.headers.set("Location", location)
    return response


def make_response(*args: Any) -> BaseResponse:
    """Turn view-style return values into a Response (to add headers before returning it)."""
    ctx = current_app_ctx()
    if ctx is None:
        raise RuntimeError("make_response() needs an application context")
    if not args:
        return ctx.app.response_class()
    return ctx.app.make_response(args[0] if len(args) == 1 else args)


def send_file(  # noqa: PLR0917 - the positional order is the documented, Flask-compatible one
    path_or_file: str | os.PathLike[str] | IO[bytes],
    mimetype: str | None = None,
    as_attachment: bool = False,
    download_name: str | None = None,
    conditional: bool = True,
    etag: bool | str = True,
    last_modified: datetime | float | None = None,
    max_age: int | None = None,
) -> BaseResponse:
    """Send a file (path or binary file object) with type, ETag, Last-Modified, 304 and ranges.

    A relative path is taken relative to the App's root folder.
    """
    ctx = _request_ctx()
    if isinstance(path_or_file, (str, os.PathLike)) and not os.path.isabs(path_or_file):
        path_or_file = os.path.join(ctx.app.root_path, path_or_file)
    if max_age is None:
        max_age = ctx.app.get_send_file_max_age(None)
    return _send_file(
        path_or_file,
        ctx.request.environ,
        mimetype=mimetype,
        as_attachment=as_attachment,
        download_name=download_name,
        conditional=conditional,
        etag=etag,
        max_age=max_age,
        last_modified=last_modified,
    )


def send_from_directory(
    directory: str | os.PathLike[str],
    path: str | os.PathLike[str],
    *,
    allow_hidden: bool = True,
    **kwargs: Any,
) -> BaseResponse:
    """Send ``path`` from ``directory``; anything :func:`~sockweb.web.security.safe_join` refuses
    (``..``, encoded separators, symlinks out ...) or missing is 404, and with ``allow_hidden=False`` so
    is a hidden file or folder (the static routes pass that, as ``sockweb static`` does by default)."""
    ctx = _request_ctx()
    root = os.fspath(directory)
    path = os.fspath(path)
    if not os.path.isabs(root):
        root = os.path.join(ctx.app.root_path, root)
    # the toolkit's one rule: refused and missing are the same 404
    real = safe_join(root, path, allow_hidden=allow_hidden)
    if real is None or not os.path.isfile(real):
        raise NotFound()
    if "max_age" not in kwargs or kwargs["max_age"] is None:
        kwargs["max_age"] = ctx.app.get_send_file_max_age(path)
    return send_file(real, **kwargs)


# -- flashed messages (stored in the session) -------------------------------------------------------------


def flash(message: str, category: str = "message") -> None:
    """Remember a message for the next request that calls :func:`get_flashed_messages`."""
    session = _request_ctx().session
    flashes = list(session.get("_flashes", []))
    flashes.append([category, message])
    session["_flashes"] = flashes
    from .signals import message_flashed

    if message_flashed.receivers:
        message_flashed.send(_request_ctx().app, message=message, category=category)


def get_flashed_messages(
    with_categories: bool = False, category_filter: Iterable[str] = ()
) -> list[str] | list[tuple[str, str]]:
    """The flashed messages (removed from the session), optionally as (category, message) pairs."""
    ctx = _cv_request.get(None)
    if ctx is None:
        return []
    cache = ctx.request.environ.get("sockweb._flashes")
    if cache is None:
        session = ctx.session
        cache = [(str(c), str(m)) for c, m in session.pop("_flashes", [])] if "_flashes" in session else []
        ctx.request.environ["sockweb._flashes"] = cache
    wanted = set(category_filter)
    items = [item for item in cache if not wanted or item[0] in wanted]
    if with_categories:
        return items
    return [message for _, message in items]


# -- streaming ---------------------------------------------------------------------------------------------


class _ContextStream(Iterator[T]):
    """Drives a generator with the request context set during each step."""

    __slots__ = ("_ctx", "_iterator")

    def __init__(self, ctx: RequestContext, iterable: Iterable[T]) -> None:
        self._ctx = ctx
        self._iterator = iter(iterable)

    def __iter__(self) -> Iterator[T]:
        return self

    def _run(self, func: Callable[[], Any]) -> Any:
        ctx = self._ctx
        assert ctx.app_ctx is not None
        app_token = _cv_app.set(ctx.app_ctx)
        request_token = _cv_request.set(ctx)
        try:
            return func()
        finally:
            _cv_request.reset(request_token)
            _cv_app.reset(app_token)

    def __next__(self) -> T:
        item: T = self._run(self._iterator.__next__)
        return item

    def close(self) -> None:
        close = getattr(self._iterator, "close", None)
        if close is not None:
            self._run(close)


def stream_with_context(generator_or_function: Iterable[T] | Callable[..., Iterable[T]]) -> Any:
    """Keep ``request``, ``session`` and ``g`` usable while a streamed response body is generated.

    Use on a generator (``return stream_with_context(gen())``) or as a decorator of a generator function
    called during the request.
    """
    if not isinstance(generator_or_function, Iterable):
        func = generator_or_function

        @functools.wraps(func)
        def decorated(*args: Any, **kwargs: Any) -> Iterator[T]:
            return stream_with_context(func(*args, **kwargs))  # type: ignore[no-any-return]

        return decorated
    ctx = _cv_request.get(None)
    if ctx is None:
        raise RuntimeError("stream_with_context() needs an active request context")
    ctx.streaming = True
    return _ContextStream(ctx, generator_or_function)
