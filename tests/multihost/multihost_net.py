"""A small network of "hosts" on this machine: one network namespace per host, all on one bridge.

The bridge lives in a namespace of its own (the switch), and each veth pair is created with its two ends
already in their namespaces (``ip link add eth0 netns HOST type veth peer name P netns SWITCH``), so the
machine's own namespace never sees an interface, an address or a route of the test. The addresses
(10.231.0.0/24) exist only inside these namespaces. Namespace names carry the creating process's pid:
:meth:`Lab.sweep` removes the namespaces a killed earlier run left behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

PREFIX = "sockweb-mh-"
SUBNET = "10.231.0"


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=15)


class Lab:
    """Namespaces ``PREFIX<pid>-<host>`` joined by a bridge; processes started in them are tracked."""

    def __init__(self, hosts: dict[str, int]) -> None:
        self.tag = f"{PREFIX}{os.getpid()}-"
        self.hosts = hosts  # host name -> last byte of its address
        self.switch = self.tag + "switch"
        self.procs: list[subprocess.Popen[bytes]] = []
        self.created: list[str] = []

    def ns(self, host: str) -> str:
        return self.tag + host

    def addr(self, host: str) -> str:
        return f"{SUBNET}.{self.hosts[host]}"

    @staticmethod
    def sweep() -> None:
        """Delete the namespaces of earlier runs whose process is gone (a run killed before its teardown)."""
        listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=15).stdout
        for line in listing.splitlines():
            name = line.split()[0] if line.split() else ""
            if not name.startswith(PREFIX):
                continue
            pid = name[len(PREFIX) :].partition("-")[0]
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                with contextlib.suppress(subprocess.CalledProcessError):
                    ip("netns", "del", name)

    def build(self) -> None:
        for name in (self.switch, *(self.ns(h) for h in self.hosts)):
            ip("netns", "add", name)
            self.created.append(name)
            ip("-n", name, "link", "set", "lo", "up")
        ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        ip("-n", self.switch, "link", "set", "br0", "up")
        for host in self.hosts:
            port = f"p-{host}"[:15]
            ip(
                "link",
                "add",
                "eth0",
                "netns",
                self.ns(host),
                "type",
                "veth",
                "peer",
                "name",
                port,
                "netns",
                self.switch,
            )
            ip("-n", self.switch, "link", "set", port, "master", "br0", "up")
            ip("-n", self.ns(host), "addr", "add", f"{self.addr(host)}/24", "dev", "eth0")
            ip("-n", self.ns(host), "link", "set", "eth0", "up")

    def start(
        self, host: str, argv: Sequence[str], log: Path, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Run ``argv`` in ``host``'s namespace, in a session of its own (its pid is the program's: ``ip
        netns exec`` execs it), with stdout and stderr to ``log``."""
        with log.open("ab") as out:
            proc = subprocess.Popen(
                ["ip", "netns", "exec", self.ns(host), *argv],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        self.procs.append(proc)
        return proc

    def run(self, host: str, argv: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", self.ns(host), *argv], capture_output=True, text=True, timeout=timeout
        )

    def teardown(self) -> None:
        """Kill every process group started here (a killed master's orphans too), then drop the namespaces."""
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)
        # A namespace outlives its name while a process is still in it: give the killed ones a moment.
        time.sleep(0.1)
        for name in reversed(self.created):
            with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
                ip("netns", "del", name)
        self.created.clear()
