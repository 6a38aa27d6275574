"""The client host of the multi-host test: it runs inside the client's network namespace (stdlib only).

    python multihost_client.py wait HOST PORT [--http]     until HOST:PORT accepts (and answers GET /)
    python multihost_client.py load BASE CONTROL_DIR       shorten and follow until CONTROL_DIR/stop exists
    python multihost_client.py verify BASE CONTROL_DIR     follow every acknowledged link once more

``load`` runs a few threads, each on its own keep-alive connection to the load balancer. A thread
shortens a fresh URL (``POST /``; acknowledged = a 303 to ``/<id>+``), then follows one of the links it
was acknowledged (``GET /<id>``: a 302 to the stored URL), and pauses briefly: a steady load, not a
benchmark. Every answer that is not the expected one, and every connection error, is a failure, recorded
with its ``time.monotonic()`` (the clock is the machine's, shared with the test process, so the test can
tell which failures fell into which phase). A shorten that failed after it may have been applied (a 502
after the request was sent) is not acknowledged: the client cannot know whether the link exists, and the
test does not ask for it.

The results go to CONTROL_DIR/load.json and CONTROL_DIR/verify.json.
"""

from __future__ import annotations

import http.client
import json
import random
import re
import socket
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

THREADS = 4
PAUSE = 0.02  # seconds between one thread's shorten+follow rounds
TIMEOUT = 20.0  # per request: longer than nginx's own upstream timeouts
DETAILS = re.compile(r"^/([A-Za-z0-9_-]+)\+$")


class Client:
    """One keep-alive connection to the load balancer, reopened after any error."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, str]:
        """(status, Location) of one request; raises OSError / HTTPException, after closing the connection."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT)
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if body is not None else {}
        try:
            self.conn.request(method, path, body=body, headers=headers)
            resp = self.conn.getresponse()
            resp.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        if resp.will_close:
            self.close()
        return resp.status, resp.getheader("Location", "")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Load:
    def __init__(self, base: str, control: Path) -> None:
        parts = urlsplit(base)
        self.host, self.port = parts.hostname or "", parts.port or 80
        self.control = control
        self.lock = threading.Lock()
        self.sent = {"shorten": 0, "follow": 0}
        self.acked: dict[str, str] = {}  # short id -> URL
        self.failures: list[dict[str, object]] = []

    def fail(self, kind: str, what: str) -> None:
        with self.lock:
            self.failures.append({"t": time.monotonic(), "kind": kind, "what": what})

    def run_thread(self, index: int) -> None:
        client = Client(self.host, self.port)
        mine: list[tuple[str, str]] = []
        n = 0
        while not (self.control / "stop").exists():
            n += 1
            url = f"https://example.com/{index}/{n}/{random.getrandbits(32):08x}"
            with self.lock:
                self.sent["shorten"] += 1
            try:
                status, location = client.request("POST", "/", urlencode({"url": url}))
            except (OSError, http.client.HTTPException) as exc:
                self.fail("shorten", repr(exc))
            else:
                match = DETAILS.match(urlsplit(location).path)
                if status == 303 and match:
                    mine.append((match.group(1), url))
                    with self.lock:
                        self.acked[match.group(1)] = url
                else:
                    self.fail("shorten", f"status {status} Location {location!r}")
            if mine:
                short_id, url = random.choice(mine)
                with self.lock:
                    self.sent["follow"] += 1
                try:
                    status, location = client.request("GET", f"/{short_id}")
                except (OSError, http.client.HTTPException) as exc:
                    self.fail("follow", repr(exc))
                else:
                    if (status, location) != (302, url):
                        self.fail("follow", f"{short_id}: status {status} Location {location!r}")
            time.sleep(PAUSE)
        client.close()

    def run(self) -> None:
        threads = [threading.Thread(target=self.run_thread, args=(i,)) for i in range(THREADS)]
        for thread in threads:
            thread.start()
        (self.control / "running").touch()
        for thread in threads:
            thread.join()
        result = {"sent": self.sent, "acked": self.acked, "failures": self.failures}
        (self.control / "load.json").write_text(json.dumps(result))


def verify(base: str, control: Path) -> None:
    """Follow every acknowledged link through the load balancer; write what did not come back right."""
    parts = urlsplit(base)
    acked: dict[str, str] = json.loads((control / "load.json").read_text())["acked"]
    client = Client(parts.hostname or "", parts.port or 80)
    wrong: dict[str, str] = {}
    for short_id, url in acked.items():
        try:
            status, location = client.request("GET", f"/{short_id}")
        except (OSError, http.client.HTTPException) as exc:
            wrong[short_id] = repr(exc)
            continue
        if (status, location) != (302, url):
            wrong[short_id] = f"status {status} Location {location!r}, expected {url!r}"
    client.close()
    (control / "verify.json").write_text(json.dumps({"checked": len(acked), "wrong": wrong}))


def wait(host: str, port: int, http_get: bool, timeout: float = 30.0) -> int:
    """0 once ``host:port`` accepts a connection (and, with ``http_get``, answers GET / with 200)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if not http_get:
                socket.create_connection((host, port), timeout=1).close()
                return 0
            status, _ = Client(host, port).request("GET", "/")
            if status == 200:
                return 0
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.1)
    print(f"{host}:{port} did not answer within {timeout:.0f} s", file=sys.stderr)
    return 1


def main(argv: list[str]) -> int:
    command = argv[0]
    if command == "wait":
        return wait(argv[1], int(argv[2]), "--http" in argv[3:])
    if command == "load":
        Load(argv[1], Path(argv[2])).run()
        return 0
    if command == "verify":
        verify(argv[1], Path(argv[2]))
        return 0
    print(f"unknown command {command!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
