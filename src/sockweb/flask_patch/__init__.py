"""Run unmodified Flask apps and extensions on sockweb: ``import sockweb.flask_patch`` before anything else.

After the import, ``import flask``, ``import werkzeug`` and their submodules resolve to sockweb (the table
is :data:`sockweb.flask_patch.table.MODULES`): ``flask.Flask`` is :class:`sockweb.framework.App`,
``werkzeug.datastructures.MultiDict`` is sockweb's, and so on. A name sockweb lacks raises
``AttributeError`` / ``ImportError`` as it would for any module; nothing is faked.

Strategy: a meta-path finder placed first on ``sys.meta_path`` answers for ``flask``, ``werkzeug`` and
every name below them, so the real packages (if installed) are never reached; other programs in the same
environment that do not import the patch are untouched. The patch refuses to install when the real flask
or werkzeug is already imported, since two copies of the same names would mix silently.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from collections.abc import Sequence
from typing import Any

from .table import MODULES, VERSION, Alias

__all__ = ["VERSION", "AliasModule", "PatchFinder", "install", "is_installed"]

ROOTS = ("flask", "werkzeug")


class AliasModule(types.ModuleType):
    """A module whose names come from sockweb modules, per an :class:`Alias` entry of the table."""

    def __init__(self, name: str, alias: Alias) -> None:
        super().__init__(name, f"sockweb stand-in for {name!r} (see sockweb.flask_patch)")
        self.__alias = alias
        self.__path__: list[str] = []  # a package, so that submodules resolve through the finder
        self.__dict__.update(alias.constants)

    def __sources(self) -> list[types.ModuleType]:
        found = []
        for source in self.__alias.sources:
            try:
                found.append(importlib.import_module(source))
            except ModuleNotFoundError as exc:
                if exc.name is None or not source.startswith(exc.name):
                    raise  # a real import error inside an existing module must surface
        return found

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        child = f"{self.__name__}.{name}"
        if child in MODULES:
            return importlib.import_module(child)
        value = self.__lookup(name)
        setattr(self, name, value)  # later lookups are plain attribute reads
        return value

    def __lookup(self, name: str) -> Any:
        target = self.__alias.renames.get(name)
        if target is not None:
            module, _, attr = target.partition(":")
            return getattr(importlib.import_module(module), attr)
        wanted = [name]
        if self.__alias.flask_prefix and name.startswith("Flask"):
            wanted.insert(0, "App" + name[len("Flask") :])
        for source in self.__sources():
            for candidate in wanted:
                if hasattr(source, candidate):
                    return getattr(source, candidate)
        raise AttributeError(
            f"module {self.__name__!r} has no attribute {name!r} (sockweb has no equivalent)"
        )

    def __dir__(self) -> list[str]:
        names = set(self.__dict__)
        for source in self.__sources():
            names.update(n for n in dir(source) if not n.startswith("_"))
        return sorted(names)


class _Loader(importlib.abc.Loader):
    """Hands out an existing sockweb module or a fresh :class:`AliasModule` under the upstream name."""

    def __init__(self, target: str | Alias) -> None:
        self.target = target
        self.saved_spec: Any = None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        if isinstance(self.target, Alias):
            return AliasModule(spec.name, self.target)
        module = importlib.import_module(self.target)
        self.saved_spec = module.__spec__
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        # the import system stamped the upstream spec on the sockweb module; it keeps its own identity
        if self.saved_spec is not None:
            module.__spec__ = self.saved_spec


def resolve(fullname: str) -> str | Alias | None:
    """The table entry for an upstream module name, following a mapped package's own submodules."""
    if fullname in MODULES:
        return MODULES[fullname]
    parent = fullname.rpartition(".")[0]
    while parent:
        entry = MODULES.get(parent)
        if isinstance(entry, str):
            return f"{entry}.{fullname[len(parent) + 1 :]}"
        if entry is not None:
            return None  # below a stand-in module only the table's names exist
        parent = parent.rpartition(".")[0]
    return None


class PatchFinder(importlib.abc.MetaPathFinder):
    """Answers for ``flask``/``werkzeug`` names; any other name goes on to the next finder."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname.partition(".")[0] not in ROOTS:
            return None
        entry = resolve(fullname)
        if entry is None:
            # the name is below flask/werkzeug but sockweb has no such module: stop here, so that the
            # real package (if installed) is never half-imported under the patch
            raise ModuleNotFoundError(
                f"No module named {fullname!r} (sockweb.flask_patch has no equivalent)", name=fullname
            )
        if isinstance(entry, str):
            try:
                real = importlib.util.find_spec(entry)
            except ModuleNotFoundError:
                real = None
            if real is None:
                raise ModuleNotFoundError(
                    f"No module named {fullname!r} (its sockweb counterpart {entry!r} does not exist)",
                    name=fullname,
                )
            is_package = real.submodule_search_locations is not None
        else:
            is_package = True
        return importlib.machinery.ModuleSpec(fullname, _Loader(entry), is_package=is_package)


def _real_upstream_loaded() -> list[str]:
    return sorted(
        name
        for name, module in list(sys.modules.items())
        if name.partition(".")[0] in ROOTS and not _is_ours(module)
    )


def _is_ours(module: object) -> bool:
    spec = getattr(module, "__spec__", None)
    return isinstance(module, AliasModule) or (
        spec is not None and (spec.name.startswith("sockweb.") or isinstance(spec.loader, _Loader))
    )


def is_installed() -> bool:
    """Whether the finder is on ``sys.meta_path``."""
    return any(isinstance(finder, PatchFinder) for finder in sys.meta_path)


def install() -> None:
    """Put the finder first on ``sys.meta_path`` (idempotent). Refuses if real flask/werkzeug is loaded."""
    if is_installed():
        return
    loaded = _real_upstream_loaded()
    if loaded:
        raise ImportError(
            "sockweb.flask_patch must be imported before flask and werkzeug, but these are already "
            f"imported: {', '.join(loaded[:5])}{' ...' if len(loaded) > 5 else ''}. Import "
            "sockweb.flask_patch first (for example at the top of the app's entry module)."
        )
    sys.meta_path.insert(0, PatchFinder())


install()
