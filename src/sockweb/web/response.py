"""The outgoing response: status, headers and a body, usable directly as a WSGI application.

Strategy: the body is kept in one of three shapes and never converted earlier than needed: a list of
bytes (known length: Content-Length is set), an arbitrary iterable (streamed as it is produced), or a
binary file (handed to the server's ``wsgi.file_wrapper`` for zero-copy sending, and seekable for ranges).
Headers live in a :class:`~sockweb.web.datastructures.Headers`, so values are validated when set.
:meth:`Response.make_conditional` applies RFC 9110 preconditions (304/412) and byte ranges (206/416);
:func:`send_file` builds a conditional file response from a path or file object.
"""

from __future__ import annotations

import html
import io
import json
import mimetypes
import os
import unicodedata
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from typing import IO, Any, Literal, cast, overload
from urllib.parse import quote, urljoin

from .datastructures import Headers
from .exceptions import status_name
from .httputil import (
    CacheControl,
    ContentRange,
    dump_cookie,
    dump_options_header,
    evaluate_preconditions,
    generate_etag,
    http_date,
    if_range_matches,
    parse_cache_control,
    parse_date,
    parse_options_header,
    parse_range_header,
    quote_etag,
    unquote_etag,
)
from .mappings import CallbackDict
from .response_fields import ResponseFields
from .urls import iri_to_uri
from .wsgi_util import ClosingIterator, FileWrapper, get_current_url

__all__ = ["Response", "redirect", "send_file", "send_from_directory"]

WSGIEnvironment = dict[str, Any]
StartResponse = Callable[..., Callable[[bytes], object]]
HeadersInput = Headers | Mapping[str, Any] | Iterable[tuple[str, Any]]

# RFC 9110 §15.3.5, §15.4.5: these statuses never carry content.
_NO_BODY_STATUSES = frozenset({204, 304})
_BLOCK_SIZE = 64 * 1024
# Headers holding a URL: an IRI in them is sent IRI->URI encoded (RFC 3987 §3.1), since a WSGI header value
# must be latin-1 and a browser expects a URI there (RFC 9110 §10.2.2).
_URL_HEADERS = ("Location", "Content-Location")
# Media types that are text although not text/*: they get a charset parameter too.
_TEXT_LIKE = frozenset({"application/javascript", "application/ecmascript", "application/xml"})


def _wants_charset(mimetype: str) -> bool:
    return mimetype.startswith("text/") or mimetype in _TEXT_LIKE or mimetype.endswith("+xml")


