"""The ``--metrics-bind`` listener: /metrics, /status, /status.json, /healthz and /readyz.

Strategy: one small non-blocking HTTP/1.1 server (`StatusServer`, one request per connection) driven by
``select``, so it can live where the numbers are without an event loop of its own:

* with ``--workers N`` it runs *inside the arbiter's loop*: the master adds the listener's descriptors
  to the ``select`` it already sleeps in, and reads each worker's `StatsBlock` (numbers the worker
  copies to shared memory once a second) when scraped. No thread in the master: it forks, and a thread
  holding a lock (logging's, say) at the fork would leave the child deadlocked on it;
* in one process it runs in a daemon thread of its own, reading the live numbers (copies of ints and
  lists; nothing is iterated while the loop changes it), so it still answers -- /healthz false -- when
  an application blocks the loop.

Request heads are parsed by sockweb.http (the same rules as the application's listener); the answer
closes the connection. Each connection has `DEADLINE` seconds and `MAX_HEAD` bytes for its request,
and at most `MAX_CONNECTIONS` are open, so a client cannot hold the master.

The data comes from a `Source`: `LocalSource` (one process) or the arbiter's `ArbiterSource`.
"""

from __future__ import annotations

import contextlib
import errno
import html
import json
import logging
import select
import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from sockweb.http import Limits, ProtocolError, Request, RequestParser
from sockweb.server.dispatch import leave_signals_to_the_main_thread
from sockweb.server.metrics import CONTENT_TYPE, View, master_view, render_prometheus

if TYPE_CHECKING:
    from sockweb.server.arbiter import Arbiter
    from sockweb.server.metrics import Metrics
    from sockweb.server.workers import Worker

__all__ = [
    "ArbiterStatus",
    "LocalSource",
    "Source",
    "StatusServer",
    "bind_status",
    "render_status_html",
    "status_document",
]

log = logging.getLogger("sockweb.error")

DEADLINE = 5.0
MAX_HEAD = 8192
MAX_CONNECTIONS = 32
_LIMITS = Limits(max_request_line=4096, max_header_count=50, max_field_size=4096, max_head_size=MAX_HEAD)


class Source(Protocol):
    """What the listener reads: the processes' numbers, and the health and readiness verdicts."""

    def views(self) -> list[View]:
        """One view per serving process (worker), its label the worker slot."""
        ...

    def retired(self) -> list[int]:
        """Counters of workers that are gone (kept so totals never drop)."""
        ...

    def master(self) -> View | None: ...

    def restarts(self) -> dict[str, int] | None: ...

    def health(self) -> tuple[bool, dict[str, Any]]:
        """(alive, details): the process and its loop(s) are alive."""
        ...

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        """(ready, details): the app is loaded and accepting, and no stop has begun."""
        ...


class LocalSource:
    """One process: its own live numbers; ready while serving and not draining."""

    def __init__(
        self,
        metrics: Metrics,
        ready: Callable[[], bool],
        last_tick: Callable[[], float],
        timeout: float,
        accepting: Callable[[], bool] | None = None,
    ) -> None:
        self.metrics = metrics
        self._ready = ready
        self._accepting = accepting or ready  # differs from `ready` during --drain-delay
        self._last_tick = last_tick
        self.timeout = timeout

    def views(self) -> list[View]:
        return [self.metrics.view("0")]

    def retired(self) -> list[int]:
        return []

    def master(self) -> View | None:
        return None

    def restarts(self) -> dict[str, int] | None:
        return None

    def health(self) -> tuple[bool, dict[str, Any]]:
        silent = time.monotonic() - self._last_tick()
        return silent <= self.timeout, {"loop_silent_seconds": round(silent, 3)}

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        ready = self._ready()
        return ready, {"accepting": self._accepting()}


# -- pages ----------------------------------------------------------------------------------------------


