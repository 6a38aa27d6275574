"""A real nginx for the tests and the hostile bench: found, configured, run on 127.0.0.1, stopped.

Every file nginx writes (its config, pid, error log, temporary bodies) lives under one prefix directory
the caller owns, so runs side by side never meet; the caller writes only the inside of ``http { }``.
nginx runs in the foreground in its own session, and `Nginx.stop` ends it (TERM, then KILL after 10 s).
No pytest here: bench/hostile imports this module too. The ``nginx_binary`` fixture of tests/conftest.py
turns a missing nginx into a skip (a failure under CI, which installs the Debian package nginx-light).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

PACKAGE = "nginx-light"

_CONF = """
{user}
worker_processes 1;
error_log {prefix}/error.log warn;
pid {prefix}/nginx.pid;
events {{ worker_connections {worker_connections}; }}
http {{
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
{http}
}}
"""


def find_nginx() -> str | None:
    """The nginx program on PATH, or Debian's /usr/sbin/nginx (not on a normal user's PATH); None without."""
    return shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)


def nginx_conf(prefix: Path, http: str, worker_connections: int = 64) -> str:
    """A whole nginx.conf around ``http`` (the inside of ``http { }``), every file it names under ``prefix``."""
    # As root, nginx's workers would run as "nobody" and could not read a test's private directory.
    user = "user root;" if os.geteuid() == 0 else ""
    return _CONF.format(user=user, prefix=prefix, worker_connections=worker_connections, http=http)


def nginx_argv(binary: str, prefix: Path) -> list[str]:
    """The command that runs nginx in the foreground with ``prefix/nginx.conf``."""
    return [binary, "-c", str(prefix / "nginx.conf"), "-p", str(prefix), "-g", "daemon off;"]


class Nginx:
    """nginx with ``nginx_conf(prefix, http)``, started and listening on every port of ``ports`` (127.0.0.1)."""

    def __init__(
        self, binary: str, prefix: Path, http: str, ports: Sequence[int], worker_connections: int = 64
    ) -> None:
        self.prefix = prefix
        self.error_log = prefix / "error.log"
        (prefix / "nginx.conf").write_text(nginx_conf(prefix, http, worker_connections))
        self.proc = subprocess.Popen(
            nginx_argv(binary, prefix),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            self._wait_listening(ports, 15.0)
        except BaseException:
            self.stop()
            raise

    def _wait_listening(self, ports: Sequence[int], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                log = self.error_log.read_text(errors="replace") if self.error_log.exists() else ""
                raise RuntimeError(f"nginx exited: {err}{log}")
            try:
                for port in ports:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"nginx did not listen on {list(ports)} in {timeout:g} s") from None
                time.sleep(0.05)

    def stop(self) -> None:
        """End nginx and its workers (TERM, then KILL to the whole session)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        if self.proc.stderr:
            self.proc.stderr.close()
