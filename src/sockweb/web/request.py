"""The incoming request: a lazy, cached view over a WSGI environ.

Strategy: :class:`Request` stores only the environ; every attribute (URL parts, args, headers, cookies,
form, files, JSON, negotiated Accept values) is computed on first access and cached on the instance, so a
handler pays only for what it reads. The body is read at most once: :meth:`Request.get_data` caches it,
and form parsing reuses that cache if present, otherwise it streams the body straight into
:class:`~sockweb.web.formparser.FormDataParser`. Text in the environ is "bytes as latin-1" (PEP 3333);
URL parts are turned back into bytes and decoded as UTF-8 here. Limits (``max_content_length``,
``max_form_memory_size``, ``max_form_parts``) are class attributes a subclass or an app may override;
exceeding them raises 413 when the body is accessed, not when the Request is created.
"""

from __future__ import annotations

import functools
import io
import json
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import IO, Any, Literal, cast, overload
from urllib.parse import unquote

from .datastructures import (
    CombinedMultiDict,
    EnvironHeaders,
    FileStorage,
    ImmutableList,
    ImmutableMultiDict,
    MultiDict,
)
from .exceptions import BadRequest, HTTPException, RequestEntityTooLarge, UnsupportedMediaType
from .formparser import FormDataParser, parse_qs_multi
from .header_fields import int_field, set_field, text_field
from .httputil import (
    Accept,
    Authorization,
    CacheControl,
    CharsetAccept,
    ETags,
    LanguageAccept,
    MIMEAccept,
    Range,
    parse_accept_header,
    parse_authorization_header,
    parse_cache_control,
    parse_cookie,
    parse_date,
    parse_etags,
    parse_options_header,
    parse_range_header,
)
from .user_agent import UserAgent
from .utils import cached_attribute
from .wsgi_util import ClosingIterator, get_content_length, get_current_url, get_host, get_input_stream

__all__ = ["Request"]

WSGIEnvironment = dict[str, Any]
_MISSING: Any = object()


def _wsgi_decode(value: str) -> str:
    """A PEP 3333 "bytes as latin-1" string decoded as the UTF-8 clients send."""
    try:
        return value.encode("latin-1").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return value  # already real text (some test setups put it there)


def _close_storages(storages: list[FileStorage]) -> None:
    for storage in storages:
        storage.close()


