"""The reloader: a parent process that owns the listening sockets and restarts a serving child on edits.

Strategy: the parent binds once and never closes its listening sockets while it runs. It starts a child
(``python -m sockweb.web.dev._child``, or the user's script again for :func:`~sockweb.web.dev.run_simple`)
that inherits the socket file descriptors (``pass_fds``) and serves them with the real server. When a
watched file changes, the parent stops the child (SIGTERM: the server stops accepting and finishes what
it is doing) and starts a new one. Between the two, the kernel keeps completing handshakes into the
listen backlog, so a client connecting during a reload waits a moment instead of being refused.

What to watch comes from the child: through a socket pair it reports ``mtime<TAB>path`` lines for every
module file it has imported (at start, then every second for modules imported lazily), plus the files of
an import error's traceback. The reported mtime is the one the child saw, so an edit made before the
parent registers the file is still noticed. The same socket pair is the child's lifeline: when it reads
EOF the parent is gone and the child stops, so a killed parent never leaves an orphan serving old code.

Watchers share one small interface (:class:`Watcher`: ``add`` files, ``wait`` for changes): a watchfiles
one (inotify and friends, through the optional ``watchfiles`` package) and a stat poller.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from types import FrameType
from typing import Any, Protocol

__all__ = [
    "CHILD_ENV",
    "StatWatcher",
    "Watcher",
    "WatchfilesWatcher",
    "child_command_for_script",
    "make_watcher",
    "run_with_reloader",
]

log = logging.getLogger("sockweb.web.dev.reloader")

CHILD_ENV = "SOCKWEB_DEV_CHILD"  # JSON: what the child serves, its socket fds, its report fd
STOP_GRACE = 5.0  # seconds a child gets after SIGTERM before SIGKILL


def _stat(path: str) -> int:
    """mtime in ns, or -1 when the file does not exist (a deleted file is a change too)."""
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return -1


class Watcher(Protocol):
    """Watches a growing set of files."""

    def add(self, files: Mapping[str, int | None]) -> None:
        """Watch ``files``: path -> the mtime (ns) the caller saw, or None to take the current one."""

    def wait(self, timeout: float) -> set[str]:
        """Block up to ``timeout`` seconds; return the files changed since they were added (or last
        reported), or an empty set."""

    def close(self) -> None:
        """Release OS resources."""


class _Files:
    """The watched files and the mtime last seen for each; thread-safe (the report reader adds)."""

    def __init__(self) -> None:
        self.mtimes: dict[str, int] = {}
        self.lock = threading.Lock()
        self.version = 0  # bumps when a new file is added

    def add(self, files: Mapping[str, int | None]) -> None:
        with self.lock:
            for given, mtime in files.items():
                path = os.path.realpath(given)
                if path not in self.mtimes:
                    self.version += 1
                self.mtimes[path] = _stat(path) if mtime is None else mtime

    def changed(self, only: Iterable[str] | None = None) -> set[str]:
        """Files whose mtime differs from the one recorded; records the new one."""
        with self.lock:
            paths = list(self.mtimes) if only is None else [p for p in only if p in self.mtimes]
            found = set()
            for path in paths:
                now = _stat(path)
                if now != self.mtimes[path]:
                    self.mtimes[path] = now
                    found.add(path)
            return found

    def has_missing(self) -> bool:
        with self.lock:
            return -1 in self.mtimes.values()

    def snapshot(self) -> tuple[int, set[str]]:
        with self.lock:
            return self.version, set(self.mtimes)


class StatWatcher:
    """Polls ``os.stat`` of every file each ``interval`` seconds."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self._files = _Files()

    def add(self, files: Mapping[str, int | None]) -> None:
        self._files.add(files)

    def wait(self, timeout: float) -> set[str]:
        deadline = time.monotonic() + timeout
        while True:
            changed = self._files.changed()
            left = deadline - time.monotonic()
            if changed or left <= 0:
                return changed
            time.sleep(min(self.interval, left))

    def close(self) -> None:
        pass


