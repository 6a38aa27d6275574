"""Worker processes of the arbiter, and the process chores shared with single-process mode.

Master side, a :class:`Worker` record holds a child's pid, slot, generation and its :class:`Heartbeat`:
eight bytes of anonymous shared memory (``mmap``) created before the fork, into which the child writes
``time.monotonic()`` once a second from its event loop (CLOCK_MONOTONIC is system-wide, so the master can
compare). A heartbeat older than ``--timeout`` means the loop is stuck.

Child side, :func:`worker_main` runs after ``fork()``: it restores default signal dispositions the master
changed, loads the application (unless preloaded), counts requests for ``--max-requests``, and hands over
to the server's ``run_worker`` with two callbacks: ``on_tick`` (heartbeat, deferred log reopening) and
``should_stop`` (request budget spent, or the master is gone). Signals from the master: TERM graceful
stop (the runner's own handler), QUIT immediate exit, USR1 reopen logs (flag, acted on at the next
tick: no work in signal handlers), ABRT dump every thread's stack (faulthandler) and abort.

Also here: the pid file, dropping privileges after binding, and process titles (setproctitle when
installed).
"""

from __future__ import annotations

import contextlib
import faulthandler
import itertools
import logging
import mmap
import os
import random
import signal
import socket
import struct
import sys
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sockweb.server.config import Config
    from sockweb.server.hooks import ServerInfo, WorkerInfo
    from sockweb.server.loader import WSGIApp

__all__ = [
    "BOOT_ERROR",
    "Heartbeat",
    "PidFile",
    "ProcessError",
    "Worker",
    "drop_privileges",
    "set_title",
    "worker_main",
]

log = logging.getLogger("sockweb.error")

# Exit status of a worker that could not load the application: the arbiter stops instead of respawning.
# It means that only before the worker is ready (first heartbeat); afterwards it is an ordinary exit.
BOOT_ERROR = 3


class ProcessError(Exception):
    """A pid file, user or group problem; ``str()`` is one line."""


class Heartbeat:
    """A monotonic timestamp in shared memory: the child beats, the master reads.

    With `stats_size`, a second shared block (`stats`) rides along, where the child publishes its
    metrics once a second (see sockweb.server.metrics.StatsBlock).
    """

    __slots__ = ("_mem", "stats")
    _FMT = struct.Struct("d")

    def __init__(self, stats_size: int = 0) -> None:
        self._mem = mmap.mmap(-1, self._FMT.size)
        self._FMT.pack_into(self._mem, 0, 0.0)
        self.stats = mmap.mmap(-1, stats_size) if stats_size else None

    def beat(self) -> None:
        self._FMT.pack_into(self._mem, 0, time.monotonic())

    def last(self) -> float:
        """The last beat (0.0 before the first one)."""
        value: float = self._FMT.unpack_from(self._mem, 0)[0]
        return value

    def close(self) -> None:
        self._mem.close()
        if self.stats is not None:
            self.stats.close()


class Worker:
    """The master's record of one child."""

    __slots__ = ("aborted_at", "born", "generation", "heartbeat", "pid", "slot", "stop_deadline")

    def __init__(self, pid: int, slot: int, generation: int, heartbeat: Heartbeat | None) -> None:
        self.pid = pid
        self.slot = slot
        self.generation = generation
        self.heartbeat = heartbeat
        self.born = time.monotonic()
        self.stop_deadline: float | None = None  # set once told to stop
        self.aborted_at: float | None = None  # set once sent SIGABRT for a timeout

    @property
    def ready(self) -> bool:
        """True once its event loop runs (first heartbeat); adopted workers count as ready."""
        return self.heartbeat is None or self.heartbeat.last() > 0.0

    def silent_for(self, now: float) -> float:
        if self.heartbeat is None:
            return 0.0
        last = self.heartbeat.last()
        return now - (last if last > 0.0 else self.born)


