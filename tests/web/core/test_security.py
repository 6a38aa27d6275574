"""safe_join, the one rule for joining untrusted paths: one table of hostile paths, run against the
function itself and through each of its users (the static files middleware and the framework's
send_from_directory), which must all answer the same."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest

from sockweb.framework import App, send_from_directory
from sockweb.web.exceptions import NotFound
from sockweb.web.security import join_path, safe_join
from sockweb.web.static import StaticFiles

SECRET = b"TOP-SECRET"

# Paths that must never be joined, whatever is on disk. Each is a path as a WSGI app sees it (already
# percent-decoded once by the server); what still looks encoded is what a second decoder would open.
HOSTILE = [
    "..",
    "../secret.txt",
    "sub/../../secret.txt",
    "sub/..",
    ".",
    "./hello.txt",
    "sub/./deep.txt",
    "/etc/passwd",
    "//etc/passwd",
    "\\etc\\passwd",
    "..\\secret.txt",
    "sub\\deep.txt",
    "a\x00b",
    "hello.txt\x00.png",
    "line\nbreak",
    "del\x7f",
    "C:",
    "c:x",
    "C:\\Windows\\win.ini",
    "%2e%2e",
    "%2e%2e/secret.txt",
    "%2E%2E%2Fsecret.txt",
    "..%2f..%2fsecret.txt",
    "sub%2f..%2f..%2fsecret.txt",
    "%2f",
    "sub%2fdeep.txt",
    "%5c",
    "sub%5cdeep.txt",
    "%00",
    "%2e",
    "%252e%252e/secret.txt",  # double encoding
    "%25252e%25252e/secret.txt",  # triple
    "%2525252525252e%2525252525252e",  # deeper than anyone decodes: refused outright
    "\uff0e\uff0e/secret.txt",  # fullwidth full stops: NFKC ".."
    "\u2025/secret.txt",  # two dot leader: NFKC ".."
    "\uff0e\uff0e\uff0fsecret.txt",  # fullwidth solidus: NFKC "../secret.txt"
    "sub\uff3cdeep.txt",  # fullwidth reverse solidus
    "\uff05\uff12\uff45\uff05\uff12\uff45",  # fullwidth "%2e%2e"
    "%ef%bc%8e%ef%bc%8e",  # fullwidth ".." percent-encoded in UTF-8
]

# Hidden paths: refused with allow_hidden=False, joined (when otherwise safe) by default.
HIDDEN = [
    ".env",
    "%2eenv",
    "%2Eenv",
    "%252eenv",
    "\uff0eenv",
    ".git/config",
    "%2egit/config",
    "sub/.hidden/inner.txt",
    "sub/.hidden/",
    "env-link",  # a plain name whose link leads to .env
    "hidden-dir-link/inner.txt",
]

SAFE = {
    "hello.txt": "hello.txt",
    "sub/deep.txt": "sub/deep.txt",
    "sub//deep.txt": "sub/deep.txt",
    "": ".",
    "sub/": "sub",
    "100%.txt": "100%.txt",  # a percent sign that decodes to nothing is a plain name
    "\ufb01le.txt": "\ufb01le.txt",  # NFKC "file.txt": harmless, the name on disk is used
    "na\u0308me.txt": "na\u0308me.txt",
    "a..b.txt": "a..b.txt",
    "trailing.": "trailing.",
}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """root/ holds ordinary, hidden and suspicious names; secret.txt lies next to it, outside."""
    root = tmp_path / "root"
    (root / "sub" / ".hidden").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "hello.txt").write_bytes(b"hello")
    (root / "sub" / "deep.txt").write_bytes(b"deep")
    (root / "sub" / ".hidden" / "inner.txt").write_bytes(SECRET)
    (root / ".env").write_bytes(SECRET)
    (root / ".git" / "config").write_bytes(SECRET)
    (root / "env-link").symlink_to(root / ".env")
    (root / "hidden-dir-link").symlink_to(root / "sub" / ".hidden")
    (tmp_path / "secret.txt").write_bytes(SECRET)
    (root / "escape").symlink_to(tmp_path / "secret.txt")
    # names that are files here but mean something else to another decoder or OS: never served
    for name in ("%2e%2e", "sub%2fdeep.txt", "sub%5cdeep.txt", "c:x", "%2eenv", "del\x7f", "line\nbreak"):
        (root / name).write_bytes(SECRET)
    for name in ("100%.txt", "\ufb01le.txt", "na\u0308me.txt", "a..b.txt", "trailing."):
        (root / name).write_bytes(b"fine")
    return root


# -- the function ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", HOSTILE)
def test_hostile_paths_are_refused(tree: Path, path: str) -> None:
    assert safe_join(tree, path) is None
    assert safe_join(tree, path, allow_hidden=False) is None
    assert join_path(tree, path) is None
    assert safe_join(tree, "sub", path) is None  # as a later part too


@pytest.mark.parametrize("path", HIDDEN)
def test_hidden_paths_are_refused_unless_allowed(tree: Path, path: str) -> None:
    assert safe_join(tree, path, allow_hidden=False) is None
    joined = join_path(tree, path)
    assert joined is not None and joined.hidden
    allowed = safe_join(tree, path)
    assert allowed is not None and os.path.commonpath([os.path.realpath(tree), allowed]) == str(
        os.path.realpath(tree)
    )


@pytest.mark.parametrize(("path", "expected"), SAFE.items())
def test_safe_paths_resolve_under_the_root(tree: Path, path: str, expected: str) -> None:
    want = os.path.realpath(tree / expected)
    assert safe_join(tree, path) == want
    assert safe_join(tree, path, allow_hidden=False) == want
    joined = join_path(tree, path)
    assert joined is not None and not joined.hidden


def test_symlinks_out_of_the_root_are_refused(tree: Path) -> None:
    assert safe_join(tree, "escape") is None
    assert safe_join(tree / "sub", "../hello.txt") is None


def test_parts_join_in_order_and_absolute_parts_are_refused(tree: Path) -> None:
    assert safe_join(tree, "sub", "deep.txt") == os.path.realpath(tree / "sub" / "deep.txt")
    assert safe_join(tree, "sub", "/deep.txt") is None
    assert safe_join(tree, "", "hello.txt") == os.path.realpath(tree / "hello.txt")


def test_a_root_inside_a_hidden_folder_is_not_hidden(tmp_path: Path) -> None:
    # only what lies below the root counts: a project under ~/.local is served like any other
    root = tmp_path / ".local" / "site"
    root.mkdir(parents=True)
    (root / "index.html").write_bytes(b"ok")
    assert safe_join(root, "index.html", allow_hidden=False) == os.path.realpath(root / "index.html")


# -- through its users ------------------------------------------------------------------------------------


def _wsgi_get(app: Any, path: str) -> tuple[int, bytes]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    status: list[str] = []

    def start_response(line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        status.append(line)
        return lambda data: None

    iterable = app(environ, start_response)
    try:
        body = b"".join(iterable)
    finally:
        close = getattr(iterable, "close", None)
        if close is not None:
            close()
    return int(status[0].split()[0]), body


def _as_path_info(path: str) -> str:
    """The PEP 3333 form (UTF-8 bytes as latin-1) of a text path."""
    return path.encode("utf-8").decode("latin-1")


@pytest.fixture
def static_app(tree: Path) -> StaticFiles:
    return StaticFiles(None, {"/files": tree}, dotfiles="deny")


@pytest.fixture
def framework_app(tree: Path) -> App:
    return App("security_test", root_path=str(tree.parent))


def _framework_get(app: App, name: str) -> tuple[int, bytes]:
    """send_from_directory called as a view calls it with a ``<path:...>`` value (decoded once)."""
    with app.test_request_context():
        try:
            response = send_from_directory("root", name)
        except NotFound as exc:
            return exc.code or 404, b""
        response.direct_passthrough = False
        return response.status_code, response.get_data()


@pytest.mark.parametrize("path", HOSTILE)
def test_static_files_answer_404_to_hostile_paths(static_app: StaticFiles, path: str) -> None:
    code, body = _wsgi_get(static_app, "/files/" + _as_path_info(path))
    assert code == 404 and SECRET not in body


@pytest.mark.parametrize("path", HOSTILE)
def test_send_from_directory_answers_404_to_hostile_paths(framework_app: App, path: str) -> None:
    code, body = _framework_get(framework_app, path)
    assert code == 404 and SECRET not in body


@pytest.mark.parametrize("path", HIDDEN)
def test_static_files_hide_dotfiles(static_app: StaticFiles, tree: Path, path: str) -> None:
    code, body = _wsgi_get(static_app, "/files/" + _as_path_info(path))
    assert code == 404 and SECRET not in body


@pytest.mark.parametrize("path", [".env", ".git/config", "sub/.hidden/inner.txt", "env-link"])
def test_static_files_serve_dotfiles_when_allowed(tree: Path, path: str) -> None:
    shown = StaticFiles(None, {"/files": tree}, dotfiles="allow")
    assert _wsgi_get(shown, "/files/" + path) == (200, SECRET)


@pytest.mark.parametrize("path", [p for p in SAFE if p and not p.endswith("/")])
def test_users_serve_safe_paths(static_app: StaticFiles, framework_app: App, path: str) -> None:
    assert _wsgi_get(static_app, "/files/" + _as_path_info(path))[0] == 200
    assert _framework_get(framework_app, path)[0] == 200


@pytest.mark.parametrize("name", ["CON", "nul.txt", "Aux.tar.gz", "com1", "LPT9 ", "prn . x", "docs/CON"])
def test_windows_device_names_are_refused_on_windows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setattr(os, "name", "nt")
    joined = safe_join(str(tmp_path), name)
    monkeypatch.undo()  # before any assertion: a failure report must not see os.name == "nt"
    assert joined is None


def test_windows_device_names_are_plain_files_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "name", "posix")
    joined = safe_join(str(tmp_path), "CON")
    monkeypatch.undo()
    assert joined == os.path.join(os.path.realpath(tmp_path), "CON")
    assert safe_join(str(tmp_path), "CONSOLE.txt") is not None
