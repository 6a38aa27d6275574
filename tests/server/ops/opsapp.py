"""Fixture applications for the operations tests (copied next to each test's server as ``opsapp.py``)."""

from __future__ import annotations

import json
import os
import time
from wsgiref.validate import validator

VERSION = "one"


def _app(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/slow":
        with open("inflight.log", "a") as fh:  # lets a test see the request has reached the app
            fh.write(f"{os.getpid()}\n")
        time.sleep(float(environ.get("QUERY_STRING") or "1"))
    info = {
        "pid": os.getpid(),
        "version": VERSION,
        "remote_addr": environ.get("REMOTE_ADDR"),
        "remote_port": environ.get("REMOTE_PORT"),
        "scheme": environ["wsgi.url_scheme"],
        "host": environ.get("HTTP_HOST"),
        "server_name": environ.get("SERVER_NAME"),
        "server_port": environ.get("SERVER_PORT"),
        "path": path,
    }
    body = json.dumps(info).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


app = validator(_app)
