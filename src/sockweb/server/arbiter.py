"""The arbiter: a master process that pre-forks workers sharing the listening sockets, and keeps them alive.

Strategy: the master binds every socket, drops privileges, optionally imports the app (``--preload``),
forks ``--workers`` children (:mod:`sockweb.server.workers`) and then only supervises. Its loop sleeps on
a self-pipe registered with ``signal.set_wakeup_fd`` (signal handlers do nothing; the byte the
interpreter writes for each signal *is* the queue), wakes at least once a second, and then:

1. dispatches each pending signal from a table to ``handle_<signame>`` (gunicorn's convention);
2. reaps dead children (``waitpid(WNOHANG)``) — SIGCHLD wakes it, so a dead worker is replaced at once;
3. sends SIGABRT (then SIGKILL a second later) to workers whose heartbeat is older than ``--timeout``, and
   SIGKILL to workers still running past their stop deadline;
4. spawns or stops workers until the current generation has the target count, and once every worker of
   the current generation is up, stops the older generations (rolling reload).

Signals: TERM graceful stop (workers finish in-flight requests within ``--graceful-timeout``), INT/QUIT
fast stop, HUP rolling reload, TTIN/TTOU one worker more/less, USR1 reopen log files (master and
workers), CHLD reap; USR2 and WINCH are logged and ignored (their default actions would kill the master
or do nothing).

The drain delay (``--drain-delay``) lives here, not in the workers: on TERM the master turns /readyz false
at once (``stop_mode`` is set) but holds the workers' TERM back for the delay, so they go on accepting and
serving while a load balancer notices; a second TERM sends it at once, INT/QUIT stop fast as always. The
workers then stop as without a delay, and the master closes its copies of the listening sockets, so a
connection arriving after that is refused instead of waiting in a queue nobody will accept from. A worker
that dies during the delay is replaced (the server is still serving).

A worker that exits before it is ready (its first heartbeat, written once the application is loaded)
with ``BOOT_ERROR`` cannot load the application: the master stops, or abandons a reload. A worker that
exits after it was ready, whatever its status, is replaced (with the back-off); the others never notice.

Sockets: with SO_REUSEPORT (Linux, BSDs; ``--reuse-port``, the default) each worker *slot* gets its own
listening socket on the same TCP address, so the kernel spreads connections evenly instead of letting the
least-busy process win every accept. The master keeps every slot socket open: a worker that dies or is
replaced leaves its queue to its successor, so queued connections are never reset. The price: the
connections queued on a stuck worker's slot wait until it is replaced (``--timeout``), and removing a slot
(TTOU) may reset connections queued on it at that instant. Unix sockets, fd:// and systemd sockets are
shared by all workers (one accept queue; the least-busy worker accepts).

HUP reloads the application: without ``--preload`` each new worker imports it fresh. With ``--preload``
the code lives in the master, so the master checks that the new code imports (in a subprocess), then
re-executes itself (same pid; sockets and old workers inherited, described in an environment variable),
imports the new code, forks the new generation and then stops the old workers it inherited.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, MutableMapping
from typing import TYPE_CHECKING

from sockweb.server import hooks, systemd
from sockweb.server.binds import BindError, BindSpec, bind_socket, parse_bind, remove_unix_files, unix_paths
from sockweb.server.dispatch import STEERING_SIGNALS
from sockweb.server.handover import reloading
from sockweb.server.workers import (
    BOOT_ERROR,
    Heartbeat,
    PidFile,
    ProcessError,
    Worker,
    drop_privileges,
    exit_child,
    set_title,
    worker_main,
)

if TYPE_CHECKING:
    from sockweb.server.config import Config
    from sockweb.server.loader import WSGIApp
    from sockweb.server.status import ArbiterStatus

__all__ = ["STATE_ENV", "Arbiter"]

log = logging.getLogger("sockweb.error")

STATE_ENV = "SOCKWEB_ARBITER_STATE"
STATS_SIZE = 32768  # bytes of shared memory per worker for its metrics (see metrics.StatsBlock)
_ABORT_GRACE = 1.0  # seconds between SIGABRT and SIGKILL for a stuck worker
_FAST_GRACE = 2.0  # seconds a fast stop waits before SIGKILL
_QUICK_DEATH = 1.0  # a worker dying sooner than this after its start counts towards the respawn back-off


class _Listener:
    """One ``--bind``: a shared socket, or one SO_REUSEPORT socket per worker slot."""

    def __init__(self, first: socket.socket, spec: BindSpec | None, per_slot: bool, backlog: int) -> None:
        self.sockets = [first]
        self.spec = spec
        # socket files to remove at exit: only those this master created (not systemd's)
        self.paths = unix_paths([first]) if spec is not None and spec.kind == "unix" else []
        self.per_slot = per_slot
        self.backlog = backlog

    def for_slot(self, slot: int) -> socket.socket:
        if not self.per_slot:
            return self.sockets[0]
        while len(self.sockets) <= slot:
            host, port = self.sockets[0].getsockname()[:2]
            assert self.spec is not None
            clone = BindSpec("tcp", self.spec.text, host=host, port=port)
            try:
                self.sockets.append(bind_socket(clone, backlog=self.backlog, reuse_port=True))
            except BindError as exc:
                # e.g. after --user: the kernel only groups SO_REUSEPORT sockets of the same user.
                log.warning("%s; slot %d shares slot 0's socket", exc, slot)
                return self.sockets[0]
        return self.sockets[slot]

    def trim(self, used: set[int]) -> None:
        """Close the trailing slot sockets no running worker uses (after TTOU): nobody would accept there."""
        while self.per_slot and len(self.sockets) > 1 and len(self.sockets) - 1 not in used:
            self.sockets.pop().close()

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()


class Arbiter:
    """Master process: ``Arbiter(config, argv).run()`` returns the exit status."""

    def __init__(
        self,
        config: Config,
        argv: list[str],
        environ: MutableMapping[str, str] | None = None,
        cwd: str | None = None,
        sockets: list[socket.socket] | None = None,
    ) -> None:
        self.config = config
        # Listening sockets bound by the caller (who reported the address already): served as they are,
        # like systemd's, instead of binding `config.bind` again after a gap another process could take.
        self.given = sockets
        self.argv = argv
        self.environ = os.environ if environ is None else environ
        self.pid = os.getpid()
        self.target = config.workers
        self.generation = 0
        self.workers: dict[int, Worker] = {}
        self.listeners: list[_Listener] = []
        self.app: WSGIApp | None = None
        self.stop_mode: str | None = None  # "graceful" | "fast"
        self.drain_until: float | None = None  # graceful stop held back until then (--drain-delay)
        self.exit_code = 0
        self.pidfile = PidFile(config.pid) if config.pid else None
        self.wakeup_r, self.wakeup_w = -1, -1
        self.cwd = cwd or os.getcwd()  # where argv was given: a re-executed master starts there
        self.reloading_from_exec = False
        self.signals_due: list[int] = []  # read from the wakeup pipe, not handled yet
        self.quick_deaths = 0  # workers that died soon after starting, in a row: spawning backs off
        self.spawn_after = 0.0
        self.status: ArbiterStatus | None = None  # --metrics-bind / --statsd-host (sockweb.server.status)
        self.info = hooks.ServerInfo(config, self.pid, "master", self.target)  # the hooks' `server`

    # --- setup ------------------------------------------------------------------------------------------

    def _bind(self) -> None:
        state = self.environ.pop(STATE_ENV, None)
        if state is not None:
            self._adopt(json.loads(state))
            return
        activated = self.given or systemd.listen_fds(self.environ)
        if activated:
            self.listeners = [_Listener(s, None, False, self.config.backlog) for s in activated]
            return
        specs = [parse_bind(text) for text in self.config.bind]
        reuse = self.config.reuse_port and hasattr(socket, "SO_REUSEPORT")
        try:
            for spec in specs:
                per_slot = reuse and spec.kind == "tcp"
                sock = bind_socket(
                    spec, backlog=self.config.backlog, umask=self.config.umask, reuse_port=per_slot
                )
                listener = _Listener(sock, spec, per_slot, self.config.backlog)
                listener.for_slot(self.config.workers - 1)  # now, while we may still be root
                self.listeners.append(listener)
        except BindError:
            self._close_listeners()
            raise

    def _adopt(self, state: dict[str, object]) -> None:
        """Take over the sockets and old workers a previous image of this master left us (HUP + preload)."""
        listeners, old, target = state.get("listeners"), state.get("workers"), state.get("target")
        if not (isinstance(listeners, list) and isinstance(old, list) and isinstance(target, int)):
            raise BindError(f"invalid {STATE_ENV}")
        for entry in listeners:
            socks = [socket.socket(fileno=int(fd)) for fd in entry["fds"]]
            listener = _Listener(socks[0], None, bool(entry["per_slot"]), self.config.backlog)
            listener.sockets = socks
            listener.paths = [str(p) for p in entry.get("paths", [])]
            if listener.per_slot:
                host, port = socks[0].getsockname()[:2]
                listener.spec = BindSpec("tcp", f"{host}:{port}", host=host, port=port)
            self.listeners.append(listener)
        for slot, pid in enumerate(old):
            self.workers[int(pid)] = Worker(int(pid), slot, -1, None)
        self.target = self.info.workers = target
        self.reloading_from_exec = True

    def _close_listeners(self) -> None:
        for listener in self.listeners:
            listener.close()

    def _install_signals(self) -> None:
        self.wakeup_r, self.wakeup_w = os.pipe()
        for fd in (self.wakeup_r, self.wakeup_w):
            os.set_blocking(fd, False)
        signal.set_wakeup_fd(self.wakeup_w, warn_on_full_buffer=False)
        for signum in STEERING_SIGNALS:
            signal.signal(signum, _no_op)
        # Blocked by a previous image's _reexec(): what arrived since is delivered now, to these handlers.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STEERING_SIGNALS)

    def _restore_signals(self) -> None:
        signal.set_wakeup_fd(-1)
        for signum in STEERING_SIGNALS:
            signal.signal(signum, signal.SIG_DFL)
        for fd in (self.wakeup_r, self.wakeup_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    # --- main loop --------------------------------------------------------------------------------------

    def run(self) -> int:
        try:
            hooks.call_fatal(self.config, "on_starting", self.info)
            self._bind()
        except (BindError, hooks.HookError) as exc:
            log.error("%s", exc)
            return 1
        try:
            if self.pidfile is not None:
                self.pidfile.create(self.pid)
            self._start_status()
            drop_privileges(self.config.user, self.config.group)
        except (ProcessError, BindError) as exc:
            log.error("%s", exc)
            self._close_listeners()
            return 1
        set_title(self.config, "master")
        if self.config.preload and not self._preload():
            self._cleanup()
            return 1
        self._install_signals()
        for listener in self.listeners:
            log.info("Listening at %s", _describe(listener.sockets[0], bool(self.config.certfile)))
        log.info("Master %d: %d worker(s)", self.pid, self.target)
        try:
            if not self.reloading_from_exec:
                hooks.call(self.config, "nworkers_changed", self.info, self.target, None)
            self._manage()
            if not hooks.call(self.config, "when_ready", self.info):
                log.error("The when_ready hook failed: stopping")
                self.exit_code = 1
                self._begin_stop("fast")
            systemd.notify("READY=1", self.environ)
            while self.stop_mode is None or self.workers:
                self._wait(self._next_wakeup())
                self._tick()
        finally:
            self._kill_all(signal.SIGKILL)
            self._restore_signals()
            self._cleanup()
        hooks.call(self.config, "on_exit", self.info)
        log.info("Master %d: stopped", self.pid)
        return self.exit_code

    def _tick(self) -> None:
        self.signals_due = self._pending_signals()
        while self.signals_due:
            signum = self.signals_due.pop(0)
            handler: Callable[[], None] | None = getattr(self, "handle_" + _signame(signum), None)
            if handler is not None:
                handler()
        self._reap()
        if self.drain_until is not None and time.monotonic() >= self.drain_until:
            self._stop_workers_gracefully()
        self._enforce_deadlines()
        if not self._stopping():
            self._manage()
        if self.status is not None:
            self.status.tick()

    def _stopping(self) -> bool:
        """The workers are being stopped (a stop has begun and its drain delay, if any, is over)."""
        return self.stop_mode is not None and self.drain_until is None

    def _next_wakeup(self) -> float:
        if self.drain_until is None:
            return 1.0
        return max(0.0, min(1.0, self.drain_until - time.monotonic()))

    def _wait(self, timeout: float) -> None:
        status = self.status
        if status is None:
            with contextlib.suppress(InterruptedError, OSError):
                select.select([self.wakeup_r], [], [], timeout)
            return
        # The status listener shares this wait: a scrape is answered here, between two ticks.
        readable: list[int] = []
        writable: list[int] = []
        with contextlib.suppress(InterruptedError, OSError):
            readable, writable, _ = select.select(
                [self.wakeup_r, *status.readers()], status.writers(), [], timeout
            )
        status.handle(readable, writable)

    def _start_status(self) -> None:
        if not (self.config.metrics_bind or self.config.statsd_host):
            return
        from sockweb.server.status import ArbiterStatus, bind_status

        sock = bind_status(self.config.metrics_bind) if self.config.metrics_bind else None
        self.status = ArbiterStatus(self, sock)

    def _pending_signals(self) -> list[int]:
        data = b""
        with contextlib.suppress(BlockingIOError, InterruptedError):
            while chunk := os.read(self.wakeup_r, 4096):
                data += chunk
        # Each byte is one signal number, in arrival order. Repeats count (two TTIN = two workers), except
        # SIGCHLD: one reap collects every dead child.
        chld = int(signal.SIGCHLD)
        return [signum for i, signum in enumerate(data) if signum != chld or chld not in data[:i]]

    def _cleanup(self) -> None:
        systemd.notify("STOPPING=1", self.environ)
        if self.status is not None:
            self.status.close()
        for listener in self.listeners:
            remove_unix_files(listener.paths)
        self._close_listeners()
        if self.pidfile is not None:
            self.pidfile.remove()

    def _preload(self) -> bool:
        from sockweb.server.loader import AppLoadError, load_app

        try:
            self.app = load_app(self.config.app, factory=self.config.factory)
        except AppLoadError as exc:
            log.error("Cannot load the application: %s", exc)
            return False
        return True

    # --- workers ----------------------------------------------------------------------------------------

    def _current(self) -> list[Worker]:
        return [
            w for w in self.workers.values() if w.generation == self.generation and w.stop_deadline is None
        ]

    def _manage(self) -> None:
        current = self._current()
        used = {w.slot for w in current}
        missing = self.target - len(current) if time.monotonic() >= self.spawn_after else 0
        for _ in range(missing):
            slot = next(i for i in range(len(used) + 1) if i not in used)
            used.add(slot)
            self._spawn(slot)
        excess = sorted(current, key=lambda w: w.slot)[self.target :]
        for worker in excess:
            self._stop_worker(worker, signal.SIGTERM, self.config.graceful_timeout)
        if excess:
            used = {w.slot for w in self.workers.values() if w.stop_deadline is None}
            for listener in self.listeners:
                listener.trim(used)
        current = self._current()
        old = [
            w for w in self.workers.values() if w.generation != self.generation and w.stop_deadline is None
        ]
        if old and len(current) >= self.target and all(w.ready for w in current):
            log.info("Reload: generation %d is up, stopping %d old worker(s)", self.generation, len(old))
            for worker in old:
                self._stop_worker(worker, signal.SIGTERM, self.config.graceful_timeout)
            if self.reloading_from_exec:
                self.reloading_from_exec = False
                systemd.notify("READY=1", self.environ)

    def _spawn(self, slot: int) -> None:
        sockets = [listener.for_slot(slot) for listener in self.listeners]
        # The child closes every other slot's socket: one it kept open would hold connections nobody accepts.
        others = [s for lst in self.listeners for s in lst.sockets if s not in sockets]
        heartbeat = Heartbeat(STATS_SIZE if self.status is not None else 0)
        hooks.call(
            self.config, "pre_fork", self.info, hooks.WorkerInfo(self.config, 0, slot, self.generation)
        )
        # Signals stay blocked across fork() until the child has restored its own handlers: a TERM that
        # arrives in between must not run the master's handler (and write to the master's wakeup pipe).
        signal.pthread_sigmask(signal.SIG_BLOCK, STEERING_SIGNALS)
        try:
            pid = os.fork()
        except OSError:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STEERING_SIGNALS)
            raise
        if pid != 0:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STEERING_SIGNALS)
        if pid == 0:  # child
            code = 1
            try:
                for sock in others:  # detach first: the object must never close a reused fd number later
                    with contextlib.suppress(OSError):
                        os.close(sock.detach())
                code = worker_main(
                    self.config,
                    self.app,
                    sockets,
                    heartbeat,
                    self.pid,
                    close_fds=[self.wakeup_r, self.wakeup_w, *(self.status.fds() if self.status else ())],
                    server=self.info,
                    worker=hooks.WorkerInfo(self.config, os.getpid(), slot, self.generation),
                )
            except BaseException:
                log.exception("Worker %d crashed", os.getpid())
            finally:
                exit_child(code)
        self.workers[pid] = Worker(pid, slot, self.generation, heartbeat)
        log.info("Booted worker %d (slot %d)", pid, slot)

    def _stop_worker(self, worker: Worker, signum: int, grace: float) -> None:
        if worker.stop_deadline is None:
            worker.stop_deadline = time.monotonic() + grace
        _kill(worker.pid, signum)

    def _kill_all(self, signum: int) -> None:
        for worker in list(self.workers.values()):
            _kill(worker.pid, signum)
        while self.workers:
            try:
                pid, status = os.waitpid(-1, 0)
            except ChildProcessError:
                break
            found = self._forget(pid)
            if found is not None:
                self._child_exit(found[0], os.waitstatus_to_exitcode(status))

    def _forget(self, pid: int) -> tuple[Worker, bool] | None:
        """Drop a dead child's record; returns it with whether it had become ready (read before the
        heartbeat's memory is released)."""
        worker = self.workers.pop(pid, None)
        if worker is None:
            return None
        ready = worker.ready
        if self.status is not None:
            self.status.retire(worker)
        if worker.heartbeat is not None:
            worker.heartbeat.close()
        return worker, ready

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            found = self._forget(pid)
            if found is None:
                continue
            worker, ready = found
            code = os.waitstatus_to_exitcode(status)
            self._child_exit(worker, code)
            expected = worker.stop_deadline is not None or self._stopping()
            # Only a worker that never got ready failed to boot. One that was serving may exit with any
            # status (BOOT_ERROR included: an application may call sys.exit(3)); it is replaced like
            # any other death, with the back-off, and the other workers' requests are not touched.
            if code == BOOT_ERROR and not ready and worker.stop_deadline is None:
                self._boot_failed(worker)
            elif not expected:
                if self.status is not None:
                    self.status.died(worker, code)
                how = f"signal {-code}" if code < 0 else f"status {code}"
                (log.info if code == 0 else log.warning)("Worker %d exited (%s): replacing it", pid, how)
                self._note_death(worker)

    def _child_exit(self, worker: Worker, code: int) -> None:
        info = hooks.WorkerInfo(self.config, worker.pid, worker.slot, worker.generation, code)
        hooks.call(self.config, "child_exit", self.info, info)

    def _note_death(self, worker: Worker) -> None:
        """Back off (0.1 s doubling to 5 s) while workers keep dying right after they start: no fork loop."""
        now = time.monotonic()
        if now - worker.born < _QUICK_DEATH:
            self.quick_deaths += 1
            self.spawn_after = now + min(0.1 * 2 ** (self.quick_deaths - 1), 5.0)
        else:
            self.quick_deaths = 0

    def _boot_failed(self, worker: Worker) -> None:
        old = [
            w for w in self.workers.values() if w.generation != self.generation and w.stop_deadline is None
        ]
        if old:
            log.error("Reload failed: the new workers cannot load the application; keeping the old ones")
            for w in self._current():
                self._stop_worker(w, signal.SIGTERM, self.config.graceful_timeout)
            self.generation = max(w.generation for w in old)
            return
        log.error("Worker %d failed to boot: stopping", worker.pid)
        self.exit_code = 1
        self._begin_stop("fast")

    def _enforce_deadlines(self) -> None:
        now = time.monotonic()
        for worker in list(self.workers.values()):
            if worker.stop_deadline is not None and now > worker.stop_deadline:
                _kill(worker.pid, signal.SIGKILL)
            elif worker.aborted_at is not None:
                if now - worker.aborted_at > _ABORT_GRACE:
                    _kill(worker.pid, signal.SIGKILL)
            elif worker.stop_deadline is None and worker.silent_for(now) > self._timeout_for(worker):
                log.error(
                    "Worker %d timed out (no heartbeat for %.1fs): killing it",
                    worker.pid,
                    worker.silent_for(now),
                )
                worker.aborted_at = now
                _kill(worker.pid, signal.SIGABRT)

    def _timeout_for(self, worker: Worker) -> float:
        # Loading the application may take longer than a request should.
        return self.config.timeout if worker.ready else max(self.config.timeout, 30.0)

    def _begin_stop(self, mode: str) -> None:
        if self.stop_mode in ("fast", mode):
            return
        self.stop_mode = mode
        systemd.notify("STOPPING=1", self.environ)
        log.info("Master %d: %s stop", self.pid, mode)
        if mode == "graceful" and self.config.drain_delay > 0:
            log.info("Draining: not ready any more, workers still accept for %gs", self.config.drain_delay)
            self.drain_until = time.monotonic() + self.config.drain_delay
            return
        if mode == "graceful":
            self._stop_workers_gracefully()
            return
        self.drain_until = None
        for worker in self.workers.values():
            worker.stop_deadline = None
            self._stop_worker(worker, signal.SIGQUIT, _FAST_GRACE)

    def _stop_workers_gracefully(self) -> None:
        """TERM to every worker (the drain delay, if any, is over), then close the master's listening
        sockets: no successor will accept from them, and each worker's last accept pass takes what is
        queued before the socket really closes with the worker's copy."""
        self.drain_until = None
        for worker in self.workers.values():
            worker.stop_deadline = None
            self._stop_worker(worker, signal.SIGTERM, self.config.graceful_timeout + 1.0)
        for listener in self.listeners:
            listener.close()

    # --- signal handlers (called from the loop, never from the signal handler itself) -----------------

    def handle_term(self) -> None:
        if self.drain_until is not None:
            log.info("Drain delay cut short by a second TERM")
            self._stop_workers_gracefully()
            return
        self._begin_stop("graceful")

    def handle_int(self) -> None:
        self._begin_stop("fast")

    def handle_quit(self) -> None:
        self._begin_stop("fast")

    def handle_hup(self) -> None:
        if self.stop_mode is not None:
            return
        systemd.notify(reloading(), self.environ)
        hooks.call(self.config, "on_reload", self.info)
        if self.config.preload:
            self._reexec()
            return
        self.generation += 1
        log.info("Reload: starting generation %d", self.generation)
        self._manage()
        systemd.notify("READY=1", self.environ)

    def handle_ttin(self) -> None:
        self._set_target(self.target + 1)
        log.info("TTIN: %d worker(s)", self.target)

    def handle_ttou(self) -> None:
        self._set_target(max(1, self.target - 1))
        log.info("TTOU: %d worker(s)", self.target)

    def _set_target(self, target: int) -> None:
        old, self.target = self.target, target
        self.info.workers = target
        if target != old:
            hooks.call(self.config, "nworkers_changed", self.info, target, old)

    def handle_usr1(self) -> None:
        from sockweb.server.logconfig import reopen_log_files

        reopen_log_files()
        for worker in self.workers.values():
            _kill(worker.pid, signal.SIGUSR1)

    def handle_chld(self) -> None:
        self._reap()

    def handle_usr2(self) -> None:
        log.info("USR2 ignored: sockweb reloads on HUP (the master keeps its pid)")

    def handle_winch(self) -> None:
        # A terminal resize must not stop anything; its default action is already "ignore".
        log.info("WINCH ignored")

    # --- reload with --preload: re-execute the master ----------------------------------------------------

    def _reexec(self) -> None:
        probe = [sys.executable, "-c", _PROBE, self.config.app, "1" if self.config.factory else "0"]
        try:
            result = subprocess.run(
                probe, cwd=os.getcwd(), capture_output=True, text=True, timeout=max(self.config.timeout, 30.0)
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.error("Reload failed: cannot check the new code (%s); keeping the current workers", exc)
            systemd.notify("READY=1", self.environ)
            return
        if result.returncode != 0:
            reason = (result.stderr.strip().splitlines() or ["unknown error"])[-1]
            log.error("Reload failed: %s; keeping the current workers", reason)
            systemd.notify("READY=1", self.environ)  # systemd waits for READY=1 after RELOADING=1
            return
        state = {
            "listeners": [
                {
                    "per_slot": listener.per_slot,
                    "fds": [s.fileno() for s in listener.sockets],
                    "paths": listener.paths,
                }
                for listener in self.listeners
            ],
            "workers": [w.pid for w in self.workers.values() if w.stop_deadline is None],
            "target": self.target,
        }
        for listener in self.listeners:
            for sock in listener.sockets:
                sock.set_inheritable(True)
        env = dict(self.environ)
        env[STATE_ENV] = json.dumps(state)
        args = [sys.executable, "-m", "sockweb", "serve", *self.argv]
        log.info("Reload: re-executing the master to import the new code")
        # Handlers do not survive execve, but the signal mask and pending signals do. Blocked, a TERM that
        # arrives before the new image installs its handlers waits for them (a graceful stop) instead of
        # killing the master with its workers still running. The signals already read or written to the
        # wakeup pipe (during the probe, or behind this HUP) are raised again to wait with them; repeats
        # of one signal become one, as for any pending signal.
        signal.pthread_sigmask(signal.SIG_BLOCK, STEERING_SIGNALS)
        carried, self.signals_due = [*self.signals_due, *self._pending_signals()], []
        for signum in carried:
            signal.raise_signal(signum)  # to this thread, where it is blocked: pending
        signal.set_wakeup_fd(-1)
        os.chdir(self.cwd)
        for handler in logging.getLogger("sockweb").handlers:
            handler.flush()
        try:
            os.execve(sys.executable, args, env)
        except OSError as exc:
            signal.set_wakeup_fd(self.wakeup_w, warn_on_full_buffer=False)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STEERING_SIGNALS)
            log.error("Reload failed: cannot re-execute the master (%s); keeping the current workers", exc)
            systemd.notify("READY=1", self.environ)


_PROBE = (
    "import sys\n"
    "from sockweb.server.loader import AppLoadError, load_app\n"
    "try:\n"
    "    load_app(sys.argv[1], factory=sys.argv[2] == '1')\n"
    "except AppLoadError as exc:\n"
    "    sys.exit(str(exc))\n"
)


def _no_op(signum: int, frame: object) -> None:
    """Signal handler: the wakeup fd already carries the signal number to the loop."""


def _signame(signum: int) -> str:
    try:
        return signal.Signals(signum).name[3:].lower()
    except ValueError:
        return str(signum)


def _kill(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _describe(sock: socket.socket, tls: bool) -> str:
    from sockweb.server.binds import describe

    where = describe(sock)
    return where if where.startswith("unix:") else f"{'https' if tls else 'http'}://{where}"
