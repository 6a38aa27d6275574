"""Application configuration: a dict of UPPERCASE keys, loadable from several sources.

Strategy: :class:`Config` is a plain ``dict`` (reads stay as fast as any dict lookup) with loader methods
that all funnel into :meth:`Config.from_mapping`, which keeps only uppercase keys so helper names and
modules in a settings file never leak in. Relative file names are resolved against the application's
root folder. Environment variables with a prefix (``SOCKWEB_DEBUG=true``) are parsed as JSON when they
are valid JSON and kept as strings otherwise; ``__`` in a name reaches into nested dicts.
"""

from __future__ import annotations

import errno
import json
import os
import sys
import types
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import IO, Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

# One implementation of import-by-dotted-name for toolkit and framework, re-exported here.
from sockweb.web.utils import import_string

#: The defaults every App starts with (documented in the framework's docs; all keys uppercase).
DEFAULT_CONFIG: dict[str, Any] = {
    "DEBUG": False,
    "TESTING": False,
    # None: propagate when TESTING or DEBUG is on, else turn errors into 500 responses.
    "PROPAGATE_EXCEPTIONS": None,
    "SECRET_KEY": None,
    # Older keys still accepted for verifying session cookies (rotation); new cookies use SECRET_KEY.
    "SECRET_KEY_FALLBACKS": (),
    "PERMANENT_SESSION_LIFETIME": timedelta(days=31),
    "SESSION_COOKIE_NAME": "session",
    "SESSION_COOKIE_DOMAIN": None,
    "SESSION_COOKIE_PATH": None,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SECURE": False,
    "SESSION_COOKIE_SAMESITE": "Lax",
    # Permanent sessions get a fresh cookie (sliding expiry) on each request that used the session.
    "SESSION_REFRESH_EACH_REQUEST": True,
    # Set-Cookie headers longer than this warn (browsers drop larger cookies silently); 0 turns it off.
    "MAX_COOKIE_SIZE": 4093,
    "MAX_CONTENT_LENGTH": None,
    "MAX_FORM_MEMORY_SIZE": 500_000,
    "MAX_FORM_PARTS": 1_000,
    "SEND_FILE_MAX_AGE_DEFAULT": None,
    "SERVER_NAME": None,
    # Host names requests may carry (a leading dot allows subdomains); None trusts every host.
    "TRUSTED_HOSTS": None,
    "APPLICATION_ROOT": "/",
    "PREFERRED_URL_SCHEME": "http",
    "TRAP_HTTP_EXCEPTIONS": False,
    # Raise 400 errors instead of answering them; None: only a missing request key, in debug mode.
    "TRAP_BAD_REQUEST_ERRORS": None,
    "JSON_SORT_KEYS": True,
    # None: compact unless DEBUG is on.
    "JSONIFY_PRETTYPRINT": None,
    "TEMPLATES_AUTO_RELOAD": None,
}


