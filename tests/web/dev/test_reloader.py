"""The reloader: watchers in-process, then the whole parent/child dance over real sockets."""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import socket
import sys
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest

from sockweb.web.dev.reloader import StatWatcher, WatchfilesWatcher, make_watcher

from ._proc import Reply, eventually, request, running

# -- watchers ------------------------------------------------------------------------------------


def bump(path: Path, text: str) -> None:
    """Write ``text`` and move the mtime forward, so the change is visible whatever the clock resolution."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text)
    if path.stat().st_mtime_ns <= before:
        os.utime(path, ns=(before + 1_000_000, before + 1_000_000))


@pytest.fixture(params=["stat", "watchfiles"])
def watcher(request: pytest.FixtureRequest) -> object:
    w = StatWatcher(interval=0.05) if request.param == "stat" else WatchfilesWatcher()
    yield w
    w.close()


def test_watcher_reports_an_edit(watcher: StatWatcher, tmp_path: Path) -> None:
    mod = tmp_path / "mod.py"
    other = tmp_path / "other.log"
    mod.write_text("A = 1\n")
    other.write_text("")
    watcher.add({str(mod): None})
    assert watcher.wait(0.3) == set()
    bump(other, "noise\n")  # a file next to it, not watched
    assert watcher.wait(0.3) == set()
    bump(mod, "A = 2\n")
    changed: set[str] = set()
    deadline = time.monotonic() + 10
    while not changed and time.monotonic() < deadline:
        changed = watcher.wait(0.5)
    assert changed == {os.path.realpath(mod)}


def test_watcher_catches_an_edit_made_before_it_registered(watcher: StatWatcher, tmp_path: Path) -> None:
    """The child reports the mtime it imported; a later edit counts even if the parent learns late."""
    mod = tmp_path / "late.py"
    mod.write_text("A = 1\n")
    seen_by_child = mod.stat().st_mtime_ns
    bump(mod, "A = 22\n")
    watcher.add({str(mod): seen_by_child})
    assert watcher.wait(5) == {os.path.realpath(mod)}


def test_watcher_sees_deletion_and_creation(tmp_path: Path) -> None:
    watcher = StatWatcher(interval=0.05)
    gone, later = tmp_path / "gone.py", tmp_path / "later.txt"
    gone.write_text("")
    watcher.add({str(gone): None, str(later): None})
    gone.unlink()
    assert watcher.wait(1) == {os.path.realpath(gone)}
    later.write_text("now")
    assert watcher.wait(1) == {os.path.realpath(later)}


def wait_change(watcher: StatWatcher | WatchfilesWatcher, limit: float = 10.0) -> set[str]:
    deadline = time.monotonic() + limit
    changed: set[str] = set()
    while not changed and time.monotonic() < deadline:
        changed = watcher.wait(0.5)
    return changed


def test_watchfiles_survives_a_folder_removed_and_created_again(tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "pkg"
    folder.mkdir()
    mod = folder / "mod.py"
    mod.write_text("A = 1\n")
    watcher = WatchfilesWatcher()
    try:
        watcher.add({str(mod): None})
        assert watcher.wait(0.3) == set()
        shutil.rmtree(folder)
        assert wait_change(watcher) == {os.path.realpath(mod)}
        folder.mkdir()
        mod.write_text("A = 2\n")
        assert wait_change(watcher) == {os.path.realpath(mod)}  # seen through a new watch
        bump(mod, "A = 33\n")
        assert wait_change(watcher) == {os.path.realpath(mod)}
    finally:
        watcher.close()


def test_make_watcher() -> None:
    assert isinstance(make_watcher("stat"), StatWatcher)
    auto = make_watcher("auto")
    assert isinstance(auto, WatchfilesWatcher)  # watchfiles is installed here
    auto.close()
    with pytest.raises(ValueError):
        make_watcher("inotify-please")


def test_without_watchfiles_the_stat_poller_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "watchfiles", None)  # what an absent package looks like to import
    assert isinstance(make_watcher("auto"), StatWatcher)
    with pytest.raises(ImportError):
        make_watcher("watchfiles")  # asked for by name: say it is missing rather than poll silently


# -- end to end ----------------------------------------------------------------------------------

APP = """\
import os
import helper

