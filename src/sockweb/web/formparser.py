"""Turn a request body into ``form`` and ``files`` (URL-encoded and multipart/form-data).

Strategy: :class:`FormDataParser` picks a parse function from a table keyed by media type. URL-encoded
bodies are read whole, but never more than ``max_form_memory_size`` bytes. Multipart bodies are read in
fixed-size blocks and fed to the sans-io :class:`~sockweb.web.multipart.MultipartDecoder`; text fields are
collected in memory (their total bounded by ``max_form_memory_size``), file parts are written as they
arrive to a ``SpooledTemporaryFile`` that stays in memory up to ``spool_threshold`` bytes and then moves
to a temporary file on disk. Limit violations raise 413, malformed bodies 400.
"""

from __future__ import annotations

import io
import tempfile
import weakref
from collections.abc import Callable, Mapping
from tempfile import TemporaryFile
from typing import IO, Any
from urllib.parse import parse_qsl

from .datastructures import FileStorage, Headers, ImmutableMultiDict, MultiDict
from .exceptions import BadRequest, RequestEntityTooLarge
from .httputil import parse_options_header
from .multipart import (
    END,
    NEED_DATA,
    MultipartDecoder,
    MultipartError,
    MultipartLimitError,
    PartData,
    PartStart,
)

__all__ = ["FormDataParser", "MultiPartParser", "default_stream_factory", "parse_form_data", "parse_qs_multi"]

BLOCK_SIZE = 64 * 1024
SPOOL_THRESHOLD = 500 * 1024
StreamFactory = Callable[..., IO[bytes]]
ParseResult = tuple[MultiDict[str, str], MultiDict[str, FileStorage]]
#: The spooling file class of :func:`default_stream_factory`; ``None`` makes it choose between memory and
#: a temporary file by the body's declared size instead.
SpooledTemporaryFile: type[tempfile.SpooledTemporaryFile[bytes]] | None = tempfile.SpooledTemporaryFile


def default_stream_factory(
    total_content_length: int | None,
    content_type: str | None,
    filename: str | None,
    content_length: int | None = None,
    spool_threshold: int = SPOOL_THRESHOLD,
) -> IO[bytes]:
    """Where an uploaded file is written: in memory while small, a temporary file (deleted on close)
    past ``spool_threshold`` bytes. Without ``SpooledTemporaryFile`` (some platforms or a test may take it
    away) a body of unknown or large size goes straight to a temporary file, a small one to memory."""
    if SpooledTemporaryFile is not None:
        return SpooledTemporaryFile(max_size=spool_threshold, mode="w+b")
    if total_content_length is None or total_content_length > spool_threshold:
        return TemporaryFile("w+b")
    return io.BytesIO()


def parse_qs_multi(
    query: str, max_fields: int | None = None, cls: type[MultiDict[str, str]] = MultiDict
) -> MultiDict[str, str]:
    """A query string or URL-encoded body as a MultiDict (blank values kept, UTF-8, errors replaced).

    More than ``max_fields`` pairs raises 413.
    """
    if "%" not in query and "+" not in query and (max_fields is None or query.count("&") < max_fields):
        # Nothing to decode: parse_qsl's pairs, without its per-pair unquoting calls. A piece without
        # "=" is a name with a blank value, and empty pieces are skipped, as there.
        pairs = []
        for piece in query.split("&"):
            if piece:
                name, _, value = piece.partition("=")
                pairs.append((name, value))
        return cls(pairs)
    try:
        pairs = parse_qsl(
            query, keep_blank_values=True, encoding="utf-8", errors="replace", max_num_fields=max_fields
        )
    except ValueError as exc:
        raise RequestEntityTooLarge("The form has too many fields.") from exc
    return cls(pairs)