class Config(dict[str, Any]):
    """The ``app.config`` mapping. Every ``from_*`` loader returns True when it loaded something."""

    def __init__(self, root_path: str | os.PathLike[str], defaults: Mapping[str, Any] | None = None) -> None:
        super().__init__(defaults or {})
        self.root_path = os.fspath(root_path)

    def _resolve(self, filename: str | os.PathLike[str]) -> str:
        return os.path.join(self.root_path, os.fspath(filename))

    def from_mapping(self, mapping: Mapping[str, Any] | None = None, **kwargs: Any) -> bool:
        """Update from a mapping and/or keyword arguments, keeping only UPPERCASE keys."""
        items: dict[str, Any] = {}
        if mapping is not None:
            items.update(mapping)
        items.update(kwargs)
        for key, value in items.items():
            if key.isupper():
                self[key] = value
        return True

    def from_object(self, obj: object | str) -> None:
        """Load the UPPERCASE attributes of an object, class or module (or its import path string)."""
        if isinstance(obj, str):
            obj = import_string(obj)
        for key in dir(obj):
            if key.isupper():
                self[key] = getattr(obj, key)

    def from_file(
        self,
        filename: str | os.PathLike[str],
        load: Callable[[IO[Any]], Mapping[str, Any]] | None = None,
        silent: bool = False,
        text: bool = True,
    ) -> bool:
        """Load a data file: TOML (``.toml``) or JSON (``.json``) by suffix, or any ``load`` function.

        ``load`` receives the open file (binary when ``text`` is False, as ``tomllib.load`` needs).
        A missing file with ``silent=True`` returns False instead of raising.
        """
        path = self._resolve(filename)
        if load is None:
            load, text = _loader_for(path)
        try:
            with open(path, "r" if text else "rb") as fp:
                data = load(fp)
        except OSError as e:
            if silent and e.errno in (errno.ENOENT, errno.EISDIR, errno.ENOTDIR):
                return False
            e.strerror = f"Unable to load configuration file ({e.strerror})"
            raise
        return self.from_mapping(data)

    def from_pyfile(self, filename: str | os.PathLike[str], silent: bool = False) -> bool:
        """Execute a Python file and load its UPPERCASE globals."""
        path = self._resolve(filename)
        module = types.ModuleType("config")
        module.__file__ = path
        try:
            with open(path, "rb") as fp:
                code = compile(fp.read(), path, "exec")
        except OSError as e:
            if silent and e.errno in (errno.ENOENT, errno.EISDIR, errno.ENOTDIR):
                return False
            e.strerror = f"Unable to load configuration file ({e.strerror})"
            raise
        exec(code, module.__dict__)
        self.from_object(module)
        return True

    def from_envvar(self, variable_name: str, silent: bool = False) -> bool:
        """Load the Python file named by an environment variable (see :meth:`from_pyfile`)."""
        value = os.environ.get(variable_name)
        if not value:
            if silent:
                return False
            raise RuntimeError(
                f"The environment variable {variable_name!r} is not set; it should name a configuration file."
            )
        return self.from_pyfile(value, silent=silent)

    def from_prefixed_env(
        self,
        prefix: str | None = None,
        *,
        loads: Callable[[str], Any] = json.loads,
        environ: Mapping[str, str] | None = None,
    ) -> bool:
        """Load every ``PREFIX_NAME`` environment variable as ``NAME``.

        Values go through ``loads`` (JSON by default: ``true``, ``42``, ``[1, 2]``, ``{"a": 1}``); a value
        that does not parse stays a string. ``PREFIX_A__B=1`` sets ``config["A"]["B"] = 1``, creating the
        inner dict when needed. Keys are loaded in sorted order so nested updates are deterministic.
        Without ``prefix``, ``FLASK_`` variables are loaded and then ``SOCKWEB_`` ones, which win (as for
        the other environment switches, a Flask project's variables keep working).
        """
        if prefix is None:
            self.from_prefixed_env("FLASK", loads=loads, environ=environ)
            prefix = "SOCKWEB"
        source = os.environ if environ is None else environ
        start = f"{prefix}_"
        for name in sorted(source):
            if not name.startswith(start) or len(name) == len(start):
                continue
            raw = source[name]
            try:
                value = loads(raw)
            except Exception:
                value = raw  # not JSON: keep the string as given
            key = name[len(start) :]
            if "__" not in key:
                self[key] = value
                continue
            *parents, leaf = key.split("__")
            current: dict[str, Any] = self
            for part in parents:
                nested = current.get(part)
                if not isinstance(nested, dict):
                    nested = current[part] = {}
                current = nested
            current[leaf] = value
        return True

    def get_namespace(
        self, namespace: str, lowercase: bool = True, trim_namespace: bool = True
    ) -> dict[str, Any]:
        """The keys starting with ``namespace`` (e.g. ``"IMAGE_STORE_"``), trimmed and lowercased."""
        found: dict[str, Any] = {}
        for key, value in self.items():
            if not key.startswith(namespace):
                continue
            name = key[len(namespace) :] if trim_namespace else key
            found[name.lower() if lowercase else name] = value
        return found

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {dict.__repr__(self)}>"


def _loader_for(path: str) -> tuple[Callable[[IO[Any]], Mapping[str, Any]], bool]:
    suffix = os.path.splitext(path)[1].lower()
    if suffix == ".toml":
        return tomllib.load, False
    if suffix == ".json":
        return json.load, True
    raise ValueError(f"cannot tell how to load {path!r}: pass load= (known suffixes: .toml, .json)")


def lifetime_seconds(value: timedelta | int | float) -> int:
    """PERMANENT_SESSION_LIFETIME as whole seconds (a number from an env var or file is seconds)."""
    if isinstance(value, timedelta):
        return int(value.total_seconds())
    return int(value)


def load_dotenv(path: str | os.PathLike[str]) -> bool:
    """Set the ``KEY=VALUE`` lines of a ``.env`` file as environment variables; variables already set
    win. Blank lines, ``#`` comments and an ``export`` prefix are allowed; quotes around a value go."""
    try:
        with open(path, encoding="utf-8") as fp:
            lines = fp.read().splitlines()
    except OSError:
        return False
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        os.environ.setdefault(key.strip(), value)
    return True
