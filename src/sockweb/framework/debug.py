"""Debug mode: the environment switches that turn it on, and the checks it adds.

Strategy: each switch has a ``SOCKWEB_`` variable and, so that a Flask project moves over unchanged, the
``FLASK_`` variable of the same meaning as a fallback. :func:`getenv` encodes that order once. The checks
turn mistakes that silently lose data into errors the developer sees (only in debug mode).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from sockweb.web.datastructures import FileStorage, ImmutableMultiDict

if TYPE_CHECKING:
    from .wrappers import Request

_FALSE = frozenset({"0", "false", "no", "off", ""})


def getenv(name: str) -> str | None:
    """``SOCKWEB_<name>``, else ``FLASK_<name>``, else None."""
    value = os.environ.get(f"SOCKWEB_{name}")
    return value if value is not None else os.environ.get(f"FLASK_{name}")


def get_debug_flag() -> bool:
    """True when SOCKWEB_DEBUG (or FLASK_DEBUG) is set to something other than 0/false/no/off."""
    value = getenv("DEBUG")
    return value is not None and value.strip().lower() not in _FALSE


def get_load_dotenv(default: bool = True) -> bool:
    """False when SOCKWEB_SKIP_DOTENV (or FLASK_SKIP_DOTENV) is set to a true value, else ``default``."""
    value = getenv("SKIP_DOTENV")
    if value is None:
        return default
    return value.strip().lower() in _FALSE


class FormDataRoutingRedirect(AssertionError):
    """Debug mode: routing redirected a request with a body using a code that makes clients drop it."""


def check_redirect_keeps_body(request: Request) -> None:
    """Replace the request's routing redirect by :class:`FormDataRoutingRedirect` when it would lose the
    body: RFC 9110 §15.4.2-3 lets clients turn a 301/302 into a GET without the content, so a form posted
    to a URL without its trailing slash would arrive empty."""
    from sockweb.web.exceptions import RequestRedirect

    redirect = request.routing_exception
    if not isinstance(redirect, RequestRedirect) or redirect.code not in (301, 302):
        return
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    error = FormDataRoutingRedirect(
        f"A {request.method} request was sent to {request.url!r}, and routing answered with a "
        f"{redirect.code} redirect to the canonical URL {redirect.new_url!r}; clients send no body after "
        "such a redirect. Send the request to the canonical URL, or use a 307/308 redirect code."
    )
    request.routing_exception = error


class DebugFilesKeyError(KeyError, AssertionError):
    """Debug mode: ``request.files[name]`` of a form that was not sent as multipart/form-data."""

    def __init__(self, request: Request, key: str) -> None:
        names = request.form.getlist(key)
        message = (
            f"request.files has no {key!r}: the request's type is {request.mimetype!r}, not "
            "'multipart/form-data', so no file contents were transmitted. Give the HTML form "
            'enctype="multipart/form-data".'
        )
        if names:
            shown = ", ".join(repr(name) for name in names)
            message += f" The browser sent the file names as form fields instead. This was submitted: {shown}"
        super().__init__(message)
        self.msg = message

    def __str__(self) -> str:
        return self.msg


class DebugFiles(ImmutableMultiDict[str, FileStorage]):
    """The empty ``request.files`` of a request that is not multipart, in debug mode: a missing key
    raises :class:`DebugFilesKeyError`, which says why, instead of a bare 400."""

    def __init__(self, request: Request) -> None:
        super().__init__()
        self._request = request

    def __getitem__(self, key: str) -> FileStorage:
        raise DebugFilesKeyError(self._request, key)
