"""Find the WSGI application named on the command line: ``MODULE:NAME``, ``MODULE:FACTORY()``, ``--factory``.

Strategy: import the module with the current directory first on ``sys.path`` (like ``python -m``), walk the
dotted attribute path, call it when the spec ends in ``()`` or ``factory`` is set, and check the result is
callable. Every failure becomes one ``AppLoadError`` whose message is a single line; for an exception raised
while importing the user's module the line names the exception and the innermost frame of the user's code,
so ``sockweb serve`` can print it without a 30-line traceback.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from collections.abc import Callable, Iterable
from typing import Any, cast

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_DEFAULT_NAMES = ("app", "application")


class AppLoadError(Exception):
    """The application cannot be loaded; ``str(err)`` is one human-readable line."""


def _summarise(exc: BaseException) -> str:
    """`ExcType: message (file:line)` for the innermost frame outside importlib."""
    frames = [
        f for f in traceback.extract_tb(exc.__traceback__) if "importlib" not in f.filename.replace("\\", "/")
    ]
    where = f" ({frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    if isinstance(exc, SyntaxError) and exc.filename:
        where = f" ({exc.filename}:{exc.lineno})"
        return f"SyntaxError: {exc.msg}{where}"
    return f"{type(exc).__name__}: {exc}{where}"


def _import(module_name: str) -> object:
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise AppLoadError(f"cannot import {module_name!r}: no module named {exc.name!r}") from None
        raise AppLoadError(f"error while importing {module_name!r}: {_summarise(exc)}") from None
    except Exception as exc:
        raise AppLoadError(f"error while importing {module_name!r}: {_summarise(exc)}") from None


def load_app(spec: str, *, factory: bool = False) -> WSGIApp:
    """Import and return the WSGI callable named by `spec` (see the module docstring)."""
    module_name, _, attr = spec.partition(":")
    if not module_name:
        raise AppLoadError(f"invalid application {spec!r}: expected MODULE:NAME")
    call = factory
    if attr.endswith("()"):
        attr, call = attr[:-2], True
    elif "(" in attr:
        raise AppLoadError(f"invalid application {spec!r}: a factory takes no arguments, write NAME()")
    module = _import(module_name)
    names = attr.split(".") if attr else None
    obj: object = module
    if names is None:
        for name in _DEFAULT_NAMES:
            if hasattr(module, name):
                obj = getattr(module, name)
                break
        else:
            raise AppLoadError(
                f"no 'app' or 'application' in module {module_name!r}; write {module_name}:NAME"
            )
    else:
        for name in names:
            if not name.isidentifier():
                raise AppLoadError(f"invalid application {spec!r}: {name!r} is not a Python name")
            try:
                obj = getattr(obj, name)
            except AttributeError:
                raise AppLoadError(f"module {module_name!r} has no attribute {attr!r}") from None
    if call:
        if not callable(obj):
            raise AppLoadError(f"factory {spec!r} is not callable")
        try:
            obj = obj()
        except Exception as exc:
            raise AppLoadError(f"factory {spec!r} failed: {_summarise(exc)}") from None
    if not callable(obj):
        raise AppLoadError(f"application {spec!r} is not callable (got {type(obj).__name__})")
    return cast(WSGIApp, obj)
