"""Access log formats (gunicorn atoms, presets, JSON) and escaping, as units and through the real server."""

from __future__ import annotations

import json
import time

import pytest

from sockweb.server.accesslog import COMBINED, AccessLog, compile_format, escape

pytestmark = pytest.mark.timeout(60)


def _environ(**extra: str) -> dict[str, object]:
    env: dict[str, object] = {
        "REMOTE_ADDR": "192.0.2.1",
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/a b",
        "QUERY_STRING": "x=1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_USER_AGENT": "curl/8",
        "HTTP_REFERER": "http://r/",
    }
    env.update(extra)
    return env


def _line(
    fmt: str, env: dict[str, object], status: str = "200 OK", size: int = 12, took: float = 0.25
) -> str:
    log = AccessLog.__new__(AccessLog)
    log.render = compile_format(fmt) if fmt != "json" else AccessLog("json", None).render  # type: ignore[arg-type]
    return log.format(env, status, [("Content-Type", "text/plain"), ("X-Id", "7")], size, took)


def test_combined_is_the_default_apache_format() -> None:
    line = _line("combined", _environ())
    prefix, _, rest = line.partition(" [")
    assert prefix == "192.0.2.1 - -"
    date, _, rest = rest.partition("] ")
    time.strptime(date[:20], "%d/%b/%Y:%H:%M:%S")
    assert rest == '"GET /a b?x=1 HTTP/1.1" 200 12 "http://r/" "curl/8"'
    assert compile_format("combined")(_entry()) == compile_format(COMBINED)(_entry())


def _entry():  # type: ignore[no-untyped-def]
    from sockweb.server.accesslog import _Entry

    return _Entry(_environ(), "200 OK", [], 0, 0.0)


def test_every_atom() -> None:
    env = _environ(HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz", wsgi_var="v")
    fmt = (
        "%(h)s|%(l)s|%(u)s|%(r)s|%(m)s|%(U)s|%(q)s|%(H)s|%(s)s|%(B)s|%(b)s|%(f)s|%(a)s|%(T)s|%(D)s|%(M)s|%(L)s"
        "|%({user-agent}i)s|%({x-id}o)s|%({wsgi_var}e)s|%({missing}i)s"
    )
    fields = _line(fmt, env, took=1.5).split("|")
    assert fields == [
        "192.0.2.1", "-", "user", "GET /a b?x=1 HTTP/1.1", "GET", "/a b", "x=1", "HTTP/1.1", "200", "12", "12",
        "http://r/", "curl/8", "1", "1500000", "1500", "1.500000", "curl/8", "7", "v", "-",
    ]  # fmt: skip
    assert _line("%(b)s %(B)s", env, size=0) == "- 0"
    assert _line("%(p)s", env).startswith("<")


def test_raw_uri_is_preferred_when_the_server_provides_it() -> None:
    assert _line("%(r)s", _environ(RAW_URI="/a%20b?x=1")) == "GET /a%20b?x=1 HTTP/1.1"


def test_control_characters_and_quotes_are_escaped() -> None:
    env = _environ(
        HTTP_USER_AGENT='evil"\r\n1.2.3.4 - - [fake] "GET / HTTP/1.1" 200', PATH_INFO="/\x1b[31m\xff"
    )
    line = _line("combined", env)
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    assert '"evil\\"\\x0d\\x0a1.2.3.4 - - [fake] \\"GET / HTTP/1.1\\" 200"' in line
    assert "/\\x1b[31m\\xff" in line
    assert escape("plain text") == "plain text"
    assert escape("back\\slash") == "back\\\\slash"


def test_json_format_is_one_object_per_line() -> None:
    env = _environ(HTTP_USER_AGENT='a"b\nc\x00', PATH_INFO="/\xe9")
    line = _line("json", env, status="404 Not Found", size=5, took=0.0125)
    assert "\n" not in line and line.isascii()
    record = json.loads(line)
    assert record["status"] == 404 and record["bytes"] == 5 and record["duration_ms"] == 12.5
    assert record["user_agent"] == 'a"b\nc\x00' and record["path"] == "/\xe9"
    assert record["method"] == "GET" and record["remote_addr"] == "192.0.2.1" and record["query"] == "x=1"


def test_unknown_atoms_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown access log atom"):
        compile_format("%(z)s")
    with pytest.raises(ValueError, match="malformed"):
        compile_format("%(h)s %(oops")


def test_access_log_through_the_real_server(serve) -> None:
    server = serve("--access-log", "-", "--access-log-format", '%(h)s "%(r)s" %(s)s %({x-test}i)s')
    server.get("/path?q=1", headers={"X-Test": 'ab"c'})
    server.stop()
    assert '127.0.0.1 "GET /path?q=1 HTTP/1.1" 200 ab\\"c' in server.output().splitlines()


def test_json_access_log_through_the_real_server(serve, app_dir) -> None:  # type: ignore[no-untyped-def]
    server = serve("--workers", "2", "--access-log", "access.log", "--access-log-format", "json")
    server.get("/j", headers={"User-Agent": "x\ty"})
    server.stop()
    records = [json.loads(line) for line in (app_dir / "access.log").read_text().splitlines()]
    assert [(r["path"], r["status"], r["user_agent"]) for r in records] == [("/j", 200, "x\ty")]
