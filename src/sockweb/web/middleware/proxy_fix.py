"""ProxyFix: take the client address, scheme, host, port and prefix from X-Forwarded-* headers set by a
known number of trusted proxies in front of a WSGI application.

With ``sockweb serve``, do not use this middleware: the server's own rule (``--forwarded-allow-ips`` and
``--forwarded-headers``, in :mod:`sockweb.server.proxy`) decides which peers are proxies by address and
rewrites the environ before the application sees it. ProxyFix is for applications served by another WSGI
server behind proxies, where only the count of proxies is known.

Strategy (hop counts): each proxy appends what it saw to the header, so the last ``n`` entries of a
comma-separated list were written by the ``n`` trusted proxies and everything before may be forged by the
client. ``x_for=1`` trusts the last entry only. A header with fewer entries than the configured count is
ignored as a whole (someone bypassed a proxy). A count of 0 ignores that header. The environ values
replaced are kept in ``environ["sockweb.proxy_fix.orig"]``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["ProxyFix"]

WSGIEnvironment = dict[str, Any]
WSGIApplication = Callable[[WSGIEnvironment, Callable[..., Any]], Iterable[bytes]]

_ORIGINAL_KEYS = ("REMOTE_ADDR", "wsgi.url_scheme", "HTTP_HOST", "SERVER_NAME", "SERVER_PORT", "SCRIPT_NAME")


class ProxyFix:
    """Wrap ``app`` behind ``x_for``/``x_proto``/``x_host``/``x_port``/``x_prefix`` trusted proxies.

    Each count is how many proxies set that header (``X-Forwarded-For``, ``-Proto``, ``-Host``, ``-Port``,
    ``-Prefix``); 0 ignores the header. Set them to exactly the proxies you run: a higher count lets
    clients choose the value.
    """

    def __init__(  # noqa: PLR0917 - the positional order is the documented, werkzeug-compatible one
        self,
        app: WSGIApplication,
        x_for: int = 1,
        x_proto: int = 1,
        x_host: int = 0,
        x_port: int = 0,
        x_prefix: int = 0,
    ) -> None:
        self.app = app
        self.x_for = x_for
        self.x_proto = x_proto
        self.x_host = x_host
        self.x_port = x_port
        self.x_prefix = x_prefix

    @staticmethod
    def _trusted_value(trusted: int, header: str | None) -> str | None:
        """The entry the closest of ``trusted`` proxies vouches for, or ``None``."""
        if not (trusted and header):
            return None
        values = [value.strip() for value in header.split(",")]
        if len(values) < trusted:
            return None
        return values[-trusted] or None

    def __call__(self, environ: WSGIEnvironment, start_response: Callable[..., Any]) -> Iterable[bytes]:
        environ["sockweb.proxy_fix.orig"] = {key: environ.get(key) for key in _ORIGINAL_KEYS}
        get = environ.get
        remote = self._trusted_value(self.x_for, get("HTTP_X_FORWARDED_FOR"))
        if remote:
            environ["REMOTE_ADDR"] = remote
        proto = self._trusted_value(self.x_proto, get("HTTP_X_FORWARDED_PROTO"))
        if proto:
            environ["wsgi.url_scheme"] = proto.lower()
        host = self._trusted_value(self.x_host, get("HTTP_X_FORWARDED_HOST"))
        if host:
            environ["HTTP_HOST"] = environ["SERVER_NAME"] = host
            name, port = _split_port(host)
            if port:
                environ["SERVER_NAME"], environ["SERVER_PORT"] = name, port
        port = self._trusted_value(self.x_port, get("HTTP_X_FORWARDED_PORT"))
        if port:
            current = get("HTTP_HOST")
            if current:
                environ["HTTP_HOST"] = f"{_split_port(current)[0]}:{port}"
            environ["SERVER_PORT"] = port
        prefix = self._trusted_value(self.x_prefix, get("HTTP_X_FORWARDED_PREFIX"))
        if prefix:
            environ["SCRIPT_NAME"] = prefix.rstrip("/")
        return self.app(environ, start_response)


def _split_port(host: str) -> tuple[str, str | None]:
    """``("example.com", "8080")`` from ``example.com:8080``; IPv6 brackets kept (``[::1]:80``)."""
    if host.startswith("["):
        name, _, rest = host.partition("]")
        return name + "]", rest[1:] if rest.startswith(":") else None
    name, colon, port = host.rpartition(":")
    return (name, port) if colon else (host, None)
