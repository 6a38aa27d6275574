"""The fixture app every attack runs against, on sockweb and gunicorn alike: plain WSGI, no framework.

``app`` dispatches on the first path segment. Every response carries ``X-Path`` (the path it answers), so
a client can tell which request a response belongs to (the smuggling check). When ``HOSTILE_REQUEST_LOG``
names a file, each request appends one line to it: ``X-Request-Id<TAB>METHOD<TAB>PATH`` (the backend's
request log of the smuggling check).
"""

from __future__ import annotations

import os
import tempfile
import threading

BIG = 32 * 1024 * 1024  # large enough to fill the kernel buffers of a reader that never reads
PIECE = 64 * 1024
_BIG_BODY = b"x" * BIG
_log_lock = threading.Lock()
_file_path: list[str] = []


def _big_file() -> str:
    with _log_lock:
        if not _file_path:
            fd, path = tempfile.mkstemp(prefix="hostile-", suffix=".bin", dir=".")  # the server's temp dir
            with os.fdopen(fd, "wb") as f:
                f.write(_BIG_BODY)
            _file_path.append(os.path.abspath(path))
    return _file_path[0]


def _log(environ):
    if _request_log is None:
        return
    line = "\t".join(
        (environ.get("HTTP_X_REQUEST_ID", "-"), environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""))
    )
    with _log_lock:
        _request_log.write(line + "\n")


# Opened once at import, line-buffered: a request must not need a new file descriptor, or the fd-exhaustion
# attack would measure the app's open() failing instead of the server.
_request_log = (
    open(os.environ["HOSTILE_REQUEST_LOG"], "a", encoding="latin-1", buffering=1)  # noqa: SIM115
    if os.environ.get("HOSTILE_REQUEST_LOG")
    else None
)


def _headers(environ, ctype="text/plain", length=None):
    headers = [("Content-Type", ctype), ("X-Path", environ.get("PATH_INFO", ""))]
    if length is not None:
        headers.append(("Content-Length", str(length)))
    return headers


def hello(environ, start_response):
    body = b"hello " + environ.get("PATH_INFO", "").encode("latin-1")
    start_response("200 OK", _headers(environ, length=len(body)))
    return [body]


def echo(environ, start_response):
    """Reads the whole body; answers its length."""
    stream = environ["wsgi.input"]
    size = 0
    while block := stream.read(PIECE):
        size += len(block)
    body = f"read {size} bytes for {environ.get('PATH_INFO', '')}".encode()
    start_response("200 OK", _headers(environ, length=len(body)))
    return [body]


# --- the response shapes of the slow-reader attack ---------------------------------------------------------


def big(environ, start_response):
    """One-piece body: a single bytes object in a list."""
    start_response("200 OK", _headers(environ, "application/octet-stream", BIG))
    return [_BIG_BODY]


def gen(environ, start_response):
    """Generator body with a Content-Length."""
    start_response("200 OK", _headers(environ, "application/octet-stream", BIG))
    return (_BIG_BODY[i : i + PIECE] for i in range(0, BIG, PIECE))


def chunked(environ, start_response):
    """Generator body without a Content-Length: chunked on HTTP/1.1."""
    start_response("200 OK", _headers(environ, "application/octet-stream"))
    return (_BIG_BODY[i : i + PIECE] for i in range(0, BIG, PIECE))


def file(environ, start_response):
    """``wsgi.file_wrapper`` over a real file (sendfile where the server supports it)."""
    f = open(_big_file(), "rb")  # noqa: SIM115 - the server closes it through the wrapper's close()
    start_response("200 OK", _headers(environ, "application/octet-stream", BIG))
    wrapper = environ.get("wsgi.file_wrapper")
    return wrapper(f, PIECE) if wrapper else iter(lambda: f.read(PIECE), b"")


# --- app faults ------------------------------------------------------------------------------------------


class _CloseRaises:
    def __init__(self, body):
        self.body = body

    def __iter__(self):
        return iter([self.body])

    def close(self):
        raise RuntimeError("close() failed on purpose")


def _fault_raise(environ, start_response):
    raise RuntimeError("the app failed on purpose")


def _fault_none(environ, start_response):
    start_response("200 OK", _headers(environ, length=2))
    return None


def _fault_str(environ, start_response):
    start_response("200 OK", _headers(environ, length=2))
    return ["ok"]  # str items, not bytes


def _fault_cl_long(environ, start_response):
    start_response("200 OK", _headers(environ, length=100))  # promises 100, sends 10
    return [b"0123456789"]


def _fault_cl_short(environ, start_response):
    start_response("200 OK", _headers(environ, length=5))  # promises 5, sends 10
    return [b"0123456789"]


def _fault_close_raises(environ, start_response):
    start_response("200 OK", _headers(environ, length=2))
    return _CloseRaises(b"ok")


def _fault_start_twice(environ, start_response):
    start_response("200 OK", _headers(environ, length=2))
    start_response("200 OK", _headers(environ, length=2))  # no exc_info: a PEP 3333 error
    return [b"ok"]


def _fault_raise_in_body(environ, start_response):
    start_response("200 OK", _headers(environ, length=20))

    def body():
        yield b"0123456789"
        raise RuntimeError("the body failed on purpose")

    return body()


def _fault_bad_status(environ, start_response):
    start_response("2OO OK", _headers(environ, length=2))
    return [b"ok"]


def _fault_bad_header(environ, start_response):
    start_response("200 OK", [*_headers(environ, length=2), ("X-Bad", "a\r\nInjected: yes")])
    return [b"ok"]


def _fault_exit(environ, start_response):
    os._exit(1)  # not 3 or 4: gunicorn reads those as "cannot boot" and stops altogether


FAULTS = {
    "raise": _fault_raise,
    "none": _fault_none,
    "str": _fault_str,
    "cl-long": _fault_cl_long,
    "cl-short": _fault_cl_short,
    "close-raises": _fault_close_raises,
    "start-twice": _fault_start_twice,
    "raise-in-body": _fault_raise_in_body,
    "bad-status": _fault_bad_status,
    "bad-header": _fault_bad_header,
    "exit": _fault_exit,
}

ROUTES = {"echo": echo, "big": big, "gen": gen, "chunked": chunked, "file": file}


def app(environ, start_response):
    _log(environ)
    parts = environ.get("PATH_INFO", "/").split("/")
    first = parts[1] if len(parts) > 1 else ""
    if first == "fault" and len(parts) > 2 and parts[2] in FAULTS:
        return FAULTS[parts[2]](environ, start_response)
    return ROUTES.get(first, hello)(environ, start_response)
