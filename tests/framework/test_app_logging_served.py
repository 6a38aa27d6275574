"""An App's own log records go through the server's error log: its level, its format, JSON with the JSON
access log. Served by ``python -m sockweb serve`` in a subprocess; the app logs at each level and raises."""

from __future__ import annotations

import json
import re
import socket
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(90)

APP = """
from sockweb.framework import App

app = App("logapp")


@app.get("/log")
def log():
    app.logger.debug("app debug marker")
    app.logger.info("app info marker")
    app.logger.warning("app warning marker")
    return "logged"


@app.get("/boom")
def boom():
    raise RuntimeError("boom marker")
"""

# [2026-11-21 19:40:00 +0000] [1234] [INFO] message
TEXT_LINE = r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] \[\d+\] \[{level}\] {message}$"


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    (tmp_path / "logapp.py").write_text(textwrap.dedent(APP))
    return tmp_path


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code


def exercise(server) -> str:
    """Request /log and /boom; the server's stderr once the traceback's last line is in it."""
    assert get(server.url + "/log") == 200
    assert get(server.url + "/boom") == 500
    server.wait_for_log("RuntimeError: boom marker")
    server.stop()
    return str(server.log())


def text_line(level: str, message: str) -> str:
    return TEXT_LINE.replace("{level}", level).replace("{message}", re.escape(message))


@pytest.mark.parametrize("level", ["info", "debug"])
def test_app_records_are_in_the_error_log_with_time_and_level(run_server, app_dir: Path, level: str) -> None:
    log = exercise(run_server("logapp:app", "--log-level", level, cwd=app_dir))
    assert re.search(text_line("INFO", "app info marker"), log, re.MULTILINE), log
    assert re.search(text_line("WARNING", "app warning marker"), log, re.MULTILINE), log
    # The unhandled error: one record with the request, then the traceback under it.
    match = re.search(text_line("ERROR", "Exception on /boom [GET]"), log, re.MULTILINE)
    assert match, log
    assert "Traceback (most recent call last):" in log[match.end() :]
    debug = re.search(text_line("DEBUG", "app debug marker"), log, re.MULTILINE)
    assert (debug is not None) == (level == "debug"), log


def test_the_log_level_applies_to_app_records(run_server, app_dir: Path) -> None:
    # At "warning" the server does not log its "Listening at" line: bind a known port and wait for it.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = run_server(
        "logapp:app", "--log-level", "warning", "--bind", f"127.0.0.1:{port}", cwd=app_dir, wait=False
    )
    server.port = port
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert server.proc.poll() is None and time.monotonic() < deadline, server.log()
            time.sleep(0.05)
    log = exercise(server)
    assert "app info marker" not in log and "app debug marker" not in log
    assert re.search(text_line("WARNING", "app warning marker"), log, re.MULTILINE), log


def test_app_records_are_json_when_the_access_log_is(run_server, app_dir: Path) -> None:
    server = run_server(
        "logapp:app", "--log-level", "info", "--access-log", "-", "--access-log-format", "json", cwd=app_dir
    )
    log = exercise(server)
    records = [json.loads(line) for line in log.splitlines() if line.strip()]  # every line is one record
    by_message = {record["message"]: record for record in records}
    for message, level in [("app info marker", "INFO"), ("app warning marker", "WARNING")]:
        record = by_message[message]
        assert record["level"] == level and record["logger"] == "logapp"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}", record["time"])
    error = by_message["Exception on /boom [GET]"]
    assert error["level"] == "ERROR"
    assert error["exc_info"].startswith("Traceback") and "RuntimeError: boom marker" in error["exc_info"]
    # The server's own records are JSON too, and the access log's lines still are.
    assert any(record["logger"].startswith("sockweb") for record in records)
    access = [json.loads(line) for line in server.output().splitlines()]
    assert {record["path"]: record["status"] for record in access} == {"/log": 200, "/boom": 500}