def app(environ, start_response):
    body = helper.VERSION.encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
"""


def get_tolerant(url: str, path: str = "/") -> Reply | None:
    """GET /; a connection *refused* fails the test, a reply cut by a stopping child is retried."""
    try:
        return request(url, path, timeout=15)
    except ConnectionRefusedError:
        raise
    except (OSError, http.client.HTTPException):  # e.g. RemoteDisconnected from a stopping child
        return None


def wait_reply(url: str, check: object, what: str, path: str = "/") -> Reply:
    found: list[Reply] = []

    def probe() -> bool:
        reply = get_tolerant(url, path)
        if reply is not None and check(reply):  # type: ignore[operator]
            found.append(reply)
            return True
        return False

    eventually(probe, timeout=25, what=what)
    return found[0]


def test_edit_reload_error_page_and_recovery(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP)
    helper = tmp_path / "helper.py"
    helper.write_text('VERSION = "v1"\n')
    args = ["-m", "sockweb", "serve", "--reload", "--debug", "app:app", "--bind", "127.0.0.1:0"]
    with running(args, cwd=tmp_path) as (proc, url):
        proc.wait_for(r"Debugger PIN: \d{3}-\d{3}-\d{3}")
        assert request(url).text == "v1"

        bump(helper, 'VERSION = "v2, edited"\n')
        wait_reply(url, lambda r: r.text == "v2, edited", "the edit")

        # a syntax error: the browser gets the traceback, the port stays open
        bump(helper, 'VERSION = "v3 <unterminated\n')
        page = wait_reply(url, lambda r: r.status == 500, "the syntax error page")
        assert page.headers["Content-Type"] == "text/html; charset=utf-8"
        assert "SyntaxError" in page.text and "helper.py" in page.text
        assert "&quot;v3 &lt;unterminated" in page.text and "<unterminated" not in page.text
        assert "importlib" not in page.text  # the loading machinery is trimmed away

        # fixing it recovers
        bump(helper, 'VERSION = "v4 fixed"\n')
        wait_reply(url, lambda r: r.status == 200 and r.text == "v4 fixed", "recovery")

        # an exception at import time, in the app module itself
        bump(tmp_path / "app.py", 'raise RuntimeError("<boom> at import")\n' + APP)
        page = wait_reply(url, lambda r: r.status == 500, "the import error page")
        assert "RuntimeError: &lt;boom&gt; at import" in page.text and "<boom>" not in page.text
        bump(tmp_path / "app.py", APP + "\n# fixed\n")
        wait_reply(url, lambda r: r.status == 200, "recovery from the import error")
        assert "Detected change" in proc.err()


SLOW_HELPER = """\
import pathlib, time
here = pathlib.Path(__file__).parent
(here / "importing").write_text("")
deadline = time.monotonic() + 20
while not (here / "go").exists() and time.monotonic() < deadline:
    time.sleep(0.02)
VERSION = "v2 after a slow import"
"""


def test_connections_during_a_restart_wait_instead_of_being_refused(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP)
    helper = tmp_path / "helper.py"
    helper.write_text('VERSION = "v1"\n')
    args = ["-m", "sockweb", "serve", "--reload", "app:app", "--bind", "127.0.0.1:0"]
    with running(args, cwd=tmp_path) as (_, url):
        assert request(url).text == "v1"
        bump(helper, SLOW_HELPER)
        # the new child is importing: the old one is gone (it is stopped before the new one starts),
        # so no process accepts connections right now
        eventually((tmp_path / "importing").exists, what="the new child to start importing")
        parts = urlsplit(url)
        clients = []
        for _ in range(3):
            sock = socket.create_connection((parts.hostname, parts.port), timeout=20)  # not refused
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            clients.append(sock)
        (tmp_path / "go").write_text("")
        for sock in clients:
            with sock:
                data = b""
                while chunk := sock.recv(65536):
                    data += chunk
            assert data.startswith(b"HTTP/1.1 200 ")
            assert data.endswith(b"v2 after a slow import")


VIEWS = """\
import os

