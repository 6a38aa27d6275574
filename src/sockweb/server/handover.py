"""Signals of a single-process server (``--workers 1``), and its reload on HUP by a hand-over.

Strategy: a reload must not refuse a connection, must keep the running code when the new code is broken,
and must keep the pid (systemd's main pid, a container's PID 1, a shell's job, a ``--pid`` file). So HUP
hands the listening sockets over twice, and some process always accepts on them:

1. The serving process (pid P) duplicates its listening sockets and starts a *bridge*: ``python -m
   sockweb serve ARGV`` with those sockets inherited and described in ``SOCKWEB_HANDOVER``. The bridge
   reads the settings and imports the application afresh, starts accepting, and writes one byte on a
   pipe. If it exits before that (the new code does not import, a setting is invalid), P logs ``Reload
   failed`` and goes on serving the code it has.
2. When the byte arrives, P stops accepting (the bridge takes the shared accept queue), finishes its
   in-flight requests (``--graceful-timeout``), then re-executes itself in place (``execve``: same pid,
   sockets inherited). The new image imports the application, starts accepting and sends TERM to the
   bridge, which finishes its own requests and exits; the new image reaps it.

=========  ======================  =========================================================
phase      accepting               next
=========  ======================  =========================================================
serving    P                       HUP -> starting
starting   P, and the bridge once  ready byte -> draining; bridge exits first -> serving
           it is up                (``Reload failed``)
draining   the bridge              in-flight requests done -> execve -> adopting
adopting   the bridge              new image listens -> TERM to the bridge -> settling
settling   P (bridge draining)     bridge reaped -> serving
=========  ======================  =========================================================

HUP outside ``serving`` is logged and ignored (while the application loads, the code being loaded is
already the newest). TERM/INT in any phase stop P gracefully and the bridge with it; from the end of
the draining loop through the ``execve`` the signals are blocked (the mask and pending signals survive
it) and the new image acts on them once its handlers are in place. The bridge stops by itself when P
disappears.

Why not the alternatives: handing the service to the bridge for good would change the main pid, which
ends a container whose PID 1 it is, gives a shell its prompt back, and needs ``MAINPID=`` with systemd;
re-executing in place without a bridge leaves new connections waiting in the backlog for the whole drain
and import, and loses the service when the new code does not import. The price of the hand-over: the
application is imported twice per reload and, for a moment, runs twice (memory).

The other signals: TTIN/TTOU (one worker more/fewer) mean nothing without a master, USR2 and WINCH mean
nothing to sockweb; each is logged and ignored, where their default actions would stop or freeze the
process. USR1 reopens the log files.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING

from sockweb.server import systemd

if TYPE_CHECKING:
    from sockweb.server.config import Config

__all__ = ["HANDOVER_ENV", "HandoverError", "Inherited", "SingleProcess", "reloading", "take_inherited"]

log = logging.getLogger("sockweb.error")

HANDOVER_ENV = "SOCKWEB_HANDOVER"
BRIDGE, SERVER = "bridge", "server"

# Signals that must never take their default action in one process (stop, or freeze for TTIN/TTOU), and
# what each one is told when ignored.
_IGNORED = {
    "SIGTTIN": "one process (--workers 1) has no workers to add; start with --workers N for that",
    "SIGTTOU": "one process (--workers 1) has no workers to remove",
    "SIGUSR2": "sockweb reloads on HUP, keeping its pid",
    "SIGWINCH": "nothing to do",
}
_NOTED = ("SIGHUP", *_IGNORED)
_STOPS = ("SIGTERM", "SIGINT")
_OVER_EXEC = {getattr(signal, name) for name in (*_NOTED, *_STOPS, "SIGUSR1")}


class HandoverError(ValueError):
    """A malformed ``SOCKWEB_HANDOVER``; ``str()`` is one line."""


def reloading() -> str:
    """The sd_notify message for the start of a reload (``Type=notify-reload`` wants the clock with it)."""
    return f"RELOADING=1\nMONOTONIC_USEC={time.monotonic_ns() // 1000}"


@dataclass(frozen=True)
class Inherited:
    """What the previous process passed on in ``SOCKWEB_HANDOVER``."""

    role: str  # BRIDGE: serve until TERM; SERVER: the re-executed server, which stops the bridge
    fds: tuple[int, ...]  # the listening sockets
    paths: tuple[str, ...] = ()  # unix socket files to remove at the final exit (SERVER)
    ready_fd: int = -1  # BRIDGE: where to write the byte that says it accepts
    bridge: int = 0  # SERVER: the bridge's pid

    def sockets(self) -> list[socket.socket]:
        return [socket.socket(fileno=fd) for fd in self.fds]

    def encode(self) -> str:
        return json.dumps(
            {
                "role": self.role,
                "fds": list(self.fds),
                "paths": list(self.paths),
                "ready_fd": self.ready_fd,
                "bridge": self.bridge,
            }
        )


def take_inherited(environ: MutableMapping[str, str]) -> Inherited | None:
    """Remove ``SOCKWEB_HANDOVER`` from `environ` (the application must not pass it on) and parse it."""
    text = environ.pop(HANDOVER_ENV, None)
    if text is None:
        return None
    try:
        data = json.loads(text)
        found = Inherited(
            role=str(data["role"]),
            fds=tuple(int(fd) for fd in data["fds"]),
            paths=tuple(str(p) for p in data.get("paths", ())),
            ready_fd=int(data.get("ready_fd", -1)),
            bridge=int(data.get("bridge", 0)),
        )
    except (ValueError, TypeError, KeyError) as exc:
        raise HandoverError(f"invalid {HANDOVER_ENV}: {exc}") from None
    if found.role not in (BRIDGE, SERVER) or not found.fds:
        raise HandoverError(f"invalid {HANDOVER_ENV}: {text[:80]!r}")
    for fd in (*found.fds, found.ready_fd):
        if fd >= 0:
            os.set_inheritable(fd, False)  # nothing the application starts should hold them
    return found


class SingleProcess:
    """The signals and the reload of one serving process; the runner's :class:`ProcessControl`."""

    def __init__(
        self,
        config: Config,
        argv: Sequence[str],
        cwd: str,
        *,
        sockets: list[socket.socket],
        paths: Sequence[str],
        inherited: Inherited | None,
    ) -> None:
        self.config = config
        self.argv = list(argv)
        self.cwd = cwd  # where argv was given: the bridge and the new image start there
        self.sockets = sockets
        self.paths = list(paths)
        self.role = inherited.role if inherited is not None else SERVER
        self.ready_fd = inherited.ready_fd if inherited is not None else -1
        self.parent = os.getppid()
        self.request_stop: Callable[[], None] | None = None
        self.early: list[int] = []  # signals caught before the loop handles them
        # The reload in progress: the bridge being started, its ready pipe, the socket copies it and the
        # new image inherit; after the execve, the bridge's pid until it is reaped.
        self.bridge: subprocess.Popen[bytes] | None = None
        self.bridge_deadline = 0.0
        self.ready_r = -1
        self.copies: list[int] = []
        self.old_bridge = inherited.bridge if inherited is not None else 0
        self.exec_pending = False
        self.stopping = False  # TERM/INT seen: no reload starts or completes any more
        self.fresh = inherited is None

    @property
    def is_bridge(self) -> bool:
        return self.role == BRIDGE

    # --- signals ------------------------------------------------------------------------------------

    def install_early(self) -> None:
        """Until the loop handles them (while the application loads, after the loop), signals are noted
        and logged later, never given their default action. USR1 reopens the log files at once.

        In a process of a reload, TERM and INT are noted too and acted on once serving (the bridge must
        be stopped gracefully); a fresh server keeps their defaults, so that a stop is not delayed by an
        application import that hangs."""
        from sockweb.server.logconfig import reopen_log_files

        noted = _NOTED if self.fresh else (*_NOTED, *_STOPS)
        for name in noted:
            signal.signal(getattr(signal, name), self._note_early)
        # Python runs this handler on the main thread between two bytecodes (not in async-signal
        # context), and the logging handlers' locks are re-entrant.
        signal.signal(signal.SIGUSR1, lambda signum, frame: reopen_log_files())
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _OVER_EXEC)  # blocked by leaving() for the execve

    def _note_early(self, signum: int, frame: FrameType | None) -> None:
        self.early.append(signum)

    def _log_early(self) -> bool:
        """Log the signals noted outside the loop; True when one of them asks to stop."""
        stop = False
        while self.early:
            name = signal.Signals(self.early.pop(0)).name
            if name in _STOPS:
                stop = True
            else:
                log.info("%s ignored: it arrived while the server was starting or stopping", name[3:])
        return stop

    def signal_handlers(self) -> Mapping[int, Callable[[], None]]:
        handlers: dict[int, Callable[[], None]] = {
            signal.SIGHUP: self.handle_hup,
            signal.SIGTERM: self.handle_stop,
            signal.SIGINT: self.handle_stop,
        }
        for name, why in _IGNORED.items():
            handlers[getattr(signal, name)] = _ignore(name[3:], why)
        return handlers

    def handle_hup(self) -> None:
        if self.is_bridge:
            log.info("HUP ignored: this process only bridges the reload of process %d", self.parent)
        elif self.stopping:
            log.info("HUP ignored: the server is stopping")
        elif self.bridge is not None or self.old_bridge or self.exec_pending:
            log.info("HUP ignored: a reload is in progress")
        else:
            from sockweb.server.hooks import ServerInfo, call

            call(self.config, "on_reload", ServerInfo(self.config, os.getpid(), "single"))
            self._start_bridge()

    def handle_stop(self) -> None:
        self.stopping = True
        if self.exec_pending:
            log.info("Stop requested during a reload: not re-executing")
            self.exec_pending = False
        for pid in self._bridge_pids():
            _kill(pid, signal.SIGTERM)
        if self.request_stop is not None:
            self.request_stop()

    # --- the runner's hooks ---------------------------------------------------------------------------

    def serving(self, request_stop: Callable[[], None]) -> None:
        self.request_stop = request_stop
        stop = self._log_early()
        if self.is_bridge:
            with contextlib.suppress(OSError):
                os.write(self.ready_fd, b"R")
            with contextlib.suppress(OSError):
                os.close(self.ready_fd)
            self.ready_fd = -1
        else:
            if self.old_bridge:
                log.info("Reload: serving the new code; stopping the bridge process %d", self.old_bridge)
                _kill(self.old_bridge, signal.SIGTERM)
            systemd.notify("READY=1")
        if stop:
            self.handle_stop()

    def leaving(self) -> None:
        """On the way to a reload's execve, block the signals that must survive it now, while the loop
        still handles them: once the loop gives its handlers up, a TERM would otherwise take its default
        action (this process dies without a graceful stop, and its bridge is left to notice) in the
        time the teardown, the ``worker_exit`` hook and the execve take. Blocked, it waits for the new
        image's :meth:`install_early`, which acts on it."""
        if self.exec_pending:
            signal.pthread_sigmask(signal.SIG_BLOCK, _OVER_EXEC)

    def tick(self) -> None:
        if self._log_early():
            self.handle_stop()
        if self.is_bridge:
            if os.getppid() != self.parent and self.request_stop is not None:
                log.warning("Process %d is gone: this bridge stops", self.parent)
                self.parent = os.getppid()
                self.request_stop()
            return
        if self.bridge is not None and not self.exec_pending and not self.stopping:
            code = self.bridge.poll()
            if code is not None:
                self._bridge_failed(f"the new process exited ({_how(code)}) before serving")
            elif time.monotonic() > self.bridge_deadline:
                self.bridge.kill()
                self.bridge.wait()
                self._bridge_failed("the new process did not start serving in time")
        if self.old_bridge and _reaped(self.old_bridge):
            log.info("Reload complete: the bridge process %d has exited", self.old_bridge)
            self.old_bridge = 0

    # --- reload -------------------------------------------------------------------------------------

    def _start_bridge(self) -> None:
        import asyncio

        systemd.notify(reloading())
        log.info("Reload: starting a process with the new code")
        self.copies = [os.dup(sock.fileno()) for sock in self.sockets]
        ready_r, ready_w = os.pipe()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LISTEN_", "NOTIFY_SOCKET"))}
        env[HANDOVER_ENV] = Inherited(BRIDGE, tuple(self.copies), ready_fd=ready_w).encode()
        try:
            self.bridge = subprocess.Popen(
                [sys.executable, "-m", "sockweb", "serve", *self.argv],
                cwd=self.cwd,
                env=env,
                pass_fds=(*self.copies, ready_w),
            )
        except OSError as exc:
            os.close(ready_r)
            self._bridge_failed(f"cannot start a new process: {exc}")
            return
        finally:
            os.close(ready_w)
        self.ready_r = ready_r
        self.bridge_deadline = time.monotonic() + max(self.config.timeout, 30.0)
        asyncio.get_running_loop().add_reader(ready_r, self._on_ready)

    def _on_ready(self) -> None:
        import asyncio

        try:
            ready = os.read(self.ready_r, 1) == b"R"
        except OSError:
            ready = False
        asyncio.get_running_loop().remove_reader(self.ready_r)
        os.close(self.ready_r)
        self.ready_r = -1
        if not ready or self.bridge is None or self.stopping:
            return  # it exited before serving (tick() reaps it and reports), or we are stopping
        log.info(
            "Reload: process %d serves the new code; this one stops accepting, finishes its requests "
            "and re-executes",
            self.bridge.pid,
        )
        self.exec_pending = True
        if self.request_stop is not None:
            self.request_stop()

    def _bridge_failed(self, reason: str) -> None:
        log.error("Reload failed: %s; still serving the current code", reason)
        self._close_reload()
        self.bridge = None
        systemd.notify("READY=1")  # systemd waits for it after RELOADING=1

    def _close_reload(self) -> None:
        if self.ready_r >= 0:
            import asyncio

            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop().remove_reader(self.ready_r)
            os.close(self.ready_r)
            self.ready_r = -1
        for fd in self.copies:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.copies = []

    def _bridge_pids(self) -> list[int]:
        return [pid for pid in (self.bridge.pid if self.bridge else 0, self.old_bridge) if pid]

    def reexec(self) -> int:
        """Replace this process by a fresh image of itself that adopts the sockets; returns (with an exit
        status) only if ``execve`` fails."""
        assert self.bridge is not None
        state = Inherited(SERVER, tuple(self.copies), tuple(self.paths), bridge=self.bridge.pid)
        for fd in self.copies:
            os.set_inheritable(fd, True)
        env = dict(os.environ)
        env[HANDOVER_ENV] = state.encode()
        for handler in logging.getLogger().handlers + logging.getLogger("sockweb").handlers:
            handler.flush()
        # Handlers do not survive execve, but the signal mask and pending signals do: the signals blocked
        # since leaving() wait for the new image's install_early() instead of taking their default
        # action (stopping the process without a graceful stop, for most of them).
        try:
            os.chdir(self.cwd)
            os.execve(sys.executable, [sys.executable, "-m", "sockweb", "serve", *self.argv], env)
        except OSError as exc:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _OVER_EXEC)
            log.error("Reload failed: cannot re-execute (%s); stopping", exc)
        self.exec_pending = False
        self.finish()
        return 1

    def finish(self) -> None:
        """After the loop: stop a bridge still running and wait for it (it finishes its requests)."""
        self._log_early()
        self._close_reload()
        deadline = time.monotonic() + self.config.graceful_timeout + 1.0
        for pid in self._bridge_pids():
            _kill(pid, signal.SIGTERM)
            while not _reaped(pid):
                if time.monotonic() > deadline:
                    _kill(pid, signal.SIGKILL)
                    deadline = float("inf")
                time.sleep(0.05)
        if self.bridge is not None:
            self.bridge.returncode = 0  # reaped above: Popen must not wait for it again
        self.bridge, self.old_bridge = None, 0


def _ignore(name: str, why: str) -> Callable[[], None]:
    def handler() -> None:
        log.info("%s ignored: %s", name, why)

    return handler


def _how(code: int) -> str:
    return f"signal {-code}" if code < 0 else f"status {code}"


def _kill(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _reaped(pid: int) -> bool:
    """True once child `pid` has exited (and is reaped now), or is not our child."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return done == pid