class MultiPartParser:
    """Parses a ``multipart/form-data`` body into ``(form, files)``, driving the sans-io decoder.

    Text fields are kept in memory (``max_form_memory_size`` bounds their total), file parts go to
    streams from ``stream_factory`` as they arrive; ``cls`` is the MultiDict class of both results.
    A malformed body raises :class:`~sockweb.web.multipart.MultipartError` (a ``ValueError``), a limit
    :class:`~sockweb.web.exceptions.RequestEntityTooLarge`; files already written are closed either way.
    """

    def __init__(
        self,
        stream_factory: StreamFactory | None = None,
        max_form_memory_size: int | None = None,
        cls: type[MultiDict[Any, Any]] | None = None,
        buffer_size: int = BLOCK_SIZE,
        max_form_parts: int | None = None,
        *,
        spool_threshold: int = SPOOL_THRESHOLD,
    ) -> None:
        self.stream_factory = stream_factory if stream_factory is not None else default_stream_factory
        self.max_form_memory_size = max_form_memory_size
        self.cls = cls if cls is not None else MultiDict
        self.buffer_size = buffer_size
        self.max_form_parts = max_form_parts
        self.spool_threshold = spool_threshold

    def parse(self, stream: IO[bytes], boundary: bytes, content_length: int | None) -> ParseResult:
        """``(form, files)`` of the body in ``stream`` delimited by ``boundary``."""
        decoder = MultipartDecoder(boundary, max_parts=self.max_form_parts)
        form: list[tuple[str, str]] = []
        files: list[tuple[str, FileStorage]] = []
        try:
            self._run(decoder, stream, content_length, form, files)
        except MultipartLimitError as exc:
            _close_files(files)
            raise RequestEntityTooLarge(str(exc).capitalize() + ".") from exc
        except BaseException:
            _close_files(files)
            raise
        return self.cls(form), self.cls(files)

    def _run(
        self,
        decoder: MultipartDecoder,
        stream: IO[bytes],
        content_length: int | None,
        form: list[tuple[str, str]],
        files: list[tuple[str, FileStorage]],
    ) -> None:
        field_bytes = 0
        name: str | None = None
        chunks: list[bytes] = []
        target: IO[bytes] | None = None
        while True:
            event = decoder.next_event()
            if event is NEED_DATA:
                decoder.feed(stream.read(self.buffer_size))
            elif event is END:
                return
            elif isinstance(event, PartStart):
                name, target, chunks = None, None, []
                _disposition, params = parse_options_header(event.get("content-disposition"))
                # RFC 7578 §4.2 names the field in a "form-data" disposition; the field name is what
                # matters, so parts of older clients that say "form-field" are read too. A part without
                # a name cannot be placed in the form and is skipped.
                if "name" not in params:
                    continue
                name = params["name"]
                if "filename" in params:
                    target = self._new_file(event, params["filename"], content_length)
                    files.append((name, self._storage(target, event, params["filename"], name)))
            elif isinstance(event, PartData):
                if name is None:
                    continue
                if target is not None:
                    target.write(event.data)
                    if not event.more_data:
                        target.seek(0)
                    continue
                field_bytes += len(event.data)
                if self.max_form_memory_size is not None and field_bytes > self.max_form_memory_size:
                    raise MultipartLimitError("the form fields are larger than this server accepts")
                chunks.append(event.data)
                if not event.more_data:
                    form.append((name, b"".join(chunks).decode("utf-8", "replace")))

    def _new_file(self, part: PartStart, filename: str, content_length: int | None) -> IO[bytes]:
        content_type = part.get("content-type")
        if self.stream_factory is default_stream_factory:
            return default_stream_factory(
                content_length, content_type, filename, spool_threshold=self.spool_threshold
            )
        return self.stream_factory(content_length, content_type, filename)

    @staticmethod
    def _storage(target: IO[bytes], part: PartStart, filename: str, name: str) -> FileStorage:
        headers = Headers()
        for key, value in part.headers:
            try:
                headers.add(key.title(), value)
            except ValueError:
                continue  # names that are not tokens are dropped rather than failing the upload
        storage = FileStorage(target, filename, name, headers=headers)
        # Safety net for code that never calls close(): the temporary file goes when its FileStorage does
        # (not with the Request, which a caller may drop while still holding the upload).
        weakref.finalize(storage, target.close)
        return storage


