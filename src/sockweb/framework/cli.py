"""``sockweb routes MODULE:APP``: list an App's routes as a table.

Strategy: a small loader of its own (the server's loader belongs to another layer): put the current
folder on ``sys.path``, import the module, find the App (``MODULE:NAME``, ``MODULE:factory()`` or, with
just ``MODULE``, an attribute named ``app``/``application`` or the module's only App), then print one row
per rule: endpoint, methods, rule. HEAD and OPTIONS are implied by GET and by the router, so they are
hidden unless ``--all-methods``.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

from .app import App

_IMPLIED_METHODS = frozenset({"HEAD", "OPTIONS"})


class LoadError(Exception):
    """The application could not be found or imported (message meant for the terminal)."""


def _call_factory(obj: Any, call: str, spec: str) -> Any:
    try:
        expr = ast.parse(call, mode="eval").body
    except SyntaxError:
        raise LoadError(f"cannot parse the factory call in {spec!r}") from None
    if not isinstance(expr, ast.Call):
        raise LoadError(f"{spec!r}: expected NAME or NAME(ARGS...)")
    try:
        args = [ast.literal_eval(arg) for arg in expr.args]
        kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in expr.keywords if kw.arg is not None}
    except ValueError:
        raise LoadError(f"{spec!r}: factory arguments must be Python literals") from None
    return obj(*args, **kwargs)


def load_app(spec: str) -> App:
    """Import ``MODULE[:NAME | :factory(ARGS)]`` and return the App it names."""
    module_name, _, target = spec.partition(":")
    if not module_name:
        raise LoadError(f"{spec!r}: expected MODULE:APP")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        if e.name == module_name or (e.name and module_name.startswith(e.name + ".")):
            raise LoadError(f"cannot import module {module_name!r}: {e}") from None
        raise
    if not target:
        return _find_app(module, spec)
    name, paren, _ = target.partition("(")
    obj: Any = module
    for part in name.strip().split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise LoadError(f"module {module_name!r} has no attribute {name.strip()!r}") from None
    if paren:
        obj = _call_factory(obj, target, spec)
    if not isinstance(obj, App):
        raise LoadError(f"{spec!r} is a {type(obj).__name__}, not a sockweb App")
    return obj


def _find_app(module: Any, spec: str) -> App:
    for name in ("app", "application"):
        candidate = getattr(module, name, None)
        if isinstance(candidate, App):
            return candidate
    found = [value for value in vars(module).values() if isinstance(value, App)]
    if len(found) == 1:
        return found[0]
    if not found:
        raise LoadError(f"no App found in module {spec!r}; name it with MODULE:APP")
    raise LoadError(f"several Apps in module {spec!r}; name one with MODULE:APP")


def route_rows(app: App, sort: str = "endpoint", all_methods: bool = False) -> list[tuple[str, str, str]]:
    """(endpoint, methods, rule) for each rule of the App, sorted by ``sort``."""
    rows: list[tuple[str, str, str]] = []
    for rule in app.url_map.iter_rules():
        methods = set(rule.methods or ("ANY",))
        if not all_methods:
            methods -= _IMPLIED_METHODS
        rows.append((str(rule.endpoint), ", ".join(sorted(methods)), rule.rule))
    column = {"endpoint": 0, "methods": 1, "rule": 2}.get(sort)
    if column is not None:
        rows.sort(key=lambda row: (row[column], row[2]))
    return rows


def format_table(rows: Sequence[tuple[str, ...]], header: tuple[str, ...]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, tuple("-" * width for width in widths), *rows]
    ]
    return "\n".join(lines)


def main(argv: Sequence[str], prog: str = "sockweb routes") -> int:
    """Entry point of ``sockweb routes``."""
    parser = argparse.ArgumentParser(prog=prog, description="List the routes of a sockweb App.")
    parser.add_argument("app", metavar="MODULE:APP", help="the App to load, e.g. myproject.web:app")
    parser.add_argument(
        "--sort",
        choices=("endpoint", "methods", "rule", "match"),
        default="endpoint",
        help="order of the rows ('match': definition order)",
    )
    parser.add_argument("--all-methods", action="store_true", help="also show HEAD and OPTIONS")
    args = parser.parse_args(list(argv))
    try:
        app = load_app(args.app)
    except LoadError as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return 2
    rows = route_rows(app, args.sort, args.all_methods)
    if not rows:
        print("No routes.")
        return 0
    print(format_table(rows, ("Endpoint", "Methods", "Rule")))
    return 0