class Request:
    """A WSGI request. Everything is computed lazily from :attr:`environ` and cached.

    Limits default to: no Content-Length bound, 500 KB of in-memory form fields, 1000 form parts.
    ``populate_request=True`` stores the request in ``environ["sockweb.request"]`` (a reference cycle,
    hence off by default); a ``shallow`` request refuses to read the body.
    """

    max_content_length: int | None = None
    max_form_memory_size: int | None = 500_000  # the same default as the framework's MAX_FORM_MEMORY_SIZE
    max_form_parts: int | None = 1000
    #: hosts allowed in the Host header (``None``: any well-formed host)
    trusted_hosts: list[str] | None = None
    form_data_parser_class = FormDataParser
    #: the mapping class of :attr:`args` and :attr:`form` (a MultiDict class, or ``dict``)
    parameter_storage_class: type[Any] = ImmutableMultiDict
    #: the mapping class of :attr:`cookies`
    dict_storage_class: type[Any] = ImmutableMultiDict
    #: the sequence class of :attr:`access_route`
    list_storage_class: type[Any] = ImmutableList
    #: the class of :attr:`user_agent` (a subclass may parse the string)
    user_agent_class: type[UserAgent] = UserAgent
    #: what :meth:`get_json` parses with (anything with a ``loads``; a subclass may use a faster library)
    json_module: Any = json

    def __init__(
        self, environ: WSGIEnvironment, populate_request: bool = False, shallow: bool = False
    ) -> None:
        self.environ = environ
        self.shallow = shallow
        if populate_request and not shallow:
            environ["sockweb.request"] = self
        self._cached_data: bytes | None = None
        self._json_cache: Any = _MISSING
        self._form: ImmutableMultiDict[str, str] | None = None
        self._files: ImmutableMultiDict[str, FileStorage] | None = None
        self._form_error: HTTPException | None = None

    @classmethod
    def from_values(cls, *args: Any, **kwargs: Any) -> Request:
        """A request built from keyword arguments, as :func:`~sockweb.web.testing.create_environ` takes."""
        from .testing import create_environ

        return cls(create_environ(*args, **kwargs))

    @classmethod
    def application(cls, view: Callable[..., Any]) -> Callable[..., Any]:
        """Decorate ``view(request) -> WSGI app`` (usually a Response) into a WSGI application.

        The request is built from the environ, an :class:`~sockweb.web.exceptions.HTTPException` raised by
        the view becomes its response, and the request is closed (uploaded files too) when the response
        is done. On a method, ``self`` is passed through: ``view(self, request)``.
        """

        @functools.wraps(view)
        def wsgi_app(*args: Any) -> Iterable[bytes]:
            *head, environ, start_response = args
            request = cls(environ)
            try:
                response = view(*head, request)
            except HTTPException as error:
                response = error.get_response(environ)
            except BaseException:
                request.close()
                raise
            return ClosingIterator(response(environ, start_response), [request.close])

        return wsgi_app

    def __repr__(self) -> str:
        try:
            # Percent-decoded for reading: a repr is for people, and the path may be in any script.
            url = unquote(self.url, errors="replace")
        except BadRequest:
            url = "(invalid URL)"
        return f"<{type(self).__name__} {url!r} [{self.method}]>"

    # -- request line and URL -------------------------------------------------------------------------------

    @cached_attribute
    def method(self) -> str:
        return str(self.environ.get("REQUEST_METHOD", "GET")).upper()

    @property
    def scheme(self) -> str:
        return str(self.environ.get("wsgi.url_scheme", "http"))

    @property
    def is_secure(self) -> bool:
        return self.scheme in ("https", "wss")

    @cached_attribute
    def host(self) -> str:
        """The Host header (or SERVER_NAME:PORT), validated; a bad or untrusted host raises 400."""
        return get_host(self.environ, self.trusted_hosts)

    @cached_attribute
    def root_path(self) -> str:
        """SCRIPT_NAME, the mount point of the application, without a trailing slash."""
        return _wsgi_decode(self.environ.get("SCRIPT_NAME", "")).rstrip("/")

    @property
    def script_root(self) -> str:
        """Alias of :attr:`root_path`."""
        return self.root_path

    @cached_attribute
    def path(self) -> str:
        """PATH_INFO decoded, always starting with ``/``."""
        return "/" + _wsgi_decode(self.environ.get("PATH_INFO", "")).lstrip("/")

    @cached_attribute
    def query_string(self) -> bytes:
        return str(self.environ.get("QUERY_STRING", "")).encode("latin-1", "replace")

    @cached_attribute
    def full_path(self) -> str:
        """``path?query`` (the ``?`` is always present, as in the request line of a form post)."""
        return f"{self.path}?{self.query_string.decode('utf-8', 'replace')}"

    @cached_attribute
    def url(self) -> str:
        return get_current_url(self.environ, trusted_hosts=self.trusted_hosts)

    @cached_attribute
    def base_url(self) -> str:
        """The URL without the query string."""
        return get_current_url(self.environ, strip_querystring=True, trusted_hosts=self.trusted_hosts)

    @cached_attribute
    def url_root(self) -> str:
        """Scheme, host and SCRIPT_NAME, ending with ``/``."""
        return get_current_url(self.environ, root_only=True, trusted_hosts=self.trusted_hosts)

    @cached_attribute
    def host_url(self) -> str:
        return get_current_url(self.environ, host_only=True, trusted_hosts=self.trusted_hosts)

    @cached_attribute
    def args(self) -> ImmutableMultiDict[str, str]:
        """The query string parameters (a :attr:`parameter_storage_class`)."""
        query = _wsgi_decode(self.environ.get("QUERY_STRING", ""))
        # The request line is already bounded by the server, so no field-count limit is needed here.
        return cast("ImmutableMultiDict[str, str]", parse_qs_multi(query, cls=self.parameter_storage_class))

    @property
    def remote_addr(self) -> str | None:
        return self.environ.get("REMOTE_ADDR")

    @cached_attribute
    def access_route(self) -> list[str]:
        """The client addresses of X-Forwarded-For, client first, or ``[REMOTE_ADDR]`` without it.

        The header is whatever the client or the proxies in between wrote: never trust it for access
        control unless a proxy you run sets it (:class:`~.middleware.proxy_fix.ProxyFix` does this right).
        """
        forwarded = self.environ.get("HTTP_X_FORWARDED_FOR")
        if forwarded:
            hops = [hop.strip() for hop in forwarded.split(",")]
            return cast("list[str]", self.list_storage_class(hop for hop in hops if hop))
        remote = self.remote_addr
        return cast("list[str]", self.list_storage_class([remote] if remote else []))

    @property
    def remote_user(self) -> str | None:
        return self.environ.get("REMOTE_USER")

    # -- headers --------------------------------------------------------------------------------------------

    @cached_attribute
    def headers(self) -> EnvironHeaders:
        """A read-only, case-insensitive view of the request headers."""
        return EnvironHeaders(self.environ)

    @cached_attribute
    def cookies(self) -> ImmutableMultiDict[str, str]:
        cookies = parse_cookie(self.environ.get("HTTP_COOKIE"), self.dict_storage_class)
        return cast("ImmutableMultiDict[str, str]", cookies)

    @property
    def content_type(self) -> str | None:
        return self.environ.get("CONTENT_TYPE") or None

    @cached_attribute
    def _parsed_content_type(self) -> tuple[str, dict[str, str]]:
        return parse_options_header(self.environ.get("CONTENT_TYPE", ""))

    @property
    def mimetype(self) -> str:
        """The body's media type without parameters, lowercased (``""`` if none)."""
        return self._parsed_content_type[0]

    @property
    def mimetype_params(self) -> dict[str, str]:
        return dict(self._parsed_content_type[1])

    @cached_attribute
    def content_length(self) -> int | None:
        """Content-Length as an int (``None`` for chunked or absent); a malformed value raises 400."""
        return get_content_length(self.environ)

    @property
    def content_encoding(self) -> str | None:
        return self.environ.get("HTTP_CONTENT_ENCODING")

    @cached_attribute
    def user_agent(self) -> UserAgent:
        """The User-Agent header as a :attr:`user_agent_class` (a ``str``; empty when absent)."""
        return self.user_agent_class(self.environ.get("HTTP_USER_AGENT", ""))

    @property
    def referrer(self) -> str | None:
        return self.environ.get("HTTP_REFERER")

    @cached_attribute
    def authorization(self) -> Authorization | None:
        return parse_authorization_header(self.environ.get("HTTP_AUTHORIZATION"))

    @cached_attribute
    def accept_mimetypes(self) -> MIMEAccept:
        return parse_accept_header(self.environ.get("HTTP_ACCEPT"), MIMEAccept)

    @cached_attribute
    def accept_languages(self) -> LanguageAccept:
        return parse_accept_header(self.environ.get("HTTP_ACCEPT_LANGUAGE"), LanguageAccept)

    @cached_attribute
    def accept_charsets(self) -> CharsetAccept:
        return parse_accept_header(self.environ.get("HTTP_ACCEPT_CHARSET"), CharsetAccept)

    @cached_attribute
    def accept_encodings(self) -> Accept:
        return parse_accept_header(self.environ.get("HTTP_ACCEPT_ENCODING"), Accept)

    @cached_attribute
    def cache_control(self) -> CacheControl:
        return parse_cache_control(self.environ.get("HTTP_CACHE_CONTROL"))

    @cached_attribute
    def if_match(self) -> ETags:
        return parse_etags(self.environ.get("HTTP_IF_MATCH"))

    @cached_attribute
    def if_none_match(self) -> ETags:
        return parse_etags(self.environ.get("HTTP_IF_NONE_MATCH"))

    @cached_attribute
    def if_modified_since(self) -> datetime | None:
        return parse_date(self.environ.get("HTTP_IF_MODIFIED_SINCE"))

    @cached_attribute
    def if_unmodified_since(self) -> datetime | None:
        return parse_date(self.environ.get("HTTP_IF_UNMODIFIED_SINCE"))

    @cached_attribute
    def range(self) -> Range | None:
        return parse_range_header(self.environ.get("HTTP_RANGE"))

    @cached_attribute
    def date(self) -> datetime | None:
        return parse_date(self.environ.get("HTTP_DATE"))

    # RFC 9110 §7.6.2, RFC 9111 §5.4 (obsolete but still sent), RFC 1864
    max_forwards = int_field("Max-Forwards", read_only=True)
    pragma = set_field("Pragma", read_only=True)
    content_md5 = text_field("Content-MD5", read_only=True)
    # Fetch standard §3.2.2: the CORS request headers (a preflight sends the last two)
    origin = text_field("Origin", read_only=True)
    access_control_request_headers = set_field("Access-Control-Request-Headers", read_only=True)
    access_control_request_method = text_field("Access-Control-Request-Method", read_only=True)

    # -- body -----------------------------------------------------------------------------------------------

    def _check_length(self) -> None:
        limit = self.max_content_length
        if limit is not None and (self.content_length or 0) > limit:
            raise RequestEntityTooLarge()

    @cached_attribute
    def stream(self) -> IO[bytes]:
        """The body as a stream that ends where the body ends (never blocks past it).

        Raises 413 when Content-Length exceeds ``max_content_length``; a chunked body is cut off with 413
        once it passes the limit.
        """
        if self.shallow:
            raise RuntimeError("a shallow request must not read the body")
        self._check_length()
        return get_input_stream(self.environ, self.max_content_length)

    @property
    def input_stream(self) -> IO[bytes]:
        """The raw ``wsgi.input``, unlimited: prefer :attr:`stream`."""
        stream: IO[bytes] = self.environ.get("wsgi.input") or io.BytesIO()
        return stream

    @overload
    def get_data(
        self, cache: bool = True, as_text: Literal[False] = False, parse_form_data: bool = False
    ) -> bytes: ...
    @overload
    def get_data(self, cache: bool, as_text: Literal[True], parse_form_data: bool = False) -> str: ...
    @overload
    def get_data(
        self, cache: bool = True, *, as_text: Literal[True], parse_form_data: bool = False
    ) -> str: ...

    def get_data(
        self, cache: bool = True, as_text: bool = False, parse_form_data: bool = False
    ) -> bytes | str:
        """The whole body as bytes (or text). Cached unless ``cache=False``; once the form has been parsed
        from the stream, the body is gone and ``b""`` is returned."""
        if parse_form_data:
            self._load_form_data()
        data = self._cached_data
        if data is None:
            data = self.stream.read()
            if cache:
                self._cached_data = data
        return data.decode("utf-8", "replace") if as_text else data

    @property
    def data(self) -> bytes:
        """The body, after form parsing: a form body is parsed into :attr:`form` and reads as ``b""``."""
        return self.get_data(parse_form_data=True)

    def _load_form_data(self) -> None:
        if self._form is not None:
            return
        if self._form_error is not None:
            # The body is consumed: a second access must fail the same way, not look like an empty form.
            raise self._form_error
        if self.shallow:
            raise RuntimeError("a shallow request must not read the body")
        form: MultiDict[str, str] = MultiDict()
        files: MultiDict[str, FileStorage] = MultiDict()
        mimetype = self.mimetype
        parser = self.make_form_data_parser()
        if mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
            if self._cached_data is not None:
                body: IO[bytes] = io.BytesIO(self._cached_data)
            else:
                body = self.stream
                self._cached_data = b""
            try:
                _, form, files = parser.parse(body, mimetype, self.content_length, self.mimetype_params)
            except HTTPException as error:
                self._form_error = error
                raise
        self._form = self.parameter_storage_class(form)
        self._files = ImmutableMultiDict(files)

    def make_form_data_parser(self) -> FormDataParser:
        """The parser of :attr:`form` and :attr:`files`, with this request's limits.

        A malformed body is a 400 (``silent=False``) rather than an empty form: the client learns what
        went wrong instead of the application reporting missing fields.
        """
        return self.form_data_parser_class(
            max_form_memory_size=self.max_form_memory_size,
            max_content_length=self.max_content_length,
            silent=False,
            max_form_parts=self.max_form_parts,
        )

    @property
    def form(self) -> ImmutableMultiDict[str, str]:
        """Fields of a URL-encoded or multipart body (empty for other media types)."""
        self._load_form_data()
        assert self._form is not None
        return self._form

    @property
    def files(self) -> ImmutableMultiDict[str, FileStorage]:
        """Uploaded files of a multipart body, as :class:`~sockweb.web.datastructures.FileStorage`."""
        self._load_form_data()
        assert self._files is not None
        return self._files

    @cached_attribute
    def values(self) -> CombinedMultiDict[str, str]:
        """``args`` then ``form``, as one read-only view (``form`` only for methods that carry a body)."""
        sources = [self.args]
        if self.method not in ("GET", "HEAD"):
            sources.append(self.form)
        # A plain-dict storage class has no lists(): the combined view needs MultiDicts.
        return CombinedMultiDict(
            [source if isinstance(source, MultiDict) else MultiDict(source) for source in sources]
        )

    # -- JSON -----------------------------------------------------------------------------------------------

    @property
    def is_json(self) -> bool:
        """True for ``application/json`` and ``application/*+json`` bodies."""
        mimetype = self.mimetype
        return mimetype == "application/json" or (
            mimetype.startswith("application/") and mimetype.endswith("+json")
        )

    @property
    def json(self) -> Any:
        """The parsed JSON body; 415 if the body is not JSON, 400 if it does not parse."""
        return self.get_json()

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        """Parse the body as JSON.

        Without ``force``, a non-JSON content type raises 415; with ``silent``, failures return ``None``
        instead of raising.
        """
        if cache and self._json_cache is not _MISSING:
            return self._json_cache
        if not (force or self.is_json):
            if silent:
                return None
            got = self.mimetype or "no content type"
            raise UnsupportedMediaType(f"Expected a JSON body (Content-Type: application/json), got {got!r}.")
        data = self.get_data(cache=cache)
        try:
            value = self.json_module.loads(data)
        except (ValueError, RecursionError) as exc:
            if silent:
                return None
            return self.on_json_loading_failed(exc)
        if cache:
            self._json_cache = value
        return value

    def on_json_loading_failed(self, error: BaseException) -> Any:
        """Called when the body is not valid JSON; raises 400 (override to customise)."""
        if isinstance(error, RecursionError):
            detail = "it is nested too deeply"
        elif isinstance(error, json.JSONDecodeError):
            detail = f"{error.msg} at line {error.lineno} column {error.colno}"
        else:
            detail = str(error)
        raise BadRequest(f"Failed to decode JSON object: {detail}.") from error

    # -- lifecycle ------------------------------------------------------------------------------------------

    def close(self) -> None:
        """Close uploaded files (their temporary files are deleted)."""
        if self._files is not None:
            _close_storages([storage for _, storage in self._files.items(multi=True)])

    def __enter__(self) -> Request:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
