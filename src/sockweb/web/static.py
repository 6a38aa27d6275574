"""Static files: a WSGI middleware that serves folders mounted at URL prefixes, plus listing/404 pages.

Strategy. A request under a mounted prefix is turned into a file path by
:func:`sockweb.web.security.safe_join`, the project's one rule for joining untrusted paths, and any doubt
ends in 404, never in serving a file: the PATH_INFO (latin-1 decoded bytes, PEP 3333) is re-decoded as
UTF-8, its leading slashes dropped (a URL path is rooted at the mount, so ``//etc/passwd`` stays inside
the root), and every segment is checked in all its decoded forms (``..``, ``%2e%2e``, ``%2f``, ``%5c``,
NUL, drive letters ...); the resolved real path must stay under the real root. Hidden files (a segment
starting with a dot, in any of its forms, in the request or the resolved path) are refused with the same
404 unless ``dotfiles="allow"``, and left out of listings.

The response follows RFC 9110: ETag (from mtime, size and inode, or a content hash) and Last-Modified,
preconditions evaluated by ``httputil.evaluate_preconditions`` (304/412), Range through
``parse_range_header`` (206, multipart/byteranges for several ranges, 416 with ``bytes */len``), HEAD
without body, GET/HEAD only (405 with Allow). Bodies go out through ``environ['wsgi.file_wrapper']``
when the bytes to send run to the end of the file (so the server may use sendfile), otherwise through
a block iterator that closes the file.
"""

from __future__ import annotations

import hashlib
import html
import mimetypes
import os
import stat
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import IO, Any
from urllib.parse import quote

from sockweb.web.httputil import (
    evaluate_preconditions,
    http_date,
    if_range_matches,
    parse_range_header,
    quote_etag,
)
from sockweb.web.security import join_path, safe_join

__all__ = ["FileIterator", "StaticFiles", "render_listing", "render_not_found", "safe_join"]

WSGIEnvironment = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[WSGIEnvironment, StartResponse], Iterable[bytes]]

BLOCK_SIZE = 64 * 1024
_TEXT_LIKE = ("application/javascript", "application/xml", "image/svg+xml")
DOTFILES = ("deny", "allow")


# ---------------------------------------------------------------------------------------- path safety


def _decode_path(path_info: str) -> str | None:
    """PEP 3333 PATH_INFO (bytes as latin-1) -> text; None when it is not UTF-8."""
    try:
        return path_info.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return None


# -------------------------------------------------------------------------------------------- bodies


class FileIterator:
    """Reads ``length`` bytes (or to the end) of an open file in blocks; ``close()`` closes the file."""

    __slots__ = ("block_size", "file", "remaining")

    def __init__(self, file: IO[bytes], block_size: int = BLOCK_SIZE, length: int | None = None) -> None:
        self.file = file
        self.block_size = block_size
        self.remaining = length

    def __iter__(self) -> FileIterator:
        return self

    def __next__(self) -> bytes:
        size = self.block_size if self.remaining is None else min(self.block_size, self.remaining)
        data = self.file.read(size) if size > 0 else b""
        if not data:
            raise StopIteration
        if self.remaining is not None:
            self.remaining -= len(data)
        return data

    def close(self) -> None:
        self.file.close()


class _MultiRangeIterator:
    """multipart/byteranges body: for each range its part head, then its bytes (RFC 9110 §14.6)."""

    def __init__(self, file: IO[bytes], parts: list[tuple[bytes, int, int]], closing: bytes) -> None:
        self.file = file
        self.parts = parts
        self.closing = closing

    def __iter__(self) -> Iterator[bytes]:
        for head, start, stop in self.parts:
            yield head
            self.file.seek(start)
            yield from FileIterator(self.file, BLOCK_SIZE, stop - start)
        yield self.closing

    def close(self) -> None:
        self.file.close()


# ---------------------------------------------------------------------------------------- middleware


