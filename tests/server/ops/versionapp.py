"""Fixture application for the signal tests (copied next to each test's server as ``versionapp.py``).

It reads its version from ``version.txt`` in the working directory at import time, so a test can tell
which code a reload loaded; the version ``broken`` makes the import fail, as a bad deploy does.
``/slow?S`` sleeps S seconds (after noting its pid in ``inflight.log``); ``/exit3?PID`` makes the process
PID exit at once with status 3 (any other process answers 409).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from wsgiref.validate import validator

VERSION = Path("version.txt").read_text().strip()
if VERSION == "broken":
    raise RuntimeError("broken deploy")


def _app(environ, start_response):
    path, query = environ.get("PATH_INFO", "/"), environ.get("QUERY_STRING", "")
    status = "200 OK"
    if path == "/slow":
        with open("inflight.log", "a") as fh:
            fh.write(f"{os.getpid()}\n")
        time.sleep(float(query or "1"))
    elif path == "/exit3":
        if query == str(os.getpid()):
            os._exit(3)
        status = "409 Conflict"
    body = json.dumps({"pid": os.getpid(), "version": VERSION, "path": path}).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


app = validator(_app)
