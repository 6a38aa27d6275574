"""The import direction between layers, checked over the AST of every module in src/sockweb.

http <- server <- web.dev;  http <- web <- framework;  net stands alone. The framework may reach the dev
server only lazily (inside a function, as App.run does). Third-party imports are limited per layer so that
the server core keeps running on the standard library alone.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "sockweb"

# layer -> sockweb layers it may import at module level
ALLOWED: dict[str, set[str]] = {
    "http": {"http"},
    "server": {"http", "server"},
    "web": {"http", "web"},
    "web.dev": {"http", "server", "web", "web.dev"},
    "framework": {"http", "web", "framework"},
    "net": {"net"},
    # the Flask/Werkzeug compatibility layer sits on top of everything it maps names to
    "flask_patch": {"http", "web", "web.dev", "framework", "flask_patch"},
}
# imports allowed only inside function bodies (lazy)
LAZY_ALLOWED: dict[str, set[str]] = {"framework": {"web.dev", "server"}}
# third-party top-level packages each layer may import (optional ones guarded at runtime)
THIRD_PARTY: dict[str, set[str]] = {
    "http": set(),
    # h2 and what it brings (hyperframe, hpack): only under --http2
    "server": {"uvloop", "setproctitle", "h2", "hyperframe", "hpack"},
    "web": set(),
    "web.dev": {"watchfiles"},
    "framework": {"jinja2", "markupsafe", "itsdangerous", "blinker", "click", "dotenv", "orjson", "redis"},
    "net": set(),
    "flask_patch": set(),
}
# tomli is the standard library's tomllib for Python 3.10, imported only where tomllib is missing.
STDLIB = set(sys.stdlib_module_names) | {"__future__", "tomli"}


def layer_of(path: Path) -> str | None:
    parts = path.relative_to(SRC).parts
    if len(parts) < 2:
        return None  # top-level modules (cli, __init__) sit above every layer
    if parts[0] == "web" and len(parts) > 2 and parts[1] == "dev":
        return "web.dev"
    return parts[0]


def target_layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "sockweb" or len(parts) < 2:
        return None if parts[0] != "sockweb" else "<top>"
    if parts[1] == "web" and len(parts) > 2 and parts[2] == "dev":
        return "web.dev"
    return parts[1]


def resolve(node: ast.ImportFrom, path: Path) -> str:
    if node.level == 0:
        return node.module or ""
    package = list(path.relative_to(SRC.parent).with_suffix("").parts)
    base = package[: len(package) - node.level]
    return ".".join(base + ([node.module] if node.module else []))


def imports(tree: ast.Module, path: Path) -> list[tuple[str, bool, int]]:
    """(module, is_lazy, line) for every import in the file."""
    found: list[tuple[str, bool, int]] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.Import):
                found.extend((alias.name, lazy, child.lineno) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = resolve(child, path)
                found.append((base, lazy, child.lineno))
            elif isinstance(child, ast.If) and _is_type_checking(child):
                continue  # typing-only imports do not run
            visit(child, inner)

    visit(tree, False)
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def violations() -> list[str]:
    problems: list[str] = []
    for path in sorted(SRC.rglob("*.py")):
        layer = layer_of(path)
        if layer is None:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for module, lazy, line in imports(tree, path):
            where = f"{path.relative_to(SRC.parent)}:{line}"
            top = module.split(".")[0]
            if top == "sockweb":
                target = target_layer(module)
                if target == "<top>":
                    problems.append(f"{where}: layer {layer!r} imports the top-level package {module!r}")
                    continue
                ok = target in ALLOWED[layer] or (lazy and target in LAZY_ALLOWED.get(layer, set()))
                if not ok:
                    problems.append(f"{where}: layer {layer!r} must not import {module!r}")
            elif top and top not in STDLIB and top not in THIRD_PARTY[layer]:
                problems.append(f"{where}: layer {layer!r} imports third-party {module!r}")
    return problems


def test_layers_import_in_one_direction() -> None:
    problems = violations()
    assert not problems, "import direction violated:\n" + "\n".join(problems)


def test_checker_catches_a_wrong_way_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "sockweb"
    (fake / "http").mkdir(parents=True)
    (fake / "http" / "bad.py").write_text("from sockweb.server import x\nimport jinja2\n")
    (fake / "framework").mkdir()
    (fake / "framework" / "app.py").write_text(
        "from sockweb.web.dev import run_simple\ndef run():\n    from sockweb.web.dev import run_simple\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "SRC", fake)
    found = violations()
    assert any("http/bad.py:1" in p and "sockweb.server" in p for p in found)
    assert any("http/bad.py:2" in p and "jinja2" in p for p in found)
    assert any("framework/app.py:1" in p for p in found)
    assert not any("framework/app.py:3" in p for p in found)