VERSION = "views v1"

def app(environ, start_response):
    if environ["PATH_INFO"] == "/pid":
        body = str(os.getpid()).encode()
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]
    if environ["PATH_INFO"] == "/boom":
        secret_value = 21
        hostile = "<script>alert('xss')</script>"
        raise ValueError("boom: " + hostile)
    body = VERSION.encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
"""

SCRIPT = """\
from sockweb.web.dev import run_simple
import views

if __name__ == "__main__":
    run_simple("127.0.0.1", 0, views.app, use_reloader=True, use_debugger=True, reloader_type="stat",
               extra_files=["settings.cfg"])
"""


def console(url: str, secret: str, frame: str, cmd: str, cookie: str) -> Reply:
    body = urlencode({"s": secret, "frame": frame, "cmd": cmd}).encode()
    return request(
        url,
        "/__debugger__/console",
        "POST",
        body=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
    )


def unlock(url: str, secret: str, pin: str) -> str:
    body = urlencode({"s": secret, "pin": pin}).encode()
    reply = request(
        url,
        "/__debugger__/pin",
        "POST",
        body=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert reply.status == 200, reply.text
    return reply.headers["Set-Cookie"].split(";", 1)[0]


def test_run_simple_script_with_reloader_and_debugger(tmp_path: Path) -> None:
    (tmp_path / "views.py").write_text(VIEWS)
    (tmp_path / "serve.py").write_text(SCRIPT)
    (tmp_path / "settings.cfg").write_text("debug = 1\n")
    with running(["serve.py"], cwd=tmp_path) as (proc, url):
        pin = proc.wait_for(r"Debugger PIN: (\d{3}-\d{3}-\d{3})").group(1)
        assert request(url).text == "views v1"
        page = request(url, "/boom")
        assert page.status == 500 and "ValueError" in page.text
        assert "&lt;script&gt;alert(" in page.text and "<script>alert(" not in page.text
        secret = re.search(r'data-secret="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        frame = re.search(r'id="frame-([^"]+)"[^>]*><summary>[^<]*<code>[^<]*views.py', page.text).group(1)  # type: ignore[union-attr]
        assert console(url, secret, frame, "secret_value * 2", "").status == 401
        cookie = unlock(url, secret, pin)
        assert console(url, secret, frame, "secret_value * 2", cookie).text == "42\n"

        bump(tmp_path / "views.py", VIEWS.replace("views v1", "views v2 (edited)"))
        wait_reply(url, lambda r: r.text == "views v2 (edited)", "the edit")
        # the same PIN still unlocks the console of the new child
        page = request(url, "/boom")
        secret = re.search(r'data-secret="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        unlock(url, secret, pin)
        assert proc.lines.count(f" * Debugger PIN: {pin}\n") == 1

        # a file named in extra_files restarts the child too
        pid = request(url, "/pid").text
        bump(tmp_path / "settings.cfg", "debug = 0 # edited\n")
        wait_reply(
            url, lambda r: r.status == 200 and r.text.isdigit() and r.text != pid, "extra file reload", "/pid"
        )


def test_child_does_not_report_excluded_files(tmp_path: Path) -> None:
    import socket

    from sockweb.web.dev._child import ChildContext

    kept, skipped = tmp_path / "kept.py", tmp_path / "skip_me.py"
    kept.write_text("")
    skipped.write_text("")
    ours, theirs = socket.socketpair()
    context = ChildContext([], theirs.detach())
    try:
        context.exclude = ("*/skip_*", "*/sockweb/*")
        context.report([str(kept), str(skipped)])
        ours.setblocking(False)  # report() has returned: everything it sent is in the buffer
        chunks = []
        with contextlib.suppress(BlockingIOError):
            while chunk := ours.recv(65536):
                chunks.append(chunk)
        reported = b"".join(chunks).decode()
        assert str(kept) in reported and str(skipped) not in reported
        assert "/sockweb/" not in reported  # module files are filtered too
    finally:
        context.channel.close()
        ours.close()
