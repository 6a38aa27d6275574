"""Classes of header fields: hop-by-hop fields (RFC 9110 §7.6.1) and representation ("entity") fields.

Strategy: two frozensets of lowercased names and in-place filters that work on a plain list of pairs or
on :class:`~sockweb.web.datastructures.Headers` alike (both support slice assignment). A proxy or a 304
response uses them to drop what must not be forwarded or repeated.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableSequence
from typing import Any

# RFC 9110 §7.6.1: fields that belong to one connection and are never forwarded ("Trailers" is the
# obsolete RFC 2616 spelling some software still sends).
HOP_BY_HOP_HEADERS = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers",
     "transfer-encoding", "upgrade"}
)  # fmt: skip

# The representation metadata and content fields (RFC 2616 §7.1's "entity headers") that a 304 Not
# Modified does not repeat, RFC 9110 §15.4.5.
ENTITY_HEADERS = frozenset(
    {"allow", "content-encoding", "content-language", "content-length", "content-location", "content-md5",
     "content-range", "content-type", "expires", "last-modified"}
)  # fmt: skip


def is_hop_by_hop_header(name: str) -> bool:
    """Is ``name`` a connection-specific field?"""
    return name.lower() in HOP_BY_HOP_HEADERS


def is_entity_header(name: str) -> bool:
    """Is ``name`` a representation ("entity") field?"""
    return name.lower() in ENTITY_HEADERS


def remove_hop_by_hop_headers(headers: MutableSequence[Any] | Any) -> None:
    """Remove the hop-by-hop fields from a list of ``(name, value)`` pairs or a Headers, in place."""
    headers[:] = [(name, value) for name, value in headers if not is_hop_by_hop_header(name)]


def remove_entity_headers(
    headers: MutableSequence[Any] | Any, allowed: Iterable[str] = ("expires", "content-location")
) -> None:
    """Remove the entity fields but ``allowed`` (which a 304 may carry) from a list of pairs or a Headers,
    in place."""
    keep = {name.lower() for name in allowed}
    headers[:] = [
        (name, value) for name, value in headers if not is_entity_header(name) or name.lower() in keep
    ]
