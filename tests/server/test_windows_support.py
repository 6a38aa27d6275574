"""Systems without POSIX (Windows): the library imports and runs, the server says in one line that it cannot.

Windows cannot be run here, so a subprocess Python imitates it before importing sockweb: a ``sys.meta_path``
finder refuses the unix-only modules (``resource``, ``fcntl``, ``pwd``, ``grp``, ``termios``...), and the
posix-only names of ``os``, ``signal``, ``socket`` and ``select`` are removed (the standard library modules
sockweb uses are loaded first: on Windows the standard library is consistent with itself).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

import pytest

from serverproc import ServerHandle
from sockweb.server.support import unsupported

pytestmark = pytest.mark.timeout(90)

BLOCK_MODULES = """
import importlib.abc, sys

BLOCKED = {"resource", "fcntl", "pwd", "grp", "termios", "tty", "pty", "syslog", "crypt", "uvloop"}


class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"No module named {name!r} (imitating Windows)", name=name)
        return None


for loaded in [n for n in sys.modules if n.split(".")[0] in BLOCKED]:
    del sys.modules[loaded]
sys.meta_path.insert(0, Block())
"""

REMOVE_POSIX_NAMES = """
import asyncio, faulthandler, logging.config, mimetypes, mmap, selectors, socketserver, sqlite3, ssl
import http.cookies, queue, runpy, shutil, subprocess, sysconfig, tempfile, urllib.parse, uuid
import os, select, signal, socket

for module, names in [
    (signal, "SIGHUP SIGUSR1 SIGUSR2 SIGTTIN SIGTTOU SIGCHLD SIGQUIT SIGWINCH SIGALRM SIGPIPE SIGKILL "
             "setitimer getitimer siginterrupt pthread_sigmask pthread_kill sigwait alarm pause"),
    (os, "fork forkpty setsid setpgid getpgid killpg getuid geteuid getgid getegid setuid setgid "
         "initgroups setgroups getgroups chown fchown lchown WNOHANG wait wait3 wait4 mkfifo "
         "sched_getaffinity getloadavg pipe2 register_at_fork sysconf"),
    (socket, "AF_UNIX SO_REUSEPORT CMSG_LEN CMSG_SPACE SCM_RIGHTS"),
    (select, "epoll poll devpoll kqueue"),
]:
    for name in names.split():
        if hasattr(module, name):
            delattr(module, name)
"""

WINDOWS = BLOCK_MODULES + REMOVE_POSIX_NAMES

USE_THE_LIBRARY = """
import sys

import sockweb
import sockweb.framework
import sockweb.http
import sockweb.web
from sockweb import App, request
from sockweb.web.testing import Client

app = App("windows")


@app.get("/hello/<name>")
def hello(name):
    return {"hello": name, "agent": request.user_agent}


response = app.test_client().get("/hello/win", headers={"User-Agent": "t"})
assert response.status_code == 200 and response.get_json() == {"hello": "win", "agent": "t"}, response
assert Client(app).get("/nowhere").status_code == 404
try:
    app.run(port=0)
except RuntimeError as exc:
    assert "POSIX" in str(exc), exc
else:
    raise AssertionError("App.run served without POSIX")
assert not {"resource", "fcntl", "pwd", "grp", "termios"} & set(sys.modules), "the imitation leaked"
print("library ok")
"""

RUN_CLI = """
import sys
from sockweb.cli import main

sys.exit(main(sys.argv[1:]))
"""

APP = """
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"served"]
"""


def python(code: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60, cwd=cwd
    )


def test_the_library_imports_and_runs_without_posix() -> None:
    proc = python(WINDOWS + USE_THE_LIBRARY)
    assert proc.returncode == 0 and proc.stdout.strip() == "library ok", proc.stderr


@pytest.mark.parametrize(
    "argv",
    [["serve", "app:app"], ["serve", "app:app", "--reload"], ["static", "."], ["demo"]],
    ids=" ".join,
)
def test_server_commands_say_in_one_line_that_they_need_posix(tmp_path: Path, argv: list[str]) -> None:
    (tmp_path / "app.py").write_text(APP)
    proc = python(WINDOWS + RUN_CLI, *argv, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr  # one line, no traceback
    assert proc.stderr.startswith(f"sockweb {argv[0]}: the server runs on POSIX systems only"), proc.stderr
    assert "os.fork" in proc.stderr and "WSL" in proc.stderr


def test_serve_help_still_works_without_posix() -> None:
    proc = python(WINDOWS + RUN_CLI, "serve", "--help")
    assert proc.returncode == 0 and "--bind" in proc.stdout, proc.stderr


def test_the_server_runs_without_the_unix_only_modules(tmp_path: Path) -> None:
    """The modules are imported where they are used, behind ImportError: a system that lacks them (but
    has fork and signals) still serves, with worker processes too."""
    (tmp_path / "app.py").write_text(APP)
    run = BLOCK_MODULES + "import runpy\nrunpy.run_module('sockweb', run_name='__main__')\n"
    cmd = [sys.executable, "-c", run, "serve", "app:app", "--bind", "127.0.0.1:0", "--workers", "2"]
    log_path, out_path = tmp_path / "server.err", tmp_path / "server.out"
    with log_path.open("wb") as err, out_path.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=out, stderr=err)
    server = ServerHandle(proc, log_path, out_path)
    try:
        server.wait_started()
        with urllib.request.urlopen(server.url + "/", timeout=30) as response:
            assert response.read() == b"served"
    finally:
        assert server.stop() == 0, server.log()
    assert "Traceback" not in server.log(), server.log()


def test_unsupported_names_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    assert unsupported() is None  # this system runs the server
    monkeypatch.delattr(os, "fork")
    monkeypatch.delattr(signal, "SIGHUP")
    monkeypatch.delattr(socket, "AF_UNIX")
    problem = unsupported()
    assert problem is not None
    assert "has no os.fork, signal.SIGHUP, socket.AF_UNIX" in textwrap.shorten(problem, 500)
