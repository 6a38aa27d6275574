"""Small WSGI building blocks shared by Request, Response and the test client.

Strategy: each helper does one PEP 3333 chore and nothing else: :class:`LimitedStream` never reads past the
declared body length (so a handler cannot block on a keep-alive socket), :class:`ClosingIterator` makes sure
``close()`` runs after a body is sent, :class:`FileWrapper` is the portable fallback for
``wsgi.file_wrapper``, and the URL helpers rebuild the request URL from the environ per PEP 3333's recipe,
validating the Host header on the way.
"""

from __future__ import annotations

import functools
import io
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import IO, Any
from urllib.parse import quote

from .exceptions import BadRequest, ClientDisconnected, RequestEntityTooLarge, SecurityError

__all__ = [
    "ClosingIterator",
    "FileWrapper",
    "LimitedStream",
    "RangeWrapper",
    "get_content_length",
    "get_current_url",
    "get_host",
    "get_input_stream",
    "get_path_info",
    "host_is_trusted",
    "responder",
    "wrap_file",
    "wsgi_encoding_dance",
]

WSGIEnvironment = dict[str, Any]


def wsgi_encoding_dance(value: str) -> str:
    """A text value as a PEP 3333 "native string": its UTF-8 bytes, each read as one latin-1 character."""
    return value.encode("utf-8").decode("latin-1")


#: Werkzeug's (private) name for :func:`wsgi_encoding_dance`.
_wsgi_encoding_dance = wsgi_encoding_dance


