"""``--trace`` for HTTP/2 connections: their life on the ``sockweb.trace`` logger, next to each request's.

Strategy: as for HTTP/1.1 (sockweb.server.trace), tracing costs nothing when off: these subclasses are
chosen once, when a connection is handed over to HTTP/2 with ``--trace`` on. `TraceH2Connection` sits
between h2 and the connection and logs what crosses it: the frames received that change the connection
(the preface's SETTINGS and later ones, streams opened, resets, GOAWAY) and the resets and GOAWAY h2 is
asked to send; `TraceH2Protocol` logs the hand-over (ALPN, prior knowledge or ``Upgrade: h2c``, whose
request is stream 1) with the settings sent, the streams closed, the GOAWAY of a graceful stop or an
idle connection (written as a frame of its own) and the end of the connection. Each line starts with
the connection's ``conn#N``, the one its HTTP/1.1 beginnings were logged under; requests log
``conn#N stream S`` (`TraceExchange`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from time import perf_counter
from typing import TYPE_CHECKING, Any

import h2.events
import h2.exceptions

from sockweb.server.h2conn import H2Protocol, _ServerConnection
from sockweb.server.trace import next_conn_id

if TYPE_CHECKING:
    from typing_extensions import Buffer

    from sockweb.http import Request
    from sockweb.server.h2stream import H2Stream
    from sockweb.server.protocol import HttpProtocol
    from sockweb.server.state import ServerState
    from sockweb.server.wsgi import Environ

__all__ = ["TraceH2Connection", "TraceH2Protocol"]

log = logging.getLogger("sockweb.trace")


def _code(code: Any) -> str:
    """An error code by its RFC 9113 §7 name (h2 gives a bare int for codes it does not know)."""
    return str(getattr(code, "name", code))


def _settings(values: Iterable[tuple[Any, Any]]) -> str:
    return ", ".join(f"{_code(name)}={value}" for name, value in values)


def _text(value: Any) -> str:
    return bytes(value).decode("latin-1")


def _opened(event: h2.events.RequestReceived) -> str:
    fields = dict(event.headers or [])
    method = _text(fields.get(b":method", b"?"))
    path = _text(fields.get(b":path", b""))
    body = "" if event.stream_ended else " (body follows)"
    return f"stream {event.stream_id} opened: {method} {path}{body}"


def _settings_received(event: h2.events.RemoteSettingsChanged) -> str:
    changed = ((name, setting.new_value) for name, setting in event.changed_settings.items())
    return f"settings received: {_settings(changed) or 'defaults'}"


def _reset(event: h2.events.StreamReset) -> str:
    return f"stream {event.stream_id} reset by the client ({_code(event.error_code)})"


def _goaway(event: h2.events.ConnectionTerminated) -> str:
    return f"GOAWAY({_code(event.error_code)}) received, last stream {event.last_stream_id}"


# The events worth a line (DATA, WINDOW_UPDATE and the end of request bodies are the requests' business).
_EVENTS: dict[type[Any], Any] = {
    h2.events.RequestReceived: _opened,
    h2.events.RemoteSettingsChanged: _settings_received,
    h2.events.SettingsAcknowledged: lambda event: "our settings acknowledged",
    h2.events.StreamReset: _reset,
    h2.events.ConnectionTerminated: _goaway,
}


class TraceH2Connection(_ServerConnection):
    """h2's connection, logging the frames that change the connection, both ways."""

    label = "conn#?"
    opened = 0  # streams the client opened

    def receive_data(self, data: Buffer) -> list[h2.events.Event]:
        try:
            events = super().receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            log.info("%s protocol error: %s -> GOAWAY(%s)", self.label, exc, _code(exc.error_code))
            raise
        for event in events:
            if type(event) is h2.events.RequestReceived:
                self.opened += 1
            describe = _EVENTS.get(type(event))
            if describe is not None:
                log.info("%s %s", self.label, describe(event))
        return events

    def reset_stream(self, stream_id: int, error_code: Any = 0) -> None:
        log.info("%s stream %d reset by the server (%s)", self.label, stream_id, _code(error_code))
        super().reset_stream(stream_id, error_code)

    def close_connection(
        self, error_code: Any = 0, additional_data: bytes | None = None, last_stream_id: int | None = None
    ) -> None:
        log.info("%s GOAWAY(%s) sent, last stream %s", self.label, _code(error_code), last_stream_id)
        super().close_connection(error_code, additional_data, last_stream_id)


class TraceH2Protocol(H2Protocol):
    """An HTTP/2 connection that logs its life (see the module docstring)."""

    connection_class = TraceH2Connection

    def __init__(self, state: ServerState, template: Environ, tls: bool) -> None:
        super().__init__(state, template, tls)
        self.conn_id = 0  # that of the HTTP/1.1 connection it follows (`follow`)
        self.t_accept = perf_counter()

    def _log(self, text: str, *args: object) -> None:
        log.info("conn#%s " + text, self.conn_id, *args)

    def follow(self, before: HttpProtocol, how: str) -> None:
        super().follow(before, how)
        self.conn_id = getattr(before, "conn_id", 0) or next_conn_id()
        self.t_accept = getattr(before, "t_accept", self.t_accept)
        self.h2.label = f"conn#{self.conn_id}"  # type: ignore[attr-defined]
        sent = self.h2.local_settings
        self._log("speaks HTTP/2 by %s; settings sent: %s", how, _settings((k, sent[k]) for k in sent))

    def take_upgrade_request(self, req: Request) -> None:
        self.h2.opened += 1  # type: ignore[attr-defined]
        self._log("stream 1 opened: %s %s (the upgraded request)", req.method, _text(req.target))
        super().take_upgrade_request(req)

    def stream_done(self, stream: H2Stream) -> None:
        if self.streams.get(stream.stream_id) is stream:
            self._log("stream %d closed", stream.stream_id)
        super().stream_done(stream)

    def send_goaway(self) -> None:
        if not (self.goaway_sent or self.closed or self.transport is None):
            self._log("GOAWAY(NO_ERROR) sent, last stream %d", self.last_stream)
        super().send_goaway()

    def connection_lost(self, exc: Exception | None) -> None:
        self._log(
            "closed after %.1f ms (HTTP/2, %d stream(s))%s",
            (perf_counter() - self.t_accept) * 1000,
            self.h2.opened,  # type: ignore[attr-defined]
            f": {exc}" if exc is not None else "",
        )
        super().connection_lost(exc)
