"""The benchmark applications, plain WSGI, identical for every server."""

import time

_HELLO = b"Hello, World!"
_MIB = bytes(range(256)) * 4096


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "13")])
    return [_HELLO]


def sleep10(environ, start_response):
    time.sleep(0.01)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "13")])
    return [_HELLO]


def download(environ, start_response):
    start_response(
        "200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(len(_MIB)))]
    )
    return [_MIB]


def upload(environ, start_response):
    stream = environ["wsgi.input"]
    size = 0
    while True:
        block = stream.read(65536)
        if not block:
            break
        size += len(block)
    body = str(size).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
