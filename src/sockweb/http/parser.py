"""RequestParser: the server side of one HTTP/1.1 connection, bytes in, events out.

Strategy (h11's reader split, flattened for speed): the parser holds one bytearray of unparsed bytes and a
bound method for the current state (head, Content-Length body, chunked body, end of message, paused,
failed), public as the `reader` attribute: `next_event()` calls it, and a caller on a hot path may call
`parser.reader()` itself, one call less (reading the attribute anew each time: it changes with the state).
A reader that raises a ProtocolError records it first (`_fail`), which makes the failure permanent.
Consumed bytes are deleted from the front of the bytearray, which CPython does in amortised O(1), so the
buffer always starts at the next unparsed byte. While nothing is buffered and a head or a Content-Length
body is awaited, a received piece is kept as it came (`_piece`) rather than copied into the bytearray and
deleted from it again: a head that arrives in one piece, as most do, is parsed from the piece itself.

No quadratic work on slow or hostile input: while the head (or a chunk-size line, or the trailer section)
is incomplete, the parser remembers how far it already searched for the terminator and for bare CR/LF, and
it fails as soon as a limit is crossed, so memory and time stay proportional to the limits.
"""

from __future__ import annotations

from binascii import crc32
from collections.abc import Callable

from . import _abnf
from ._accel import FIND_HEAD_END, SHARED_SCANNER
from ._head import MAX_LENGTH_DIGITS as _MAX_LENGTH_DIGITS
from ._head import bad_request_line, longest_line, parse_fields, parse_head
from .errors import BadRequest, ContentTooLarge, HeaderFieldsTooLarge, ProtocolError, URITooLong
from .events import NEED_DATA, PAUSED, Data, EndOfMessage, Event, Request
from .limits import Limits

# chunked sub-states
_SIZE, _DATA, _DATA_END, _TRAILERS = range(4)
# The end of every message without trailers (immutable, so one object serves all).
_END = EndOfMessage()
# RFC 9110 §6.5.1: fields about framing, routing or the connection must not be sent as trailers; accepting
# them invites a later component to merge them, so they are refused.
_FORBIDDEN_TRAILERS = frozenset(
    (
        b"content-length",
        b"transfer-encoding",
        b"host",
        b"connection",
        b"keep-alive",
        b"te",
        b"trailer",
        b"upgrade",
    )
)
_DEFAULT_LIMITS = Limits()
# The memo of a parser without a HeadMemo: shared, so a plain parser allocates none.
_NO_MEMO: dict[int, tuple[bytes, Request]] = {}
# A connection whose last heads all missed the memo stops looking its heads up (a CRC-32 and a lookup per
# head: 4.3k of a browser request's 50.9k instructions) until it sends the same head twice in a row.
MEMO_PATIENCE = 8
# The methods of _abnf.COMMON_REQUEST_LINE, as str.
_COMMON_METHODS = {m.encode(): m for m in _abnf.COMMON_METHODS}


class HeadMemo:
    """Requests already parsed, by the exact bytes of their heads, for the parsers of one server to share.

    Parsing a head is a pure function of its bytes and the limits, so a head seen before needs no second
    parse. Clients often send the same head again on a keep-alive connection (polling, health checks,
    pipelined batches, load generators). A parser given a memo takes a CRC-32 of each complete head and
    looks it up before parsing; a hit counts only if the kept head equals this one byte for byte, so it
    gives the verdict a parse would. A head is kept once a connection has sent it twice in a row, so heads
    that never repeat cost a checksum and a lookup, not an entry; and a connection whose last
    `MEMO_PATIENCE` heads all missed stops looking up until it sends the same head twice in a row, so
    there they cost a comparison with the last head (which the parser holds). Only accepted heads are kept,
    so every error is found and diagnosed anew. The memo holds at most `max_entries` heads of up to
    `max_head_size` bytes each, and empties itself when full.

    A request from the memo is shared: it is the same object for every equal head, so treat it as
    read-only. All parsers sharing a memo must use its limits.
    """

    __slots__ = ("limits", "max_entries", "max_head_size", "requests")

    def __init__(
        self, limits: Limits = _DEFAULT_LIMITS, max_entries: int = 256, max_head_size: int = 4096
    ) -> None:
        if max_entries < 1 or max_head_size < 1:
            raise ValueError("HeadMemo sizes must be positive")
        self.limits = limits
        self.max_entries = max_entries
        self.max_head_size = max_head_size
        self.requests: dict[int, tuple[bytes, Request]] = {}


