"""Which sockweb module stands for which ``flask.*`` / ``werkzeug.*`` module, and under which names.

Strategy: one table, read by :mod:`sockweb.flask_patch`. An entry is either

* a ``str``: the dotted name of the sockweb module that *is* the upstream module (same concept, same
  names); it is put into ``sys.modules`` under the upstream name as it is, so monkeypatching one patches
  the other, and its submodules map by prefix (``werkzeug.routing.rules`` -> ``sockweb.web.routing.rules``);
* an :class:`Alias`: a thin module that looks names up, in order, in ``sources`` (sockweb modules that may
  not exist yet - a missing one is skipped) after ``renames`` (upstream name -> ``"module:attribute"``).

A name that none of the sources defines raises ``AttributeError`` as for any module: the patch maps names,
it never invents a feature. Nothing here imports sockweb at import time; modules load on first use.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The API level the patch answers to. Extensions compare ``flask.__version__`` / ``werkzeug.__version__``
# against minimums; sockweb follows the 3.1 API, so it claims 3.1.0 (never a later patch release).
VERSION = "3.1.0"


@dataclass(frozen=True)
class Alias:
    """A stand-in module: ``renames`` first, then the first of ``sources`` that has the name."""

    sources: tuple[str, ...] = ()
    renames: dict[str, str] = field(default_factory=dict)
    # values that are not sockweb objects (a version string)
    constants: dict[str, object] = field(default_factory=dict)
    # sockweb says App where flask says Flask: FlaskClient is looked up as AppClient, and so on
    flask_prefix: bool = False


F = "sockweb.framework"
W = "sockweb.web"

# flask's top-level namespace draws on most framework modules
_FLASK_TOP = (
    F,
    f"{F}.ctx",
    f"{F}.globals",
    f"{F}.helpers",
    f"{F}.json",
    f"{F}.templating",
    f"{F}.blueprints",
    f"{F}.wrappers",
    f"{F}.config",
    f"{F}.sessions",
    f"{F}.signals",
    f"{F}.views",
)

MODULES: dict[str, str | Alias] = {
    # ---- flask
    "flask": Alias(
        sources=_FLASK_TOP,
        constants={"__version__": VERSION},
        flask_prefix=True,
    ),
    "flask.app": Alias(sources=(f"{F}.app",), flask_prefix=True),
    "flask.sansio": Alias(),
    "flask.sansio.app": Alias(sources=(f"{F}.app",)),
    "flask.sansio.scaffold": f"{F}.scaffold",
    "flask.sansio.blueprints": f"{F}.blueprints",
    "flask.blueprints": f"{F}.blueprints",
    "flask.config": f"{F}.config",
    "flask.ctx": f"{F}.ctx",
    "flask.globals": Alias(
        sources=(f"{F}.globals",),
        renames={
            "request_ctx": "sockweb.flask_patch.glue:request_ctx",
            "app_ctx": "sockweb.flask_patch.glue:app_ctx",
        },
    ),
    "flask.helpers": Alias(sources=(f"{F}.helpers", f"{F}.ctx", f"{F}.debug")),
    "flask.json": Alias(sources=(f"{F}.json",)),
    "flask.json.provider": Alias(sources=(f"{F}.json",)),
    "flask.json.tag": Alias(sources=(f"{F}.json_tag", f"{F}.sessions")),
    "flask.sessions": f"{F}.sessions",
    "flask.templating": f"{F}.templating",
    "flask.testing": Alias(
        sources=(f"{F}.testing", f"{W}.testing"),
        flask_prefix=True,
    ),
    "flask.wrappers": f"{F}.wrappers",
    # not flask_prefix: flask.cli has both FlaskGroup and AppGroup, two different classes
    "flask.cli": Alias(sources=(f"{F}.cli",)),
    "flask.views": f"{F}.views",
    "flask.signals": f"{F}.signals",
    "flask.logging": f"{F}.logging",
    "flask.debughelpers": Alias(sources=(f"{F}.debug",)),
    "flask.typing": f"{F}.typing",
    # ---- werkzeug
    "werkzeug": Alias(
        sources=(f"{W}.request", f"{W}.response", f"{W}.testing", "sockweb.web.dev"),
        constants={"__version__": VERSION},
    ),
    "werkzeug.datastructures": Alias(sources=(f"{W}.datastructures", f"{W}.httputil")),
    "werkzeug.datastructures.structures": Alias(sources=(f"{W}.datastructures",)),
    "werkzeug.exceptions": f"{W}.exceptions",
    "werkzeug.routing": Alias(
        sources=(f"{W}.routing",), renames={"RequestRedirect": f"{W}.exceptions:RequestRedirect"}
    ),
    "werkzeug.routing.converters": f"{W}.routing.converters",
    "werkzeug.routing.rules": f"{W}.routing.rules",
    "werkzeug.routing.map": f"{W}.routing.map",
    "werkzeug.routing.exceptions": Alias(sources=(f"{W}.routing.errors", f"{W}.exceptions")),
    "werkzeug.wrappers": Alias(sources=(f"{W}.request", f"{W}.response")),
    "werkzeug.wrappers.request": f"{W}.request",
    "werkzeug.wrappers.response": f"{W}.response",
    "werkzeug.test": f"{W}.testing",
    "werkzeug.http": Alias(sources=(f"{W}.httputil",)),
    "werkzeug.wsgi": Alias(sources=(f"{W}.wsgi_util",)),
    "werkzeug._internal": Alias(sources=(f"{W}.wsgi_util",)),
    "werkzeug.utils": Alias(
        sources=(f"{W}.utils", f"{W}.response", f"{W}.security"),
    ),
    "werkzeug.urls": Alias(sources=(f"{W}.urls",)),
    "werkzeug.security": f"{W}.security",
    "werkzeug.formparser": f"{W}.formparser",
    "werkzeug.local": Alias(sources=(f"{W}.local", f"{F}.globals")),
    "werkzeug.user_agent": Alias(sources=(f"{W}.user_agent",)),
    # the real module, so that a test's monkeypatch of werkzeug.serving.run_simple reaches App.run
    "werkzeug.serving": "sockweb.web.dev",
    "werkzeug.debug": Alias(sources=("sockweb.web.dev.debug",)),
    "werkzeug.sansio": Alias(),
    "werkzeug.sansio.request": f"{W}.request",
    "werkzeug.sansio.response": f"{W}.response",
    "werkzeug.sansio.multipart": f"{W}.multipart",
    "werkzeug.sansio.utils": Alias(sources=(f"{W}.wsgi_util",)),
    "werkzeug.sansio.http": Alias(sources=(f"{W}.httputil",)),
    "werkzeug.middleware": Alias(),
    "werkzeug.middleware.lint": f"{W}.lint",
    "werkzeug.middleware.shared_data": Alias(sources=(f"{W}.middleware.shared_data",)),
    "werkzeug.middleware.proxy_fix": Alias(sources=(f"{W}.middleware.proxy_fix",)),
    "werkzeug.middleware.dispatcher": Alias(sources=(f"{W}.middleware.dispatcher",)),
    "werkzeug.middleware.http_proxy": Alias(sources=(f"{W}.middleware.http_proxy",)),
    "werkzeug.middleware.profiler": Alias(sources=(f"{W}.middleware.profiler",)),
}
