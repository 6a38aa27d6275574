"""docs/walkthrough.md (and its diagram) cannot drift from the code they describe.

Every relative link must point at a file that exists (and an anchor at a heading), and every backticked
name that reads as code (``parse_bind``, ``HttpProtocol.on_request``, ``sockweb.net.cli.main``,
``render_template(...)``) must be defined in a module the page links to, so a reader who follows the
links finds it. The modules are read with ``ast``, never imported: nothing here depends on the server or
framework being importable.
"""

from __future__ import annotations

import ast
import builtins
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "walkthrough.md"
DIAGRAM = ROOT / "docs" / "walkthrough_diagram.py"
SRC = ROOT / "src"

# Names the page uses that belong to the standard library or to sockets in general, not to our code.
NOT_OURS = {"ContextVar", "accept", "recv", "close", "open", "send"}
# Header names the page quotes: text on the wire, not names in the code.
HEADER_NAMES = {"Allow", "Date", "Server"}
# Lower-case names the page uses for an instance of one of our classes (``app.wsgi_app``).
INSTANCES = {"app": "App", "request": "Request", "parser": "RequestParser"}

LINK = re.compile(r"\]\(([^)\s]+)\)")
CODE = re.compile(r"`([^`\n]+)`")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")


@dataclass
class Index:
    """What a set of modules defines: every def, class, module-level name and class attribute, and the
    attributes of each class."""

    names: set[str] = field(default_factory=set)
    classes: dict[str, set[str]] = field(default_factory=dict)

    def add_module(self, path: Path) -> None:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.names.add(node.name)
            elif isinstance(node, ast.ClassDef):
                attrs = _class_attributes(node)
                self.names.add(node.name)
                self.names.update(attrs)  # a bare `max_connections` may name a setting, a method...
                self.classes.setdefault(node.name, set()).update(attrs)
        for stmt in tree.body:
            self.names.update(_assigned_names(stmt))


def _assigned_names(stmt: ast.stmt) -> set[str]:
    targets: list[ast.expr] = []
    if isinstance(stmt, ast.Assign):
        targets = stmt.targets
    elif isinstance(stmt, ast.AnnAssign):
        targets = [stmt.target]
    return {name.id for target in targets for name in ast.walk(target) if isinstance(name, ast.Name)}


def _class_attributes(cls: ast.ClassDef) -> set[str]:
    attrs: set[str] = set()
    for stmt in cls.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            attrs.add(stmt.name)
        attrs.update(_assigned_names(stmt))
    for node in ast.walk(cls):  # self.x = ... in any method
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.ctx, ast.Store)
            and isinstance(node.value, ast.Name)
            and node.value.id == "self"
        ):
            attrs.add(node.attr)
    return attrs


def _text() -> str:
    return DOC.read_text(encoding="utf-8")


def _prose() -> str:
    """The page without its fenced code blocks (console sessions and the seed's sketch)."""
    return FENCE.sub("", _text())


def _slug(heading: str) -> str:
    # GitHub's rule: lower case, drop punctuation except '-' and '_', spaces become '-'.
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(markdown: str) -> set[str]:
    return {_slug(line.lstrip("#")) for line in FENCE.sub("", markdown).splitlines() if line.startswith("#")}


def _links() -> list[str]:
    return [target for target in LINK.findall(_text()) if not re.match(r"[a-z][a-z0-9+.-]*:", target)]


def _linked_modules() -> list[Path]:
    modules: list[Path] = []
    for target in _links():
        path = (DOC.parent / target.partition("#")[0]).resolve()
        if path.is_dir():
            modules.extend(sorted(path.rglob("*.py")))
        elif path.suffix == ".py" and path.is_file():  # a missing file fails test_relative_link_resolves
            modules.append(path)
    return modules


def _index() -> Index:
    index = Index()
    for module in _linked_modules():
        index.add_module(module)
    return index


def _code_references() -> list[str]:
    """Backticked tokens that name code: identifiers, dotted names, and calls of either."""
    refs: list[str] = []
    for token in CODE.findall(_prose()):
        call = re.fullmatch(r"(.+?)\(.*\)", token)
        name = call.group(1) if call else token
        if not DOTTED.fullmatch(name):
            continue  # a header line, a command, a path...
        plain = name.isupper() or (name.islower() and "_" not in name)
        if plain and "." not in name and not call:
            continue  # SO_REUSEADDR, PATH_INFO; plain words such as `http` or `config`
        refs.append(name)
    return sorted(set(refs))


