from __future__ import annotations

import copy
import io

import pytest

from sockweb.web.datastructures import EnvironHeaders, FileStorage, Headers, ImmutableMultiDict, MultiDict
from sockweb.web.exceptions import BadRequest, BadRequestKeyError


class TestMultiDict:
    def test_first_value_and_getlist(self) -> None:
        md = MultiDict([("a", "1"), ("b", "2"), ("a", "3")])
        assert md["a"] == "1"
        assert md.getlist("a") == ["1", "3"]
        assert md.getlist("missing") == []
        assert len(md) == 2
        assert list(md) == ["a", "b"]

    def test_from_mapping_expands_lists(self) -> None:
        md = MultiDict({"a": ["1", "2"], "b": "x"})
        assert list(md.items(multi=True)) == [("a", "1"), ("a", "2"), ("b", "x")]
        assert list(md.items()) == [("a", "1"), ("b", "x")]
        assert list(md.values()) == ["1", "x"]
        assert list(md.lists()) == [("a", ["1", "2"]), ("b", ["x"])]

    def test_missing_key_is_keyerror_and_bad_request(self) -> None:
        md: MultiDict[str, str] = MultiDict()
        with pytest.raises(KeyError) as info:
            md["nope"]
        assert isinstance(info.value, BadRequest)
        assert isinstance(info.value, BadRequestKeyError)
        assert info.value.code == 400
        assert "nope" in (info.value.description or "")

    def test_add_set_setlist_pop(self) -> None:
        md: MultiDict[str, str] = MultiDict()
        md.add("a", "1")
        md.add("a", "2")
        md["b"] = "x"
        md["b"] = "y"
        assert md.getlist("b") == ["y"]
        md.setlist("c", ["p", "q"])
        assert md.poplist("c") == ["p", "q"]
        md.setlist("d", [])
        assert "d" not in md
        assert md.pop("a") == "1"
        assert md.pop("a", "dflt") == "dflt"
        with pytest.raises(KeyError):
            md.pop("a")
        assert md.setlistdefault("e", ["z"]) == ["z"]
        md.setlistdefault("e").append("w")
        assert md.getlist("e") == ["z", "w"]

    def test_get_with_type(self) -> None:
        md = MultiDict([("n", "12"), ("n", "x"), ("bad", "x")])
        assert md.get("n", type=int) == 12
        assert md.get("bad", -1, type=int) == -1
        assert md.get("absent") is None
        assert md.getlist("n", type=int) == [12]

    def test_to_dict(self) -> None:
        md = MultiDict([("a", "1"), ("a", "2")])
        assert md.to_dict() == {"a": "1"}
        assert md.to_dict(flat=False) == {"a": ["1", "2"]}

    def test_update_adds(self) -> None:
        md = MultiDict([("a", "1")])
        md.update({"a": "2", "b": ["3", "4"]})
        md.update([("c", "5")], d="6")
        assert md.getlist("a") == ["1", "2"]
        assert md.getlist("b") == ["3", "4"]
        assert md["c"] == "5" and md["d"] == "6"

    def test_equality_copy_repr(self) -> None:
        md = MultiDict([("a", "1"), ("a", "2")])
        other = md.copy()
        assert other == md
        other.add("a", "3")
        assert other != md
        assert md == {"a": "1"}
        assert copy.copy(md) == md
        assert "('a', '2')" in repr(md)

    def test_immutable(self) -> None:
        md = ImmutableMultiDict([("a", "1")])
        for call in (
            lambda: md.__setitem__("a", "2"),
            lambda: md.add("a", "2"),
            lambda: md.setlist("a", []),
            lambda: md.pop("a"),
            lambda: md.update({"b": "1"}),
            lambda: md.setdefault("x", "y"),
            md.clear,
            md.popitem,
        ):
            with pytest.raises(TypeError):
                call()
        assert md["a"] == "1"
        assert hash(md) == hash(ImmutableMultiDict([("a", "1")]))
        mutable = md.copy()
        mutable.add("a", "2")
        assert mutable.getlist("a") == ["1", "2"]


