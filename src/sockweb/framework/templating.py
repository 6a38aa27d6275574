"""Jinja2 templates: the App's environment, template lookup across blueprints, and the render helpers.

Strategy: each App owns one :class:`jinja2.Environment`, created on first use. Its loader looks in the
App's template folder first and then in each registered blueprint's folder, in registration order, so
an application can override a blueprint's template by putting one with the same name in its own folder.
Autoescaping is on for ``.html``, ``.htm``, ``.xml``, ``.xhtml`` and ``.svg`` templates and for templates
rendered from strings. ``url_for``, ``get_flashed_messages`` and ``config`` are environment globals;
``request``, ``session`` and ``g`` are added to each render's context from the active contexts (the real
objects, not proxies), followed by the values of the context processors of the App and of the blueprints
of the current request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import jinja2

from . import templatecode
from .globals import _cv_app, _cv_request, current_app_ctx, session
from .signals import before_render_template, template_rendered

if TYPE_CHECKING:
    from .app import App

_AUTOESCAPE_SUFFIXES = (".html", ".htm", ".xml", ".xhtml", ".svg")


def select_autoescape(template_name: str | None) -> bool:
    """Escape templates from strings (no name) and markup-producing file types."""
    if template_name is None:
        return True
    return template_name.lower().endswith(_AUTOESCAPE_SUFFIXES)


class DispatchingLoader(jinja2.BaseLoader):
    """Finds a template in the App's folder, then in each blueprint's folder."""

    def __init__(self, app: App) -> None:
        self.app = app

    def _loaders(self) -> Iterator[jinja2.BaseLoader]:
        loader = self.app.jinja_loader
        if loader is not None:
            yield loader
        for blueprint in self.app.iter_blueprints():
            loader = blueprint.jinja_loader
            if loader is not None:
                yield loader

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        for loader in self._loaders():
            try:
                return loader.get_source(environment, template)
            except jinja2.TemplateNotFound:
                continue
        raise jinja2.TemplateNotFound(template)

    def list_templates(self) -> list[str]:
        names: set[str] = set()
        for loader in self._loaders():
            names.update(loader.list_templates())
        return sorted(names)


class Environment(templatecode.Environment):
    """A Jinja2 environment that knows its App; its loader is ``app.create_global_jinja_loader()``. Its
    templates compile to the code of :mod:`.templatecode`."""

    def __init__(self, app: App, **options: Any) -> None:
        if "loader" not in options:
            options["loader"] = app.create_global_jinja_loader()
        super().__init__(**options)
        self.app = app


def create_environment(app: App) -> Environment:
    """The App's environment: autoescape, auto-reload in debug mode, the framework's globals."""
    from .helpers import get_flashed_messages, url_for

    options: dict[str, Any] = {"autoescape": select_autoescape, **app.jinja_options}
    if "auto_reload" not in options:
        setting = app.config.get("TEMPLATES_AUTO_RELOAD")
        options["auto_reload"] = app.debug if setting is None else bool(setting)
    env = app.jinja_environment(app, **options)
    env.globals.update(url_for=url_for, get_flashed_messages=get_flashed_messages, config=app.config)
    env.policies["json.dumps_function"] = app.json.dumps
    return env


def _context_for(app: App, context: dict[str, Any]) -> dict[str, Any]:
    """The render context: request/session/g, then context processors, then the caller's values."""
    merged: dict[str, Any] = {}
    app_ctx = _cv_app.get(None)
    if app_ctx is not None:
        merged["g"] = app_ctx.g
    request_ctx = _cv_request.get(None)
    if request_ctx is not None:
        merged["request"] = request_ctx.request
        # The proxy, not the session: rendering must not read the cookie unless the template does.
        merged["session"] = session
    if any(app.template_context_processors.values()):  # most apps have none: no blueprint chain then
        blueprints = request_ctx.request.blueprints if request_ctx is not None else ()
        for processor in app.context_processors_for(blueprints):
            merged.update(processor())
    merged.update(context)  # values given to render_template win over processors
    return merged


def _app() -> App:
    ctx = current_app_ctx()
    if ctx is None:
        raise RuntimeError("rendering a template needs an application context (app.app_context())")
    return ctx.app


def render_template(
    template_name_or_list: str | jinja2.Template | list[str | jinja2.Template], **context: Any
) -> str:
    """Render a template from the template folders with ``context``; a list means "the first that exists"."""
    app = _app()
    template = app.jinja_env.get_or_select_template(template_name_or_list)
    return _render(app, template, _context_for(app, context))


def get_template_attribute(template_name: str, attribute: str) -> Any:
    """A name a template exports, e.g. a macro to call from Python:
    ``get_template_attribute("_forms.html", "field")(form.name)``."""
    return getattr(_app().jinja_env.get_template(template_name).module, attribute)


def render_template_string(source: str, **context: Any) -> str:
    """Render a template given as a string (autoescaped) with ``context``."""
    app = _app()
    template = app.jinja_env.from_string(source)
    return _render(app, template, _context_for(app, context))


def _render(app: App, template: jinja2.Template, context: dict[str, Any]) -> str:
    """Render with the two template signals around it (each sent only when someone listens)."""
    if before_render_template.receivers:
        before_render_template.send(app, template=template, context=context)
    text = template.render(context)
    if template_rendered.receivers:
        template_rendered.send(app, template=template, context=context)
    return text


def stream_template(
    template_name_or_list: str | jinja2.Template | list[str | jinja2.Template], **context: Any
) -> Iterator[str]:
    """Render a template piece by piece (for a streamed response); the context is captured now."""

    app = _app()
    template = app.jinja_env.get_or_select_template(template_name_or_list)
    return _stream(app, template, _context_for(app, context))


def stream_template_string(source: str, **context: Any) -> Iterator[str]:
    """Like :func:`stream_template`, for a template given as a string."""
    app = _app()
    return _stream(app, app.jinja_env.from_string(source), _context_for(app, context))


def _stream(app: App, template: jinja2.Template, context: dict[str, Any]) -> Iterator[str]:
    from .helpers import stream_with_context

    if before_render_template.receivers:
        before_render_template.send(app, template=template, context=context)

    def generate() -> Iterator[str]:
        yield from template.generate(context)
        if template_rendered.receivers:
            template_rendered.send(app, template=template, context=context)

    if _cv_request.get(None) is None:
        return generate()  # no request to keep alive (rendering in an app context only)
    stream: Iterator[str] = stream_with_context(generate())
    return stream
