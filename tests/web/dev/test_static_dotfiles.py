"""``sockweb static DIR`` and hidden files, over real sockets: a hostile client's list of paths to .env
and .git gets 404s, listings leave them out, and ``--dotfiles allow`` serves them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ._proc import raw, request, running

SECRET = b"DOTFILE-SECRET"

# What a scanner asks for, in the encodings that reach a file system through one decoder or another.
HOSTILE_TARGETS = [
    "/.env",
    "/%2eenv",
    "/%2Eenv",
    "/%252eenv",  # double-encoded: "%2eenv" after the server's decoding
    "/%25252eenv",
    "/%EF%BC%8Eenv",  # fullwidth full stop, NFKC "."
    "/.git/config",
    "/%2egit/config",
    "/.git%2fconfig",
    "/.git%5cconfig",
    "/.git\\config",
    "/docs/../.env",
    "/docs/%2e%2e/.env",
    "/docs/.hidden/inner.txt",
    "/docs/%2ehidden/inner.txt",
    "/./.env",
    "//.env",
    "/env-link",  # a plain name linking to .env
    "/.git",  # a hidden folder: no redirect to its slash (that would say it exists)
    "/.git/",  # nor a listing
    "/docs/.hidden/",
]


def _site(root: Path) -> Path:
    (root / "docs" / ".hidden").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "hello.txt").write_text("hello\n")
    (root / "docs" / "guide.txt").write_text("guide\n")
    (root / ".env").write_bytes(SECRET)
    (root / ".git" / "config").write_bytes(SECRET)
    (root / "docs" / ".hidden" / "inner.txt").write_bytes(SECRET)
    (root / "%2eenv").write_bytes(SECRET)  # a name another decoder would read as .env
    (root / "env-link").symlink_to(root / ".env")
    return root


@pytest.fixture(scope="module")
def denying(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = _site(tmp_path_factory.mktemp("dotsite"))
    with running(["-m", "sockweb", "static", str(root), "--bind", "127.0.0.1:0"], cwd=root) as (_, url):
        yield url


@pytest.mark.parametrize("target", HOSTILE_TARGETS)
def test_hidden_files_are_404_in_every_encoding(denying: str, target: str) -> None:
    data = raw(denying, f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    # 404 as for a missing file; the server may refuse a malformed target with 400 before any file work
    assert data.startswith((b"HTTP/1.1 404 ", b"HTTP/1.1 400 ")), data[:200]
    assert SECRET not in data


def test_listings_leave_hidden_entries_out(denying: str) -> None:
    top = request(denying, "/")
    assert top.status == 200 and "hello.txt" in top.text and "docs/" in top.text
    for name in (".env", ".git", "%2eenv", "2eenv", "env-link"):
        assert name not in top.text, name
    docs = request(denying, "/docs/")
    assert docs.status == 200 and "guide.txt" in docs.text and ".hidden" not in docs.text


def test_ordinary_files_are_still_served(denying: str) -> None:
    assert request(denying, "/hello.txt").body == b"hello\n"
    assert request(denying, "/docs/guide.txt").body == b"guide\n"


def test_dotfiles_allow_serves_and_lists_them(tmp_path: Path) -> None:
    root = _site(tmp_path)
    args = ["-m", "sockweb", "static", str(root), "--bind", "127.0.0.1:0", "--dotfiles", "allow"]
    with running(args, cwd=root) as (_, url):
        assert request(url, "/.env").body == SECRET
        assert request(url, "/.git/config").body == SECRET
        assert ".env" in request(url, "/").text


def test_dotfiles_rejects_an_unknown_policy(tmp_path: Path) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "sockweb", "static", str(tmp_path), "--dotfiles", "maybe"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2 and "--dotfiles" in done.stderr and "Traceback" not in done.stderr
