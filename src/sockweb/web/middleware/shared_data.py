"""Serve files next to an application under URL prefixes: :class:`SharedDataMiddleware`.

Strategy: Werkzeug's interface over the toolkit's one static-file server, :class:`~sockweb.web.static.
StaticFiles` (same path joining rule, validators, ranges and caching). An export maps a URL prefix to a
folder, to a single file, or to ``(package, folder)`` data shipped inside an importable package; folders
are never listed and a folder URL goes to the wrapped application, as an unmatched path does.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Iterable, Mapping
from typing import IO, Any

from ..static import StaticFiles

__all__ = ["SharedDataMiddleware"]

WSGIEnvironment = dict[str, Any]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[WSGIEnvironment, StartResponse], Iterable[bytes]]
Export = str | os.PathLike[str] | tuple[str, str]
FileLoader = Callable[[str | None], tuple[str | None, Callable[[], IO[bytes]] | None]]


def _package_folder(package: str, folder: str) -> str:
    """The file-system folder of ``folder`` inside importable ``package`` (``ValueError`` when the
    package is not on disk, e.g. zipped: only real folders can be served with validators)."""
    spec = importlib.util.find_spec(package)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if spec is not None and not locations and spec.origin:
        locations = [os.path.dirname(spec.origin)]
    if not locations:
        raise ValueError(f"package {package!r} has no folder on disk")
    return os.path.join(locations[0], folder)


class SharedDataMiddleware(StaticFiles):
    """``SharedDataMiddleware(app, {"/static": "/srv/static", "/pkg": ("mypkg", "static")})``.

    ``cache`` and ``cache_timeout`` set ``Cache-Control: public, max-age=cache_timeout`` (or no-cache);
    ``fallback_mimetype`` is the type of files whose name says nothing. A single file can be exported
    under its own URL. Paths the toolkit's ``safe_join`` refuses are a 404, never handed to ``app``.
    """

    def __init__(  # noqa: PLR0917 - Werkzeug's positional order, which callers use
        self,
        app: WSGIApp | None,
        exports: Mapping[str, Export] | Iterable[tuple[str, Export]],
        disallow: None = None,
        cache: bool = True,
        cache_timeout: int = 60 * 60 * 12,
        fallback_mimetype: str = "application/octet-stream",
    ) -> None:
        if disallow is not None:
            # a fnmatch deny-list is a second path rule beside safe_join; hidden files are denied already
            raise TypeError("disallow is not supported: hidden files are never served")
        pairs = exports.items() if isinstance(exports, Mapping) else exports
        folders: dict[str, str | os.PathLike[str]] = {}
        self.files: dict[str, str] = {}
        for prefix, target in pairs:
            url = ("/" + prefix.strip("/")).rstrip("/") or "/"
            path = _package_folder(*target) if isinstance(target, tuple) else os.fspath(target)
            if os.path.isfile(path):
                self.files[url] = os.path.realpath(path)
            else:
                folders[url] = path
        super().__init__(
            app,
            folders,
            index=None,
            cache_max_age=cache_timeout if cache else 0,
            default_mimetype=fallback_mimetype,
        )

    def get_file_loader(self, filename: str) -> FileLoader:
        """A loader for one exported file: ``loader(path) -> (basename, opener)``."""

        def loader(path: str | None) -> tuple[str | None, Callable[[], IO[bytes]] | None]:
            return os.path.basename(filename), lambda: open(filename, "rb")

        return loader

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        single = self.files.get(environ.get("PATH_INFO", "").rstrip("/") or "/")
        if single is not None:
            return self.serve_file(environ, start_response, single)
        return super().__call__(environ, start_response)
