"""secure_filename, append_slash_redirect, and send_file's options (X-Sendfile, callable max_age,
Content-Encoding of compressed types, type detection, send_from_directory)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from sockweb.web.exceptions import NotFound
from sockweb.web.testing import create_environ
from sockweb.web.utils import append_slash_redirect, secure_filename, send_file, send_from_directory


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("My cool movie.mov", "My_cool_movie.mov"),
        ("../../../etc/passwd", "etc_passwd"),
        ("..\\..\\windows\\system32", "windows_system32"),
        ("i contain cool \xfcml\xe4uts.txt", "i_contain_cool_umlauts.txt"),
        ("__filename__", "filename"),
        ("foo$&^*)bar", "foobar"),
        ("con.txt", "_con.txt"),
        ("...", ""),
    ],
)
def test_secure_filename(name: str, safe: str) -> None:
    assert secure_filename(name) == safe


def test_append_slash_redirect_is_relative() -> None:
    response = append_slash_redirect(create_environ("/a/b", query_string="x=1"))
    assert response.status_code == 308 and response.headers["Location"] == "b/?x=1"


@pytest.fixture
def txt(tmp_path: Path) -> Path:
    path = tmp_path / "test.txt"
    path.write_bytes(b"FOUND\n")
    return path


def test_x_sendfile_sends_no_body(txt: Path) -> None:
    response = send_file(txt, create_environ(), use_x_sendfile=True)
    assert response.headers["X-Sendfile"] == str(txt) and response.get_data() == b""
    # a file object has no path to hand over: it is sent as usual
    response = send_file(io.BytesIO(b"x"), create_environ(), mimetype="text/plain", use_x_sendfile=True)
    assert "X-Sendfile" not in response.headers
    response.close()


def test_max_age_callable_and_zero(txt: Path) -> None:
    response = send_file(txt, create_environ(), max_age=lambda path: 10 if path == str(txt) else None)
    assert response.cache_control.max_age == 10 and response.cache_control.public
    response.close()
    response = send_file(txt, create_environ(), max_age=0)
    assert "no-cache" in response.headers["Cache-Control"] and not response.cache_control.public
    response.close()


@pytest.mark.parametrize(("as_attachment", "encoding"), [(False, "gzip"), (True, None)])
def test_compressed_type_sets_content_encoding(txt: Path, as_attachment: bool, encoding: str | None) -> None:
    response = send_file(txt, create_environ(), download_name="logo.svgz", as_attachment=as_attachment)
    assert response.mimetype == "image/svg+xml" and response.headers.get("Content-Encoding") == encoding
    response.close()


def test_file_object_needs_a_type_and_binary_mode() -> None:
    with pytest.raises(TypeError, match="MIME type"):
        send_file(io.BytesIO(b"x"), create_environ())
    with pytest.raises(ValueError, match="binary mode"):
        send_file(io.StringIO("x"), create_environ(), mimetype="text/plain")  # type: ignore[arg-type]


def test_send_from_directory(txt: Path) -> None:
    response = send_from_directory(txt.parent, "test.txt", create_environ())
    response.direct_passthrough = False
    assert response.get_data() == b"FOUND\n"
    response.close()
    for bad in ("../test.txt", "missing.txt", "null\x00.txt"):
        with pytest.raises(NotFound):
            send_from_directory(txt.parent, bad, create_environ())
    response = send_from_directory(
        txt.parent.name, "test.txt", create_environ(), _root_path=txt.parent.parent
    )
    response.close()


@pytest.mark.parametrize(("path", "location"), [("/docs/", "./"), ("/", "./"), ("/a/b//", "./")])
def test_append_slash_redirect_of_a_path_that_has_its_slash(path: str, location: str) -> None:
    # The Location resolves against the request URL: "./" is the directory the path already names.
    assert append_slash_redirect(create_environ(path)).headers["Location"] == location


def test_redirect_builds_the_given_response_class() -> None:
    from sockweb.web.response import Response
    from sockweb.web.utils import redirect

    class Mine(Response):
        pass

    response = redirect("/elsewhere", 307, Response=Mine)
    assert type(response) is Mine
    assert (response.status_code, response.headers["Location"]) == (307, "/elsewhere")


def test_cached_property_computes_once_and_may_be_set_and_deleted() -> None:
    import inspect

    from sockweb.web.utils import cached_property

    calls: list[int] = []

    class Thing:
        @cached_property
        def value(self) -> int:
            """the answer"""
            calls.append(1)
            return 42

        def _other(self) -> str:
            return "other"

        other = cached_property(_other, name="other_slot")

    thing = Thing()
    assert (thing.value, thing.value, len(calls)) == (42, 42, 1)
    thing.value = 7
    assert thing.value == 7 and len(calls) == 1
    del thing.value
    assert thing.value == 42 and len(calls) == 2
    assert thing.other == "other" and thing.__dict__["other_slot"] == "other"
    assert Thing.value.__doc__ == "the answer" and Thing.value.__name__ == "value"
    kinds = {attr.name: attr.kind for attr in inspect.classify_class_attrs(Thing)}
    assert kinds["value"] == "property"


def test_environ_and_header_properties() -> None:
    from sockweb.web.datastructures import Headers
    from sockweb.web.utils import environ_property, header_property

    class Holder:
        def __init__(self) -> None:
            self.environ = {"REMOTE_USER": "ann", "COUNT": "3", "BAD": "x"}
            self.headers = Headers([("X-Limit", "10")])

        user = environ_property("REMOTE_USER")
        missing = environ_property("NOPE", "fallback")
        count = environ_property("COUNT", load_func=int)
        bad = environ_property("BAD", 0, load_func=int)
        writable = environ_property("W", None, int, str, read_only=False)
        limit = header_property("X-Limit", None, int, str)

    holder = Holder()
    assert (holder.user, holder.missing, holder.count, holder.bad) == ("ann", "fallback", 3, 0)
    with pytest.raises(AttributeError):
        holder.user = "bob"  # type: ignore[misc]
    holder.writable = 5
    assert holder.environ["W"] == "5" and holder.writable == 5
    holder.limit = 20
    assert holder.headers["X-Limit"] == "20" and holder.limit == 20
    del holder.limit
    assert holder.limit is None


def test_import_string_forms_and_silence() -> None:
    import datetime

    from sockweb.web.utils import import_string

    assert import_string("datetime.date") is datetime.date
    assert import_string("datetime:date") is datetime.date
    assert import_string("os.path") is __import__("os").path
    assert import_string("no_such_module_anywhere", silent=True) is None
    assert import_string("datetime.no_such_name", silent=True) is None
    with pytest.raises(ImportError):
        import_string("datetime.no_such_name")


def test_import_string_keeps_the_real_import_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sockweb.web.utils import import_string

    package = tmp_path / "pkg_wtk_probe"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "broken.py").write_text("import a_module_that_is_not_there_at_all\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError) as info:
        import_string("pkg_wtk_probe.broken")
    # the module exists: the error is about what it imports, not "no attribute 'broken'"
    assert info.value.name == "a_module_that_is_not_there_at_all"


def test_find_modules_lists_a_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sockweb.web.utils import find_modules

    root = tmp_path / "pkg_wtk_tree"
    (root / "sub").mkdir(parents=True)
    for name in ("__init__.py", "a.py", "b.py", "sub/__init__.py", "sub/c.py"):
        (root / name).write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert sorted(find_modules("pkg_wtk_tree")) == ["pkg_wtk_tree.a", "pkg_wtk_tree.b"]
    assert sorted(find_modules("pkg_wtk_tree", include_packages=True, recursive=True)) == [
        "pkg_wtk_tree.a",
        "pkg_wtk_tree.b",
        "pkg_wtk_tree.sub",
        "pkg_wtk_tree.sub.c",
    ]