class Response(ResponseFields):
    """An HTTP response. ``response`` may be ``str``, ``bytes``, an iterable of either, or a binary file.

    ``status`` is an int (``404``) or a full status line (``"404 Not Found"``). Without ``mimetype`` or
    ``content_type`` (and no Content-Type in ``headers``), the body is ``text/plain``; ``text/*`` types
    get ``; charset=utf-8``. ``direct_passthrough=True`` hands an iterable to the server untouched.
    """

    charset = "utf-8"
    default_status = 200
    default_mimetype: str | None = "text/plain"
    automatically_set_content_length = True
    #: Send a relative ``Location`` as an absolute URL resolved against the request URL. Off by default:
    #: RFC 9110 §10.2.2 allows relative references, and only the request knows the right absolute base
    #: (behind a proxy, after :class:`~.middleware.proxy_fix.ProxyFix`).
    autocorrect_location_header = False
    #: Buffer a streamed body into a list when it is read as a whole (:meth:`get_data`) or written to
    #: (:attr:`stream`); ``False`` makes those raise ``RuntimeError`` instead, for bodies too big to hold.
    implicit_sequence_conversion = True
    #: what :meth:`get_json` parses with
    json_module: Any = json

    def __init__(
        self,
        response: str | bytes | bytearray | Iterable[bytes] | Iterable[str] | IO[bytes] | None = None,
        status: int | str | None = None,
        headers: HeadersInput | None = None,
        mimetype: str | None = None,
        content_type: str | None = None,
        *,
        direct_passthrough: bool = False,
    ) -> None:
        self.headers = headers if isinstance(headers, Headers) else Headers(headers)
        if content_type is None:
            if mimetype is None and "Content-Type" not in self.headers:
                mimetype = self.default_mimetype
            if mimetype is not None:
                content_type = self._content_type_for(mimetype)
        if content_type is not None:
            self.headers.set("Content-Type", content_type)
        self.status = status if status is not None else self.default_status
        self.direct_passthrough = direct_passthrough
        self._on_close: list[Callable[[], object]] = []
        self.file: IO[bytes] | None = None
        self._file_start = 0  # ranges count from the file position the body started at
        self.response: Iterable[bytes] | Iterable[str] = []
        if response is None:
            self.response = []  # no body yet: Content-Length is computed when sent, after any writes
        elif isinstance(response, (str, bytes, bytearray)):
            self.set_data(response)
        elif hasattr(response, "read"):
            self.file = cast("IO[bytes]", response)
            self.response = FileWrapper(self.file)
            try:
                self._file_start = self.file.tell()
            except (AttributeError, OSError, ValueError):
                self._file_start = 0
        else:
            self.response = response

    @classmethod
    def from_app(
        cls, app: Callable[..., Iterable[bytes]], environ: WSGIEnvironment, buffered: bool = False
    ) -> Response:
        """Run a WSGI application and capture what it answers as a Response.

        The body is read into memory now; ``buffered`` is accepted for callers written against the
        streaming variant, which only differs in when the application's iterable is consumed.
        """
        from .testing import run_wsgi_app

        app_iter, status, headers = run_wsgi_app(app, environ, buffered=True)
        typed = headers.get("Content-Type") is not None
        response = cls([b"".join(cls._encoded_items(app_iter, cls.charset))], status, headers)
        if not typed:
            response.headers.remove("Content-Type")  # keep exactly the application's headers
        return response

    @classmethod
    def force_type(cls, response: Any, environ: WSGIEnvironment | None = None) -> Response:
        """``response`` as an instance of this class.

        Another :class:`Response` keeps its state and takes this class (so a subclass's methods apply);
        any other WSGI application is run against ``environ`` (required then) and its answer captured.
        """
        if not isinstance(response, Response):
            if environ is None:
                raise TypeError("a WSGI application can only be converted to a Response with an environ")
            return cls.from_app(response, environ)
        if not isinstance(response, cls):
            response.__class__ = cls
        return response

    def _content_type_for(self, mimetype: str) -> str:
        if _wants_charset(mimetype) and "charset" not in mimetype.lower():
            return f"{mimetype}; charset={self.charset}"
        return mimetype

    def __repr__(self) -> str:
        size = f"{len(self.get_data())} bytes" if not self.is_streamed else "streamed"
        return f"<{type(self).__name__} {size} [{self.status}]>"

    # -- status ---------------------------------------------------------------------------------------------

    @property
    def status(self) -> str:
        """The status line, e.g. ``"200 OK"``. Accepts an int or ``"NNN Reason"`` on assignment."""
        return self._status

    @status.setter
    def status(self, value: int | str) -> None:
        if isinstance(value, int):
            code, reason = value, status_name(value)
        else:
            text = str(value).strip()
            if not text:
                raise ValueError("Empty status argument")
            head, _, reason = text.partition(" ")
            # isascii: str.isdigit() also accepts other scripts' digits, which int() may reject.
            if not (len(head) == 3 and head.isascii() and head.isdigit()):
                raise ValueError(f"invalid status {value!r}")
            code = int(head)
            reason = reason.strip() or status_name(code)
        if not 100 <= code <= 999:
            raise ValueError(f"status code out of range: {code}")
        if any(char in reason for char in "\r\n\x00"):
            raise ValueError(f"invalid reason phrase {reason!r}")
        self._status_code = code
        self._status = f"{code} {reason}"

    @property
    def status_code(self) -> int:
        return self._status_code

    @status_code.setter
    def status_code(self, code: int) -> None:
        self.status = code

    # -- body -----------------------------------------------------------------------------------------------

    @property
    def is_streamed(self) -> bool:
        """True when the body length is unknown until it is iterated (a generator, a file)."""
        return not isinstance(self.response, (list, tuple))

    @property
    def is_sequence(self) -> bool:
        """True when the body is a list or tuple of chunks (its length is known without iterating)."""
        return isinstance(self.response, (list, tuple))

    @overload
    def get_data(self, as_text: Literal[False] = False) -> bytes: ...
    @overload
    def get_data(self, as_text: Literal[True]) -> str: ...
    @overload
    def get_data(self, as_text: bool) -> bytes | str: ...

    def get_data(self, as_text: bool = False) -> bytes | str:
        """The whole body; a streamed body is consumed and kept, so later calls return it again."""
        self._ensure_sequence()
        data = b"".join(self._encoded(self.response))
        return data.decode(self.charset, "replace") if as_text else data

    def set_data(self, value: str | bytes | bytearray) -> None:
        """Replace the body; Content-Length follows."""
        data = value.encode(self.charset) if isinstance(value, str) else bytes(value)
        self.file = None
        self.response = [data]
        if self.automatically_set_content_length:
            self.headers.set("Content-Length", str(len(data)))

    @property
    def data(self) -> bytes:
        return self.get_data()

    @data.setter
    def data(self, value: str | bytes) -> None:
        self.set_data(value)

    @property
    def text(self) -> str:
        return self.get_data(as_text=True)

    def _ensure_sequence(self, mutable: bool = False) -> None:
        if self.is_sequence:
            if mutable and not isinstance(self.response, list):
                chunks: list[Any] = list(self.response)
                self.response = chunks
            return
        if not self.implicit_sequence_conversion:
            raise RuntimeError(
                "the body is streamed and implicit_sequence_conversion is off: call make_sequence() first"
            )
        self.make_sequence()

    def make_sequence(self) -> None:
        """Read a streamed body into a list of encoded chunks (closing the original iterable)."""
        if self.is_sequence:
            return
        chunks = list(self._encoded(self.response))
        self._close_body()
        self.file = None
        self.response = chunks
        if self.automatically_set_content_length:
            self.headers.set("Content-Length", str(sum(len(chunk) for chunk in chunks)))

    def _encoded(self, iterable: Iterable[bytes] | Iterable[str]) -> Iterator[bytes]:
        return self._encoded_items(iterable, self.charset)

    @staticmethod
    def _encoded_items(iterable: Iterable[bytes] | Iterable[str], charset: str) -> Iterator[bytes]:
        for item in iterable:
            if isinstance(item, str):
                yield item.encode(charset)
            elif isinstance(item, (bytes, bytearray, memoryview)):
                yield bytes(item)
            else:
                raise TypeError(f"response body items must be bytes or str, not {type(item).__name__}")

    def iter_encoded(self) -> Iterator[bytes]:
        return self._encoded(self.response)

    @property
    def stream(self) -> ResponseStream:
        """A write-only file object appending to the body (``zipfile.ZipFile(response.stream, "w")``)."""
        return ResponseStream(self)

    def calculate_content_length(self) -> int | None:
        """The body's length in bytes, or ``None`` for a streamed body (which is not consumed)."""
        if not self.is_sequence:
            return None
        return sum(len(chunk) for chunk in self._encoded(self.response))

    def freeze(self, no_etag: bool = False) -> None:
        """Buffer the body (a generator is consumed), set Content-Length and, unless ``no_etag``, an ETag
        computed from the body: the response can then be pickled, cached or served more than once."""
        self.make_sequence()  # a streamed body is read and its iterable or file closed
        self.response = list(self._encoded(self.response))
        self.headers.set("Content-Length", str(sum(len(chunk) for chunk in self.response)))
        if not no_etag:
            self.add_etag()

    # -- JSON -----------------------------------------------------------------------------------------------

    @property
    def is_json(self) -> bool:
        """True for ``application/json`` and ``application/*+json`` bodies."""
        mimetype = self.mimetype or ""
        return mimetype == "application/json" or (
            mimetype.startswith("application/") and mimetype.endswith("+json")
        )

    @property
    def json(self) -> Any:
        """The body parsed as JSON (``None`` when the content type is not JSON)."""
        return self.get_json()

    def get_json(self, force: bool = False, silent: bool = False) -> Any:
        """The body parsed as JSON; ``None`` for another content type unless ``force``. With ``silent``,
        a body that does not parse is ``None`` too, else the parser's ``ValueError`` propagates (a
        response is the application's own output, so there is no client to answer with a 400)."""
        if not (force or self.is_json):
            return None
        try:
            return self.json_module.loads(self.get_data())
        except ValueError:
            if not silent:
                raise
            return None

    # -- headers as properties ------------------------------------------------------------------------------

    @property
    def content_type(self) -> str | None:
        return self.headers.get("Content-Type")

    @content_type.setter
    def content_type(self, value: str | None) -> None:
        if value is None:
            self.headers.remove("Content-Type")
        else:
            self.headers.set("Content-Type", value)

    @property
    def mimetype(self) -> str | None:
        """The media type without parameters; setting it adds the charset for text types."""
        value = self.content_type
        return parse_options_header(value)[0] if value else None

    @mimetype.setter
    def mimetype(self, value: str) -> None:
        self.headers.set("Content-Type", self._content_type_for(value))

    @property
    def mimetype_params(self) -> dict[str, str]:
        """The Content-Type parameters; changing the dict rewrites the header."""

        def sync(params: CallbackDict[str, str]) -> None:
            self.headers.set("Content-Type", dump_options_header(self.mimetype or "", params))

        return CallbackDict(parse_options_header(self.content_type)[1], sync)

    @property
    def content_length(self) -> int | None:
        return self.headers.get("Content-Length", type=int)

    @content_length.setter
    def content_length(self, value: int | None) -> None:
        if value is None:
            self.headers.remove("Content-Length")
        else:
            self.headers.set("Content-Length", str(int(value)))

    @property
    def location(self) -> str | None:
        return self.headers.get("Location")

    @location.setter
    def location(self, value: str) -> None:
        self.headers.set("Location", value)

    def _date_header(self, name: str) -> datetime | None:
        return parse_date(self.headers.get(name))

    def _set_date_header(self, name: str, value: datetime | float | str | None) -> None:
        if value is None:
            self.headers.remove(name)
        else:
            self.headers.set(name, value if isinstance(value, str) else http_date(value))

    @property
    def last_modified(self) -> datetime | None:
        return self._date_header("Last-Modified")

    @last_modified.setter
    def last_modified(self, value: datetime | float | str | None) -> None:
        self._set_date_header("Last-Modified", value)

    @property
    def expires(self) -> datetime | None:
        return self._date_header("Expires")

    @expires.setter
    def expires(self, value: datetime | float | str | None) -> None:
        self._set_date_header("Expires", value)

    @property
    def cache_control(self) -> CacheControl:
        """The Cache-Control directives; attribute writes update the header."""

        def sync(control: CacheControl) -> None:
            if control:
                self.headers.set("Cache-Control", control.to_header())
            else:
                self.headers.remove("Cache-Control")

        return parse_cache_control(self.headers.get("Cache-Control"), on_update=sync)

    def get_etag(self) -> tuple[str, bool] | tuple[None, None]:
        """``(tag, is_weak)`` from the ETag header, ``(None, None)`` if unset or malformed."""
        tag, weak = unquote_etag(self.headers.get("ETag"))
        return (None, None) if tag is None else (tag, weak)

    def set_etag(self, etag: str, weak: bool = False) -> None:
        self.headers.set("ETag", quote_etag(etag, weak))

    def add_etag(self, overwrite: bool = False, weak: bool = False) -> None:
        """Set an ETag computed from the body (buffers a streamed body)."""
        if overwrite or "ETag" not in self.headers:
            self.set_etag(generate_etag(self.get_data()), weak)

    # -- cookies --------------------------------------------------------------------------------------------

    def set_cookie(
        self,
        key: str,
        value: str = "",
        *,
        max_age: timedelta | int | None = None,
        expires: str | datetime | float | None = None,
        path: str | None = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: str | None = None,
    ) -> None:
        """Add a Set-Cookie header (see :func:`~sockweb.web.httputil.dump_cookie`)."""
        self.headers.add(
            "Set-Cookie",
            dump_cookie(
                key,
                value,
                max_age=max_age,
                expires=expires,
                path=path,
                domain=domain,
                secure=secure,
                httponly=httponly,
                samesite=samesite,
            ),
        )

    def delete_cookie(
        self,
        key: str,
        *,
        path: str | None = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: str | None = None,
    ) -> None:
        """Tell the client to drop a cookie (same path/domain as when it was set)."""
        self.set_cookie(
            key,
            expires=0,
            max_age=0,
            path=path,
            domain=domain,
            secure=secure,
            httponly=httponly,
            samesite=samesite,
        )

    # -- closing --------------------------------------------------------------------------------------------

    def call_on_close(self, func: Callable[[], object]) -> Callable[[], object]:
        """Run ``func`` when the server closes the body (after the response is sent). Usable as decorator."""
        self._on_close.append(func)
        return func

    def _close_body(self) -> None:
        close = getattr(self.response, "close", None)
        if close is not None:
            close()
        if self.file is not None:
            self.file.close()

    def close(self) -> None:
        """Close the body and run the :meth:`call_on_close` callbacks."""
        iterator = ClosingIterator([], [self._close_body, *self._on_close])
        self._on_close = []
        iterator.close()

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- WSGI -----------------------------------------------------------------------------------------------

    def get_wsgi_headers(self, environ: WSGIEnvironment) -> Headers:
        """The headers to send for ``environ``; bodiless statuses lose Content-Type and Content-Length."""
        headers = self.headers.copy()
        location = headers.get("Location")
        if location is not None and self.autocorrect_location_header:
            headers.set("Location", urljoin(get_current_url(environ, strip_querystring=True), location))
        for name in _URL_HEADERS:
            value = headers.get(name)
            # A backslash is encoded too: browsers read "/\\evil.example" as "//evil.example", a
            # redirect to another host (the WHATWG URL parser reads "\\" as "/" in http(s) URLs).
            if value is not None and (not value.isascii() or "\\" in value):
                headers.set(name, iri_to_uri(value))
        if self.status_code in _NO_BODY_STATUSES or self.status_code < 200:
            headers.remove("Content-Type")
            headers.remove("Content-Length")
        elif (
            self.automatically_set_content_length
            and not self.is_streamed
            and not self.direct_passthrough
            and "Content-Length" not in headers
        ):
            # A list body assigned directly (``response.response = [...]``) still has a known length.
            headers.set("Content-Length", str(sum(len(chunk) for chunk in self._encoded(self.response))))
        return headers

    def get_app_iter(self, environ: WSGIEnvironment) -> Iterable[bytes]:
        """The body iterable for ``environ``: empty for HEAD and bodiless statuses, the server's file
        wrapper for whole files, encoded chunks otherwise."""
        method = environ.get("REQUEST_METHOD", "GET")
        if method == "HEAD" or self.status_code in _NO_BODY_STATUSES or self.status_code < 200:
            return []
        if self.file is not None and isinstance(self.response, FileWrapper):
            wrapper = environ.get("wsgi.file_wrapper")
            if wrapper is not None:
                return wrapper(self.file, _BLOCK_SIZE)  # type: ignore[no-any-return]
            return self.response
        if self.direct_passthrough:
            return self.response  # type: ignore[return-value]
        return self._encoded(self.response)

    def get_wsgi_response(
        self, environ: WSGIEnvironment
    ) -> tuple[Iterable[bytes], str, list[tuple[str, str]]]:
        headers = self.get_wsgi_headers(environ)
        app_iter = self.get_app_iter(environ)
        return ClosingIterator(app_iter, [self.close]), self.status, headers.to_wsgi_list()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Serve this response as a WSGI application."""
        app_iter, status, headers = self.get_wsgi_response(environ)
        start_response(status, headers)
        return app_iter

    # -- conditional and range requests ---------------------------------------------------------------------

    def make_conditional(
        self,
        request_or_environ: Any,
        accept_ranges: bool | str = False,
        complete_length: int | None = None,
    ) -> Response:
        """Answer preconditions (RFC 9110 §13.2.2: 304 or 412) and byte ranges (§14: 206 or 416).

        Uses this response's ETag and Last-Modified. Ranges apply to 200 responses of GET requests whose
        body is bytes or a seekable file; several ranges produce ``multipart/byteranges``.
        """
        environ: Mapping[str, Any] = getattr(request_or_environ, "environ", request_or_environ)
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if not 200 <= self.status_code < 300:
            return self
        if "Date" not in self.headers:
            # RFC 9110 §6.6.1: an origin server with a clock sends Date; a 304 needs it to be cacheable.
            self.headers.set("Date", http_date(datetime.now(timezone.utc)))
        etag, weak = self.get_etag()
        weak = bool(weak)
        last_modified = self.last_modified
        outcome = evaluate_preconditions(environ, (etag, weak) if etag else None, last_modified)
        if outcome is not None:
            self._drop_body(outcome)
            return self
        if accept_ranges:
            self.headers.set("Accept-Ranges", "bytes" if accept_ranges is True else accept_ranges)
        if not accept_ranges or method != "GET" or self.status_code != 200:
            return self
        ranges = parse_range_header(environ.get("HTTP_RANGE"))
        # RFC 9110 §14.2: a Range in a unit other than bytes is ignored.
        if ranges is None or ranges.units != "bytes":
            return self
        if not if_range_matches(environ, None if weak else etag, last_modified):
            return self
        length = complete_length if complete_length is not None else self._body_length()
        if length is None:
            return self
        spans = ranges.resolve(length)
        if spans is None:
            self._drop_body(416)
            self.headers.set("Content-Range", ContentRange("bytes", None, None, length).to_header())
            self.headers.set("Content-Length", "0")
            return self
        if len(spans) == 1:
            start, stop = spans[0]
            self._set_range_body([(start, stop)], length, None)
            self.headers.set("Content-Range", ContentRange("bytes", start, stop, length).to_header())
        else:
            self._set_range_body(spans, length, self.content_type)
        self.status_code = 206
        return self

    def _drop_body(self, status: int) -> None:
        self._close_body()
        self.file = None
        self.response = []
        self.status_code = status
        self.headers.remove("Content-Length")
        if status not in _NO_BODY_STATUSES:
            self.headers.set("Content-Length", "0")

    def _body_length(self) -> int | None:
        if not self.is_streamed:
            return sum(len(chunk) for chunk in self._encoded(self.response))
        if self.file is not None:
            try:
                position = self.file.tell()
                size = self.file.seek(0, os.SEEK_END)
                self.file.seek(position)
                return size - position
            except (OSError, ValueError):
                return None
        return None

    def _read_span(self, start: int, stop: int) -> Iterator[bytes]:
        if self.file is None:
            data = b"".join(self._encoded(self.response))
            yield data[start:stop]
            return
        file = self.file
        file.seek(self._file_start + start)
        remaining = stop - start
        while remaining > 0:
            chunk = file.read(min(remaining, _BLOCK_SIZE))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk

    def _set_range_body(self, spans: list[tuple[int, int]], length: int, content_type: str | None) -> None:
        if self.file is None:
            self._ensure_sequence()
        if content_type is None:
            start, stop = spans[0]
            body: Iterable[bytes] = self._read_span(start, stop)
            size = stop - start
        else:
            boundary = os.urandom(12).hex()
            parts: list[tuple[bytes, int, int]] = []
            size = 0
            for start, stop in spans:
                head = (
                    f"\r\n--{boundary}\r\nContent-Type: {content_type}\r\n"
                    f"Content-Range: {ContentRange('bytes', start, stop, length).to_header()}\r\n\r\n"
                ).encode("latin-1")
                parts.append((head, start, stop))
                size += len(head) + stop - start
            tail = f"\r\n--{boundary}--\r\n".encode("latin-1")
            size += len(tail)
            body = self._multipart_body(parts, tail)
            self.headers.set("Content-Type", f"multipart/byteranges; boundary={boundary}")
        file = self.file
        self.response = list(body) if file is None else _FileRangeIterable(body, file)
        self.headers.set("Content-Length", str(size))

    def _multipart_body(self, parts: list[tuple[bytes, int, int]], tail: bytes) -> Iterator[bytes]:
        for head, start, stop in parts:
            yield head
            yield from self._read_span(start, stop)
        yield tail


class _FileRangeIterable:
    """A generator over parts of a file that closes the file with the body."""

    def __init__(self, body: Iterable[bytes], file: IO[bytes]) -> None:
        self._body = body
        self._file = file

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body)

    def close(self) -> None:
        self._file.close()


# redirect()'s keyword shadows the class name inside it
_Response = Response


def redirect(location: str, code: int = 302, Response: type[Response] | None = None) -> Response:
    """A redirect to ``location`` with a short HTML body linking to it (for clients that show bodies).

    ``Response`` is the class to build (default :class:`Response`); werkzeug spells the keyword so.
    """
    if not 300 <= code < 400:
        raise ValueError(f"not a redirect status: {code}")
    link = html.escape(location, quote=True)
    body = (
        f'<!DOCTYPE html>\n<title>Redirecting</title>\n<p>Redirecting to <a href="{link}">{link}</a>.</p>\n'
    )
    response = (Response or _Response)(body, code, mimetype="text/html")
    response.headers.set("Location", location)
    return response


def _content_disposition(kind: str, name: str) -> str:
    """RFC 6266: an ASCII ``filename`` fallback, plus ``filename*`` (RFC 8187) for non-ASCII names."""
    # The fallback keeps the letters of accented characters (NFKD splits off the accent) and drops the rest.
    fallback = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    if fallback == name:
        return dump_options_header(kind, {"filename": name})
    return dump_options_header(kind, {"filename": fallback}) + f"; filename*=UTF-8''{quote(name, safe='')}"


MaxAge = int | Callable[[str | None], int | None] | None


def send_file(
    path_or_file: str | os.PathLike[str] | IO[bytes],
    environ: Mapping[str, Any],
    *,
    mimetype: str | None = None,
    as_attachment: bool = False,
    download_name: str | None = None,
    conditional: bool = True,
    etag: bool | str = True,
    max_age: MaxAge = None,
    last_modified: datetime | float | None = None,
    use_x_sendfile: bool = False,
    response_class: type[Response] | None = None,
    _root_path: str | os.PathLike[str] | None = None,
) -> Response:
    """A response streaming a file, with type, disposition, validators and conditional/range handling.

    The file is opened here and closed when the response is closed. For a path, ETag and Last-Modified come
    from the file's size and mtime; for a file object, only what can be measured (``etag=str`` sets one).
    ``max_age`` may be a callable of the path. ``use_x_sendfile`` (paths only) sends an ``X-Sendfile``
    header and no body, for a front server that sends the file itself. A file object needs a ``mimetype``
    or a ``download_name`` to guess it from (``TypeError`` otherwise); a text-mode file is a ``ValueError``.
    """
    file: IO[bytes] | None = None
    size: int | None = None
    path: str | None = None
    if isinstance(path_or_file, (str, os.PathLike)):
        path = os.fspath(path_or_file)
        if _root_path is not None and not os.path.isabs(path):
            path = os.path.join(os.fspath(_root_path), path)
        stat = os.stat(path)
        size = stat.st_size
        if last_modified is None:
            last_modified = stat.st_mtime
    else:
        if isinstance(path_or_file, io.TextIOBase):
            raise ValueError("files must be opened in binary mode")
        file = path_or_file
        size = _remaining_size(file)
    name = download_name or (os.path.basename(path) if path else None)
    encoding: str | None = None
    if mimetype is None:
        if name is None:
            raise TypeError(
                "Unable to detect the MIME type because a file name is not available. Pass "
                "'download_name' or 'mimetype'."
            )
        guessed, encoding = mimetypes.guess_type(name)
        mimetype = guessed or "application/octet-stream"
    if path is not None and use_x_sendfile:
        response = (response_class or Response)(None, mimetype=mimetype)
        response.headers.set("X-Sendfile", path)
        response.content_length = size
    else:
        if file is None:
            assert path is not None
            file = open(path, "rb")  # noqa: SIM115 - closed by the response
        response = (response_class or Response)(file, mimetype=mimetype, direct_passthrough=True)
        if size is not None:
            response.content_length = size
    if as_attachment or name:
        if as_attachment and not name:
            raise TypeError("as_attachment needs a download_name for a file object")
        assert name is not None
        response.headers.set(
            "Content-Disposition", _content_disposition("attachment" if as_attachment else "inline", name)
        )
    # A .svgz or .gz is sent as the compressed type inline; as an attachment it stays the stored file.
    if encoding is not None and not as_attachment:
        response.headers.set("Content-Encoding", encoding)
    if last_modified is not None:
        when = (
            last_modified
            if isinstance(last_modified, datetime)
            else datetime.fromtimestamp(last_modified, timezone.utc)
        )
        response.last_modified = when
    if isinstance(etag, str):
        response.set_etag(etag)
    elif etag and path is not None and size is not None:
        mtime = os.stat(path).st_mtime
        response.set_etag(f"{mtime:.6f}-{size}-{zlib.adler32(path.encode('utf-8', 'surrogateescape')):08x}")
    if callable(max_age):
        max_age = max_age(path)
    if max_age is not None:
        # RFC 9111 §5.2.2: max-age=0 still needs revalidation each time, so it goes with no-cache.
        policy = "public" if max_age > 0 else "no-cache"
        response.headers.set("Cache-Control", f"{policy}, max-age={int(max_age)}")
        response.expires = datetime.now(timezone.utc) + timedelta(seconds=max_age)
    else:
        response.headers.set("Cache-Control", "no-cache")
    if conditional:
        response.make_conditional(environ, accept_ranges=True, complete_length=size)
    return response


def _remaining_size(file: IO[bytes]) -> int | None:
    """The bytes left in ``file`` from its position, or ``None`` when it cannot tell."""
    try:
        return os.fstat(file.fileno()).st_size - file.tell()
    except (AttributeError, OSError, ValueError):
        pass
    try:
        position = file.tell()
        size = file.seek(0, os.SEEK_END) - position
        file.seek(position)
    except (AttributeError, OSError, ValueError):
        return None
    return size


def send_from_directory(
    directory: str | os.PathLike[str],
    path: str | os.PathLike[str],
    environ: Mapping[str, Any],
    **kwargs: Any,
) -> Response:
    """:func:`send_file` of ``path`` inside ``directory``; what :func:`~.security.safe_join` refuses
    (``..``, separators in disguise, NUL, symlinks out) and what is missing are the same 404."""
    from .exceptions import NotFound
    from .security import safe_join

    root = os.fspath(directory)
    root_path = kwargs.get("_root_path")
    if root_path is not None and not os.path.isabs(root):
        root = os.path.join(os.fspath(root_path), root)
    real = safe_join(root, os.fspath(path))
    if real is None or not os.path.isfile(real):
        raise NotFound()
    kwargs.pop("_root_path", None)
    return send_file(real, environ, **kwargs)


class ResponseStream:
    """The write-only file of :attr:`Response.stream`: each write appends a chunk to the body.

    Writing buffers a streamed body first (see :attr:`Response.implicit_sequence_conversion`) and drops
    Content-Length, which is computed again when the response is sent.
    """

    mode = "wb"

    def __init__(self, response: Response) -> None:
        self.response = response
        self.closed = False

    def write(self, value: str | bytes) -> int:
        if self.closed:
            raise ValueError("I/O operation on closed file")
        response = self.response
        response._ensure_sequence(mutable=True)
        cast("list[Any]", response.response).append(value)
        response.headers.remove("Content-Length")
        return len(value)

    def writelines(self, lines: Iterable[str | bytes]) -> None:
        for line in lines:
            self.write(line)

    def tell(self) -> int:
        self.response._ensure_sequence()
        return sum(len(chunk) for chunk in self.response._encoded(self.response.response))

    def flush(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file")

    def close(self) -> None:
        self.closed = True

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    @property
    def encoding(self) -> str:
        return self.response.charset
