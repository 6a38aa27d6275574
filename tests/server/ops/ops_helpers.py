"""Helpers for the operations tests: waiting, process trees, a server handle, a load generator, nginx in front."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import ssl
import threading
import time
from collections.abc import Callable
from pathlib import Path

import trustme

from nginxproc import Nginx
from serverproc import ServerHandle

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(predicate: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def children(pid: int) -> set[int]:
    """Pids of the live (not zombie) children of ``pid``."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(entry.name))
    return found


class Server(ServerHandle):
    """One ``sockweb serve`` subprocess in its own session (the master and its workers)."""

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_for_log(self, pattern: str, timeout: float = 15.0, count: int = 1) -> None:
        wait_until(lambda: len(re.findall(pattern, self.log())) >= count, timeout, f"{pattern!r} in log:\n")

    def get(
        self, path: str = "/", timeout: float = 10.0, headers: dict[str, str] | None = None
    ) -> dict[str, str]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request("GET", path, headers=headers or {})
            resp = conn.getresponse()
            body = resp.read()
            assert resp.status == 200, (resp.status, body)
            data: dict[str, str] = json.loads(body)
            return data
        finally:
            conn.close()

    def workers(self) -> set[int]:
        return children(self.pid)

    def send(self, sig: int) -> None:
        os.kill(self.pid, sig)

    def kill(self) -> None:
        """SIGKILL the whole session, workers included, and reap the master."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(5)


METRICS_AT = r"Metrics and status at http://127\.0\.0\.1:(\d+)/metrics"


def metrics_port(server: Server) -> int:
    """The port of the metrics listener ``--metrics-bind 127.0.0.1:0`` opened, read from the log."""
    server.wait_for_log(METRICS_AT)
    match = re.search(METRICS_AT, server.log())
    assert match is not None
    return int(match.group(1))


def slow_get(server: Server, seconds: float, results: list[object]) -> None:
    """GET ``/slow?SECONDS`` (opsapp sleeps that long); append its status, or the error, to ``results``."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
    try:
        conn.request("GET", f"/slow?{seconds}")
        resp = conn.getresponse()
        resp.read()
        results.append(resp.status)
    except (OSError, http.client.HTTPException) as exc:
        results.append(repr(exc))
    finally:
        conn.close()


class Load:
    """A bounded load generator: threads sending GETs (one connection each) until stopped."""

    def __init__(self, host: str, port: int, threads: int = 4, path: str = "/") -> None:
        self.host, self.port, self.path = host, port, path
        self.ok = 0
        self.failures: list[str] = []
        self.pids: set[int] = set()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self) -> None:
        while not self._stop.is_set():
            conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
            try:
                conn.request("GET", self.path, headers={"Connection": "close"})
                resp = conn.getresponse()
                body = resp.read()
                with self._lock:
                    if resp.status == 200:
                        self.ok += 1
                        self.pids.add(json.loads(body)["pid"])
                    else:
                        self.failures.append(f"status {resp.status}")
            except (OSError, http.client.HTTPException) as exc:
                with self._lock:
                    self.failures.append(repr(exc))
            finally:
                conn.close()

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(15)

    def wait_for(self, count: int, timeout: float = 15.0) -> None:
        start = self.ok
        wait_until(lambda: self.ok >= start + count, timeout, f"{count} more requests")


class NginxFront:
    """nginx on two fresh ports of 127.0.0.1, plain and TLS (a certificate for 127.0.0.1), before `upstreams`.

    ``locations`` are the ``location`` blocks of its one server. Requests come from 127.0.0.2, an address
    neither nginx's configuration nor sockweb's default trust list names.
    """

    CLIENT = "127.0.0.2"

    def __init__(self, binary: str, tmp: Path, upstreams: str, locations: str) -> None:
        self.ca = trustme.CA()
        cert = self.ca.issue_cert("127.0.0.1", "localhost")
        cert.cert_chain_pems[0].write_to_path(tmp / "cert.pem")
        cert.private_key_pem.write_to_path(tmp / "key.pem")
        self.plain, self.tls = free_port(), free_port()
        http = f"""
    access_log off;
    {upstreams}
    server {{
        listen 127.0.0.1:{self.plain};
        listen 127.0.0.1:{self.tls} ssl;
        ssl_certificate {tmp}/cert.pem;
        ssl_certificate_key {tmp}/key.pem;
        {locations}
    }}
"""
        self.nginx = Nginx(binary, tmp, http, (self.plain, self.tls))
        self.error_log = self.nginx.error_log

    def port(self, tls: bool) -> int:
        return self.tls if tls else self.plain

    def get(
        self, path: str = "/", tls: bool = False, headers: dict[str, str] | None = None
    ) -> dict[str, object]:
        """GET ``path`` from the client address; the JSON body of the 200 the application answered."""
        conn: http.client.HTTPConnection
        if tls:
            context = ssl.create_default_context()
            self.ca.configure_trust(context)
            conn = http.client.HTTPSConnection(
                "127.0.0.1", self.tls, context=context, timeout=10, source_address=(self.CLIENT, 0)
            )
        else:
            conn = http.client.HTTPConnection(
                "127.0.0.1", self.plain, timeout=10, source_address=(self.CLIENT, 0)
            )
        try:
            conn.request("GET", path, headers=headers or {})
            resp = conn.getresponse()
            body = resp.read()
            assert resp.status == 200, (resp.status, body, self.error_log.read_text())
            data: dict[str, object] = json.loads(body)
            return data
        finally:
            conn.close()

    def stop(self) -> None:
        self.nginx.stop()
