"""The boundary between a connection and an exchange, checked over the AST (as tests/test_layers.py checks
the layers).

An `Exchange` (sockweb.server.wsgi) may use only the members of `exchange_api.Carrier` on its connection,
and `HttpProtocol` (sockweb.server.protocol) and the body sinks only the members of
`exchange_api.ExchangeSide` on an exchange. mypy holds the annotated parameters to this; the test also
catches what annotations miss (an untyped local, a getattr with a literal name, an import of the other
module's class) and keeps the rule when someone widens an annotation.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SERVER = Path(__file__).resolve().parents[2] / "src" / "sockweb" / "server"


def protocol_members(class_name: str) -> set[str]:
    """The names a typing.Protocol class in exchange_api declares (attributes, properties, methods)."""
    tree = ast.parse((SERVER / "exchange_api.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            names = set()
            for item in node.body:
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    names.add(item.target.id)
                elif isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    names.add(item.name)
            return names
    raise AssertionError(f"exchange_api has no class {class_name}")


def _is_self_attr(node: ast.AST, name: str) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == name
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
    )


def reaches(source: str, class_name: str, holders: set[str], self_holders: set[str]) -> list[str]:
    """Attributes used on the other side inside `class_name`: on a local named in `holders` (or bound
    from ``self.<one of self_holders>``), or on ``self.<one of self_holders>`` directly; also
    ``getattr(<holder>, "literal")``. Returns "line: name" for each use."""
    tree = ast.parse(source)
    found: list[str] = []
    for cls in ast.walk(tree):
        if not (isinstance(cls, ast.ClassDef) and cls.name == class_name):
            continue
        for func in cls.body:
            if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            local = set(holders)
            for node in ast.walk(func):  # locals bound to the other side: conn = self.conn
                if isinstance(node, ast.Assign) and any(_is_self_attr(node.value, h) for h in self_holders):
                    local.update(t.id for t in node.targets if isinstance(t, ast.Name))

            def holder(value: ast.AST, local: set[str] = local) -> bool:
                if isinstance(value, ast.Name):
                    return value.id in local
                return any(_is_self_attr(value, h) for h in self_holders)

            for node in ast.walk(func):
                if isinstance(node, ast.Attribute) and holder(node.value):
                    found.append(f"{node.lineno}: {node.attr}")
                elif (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id in ("getattr", "setattr", "hasattr")
                    and len(node.args) >= 2
                    and holder(node.args[0])
                    and isinstance(node.args[1], ast.Constant)
                ):
                    found.append(f"{node.lineno}: {node.args[1].value}")
    return found


def outside(uses: list[str], allowed: set[str]) -> list[str]:
    return [use for use in uses if use.split(": ", 1)[1] not in allowed]


def exchange_uses(source: str) -> list[str]:
    return reaches(source, "Exchange", {"conn"}, {"conn"})


def connection_uses(source: str, class_name: str = "HttpProtocol") -> list[str]:
    return reaches(source, class_name, {"ex", "pending"}, {"exchange"})


def test_the_exchange_uses_only_the_carrier_interface() -> None:
    uses = exchange_uses((SERVER / "wsgi.py").read_text())
    assert uses, "the check found no use of the connection at all: it is looking at the wrong names"
    assert outside(uses, protocol_members("Carrier")) == []


def test_the_connection_uses_only_the_exchange_side_interface() -> None:
    uses = connection_uses((SERVER / "protocol.py").read_text())
    assert uses, "the check found no use of an exchange at all: it is looking at the wrong names"
    assert outside(uses, protocol_members("ExchangeSide")) == []


@pytest.mark.parametrize("cls", ["BufferSink", "StreamSink", "DiscardSink"])
def test_the_sinks_use_only_the_exchange_side_interface(cls: str) -> None:
    uses = connection_uses((SERVER / "sinks.py").read_text(), cls)
    assert outside(uses, protocol_members("ExchangeSide")) == []


def test_neither_module_imports_the_other_class() -> None:
    """wsgi.py knows no HttpProtocol and protocol.py no Exchange: each sees the other as its Protocol."""
    for module, forbidden in (("wsgi.py", "HttpProtocol"), ("protocol.py", "Exchange")):
        tree = ast.parse((SERVER / module).read_text())
        imported = {
            alias.asname or alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom)
            for alias in node.names
        }
        assert forbidden not in imported, f"{module} imports {forbidden}"


# -- the check itself fails on a reach across the boundary --------------------------------------------
_EXCHANGE_REACHING = """
class Exchange:
    def plan_head(self):
        conn = self.conn
        if conn.must_close or self.conn.body_error:
            return getattr(self.conn, "parser")
        return conn.send
"""

_CONNECTION_REACHING = """
class HttpProtocol:
    def exchange_done(self, ex, keep):
        ex.writer = None
        return self.exchange.conn, ex.plan
"""


def test_the_check_catches_an_exchange_reaching_into_its_connection() -> None:
    bad = outside(exchange_uses(_EXCHANGE_REACHING), protocol_members("Carrier"))
    assert bad == ["5: must_close", "5: body_error", "6: parser"]


def test_the_check_catches_a_connection_reaching_into_its_exchange() -> None:
    bad = outside(connection_uses(_CONNECTION_REACHING), protocol_members("ExchangeSide"))
    assert bad == ["4: writer", "5: conn"]