class FormDataParser:
    """Parses a body stream according to its media type into ``(stream, form, files)``.

    Unknown media types give an empty form and files. A limit exceeded raises 413; a malformed body
    raises 400, or with ``silent=True`` gives an empty form and files instead. ``cls`` is the MultiDict
    class of the results.
    """

    def __init__(
        self,
        stream_factory: StreamFactory | None = None,
        max_form_memory_size: int | None = None,
        max_content_length: int | None = None,
        cls: type[MultiDict[Any, Any]] | None = None,
        silent: bool = True,
        *,
        max_form_parts: int | None = None,
        spool_threshold: int = SPOOL_THRESHOLD,
    ) -> None:
        self.stream_factory = stream_factory
        self.max_form_memory_size = max_form_memory_size
        self.max_content_length = max_content_length
        self.cls = cls if cls is not None else MultiDict
        self.silent = silent
        self.max_form_parts = max_form_parts
        self.spool_threshold = spool_threshold

    def parse_from_environ(
        self, environ: Mapping[str, Any]
    ) -> tuple[IO[bytes], MultiDict[str, str], MultiDict[str, FileStorage]]:
        """:meth:`parse` of a WSGI environ's body, by its Content-Type and Content-Length."""
        from .wsgi_util import get_content_length, get_input_stream

        stream = get_input_stream(environ, self.max_content_length)
        mimetype, options = parse_options_header(environ.get("CONTENT_TYPE", ""))
        return self.parse(stream, mimetype, get_content_length(environ), options)

    def parse(
        self,
        stream: IO[bytes],
        mimetype: str,
        content_length: int | None,
        options: dict[str, str] | None = None,
    ) -> tuple[IO[bytes], MultiDict[str, str], MultiDict[str, FileStorage]]:
        """``(stream, form, files)`` parsed from ``stream`` for a body of type ``mimetype``."""
        limit = self.max_content_length
        if limit is not None and content_length is not None and content_length > limit:
            raise RequestEntityTooLarge()
        handler = self._parsers.get(mimetype)
        if handler is None:
            return stream, self.cls(), self.cls()
        try:
            form, files = handler(self, stream, content_length, options or {})
        except MultipartError as exc:
            # Only malformed framing is silenced: limits (413) and a client gone (400) always raise.
            if self.silent:
                return stream, self.cls(), self.cls()
            if not options or not options.get("boundary"):
                raise BadRequest("The multipart body has no valid boundary.") from exc
            raise BadRequest(f"Malformed multipart body: {exc}.") from exc
        return stream, form, files

    def _parse_urlencoded(
        self, stream: IO[bytes], content_length: int | None, options: dict[str, str]
    ) -> ParseResult:
        limit = self.max_form_memory_size
        data = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(data) > limit:
            raise RequestEntityTooLarge("The form data is larger than this server accepts.")
        # Percent-escapes decode as UTF-8 inside parse_qsl; raw non-ASCII bytes are decoded the same way.
        pairs = parse_qs_multi(data.decode("utf-8", "replace"), self.max_form_parts)
        return self.cls(pairs.items(multi=True)), self.cls()

    def _parse_multipart(
        self, stream: IO[bytes], content_length: int | None, options: dict[str, str]
    ) -> ParseResult:
        boundary = options.get("boundary", "").encode("latin-1", "replace")
        parser = MultiPartParser(
            self.stream_factory,
            self.max_form_memory_size,
            self.cls,
            max_form_parts=self.max_form_parts,
            spool_threshold=self.spool_threshold,
        )
        return parser.parse(stream, boundary, content_length)

    _parsers: dict[str, Callable[[FormDataParser, IO[bytes], int | None, dict[str, str]], ParseResult]] = {
        "application/x-www-form-urlencoded": _parse_urlencoded,
        "multipart/form-data": _parse_multipart,
    }


def _close_files(files: list[tuple[str, FileStorage]]) -> None:
    for _, storage in files:
        storage.close()


def parse_form_data(
    environ: dict[str, Any], silent: bool = True, **options: Any
) -> tuple[IO[bytes], MultiDict[str, str], MultiDict[str, FileStorage]]:
    """``(stream, form, files)`` for a WSGI environ (a convenience over :class:`FormDataParser`)."""
    options.setdefault("cls", ImmutableMultiDict)
    return FormDataParser(silent=silent, **options).parse_from_environ(environ)
