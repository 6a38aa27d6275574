"""The dict/list containers and CombinedMultiDict."""

from __future__ import annotations

import copy

import pytest

from sockweb.web.datastructures import (
    CallbackDict,
    CombinedMultiDict,
    ImmutableDict,
    ImmutableList,
    ImmutableTypeConversionDict,
    MultiDict,
    TypeConversionDict,
)


def test_type_conversion_dict() -> None:
    d: TypeConversionDict[str, str | None] = TypeConversionDict(page="2", bad="x", none=None)
    assert d.get("page", type=int) == 2
    assert d.get("bad", -1, type=int) == -1
    assert d.get("none", -1, type=int) == -1
    assert d.get("missing", 5) == 5
    with pytest.raises(KeyError):
        d.get("bad", type=lambda value: {}[value])


@pytest.mark.parametrize("cls", [ImmutableDict, ImmutableTypeConversionDict])
def test_immutable_dicts(cls: type[ImmutableDict[str, int]]) -> None:
    d = cls({"a": 1})
    for mutate in (
        lambda: d.__setitem__("b", 2),
        lambda: d.pop("a"),
        lambda: d.update({}),
        d.clear,
        lambda: d.setdefault("a", 1),
    ):
        with pytest.raises(TypeError):
            mutate()
    with pytest.raises(TypeError):
        d |= {"b": 2}
    assert hash(d) == hash(cls({"a": 1})) and {d, cls({"a": 1})} == {d}
    mutable = d.copy()
    mutable["b"] = 2
    assert "b" not in d and copy.copy(d) is d
    assert d | {"b": 2} == {"a": 1, "b": 2}


def test_immutable_list() -> None:
    items = ImmutableList([1, 2])
    assert hash(items) == hash((1, 2))
    with pytest.raises(TypeError):
        items.append(3)
    with pytest.raises(TypeError):
        items[0] = 5


def test_callback_dict_calls_only_on_change() -> None:
    calls: list[int] = []
    d: CallbackDict[str, object] = CallbackDict({"a": 1}, on_update=lambda _: calls.append(1))
    d.get("a"), d.pop("zz", None), d.setdefault("a"), d.copy()
    assert calls == []
    d["b"] = 2
    del d["b"]
    d.pop("a")
    d.setdefault("x")
    d.update(y=1)
    d |= {"z": 1}
    d.popitem()
    d.clear()
    assert len(calls) == 8
    with pytest.raises(KeyError):
        del d["missing"]
    assert len(calls) == 8


def test_combined_multidict_is_a_live_read_only_view() -> None:
    args = MultiDict([("a", "1"), ("b", "2")])
    form = MultiDict([("b", "3")])
    combined = CombinedMultiDict([args, form])
    assert combined["b"] == "2"
    assert combined.getlist("b") == ["2", "3"]
    assert combined.get("a", type=int) == 1
    assert sorted(combined.items(multi=True)) == [("a", "1"), ("b", "2"), ("b", "3")]
    assert len(combined) == 2 and "a" in combined and "zz" not in combined
    with pytest.raises(KeyError):
        combined["zz"]
    with pytest.raises(TypeError):
        combined["a"] = "x"
    form.add("c", "4")
    assert combined["c"] == "4"  # follows the underlying dicts
    copied = combined.copy()
    copied["a"] = "x"
    assert combined["a"] == "1"
    assert combined.to_dict(flat=False) == {"a": ["1"], "b": ["2", "3"], "c": ["4"]}
