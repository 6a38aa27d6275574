"""The access log: one line per response, in a gunicorn-compatible format or as JSON.

Formats are strings of ``%(atom)s`` codes, the ones gunicorn users know (``%(h)s %(r)s %(s)s
%({user-agent}i)s``...), or the presets ``combined`` (the default, Apache's combined log format),
``common`` and ``json`` (one JSON object per line). A format is compiled once into a list of literal
pieces and small getter functions, so logging a request only calls the getters it uses and joins.

Every value taken from the request or the response is escaped before it is written: control
characters, DEL, bytes above 0x7f (environ strings are latin-1 bytes), backslash and double quote
become ``\\xNN`` / ``\\\\`` / ``\\"``, so a client cannot forge log lines or break a quoted field
(log injection). The JSON format gets the same guarantee from ``json.dumps`` with ASCII output.

Hook: the connection calls ``access_log.log(environ, status, response_headers, body_bytes,
request_time)`` after each response; ``AccessLog.from_config`` returns None when the log is off.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TextIO

from sockweb.server.logconfig import JSON_DATEFMT, open_handler

if TYPE_CHECKING:
    from sockweb.server.config import Config

__all__ = ["COMBINED", "COMMON", "AccessLog", "compile_format", "escape"]

COMMON = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s'
COMBINED = COMMON + ' "%(f)s" "%(a)s"'
PRESETS = {"combined": COMBINED, "common": COMMON}
ACCESS_LOGGER = "sockweb.access"

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# Control characters, DEL and non-ASCII (environ strings are latin-1: one char per byte) -> \xNN.
_ESCAPES: dict[int, str] = {c: f"\\x{c:02x}" for c in [*range(0x20), *range(0x7F, 0x100)]}
_ESCAPES[ord("\\")] = "\\\\"
_ESCAPES[ord('"')] = '\\"'
_SAFE = re.compile(r"[\x20-\x7e]*").fullmatch


def escape(value: str) -> str:
    """``value`` with every character that could break or forge a log line escaped."""
    if _SAFE(value) is not None and "\\" not in value and '"' not in value:
        return value
    return value.translate(_ESCAPES)


class _Entry:
    """What the getters see: one finished request."""

    __slots__ = ("body_bytes", "environ", "headers", "request_time", "start", "status")

    def __init__(
        self,
        environ: Mapping[str, object],
        status: str,
        headers: list[tuple[str, str]],
        body_bytes: int,
        request_time: float,
    ) -> None:
        self.environ = environ
        self.status = status
        self.headers = headers
        self.body_bytes = body_bytes
        self.request_time = request_time
        self.start = time.time() - request_time


Getter = Callable[[_Entry], str]


def _env(entry: _Entry, key: str, default: str = "-") -> str:
    value = entry.environ.get(key)
    return value if isinstance(value, str) and value else default


def _request_target(entry: _Entry) -> str:
    raw = entry.environ.get("RAW_URI") or entry.environ.get("REQUEST_URI")
    if isinstance(raw, str) and raw:
        return raw
    path = _env(entry, "SCRIPT_NAME", "") + _env(entry, "PATH_INFO", "")
    query = _env(entry, "QUERY_STRING", "")
    return (path or "/") + ("?" + query if query else "")


def _request_line(entry: _Entry) -> str:
    method = _env(entry, "REQUEST_METHOD")
    return f"{method} {_request_target(entry)} {_env(entry, 'SERVER_PROTOCOL')}"


def _user(entry: _Entry) -> str:
    user = entry.environ.get("REMOTE_USER")
    if isinstance(user, str) and user:
        return user
    auth = entry.environ.get("HTTP_AUTHORIZATION")
    if isinstance(auth, str) and auth[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(auth[6:].strip(), validate=True).decode("latin-1")
        except (binascii.Error, ValueError):
            return "-"
        return decoded.partition(":")[0] or "-"
    return "-"


def _apache_time(t: time.struct_time) -> str:
    """``[21/Nov/2026:19:40:00 +0000]`` (Apache's %t)."""
    offset = t.tm_gmtoff or 0
    sign = "-" if offset < 0 else "+"
    hours, minutes = divmod(abs(offset) // 60, 60)
    return (
        f"[{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:"
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} {sign}{hours:02d}{minutes:02d}]"
    )