def _resolve(name: str, index: Index) -> str | None:
    """None when ``name`` is found; otherwise why not."""
    parts = name.split(".")
    if parts[0] == "sockweb":
        return _resolve_module_path(parts)
    head = INSTANCES.get(parts[0], parts[0])
    if head in NOT_OURS or head in HEADER_NAMES or hasattr(builtins, head):
        return None
    if len(parts) == 1:
        return None if head in index.names else "not defined in any module the page links to"
    if head not in index.classes:
        if head[:1].islower() and head == parts[0]:
            return None  # `transport.write`, `wsgi.input`: not one of our names
        return f"no class {head} in the linked modules"
    if parts[1] not in index.classes[head]:
        return f"{head} has no attribute {parts[1]}"
    return None


def _resolve_module_path(parts: list[str]) -> str | None:
    for split in range(len(parts), 0, -1):
        base = SRC.joinpath(*parts[:split])
        module = base.with_suffix(".py") if base.with_suffix(".py").is_file() else base / "__init__.py"
        if module.is_file():
            rest = parts[split:]
            if not rest:
                return None
            index = Index()
            index.add_module(module)
            if rest[0] not in index.names:
                return f"{'.'.join(parts[:split])} defines no {rest[0]}"
            if len(rest) > 1 and rest[1] not in index.classes.get(rest[0], set()):
                return f"{rest[0]} has no attribute {rest[1]}"
            return None
    return "no such module"


def test_the_page_links_to_modules_and_names_code() -> None:
    # The checks below must have something to check: a page that lost its links would pass them all.
    assert len(_linked_modules()) >= 20
    assert len(_code_references()) >= 50


@pytest.mark.parametrize("target", sorted(set(_links())))
def test_relative_link_resolves(target: str) -> None:
    path_part, _, anchor = target.partition("#")
    path = (DOC.parent / path_part).resolve() if path_part else DOC
    assert path.exists(), f"{target}: no such file"
    assert ROOT in path.parents, f"{target}: points outside the repository"
    if anchor:
        assert path.suffix == ".md", f"{target}: an anchor into a file that has no headings"
        assert anchor in _anchors(path.read_text(encoding="utf-8")), f"{target}: no such heading"


def test_every_code_name_is_defined_in_a_linked_module() -> None:
    index = _index()
    missing = {name: why for name in _code_references() if (why := _resolve(name, index))}
    assert not missing, f"docs/walkthrough.md names code that is not there: {missing}"


@pytest.mark.parametrize(
    ("name", "found"),
    [
        ("HttpProtocol.data_received", True),
        ("HttpProtocol.no_such_method", False),
        ("NoSuchClass.run", False),
        ("parse_bind", True),
        ("no_such_function", False),
        ("sockweb.net.cli.main", True),
        ("sockweb.net.cli.no_such_name", False),
        ("sockweb.no_such_module", False),
        ("app.wsgi_app", True),
        ("app.no_such_attribute", False),
    ],
)
def test_the_resolver_itself(name: str, found: bool) -> None:
    assert (_resolve(name, _index()) is None) is found


def _diagram_constants() -> dict[str, Any]:
    """LAYERS and STEPS of docs/walkthrough_diagram.py, read without running it (no matplotlib needed)."""
    tree = ast.parse(DIAGRAM.read_text(encoding="utf-8"))
    found: dict[str, Any] = {}
    for stmt in tree.body:
        if not isinstance(stmt, ast.Assign):
            continue
        target = stmt.targets[0]
        if isinstance(target, ast.Name) and target.id in ("LAYERS", "STEPS"):
            found[target.id] = ast.literal_eval(stmt.value)
    return found


def test_the_diagram_names_code_that_exists() -> None:
    constants = _diagram_constants()
    texts = [step for _, step in constants["STEPS"]]
    names = {
        match.group(0)
        for text in texts
        for match in re.finditer(r"\b[A-Z]\w*\.\w+|\b_?[a-z]+(?:_[a-z]+)+\b", text)
    }
    assert len(names) >= 10  # the pattern still finds the diagram's names
    index = _index()
    missing = {name: why for name in sorted(names) if (why := _resolve(name, index))}
    assert not missing, f"docs/walkthrough_diagram.py names code that is not there: {missing}"
    # Each layer box lists files of its package ("parser.py · response.py").
    packages = {"http": "http", "server": "server", "web": "web", "framework": "framework"}
    for layer, (*_, subtitle) in constants["LAYERS"].items():
        for filename in re.findall(r"\b\w+\.py\b", subtitle):
            package = SRC / "sockweb" / packages[layer]
            assert (package / filename).is_file(), f"layer {layer}: no {filename} in {package}"