class LimitedStream(io.RawIOBase):
    """A read-only stream that yields at most ``limit`` bytes of ``stream``.

    Reading past the limit returns ``b""`` (EOF). If the underlying stream ends early, the client went away:
    :class:`~sockweb.web.exceptions.ClientDisconnected` (a 400) is raised. With ``is_max=True`` the limit is
    a maximum rather than an exact size, and exceeding it raises 413 instead.
    """

    def __init__(self, stream: IO[bytes], limit: int, is_max: bool = False) -> None:
        super().__init__()
        self._stream = stream
        self.limit = limit
        self.is_max = is_max
        self._pos = 0

    def readable(self) -> bool:
        return True

    @property
    def is_exhausted(self) -> bool:
        return self._pos >= self.limit

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        wanted = min(len(view), self.limit - self._pos)
        if self.is_max and wanted == 0 and len(view) > 0:
            # Probe one byte to tell "ended at the limit" from "more data beyond the maximum".
            if self._stream.read(1):
                raise RequestEntityTooLarge()
            return 0
        if wanted <= 0:
            return 0
        try:
            data = self._stream.read(wanted)
        except (OSError, ValueError) as exc:
            # A closed or broken input stream: the client is gone, the same as an early EOF.
            raise ClientDisconnected() from exc
        if not data:
            if self.is_max:
                self.limit = self._pos
                return 0
            raise ClientDisconnected()
        view[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def on_exhausted(self) -> bytes:
        """What a read at the limit returns: ``b""`` (EOF). A subclass may raise instead."""
        return b""

    def read(self, size: int | None = -1) -> bytes:
        if size != 0 and not self.is_max and self.is_exhausted:
            return self.on_exhausted()
        if size is None or size < 0:
            chunks: list[bytes] = []
            while True:
                chunk = self._read_some(64 * 1024)
                if not chunk:
                    return b"".join(chunks)
                chunks.append(chunk)
        return self._read_some(size)

    def _read_some(self, size: int) -> bytes:
        buffer = bytearray(size)
        count = self.readinto(buffer)
        return bytes(buffer[:count])

    def readall(self) -> bytes:
        return self.read(-1)

    def exhaust(self) -> None:
        """Read and drop what is left (keeps a keep-alive connection in sync)."""
        while self._read_some(64 * 1024):
            pass

    def tell(self) -> int:
        return self._pos


def get_content_length(environ: Mapping[str, Any]) -> int | None:
    """CONTENT_LENGTH as an int, ``None`` if absent or chunked; a malformed value raises 400."""
    if environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
        return None
    raw = environ.get("CONTENT_LENGTH")
    if raw is None or raw == "":
        return None
    # RFC 9110 §8.6: Content-Length = 1*DIGIT.
    if not str(raw).strip().isdigit() or not str(raw).strip().isascii():
        raise BadRequest("The Content-Length header is not a number.")
    return int(raw)


def get_input_stream(environ: Mapping[str, Any], max_content_length: int | None = None) -> IO[bytes]:
    """``wsgi.input`` wrapped so that it ends at the body's end.

    Servers that set ``wsgi.input_terminated`` deliver EOF themselves (chunked bodies); otherwise the
    stream is limited to Content-Length, and a body without a length is treated as empty (PEP 3333).
    """
    stream: IO[bytes] = environ.get("wsgi.input") or io.BytesIO()
    length = get_content_length(environ)
    if max_content_length is not None and length is not None and length > max_content_length:
        raise RequestEntityTooLarge()
    if environ.get("wsgi.input_terminated"):
        # The server ends the stream itself; wrap it anyway so callers get one uniform stream type.
        limit = max_content_length if max_content_length is not None else sys.maxsize
        return io.BufferedReader(LimitedStream(stream, limit, is_max=True))
    return io.BufferedReader(LimitedStream(stream, length or 0))


class ClosingIterator:
    """Iterates ``iterable``; ``close()`` closes it, then runs ``callbacks`` (all of it at most once).

    ``callbacks`` is one callable or several. ``next()`` works on the object as on any iterator.
    """

    def __init__(
        self,
        iterable: Iterable[bytes],
        callbacks: Callable[[], object] | Iterable[Callable[[], object]] = (),
    ) -> None:
        self._iterable = iterable
        self._iterator: Iterator[bytes] | None = None
        self._callbacks = [callbacks] if callable(callbacks) else list(callbacks)
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        # The wrapped iterator itself, not self: a server's ``for chunk in body`` then pays no extra call
        # per chunk. ``next(self)`` advances that same iterator.
        if self._iterator is None:
            self._iterator = iter(self._iterable)
        return self._iterator

    def __next__(self) -> bytes:
        return next(iter(self))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        callbacks: list[Callable[[], object]] = []
        close = getattr(self._iterable, "close", None)
        if close is not None:
            callbacks.append(close)
        callbacks.extend(self._callbacks)
        error: BaseException | None = None
        for callback in callbacks:
            try:
                callback()
            except BaseException as exc:  # run every callback, re-raise the first failure afterwards
                error = error or exc
        if error is not None:
            raise error


class FileWrapper:
    """Iterate a binary file in blocks; the portable stand-in for ``wsgi.file_wrapper``."""

    def __init__(self, file: IO[bytes], buffer_size: int = 64 * 1024) -> None:
        self.file = file
        self.buffer_size = buffer_size

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        data = self.file.read(self.buffer_size)
        if data:
            return data
        raise StopIteration

    def close(self) -> None:
        self.file.close()

    def seekable(self) -> bool:
        """Whether the file can seek (a :class:`RangeWrapper` then skips by seeking, not reading)."""
        seekable = getattr(self.file, "seekable", None)
        return bool(seekable()) if seekable is not None else hasattr(self.file, "seek")

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self.file.seek(offset, whence)

    def tell(self) -> int:
        return self.file.tell()


class RangeWrapper:
    """Iterates the bytes ``start_byte`` to ``start_byte + byte_range`` (or the end) of a body iterable.

    A seekable iterable (a :class:`FileWrapper` over a regular file) is positioned by ``seek``; any other
    is read and its leading bytes dropped. ``close()`` closes the wrapped iterable.
    """

    def __init__(self, iterable: Iterable[bytes], start_byte: int = 0, byte_range: int | None = None) -> None:
        self.iterable = iterable
        self._iterator = iter(iterable)
        self.start_byte = start_byte
        self.end_byte = None if byte_range is None else start_byte + byte_range
        seekable = getattr(iterable, "seekable", None)
        self.seekable = bool(seekable()) if callable(seekable) else False
        self._position: int | None = None  # offset of the next chunk of the wrapped iterable

    def __iter__(self) -> RangeWrapper:
        return self

    def __next__(self) -> bytes:
        if self._position is None:
            self._position = 0
            if self.seekable:
                self.iterable.seek(self.start_byte)  # type: ignore[attr-defined]
                self._position = self.start_byte
        while True:
            begin = max(self._position, self.start_byte)
            if self.end_byte is not None and begin >= self.end_byte:
                raise StopIteration
            chunk = next(self._iterator)
            chunk_start = self._position
            self._position += len(chunk)
            stop = self._position if self.end_byte is None else min(self._position, self.end_byte)
            piece = chunk[begin - chunk_start : stop - chunk_start] if stop > begin else b""
            if piece:
                return piece

    def close(self) -> None:
        close = getattr(self.iterable, "close", None)
        if close is not None:
            close()


#: Werkzeug's (private) name for :class:`RangeWrapper`.
_RangeWrapper = RangeWrapper


def wrap_file(environ: Mapping[str, Any], file: IO[bytes], buffer_size: int = 64 * 1024) -> Iterable[bytes]:
    """The server's ``wsgi.file_wrapper`` for ``file`` (zero-copy where supported) or a FileWrapper."""
    wrapper = environ.get("wsgi.file_wrapper")
    if wrapper is not None:
        return wrapper(file, buffer_size)  # type: ignore[no-any-return]
    return FileWrapper(file, buffer_size)


# RFC 9110 §7.2 / RFC 3986 §3.2.2: host = IP-literal / IPv4address / reg-name, then an optional port.
# reg-name would also allow sub-delims and %-escapes; no real host name uses them, and refusing them keeps
# values such as "a.com,b.com" out of generated URLs.
_host_re = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~]+)(?::(\d{0,5}))?\Z", re.ASCII)


