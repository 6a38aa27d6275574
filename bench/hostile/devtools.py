"""Development tools exposed to the wrong client: the debugger's pages, and dotfiles from `sockweb static`.

debugger: the fixture app runs under ``sockweb serve --debug``; /fault/raise fails. A loopback client may
see the traceback page (that is the tool); a client that is not local must not, whether it really comes
from elsewhere (here: through a trusted proxy, ``X-Forwarded-For: 203.0.113.9``) or claims to be local
(``Forwarded: for=127.0.0.1`` passed along next to the proxy's own ``X-Forwarded-For``). Nor may either
reach the console endpoint. Counts: ``local-page`` (the check works at all), ``remote-page-hidden`` /
``remote-page-shown`` and ``console-refused`` / ``console-open`` per remote case.

static: ``sockweb static DIR`` over a folder with .env, .git/config, .htpasswd and a dot-folder; none of
them may be served. Counts: ``dotfile-refused`` / ``dotfile-served``.

gunicorn has neither tool: these run on sockweb only.
"""

from __future__ import annotations

import atexit
import re
import shutil
import sys
import tempfile
from pathlib import Path

from .servers import Server
from .wire import Closed, Result, Timeout, get

SECRET = "hostile-secret-value"
TRACEBACK = re.compile(r"Traceback|the app failed on purpose|RuntimeError")
REMOTE_CASES = {
    "proxied-remote": "X-Forwarded-For: 203.0.113.9\r\n",
    "spoofed-local": "X-Forwarded-For: 203.0.113.9\r\nForwarded: for=127.0.0.1\r\n",
    "spoofed-xff-chain": "X-Forwarded-For: 127.0.0.1, 203.0.113.9\r\n",
}


def _page(port: int, path: str, headers: str = "") -> tuple[int, str]:
    try:
        response = get(port, path, headers="Accept: text/html\r\n" + headers)
    except (OSError, Closed, Timeout) as exc:
        return 0, type(exc).__name__
    return response.status, response.body.decode("utf-8", "replace")


def debugger(server: Server, quick: bool) -> Result:
    result = Result("debugger", server.kind)
    if server.kind != "sockweb":
        result.counts["n/a"] += 1
        return result
    status, body = _page(server.port, "/fault/raise")
    result.counts["local-page" if status == 500 and TRACEBACK.search(body) else "local-no-page"] += 1
    for case, headers in REMOTE_CASES.items():
        status, body = _page(server.port, "/fault/raise", headers)
        shown = bool(TRACEBACK.search(body))
        result.counts["remote-page-shown" if shown else "remote-page-hidden"] += 1
        result.notes.append(f"{case}: {status}, traceback {'SHOWN' if shown else 'hidden'}")
        status, body = _page(server.port, "/__debugger__/console?frame=0&cmd=1%2B1", headers)
        opened = status == 200
        result.counts["console-open" if opened else "console-refused"] += 1
        if opened:
            result.notes.append(f"{case}: console answered 200")
    return result


def static(server: Server, quick: bool) -> Result:
    """`server` is a ``sockweb static`` process over `static_root()`."""
    result = Result("static", server.kind)
    if server.kind != "sockweb":
        result.counts["n/a"] += 1
        return result
    for path in ("/.env", "/.git/config", "/.htpasswd", "/.hidden/key", "/sub/.env", "/%2eenv"):
        status, body = _page(server.port, path)
        served = SECRET in body
        result.counts["dotfile-served" if served else "dotfile-refused"] += 1
        result.notes.append(f"{path}: {status}{' SERVED' if served else ''}")
    status, body = _page(server.port, "/index.txt")
    result.counts["plain-file-served" if status == 200 else "plain-file-failed"] += 1
    return result


def static_root() -> Path:
    root = Path(tempfile.mkdtemp(prefix="hostile-static-"))
    atexit.register(shutil.rmtree, root, True)
    for rel in (".env", ".git/config", ".htpasswd", ".hidden/key", "sub/.env"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(f"{SECRET}\n")
    (root / "index.txt").write_text("public\n")
    return root


def static_argv() -> list[str]:
    return [sys.executable, "-m", "sockweb", "static", str(static_root()), "--bind", "127.0.0.1:PORT"]
