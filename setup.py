"""Build the optional C accelerators (the request parser's head scanner, the environ's header loop, the
metrics' counters); everything else is declared in pyproject.toml.

The extension is optional: when it cannot be compiled (no compiler, no Python headers), the build says so
and the install goes on without it, and the parser, the environ and the metrics run their pure-Python
references (`sockweb --version` names the parser's and the environ's path). SOCKWEB_NO_EXTENSIONS=1 skips
the build on purpose.
"""

from __future__ import annotations

import os

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    """build_ext that warns instead of failing, so that `pip install` works without a compiler."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # e.g. no compiler found at all (raised before any extension is tried)
            self._skip(exc)

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:
            self._skip(exc)

    def _skip(self, exc: Exception) -> None:
        self.warn(f"sockweb: the C accelerator was not built ({exc}); its pure-Python reference will be used")


extensions = []
if os.environ.get("SOCKWEB_NO_EXTENSIONS", "") in ("", "0"):
    extensions.append(Extension("sockweb.http._speedups", ["src/sockweb/http/_speedups.c"], optional=True))
    extensions.append(Extension("sockweb.server._environ", ["src/sockweb/server/_environ.c"], optional=True))
    extensions.append(Extension("sockweb.server._metrics", ["src/sockweb/server/_metrics.c"], optional=True))

setup(ext_modules=extensions, cmdclass={"build_ext": OptionalBuildExt})