class TestHeaders:
    def test_case_insensitive_multi_ordered(self) -> None:
        h = Headers([("Set-Cookie", "a=1"), ("Content-Type", "text/plain")])
        h.add("set-cookie", "b=2")
        assert h["content-type"] == "text/plain"
        assert h.getlist("SET-COOKIE") == ["a=1", "b=2"]
        assert list(h) == [("Set-Cookie", "a=1"), ("Content-Type", "text/plain"), ("set-cookie", "b=2")]
        assert "CONTENT-TYPE" in h
        assert "X" not in h
        assert len(h) == 3

    def test_set_replaces_in_place(self) -> None:
        h = Headers([("A", "1"), ("B", "2"), ("a", "3")])
        h.set("a", "new")
        assert h.to_wsgi_list() == [("a", "new"), ("B", "2")]
        h["C"] = 5
        assert h["c"] == "5"

    def test_remove_pop_setdefault(self) -> None:
        h = Headers([("A", "1"), ("a", "2")])
        assert h.setdefault("A", "x") == "1"
        assert h.setdefault("B", "y") == "y"
        assert h.pop("a") == "1"
        assert "a" not in h
        assert h.pop("zz", None) is None
        with pytest.raises(KeyError):
            h.pop("zz")
        h.remove("absent")
        del h["b"]
        assert len(h) == 0

    def test_params(self) -> None:
        h = Headers()
        h.add("Content-Disposition", "attachment", filename="a b.txt")
        assert h["Content-Disposition"] == 'attachment; filename="a b.txt"'
        h.set("Content-Type", "text/plain", charset="utf-8")
        assert h["content-type"] == "text/plain; charset=utf-8"

    @pytest.mark.parametrize("value", ["a\r\nSet-Cookie: x=1", "a\nb", "a\rb", "a\x00b"])
    def test_rejects_line_breaks_and_nul(self, value: str) -> None:
        h = Headers()
        with pytest.raises(ValueError):
            h.add("X-Test", value)
        with pytest.raises(ValueError):
            h.set("X-Test", value)
        with pytest.raises(ValueError):
            Headers([("X-Test", value)])
        assert len(h) == 0

    @pytest.mark.parametrize("name", ["", "Bad Name", "X:Y", "X\r\nY", "Ünï"])
    def test_rejects_invalid_names(self, name: str) -> None:
        with pytest.raises(ValueError):
            Headers().add(name, "v")

    def test_bytes_values_refused(self) -> None:
        with pytest.raises(TypeError):
            Headers().add("X", b"v")

    def test_get_type_and_default(self) -> None:
        h = Headers([("Content-Length", "12"), ("X", "nope")])
        assert h.get("content-length", type=int) == 12
        assert h.get("x", 0, type=int) == 0
        assert h.get("missing", "d") == "d"

    def test_update_and_extend(self) -> None:
        h = Headers([("A", "1"), ("B", "2")])
        h.update({"a": ["x", "y"], "C": "3"})
        assert h.getlist("a") == ["x", "y"]
        h.extend([("B", "4")])
        assert h.getlist("b") == ["2", "4"]
        # a MultiDict gives every value, not only the first of each key
        h.extend(MultiDict([("D", "5"), ("D", "6")]))
        assert h.getlist("d") == ["5", "6"]
        h.update(MultiDict([("D", "7"), ("D", "8")]))
        assert h.getlist("d") == ["7", "8"]

    def test_equality_and_str(self) -> None:
        assert Headers([("A", "1"), ("B", "2")]) == Headers([("b", "2"), ("a", "1")])
        assert str(Headers([("A", "1")])) == "A: 1\r\n\r\n"


class TestEnvironHeaders:
    def test_view(self) -> None:
        environ = {
            "HTTP_HOST": "example.com",
            "HTTP_X_FORWARDED_FOR": "1.2.3.4",
            "CONTENT_TYPE": "text/plain",
            "CONTENT_LENGTH": "",
            "wsgi.input": io.BytesIO(),
        }
        headers = EnvironHeaders(environ)
        assert headers["x-forwarded-for"] == "1.2.3.4"
        assert headers["Content-Type"] == "text/plain"
        assert "Content-Length" not in headers
        assert sorted(headers.keys()) == ["Content-Type", "Host", "X-Forwarded-For"]
        environ["HTTP_ACCEPT"] = "*/*"
        assert headers["accept"] == "*/*"  # a live view
        with pytest.raises(TypeError):
            headers.add("X", "1")
        with pytest.raises(TypeError):
            headers["X"] = "1"
        snapshot = headers.copy()
        snapshot.add("X", "1")
        assert "X" not in headers
        assert Headers(headers)["Host"] == "example.com"  # building from a view copies its pairs


class TestFileStorage:
    def test_save_to_path_and_file(self, tmp_path: pytest.TempPathFactory) -> None:
        storage = FileStorage(io.BytesIO(b"content"), "a.txt", "field", "text/plain; charset=utf-8")
        assert storage.mimetype == "text/plain"
        assert storage.mimetype_params == {"charset": "utf-8"}
        target = tmp_path / "out.bin"  # type: ignore[operator]
        storage.save(target)
        assert target.read_bytes() == b"content"
        storage.stream.seek(0)
        out = io.BytesIO()
        storage.save(out)
        assert out.getvalue() == b"content"
        assert bool(storage)
        assert not FileStorage(io.BytesIO(), "")
        storage.close()
        assert storage.stream.closed