class RequestParser:
    """Parse requests from a byte stream. `feed(data)` (b"" = EOF), then call `next_event()` until NEED_DATA.

    After the EndOfMessage of a keep-alive request the next call parses the next pipelined request from the
    buffered bytes; after a request that ends the connection it returns PAUSED forever; after a
    ProtocolError it raises the same error again.

    With a `HeadMemo`, a head equal to one the memo holds gives the memo's Request (see HeadMemo), and
    `repeated` says whether the last request came from the memo.
    """

    __slots__ = (
        "_bare",
        "_body_size",
        "_buf",
        "_chunk_state",
        "_common",
        "_common_end",
        "_direct",
        "_end_reader",
        "_eof",
        "_error",
        "_field_line",
        "_head_reader",
        "_host",
        "_keep_alive",
        "_last_head",
        "_limits",
        "_line_ok",
        "_memo",
        "_memo_entries",
        "_memo_head",
        "_memo_misses",
        "_piece",
        "_remaining",
        "_request",
        "_scan",
        "_skipped_crlf",
        "_tchar",
        "drained",
        "partial_head",
        "reader",
        "repeated",
    )

    def __init__(self, limits: Limits = _DEFAULT_LIMITS, memo: HeadMemo | None = None) -> None:
        self._limits = limits
        self._memo = _NO_MEMO  # never read or written while `_memo_head` is 0
        self._memo_entries = self._memo_head = 0
        self._last_head = b""  # the last head parsed while the memo is in use (at most max_head_size bytes)
        self._memo_misses = 0  # heads looked up in the memo in a row and not found
        if memo is not None:
            if memo.limits != limits:
                raise ValueError("a HeadMemo serves only parsers with its limits")
            self._memo = memo.requests
            self._memo_entries = memo.max_entries
            # Heads are looked up when their CRLF CRLF starts before this offset.
            self._memo_head = memo.max_head_size - 3
        self.repeated = False  # the last Request came from the memo
        if limits.allow_underscore_in_names:
            self._field_line, self._tchar = _abnf.FIELD_LINE, _abnf.TCHARS
        else:
            self._field_line, self._tchar = _abnf.FIELD_LINE_NO_UNDERSCORE, _abnf.TCHARS_NO_UNDERSCORE
        # `_common_head` takes heads up to this offset of their CRLF CRLF: within both head limits.
        self._common_end = min(limits.max_request_line, limits.max_head_size - 4)
        # The common-head parser: the C accelerator's scan when it is in use (see _accel; one scanner per
        # Limits, shared), else the reference below; both return the same Request, or None to leave the
        # head to `parse_head`.
        self._common: Callable[[bytes | bytearray, int], Request | None] = (
            self._common_head if SHARED_SCANNER is None else SHARED_SCANNER(limits, Request).scan
        )
        self._buf = bytearray()
        # Nothing is buffered and the next received piece is kept as it came, in `_piece` (`feed`): while a
        # head is awaited (it is parsed from the piece) and while a Content-Length body is read (a large
        # body passes through without being copied into the buffer and out).
        self._direct = True
        self._piece: bytes | None = None
        self._host = b"\0"  # the last Host value found valid (NUL: none yet, never a valid value)
        self._eof = False
        self._error: ProtocolError | None = None
        self._request: Request | None = None
        self._keep_alive = True
        self._remaining = 0
        self._body_size = 0
        self._chunk_state = _SIZE
        # The two readers every request passes through, bound once (binding a method allocates).
        self._head_reader: Callable[[], Event] = self._read_head
        self._end_reader: Callable[[], Event] = self._end_of_message
        # The reader of the current state; `reader()` is `next_event()` without the call in between.
        self.reader = self._head_reader
        # True when the last NEED_DATA of the head reader left part of a request head in the buffer (a plain
        # attribute: a server reads it after every request, to start its deadline for the rest of the head).
        self.partial_head = False
        # True when the last EndOfMessage of a keep-alive request left nothing to parse: no byte buffered,
        # no EOF. Until more is fed, the next event is NEED_DATA, so a server may stop asking for one.
        self.drained = False
        self._reset_scan()
        self._skipped_crlf = False

    # -- public API ---------------------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Append received bytes; b"" means the peer closed its sending side (EOF)."""
        if data:
            if self._eof:
                raise RuntimeError("feed() after EOF")
            if not self._direct:
                self._buf += data
            elif self._piece is None:
                self._piece = data  # kept as it came (see `_direct`)
            else:  # a second piece before the first was parsed: buffer both, in order
                self._buf += self._piece
                self._buf += data
                self._piece = None
                self._direct = False
        else:
            self._eof = True

    def next_event(self) -> Event:
        """The next Request, Data or EndOfMessage; NEED_DATA or PAUSED; or raise ProtocolError."""
        return self.reader()

    @property
    def trailing_data(self) -> bytes:
        """Bytes received but not parsed (e.g. what follows a request that closed the connection)."""
        piece = self._piece
        return bytes(self._buf) if piece is None else piece

    @property
    def buffered_size(self) -> int:
        """Number of bytes received but not yet parsed."""
        piece = self._piece
        return len(self._buf) if piece is None else len(piece)

    @property
    def request(self) -> Request | None:
        """The request currently (or last) being parsed."""
        return self._request

    # -- states ---------------------------------------------------------------------------------------------

    def _reset_scan(self) -> None:
        self._scan = 0  # where the next search for a terminator starts
        self._bare = 0  # where the next search for bare CR/LF starts
        self._line_ok = False  # the request line is known to be within its limit

    def _read_head(self) -> Event:
        buf: bytes | bytearray
        piece = self._piece
        if piece is None:
            buf = self._buf
            if not buf and not self._eof:
                self.partial_head = False
                self._direct = True  # nothing buffered: the next piece is kept as it comes
                return NEED_DATA
        else:  # a piece kept as it came (see `_direct`): parsed from there if it holds a common head
            buf = piece
        # The C search looks at the CRs alone: a fifth of find's cost on a browser's head.
        end = buf.find(b"\r\n\r\n", self._scan) if FIND_HEAD_END is None else FIND_HEAD_END(buf, self._scan)
        try:
            if end <= 0 or buf[0] == 13:
                return self._read_head_slow(end) if piece is None else self._buffer_piece()
            request = None
            if end < self._memo_head:  # 0 without a memo
                head = buf if len(buf) == end + 4 else buf[: end + 4]
                again = head == self._last_head  # this connection sent this head last time too
                if self._memo_misses < MEMO_PATIENCE or again:
                    entry = self._memo.get(crc32(head))
                    if entry is not None and entry[0] == head:
                        request = entry[1]
                        self._memo_misses = 0
                    else:
                        self._memo_misses += 1
                self.repeated = request is not None
            else:
                self.repeated = False
            if request is None:
                request = self._common(buf, end)
                if request is None:
                    if piece is not None:
                        return self._buffer_piece()
                    try:
                        request = parse_head(self._buf, end, self._limits, self._field_line)  # = buf
                    except ProtocolError as exc:
                        raise self._early_error(end + 4, True) or exc from None
                if end < self._memo_head:
                    # Kept when this connection sent the same head twice in a row: heads that never
                    # repeat cost a lookup (or, past MEMO_PATIENCE, a comparison), not an entry.
                    if again:
                        self._remember(crc32(head), bytes(head), request)
                    # (a copy from the buffer, which changes; a received piece is kept as it is)
                    self._last_head = head if type(head) is bytes else bytes(head)
        except ProtocolError as exc:
            self._fail(exc)
            raise
        if piece is None:
            del buf[: end + 4]  # type: ignore[union-attr]  # the bytearray
            self._scan = self._bare = 0
            self._line_ok = self._skipped_crlf = False
        else:  # the scan fields are at rest: they only ever describe a partial head in the buffer
            self._piece = None
            self._direct = False
            if len(piece) > end + 4:  # pipelined bytes (or a body) after the head
                self._buf += memoryview(piece)[end + 4 :]
            buf = self._buf
        self._request = request
        self._keep_alive = request.keep_alive
        if request.chunked:
            self._chunk_state = _SIZE
            self._body_size = 0
            self.reader = self._read_chunked
        elif request.content_length:
            self._remaining = request.content_length
            self.reader = self._read_length
            self._direct = not buf
        else:
            self.reader = self._end_reader
        return request

    def _buffer_piece(self) -> Event:
        """The kept piece holds no complete common head: buffered after all, and the head read from there."""
        piece = self._piece
        assert piece is not None  # the caller read the head from it
        self._buf += piece
        self._piece = None
        self._direct = False
        return self._read_head()

    def _remember(self, digest: int, head: bytes, request: Request) -> None:
        memo = self._memo
        if len(memo) >= self._memo_entries:
            memo.clear()
        memo[digest] = (head, request)

    def _common_head(self, buf: bytes | bytearray, end: int) -> Request | None:
        """The request whose head is buf[:end + 4], if it is a common one; None sends it to `parse_head`.

        Common: an origin-form target, HTTP/1.0 or 1.1, no repeated field name, and no Transfer-Encoding
        or Expect. The request-line is matched by a regex; the field lines are checked with no regex
        (see below), but they must be exactly the lines `_abnf.FIELD_LINE` matches, and get the same names
        and values as in `parse_head`. Framing is read from one dict instead of a loop, and a Host value
        equal to the one this connection sent before is not matched again. Anything else, valid or not,
        is left to `parse_head`, which gives the verdict and the diagnosis; the result is the same either
        way.
        """
        # RFC 9112 §3 and §3.2.1: the common request-line, matched only up to the shortest head limit.
        m = _abnf.COMMON_REQUEST_LINE.match(buf, 0, end + 2)
        if m is None or end > self._common_end:
            return None
        limits = self._limits
        method_b, target, minor = m.groups()
        line_end = m.end()
        # RFC 9112 §5: field-line = field-name ":" OWS field-value OWS, CRLF-terminated (§2.1). Checked for
        # the whole block: what the translate leaves must be one CRLF per line (so no CTL but HTAB in a
        # value, RFC 9110 §5.5, and no bare CR or LF, RFC 9112 §2.2); then every line needs a colon, and the
        # names before the colons must be non-empty tokens (this also refuses whitespace before a colon,
        # RFC 9112 §5.1, and obs-fold, §5.2). The OWS around a value is not part of it.
        block = buf[line_end:end]  # the field lines without the last one's CRLF
        if type(block) is bytearray:  # a head from the buffer: names and values must be bytes
            block = bytes(block)
        # (`type`, not `isinstance`, which mypy would follow: 260 fewer instructions per head under callgrind)
        lines: list[bytes] = block.split(b"\r\n") if block else []  # type: ignore[assignment]
        if (
            block.translate(None, _abnf.NOT_CTL) != b"\r\n" * (len(lines) - 1)
            or len(lines) > limits.max_header_count
        ):
            return None
        # RFC 9110 §5.4: a field line over its limit is left to parse_head, which answers 431.
        if end - line_end > limits.max_field_size and longest_line(block) > limits.max_field_size:
            return None
        headers = []
        for line in lines:
            name, colon, value = line.partition(b":")
            if not colon:
                return None
            headers.append((name.lower(), value.strip(b" \t")))
        named = dict(headers)
        names = b"".join(named)
        if (
            len(named) != len(headers)
            or b"" in named
            # RFC 9110 §5.6.2: names are tokens. Letters, digits and "-" make nearly every name: checked
            # first, without the translate table built for every call.
            or (not names.replace(b"-", b"").isalnum() and names.translate(None, self._tchar))
            or b"transfer-encoding" in named
            or b"expect" in named
        ):
            return None
        version = "1.1" if minor == b"1" else "1.0"
        host = named.get(b"host")
        if host is None:
            if version == "1.1":
                return None
        elif host != self._host:
            if _abnf.HOST_VALUE.fullmatch(host) is None:
                return None
            self._host = host
        length = None
        digits = named.get(b"content-length")
        if digits is not None:
            # RFC 9110 §8.6: Content-Length = 1*DIGIT (anything else, or a list, goes to parse_head).
            if not digits.isdigit() or len(digits) > _MAX_LENGTH_DIGITS:
                return None
            length = int(digits)
            if limits.max_body_size is not None and length > limits.max_body_size:
                return None
        keep_alive = version == "1.1"
        connection = named.get(b"connection")
        if connection is not None:
            connection = connection.lower()
            if connection == b"close":
                keep_alive = False
            elif connection == b"keep-alive":
                # RFC 9112 §9.3 / §C.2.2: 1.1 is persistent unless "close"; 1.0 only with "keep-alive".
                keep_alive = True
            else:
                return None
        return Request(_COMMON_METHODS[method_b], target, version, headers, keep_alive, False, length, False)

    def _read_head_slow(self, end: int) -> Event:
        buf = self._buf
        # RFC 9112 §2.2: a server SHOULD ignore at least one empty line (CRLF) before the request-line.
        if buf[:2] == b"\r\n" and not self._skipped_crlf:
            del buf[:2]
            self._skipped_crlf = True
            self._reset_scan()
            return self._read_head()
        if end >= 0:
            # A complete head starting with CR (a second empty line, or a stray CR) has no valid request-line.
            raise self._early_error(end + 4, True) or bad_request_line(buf, end, self._limits)
        return self._head_incomplete()

    def _head_incomplete(self) -> Event:
        buf = self._buf
        n = len(buf)
        error = self._early_error(n, True)
        if error is not None:
            raise error
        if self._eof:
            if n == 0:
                self.reader = self._paused
                return PAUSED
            raise BadRequest("connection closed in the middle of a request head")
        self._scan = n - 3 if n > 3 else 0
        self._bare = n - 1 if n else 0
        self.partial_head = True
        return NEED_DATA

    def _early_error(self, n: int, head: bool) -> ProtocolError | None:
        """The first limit or bare CR/LF violation in buf[:n] (head or trailer section), by position.

        Errors are ranked by the offset at which they become visible, so the verdict does not depend on how
        the bytes were split into reads: a stream fed whole fails exactly like the same stream fed byte by
        byte. Only bytes from `self._bare` on are searched (the rest was searched by earlier calls).
        """
        buf = self._buf
        limits = self._limits
        found: list[tuple[int, ProtocolError]] = []
        # RFC 9112 §2.2: a bare CR or a bare LF in the head -> 400, decided without waiting for more bytes.
        bare = _abnf.BARE_CR_LF.search(buf, self._bare, n)
        if bare is not None:
            found.append((bare.end() - 1, BadRequest("bare CR or LF")))
        if head:
            if not self._line_ok:
                line_end = buf.find(b"\n", self._bare, n)
                # RFC 9112 §3: a request-line longer than the server wishes to parse -> 414.
                too_long_at = limits.max_request_line + 1
                if (line_end < 0 and n > too_long_at) or line_end > too_long_at:
                    found.append((too_long_at, URITooLong("request line too long")))
                self._line_ok = 0 <= line_end <= too_long_at
            if n > limits.max_head_size:
                found.append((limits.max_head_size, HeaderFieldsTooLarge("request head too large")))
        elif n > limits.max_trailer_size:
            found.append((limits.max_trailer_size, HeaderFieldsTooLarge("trailer section too large")))
        return min(found, key=lambda item: item[0])[1] if found else None

    def _read_length(self) -> Event:
        remaining = self._remaining
        data = self._piece
        if data is not None:
            self._piece = None
            if len(data) > remaining:  # the body ends inside this piece: buffer what follows it
                self._buf += memoryview(data)[remaining:]
                self._direct = False
                data = data[:remaining]
        else:
            buf = self._buf
            n = len(buf)
            if n == 0:
                self._direct = True
                return self._need_body_data()
            if n <= remaining:
                data = bytes(buf)
                buf.clear()
                self._direct = True
            else:
                data = bytes(buf[:remaining])
                del buf[:remaining]
        self._remaining = remaining = remaining - len(data)
        if remaining == 0:
            self._direct = False
            self.reader = self._end_reader
        return Data(data)

    def _read_chunked(self) -> Event:
        buf = self._buf
        try:
            while True:
                state = self._chunk_state
                if state == _DATA:
                    n = len(buf)
                    if n == 0:
                        return self._need_body_data()
                    remaining = self._remaining
                    if n <= remaining:
                        data = bytes(buf)
                        buf.clear()
                    else:
                        data = bytes(buf[:remaining])
                        del buf[:remaining]
                    self._remaining = remaining = remaining - len(data)
                    if remaining == 0:
                        self._chunk_state = _DATA_END
                    return Data(data)
                if state == _SIZE:
                    if not self._chunk_size_line():
                        return self._need_body_data()
                elif state == _DATA_END:
                    n = len(buf)
                    # RFC 9112 §7.1: chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF -> the CRLF after
                    # every chunk's data is checked; anything else -> 400 (as soon as a wrong byte is seen).
                    if (n >= 1 and buf[0] != 13) or (n >= 2 and buf[1] != 10):
                        raise BadRequest("missing CRLF after chunk data")
                    if n < 2:
                        return self._need_body_data()
                    del buf[:2]
                    self._chunk_state = _SIZE
                else:
                    return self._read_trailers()
        except ProtocolError as exc:
            self._fail(exc)
            raise

    def _chunk_size_line(self) -> bool:
        buf = self._buf
        limits = self._limits
        nl = buf.find(b"\n", self._scan)
        if nl < 0:
            n = len(buf)
            # RFC 9112 §7.1.1: a server ought to limit the total length of chunk extensions -> 400.
            if n > _abnf.MAX_CHUNK_SIZE_DIGITS + limits.max_chunk_ext + 1:
                raise BadRequest("chunk-size line too long")
            self._scan = n
            return False
        self._scan = 0
        m = _abnf.CHUNK_LINE.match(buf, 0, nl + 1)
        # RFC 9112 §7.1: chunk-size = 1*HEXDIG, optional chunk-ext, then CRLF (no sign, no "0x", no bare LF).
        if m is None:
            raise BadRequest("invalid chunk-size line")
        if m.end(2) - m.start(2) > limits.max_chunk_ext:
            raise BadRequest("chunk extensions too long")
        size = int(m.group(1), 16)
        del buf[: nl + 1]
        if size == 0:
            self._chunk_state = _TRAILERS
            self._bare = 0
            return True
        self._body_size += size
        if limits.max_body_size is not None and self._body_size > limits.max_body_size:
            raise ContentTooLarge("request body too large")
        self._remaining = size
        self._chunk_state = _DATA
        return True

    def _read_trailers(self) -> Event:
        buf = self._buf
        # RFC 9112 §7.1: last-chunk [ trailer-section ] CRLF; an empty trailer section is just CRLF.
        if buf[:2] == b"\r\n":
            del buf[:2]
            return self._finish([])
        end = buf.find(b"\r\n\r\n", self._scan)
        if end < 0:
            n = len(buf)
            # RFC 9112 §2.2 (bare CR or LF -> 400) and the trailer section limit (-> 431).
            error = self._early_error(n, False)
            if error is not None:
                raise error
            self._scan = n - 3 if n > 3 else 0
            self._bare = n - 1 if n > 1 else 0
            return self._need_body_data()
        try:
            trailers = self._parse_trailers(end)
        except ProtocolError as exc:
            raise self._early_error(end + 4, False) or exc from None
        del buf[: end + 4]
        self._reset_scan()
        return self._finish(trailers)

    def _parse_trailers(self, end: int) -> list[tuple[bytes, bytes]]:
        limits = self._limits
        if end + 4 > limits.max_trailer_size:
            raise HeaderFieldsTooLarge("trailer section too large")
        # RFC 9112 §7.1.2: trailer fields are field lines, parsed like header fields.
        trailers = parse_fields(self._buf, 0, end + 2, limits, self._field_line)
        for name, _ in trailers:
            # RFC 9110 §6.5.1: framing, routing and connection fields are not allowed in trailers.
            if name in _FORBIDDEN_TRAILERS:
                raise BadRequest("forbidden trailer field")
        return trailers

    def _need_body_data(self) -> Event:
        # RFC 9112 §8: a message whose body is cut short by the connection closing is incomplete -> error.
        if self._eof:
            raise self._fail(BadRequest("connection closed before the request body was complete"))
        return NEED_DATA

    def _end_of_message(self) -> Event:
        # RFC 9112 §9.6: after a request that closes the connection, the server reads nothing more.
        if self._keep_alive:
            self.reader = self._head_reader
            # Nothing buffered: the next piece is kept as it comes (`_direct`), and no event is pending.
            self._direct = self.drained = not self._buf and not self._eof
        else:
            self.reader = self._paused
            self.drained = False
        return _END

    def _finish(self, trailers: list[tuple[bytes, bytes]]) -> Event:
        self._end_of_message()
        return EndOfMessage(trailers) if trailers else _END

    def _fail(self, exc: ProtocolError) -> ProtocolError:
        """Record `exc`: from now on `next_event()` raises it again."""
        self._error = exc
        self.reader = self._failed
        return exc

    def _paused(self) -> Event:
        return PAUSED

    def _failed(self) -> Event:
        assert self._error is not None
        raise self._error
