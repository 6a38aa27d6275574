"""Error-log setup for the server, and reopening log files on SIGUSR1.

The server logs through the ``logging`` module under the ``sockweb`` logger; the application it serves
logs through its own loggers (an :class:`~sockweb.framework.App` through ``app.logger``). The error log is
for both: :func:`configure_logging` puts one handler, for ``--error-log FILE|-``, on the root logger, and
applies ``--log-level`` to the root logger and to ``sockweb``, so an application's records reach the same
file in the same format as the server's, at the same level. The format is a text line (time, pid, level)
or, when the access log is JSON (``--access-log-format json``), one JSON object per line
(:class:`JsonFormatter`), so a log collector reads both logs the same way. With ``--log-config FILE`` it
hands a ``logging.config.dictConfig`` read from JSON or TOML to the standard library and touches nothing
else.

Only the handler this module installed (recognised by its name) is ever replaced on the root logger:
handlers someone else put there stay.

Log files are opened through :class:`ReopenableFileHandler`, whose ``reopen()`` closes and reopens the
path: logrotate moves the file, sends USR1, and the next line goes to a fresh file.
:func:`reopen_log_files` does that for every file handler known to ``logging`` (the access log included,
which registers its handler on the ``sockweb.access`` logger).
"""

from __future__ import annotations

import json
import logging
import logging.config
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

__all__ = [
    "ERROR_LOGGER",
    "JsonFormatter",
    "ReopenableFileHandler",
    "configure_logging",
    "load_dict_config",
    "open_handler",
    "reopen_log_files",
]

ERROR_LOGGER = "sockweb"
_FORMAT = "[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s"
_DATEFMT = "%Y-%m-%d %H:%M:%S %z"
# The JSON logs' time, in the access log too: 2026-11-21T19:40:00+0000
JSON_DATEFMT = "%Y-%m-%dT%H:%M:%S%z"
# The name of the error-log handler on the root logger: configure_logging replaces it and only it.
_HANDLER_NAME = "sockweb.error-log"


class LogConfigError(Exception):
    """A log file or a --log-config that cannot be used; the message is one line for the user."""


if TYPE_CHECKING:
    _StreamHandler = logging.StreamHandler[TextIO]
else:  # logging.StreamHandler is subscriptable at runtime only from Python 3.11
    _StreamHandler = logging.StreamHandler


class ReopenableFileHandler(_StreamHandler):
    """Appends to a file; ``reopen()`` switches to a new file at the same path (after rotation)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.path.abspath(path)
        super().__init__(self._open())

    def _open(self) -> TextIO:
        try:
            return open(self.path, "a", encoding="utf-8", errors="backslashreplace", buffering=1)
        except OSError as exc:
            raise LogConfigError(f"cannot open log file {self.path!r}: {exc.strerror or exc}") from None

    def reopen(self) -> None:
        self.acquire()
        try:
            old = self.stream
            self.stream = self._open()
            old.close()
        finally:
            self.release()

    def close(self) -> None:
        self.acquire()
        try:
            if not self.stream.closed:
                self.stream.close()
        finally:
            self.release()
        super().close()


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line: ``time``, ``level``, ``logger``, ``pid``, ``message``,
    and ``exc_info`` (the traceback's text) when there is one. ASCII output escapes newlines and control
    characters, so a message cannot forge a record."""

    def __init__(self) -> None:
        super().__init__(datefmt=JSON_DATEFMT)
        self.converter = time.localtime
        self._encode = json.JSONEncoder(ensure_ascii=True, separators=(",", ":")).encode

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "time": self.formatTime(record, self.datefmt),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        if record.exc_info:
            out["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exc_info"] = record.exc_text
        if record.stack_info:
            out["stack_info"] = self.formatStack(record.stack_info)
        return self._encode(out)


def _text_formatter() -> logging.Formatter:
    formatter = logging.Formatter(_FORMAT, _DATEFMT)
    formatter.converter = time.localtime
    return formatter


def open_handler(target: str, default: TextIO) -> logging.StreamHandler[TextIO]:
    """A handler writing to ``default`` for ``"-"``, else to the file ``target``."""
    if target == "-":
        return logging.StreamHandler(default)
    return ReopenableFileHandler(target)


def load_dict_config(path: str) -> dict[str, object]:
    """Read a dictConfig mapping from a JSON or TOML file (by extension; TOML may nest it in [logging])."""
    file = Path(path)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise LogConfigError(f"--log-config: cannot read {path!r}: {exc.strerror or exc}") from None
    try:
        if file.suffix == ".json":
            loaded = json.loads(data)
        else:
            from sockweb.server.config import parse_toml

            loaded = parse_toml(data.decode("utf-8"))
            loaded = loaded.get("logging", loaded) if isinstance(loaded, dict) else loaded
    except ValueError as exc:
        raise LogConfigError(
            f"--log-config: {path!r} is not valid {file.suffix[1:] or 'TOML'}: {exc}"
        ) from None
    if not isinstance(loaded, dict) or "version" not in loaded:
        raise LogConfigError(f"--log-config: {path!r} must hold a dictConfig mapping with a 'version' key")
    return loaded


def configure_logging(
    *, log_level: str, error_log: str | None, log_config: str | None, json_format: bool = False
) -> None:
    """Set up the error log, for the server and the application, from the logging settings (raises
    LogConfigError). ``json_format``: one JSON object per record (when the access log is JSON)."""
    if log_config:
        try:
            logging.config.dictConfig(load_dict_config(log_config))
        except (ValueError, TypeError, AttributeError, ImportError) as exc:
            raise LogConfigError(f"--log-config: {exc}") from None
        return
    handler = open_handler(error_log or "-", sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonFormatter() if json_format else _text_formatter())
    level = log_level.upper()
    server, root = logging.getLogger(ERROR_LOGGER), logging.getLogger()
    # The server's records propagate to the root handler, like the application's: one file, one format.
    for old in list(server.handlers):
        server.removeHandler(old)
        old.close()
    server.propagate = True
    # Set on "sockweb" too: an application that lowers or raises the root level changes only its own.
    server.setLevel(level)
    for old in list(root.handlers):
        if old.get_name() == _HANDLER_NAME:
            root.removeHandler(old)
            old.close()
    root.addHandler(handler)
    root.setLevel(level)


def _all_handlers() -> list[logging.Handler]:
    loggers = [logging.getLogger()] + [
        obj for obj in logging.Logger.manager.loggerDict.values() if isinstance(obj, logging.Logger)
    ]
    seen: dict[int, logging.Handler] = {}
    for logger in loggers:
        for handler in logger.handlers:
            seen.setdefault(id(handler), handler)
    return list(seen.values())


def reopen_log_files() -> int:
    """Reopen every log file (SIGUSR1); returns how many were reopened."""
    count = 0
    for handler in _all_handlers():
        if isinstance(handler, ReopenableFileHandler):
            handler.reopen()
            count += 1
        elif isinstance(handler, logging.FileHandler):
            handler.acquire()
            try:
                if handler.stream is not None:
                    handler.stream.close()
                handler.stream = handler._open()
            finally:
                handler.release()
            count += 1
    return count