class WatchfilesWatcher:
    """Asks the OS (through watchfiles) for events in the folders of the watched files.

    Folders are watched non-recursively and events are filtered down to the watched files; replacing a
    file by rename (what many editors do) is an event in its folder, so it is seen. When new files add new
    folders the watch is re-armed, and the first wake-up after arming compares mtimes once, to catch an edit
    made while no watch was armed.
    """

    TICK_MS = 300
    DIRS_RECHECK = 2.0  # seconds; a folder removed and created again needs a new watch

    def __init__(self) -> None:
        import watchfiles

        self._watch = watchfiles.watch
        quiet = logging.getLogger("watchfiles.main")
        if quiet.level == logging.NOTSET:  # it logs every batch at INFO; we log the restarts ourselves
            quiet.setLevel(logging.WARNING)
        self._files = _Files()
        self._gen: Iterator[set[tuple[Any, str]]] | None = None
        self._stop = threading.Event()
        self._dirs: dict[str, tuple[int, int]] = {}  # watched folder -> (st_dev, st_ino)
        self._armed_version = -1
        self._catch_up = False
        self._dirs_checked = 0.0

    def add(self, files: Mapping[str, int | None]) -> None:
        self._files.add(files)

    def _wanted(self, change: object, path: str) -> bool:
        # only the watched files: a log file written next to them must not wake us up in a loop
        return os.path.realpath(path) in self._files.mtimes

    def _rearm(self, force: bool = False) -> None:
        version, paths = self._files.snapshot()
        dirs = {}
        for folder in {os.path.dirname(p) for p in paths}:
            try:
                info = os.stat(folder)
            except OSError:
                continue  # gone for now; its files count as deleted until it comes back
            dirs[folder] = (info.st_dev, info.st_ino)
        self._armed_version = version
        self._dirs_checked = time.monotonic()
        if dirs == self._dirs and self._gen is not None and not force:
            return
        self.close()
        self._stop = threading.Event()
        self._dirs = dirs
        if dirs:
            self._gen = self._watch(
                *sorted(dirs),
                watch_filter=self._wanted,
                recursive=False,
                yield_on_timeout=True,
                rust_timeout=self.TICK_MS,
                debounce=400,
                stop_event=self._stop,
                raise_interrupt=True,
            )
        self._catch_up = True

    def wait(self, timeout: float) -> set[str]:
        deadline = time.monotonic() + timeout
        while True:
            if time.monotonic() - self._dirs_checked > self.DIRS_RECHECK:
                # a missing file may come back in a folder created again, whose old watch died with it
                # (and whose inode number may well be reused): build the watch anew
                self._rearm(force=self._files.has_missing())
            elif self._files.snapshot()[0] != self._armed_version:
                self._rearm()
            events = self._next_events(deadline)
            changed = self._files.changed(os.path.realpath(path) for _, path in events)
            if self._catch_up:
                self._catch_up = False
                changed |= self._files.changed()
            if changed or time.monotonic() >= deadline:
                return changed

    def _next_events(self, deadline: float) -> set[tuple[Any, str]]:
        if self._gen is not None:
            try:
                events = next(self._gen, None)
            except (OSError, RuntimeError) as exc:  # e.g. a watched folder was removed
                log.debug("file watch failed (%s); re-arming", exc)
                events = None
            if events is not None:
                return events
            # the watch ended: forget it, rely on the catch-up comparison, arm again next round
            self._gen, self._dirs, self._armed_version, self._catch_up = None, {}, -1, True
        time.sleep(min(self.TICK_MS / 1000, max(deadline - time.monotonic(), 0)))
        return set()

    def close(self) -> None:
        self._stop.set()
        if self._gen is not None:
            gen, self._gen = self._gen, None
            with contextlib.suppress(Exception):
                gen.close()  # type: ignore[attr-defined]


def make_watcher(reloader_type: str = "auto") -> Watcher:
    """``"watchfiles"``, ``"stat"`` or ``"auto"`` (watchfiles when it is installed)."""
    if reloader_type not in ("auto", "watchfiles", "stat"):
        raise ValueError(f"reloader_type: expected 'auto', 'watchfiles' or 'stat', got {reloader_type!r}")
    if reloader_type in ("auto", "watchfiles"):
        try:
            return WatchfilesWatcher()
        except ImportError:
            if reloader_type == "watchfiles":
                raise
    return StatWatcher()


# -- what the child reports ---------------------------------------------------------------------

_SKIP_PREFIXES = tuple(
    {
        os.path.realpath(p)
        for key in ("stdlib", "platstdlib", "purelib", "platlib")
        if (p := sysconfig.get_paths().get(key))
    }
)


def watchable(path: str | None) -> bool:
    """Files worth watching: real files outside the standard library and site-packages (installed
    packages do not change while you work; editable installs live elsewhere and are watched)."""
    if not path or path.startswith("<") or not os.path.isfile(path):
        return False
    return not os.path.realpath(path).startswith(_SKIP_PREFIXES)


def excluded(path: str, patterns: Iterable[str]) -> bool:
    """True when ``path`` matches one of the :mod:`fnmatch` ``patterns`` (``*/migrations/*``)."""
    return any(fnmatch.fnmatch(path, pattern) for pattern in patterns)


