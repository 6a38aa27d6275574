"""Mounting the application under a path prefix: SCRIPT_NAME and PATH_INFO (PEP 3333, CGI RFC 3875 §4.1.13).

One rule, used by ``--root-path`` and by a trusted proxy's ``X-Forwarded-Prefix`` (sockweb.server.proxy):
SCRIPT_NAME becomes the prefix; when the request path starts with it (at a segment boundary: ``/app`` and
``/app/x``, never ``/apple``), PATH_INFO loses it, so SCRIPT_NAME + PATH_INFO is still the path the client
asked for. When the path does not start with it, the proxy in front has already removed the prefix (nginx's
``proxy_pass http://upstream/;``): PATH_INFO is served as is, and the application still builds its URLs
under the prefix. A prefix is a checked value: segments of path characters (RFC 3986 §3.3) without
``.``/``..`` segments or percent escapes (SCRIPT_NAME holds decoded text, so an escape would be ambiguous).

Cost: ``--root-path`` is applied by a subclass of the exchange picked once at start-up; without it the
plain exchange runs.
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sockweb.server.wsgi import Environ, Exchange

__all__ = ["check_prefix", "mount", "mounted_exchange"]

# RFC 3986 §3.3: segment = *pchar; pchar = unreserved / sub-delims / ":" / "@" (pct-encoded refused here)
_PREFIX_RE = re.compile(r"(?:/[A-Za-z0-9._~!$&'()*+,;=:@-]+)*")
MAX_PREFIX = 1024


def check_prefix(value: str) -> str:
    """`value` as a prefix: ``""`` (none) or ``/seg/seg`` without a trailing slash; else ValueError."""
    prefix = value.strip().rstrip("/")
    segments = prefix.split("/")[1:]
    if (
        len(prefix) > MAX_PREFIX
        or not _PREFIX_RE.fullmatch(prefix)
        or any(seg in (".", "..") for seg in segments)
    ):
        raise ValueError("expected a path prefix such as /app (path characters, no '.', '..' or %-escapes)")
    return prefix


def mount(environ: MutableMapping[str, Any], prefix: str) -> None:
    """Set SCRIPT_NAME to `prefix` and take it off PATH_INFO when the path starts with it (in place)."""
    path = environ.get("PATH_INFO", "")
    if path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/"):
        environ["PATH_INFO"] = path[len(prefix) :]
    environ["SCRIPT_NAME"] = prefix


def mounted_exchange(base: type[Exchange], prefix: str) -> type[Exchange]:
    """A subclass of `base` whose requests are mounted under `prefix`, unless a trusted proxy already
    set SCRIPT_NAME from its X-Forwarded-Prefix (the proxy knows where it mounted us)."""

    def begin(self: Any, conn: Any, request: Any, environ: Environ) -> None:
        if not environ["SCRIPT_NAME"]:
            mount(environ, prefix)
        base.begin(self, conn, request, environ)

    return type("Mounted" + base.__name__, (base,), {"__slots__": (), "begin": begin})
