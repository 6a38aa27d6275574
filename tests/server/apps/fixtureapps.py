"""Fixture WSGI applications for the server tests, each wrapped in wsgiref.validate.validator.

Exceptions (not wrapped, with the reason): `file_app` and `blob` (the validator hides the file_wrapper
object and the one-item list the server must recognise) and the `bad_*` apps (they break PEP 3333 on purpose; the validator
would catch them before the server does).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from urllib.parse import parse_qs
from wsgiref.validate import validator


def _query(environ):
    return {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}


def _text(start_response, body, status="200 OK", ctype="text/plain"):
    start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(body)))])
    return [body]


@validator
def hello(environ, start_response):
    return _text(start_response, b"Hello, World!")


@validator
def echo(environ, start_response):
    """Reads the body in 64 KiB pieces and describes the request as JSON."""
    stream = environ["wsgi.input"]
    digest = hashlib.sha256()
    size = 0
    while True:
        block = stream.read(65536)
        if not block:
            break
        digest.update(block)
        size += len(block)
    info = {
        "method": environ["REQUEST_METHOD"],
        "script_name": environ["SCRIPT_NAME"],
        "path_info": environ["PATH_INFO"],
        "query_string": environ["QUERY_STRING"],
        "content_type": environ.get("CONTENT_TYPE"),
        "content_length": environ.get("CONTENT_LENGTH"),
        "server_name": environ["SERVER_NAME"],
        "server_port": environ["SERVER_PORT"],
        "server_protocol": environ["SERVER_PROTOCOL"],
        "remote_addr": environ["REMOTE_ADDR"],
        "remote_port": environ["REMOTE_PORT"],
        "url_scheme": environ["wsgi.url_scheme"],
        "input_terminated": environ.get("wsgi.input_terminated", False),
        "multithread": environ["wsgi.multithread"],
        "headers": {k: v for k, v in environ.items() if k.startswith("HTTP_")},
        "body_size": size,
        "body_sha256": digest.hexdigest(),
        "thread": threading.current_thread().name,
    }
    return _text(start_response, json.dumps(info).encode(), ctype="application/json")


@validator
def lines(environ, start_response):
    """Exercises readline(size), readlines(hint) and iteration over wsgi.input."""
    stream = environ["wsgi.input"]
    first = stream.readline(5)
    second = stream.readline()
    rest = stream.readlines()
    body = json.dumps([x.decode("latin-1") for x in [first, second, *rest]]).encode()
    return _text(start_response, body, ctype="application/json")


@validator
def stream(environ, start_response):
    """`?chunks=N&size=S`: N chunks of S bytes, no Content-Length (chunked on HTTP/1.1)."""
    q = _query(environ)
    chunks, size = int(q.get("chunks", "3")), int(q.get("size", "10"))
    start_response("200 OK", [("Content-Type", "application/octet-stream")])

    def gen():
        for i in range(chunks):
            yield bytes([65 + i % 26]) * size

    return gen()


@validator
def big(environ, start_response):
    """`?mib=N`: N MiB of deterministic bytes in 64 KiB chunks, with Content-Length."""
    mib = int(_query(environ).get("mib", "1"))
    block = bytes(range(256)) * 256
    start_response(
        "200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(mib << 20))]
    )
    return (block for _ in range(mib * 16))


def blob(environ, start_response):
    """`?size=S`: a list of one S-byte bytes object (not validated: the validator would wrap the list
    in an iterator, hiding the server's one-chunk path this app exists to exercise)."""
    size = int(_query(environ).get("size", "1024"))
    return _text(start_response, b"b" * size, ctype="application/octet-stream")


@validator
def own_date(environ, start_response):
    """Sets its own Date and Server fields: the server must not add a second one."""
    start_response(
        "200 OK",
        [("Content-Type", "text/plain"), ("Date", "Thu, 01 Jan 2015 00:00:00 GMT"), ("server", "app/1")],
    )
    return [b"own"]


@validator
def write_callable(environ, start_response):
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"written ")
    write(b"directly ")
    return [b"then returned"]


@validator
def no_read(environ, start_response):
    """Answers without touching wsgi.input (for 100-continue and body draining)."""
    return _text(start_response, b"did not read")


@validator
def crash(environ, start_response):
    raise RuntimeError("boom: the fixture app failed")


@validator
def crash_midway(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])

    def gen():
        yield b"first part"
        raise RuntimeError("boom after the head was sent")

    return gen()


@validator
def exc_info_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    try:
        raise ValueError("caught by the app")
    except ValueError:
        import sys

        start_response("503 Service Unavailable", [("Content-Type", "text/plain")], sys.exc_info())
    return [b"sorry"]


@validator
def sleepy(environ, start_response):
    """`?t=SECONDS` then answer with the thread name."""
    time.sleep(float(_query(environ).get("t", "0.05")))
    return _text(start_response, threading.current_thread().name.encode())


class _Marked:
    """An iterable that creates a marker file when closed."""

    def __init__(self, path, n):
        self.path, self.n = path, n

    def __iter__(self):
        for _ in range(self.n):
            time.sleep(0.005)
            yield b"x" * 65536

    def close(self):
        with open(self.path, "w") as fh:
            fh.write("closed")


@validator
def endless(environ, start_response):
    """Streams 64 KiB pieces for a long time; `?marker=PATH` is written when close() is called."""
    q = _query(environ)
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return _Marked(q["marker"], int(q.get("n", "2000")))


def file_app(environ, start_response):
    """`?path=P`: the file through wsgi.file_wrapper (not validated: see the module docstring)."""
    path = _query(environ)["path"]
    fh = open(path, "rb")  # noqa: SIM115 - closed by the server through the wrapper
    start_response(
        "200 OK",
        [("Content-Type", "application/octet-stream"), ("Content-Length", str(os.path.getsize(path)))],
    )
    return environ["wsgi.file_wrapper"](fh, 32768)


def bad_status(environ, start_response):
    start_response("OK", [("Content-Type", "text/plain")])
    return [b"x"]


def bad_header(environ, start_response):
    start_response("200 OK", [("X-Evil", "a\r\nSet-Cookie: pwned=1")])
    return [b"x"]


def bad_length_short(environ, start_response):
    start_response("200 OK", [("Content-Length", "100")])
    return [b"only ten b"]


def bad_length_short_stream(environ, start_response):
    start_response("200 OK", [("Content-Length", "100")])
    return iter([b"only ", b"ten b"])


def bad_length_long_stream(environ, start_response):
    start_response("200 OK", [("Content-Length", "3")])
    return iter([b"abc", b"defgh"])


def bad_no_start(environ, start_response):
    return [b"never started"]


def bad_chunk_type(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return ["a str, not bytes"]


def dispatch(environ, start_response):
    """Routes /NAME to the fixture app NAME (one server process for many tests)."""
    name = environ["PATH_INFO"].strip("/").split("/")[0] or "hello"
    app = APPS.get(name)
    if app is None:
        return _text(start_response, b"no such fixture app", "404 Not Found")
    return app(environ, start_response)


APPS = {
    name: obj
    for name, obj in dict(globals()).items()
    if callable(obj)
    and not name.startswith("_")
    and name not in ("dispatch", "validator", "parse_qs")
    and not isinstance(obj, type)
}