def _iso_time(t: time.struct_time) -> str:
    """``2026-11-21T19:40:00+0000`` (the JSON format's time)."""
    return time.strftime(JSON_DATEFMT, t)


class _Clock:
    """A local timestamp rendered by ``render``, formatted once per second (log lines share seconds)."""

    __slots__ = ("last", "render", "text")

    def __init__(self, render: Callable[[time.struct_time], str]) -> None:
        self.render = render
        self.last = -1
        self.text = ""

    def __call__(self, start: float) -> str:
        second = int(start)
        if second != self.last:
            self.text = self.render(time.localtime(second))
            self.last = second
        return self.text


def _bytes_clf(entry: _Entry) -> str:
    return str(entry.body_bytes) if entry.body_bytes else "-"


# atom -> (getter, needs escaping)
_ATOMS: dict[str, tuple[Getter, bool]] = {
    "h": (lambda e: _env(e, "REMOTE_ADDR"), True),
    "l": (lambda e: "-", False),
    "u": (_user, True),
    "r": (_request_line, True),
    "m": (lambda e: _env(e, "REQUEST_METHOD"), True),
    "U": (lambda e: _env(e, "SCRIPT_NAME", "") + _env(e, "PATH_INFO", "") or "/", True),
    "q": (lambda e: _env(e, "QUERY_STRING", ""), True),
    "H": (lambda e: _env(e, "SERVER_PROTOCOL"), True),
    "s": (lambda e: e.status.split(" ", 1)[0], True),
    "B": (lambda e: str(e.body_bytes), False),
    "b": (_bytes_clf, False),
    "f": (lambda e: _env(e, "HTTP_REFERER"), True),
    "a": (lambda e: _env(e, "HTTP_USER_AGENT"), True),
    "T": (lambda e: str(int(e.request_time)), False),
    "D": (lambda e: str(int(e.request_time * 1_000_000)), False),
    "M": (lambda e: str(int(e.request_time * 1000)), False),
    "L": (lambda e: f"{e.request_time:.6f}", False),
    "p": (lambda e: f"<{os.getpid()}>", False),
}

_ATOM_RE = re.compile(r"%\((\{[^}]*\}[ioe]|[A-Za-z])\)s")


def _request_header(name: str) -> Getter:
    key = name.upper().replace("-", "_")
    key = key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key
    return lambda e: _env(e, key)


def _response_header(name: str) -> Getter:
    lowered = name.lower()

    def get(entry: _Entry) -> str:
        for header, value in entry.headers:
            if header.lower() == lowered:
                return value
        return "-"

    return get


def _environ_var(name: str) -> Getter:
    def get(entry: _Entry) -> str:
        value = entry.environ.get(name)
        return "-" if value is None else str(value)

    return get


_BRACED: dict[str, Callable[[str], Getter]] = {"i": _request_header, "o": _response_header, "e": _environ_var}


def _getter(atom: str) -> Getter:
    if atom.startswith("{"):
        name, kind = atom[1:-2], atom[-1]
        raw = _BRACED[kind](name)
        return lambda e: escape(raw(e))
    if atom == "t":
        clock = _Clock(_apache_time)
        return lambda e: clock(e.start)
    if atom not in _ATOMS:
        raise ValueError(f"unknown access log atom %({atom})s")
    get, needs_escape = _ATOMS[atom]
    return (lambda e: escape(get(e))) if needs_escape else get


def _constant(text: str) -> Getter:
    return lambda entry: text


