"""sockweb.http: the HTTP/1.1 protocol, sans-io (bytes in, events out; events in, bytes out).

`RequestParser` turns received bytes into `Request`, `Data` and `EndOfMessage` events (or NEED_DATA / PAUSED,
or a `ProtocolError` carrying the status to answer with); `plan_response` and `BodyWriter` turn a status,
headers and body into bytes. No sockets, threads, clock or logging here. The parser's common heads are
scanned by an optional C accelerator when it is built; `describe_parser()` says which path runs.
"""

from __future__ import annotations

from ._accel import describe_parser
from .errors import (
    BadRequest,
    ContentTooLarge,
    HeaderFieldsTooLarge,
    NotImplementedCoding,
    ProtocolError,
    URITooLong,
    VersionNotSupported,
)
from .events import NEED_DATA, PAUSED, Data, EndOfMessage, Event, Request, Signal
from .limits import Limits
from .parser import HeadMemo, RequestParser
from .response import (
    CONTINUE_RESPONSE,
    LAST_CHUNK,
    BodyWriter,
    ResponsePlan,
    encode_chunk,
    error_response,
    plan_response,
)
from .status import STATUS_REASONS

__all__ = [
    "CONTINUE_RESPONSE",
    "LAST_CHUNK",
    "NEED_DATA",
    "PAUSED",
    "STATUS_REASONS",
    "BadRequest",
    "BodyWriter",
    "ContentTooLarge",
    "Data",
    "EndOfMessage",
    "Event",
    "HeadMemo",
    "HeaderFieldsTooLarge",
    "Limits",
    "NotImplementedCoding",
    "ProtocolError",
    "Request",
    "RequestParser",
    "ResponsePlan",
    "Signal",
    "URITooLong",
    "VersionNotSupported",
    "describe_parser",
    "encode_chunk",
    "error_response",
    "plan_response",
]
