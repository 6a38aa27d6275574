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