class StaticFiles:
    """Serve folders at URL prefixes; everything else goes to ``app``.

    ``StaticFiles(app, {"/static": "/srv/site/static"})``. Options: ``index`` (file served for a folder
    URL; a folder URL without its trailing slash is redirected to it), ``cache_max_age`` (seconds;
    ``public, max-age=N``, or ``no-cache`` when 0: clients revalidate with the ETag), ``fallback`` (a
    file, relative to the mounted folder, served for GET/HEAD paths under the prefix that match nothing,
    e.g. ``index.html`` for a single-page app), ``listing`` (render folder listings when there is no
    index), ``etag`` (``"stat"``: from mtime, size and inode; ``"content"``: a SHA-256 of the bytes),
    ``dotfiles`` (``"deny"``: hidden files and folders, any path segment starting with a dot, answer the
    same 404 as missing ones, so their existence is not revealed, and are not listed; ``"allow"``: served
    and listed like any file, needed for e.g. ``/.well-known/``).
    ``app=None`` answers unmatched paths with a 404 page.
    """

    def __init__(
        self,
        app: WSGIApp | None,
        exports: Mapping[str, str | os.PathLike[str]],
        *,
        index: str | None = "index.html",
        cache_max_age: int = 0,
        fallback: str | None = None,
        listing: bool = False,
        etag: str = "stat",
        default_mimetype: str = "application/octet-stream",
        dotfiles: str = "deny",
    ) -> None:
        if etag not in ("stat", "content"):
            raise ValueError("etag must be 'stat' or 'content'")
        if dotfiles not in DOTFILES:
            raise ValueError("dotfiles must be 'deny' or 'allow'")
        self.app = app
        mounts = [
            (("/" + prefix.strip("/")).rstrip("/"), os.path.realpath(os.fspath(folder)))
            for prefix, folder in exports.items()
        ]
        # Longest prefix first, so /static/vendor wins over /static.
        self.exports = sorted(mounts, key=lambda item: -len(item[0]))
        self.index = index
        self.cache_max_age = cache_max_age
        self.fallback = fallback
        self.listing = listing
        self.etag_mode = etag
        self.default_mimetype = default_mimetype
        self.allow_hidden = dotfiles == "allow"
        self._content_etags: dict[tuple[str, int, int], str] = {}

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = _decode_path(environ.get("PATH_INFO", "") or "/")
        found = self._mount(path) if path is not None else None
        if found is None:
            return self._pass(environ, start_response)
        root, rest = found
        rest = rest.lstrip("/")
        joined = join_path(root, rest)
        if joined is None:  # an attack, not a missing file: never handed to the app
            return self._not_found(environ, start_response)
        if joined.hidden and not self.allow_hidden:  # as if it did not exist
            return self._pass(environ, start_response)
        target: str | None = joined.path
        if os.path.isdir(joined.path):
            return self._directory(environ, start_response, root, joined.path, rest)
        reading = environ.get("REQUEST_METHOD", "GET").upper() in ("GET", "HEAD")
        if not os.path.isfile(joined.path) and self.fallback is not None and reading:
            target = self._join(root, self.fallback)
        if target is None or not os.path.isfile(target):
            return self._pass(environ, start_response)
        return self.serve_file(environ, start_response, target)

    def _join(self, root: str, *parts: str) -> str | None:
        return safe_join(root, *parts, allow_hidden=self.allow_hidden)

    def _mount(self, path: str) -> tuple[str, str] | None:
        for mount, root in self.exports:
            if path == mount or path.startswith(mount + "/") or not mount:
                return root, path[len(mount) :]
        return None

    def _pass(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if self.app is not None:
            return self.app(environ, start_response)
        return self._not_found(environ, start_response)

    def _not_found(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = _decode_path(environ.get("PATH_INFO", "")) or "/"
        body = render_not_found(path)
        return _simple(environ, start_response, "404 Not Found", body, "text/html; charset=utf-8")

    def _directory(
        self, environ: WSGIEnvironment, start_response: StartResponse, root: str, target: str, rest: str
    ) -> Iterable[bytes]:
        path_info = environ.get("PATH_INFO", "")
        if not path_info.endswith("/"):
            return _redirect_to_slash(environ, start_response)
        if self.index is not None:
            index = self._join(root, rest, self.index)
            if index is not None and os.path.isfile(index):
                return self.serve_file(environ, start_response, index)
        if self.listing:
            denied = _method_not_allowed(environ, start_response)
            if denied is not None:
                return denied
            # list exactly what a request for the entry would be given: not hidden, not escaping the root
            body = render_listing(
                target, _decode_path(path_info) or "/", lambda name: self._join(root, rest, name) is not None
            )
            return _simple(environ, start_response, "200 OK", body, "text/html; charset=utf-8")
        return self._pass(environ, start_response)

    # -- one file

    def serve_file(
        self, environ: WSGIEnvironment, start_response: StartResponse, path: str
    ) -> Iterable[bytes]:
        """Answer a GET/HEAD for the file at ``path`` (already checked to be safe)."""
        denied = _method_not_allowed(environ, start_response)
        if denied is not None:
            return denied
        try:
            file = open(path, "rb")  # noqa: SIM115 - closed by the body iterator's close()
        except OSError:
            return self._not_found(environ, start_response)
        try:
            return self._serve_open(environ, start_response, path, file)
        except BaseException:
            file.close()
            raise

    def _serve_open(
        self, environ: WSGIEnvironment, start_response: StartResponse, path: str, file: IO[bytes]
    ) -> Iterable[bytes]:
        info = os.fstat(file.fileno())  # the file we opened, not whatever the path names now
        if not stat.S_ISREG(info.st_mode):
            file.close()
            return self._not_found(environ, start_response)
        size = info.st_size
        etag = self._etag(path, info, file)
        headers = [
            ("ETag", quote_etag(etag)),
            ("Last-Modified", http_date(info.st_mtime)),
            ("Cache-Control", f"public, max-age={self.cache_max_age}" if self.cache_max_age else "no-cache"),
        ]
        verdict = evaluate_preconditions(environ, etag, info.st_mtime)
        if verdict == 304:
            file.close()
            start_response("304 Not Modified", headers)
            return []
        if verdict == 412:
            file.close()
            return _simple(
                environ, start_response, "412 Precondition Failed", b"", "text/plain", headers=headers
            )
        content_type = self._content_type(path)
        headers.append(("Accept-Ranges", "bytes"))
        is_head = environ.get("REQUEST_METHOD", "GET").upper() == "HEAD"
        spans: list[tuple[int, int]] | None = [(0, size)]
        byte_range = parse_range_header(environ.get("HTTP_RANGE"))
        # RFC 9110 §14.2: a Range in a unit other than bytes is ignored.
        ranged = (
            byte_range is not None
            and byte_range.units == "bytes"
            and if_range_matches(environ, etag, info.st_mtime)
        )
        if ranged and byte_range is not None:
            spans = byte_range.resolve(size)
            if spans is None:
                file.close()
                # RFC 9110 §15.5.17: a 416 carries the current length as "bytes */length".
                headers.append(("Content-Range", f"bytes */{size}"))
                return _simple(
                    environ, start_response, "416 Range Not Satisfiable", b"", "text/plain", headers=headers
                )
        assert spans is not None
        if len(spans) > 1:
            return self._multi_range(
                start_response,
                file,
                spans,
                size=size,
                content_type=content_type,
                headers=headers,
                is_head=is_head,
            )
        start, stop = spans[0]
        headers += [("Content-Type", content_type), ("Content-Length", str(stop - start))]
        status = "200 OK"
        if ranged:
            status = "206 Partial Content"
            headers.append(("Content-Range", f"bytes {start}-{stop - 1}/{size}"))
        start_response(status, headers)
        if is_head:
            file.close()
            return []
        file.seek(start)
        wrapper = environ.get("wsgi.file_wrapper")
        if wrapper is not None and stop == size:
            # The server may sendfile from the current offset to the end: only safe when that is the span.
            body: Iterable[bytes] = wrapper(file, BLOCK_SIZE)
            return body
        return FileIterator(file, BLOCK_SIZE, stop - start)

    def _multi_range(
        self,
        start_response: StartResponse,
        file: IO[bytes],
        spans: list[tuple[int, int]],
        *,
        size: int,
        content_type: str,
        headers: list[tuple[str, str]],
        is_head: bool,
    ) -> Iterable[bytes]:
        boundary = hashlib.sha256(f"{id(file)}{time.time_ns()}".encode()).hexdigest()[:32]
        parts = [
            (
                (
                    f"\r\n--{boundary}\r\nContent-Type: {content_type}\r\n"
                    f"Content-Range: bytes {start}-{stop - 1}/{size}\r\n\r\n"
                ).encode("latin-1"),
                start,
                stop,
            )
            for start, stop in spans
        ]
        closing = f"\r\n--{boundary}--\r\n".encode("latin-1")
        length = sum(len(head) + stop - start for head, start, stop in parts) + len(closing)
        headers += [
            ("Content-Type", f"multipart/byteranges; boundary={boundary}"),
            ("Content-Length", str(length)),
        ]
        start_response("206 Partial Content", headers)
        if is_head:
            file.close()
            return []
        return _MultiRangeIterator(file, parts, closing)

    def _etag(self, path: str, info: os.stat_result, file: IO[bytes]) -> str:
        if self.etag_mode == "stat":
            # Hashed so that the inode number does not leak; any change of mtime, size or inode changes it.
            raw = f"{info.st_mtime_ns}-{info.st_size}-{info.st_ino}"
            return hashlib.sha256(raw.encode()).hexdigest()[:24]
        key = (path, info.st_mtime_ns, info.st_size)
        cached = self._content_etags.get(key)
        if cached is None:
            digest = hashlib.sha256()
            for block in iter(lambda: file.read(BLOCK_SIZE), b""):
                digest.update(block)
            file.seek(0)
            cached = digest.hexdigest()[:32]
            if len(self._content_etags) > 4096:
                self._content_etags.clear()  # bounded: a cache, not a record
            self._content_etags[key] = cached
        return cached

    def _content_type(self, path: str) -> str:
        mimetype, encoding = mimetypes.guess_type(path)
        if encoding is not None:  # .gz, .br: the bytes are the compressed file, served as such
            return {"gzip": "application/gzip", "br": "application/x-brotli"}.get(
                encoding, "application/octet-stream"
            )
        mimetype = mimetype or self.default_mimetype
        if mimetype.startswith("text/") or mimetype in _TEXT_LIKE:
            return f"{mimetype}; charset=utf-8"
        return mimetype


# ---------------------------------------------------------------------------------------------- helpers


def _simple(
    environ: WSGIEnvironment,
    start_response: StartResponse,
    status: str,
    body: bytes,
    content_type: str,
    *,
    headers: list[tuple[str, str]] | None = None,
) -> Iterable[bytes]:
    start_response(
        status, [*(headers or []), ("Content-Type", content_type), ("Content-Length", str(len(body)))]
    )
    return [] if environ.get("REQUEST_METHOD", "GET").upper() == "HEAD" else [body]


def _method_not_allowed(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes] | None:
    if environ.get("REQUEST_METHOD", "GET").upper() in ("GET", "HEAD"):
        return None
    body = b"Method Not Allowed: files are read with GET or HEAD.\n"
    # RFC 9110 §15.5.6: a 405 must list the allowed methods.
    return _simple(
        environ, start_response, "405 Method Not Allowed", body, "text/plain; charset=utf-8",
        headers=[("Allow", "GET, HEAD")],
    )  # fmt: skip


def _redirect_to_slash(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    script = _decode_path(environ.get("SCRIPT_NAME", "")) or ""
    path = _decode_path(environ.get("PATH_INFO", "")) or ""
    location = quote(script + path + "/", safe="/!$&'()*+,:;=@~")
    query = environ.get("QUERY_STRING", "")
    if query:
        location += "?" + query
    body = f'<a href="{html.escape(location)}">Moved here</a>\n'.encode()
    return _simple(
        environ, start_response, "308 Permanent Redirect", body, "text/html; charset=utf-8",
        headers=[("Location", location)],
    )  # fmt: skip


_PAGE_STYLE = (
    "body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:56rem;padding:0 1rem;color:#222}"
    "h1{font-size:1.3rem;font-weight:600;word-break:break-all}table{border-collapse:collapse;width:100%}"
    "th,td{padding:.3rem .6rem;text-align:left;border-bottom:1px solid #eee}th{color:#666;font-weight:500}"
    "td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}a{color:#0550ae;"
    "text-decoration:none}a:hover{text-decoration:underline}footer{margin-top:1.5rem;color:#888;font-size:.85rem}"
)


def _page(title: str, content: str) -> bytes:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_PAGE_STYLE}</style></head>\n"
        f"<body>\n{content}\n<footer>sockweb</footer>\n</body>\n</html>\n"
    ).encode()


def _human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover - the loop always returns


def render_listing(
    directory: str | os.PathLike[str], url_path: str, shown: Callable[[str], bool] | None = None
) -> bytes:
    """An HTML page listing ``directory`` as seen at ``url_path`` (folders first, then files, by name).

    Names are HTML-escaped and URL-quoted in links; entries that cannot be stat'ed are left out, and so
    are those for which ``shown(name)`` is false (None shows every entry).
    """
    if not url_path.endswith("/"):
        url_path += "/"
    entries: list[tuple[bool, str, int, float]] = []
    with os.scandir(directory) as scan:
        for entry in scan:
            if shown is not None and not shown(entry.name):
                continue
            try:
                is_dir = entry.is_dir()
                info = entry.stat()
            except OSError:
                continue
            entries.append((is_dir, entry.name, info.st_size, info.st_mtime))
    entries.sort(key=lambda item: (not item[0], item[1].lower(), item[1]))
    rows = []
    if url_path != "/":
        rows.append('<tr><td><a href="../">../</a></td><td class="n">-</td><td class="n">-</td></tr>')
    for is_dir, name, size, mtime in entries:
        href = quote(name, safe="") + ("/" if is_dir else "")
        label = html.escape(name + ("/" if is_dir else ""))
        size_text = "-" if is_dir else _human_size(size)
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(mtime))
        rows.append(
            f'<tr><td><a href="{html.escape(href)}">{label}</a></td>'
            f'<td class="n">{size_text}</td><td class="n">{when} UTC</td></tr>'
        )
    title = f"Index of {url_path}"
    table = (
        "<table>\n<thead><tr><th>Name</th><th class='n'>Size</th><th class='n'>Modified</th></tr></thead>\n"
        "<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>"
    )
    return _page(title, f"<h1>{html.escape(title)}</h1>\n{table}")


def render_not_found(url_path: str) -> bytes:
    """A small HTML 404 page naming the (escaped) path."""
    return _page(
        "404 Not Found",
        f"<h1>404 Not Found</h1>\n<p>Nothing here: <code>{html.escape(url_path)}</code>.</p>\n"
        '<p><a href="/">Back to the top</a></p>',
    )
