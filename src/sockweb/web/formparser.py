"""Turn a request body into ``form`` and ``files`` (URL-encoded and multipart/form-data).

Strategy: :class:`FormDataParser` picks a parse function from a table keyed by media type. URL-encoded
bodies are read whole, but never more than ``max_form_memory_size`` bytes. Multipart bodies are read in
fixed-size blocks and fed to the sans-io :class:`~sockweb.web.multipart.MultipartDecoder`; text fields are
collected in memory (their total bounded by ``max_form_memory_size``), file parts are written as they
arrive to a ``SpooledTemporaryFile`` that stays in memory up to ``spool_threshold`` bytes and then moves
to a temporary file on disk. Limit violations raise 413, malformed bodies 400.
"""

from __future__ import annotations

import tempfile
import weakref
from collections.abc import Callable
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

__all__ = ["FormDataParser", "parse_form_data", "parse_qs_multi"]

BLOCK_SIZE = 64 * 1024
StreamFactory = Callable[[int | None, str | None, str | None], IO[bytes]]
ParseResult = tuple[MultiDict[str, str], MultiDict[str, FileStorage]]


def default_stream_factory(
    total_length: int | None,
    content_type: str | None,
    filename: str | None,
    spool_threshold: int = 500 * 1024,
) -> IO[bytes]:
    """In memory while small, a temporary file past ``spool_threshold`` bytes (deleted on close)."""
    return tempfile.SpooledTemporaryFile(max_size=spool_threshold, mode="w+b")


def parse_qs_multi(
    query: str, max_fields: int | None = None, cls: type[MultiDict[str, str]] = MultiDict
) -> MultiDict[str, str]:
    """A query string or URL-encoded body as a MultiDict (blank values kept, UTF-8, errors replaced).

    More than ``max_fields`` pairs raises 413.
    """
    try:
        pairs = parse_qsl(
            query, keep_blank_values=True, encoding="utf-8", errors="replace", max_num_fields=max_fields
        )
    except ValueError as exc:
        raise RequestEntityTooLarge("The form has too many fields.") from exc
    return cls(pairs)


class FormDataParser:
    """Parses a body stream according to its media type; unknown types give empty form and files."""

    def __init__(
        self,
        stream_factory: StreamFactory | None = None,
        max_form_memory_size: int | None = None,
        max_content_length: int | None = None,
        max_form_parts: int | None = None,
        spool_threshold: int = 500 * 1024,
    ) -> None:
        self.stream_factory = stream_factory
        self.max_form_memory_size = max_form_memory_size
        self.max_content_length = max_content_length
        self.max_form_parts = max_form_parts
        self.spool_threshold = spool_threshold

    def parse(
        self,
        stream: IO[bytes],
        mimetype: str,
        content_length: int | None,
        options: dict[str, str] | None = None,
    ) -> ParseResult:
        """``(form, files)`` parsed from ``stream`` for a body of type ``mimetype``."""
        limit = self.max_content_length
        if limit is not None and content_length is not None and content_length > limit:
            raise RequestEntityTooLarge()
        handler = self._parsers.get(mimetype)
        if handler is None:
            return MultiDict(), MultiDict()
        return handler(self, stream, options or {})

    def _parse_urlencoded(self, stream: IO[bytes], options: dict[str, str]) -> ParseResult:
        limit = self.max_form_memory_size
        data = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(data) > limit:
            raise RequestEntityTooLarge("The form data is larger than this server accepts.")
        # Percent-escapes decode as UTF-8 inside parse_qsl; raw non-ASCII bytes are decoded the same way.
        return parse_qs_multi(data.decode("utf-8", "replace"), self.max_form_parts), MultiDict()

    def _parse_multipart(self, stream: IO[bytes], options: dict[str, str]) -> ParseResult:
        boundary = options.get("boundary", "").encode("latin-1", "replace")
        try:
            decoder = MultipartDecoder(boundary, max_parts=self.max_form_parts)
        except MultipartError as exc:
            raise BadRequest("The multipart body has no valid boundary.") from exc
        form: MultiDict[str, str] = MultiDict()
        files: MultiDict[str, FileStorage] = MultiDict()
        try:
            self._run_multipart(decoder, stream, form, files)
        except MultipartLimitError as exc:
            _close_files(files)
            raise RequestEntityTooLarge(str(exc).capitalize() + ".") from exc
        except MultipartError as exc:
            _close_files(files)
            raise BadRequest(f"Malformed multipart body: {exc}.") from exc
        except BaseException:
            _close_files(files)
            raise
        return form, files

    def _run_multipart(
        self,
        decoder: MultipartDecoder,
        stream: IO[bytes],
        form: MultiDict[str, str],
        files: MultiDict[str, FileStorage],
    ) -> None:
        field_bytes = 0
        name: str | None = None
        chunks: list[bytes] = []
        target: IO[bytes] | None = None
        while True:
            event = decoder.next_event()
            if event is NEED_DATA:
                decoder.feed(stream.read(BLOCK_SIZE))
            elif event is END:
                return
            elif isinstance(event, PartStart):
                name, target, chunks = None, None, []
                disposition, params = parse_options_header(event.get("content-disposition"))
                if disposition != "form-data" or "name" not in params:
                    continue  # RFC 7578 §4.2: every part must name its field; skip those that do not
                name = params["name"]
                if "filename" in params:
                    target = self._new_file(event, params["filename"])
                    files.add(name, self._storage(target, event, params["filename"], name))
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
                    form.add(name, b"".join(chunks).decode("utf-8", "replace"))

    def _new_file(self, part: PartStart, filename: str) -> IO[bytes]:
        if self.stream_factory is not None:
            return self.stream_factory(None, part.get("content-type"), filename)
        return default_stream_factory(None, part.get("content-type"), filename, self.spool_threshold)

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

    _parsers: dict[str, Callable[[FormDataParser, IO[bytes], dict[str, str]], ParseResult]] = {
        "application/x-www-form-urlencoded": _parse_urlencoded,
        "multipart/form-data": _parse_multipart,
    }


def _close_files(files: MultiDict[str, FileStorage]) -> None:
    for _, storage in files.items(multi=True):
        storage.close()


def parse_form_data(
    environ: dict[str, Any], **options: Any
) -> tuple[IO[bytes], ImmutableMultiDict[str, str], ImmutableMultiDict[str, FileStorage]]:
    """``(stream, form, files)`` for a WSGI environ (a convenience over :class:`FormDataParser`)."""
    from .wsgi_util import get_content_length, get_input_stream

    stream = get_input_stream(environ, options.get("max_content_length"))
    mimetype, params = parse_options_header(environ.get("CONTENT_TYPE", ""))
    form, files = FormDataParser(**options).parse(stream, mimetype, get_content_length(environ), params)
    return stream, ImmutableMultiDict(form), ImmutableMultiDict(files)
