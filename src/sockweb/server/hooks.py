"""Server hooks: the user's functions, called at named moments of the server's life.

Hooks are settings (see :mod:`sockweb.server.config`) whose value is a callable; they can only be set in
a Python config file (``--config sockweb.conf.py``), under the setting's name. The names and the moments
are those gunicorn users know; the arguments are sockweb's own small objects, described here:

=================  ===========================================  ==================================  =======
hook               called                                       arguments                           fails
=================  ===========================================  ==================================  =======
on_starting        before the sockets are bound                 (server)                            stops
when_ready         once the server listens (workers forked)     (server)                            stops
pre_fork           in the master, before forking a worker       (server, worker)                    logged
post_fork          in the worker, just after the fork           (server, worker)                    boot
post_worker_init   in the worker, once the application loaded   (worker)                            boot
worker_int         in the worker, on SIGINT or SIGQUIT          (worker)                            logged
worker_abort       in the worker, on SIGABRT (its --timeout)    (worker)                            logged
worker_exit        in the worker, after it stopped serving      (server, worker)                    logged
pre_request        before the application is called             (worker, req)                       logged
post_request       after the response was handed over           (worker, req, environ, resp)        logged
child_exit         in the master, after a worker was reaped     (server, worker)                    logged
on_exit            just before the server exits                 (server)                            logged
nworkers_changed   in the master, when the target count changes (server, new_value, old_value)      logged
on_reload          on SIGHUP, before the reload starts          (server)                            logged
=================  ===========================================  ==================================  =======

"fails" says what an exception in the hook does: *logged* -- the traceback goes to the error log and
the server carries on; *stops* -- start-up is abandoned with exit status 1; *boot* -- the worker exits as
one that cannot load the application (the master stops, or abandons a reload, as for an import error).

Without ``--workers``, the single process is both the server and its one worker: the master-only hooks
(pre_fork, post_fork, child_exit, nworkers_changed, worker_abort) are not called there.

Cost: the per-request hooks are applied by a subclass of the exchange that :class:`ServerState` picks
once at start-up (as ``--trace`` does), so a server without them runs the plain exchange.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sockweb.server.config import Config
    from sockweb.server.wsgi import Environ, Exchange

__all__ = [
    "HOOK_ARGS",
    "HookError",
    "HookRequest",
    "HookResponse",
    "ServerInfo",
    "WorkerInfo",
    "call",
    "call_fatal",
    "hooked_exchange",
    "this_worker",
]

log = logging.getLogger("sockweb.error")

# hook name -> its parameters (the settings table documents them, config checks a hook accepts them)
HOOK_ARGS: dict[str, tuple[str, ...]] = {
    "on_starting": ("server",),
    "when_ready": ("server",),
    "pre_fork": ("server", "worker"),
    "post_fork": ("server", "worker"),
    "post_worker_init": ("worker",),
    "worker_int": ("worker",),
    "worker_abort": ("worker",),
    "worker_exit": ("server", "worker"),
    "pre_request": ("worker", "req"),
    "post_request": ("worker", "req", "environ", "resp"),
    "child_exit": ("server", "worker"),
    "on_exit": ("server",),
    "nworkers_changed": ("server", "new_value", "old_value"),
    "on_reload": ("server",),
}


class HookError(Exception):
    """A fatal hook raised; ``str()`` is one line naming the hook."""


@dataclass
class ServerInfo:
    """The ``server`` argument: the master (or the single process) as hooks see it.

    ``workers`` is the target number of workers; ``mode`` is ``"master"`` or ``"single"``.
    """

    config: Config
    pid: int
    mode: str
    workers: int = 1


@dataclass
class WorkerInfo:
    """The ``worker`` argument: one worker process. ``pid`` is 0 in ``pre_fork`` (not forked yet)."""

    config: Config
    pid: int
    slot: int = 0
    generation: int = 0
    exit_code: int | None = None  # set for child_exit (as os.waitstatus_to_exitcode: -N for signal N)


@dataclass
class HookRequest:
    """The ``req`` argument of pre_request/post_request: the request as it arrived (read-only view)."""

    method: str
    uri: str  # the request target as sent (RAW_URI)
    path: str  # PATH_INFO (decoded, without the mount prefix)
    query: str
    version: str
    headers: list[tuple[str, str]]  # names in lowercase, values as received (latin-1)
    remote_addr: str
    extra: dict[str, Any] = field(default_factory=dict)  # free for the hooks' own use (pre -> post)


@dataclass
class HookResponse:
    """The ``resp`` argument of post_request: what was sent (``status`` "200 OK", body bytes sent)."""

    status: str
    headers: list[tuple[str, str]]
    sent: int

    @property
    def status_code(self) -> int:
        code = self.status.split(" ", 1)[0]
        return int(code) if code.isdigit() else 0


def call(config: Config, name: str, *args: object) -> bool:
    """Call hook `name` if set; an exception is logged and gives False (True otherwise)."""
    hook: Callable[..., object] | None = getattr(config, name)
    if hook is None:
        return True
    try:
        hook(*args)
    except Exception:
        log.exception("Error in the %s hook", name)
        return False
    return True


def call_fatal(config: Config, name: str, *args: object) -> None:
    """Call a hook whose failure stops start-up: raises :class:`HookError` when it raised."""
    if not call(config, name, *args):
        raise HookError(f"the {name} hook failed (traceback above): not starting")


def _headers(request: Any) -> Iterator[tuple[str, str]]:
    for name, value in request.headers:
        yield name.decode("latin-1"), value.decode("latin-1")


def _hook_request(ex: Exchange) -> HookRequest:
    env = ex.environ
    req = ex.request
    return HookRequest(
        method=env["REQUEST_METHOD"],
        uri=env.get("RAW_URI", ""),
        path=env["PATH_INFO"],
        query=env.get("QUERY_STRING", ""),
        version=req.http_version,
        headers=list(_headers(req)),
        remote_addr=env.get("REMOTE_ADDR", ""),
    )


def hooked_exchange(base: type[Exchange], config: Config, worker: WorkerInfo) -> type[Exchange]:
    """A subclass of `base` that calls pre_request before the application and post_request after."""
    pre = config.pre_request
    post = config.post_request

    def run(self: Any, suspendable: bool) -> bool:
        self.hook_req = req = _hook_request(self)
        if pre is not None:
            try:
                pre(worker, req)
            except Exception:
                log.exception("Error in the pre_request hook")
        result: bool = base.run(self, suspendable)
        return result

    def done(self: Any, keep_alive: bool) -> None:
        req = self.hook_req
        if post is not None and req is not None:
            self.hook_req = None  # once per request, whatever path ends it
            resp = HookResponse(self.status or "500 Internal Server Error", list(self.headers), self.sent)
            try:
                post(worker, req, self.environ, resp)
            except Exception:
                log.exception("Error in the post_request hook")
        base.done(self, keep_alive)

    def begin(self: Any, conn: Any, request: Any, environ: Environ) -> None:
        base.begin(self, conn, request, environ)
        self.hook_req = None

    namespace: Mapping[str, object] = {
        "__slots__": ("hook_req",),
        "begin": begin,
        "run": run,
        "done": done,
    }
    return type("Hooked" + base.__name__, (base,), dict(namespace))


def this_worker(config: Config, slot: int = 0, generation: int = 0) -> WorkerInfo:
    """The `worker` argument for this process."""
    return WorkerInfo(config, os.getpid(), slot, generation)
