"""The multi-valued dicts: dict behaviour, copies, pickling, the ordered and combined forms."""

from __future__ import annotations

import copy
import pickle

import pytest

from sockweb.web.datastructures import (
    CombinedMultiDict,
    ImmutableMultiDict,
    ImmutableOrderedMultiDict,
    MultiDict,
    OrderedMultiDict,
    iter_multi_items,
)
from sockweb.web.exceptions import BadRequestKeyError


def test_is_a_dict_that_shows_first_values() -> None:
    md = MultiDict([("a", "1"), ("b", "2"), ("a", "3")])
    assert isinstance(md, dict)
    # dict() and ** unpacking read through keys() and __getitem__, never the stored lists
    assert dict(md) == {**md} == {"a": "1", "b": "2"}
    assert md == {"a": "1", "b": "2"}
    assert md != {"a": ["1", "3"], "b": ["2"]}
    assert md.getlist("a") == ["1", "3"]


@pytest.mark.parametrize("cls", [MultiDict, ImmutableMultiDict, OrderedMultiDict, ImmutableOrderedMultiDict])
def test_pickle_keeps_every_value(cls: type[MultiDict[str, str]]) -> None:
    md = cls([("a", "1"), ("b", "2"), ("a", "3")])
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        restored = pickle.loads(pickle.dumps(md, protocol))
        assert type(restored) is cls
        assert list(restored.items(multi=True)) == list(md.items(multi=True))


def test_copies() -> None:
    md = MultiDict([("a", ["x"])])
    shallow = copy.copy(md)
    shallow.add("a", ["y"])
    assert md.getlist("a") == [["x"]]  # the value lists are new ...
    assert shallow["a"] is md["a"]  # ... the values shared
    deep = md.deepcopy()
    assert deep == md and deep["a"] is not md["a"]
    assert copy.deepcopy(md)["a"] is not md["a"]
    frozen = ImmutableMultiDict([("a", "1")])
    assert copy.copy(frozen) is frozen
    mutable = frozen.copy()
    mutable.add("a", "2")
    assert type(mutable) is MultiDict and frozen.getlist("a") == ["1"]


def test_or_and_ior() -> None:
    md = MultiDict([("a", "1")])
    merged = md | {"a": "2", "b": "3"}
    assert type(merged) is MultiDict
    assert merged.getlist("a") == ["1", "2"] and merged["b"] == "3"
    assert "b" not in md
    md |= {"c": ["4", "5"]}
    assert md.getlist("c") == ["4", "5"]
    frozen = ImmutableMultiDict([("a", "1")])
    assert (frozen | {"b": "2"}).to_dict() == {"a": "1", "b": "2"}
    with pytest.raises(TypeError):
        frozen |= {"b": "2"}


def test_pop_and_popitem_on_empty_value_lists() -> None:
    md: MultiDict[str, str] = MultiDict()
    md.setlistdefault("empty")
    with pytest.raises(BadRequestKeyError):
        md.popitem()
    md.setlistdefault("empty")
    with pytest.raises(BadRequestKeyError):
        md["empty"]
    with pytest.raises(BadRequestKeyError):
        MultiDict().popitemlist()
    md = MultiDict([("a", "1"), ("a", "2")])
    assert md.popitemlist() == ("a", ["1", "2"]) and not md


def test_immutable_hash_ignores_key_order() -> None:
    # equal dicts must hash alike: equality ignores the order of keys, not that of a key's values
    first = ImmutableMultiDict([("a", "1"), ("b", "2")])
    second = ImmutableMultiDict([("b", "2"), ("a", "1")])
    assert first == second and hash(first) == hash(second)
    assert hash(ImmutableMultiDict([("a", "1"), ("a", "2")])) != hash(
        ImmutableMultiDict([("a", "2"), ("a", "1")])
    )


def test_ordered_keeps_order_across_keys() -> None:
    md: OrderedMultiDict[str, int] = OrderedMultiDict()
    md.update([("x", 1), ("y", 2)])
    md.add("x", 3)
    assert list(md.items(multi=True)) == [("x", 1), ("y", 2), ("x", 3)]
    assert list(md.items()) == [("x", 1), ("y", 2)]
    assert md == MultiDict(md)  # against an unordered one, order does not count
    assert md != OrderedMultiDict([("x", 1), ("x", 3), ("y", 2)])
    md["y"] = 4
    assert list(md.items(multi=True)) == [("x", 1), ("x", 3), ("y", 4)]
    assert md.pop("x") == 1 and list(md.items(multi=True)) == [("y", 4)]
    with pytest.raises(TypeError):
        md.setlistdefault("z")
    frozen = ImmutableOrderedMultiDict([("a", 1), ("b", 2), ("a", 3)])
    assert hash(frozen) != hash(ImmutableOrderedMultiDict([("a", 1), ("a", 3), ("b", 2)]))
    with pytest.raises(TypeError):
        frozen.add("c", 4)


def test_combined_follows_its_dicts() -> None:
    first = MultiDict([("a", "1")])
    second = MultiDict([("a", "2"), ("b", "3")])
    combined = CombinedMultiDict([first, second])
    assert isinstance(combined, dict)
    assert dict(combined) == {"a": "1", "b": "3"}
    assert len(combined) == 2 and sorted(combined) == ["a", "b"]
    second.add("c", "4")
    assert combined.getlist("a") == ["1", "2"] and combined["c"] == "4"
    first.clear()
    assert combined["a"] == "2"
    with pytest.raises(TypeError):
        combined["x"] = "y"
    assert type(combined.copy()) is MultiDict


def test_iter_multi_items() -> None:
    assert list(iter_multi_items({"a": ["1", "2"], "b": ("3",), "c": b"raw"})) == [
        ("a", "1"),
        ("a", "2"),
        ("b", "3"),
        ("c", b"raw"),
    ]
    assert list(iter_multi_items(MultiDict([("a", "1"), ("a", "2")]))) == [("a", "1"), ("a", "2")]
    assert list(iter_multi_items([("k", "v")])) == [("k", "v")]
