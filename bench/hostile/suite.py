"""The attack table: each attack's function and the server it needs (extra flags, descriptor limit).

Every attack gets a fresh server, so one attack's damage never shows up in the next one's numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import devtools, faults, fdlimit, fuzz, servers, slowloris, slowread, smuggling
from .wire import Result

AttackFn = Callable[[servers.Server, bool], Result]


@dataclass(frozen=True)
class Attack:
    run: AttackFn
    summary: str
    args: dict[str, tuple[str, ...]] | None = None  # extra server flags, per server
    nofile: int | None = None
    argv: Callable[[], list[str]] | None = None  # a whole command instead (PORT is replaced)
    sockweb_only: bool = False


ATTACKS: dict[str, Attack] = {
    "slowloris": Attack(slowloris.slowloris, "heads sent 1 byte/s, with a latency probe"),
    "slowbody": Attack(slowloris.slowbody, "request bodies that stall after 10 of 1000 bytes"),
    "slowread": Attack(slowread.slowread, "readers that never read, on four response shapes"),
    "fuzz": Attack(fuzz.fuzz, "mutated and random requests, one per connection"),
    "smuggling": Attack(smuggling.smuggling, "smuggling corpus sent straight to the server"),
    "smuggling-nginx": Attack(
        smuggling.smuggling_nginx, "smuggling corpus through nginx (keep-alive upstream)"
    ),
    # two workers: the os._exit fault must find a master to replace the worker
    "faults": Attack(faults.faults, "apps that break the WSGI contract", {"sockweb": ("--workers", "2")}),
    "fdlimit": Attack(fdlimit.fdlimit, "more connections than RLIMIT_NOFILE", nofile=fdlimit.NOFILE),
    "debugger": Attack(
        devtools.debugger, "--debug seen by non-local clients", {"sockweb": ("--debug",)}, sockweb_only=True
    ),
    "static": Attack(
        devtools.static, "dotfiles from `sockweb static`", argv=devtools.static_argv, sockweb_only=True
    ),
}


def run_attack(name: str, kind: str, quick: bool) -> Result:
    """Start a fresh `kind` server for attack `name`, run it, stop the server."""
    attack = ATTACKS[name]
    if attack.sockweb_only and kind != "sockweb":
        result = Result(name, kind)
        result.counts["n/a"] += 1
        return result
    extra = (attack.args or {}).get(kind, ())
    server = servers.start(kind, *extra, nofile=attack.nofile, argv=attack.argv() if attack.argv else None)
    with server:
        result = attack.run(server, quick)
        if not server.alive():
            result.counts["server-died"] += 1
    return result