def get_host(environ: Mapping[str, Any], trusted_hosts: Iterable[str] | None = None) -> str:
    """The request's host (with a port only when it is not the scheme's default), validated.

    Raises :class:`~sockweb.web.exceptions.SecurityError` (400) for a malformed Host header, or for a host
    outside ``trusted_hosts`` (entries starting with ``.`` also match subdomains).
    """
    scheme = environ.get("wsgi.url_scheme", "http")
    host = environ.get("HTTP_HOST")
    if host is None:
        host = environ.get("SERVER_NAME", "localhost")
        port = str(environ.get("SERVER_PORT", ""))
        if port and (scheme, port) not in (("http", "80"), ("https", "443")):
            host = f"{host}:{port}"
    host = host.strip()
    match = _host_re.match(host)
    # RFC 3986 §3.2.3: port = *DIGIT, so "host:" is the host with its default port.
    if not match or (match.group(1) and int(match.group(1)) > 65535):
        raise SecurityError(f"The Host header {host!r} is not a valid host.")
    if match.group(1) == "":
        host = host[:-1]
    if host.endswith(":80") and scheme == "http":
        host = host[:-3]
    elif host.endswith(":443") and scheme == "https":
        host = host[:-4]
    if trusted_hosts is not None and not host_is_trusted(host, trusted_hosts):
        raise SecurityError(f"The host {host!r} is not trusted.")
    return host


def _split_port(host: str) -> tuple[str, str | None]:
    """``("name", "port")`` of ``name:port``; the port is ``None`` when absent (``[::1]`` has none)."""
    name, sep, port = host.rpartition(":")
    if not sep or name.endswith(":") or "]" in port or (name.startswith("[") and not name.endswith("]")):
        return host, None
    return name, port


def host_is_trusted(host: str, trusted_hosts: Iterable[str]) -> bool:
    """Is ``host`` one of ``trusted_hosts``? ``.example.com`` allows subdomains too. An entry without a
    port matches any port; an entry with one (``example.com:8080``) only that port."""
    name, port = _split_port(host.lower())
    name = name.rstrip(".")
    for entry in trusted_hosts:
        trusted, trusted_port = _split_port(entry.lower())
        if trusted_port is not None and trusted_port != port:
            continue
        if trusted.startswith("."):
            if name == trusted[1:] or name.endswith(trusted):
                return True
        elif name == trusted:
            return True
    return False


def get_path_info(environ: Mapping[str, Any]) -> str:
    """PATH_INFO as text: the PEP 3333 latin-1 string turned back into its bytes and decoded as UTF-8
    (undecodable bytes become U+FFFD)."""
    return str(environ.get("PATH_INFO", "")).encode("latin-1").decode("utf-8", "replace")


def responder(view: Callable[..., Any]) -> Callable[..., Iterable[bytes]]:
    """Turn a function that returns a WSGI application (a Response, say) into a WSGI application.

    The function gets the call's arguments unchanged (so it may be a method: ``self, environ,
    start_response``); what it returns is then called with the last two of them.
    """

    @functools.wraps(view)
    def application(*args: Any) -> Iterable[bytes]:
        environ, start_response = args[-2:]
        return view(*args)(environ, start_response)  # type: ignore[no-any-return]

    return application


def _wsgi_to_url_path(value: str) -> str:
    """Re-encode a WSGI path for a URL. PATH_INFO is already percent-decoded, so "%" itself is encoded
    again (``/a%253F`` stays ``/a%253F``), as are "?" and "#"."""
    return quote(value.encode("latin-1"), safe="/:@!$&'()*+,;=~-._")


def get_current_url(
    environ: Mapping[str, Any],
    root_only: bool = False,
    strip_querystring: bool = False,
    host_only: bool = False,
    trusted_hosts: Iterable[str] | None = None,
) -> str:
    """Rebuild the request URL (PEP 3333 "URL Reconstruction"), or its root or host part."""
    url = f"{environ.get('wsgi.url_scheme', 'http')}://{get_host(environ, trusted_hosts)}"
    if host_only:
        return url + "/"
    url += _wsgi_to_url_path(environ.get("SCRIPT_NAME", "")).rstrip("/") + "/"
    if root_only:
        return url
    url += _wsgi_to_url_path(environ.get("PATH_INFO", "")).lstrip("/")
    query = environ.get("QUERY_STRING", "")
    if query and not strip_querystring:
        url += "?" + quote(query.encode("latin-1"), safe="=&;%+!$'()*,/:?@[]~")
    return url
