"""A sans-io, streaming decoder for ``multipart/form-data`` bodies (RFC 7578, RFC 2046 §5.1).

Strategy: bytes go in with :meth:`MultipartDecoder.feed`, events come out of
:meth:`MultipartDecoder.next_event` (:class:`PartStart` with the part's headers, :class:`PartData`
chunks, then :data:`END`), or :data:`NEED_DATA` when the buffer holds no complete event. Part content is
scanned with ``bytes.find`` for the delimiter ``CRLF "--" boundary``; when it is absent, everything but a
tail of ``len(delimiter) - 1`` bytes (the longest prefix of a delimiter that could still be completed)
is emitted at once. Each input byte is therefore examined a bounded number of times: a part of megabytes
without a single CR or LF costs the same as any other part of that size. The header block of a part is
searched incrementally too and bounded in size and in field count; exceeding a bound raises
:class:`MultipartLimitError` (the caller answers 413), malformed framing raises :class:`MultipartError`
(400). The decoder never touches files or sockets; :mod:`sockweb.web.formparser` drives it from a stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

__all__ = [
    "END",
    "NEED_DATA",
    "MultipartDecoder",
    "MultipartError",
    "MultipartLimitError",
    "PartData",
    "PartStart",
]

# RFC 2046 §5.1.1: boundary := 0*69<bchars> bcharsnospace; we also accept any visible ASCII but CR/LF.
MAX_BOUNDARY_LENGTH = 200
# How much linear whitespace we accept between a delimiter and its CRLF ("transport padding").
MAX_PADDING = 1024


class MultipartError(ValueError):
    """The body is not valid multipart (the request is answered 400)."""


class MultipartLimitError(MultipartError):
    """A configured bound was exceeded (the request is answered 413)."""


class _Sentinel(Enum):
    NEED_DATA = "NEED_DATA"
    END = "END"


NEED_DATA = _Sentinel.NEED_DATA
END = _Sentinel.END


@dataclass
class PartStart:
    """A new part begins; ``headers`` are ``(lowercased name, value)`` pairs in order."""

    headers: list[tuple[str, str]] = field(default_factory=list)

    def get(self, name: str, default: str | None = None) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return default


@dataclass
class PartData:
    """A chunk of the current part's content; ``more_data`` is False on the part's last chunk."""

    data: bytes
    more_data: bool


Event = PartStart | PartData | _Sentinel


class _State(Enum):
    PREAMBLE = 1
    AFTER_DELIMITER = 2
    HEADERS = 3
    DATA = 4
    DONE = 5


class MultipartDecoder:
    """Incremental multipart decoder for one body.

    ``max_header_size`` bounds one part's header block, ``max_headers`` its field count, ``max_parts`` the
    number of parts in the body.
    """

    def __init__(
        self,
        boundary: bytes,
        *,
        max_header_size: int = 8 * 1024,
        max_headers: int = 32,
        max_parts: int | None = None,
    ) -> None:
        if not boundary or len(boundary) > MAX_BOUNDARY_LENGTH or b"\r" in boundary or b"\n" in boundary:
            raise MultipartError("invalid multipart boundary")
        self._delimiter = b"\r\n--" + boundary
        self._max_header_size = max_header_size
        self._max_headers = max_headers
        self._max_parts = max_parts
        self._parts = 0
        # A CRLF is prepended so that a delimiter at the very start of the body is found like any other.
        self._buffer = bytearray(b"\r\n")
        self._state = _State.PREAMBLE
        self._header_scan_from = 0
        self._eof = False

    @property
    def complete(self) -> bool:
        """True once the close delimiter has been seen."""
        return self._state is _State.DONE

    def feed(self, data: bytes) -> None:
        """Add body bytes; ``b""`` marks the end of the body."""
        if not data:
            self._eof = True
        elif self._state is not _State.DONE:
            self._buffer += data

    def next_event(self) -> Event:
        """The next event, :data:`NEED_DATA`, or :data:`END` (repeatedly) after the close delimiter."""
        handler = self._handlers[self._state]
        event = handler(self)
        if event is NEED_DATA and self._eof:
            raise MultipartError("the multipart body ended before its closing boundary")
        return event

    # -- states -------------------------------------------------------------------------------------------

    def _preamble(self) -> Event:
        index = self._buffer.find(self._delimiter)
        if index < 0:
            # RFC 2046 §5.1.1: the preamble is ignored; keep only what could start a delimiter.
            keep = len(self._delimiter) - 1
            if len(self._buffer) > keep:
                del self._buffer[: len(self._buffer) - keep]
            return NEED_DATA
        del self._buffer[: index + len(self._delimiter)]
        self._state = _State.AFTER_DELIMITER
        return self._after_delimiter()

    def _after_delimiter(self) -> Event:
        buffer = self._buffer
        if buffer[:2] == b"--":
            # Close delimiter: everything after it is the epilogue, which is ignored.
            self._state = _State.DONE
            self._buffer = bytearray()
            return END
        # RFC 2046 §5.1.1: transport padding (LWSP) may follow a delimiter before its CRLF.
        stripped = 0
        while stripped < len(buffer) and buffer[stripped] in b" \t":
            stripped += 1
        if stripped > MAX_PADDING:
            raise MultipartError("too much padding after a multipart boundary")
        if len(buffer) - stripped < 2:
            if len(buffer) - stripped == 1 and buffer[stripped] not in b"\r-":
                raise MultipartError("malformed multipart boundary line")
            return NEED_DATA
        if buffer[stripped : stripped + 2] != b"\r\n":
            raise MultipartError("malformed multipart boundary line")
        del buffer[: stripped + 2]
        self._parts += 1
        if self._max_parts is not None and self._parts > self._max_parts:
            raise MultipartLimitError("too many parts in the multipart body")
        self._state = _State.HEADERS
        self._header_scan_from = 0
        return self._headers()

    def _headers(self) -> Event:
        buffer = self._buffer
        if buffer[:2] == b"\r\n":
            end, block = 0, b""  # a part with no header fields at all
        else:
            end = buffer.find(b"\r\n\r\n", self._header_scan_from)
            if end < 0:
                if len(buffer) > self._max_header_size:
                    raise MultipartLimitError("multipart part headers are too large")
                # Resume the search where it stopped, minus a possibly split CRLFCRLF.
                self._header_scan_from = max(0, len(buffer) - 3)
                return NEED_DATA
            if end > self._max_header_size:
                raise MultipartLimitError("multipart part headers are too large")
            block = bytes(buffer[:end])
            end += 2
        del buffer[: end + 2]
        self._state = _State.DATA
        return PartStart(self._parse_headers(block))

    def _parse_headers(self, block: bytes) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = []
        if not block:
            return headers
        lines = block.split(b"\r\n")
        if len(lines) > self._max_headers:
            raise MultipartLimitError("too many header fields in a multipart part")
        for line in lines:
            name, sep, value = line.partition(b":")
            # RFC 9112 §5.2 (obs-fold is not accepted), RFC 9110 §5.1: a field name is a token.
            if not sep or not name or name != name.strip() or line[:1] in b" \t":
                raise MultipartError("malformed header line in a multipart part")
            # RFC 7578 §5.1: header values are UTF-8 in practice (file names from browsers).
            headers.append((name.decode("latin-1").lower(), value.strip().decode("utf-8", "replace")))
        return headers

    def _data(self) -> Event:
        buffer = self._buffer
        index = buffer.find(self._delimiter)
        if index >= 0:
            data = bytes(buffer[:index])
            del buffer[: index + len(self._delimiter)]
            self._state = _State.AFTER_DELIMITER
            return PartData(data, more_data=False)
        keep = len(self._delimiter) - 1
        if len(buffer) <= keep:
            return NEED_DATA
        cut = len(buffer) - keep
        data = bytes(buffer[:cut])
        del buffer[:cut]
        return PartData(data, more_data=True)

    def _done(self) -> Event:
        return END

    _handlers = {
        _State.PREAMBLE: _preamble,
        _State.AFTER_DELIMITER: _after_delimiter,
        _State.HEADERS: _headers,
        _State.DATA: _data,
        _State.DONE: _done,
    }


def encode_multipart(
    fields: list[tuple[str, str | tuple[bytes, str | None, str | None]]], boundary: str | None = None
) -> tuple[bytes, str]:
    """Build a multipart/form-data body: ``(name, text)`` fields and ``(name, (content, filename,
    content_type))`` files. Returns ``(body, content_type_header)``. Used by the test client."""
    import os
    from urllib.parse import quote

    boundary = boundary or "sockweb-" + os.urandom(16).hex()
    out = bytearray()
    for name, value in fields:
        out += f"--{boundary}\r\n".encode()
        disposition = f'form-data; name="{_escape(name)}"'
        if isinstance(value, tuple):
            content, filename, content_type = value
            if filename is not None:
                disposition += f'; filename="{_escape(filename)}"'
                if not filename.isascii():
                    disposition += f"; filename*=UTF-8''{quote(filename, safe='')}"
            out += f"Content-Disposition: {disposition}\r\n".encode()
            out += f"Content-Type: {content_type or 'application/octet-stream'}\r\n\r\n".encode()
            out += content
        else:
            out += f"Content-Disposition: {disposition}\r\n\r\n".encode()
            out += value.encode("utf-8")
        out += b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def _escape(value: str) -> str:
    # RFC 7578 §4.2 / HTML: quotes and line breaks in names are percent-encoded, not backslash-escaped.
    return value.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
