"""Shortly, the URL shortener: the routes, the URL validation, and the app factory.

Pages: ``/`` (the form and the recent links), ``POST /`` (shorten, then 303 to the details page),
``/<id>`` (302 to the target, counting the click; HEAD does not count), ``/<id>+`` (details: target,
short link, clicks) and a 404 page. The storage (:mod:`.storage`) is passed to :func:`create_app`, or
chosen from the environment (``SHORTLY_REDIS_URL``, else SQLite at ``SHORTLY_DB`` or the default path),
so a server can load the app as ``sockweb.framework.demo.app:create_app()`` in each worker.

Validation keeps what is stored safe to send back: only absolute http/https URLs with a host, at most
2,048 characters, no whitespace or control characters (they could split the ``Location`` header); an
internationalised URL is stored in its ASCII form (IDNA host, percent-encoded path), because HTTP header
values are Latin-1 on the wire.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import SplitResult, quote, urlsplit, urlunsplit

from sockweb.framework import App, abort, redirect, render_template, request, url_for
from sockweb.web.response import Response

from .storage import Link, Storage, open_storage

__all__ = ["MAX_URL_LENGTH", "Checked", "check_url", "create_app"]

MAX_URL_LENGTH = 2048
RECENT_ON_INDEX = 10
# Characters left as they are when a URL is put in its ASCII form: every printable ASCII character except
# those that can never appear unescaped in a URL (RFC 3986 §2: neither reserved nor unreserved).
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?", re.IGNORECASE)
_URL_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '"<>\\^`{|}')


@dataclass(frozen=True)
class Checked:
    """The result of :func:`check_url`: the URL to store, or the message to show."""

    url: str | None = None
    error: str | None = None


def check_url(raw: str) -> Checked:
    """Validate what the user typed; an accepted URL comes back in its ASCII form."""
    text = raw.strip()
    if not text:
        return Checked(error="Enter the URL you want to shorten.")
    if len(text) > MAX_URL_LENGTH:
        return Checked(error=f"That URL is {len(text):,} characters long; the limit is {MAX_URL_LENGTH:,}.")
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        return Checked(error="A URL cannot contain spaces or control characters.")
    try:
        parts = urlsplit(text)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError as exc:
        return Checked(error=f"That URL is malformed ({exc}).")
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        after_colon = text[len(parts.scheme) + 1 :]
        if not parts.scheme or "." in parts.scheme or after_colon[:1].isdigit():  # "example.com", "host:80"
            return Checked(error="Start the URL with http:// or https://, as in https://example.com/.")
        return Checked(error=f"Only http:// and https:// URLs can be shortened, not {parts.scheme}:.")
    if not host:
        return Checked(error="That URL has no host name, such as example.com.")
    try:
        ascii_url = _to_ascii(parts._replace(scheme=scheme), host)
        valid_host = _valid_host(host if host.isascii() else host.encode("idna").decode("ascii"))
    except UnicodeError:
        valid_host = False
    if not valid_host:
        return Checked(error="That URL's host name is not valid.")
    if len(ascii_url) > MAX_URL_LENGTH:
        return Checked(
            error=f"That URL is too long once encoded; the limit is {MAX_URL_LENGTH:,} characters."
        )
    return Checked(url=ascii_url)


def _valid_host(host: str) -> bool:
    """An IP address, or a DNS name: dot-separated labels of letters, digits, '-' and '_' (RFC 1123 §2.1,
    with the underscore some real hosts use), none empty, none starting or ending with '-'."""
    if ":" in host:  # urlsplit took the brackets off an IPv6 literal
        try:
            ipaddress.IPv6Address(host.partition("%")[0])
        except ValueError:
            return False
        return True
    name = host[:-1] if host.endswith(".") else host  # a fully qualified name may end with a dot
    return 0 < len(name) <= 253 and all(_LABEL.fullmatch(label) for label in name.split("."))


def _to_ascii(parts: SplitResult, host: str) -> str:
    if not host.isascii():
        userinfo, at, _ = parts.netloc.rpartition("@")
        port = f":{parts.port}" if parts.port is not None else ""
        parts = parts._replace(netloc=f"{userinfo}{at}{host.encode('idna').decode('ascii')}{port}")
    # Percent-encode what is left (non-ASCII, and characters such as '"<>' that a URL cannot hold as is);
    # existing %XX escapes stay as they are.
    return quote(urlunsplit(parts), safe=_URL_SAFE)


def create_app(storage: Storage | None = None) -> App:
    """Build Shortly on ``storage`` (default: from ``SHORTLY_REDIS_URL`` / ``SHORTLY_DB``, else SQLite)."""
    if storage is None:
        storage = open_storage(
            os.environ.get("SHORTLY_DB") or None, os.environ.get("SHORTLY_REDIS_URL") or None
        )
    store: Storage = storage
    app = App(__name__)
    # The only form has one field: a small body limit is plenty.
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    app.extensions["shortly"] = store

    @app.template_filter("when")
    def when(timestamp: float) -> str:
        return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")

    @app.template_global("short_url")
    def short_url(link: Link) -> str:
        return url_for("follow", short_id=link.short_id, _external=True)

    def index_page(url: str = "", error: str | None = None, status: int = 200) -> tuple[str, int]:
        page = render_template("index.html", recent=store.recent(RECENT_ON_INDEX), url=url, error=error)
        return page, status

    @app.get("/")
    def index() -> tuple[str, int]:
        return index_page()

    @app.post("/")
    def shorten() -> Response | tuple[str, int]:
        raw = request.form.get("url", "")
        checked = check_url(raw)
        if checked.url is None:
            return index_page(url=raw[: MAX_URL_LENGTH + 100], error=checked.error, status=400)
        link = store.add(checked.url)
        # 303: after a POST, the browser fetches the details page with GET.
        return redirect(url_for("details", short_id=link.short_id), 303)

    @app.get("/<short_id>")
    def follow(short_id: str) -> Response:
        # A HEAD request (link checkers, previews) learns where the link goes without counting as a visit.
        link = store.get(short_id) if request.method == "HEAD" else store.click(short_id)
        if link is None:
            abort(404)
        return redirect(link.url, 302)

    @app.get("/<short_id>+")
    def details(short_id: str) -> str:
        link = store.get(short_id)
        if link is None:
            abort(404)
        return render_template("details.html", link=link)

    @app.errorhandler(404)
    def not_found(error: Exception) -> tuple[str, int]:
        return render_template("404.html"), 404

    return app
