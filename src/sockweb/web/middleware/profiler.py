"""ProfilerMiddleware: run each request under :mod:`cProfile` and report where the time went.

Strategy: the whole exchange is profiled, including iterating the body (a streamed response does its
work there). The statistics go to ``stream`` (sorted by ``sort_by``, limited by ``restrictions`` as
:meth:`pstats.Stats.print_stats` takes them) and/or to one ``.prof`` file per request in
``profile_dir``, named by ``filename_format``: a format string over ``method``, ``path``, ``elapsed``
(ms) and ``time``, or a callable given the environ (which then holds ``environ["sockweb.profiler"]``
with ``elapsed`` and ``time``). For development: profiling slows every request several times.
"""

from __future__ import annotations

import os.path
import sys
import time
from collections.abc import Callable, Iterable
from cProfile import Profile
from pstats import Stats
from typing import IO, Any

__all__ = ["Profile", "ProfilerMiddleware"]

WSGIEnvironment = dict[str, Any]
WSGIApplication = Callable[[WSGIEnvironment, Callable[..., Any]], Iterable[bytes]]


class ProfilerMiddleware:
    """Wrap ``app`` to profile every request (see the module docstring for the options)."""

    def __init__(  # noqa: PLR0917 - the positional order is the documented, werkzeug-compatible one
        self,
        app: WSGIApplication,
        stream: IO[str] | None = sys.stdout,
        sort_by: Iterable[str] = ("time", "calls"),
        restrictions: Iterable[str | int | float] = (),
        profile_dir: str | None = None,
        filename_format: str
        | Callable[[WSGIEnvironment], str] = "{method}.{path}.{elapsed:.0f}ms.{time:.0f}.prof",
    ) -> None:
        self.app = app
        self.stream = stream
        self.sort_by = tuple(sort_by)
        self.restrictions = tuple(restrictions)
        self.profile_dir = profile_dir
        self.filename_format = filename_format

    def __call__(self, environ: WSGIEnvironment, start_response: Callable[..., Any]) -> Iterable[bytes]:
        body: list[bytes] = []

        def run() -> None:
            result = self.app(environ, start_response)
            try:
                body.extend(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()

        profile = Profile()
        started = time.time()
        profile.runcall(run)
        elapsed_ms = (time.time() - started) * 1000
        if self.profile_dir is not None:
            self._dump(profile, environ, elapsed_ms, started)
        if self.stream is not None:
            stats = Stats(profile, stream=self.stream)
            stats.sort_stats(*self.sort_by)
            print("-" * 80, file=self.stream)
            print(f"PATH: {environ.get('PATH_INFO', '')!r}", file=self.stream)
            stats.print_stats(*self.restrictions)
            print("-" * 80 + "\n", file=self.stream)
        return body

    def _dump(self, profile: Profile, environ: WSGIEnvironment, elapsed_ms: float, started: float) -> None:
        assert self.profile_dir is not None
        if callable(self.filename_format):
            environ["sockweb.profiler"] = {"elapsed": elapsed_ms, "time": started}
            name = self.filename_format(environ)
        else:
            path = environ.get("PATH_INFO", "").strip("/").replace("/", ".") or "root"
            name = self.filename_format.format(
                method=environ.get("REQUEST_METHOD", "GET"), path=path, elapsed=elapsed_ms, time=started
            )
        profile.dump_stats(os.path.join(self.profile_dir, name))
