"""The application behind the wire acceptance tests: it reads the whole body and describes the request.

The answer is a short JSON object (method, path, query, body length and SHA-256, CONTENT_LENGTH and the
HTTP_* keys), so the tests can tell from the socket alone which request the server handed to the
application and whether its body arrived intact. A few paths ask for special responses (status codes
without content, streamed bodies, ``Connection: close``, a body left unread, the application's own Date
and Server, a body longer or shorter than its Content-Length) so response framing can be checked too.
Origin-form requests run through `wsgiref.validate`, which fails the request (a 500) when the server's
environ or input stream breaks PEP 3333; asterisk- and authority-form targets skip it because the
validator insists on a PATH_INFO starting with "/".
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.validate import validator

StartResponse = Callable[..., Any]


def describe(environ: dict[str, Any]) -> bytes:
    """Read the whole body in bounded reads; return the JSON description of the request."""
    stream = environ["wsgi.input"]
    digest = hashlib.sha256()
    length = 0
    while True:
        piece = stream.read(65536)
        if not piece:
            break
        digest.update(piece)
        length += len(piece)
    info = {
        "method": environ["REQUEST_METHOD"],
        "path": environ.get("PATH_INFO", ""),
        "query": environ.get("QUERY_STRING", ""),
        "protocol": environ.get("SERVER_PROTOCOL", ""),
        "length": length,
        "sha256": digest.hexdigest(),
        "content_length": environ.get("CONTENT_LENGTH", ""),
        "headers": {k: v for k, v in environ.items() if k.startswith("HTTP_")},
    }
    return json.dumps(info, sort_keys=True).encode() + b"\n"


def echo(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "")
    if path.startswith("/noread"):
        # The body is left unread: the server must skip it (or close), never parse it as a request.
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "7")])
        return [b"unread\n"]
    body = describe(environ)
    if path.startswith("/status/"):
        # The body is offered on purpose: the server must not put it on the wire for 204/304.
        code = path.rsplit("/", 1)[-1]
        reasons = {"204": "No Content", "304": "Not Modified", "200": "OK"}
        headers = [] if code in ("204", "304") else [("Content-Type", "application/json")]
        if environ.get("QUERY_STRING") == "cl":
            headers.append(("Content-Length", str(len(body))))
        start_response(f"{code} {reasons.get(code, 'Other')}", headers)
        return [body]
    if path == "/stream":
        # No Content-Length and several pieces: chunked for HTTP/1.1, close-delimited for HTTP/1.0.
        start_response("200 OK", [("Content-Type", "application/json")])
        return iter([body[:10], b"", body[10:20], body[20:]])
    if path == "/own":
        # Date and Server chosen by the application: the server must not send a second copy of either.
        own = [("Date", "Thu, 01 Jan 2015 00:00:00 GMT"), ("Server", "app/1"), ("Content-Type", "text/plain")]
        start_response("200 OK", [*own, ("Content-Length", "4")])
        return [b"own\n"]
    if path == "/overflow":
        # More bytes than the declared Content-Length: the server must cut the connection, never let
        # the extra bytes reach the wire as the start of the next response.
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "3")])
        return iter([b"abc", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfake!"])
    if path == "/underflow":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "10")])
        return iter([b"abc"])
    if path == "/close":
        start_response("200 OK", [("Content-Type", "application/json"), ("Connection", "close")])
        return [body]
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


_validated = validator(echo)


def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    if environ.get("PATH_INFO", "").startswith("/"):
        return _validated(environ, start_response)
    return echo(environ, start_response)