class PidFile:
    """``--pid FILE``: written at start (refusing to clobber a live server's), removed at exit if ours."""

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        self.pid = 0

    def create(self, pid: int) -> None:
        with contextlib.suppress(OSError, ValueError):
            with open(self.path, encoding="ascii") as fh:
                other = int(fh.read().strip() or 0)
            if other == pid:
                # A re-executed image of this process (reload): the file is right, and after --user its
                # directory (say /run) may no longer be writable.
                self.pid = pid
                return
            if other and _alive(other):
                raise ProcessError(f"--pid: {self.path!r} names a running process ({other})")
        tmp = f"{self.path}.{pid}.tmp"
        try:
            with open(tmp, "w", encoding="ascii") as fh:
                fh.write(f"{pid}\n")
            os.replace(tmp, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise ProcessError(f"--pid: cannot write {self.path!r}: {exc.strerror}") from None
        self.pid = pid

    def remove(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            with open(self.path, encoding="ascii") as fh:
                if int(fh.read().strip() or 0) != self.pid:
                    return
            os.unlink(self.path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _lookup(value: str, by_name: Callable[[str], Any], kind: str) -> int:
    if value.isdigit():
        return int(value)
    try:
        entry = by_name(value)
    except KeyError:
        raise ProcessError(f"--{kind}: no such {kind} {value!r}") from None
    ident: int = entry[2]
    return ident


def drop_privileges(user: str | None, group: str | None) -> None:
    """Switch to ``group`` then ``user`` (names or numbers); the sockets are already bound."""
    if user is None and group is None:
        return
    try:  # imported here: they exist on POSIX systems only, and the module must import anywhere
        import grp
        import pwd
    except ImportError:
        raise ProcessError("--user/--group: this system has no POSIX users and groups") from None
    uid = _lookup(user, pwd.getpwnam, "user") if user is not None else None
    gid = _lookup(group, grp.getgrnam, "group") if group is not None else None
    if gid is None and uid is not None:
        with contextlib.suppress(KeyError):
            gid = pwd.getpwuid(uid).pw_gid
    try:
        if gid is not None and gid != os.getegid():
            if os.geteuid() == 0:
                os.setgroups([])
            os.setgid(gid)
        if uid is not None and uid != os.geteuid():
            os.setuid(uid)
    except PermissionError:
        raise ProcessError("--user/--group: not permitted (start as root to switch users)") from None


def set_title(config: Config, role: str) -> None:
    """Name the process (``sockweb: worker [app]``) when setproctitle is installed."""
    try:
        from setproctitle import setproctitle
    except ImportError:
        return
    setproctitle(f"{config.proc_name or 'sockweb'}: {role} [{config.app}]")


class _RequestCounter:
    """WSGI middleware counting calls for ``--max-requests``; the call that spends the budget starts the
    worker's graceful stop (SIGTERM to itself: the runner's loop handles it, so no new connection is
    accepted while the last responses finish). ``itertools.count`` is atomic under the GIL."""

    def __init__(self, app: WSGIApp, budget: int) -> None:
        self.app = app
        self.budget = budget
        self._counter = itertools.count(1)
        self.count = 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        self.count = count = next(self._counter)
        if count == self.budget:
            os.kill(os.getpid(), signal.SIGTERM)
        return self.app(environ, start_response)


def _reset_signals(config: Config, worker: WorkerInfo | None) -> list[bool]:
    """The worker's own signal dispositions; returns a flag that a TERM during start-up sets (the runner
    installs its own TERM handler once it serves; until then a TERM must not kill the booting worker)."""
    terminated = [False]
    for name in ("SIGHUP", "SIGTTIN", "SIGTTOU", "SIGCHLD", "SIGWINCH", "SIGUSR1", "SIGUSR2"):
        signal.signal(getattr(signal, name), signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the master's business
    signal.signal(signal.SIGTTIN, signal.SIG_IGN)
    signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    signal.signal(signal.SIGWINCH, signal.SIG_IGN)
    signal.signal(signal.SIGUSR2, signal.SIG_IGN)  # its default action would kill the worker
    signal.signal(signal.SIGTERM, lambda signum, frame: terminated.__setitem__(0, True))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGQUIT, lambda signum, frame: _quit(config, worker))
    signal.set_wakeup_fd(-1)
    # The arbiter forks with its signals blocked; now that the handlers are the worker's, let them in.
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    # SIGABRT for a stuck worker: faulthandler writes every thread's stack to stderr, then it aborts.
    faulthandler.enable(all_threads=True)
    if config.worker_abort is not None and worker is not None:
        # Replaces faulthandler's C handler with Python's: the hook runs (between two bytecodes of the
        # main thread: a thread stuck in C never gets there, and the master's SIGKILL follows in a
        # second), then the stacks are dumped and the worker aborts as before.
        signal.signal(signal.SIGABRT, lambda signum, frame: _abort(config, worker))
    return terminated


def _quit(config: Config, worker: WorkerInfo | None) -> None:
    """SIGQUIT from the master (a fast stop): the worker_int hook, then exit at once."""
    if worker is not None:
        from sockweb.server.hooks import call

        call(config, "worker_int", worker)
    os._exit(0)


def _abort(config: Config, worker: WorkerInfo) -> None:
    from sockweb.server.hooks import call

    call(config, "worker_abort", worker)
    faulthandler.dump_traceback(all_threads=True)
    signal.signal(signal.SIGABRT, signal.SIG_DFL)
    os.abort()


def worker_main(
    config: Config,
    app: WSGIApp | None,
    sockets: list[socket.socket],
    heartbeat: Heartbeat,
    master_pid: int,
    *,
    close_fds: Iterable[int] = (),
    server: ServerInfo | None = None,
    worker: WorkerInfo | None = None,
) -> int:
    """The body of a forked worker; returns its exit status (the caller ``os._exit``s with it).

    `server` and `worker` are the arguments of the worker's hooks (post_fork, post_worker_init, ...)."""
    from sockweb.server.hooks import HookError, call, call_fatal
    from sockweb.server.loader import AppLoadError, load_app

    try:
        from sockweb.server.logconfig import reopen_log_files
        from sockweb.server.runner import run_worker

        terminated = _reset_signals(config, worker)
        for fd in close_fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        set_title(config, "worker")
        random.seed()
        call_fatal(config, "post_fork", server, worker)
        if app is None:
            app = load_app(config.app, factory=config.factory)
        call_fatal(config, "post_worker_init", worker)
    except AppLoadError as exc:
        log.error("Worker %d cannot load the application: %s", os.getpid(), exc)
        return BOOT_ERROR
    except HookError as exc:
        log.error("Worker %d: %s", os.getpid(), exc)
        return BOOT_ERROR
    except Exception:
        log.exception("Worker %d failed to start", os.getpid())
        return BOOT_ERROR
    budget = 0
    counter: _RequestCounter | None = None
    if config.max_requests > 0:
        budget = config.max_requests + random.randint(0, config.max_requests_jitter)
        counter = _RequestCounter(app, budget)
        app = counter
    reopen = [False]
    signal.signal(signal.SIGUSR1, lambda signum, frame: reopen.__setitem__(0, True))

    def on_tick() -> None:
        heartbeat.beat()
        if reopen[0]:
            reopen[0] = False
            reopen_log_files()

    def should_stop() -> bool:
        if os.getppid() != master_pid or terminated[0]:
            return True  # orphaned (the master died), or a TERM came before the runner's own handler
        return counter is not None and counter.count >= budget

    heartbeat.beat()
    if terminated[0]:  # stopped while booting: leave before serving anything
        call(config, "worker_exit", server, worker)
        return 0
    code = run_worker(
        config, app, sockets, on_tick=on_tick, should_stop=should_stop, stats=heartbeat.stats, worker=worker
    )
    if counter is not None and counter.count >= budget:
        log.info("Worker %d served %d requests: recycling", os.getpid(), counter.count)
    call(config, "worker_exit", server, worker)
    return code


def exit_child(code: int) -> None:
    """Leave a forked child without running the parent's cleanup (atexit, finally blocks)."""
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    logging.shutdown()
    os._exit(code)
