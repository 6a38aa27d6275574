"""App faults: apps that break the WSGI contract, one request each, then proof the server still serves.

Faults (apps.FAULTS): raise, return None, str items, a Content-Length longer or shorter than the body,
close() raising, start_response twice, raising mid-body, a malformed status, a header with CRLF in its
value, and os._exit in the worker. Each must end in a 500, or in a clean close (a truncated body) when
the head may already be out (ACCEPTED says which), must leave a line in the server's error log, must not leak bytes into the next
response on the same connection, and the server must answer an ordinary request afterwards (after a
worker exit: within 10 s, the time to replace the worker). Counts: ``ok``, and one count per way of
failing (``bad-answer``, ``unlogged``, ``hang``, ``followup-garbage``, ``not-served-after``); the notes
say what each fault got.
"""

from __future__ import annotations

import time

from .apps import FAULTS
from .servers import Server
from .wire import Closed, Result, Timeout, connect, probe, read_response

# The answers each fault may get. A fault the server sees before any byte of the response is out must
# get a 500; once the head may be out (a body that fails or lies about its length, a worker that dies),
# a close or a truncated body is the honest answer.
CLOSED = {"close", "reset", "truncated"}
ACCEPTED: dict[str, set[str]] = {name: {"500"} for name in FAULTS}
for _name in ("cl-long", "cl-short", "raise-in-body", "exit"):
    ACCEPTED[_name] |= CLOSED
ACCEPTED["cl-short"] |= {"200"}  # the 5 bytes promised, the rest dropped
ACCEPTED["close-raises"] |= {"200"}  # the response was whole before close() failed


def _hit(server: Server, fault: str) -> tuple[str, str]:
    """(answer, follow-up) for one fault: the follow-up is what a GET on the same connection got."""
    deadline = time.monotonic() + 5
    with connect(server.port) as sock:
        sock.sendall(f"GET /fault/{fault} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        buf = bytearray()
        try:
            response = read_response(sock, buf, deadline)
        except Timeout:
            return "hang", "-"
        except Closed as exc:
            return exc.outcome, "-"
        answer = str(response.status) if response.complete else "truncated"
        if not response.complete:
            return answer, "-"
        try:
            sock.sendall(b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            follow = read_response(sock, buf, time.monotonic() + 5)
        except (Closed, OSError):
            return answer, "closed"
        except Timeout:
            return answer, "hang"
        good = follow.status == 200 and follow.headers.get("x-path") == "/hello"
        return answer, "ok" if good else f"garbage({follow.status})"


def faults(server: Server, quick: bool) -> Result:
    result = Result("faults", server.kind)
    for fault in FAULTS:
        size = server.log_size()
        answer, follow = _hit(server, fault)
        deadline = time.monotonic() + (10 if fault == "exit" else 3)
        served = probe(server.port) is not None
        while not served and time.monotonic() < deadline:
            time.sleep(0.2)
            served = probe(server.port) is not None
        time.sleep(0.1)  # the log line of a fault may follow the response by a moment
        logged = server.log_size() > size
        failures = []
        if answer == "hang" or follow == "hang":
            failures.append("hang")
        elif answer not in ACCEPTED[fault]:
            failures.append("bad-answer")
        if follow.startswith("garbage"):
            failures.append("followup-garbage")
        if not logged:
            failures.append("unlogged")
        if not served:
            failures.append("not-served-after")
        for failure in failures:
            result.counts[failure] += 1
        result.counts["ok"] += not failures
        result.notes.append(
            f"{fault}: {answer}, next on same connection {follow}, {'logged' if logged else 'NOT logged'}"
            + ("" if served else ", server stopped answering")
        )
    return result
