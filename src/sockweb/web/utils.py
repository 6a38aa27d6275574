"""Helpers for applications built on the toolkit: safe upload names, redirects, sending files.

Strategy: :func:`secure_filename` reduces a client-supplied name to a conservative ASCII alphabet (the
one rule for naming stored uploads); the response helpers live with :class:`~.response.Response` and are
gathered here under the names applications look for.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from .response import Response, redirect, send_file, send_from_directory

__all__ = ["append_slash_redirect", "redirect", "secure_filename", "send_file", "send_from_directory"]

_unsafe_re = re.compile(r"[^A-Za-z0-9_.-]", re.ASCII)
# Names Windows maps to devices whatever the extension; a stored "con.txt" could not be opened there.
_windows_devices = frozenset(
    ["CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))]
)


def secure_filename(filename: str) -> str:
    """A name safe to store a client's upload under: ASCII letters, digits, ``_``, ``.`` and ``-`` only.

    Accents are folded (``ü`` -> ``u``), path separators and spaces become ``_``, leading/trailing dots
    and underscores go (no hidden files, no ``..``), and Windows device names get a ``_`` prefix. The
    result may be empty: the caller must then pick a name itself.
    """
    name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode("ascii")
    for separator in (os.sep, os.path.altsep, "/", "\\"):
        if separator:
            name = name.replace(separator, " ")
    name = _unsafe_re.sub("", "_".join(name.split())).strip("._")
    if name and name.split(".")[0].upper() in _windows_devices:
        name = f"_{name}"
    return name


def append_slash_redirect(environ: Mapping[str, Any], code: int = 308) -> Response:
    """A redirect to the request path plus a trailing slash, relative to the current segment.

    308 keeps the method and body (RFC 9110 §15.4.9). The Location is the last path segment with the slash
    (``/a/b`` -> ``b/``), so it is right behind any prefix a proxy added.
    """
    path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
    tail = path.strip("/").rsplit("/", 1)[-1]
    location = f"{tail}/" if tail else "./"
    query = environ.get("QUERY_STRING")
    if query:
        location = f"{location}?{query}"
    return redirect(location, code)