def test_environ_headers_iteration() -> None:
    environ = {"HTTP_X_A": "1", "CONTENT_TYPE": "text/plain", "CONTENT_LENGTH": "3", "SERVER_NAME": "x"}
    headers = EnvironHeaders(environ)
    assert sorted(headers) == [("Content-Length", "3"), ("Content-Type", "text/plain"), ("X-A", "1")]
    assert len(headers) == 3 and bool(headers)
    assert sorted(headers.values()) == ["1", "3", "text/plain"]
    assert headers.getlist("x-a") == ["1"] and headers.getlist("nope") == []
    assert headers.getlist("content-length", type=int) == [3]
    assert headers.get("content-length", type=int) == 3
    assert sorted(headers.to_wsgi_list()) == sorted(headers.items())
    assert "X-A: 1\r\n" in str(headers)
    assert not EnvironHeaders({})


def test_file_storage_content_length_and_iteration() -> None:
    storage = FileStorage(io.BytesIO(b"a\nb\n"), "f", headers=Headers([("Content-Length", "4")]))
    assert storage.content_length == 4
    assert list(storage) == [b"a\n", b"b\n"]
    assert FileStorage(content_length=9).content_length == 9
    assert FileStorage().content_length == 0
    assert "FileStorage" in repr(storage)


class TestHeadersListApi:
    def test_positions_and_slices(self) -> None:
        headers = Headers([("A", "1"), ("B", "2"), ("C", "3")])
        assert headers[0] == ("A", "1") and headers[-1] == ("C", "3")
        assert headers[:2] == Headers([("A", "1"), ("B", "2")])
        headers[1] = ("B", 20)
        assert headers["b"] == "20"
        headers[:] = [(name, value) for name, value in headers if name != "A"]
        assert headers.to_wsgi_list() == [("B", "20"), ("C", "3")]
        del headers[0]
        assert headers.to_wsgi_list() == [("C", "3")]

    @pytest.mark.parametrize("bad", [("X", "a\r\nSet-Cookie: x=1"), ("X Y", "v"), ("X", "nul\x00")])
    def test_position_and_slice_writes_are_validated(self, bad: tuple[str, str]) -> None:
        headers = Headers([("A", "1")])
        with pytest.raises(ValueError):
            headers[0] = bad
        with pytest.raises(ValueError):
            headers[:] = [bad]
        assert headers.to_wsgi_list() == [("A", "1")]

    def test_setlist_and_setlistdefault(self) -> None:
        headers = Headers([("A", "1"), ("B", "2"), ("C", "3")])
        headers.setlist("b", ["x", "y"])
        assert headers.to_wsgi_list() == [("A", "1"), ("b", "x"), ("C", "3"), ("b", "y")]
        headers.setlist("B", [])
        assert "B" not in headers
        assert headers.setlistdefault("A", ["9"]) == ["1"]
        assert headers.setlistdefault("D", ["4", "5"]) == ["4", "5"]

    def test_extend_and_update_with_keywords(self) -> None:
        headers = Headers([("A", "1")])
        headers.extend({"A": "2"}, B=["3", "4"])
        assert headers.getlist("A") == ["1", "2"] and headers.getlist("B") == ["3", "4"]
        headers.update({"A": "5", "B": "6"}, B="7")  # keywords come last and win
        assert headers.getlist("A") == ["5"] and headers.getlist("B") == ["7"]
        with pytest.raises(TypeError):
            headers.extend({"x": "1"}, {"y": "2"})  # type: ignore[call-arg]

    def test_or_and_ior(self) -> None:
        headers = Headers([("A", "1"), ("B", "2")])
        merged = headers | {"A": "3"}
        assert merged.to_wsgi_list() == [("A", "3"), ("B", "2")]
        assert headers["A"] == "1"
        headers |= {"C": "4"}
        assert headers["C"] == "4"
        view = EnvironHeaders({"HTTP_A": "1"})
        with pytest.raises(TypeError):
            view | {"B": "2"}
        with pytest.raises(TypeError):
            view |= {"B": "2"}


def test_file_storage_passes_the_file_api_to_its_stream() -> None:
    storage = FileStorage(io.BytesIO(b"abc"), filename="a.txt")
    assert storage.readable() and storage.seekable()
    assert storage.readline() == b"abc"
    assert storage.tell() == 3
    with pytest.raises(AttributeError):
        storage.no_such_method  # noqa: B018
    storage.close()
