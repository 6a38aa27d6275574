"""Error log setup (--log-level, --error-log, --log-config JSON/TOML) and reopening files."""

from __future__ import annotations

import json
import logging
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from ops_helpers import wait_until

from sockweb.server.logconfig import (
    LogConfigError,
    ReopenableFileHandler,
    configure_logging,
    load_dict_config,
    reopen_log_files,
)

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def clean_logging() -> Iterator[None]:
    """Restore the "sockweb" and root loggers (configure_logging sets both) after the test."""
    loggers = [logging.getLogger("sockweb"), logging.getLogger()]
    saved = [(list(logger.handlers), logger.level, logger.propagate) for logger in loggers]
    yield
    for logger, (handlers, level, propagate) in zip(loggers, saved, strict=True):
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
            if handler not in handlers:
                handler.close()
        for handler in handlers:
            logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


def test_error_log_file_level_and_reopen(tmp_path: Path, clean_logging: None) -> None:
    path = tmp_path / "error.log"
    configure_logging(log_level="warning", error_log=str(path), log_config=None)
    log = logging.getLogger("sockweb.error")
    log.info("hidden")
    log.warning("shown %d", 1)
    assert "hidden" not in path.read_text() and "[WARNING] shown 1" in path.read_text()
    path.rename(tmp_path / "error.log.1")
    assert reopen_log_files() >= 1
    log.error("after rotation")
    assert "after rotation" in path.read_text()
    assert "after rotation" not in (tmp_path / "error.log.1").read_text()


def test_log_config_json_and_toml(tmp_path: Path, clean_logging: None) -> None:
    target = tmp_path / "from-dictconfig.log"
    config = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(name)s %(levelname)s %(message)s"}},
        "handlers": {"file": {"class": "logging.FileHandler", "filename": str(target), "formatter": "plain"}},
        "loggers": {"sockweb": {"handlers": ["file"], "level": "DEBUG", "propagate": False}},
    }
    (tmp_path / "log.json").write_text(json.dumps(config))
    assert load_dict_config(str(tmp_path / "log.json")) == config
    (tmp_path / "log.toml").write_text("[logging]\nversion = 1\n[logging.loggers.sockweb]\nlevel = 'ERROR'\n")
    assert load_dict_config(str(tmp_path / "log.toml"))["loggers"] == {"sockweb": {"level": "ERROR"}}
    configure_logging(log_level="info", error_log="-", log_config=str(tmp_path / "log.json"))
    logging.getLogger("sockweb.error").debug("through dictConfig")
    for handler in logging.getLogger("sockweb").handlers:
        handler.flush()
    assert "sockweb.error DEBUG through dictConfig" in target.read_text()


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        ("{not json", "bad.json", "is not valid json"),
        ('{"handlers": {}}', "noversion.json", "must hold a dictConfig mapping with a 'version' key"),
        ('{"version": 1, "handlers": {"h": {"class": "no.such.Handler"}}}', "badclass.json", "--log-config:"),
    ],
)
def test_bad_log_config(tmp_path: Path, content: str, name: str, message: str, clean_logging: None) -> None:
    (tmp_path / name).write_text(content)
    with pytest.raises(LogConfigError, match=message):
        configure_logging(log_level="info", error_log="-", log_config=str(tmp_path / name))


def test_unwritable_error_log_is_one_line(serve, app_dir: Path) -> None:
    server = serve("--error-log", str(app_dir / "missing-dir" / "e.log"), wait=False)
    assert server.proc.wait(20) == 2
    assert "cannot open log file" in server.log() and "Traceback" not in server.log()


def test_error_log_file_in_single_process_mode_and_usr1(serve, app_dir: Path) -> None:
    path = app_dir / "error.log"
    server = serve("--error-log", str(path), wait=False)
    wait_until(
        lambda: path.exists() and "Listening at" in path.read_text(), 20, "Listening line in error.log"
    )
    path.rename(app_dir / "error.log.1")
    server.send(signal.SIGUSR1)  # one process, no master: it reopens the file itself
    wait_until(path.exists, 20, "error.log to be reopened")
    server.send(signal.SIGTERM)
    assert server.proc.wait(20) == 0
    assert "Shutting down" in path.read_text()


def test_reopenable_handler_reopens(tmp_path: Path) -> None:
    handler = ReopenableFileHandler(tmp_path / "a.log")
    try:
        handler.emit(logging.makeLogRecord({"msg": "one"}))
        (tmp_path / "a.log").rename(tmp_path / "b.log")
        handler.reopen()
        handler.emit(logging.makeLogRecord({"msg": "two"}))
    finally:
        handler.close()
    assert (tmp_path / "a.log").read_text() == "two\n" and (tmp_path / "b.log").read_text() == "one\n"