def compile_format(fmt: str) -> Callable[[_Entry], str]:
    """Compile a ``%(atom)s`` format into a function of one entry (raises ValueError on unknown atoms)."""
    fmt = PRESETS.get(fmt, fmt)
    pieces: list[str | Getter] = []
    pos = 0
    for match in _ATOM_RE.finditer(fmt):
        if match.start() > pos:
            pieces.append(fmt[pos : match.start()])
        pieces.append(_getter(match.group(1)))
        pos = match.end()
    if pos < len(fmt):
        pieces.append(fmt[pos:])
    leftover = _ATOM_RE.sub("", fmt)
    if "%(" in leftover:
        raise ValueError(f"malformed access log format near {leftover[leftover.index('%(') :][:20]!r}")
    getters: list[Getter] = [p if callable(p) else _constant(p) for p in pieces]

    def render(entry: _Entry) -> str:
        return "".join([get(entry) for get in getters])

    return render


def _json_renderer() -> Callable[[_Entry], str]:
    clock = _Clock(_iso_time)
    encode = json.JSONEncoder(ensure_ascii=True, separators=(",", ":")).encode

    def render(entry: _Entry) -> str:
        return encode(_json_record(entry, clock(entry.start)))

    return render


def _json_record(entry: _Entry, when: str) -> dict[str, object]:
    env = entry.environ
    return {
        "time": when,
        "remote_addr": _env(entry, "REMOTE_ADDR", ""),
        "method": _env(entry, "REQUEST_METHOD", ""),
        "path": _env(entry, "SCRIPT_NAME", "") + _env(entry, "PATH_INFO", ""),
        "query": _env(entry, "QUERY_STRING", ""),
        "protocol": _env(entry, "SERVER_PROTOCOL", ""),
        "status": int(entry.status[:3]) if entry.status[:3].isdigit() else entry.status,
        "bytes": entry.body_bytes,
        "duration_ms": round(entry.request_time * 1000, 3),
        "referer": env.get("HTTP_REFERER") or None,
        "user_agent": env.get("HTTP_USER_AGENT") or None,
        "pid": os.getpid(),
    }


class AccessLog:
    """Formats finished requests and writes one line each to a file (``-``: stdout)."""

    def __init__(self, fmt: str, handler: logging.StreamHandler[TextIO]) -> None:
        # JSON: ensure_ascii turns control characters and non-ASCII into \uXXXX: one record is one line.
        self.render: Callable[[_Entry], str] = _json_renderer() if fmt == "json" else compile_format(fmt)
        self.handler = handler

    @classmethod
    def from_config(cls, config: Config) -> AccessLog | None:
        """The access log ``config`` asks for, or None when ``--access-log`` is unset."""
        if config.access_log is None:
            return None
        handler = open_handler(config.access_log, sys.stdout)
        # Registered on a logger (not propagated) so that reopen_log_files() finds it on SIGUSR1.
        logger = logging.getLogger(ACCESS_LOGGER)
        logger.propagate = False
        for old in list(logger.handlers):
            logger.removeHandler(old)
            old.close()
        logger.addHandler(handler)
        return cls(config.access_log_format, handler)

    def format(
        self,
        environ: Mapping[str, object],
        status: str,
        response_headers: list[tuple[str, str]],
        body_bytes: int,
        request_time: float,
    ) -> str:
        return self.render(_Entry(environ, status, response_headers, body_bytes, request_time))

    def log(
        self,
        environ: Mapping[str, object],
        status: str,
        response_headers: list[tuple[str, str]],
        body_bytes: int,
        request_time: float,
    ) -> None:
        """Write the line for one finished response (never raises: a log failure is not a 500)."""
        try:
            line = self.render(_Entry(environ, status, response_headers, body_bytes, request_time))
            handler = self.handler
            handler.acquire()
            try:
                handler.stream.write(line + "\n")
                handler.stream.flush()
            finally:
                handler.release()
        except Exception:
            logging.getLogger("sockweb").exception("access log write failed")
