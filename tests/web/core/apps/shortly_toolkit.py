"""Shortly, the URL shortener of Werkzeug's tutorial, ported to the sockweb toolkit.

The point is the shape, not the features: the tutorial's app is written against Werkzeug's own names
(``Request``, ``Response``, ``redirect``, ``Map``/``Rule``, ``HTTPException``/``NotFound``,
``SharedDataMiddleware``) and this is that structure with ours (``StaticFiles`` for the middleware), so
the toolkit is exercised the way an app written elsewhere uses it: an ``on_<endpoint>`` method per rule,
``dispatch_request`` catching HTTP exceptions, a Redis-like store with ``get``/``set``/``incr``, Jinja2
templates with autoescape. The store is injected: a real Redis client, or the small in-memory one below.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Protocol
from urllib.parse import urlsplit

from jinja2 import DictLoader, Environment

from sockweb.web.exceptions import HTTPException, NotFound
from sockweb.web.request import Request
from sockweb.web.response import Response, redirect
from sockweb.web.routing import Map, Rule
from sockweb.web.static import StaticFiles

STATIC = os.path.join(os.path.dirname(__file__), "shortly_static")

TEMPLATES = {
    "layout.html": (
        "<!doctype html><title>{% block title %}{% endblock %} | shortly</title>"
        '<link rel="stylesheet" href="/static/style.css">'
        '<h1><a href="/">shortly</a></h1>{% block body %}{% endblock %}'
    ),
    "new_url.html": (
        '{% extends "layout.html" %}{% block title %}Shorten a URL{% endblock %}{% block body %}'
        '{% if error %}<p class="error" id="error">{{ error }}</p>{% endif %}'
        '<form action="" method="post"><input type="text" name="url" value="{{ url }}">'
        '<input type="submit" value="Shorten it"></form>{% endblock %}'
    ),
    "short_link_details.html": (
        '{% extends "layout.html" %}{% block title %}Link /{{ short_id }}{% endblock %}'
        '{% block body %}<dl><dt>Target<dd id="target"><a href="{{ link_target }}">{{ link_target }}</a>'
        '<dt>Host<dd id="host">{{ link_target|hostname }}'
        '<dt>Clicks<dd id="clicks">{{ click_count }}</dl>{% endblock %}'
    ),
    "404.html": (
        '{% extends "layout.html" %}{% block title %}Not found{% endblock %}'
        "{% block body %}<p>There is no such short link here.</p>{% endblock %}"
    ),
}


class Store(Protocol):
    """The part of the Redis client API the app uses (``decode_responses=True``)."""

    def get(self, name: str) -> str | None: ...
    def set(self, name: str, value: str) -> Any: ...
    def incr(self, name: str) -> int: ...


def to_base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out


def is_valid_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def get_hostname(url: str) -> str:
    return urlsplit(url).netloc


class Shortly:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.jinja_env = Environment(loader=DictLoader(TEMPLATES), autoescape=True)
        self.jinja_env.filters["hostname"] = get_hostname
        self.url_map = Map(
            [
                Rule("/", endpoint="new_url"),
                Rule("/<short_id>", endpoint="follow_short_link"),
                Rule("/<short_id>+", endpoint="short_link_details"),
            ]
        )

    def render_template(self, template_name: str, **context: Any) -> Response:
        template = self.jinja_env.get_template(template_name)
        return Response(template.render(context), mimetype="text/html")

    def dispatch_request(self, request: Request) -> Response | HTTPException:
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            endpoint, values = adapter.match()
            response: Response = getattr(self, f"on_{endpoint}")(request, **values)
            return response
        except NotFound:
            return self.error_404()
        except HTTPException as error:
            return error

    def on_new_url(self, request: Request) -> Response:
        error = None
        url = ""
        if request.method == "POST":
            url = request.form["url"]
            if not is_valid_url(url):
                error = "Enter an http:// or https:// URL."
            else:
                short_id = self.insert_url(url)
                return redirect(f"/{short_id}+")
        return self.render_template("new_url.html", error=error, url=url)

    def insert_url(self, url: str) -> str:
        short_id = self.store.get(f"id-of:{url}")
        if short_id is not None:
            return short_id
        short_id = to_base36(self.store.incr("next-id"))
        self.store.set(f"url:{short_id}", url)
        self.store.set(f"id-of:{url}", short_id)
        return short_id

    def on_follow_short_link(self, request: Request, short_id: str) -> Response:
        link_target = self.store.get(f"url:{short_id}")
        if link_target is None:
            raise NotFound()
        self.store.incr(f"clicks:{short_id}")
        return redirect(link_target)

    def on_short_link_details(self, request: Request, short_id: str) -> Response:
        link_target = self.store.get(f"url:{short_id}")
        if link_target is None:
            raise NotFound()
        click_count = int(self.store.get(f"clicks:{short_id}") or 0)
        return self.render_template(
            "short_link_details.html", link_target=link_target, short_id=short_id, click_count=click_count
        )

    def error_404(self) -> Response:
        response = self.render_template("404.html")
        response.status_code = 404
        return response

    def wsgi_app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        response = self.dispatch_request(request)
        return response(environ, start_response)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.wsgi_app(environ, start_response)


def create_app(store: Store, with_static: bool = True) -> Shortly:
    app = Shortly(store)
    if with_static:
        app.wsgi_app = StaticFiles(app.wsgi_app, {"/static": STATIC})  # type: ignore[method-assign]
    return app


class MemoryStore:
    """A thread-safe in-process stand-in for the three Redis commands the app uses."""

    def __init__(self) -> None:
        self._data: dict[str, str] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> str | None:
        return self._data.get(name)

    def set(self, name: str, value: str) -> bool:
        with self._lock:
            self._data[name] = value
        return True

    def incr(self, name: str) -> int:
        with self._lock:
            value = int(self._data.get(name, "0")) + 1
            self._data[name] = str(value)
        return value


def from_env() -> Shortly:
    """The app for ``sockweb serve 'shortly_toolkit:from_env()'``: on the Redis at ``SHORTLY_REDIS_URL``,
    else in memory."""
    url = os.environ.get("SHORTLY_REDIS_URL")
    if url:
        import redis

        return create_app(redis.Redis.from_url(url, decode_responses=True))
    return create_app(MemoryStore())
