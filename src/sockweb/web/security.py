"""Joining untrusted paths under a folder: the one rule for every place that turns a request into a file.

Strategy. :func:`safe_join` is the only function in sockweb that maps a path from a client onto the file
system; the static files middleware (:class:`sockweb.web.static.StaticFiles`, hence ``sockweb static``)
and the framework's ``send_from_directory`` (the App's ``/static`` route) both call it. It answers a real
path or None, and any doubt is None:

1. every ``/``-separated segment is judged in all the forms it can take on the way to the file system:
   as given, and after each further round of percent-decoding and Unicode NFKC normalisation (a proxy
   that decodes twice, or a file system that folds the fullwidth full stop U+FF0E to ``.``, must not
   open a hole). A segment is refused when any form is ``.`` or ``..``, holds a separator (``/`` after
   decoding, ``\\`` anywhere), NUL or another control character, starts with a drive letter
   (``C:``), or, on Windows, names a device (``CON``, ``nul.txt``); and, when hidden files are not
   allowed, when any form starts with a dot;
2. an absolute path part is refused; empty segments (``a//b``) are dropped;
3. the path is joined from the checked segments only, resolved with ``os.path.realpath`` (symlinks
   followed) and must still lie under the real folder; when hidden files are not allowed, no segment of
   the resolved path below the folder may start with a dot either (a link named ``env`` to ``.env``).

:func:`join_path` is the same join telling a hidden path apart from a refused one, for a caller that
treats a hidden file as a missing one (the static files middleware hands it to the application behind).
Listings call the join for each entry, so they show exactly what a request would be given.

Password hashing lives in :mod:`sockweb.web.passwords` and is re-exported here, where werkzeug has it.
"""

from __future__ import annotations

import os
import unicodedata
from typing import NamedTuple
from urllib.parse import unquote

from .passwords import check_password_hash, gen_salt, generate_password_hash

__all__ = [
    "JoinedPath",
    "check_password_hash",
    "gen_salt",
    "generate_password_hash",
    "is_windows_device_name",
    "join_path",
    "safe_join",
]

MAX_LAYERS = 4  # rounds of decoding a segment may still go through; a deeper onion is refused
_FORBIDDEN_CHARS = frozenset("\\\x00\x7f") | frozenset(chr(c) for c in range(1, 32))


def _forms(segment: str) -> list[str] | None:
    """``segment`` and what it becomes after each further round of percent-decoding and NFKC.

    None when it still changes after :data:`MAX_LAYERS` rounds (no honest file name is encoded that deep).
    """
    forms = [segment]
    for _ in range(MAX_LAYERS):
        following = unicodedata.normalize("NFKC", unquote(forms[-1]))
        if following == forms[-1]:
            return forms
        forms.append(following)
    return None


#: Names Windows maps to devices whatever the extension or trailing spaces ("CON", "con.txt", "NUL .x").
WINDOWS_DEVICE_NAMES = frozenset(
    ["CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))]
)


def is_windows_device_name(name: str) -> bool:
    """Whether Windows would open a device for ``name`` (one path segment) instead of a file."""
    return name.split(".", 1)[0].rstrip(" ").upper() in WINDOWS_DEVICE_NAMES


def _unsafe_form(form: str, derived: bool) -> bool:
    """Whether one form of a segment could step outside the folder or mean something else to the OS."""
    if form in (".", "..") or (derived and "/" in form):
        return True
    if any(char in _FORBIDDEN_CHARS for char in form):
        return True
    # On Windows "CON" or "nul.txt" in any folder is a device, not a file there. (os.name is read per call.)
    if os.name == "nt" and is_windows_device_name(form):
        return True
    # A drive letter (C:) or a Windows alternate data stream (C:stream) is never a plain name.
    return len(form) >= 2 and form[1] == ":" and form[0].isascii() and form[0].isalpha()


def _segment_forms(segment: str) -> list[str] | None:
    """The forms of a segment, or None when it is unsafe in any of them."""
    forms = _forms(segment)
    if forms is None or any(_unsafe_form(form, index > 0) for index, form in enumerate(forms)):
        return None
    return forms


def _hidden(forms: list[str]) -> bool:
    return any(form.startswith(".") for form in forms)


class JoinedPath(NamedTuple):
    """A path :func:`join_path` accepted: the real path, and whether it is hidden (see ``safe_join``)."""

    path: str
    hidden: bool


def join_path(directory: str | os.PathLike[str], *pathnames: str) -> JoinedPath | None:
    """:func:`safe_join` that tells a hidden path apart instead of refusing it (for callers that treat a
    hidden file as a missing one rather than as an attack)."""
    segments: list[str] = []
    hidden = False
    for pathname in pathnames:
        if pathname.startswith("/") or os.path.isabs(pathname):
            return None
        for segment in pathname.split("/"):
            if not segment:
                continue
            forms = _segment_forms(segment)
            if forms is None:
                return None
            hidden = hidden or _hidden(forms)
            segments.append(segment)
    real_root = os.path.realpath(directory)
    candidate = os.path.realpath(os.path.join(real_root, *segments))
    try:
        if os.path.commonpath([real_root, candidate]) != real_root:
            return None
    except ValueError:  # different drives
        return None
    if not hidden and candidate != real_root:
        # a link with a plain name may lead to a hidden file or folder below the root
        hidden = any(part.startswith(".") for part in os.path.relpath(candidate, real_root).split(os.sep))
    return JoinedPath(candidate, hidden)


def safe_join(directory: str | os.PathLike[str], *pathnames: str, allow_hidden: bool = True) -> str | None:
    """The real path of ``pathnames`` (untrusted, ``/``-separated, relative) under ``directory``, or None.

    None when a part is absolute, a segment is unsafe (see the module docstring), the resolved path
    (symlinks followed) leaves the real ``directory``, or, with ``allow_hidden=False``, a segment of the
    request or of the resolved path is hidden. Parts that are empty mean the folder itself. Pass text
    that has been percent-decoded once (a WSGI ``PATH_INFO``, a route's ``<path:...>`` value): what still
    looks encoded is judged in its decoded forms too.
    """
    joined = join_path(directory, *pathnames)
    if joined is None or (joined.hidden and not allow_hidden):
        return None
    return joined.path