def status_document(source: Source) -> dict[str, Any]:
    """The /status.json document: health, readiness, and per worker its pid, age, counts and details."""
    alive, health = source.health()
    ready, readiness = source.readiness()
    now = time.time()
    workers = []
    for v in source.views():
        g = v.gauges
        workers.append(
            {
                "worker": v.label,
                "pid": g["pid"],
                "age_seconds": round(now - g["start_time_us"] / 1e6, 1),
                "requests": v.served,
                "in_flight": g["in_flight"],
                "connections": g["connections_open"],
                "idle_connections": g["connections_idle"],
                "threads": g["threads"],
                "thread_queue": g["thread_queue"],
                "slowest": v.details.get("slow", []),
                "errors": v.details.get("errors", []),
            }
        )
    return {
        "time": now,
        "healthy": alive,
        "ready": ready,
        "health": health,
        "readiness": readiness,
        "restarts": source.restarts(),
        "workers": workers,
    }


# The page draws itself from /status.json every 2 s (textContent only: paths are client input); the
# server-rendered body is the same table, for a first paint and for clients without JavaScript.
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sockweb status</title>
<noscript><meta http-equiv="refresh" content="5"></noscript>
<style>
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
th{background:#f3f3f3}.bad{color:#b00}.ok{color:#070}
</style></head>
<body data-updated="0"><h1>sockweb status</h1><div id="content">%s</div>
<script>
"use strict";
function el(tag, text, cls) {
  var e = document.createElement(tag);
  if (text !== undefined) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}
function table(head, rows) {
  var t = el("table"), tr = el("tr");
  head.forEach(function (h) { tr.appendChild(el("th", h)); });
  t.appendChild(tr);
  rows.forEach(function (r) {
    var row = el("tr");
    r.forEach(function (c) { row.appendChild(el("td", c)); });
    t.appendChild(row);
  });
  return t;
}
function draw(doc) {
  var c = el("div");
  var p = el("p");
  p.appendChild(el("span", doc.healthy ? "healthy" : "NOT HEALTHY", doc.healthy ? "ok" : "bad"));
  p.appendChild(document.createTextNode(" \\u00b7 "));
  p.appendChild(el("span", doc.ready ? "ready" : "NOT READY", doc.ready ? "ok" : "bad"));
  c.appendChild(p);
  c.appendChild(table(["worker", "pid", "age (s)", "requests", "in flight", "connections", "idle",
                       "threads", "queued"],
    doc.workers.map(function (w) {
      return [w.worker, w.pid, w.age_seconds, w.requests, w.in_flight, w.connections,
              w.idle_connections, w.threads, w.thread_queue];
    })));
  var slow = [], errors = [];
  doc.workers.forEach(function (w) {
    w.slowest.forEach(function (s) { slow.push([w.worker, s.method, s.path, s.seconds, s.layer]); });
    w.errors.forEach(function (e) {
      errors.push([w.worker, new Date(e.time * 1000).toISOString(), e.status, e.message]);
    });
  });
  c.appendChild(el("h2", "Slowest requests running"));
  c.appendChild(table(["worker", "method", "path", "seconds", "layer"], slow));
  c.appendChild(el("h2", "Last errors"));
  c.appendChild(table(["worker", "time", "status", "what"], errors));
  var content = document.getElementById("content");
  content.replaceChildren(c);
  document.body.dataset.updated = String(Number(document.body.dataset.updated) + 1);
}
function refresh() {
  fetch("status.json", {cache: "no-store"}).then(function (r) { return r.json(); })
    .then(draw).catch(function () {}).then(function () { setTimeout(refresh, 2000); });
}
refresh();
</script></body></html>
"""


def _html_table(head: list[str], rows: list[list[Any]]) -> str:
    cells = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{cells}</tr>{body}</table>"


def render_status_html(doc: dict[str, Any]) -> str:
    """The status page, its first paint rendered here (the script keeps it fresh)."""
    workers = doc["workers"]
    rows = [
        [w["worker"], w["pid"], w["age_seconds"], w["requests"], w["in_flight"], w["connections"],
         w["idle_connections"], w["threads"], w["thread_queue"]]
        for w in workers
    ]  # fmt: skip
    slow = [
        [w["worker"], s["method"], s["path"], s["seconds"], s["layer"]] for w in workers for s in w["slowest"]
    ]
    errors = [
        [w["worker"], time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(e["time"])), e["status"], e["message"]]
        for w in workers
        for e in w["errors"]
    ]
    verdict = (
        f"<p>{'healthy' if doc['healthy'] else 'NOT HEALTHY'} &middot; "
        f"{'ready' if doc['ready'] else 'NOT READY'}</p>"
    )
    content = (
        verdict
        + _html_table(
            ["worker", "pid", "age (s)", "requests", "in flight", "connections", "idle", "threads", "queued"],
            rows,
        )
        + "<h2>Slowest requests running</h2>"
        + _html_table(["worker", "method", "path", "seconds", "layer"], slow)
        + "<h2>Last errors</h2>"
        + _html_table(["worker", "time", "status", "what"], errors)
    )
    return _PAGE % content


# -- the listener ---------------------------------------------------------------------------------------

_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    503: "Service Unavailable",
}


def _response(status: int, content_type: str, body: bytes, head_only: bool = False) -> bytes:
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Cache-Control: no-store\r\n"
        "Connection: close\r\n\r\n"
    ).encode("ascii")
    return head if head_only else head + body


def _json(status: int, doc: object) -> tuple[int, str, bytes]:
    return status, "application/json", json.dumps(doc, indent=1).encode() + b"\n"


class _Client:
    __slots__ = ("deadline", "out", "parser", "sock")

    def __init__(self, sock: socket.socket, now: float) -> None:
        self.sock = sock
        self.parser = RequestParser(_LIMITS)
        self.out = b""
        self.deadline = now + DEADLINE


class StatusServer:
    """The listener: `poll` it from a select loop (`readers`/`writers`/`handle`) or `start` a thread."""

    def __init__(self, sock: socket.socket, source: Source) -> None:
        sock.setblocking(False)
        self.sock = sock
        self.source = source
        self.clients: dict[int, _Client] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- select integration -------------------------------------------------------------------------
    def readers(self) -> list[int]:
        waiting = [fd for fd, c in self.clients.items() if not c.out]
        return [self.sock.fileno(), *waiting] if len(self.clients) < MAX_CONNECTIONS else waiting

    def writers(self) -> list[int]:
        return [fd for fd, c in self.clients.items() if c.out]

    def fds(self) -> list[int]:
        """Every descriptor it holds (a forked worker closes them)."""
        return [self.sock.fileno(), *self.clients]

    def handle(self, readable: list[int], writable: list[int]) -> None:
        """Act on what select found ready; never raises (a scrape must not stop the master)."""
        try:
            self._handle(readable, writable)
        except Exception:
            log.exception("Error in the metrics listener")

    def _handle(self, readable: list[int], writable: list[int]) -> None:
        now = time.monotonic()
        listen = self.sock.fileno()
        for fd in readable:
            if fd == listen:
                self._accept(now)
            elif fd in self.clients:
                self._read(self.clients[fd])
        for fd in writable:
            client = self.clients.get(fd)
            if client is not None:
                self._write(client)
        for client in list(self.clients.values()):
            if now > client.deadline:
                self._close(client)

    def _accept(self, now: float) -> None:
        for _ in range(16):
            try:
                conn, _ = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    return
                raise
            conn.setblocking(False)
            self.clients[conn.fileno()] = _Client(conn, now)
            if len(self.clients) >= MAX_CONNECTIONS:
                return

    def _read(self, client: _Client) -> None:
        try:
            data = client.sock.recv(MAX_HEAD)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close(client)
            return
        if not data:
            self._close(client)
            return
        try:
            client.parser.feed(data)
            event = client.parser.reader()
        except ProtocolError as exc:
            client.out = _response(exc.status, "text/plain", f"{exc}\n".encode())
        else:
            if type(event) is not Request:
                return  # the head is not complete yet
            client.out = self.answer(event)
        self._write(client)

    def _write(self, client: _Client) -> None:
        try:
            sent = client.sock.send(client.out)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close(client)
            return
        client.out = client.out[sent:]
        if not client.out:
            self._close(client)

    def _close(self, client: _Client) -> None:
        self.clients.pop(client.sock.fileno(), None)
        with contextlib.suppress(OSError):
            client.sock.close()

    def answer(self, req: Request) -> bytes:
        """The whole response to `req`."""
        head_only = req.method == "HEAD"
        if req.method not in ("GET", "HEAD"):
            return _response(405, "text/plain", b"GET or HEAD only\n")
        path = req.target.split(b"?", 1)[0].decode("latin-1")
        route = self.routes.get(path)
        if route is None:
            return _response(404, "text/plain", b"/metrics /status /status.json /healthz /readyz\n")
        status, content_type, body = route(self)
        return _response(status, content_type, body, head_only)

    def metrics(self) -> tuple[int, str, bytes]:
        s = self.source
        return 200, CONTENT_TYPE, render_prometheus(s.views(), s.retired(), s.master(), s.restarts()).encode()

    def status_json(self) -> tuple[int, str, bytes]:
        return _json(200, status_document(self.source))

    def status_html(self) -> tuple[int, str, bytes]:
        return 200, "text/html; charset=utf-8", render_status_html(status_document(self.source)).encode()

    def healthz(self) -> tuple[int, str, bytes]:
        alive, details = self.source.health()
        return _json(200 if alive else 503, {"healthy": alive, **details})

    def readyz(self) -> tuple[int, str, bytes]:
        ready, details = self.source.readiness()
        return _json(200 if ready else 503, {"ready": ready, **details})

    routes: dict[str, Callable[[StatusServer], tuple[int, str, bytes]]] = {
        "/metrics": metrics,
        "/status": status_html,
        "/status.json": status_json,
        "/healthz": healthz,
        "/readyz": readyz,
    }

    # -- a thread of its own (single process) -------------------------------------------------------
    def poll(self, timeout: float) -> None:
        try:
            readable, writable, _ = select.select(self.readers(), self.writers(), [], timeout)
        except (InterruptedError, OSError, ValueError):
            return
        self.handle(readable, writable)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="sockweb-status", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        leave_signals_to_the_main_thread()
        while not self._stop.is_set():
            self.poll(0.5)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
        for client in list(self.clients.values()):
            self._close(client)
        with contextlib.suppress(OSError):
            self.sock.close()


def bind_status(address: str) -> socket.socket:
    """The listening socket of ``--metrics-bind`` (not inherited across exec: a re-executed image binds
    its own); raises BindError with a one-line message."""
    from sockweb.server.binds import bind_socket, describe, parse_bind

    sock = bind_socket(parse_bind(address), backlog=64)
    sock.set_inheritable(False)
    log.info("Metrics and status at http://%s/metrics", describe(sock))
    return sock


class ArbiterStatus:
    """The master's side (``--workers N``): the listener in the arbiter's select loop, the numbers of the
    workers read from their shared blocks, those of dead workers kept, restarts by cause, and statsd."""

    def __init__(self, arbiter: Arbiter, sock: socket.socket | None) -> None:
        from sockweb.server.metrics import N_COUNTERS, RESTART_CAUSES, StatsdPusher

        self.arbiter = arbiter
        self.started = time.time()
        self.retired_counters = [0] * N_COUNTERS
        self.restart_counts = dict.fromkeys(RESTART_CAUSES, 0)
        self.server = StatusServer(sock, self) if sock is not None else None
        config = arbiter.config
        self.statsd = StatsdPusher(config) if config.statsd_host else None
        self.next_push = 0.0

    # -- the arbiter's loop -------------------------------------------------------------------------
    def readers(self) -> list[int]:
        return self.server.readers() if self.server is not None else []

    def writers(self) -> list[int]:
        return self.server.writers() if self.server is not None else []

    def fds(self) -> list[int]:
        return self.server.fds() if self.server is not None else []

    def handle(self, readable: list[int], writable: list[int]) -> None:
        if self.server is not None and (readable or writable or self.server.clients):
            self.server.handle(readable, writable)

    def tick(self) -> None:
        now = time.monotonic()
        if self.statsd is not None and now >= self.next_push:
            self.next_push = now + 1.0
            try:
                self.statsd.push(self.views(), self.retired_counters)
            except Exception:
                log.exception("Error pushing to statsd")

    def retire(self, worker: Worker) -> None:
        """`worker` is gone: keep its last counters in the totals."""
        from sockweb.server.metrics import N_COUNTERS, StatsBlock

        mem = worker.heartbeat.stats if worker.heartbeat is not None else None
        read = StatsBlock.read(mem) if mem is not None else None
        if read is not None:
            for i, value in enumerate(read[0][:N_COUNTERS]):
                self.retired_counters[i] += value

    def died(self, worker: Worker, code: int) -> None:
        """`worker` exited without being asked to: count the restart by its cause."""
        if worker.aborted_at is not None:
            cause = "timeout"
        elif code < 0:
            cause = "signal"
        elif code == 0:
            cause = "recycled"  # --max-requests, or its master went away
        else:
            cause = "error"
        self.restart_counts[cause] += 1

    def close(self) -> None:
        if self.server is not None:
            self.server.close()

    # -- Source ----------------------------------------------------------------------------------------
    def views(self) -> list[View]:
        from sockweb.server.metrics import GAUGES, N_COUNTERS, StatsBlock

        arbiter = self.arbiter
        out = []
        for w in sorted(arbiter.workers.values(), key=lambda w: (w.slot, w.generation)):
            mem = w.heartbeat.stats if w.heartbeat is not None else None
            read = StatsBlock.read(mem) if mem is not None else None
            if read is None:
                continue
            values, details = read
            # During a rolling reload two workers share a slot: the older one is labelled SLOT.GENERATION.
            label = str(w.slot) if w.generation == arbiter.generation else f"{w.slot}.{w.generation}"
            gauges = dict(zip(GAUGES, values[N_COUNTERS:], strict=True))
            out.append(View(label, values[:N_COUNTERS], gauges, details))
        return out

    def retired(self) -> list[int]:
        return self.retired_counters

    def master(self) -> View | None:
        return master_view(self.started)

    def restarts(self) -> dict[str, int] | None:
        return dict(self.restart_counts)

    def health(self) -> tuple[bool, dict[str, Any]]:
        now = time.monotonic()
        timeout = self.arbiter.config.timeout
        ready = [w for w in self.arbiter.workers.values() if w.ready and w.heartbeat is not None]
        silent = {str(w.pid): round(w.silent_for(now), 3) for w in ready}
        # The master answers, so its loop runs; the server is dead only if every serving worker is stuck
        # (one stuck worker is replaced by the master after --timeout).
        alive = not ready or any(s <= timeout for s in silent.values())
        return alive, {"worker_silent_seconds": silent}

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        arbiter = self.arbiter
        current = [w for w in arbiter.workers.values() if w.generation == arbiter.generation]
        up = sum(1 for w in current if w.ready and w.stop_deadline is None)
        stopping = arbiter.stop_mode is not None
        details: dict[str, Any] = {"stopping": stopping, "workers_ready": up, "workers": arbiter.target}
        if arbiter.drain_until is not None:  # --drain-delay: still accepting for this long
            details["drain_delay_left"] = round(max(0.0, arbiter.drain_until - time.monotonic()), 3)
        return (up > 0 and not stopping), details
