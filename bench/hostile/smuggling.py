"""Request smuggling: the corpus (corpus.py) sent straight to the server, and through a real nginx.

Per payload the client sends the attack, then ``GET /follow-N`` on the same connection, and reads what
comes back. Every response names its path (``X-Path``), so a desync is visible from the client: a response
for ``/smuggled-N`` (the follow-up, or anything after the attack, got the hidden request's answer).
Counts are by the attack's first answer (status, close, reset, timeout) plus ``desync`` (must be 0).

Through nginx (the front; keep-alive HTTP/1.1 to the back end, as deployments run it), the check is the
back end's request log: nginx stamps each request it forwards with ``X-Request-Id`` and logs it, and every
request the app saw must carry an id nginx logged, with the same method and path. A request without one
is a request the front did not forward: ``unforwarded`` (must be 0).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from nginxproc import PACKAGE as NGINX_PACKAGE
from nginxproc import Nginx, find_nginx

from .corpus import CORPUS, Payload
from .servers import Server, free_port
from .wire import Closed, Result, Timeout, connect, read_response

DEADLINE = 2.5

NGINX_HTTP = """
    log_format hostile '$request_id\t$request_method\t$uri';
    access_log {prefix}/access.log hostile;
    upstream backend {{ server 127.0.0.1:{backend}; keepalive 8; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Request-Id $request_id;
        }}
    }}
"""


class Front:
    """nginx (tests/nginxproc.py) on a free 127.0.0.1 port before `backend_port`, in a temporary prefix."""

    def __init__(self, binary: str, backend_port: int) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="hostile-nginx-"))
        self.port = free_port()
        http = NGINX_HTTP.format(prefix=self.tmp, backend=backend_port, port=self.port)
        try:
            self.nginx = Nginx(binary, self.tmp, http, [self.port], worker_connections=512)
        except BaseException:
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise

    def forwarded(self) -> dict[str, tuple[str, str]]:
        """request id -> (method, path) of every request nginx logged."""
        log = self.tmp / "access.log"
        out = {}
        for line in log.read_text("latin-1").splitlines() if log.exists() else ():
            rid, method, path = [*line.split("\t"), "", ""][:3]
            out[rid] = (method, path)
        return out

    def stop(self) -> None:
        self.nginx.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


def attempt(port: int, payload: Payload) -> tuple[str, list[str]]:
    """Send `payload` then a follow-up; (outcome of the attack's first answer, X-Path of every answer)."""
    n = payload.smuggled.rsplit("-", 1)[1]
    follow = b"GET /follow-%s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % n.encode()
    deadline = time.monotonic() + DEADLINE
    paths: list[str] = []
    first = ""
    head_first = payload.raw.startswith(b"HEAD ")
    with connect(port, timeout=DEADLINE) as sock:
        try:
            sock.sendall(payload.raw)
            time.sleep(0.05)
            sock.sendall(follow)
        except OSError:
            pass
        buf = bytearray()
        try:
            while len(paths) < 4:
                response = read_response(sock, buf, deadline, head_only=head_first and not paths)
                if 100 <= response.status < 200:
                    continue
                paths.append(response.headers.get("x-path", f"<{response.status}>"))
                first = first or str(response.status)
        except Timeout:
            first = first or "timeout"
        except Closed as exc:
            first = first or exc.outcome
        except ValueError:  # a response framing this client cannot parse
            first = first or "unparsable"
    return first, paths


def _run(port: int, result: Result, seen: str) -> None:
    """Send the corpus to `port`; count first answers, and answers for a hidden request as `seen`."""
    with ThreadPoolExecutor(8) as pool:
        for payload, (first, paths) in zip(CORPUS, pool.map(lambda p: attempt(port, p), CORPUS), strict=True):
            result.counts[first] += 1
            if payload.smuggled in paths:
                result.counts[seen] += 1
                result.notes.append(f"{seen}: {payload.name} -> {paths}")
    result.counts[seen] += 0
    result.numbers["payloads"] = len(CORPUS)


def smuggling(server: Server, quick: bool) -> Result:
    """The corpus sent straight to the server."""
    result = Result("smuggling", server.kind)
    before = len(server.requests())
    _run(server.port, result, "desync")
    seen = {path for _, _, path in server.requests()[before:]}
    result.counts["backend-saw-smuggled"] += sum(p.smuggled in seen for p in CORPUS)
    return result


def smuggling_nginx(server: Server, quick: bool) -> Result:
    """The corpus sent to nginx in front of the server; the back end's log is checked against nginx's."""
    result = Result("smuggling-nginx", server.kind)
    binary = find_nginx()
    if binary is None:
        result.notes.append(f"nginx is not installed (Debian package {NGINX_PACKAGE})")
        result.counts["skipped"] += 1
        return result
    before = len(server.requests())
    nginx = Front(binary, server.port)
    try:
        # nginx answering a hidden request is nginx's own reading of the bytes, and it forwards that
        # request stamped like any other: counted, but the back end's log is the desync check here
        _run(nginx.port, result, "front-split")
        time.sleep(0.5)  # nginx writes its access log line after the response
        forwarded = nginx.forwarded()
    finally:
        nginx.stop()
    unforwarded = 0
    ids: set[str] = set()
    for rid, method, path in server.requests()[before:]:
        if forwarded.get(rid) != (method, path) or rid in ids:
            unforwarded += 1
            result.notes.append(f"unforwarded: {rid} {method} {path}")
        ids.add(rid)
    result.counts["unforwarded"] += unforwarded
    result.numbers["backend_requests"] = len(server.requests()) - before
    return result