def module_files() -> set[str]:
    """Source files of the modules imported so far (``.pyc`` mapped back to ``.py`` when it exists)."""
    found = set()
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if isinstance(path, str) and path.endswith((".pyc", ".pyo")) and os.path.isfile(path[:-1]):
            path = path[:-1]
        if isinstance(path, str) and watchable(path):
            found.add(os.path.abspath(path))
    return found


def encode_report(paths: Iterable[str]) -> bytes:
    return b"".join(f"{_stat(p)}\t{p}\n".encode("utf-8", "surrogateescape") for p in paths)


def decode_report(line: bytes) -> tuple[str, int] | None:
    mtime, sep, path = line.decode("utf-8", "surrogateescape").rstrip("\n").partition("\t")
    if not sep or not mtime.lstrip("-").isdigit():
        return None
    return path, int(mtime)


# -- the parent ---------------------------------------------------------------------------------


class _Stop(Exception):
    """SIGTERM in the parent."""


def child_command_for_script() -> list[str]:
    """The command that runs this program again, through the child wrapper (for ``run_simple``)."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    flags = [f"-W{opt}" for opt in sys.warnoptions]
    base = [sys.executable, *flags, "-m", "sockweb.web.dev._child"]
    if spec is not None and spec.name:
        name = spec.name[: -len(".__main__")] if spec.name.endswith(".__main__") else spec.name
        return [*base, "--module", name, "--", *sys.argv[1:]]
    script = sys.argv[0] if sys.argv else ""
    if not script or script == "-c" or not os.path.exists(script):
        raise RuntimeError("the reloader needs a script or a module to run again (not -c or a REPL)")
    return [*base, "--script", os.path.abspath(script), "--", *sys.argv[1:]]


class _Child:
    """One running child and the thread reading its reports."""

    def __init__(
        self, command: Sequence[str], fds: list[int], payload: dict[str, object], watcher: Watcher
    ) -> None:
        parent_end, child_end = socket.socketpair()
        self.channel = parent_end
        env = dict(os.environ)
        env[CHILD_ENV] = json.dumps({**payload, "fds": fds, "report_fd": child_end.fileno()})
        try:
            self.process = subprocess.Popen(list(command), pass_fds=[*fds, child_end.fileno()], env=env)
        finally:
            child_end.close()
        self.reader = threading.Thread(
            target=self._read, args=(watcher,), name="sockweb-reload-reports", daemon=True
        )
        self.reader.start()

    def _read(self, watcher: Watcher) -> None:
        with contextlib.suppress(OSError), self.channel.makefile("rb") as stream:
            for line in stream:
                item = decode_report(line)
                if item is not None:
                    watcher.add({item[0]: item[1]})

    def stop(self) -> int:
        """SIGTERM, then SIGKILL after ``STOP_GRACE``; returns the exit code."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                log.warning("the application did not stop in %gs; killing it", STOP_GRACE)
                self.process.kill()
                self.process.wait()
        with contextlib.suppress(OSError):
            self.channel.shutdown(socket.SHUT_RDWR)
        self.channel.close()
        self.reader.join(1.0)
        return self.process.returncode


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def run_with_reloader(
    sockets: Sequence[socket.socket],
    command: Sequence[str],
    payload: dict[str, object],
    *,
    extra_files: Iterable[str] = (),
    reloader_type: str = "auto",
    poll: float = 0.5,
    on_restart: Callable[[set[str]], None] | None = None,
) -> int:
    """Run ``command`` as the serving child, restarting it on changes, until SIGINT/SIGTERM.

    ``sockets`` stay open in this process the whole time; their fds are passed to every child, with
    ``payload`` (JSON-able) describing what to serve. Returns 0 after a clean stop.
    """
    if os.name != "posix":  # pragma: no cover - passing listening sockets by fd is POSIX-only here
        raise RuntimeError("the reloader needs a POSIX system (it hands its sockets to the child by fd)")
    watcher = make_watcher(reloader_type)
    watcher.add(dict.fromkeys(os.path.abspath(p) for p in extra_files))
    fds = [sock.fileno() for sock in sockets]
    for sock in sockets:
        sock.set_inheritable(True)
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _raise_stop)
    child: _Child | None = None
    try:
        while True:
            child = _Child(command, fds, payload, watcher)
            exited = False
            while True:
                changed = watcher.wait(poll)
                if changed:
                    break
                if not exited and child.process.poll() is not None:
                    exited = True
                    log.warning(
                        "the application exited (code %s); waiting for a change to restart it",
                        child.process.returncode,
                    )
            names = ", ".join(sorted(os.path.relpath(p) for p in changed))
            log.warning(" * Detected change in %s, reloading", names)
            if on_restart is not None:
                on_restart(changed)
            child.stop()
            child = None
    except (KeyboardInterrupt, _Stop):
        return 0
    finally:
        if child is not None:
            child.stop()
        watcher.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
