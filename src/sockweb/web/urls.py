"""IRIs and URIs: Unicode URLs made fit for the wire (``iri_to_uri``) and back (``uri_to_iri``).

Strategy: a URL is split into its RFC 3986 parts by hand (scheme, authority, path, query, fragment), keeping
whether each delimiter was present, so ``itms-services://?x`` or ``/a?`` come back unchanged (``urllib``'s
``urlunsplit`` drops empty authorities and queries). Each part then gets its own safe set:

- ``iri_to_uri`` percent-encodes, as UTF-8, every character that is not a URL code point (RFC 3987 §3.1),
  leaves existing ``%XX`` escapes alone (so it is idempotent) and encodes the host with IDNA, label by label.
  The result is ASCII: it can go in a ``Location`` header, whose value must be latin-1 on the WSGI side.
- ``uri_to_iri`` decodes ``%XX`` runs that form valid UTF-8 (RFC 3987 §3.2), except for the characters that
  would change the meaning of the part they sit in (``/`` in a path, ``&`` and ``=`` in a query, ``%``
  itself, ...), spaces and controls; hosts in ``xn--`` form are decoded from IDNA.

Both never raise for text input: a label IDNA cannot encode is percent-encoded instead.
"""

from __future__ import annotations

import re
from typing import NamedTuple
from urllib.parse import quote

__all__ = ["decode_host", "encode_host", "iri_to_uri", "uri_to_iri"]

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_ESCAPES = re.compile(r"(?:%[0-9A-Fa-f]{2})+")

# RFC 3986 §3.3 pchar (minus unreserved, which quote() never touches), plus "%" so escapes survive.
_PATH_SAFE = "%!$&'()*+,/:;=@"
_QUERY_SAFE = _PATH_SAFE + "?"
_FRAGMENT_SAFE = _QUERY_SAFE + "#"
_USERINFO_SAFE = "%!$&'()*+,;="

# Characters that stay escaped when decoding, because decoding them would change the structure of the part.
_KEEP_PATH = frozenset("%/?#")
_KEEP_QUERY = frozenset("%&=;+#")
_KEEP_FRAGMENT = frozenset("%#")
_KEEP_USERINFO = frozenset("%:@/?#")


class _URLParts(NamedTuple):
    """A URL split with delimiters remembered: ``None`` means the delimiter was absent."""

    scheme: str | None
    authority: str | None
    path: str
    query: str | None
    fragment: str | None


def _split(url: str) -> _URLParts:
    rest, hash_sign, fragment = url.partition("#")
    rest, question, query = rest.partition("?")
    scheme_match = _SCHEME.match(rest)
    scheme = None
    if scheme_match is not None:
        scheme, rest = scheme_match.group()[:-1], rest[scheme_match.end() :]
    authority = None
    if rest.startswith("//"):
        authority, slash, path = rest[2:].partition("/")
        rest = slash + path
    return _URLParts(scheme, authority, rest, query if question else None, fragment if hash_sign else None)


def _join(parts: _URLParts) -> str:
    out = []
    if parts.scheme is not None:
        out.append(parts.scheme + ":")
    if parts.authority is not None:
        out.append("//" + parts.authority)
    out.append(parts.path)
    if parts.query is not None:
        out.append("?" + parts.query)
    if parts.fragment is not None:
        out.append("#" + parts.fragment)
    return "".join(out)


def _split_authority(authority: str) -> tuple[str | None, str, str | None]:
    """``(userinfo, host, port)``; the host keeps IPv6 brackets."""
    userinfo, at, hostport = authority.rpartition("@")
    if hostport.startswith("["):
        host, bracket, after = hostport.partition("]")
        host += bracket
        port = after[1:] if after.startswith(":") else None
    else:
        host, colon, port_text = hostport.partition(":")
        port = port_text if colon else None
    return (userinfo if at else None), host, port


def _join_authority(userinfo: str | None, host: str, port: str | None) -> str:
    return (f"{userinfo}@" if userinfo is not None else "") + host + (f":{port}" if port is not None else "")


def encode_host(host: str) -> str:
    """A host name as ASCII: each non-ASCII label IDNA-encoded (``☃.net`` -> ``xn--n3h.net``).

    A label IDNA refuses (too long, forbidden characters) is percent-encoded as UTF-8 instead, which no
    resolver will find but which is safe to put in a header.
    """
    if host.isascii():
        return host
    labels = []
    for label in host.split("."):
        if label.isascii():
            labels.append(label)
            continue
        try:
            labels.append(label.encode("idna").decode("ascii"))
        except UnicodeError:
            labels.append(quote(label, safe=""))
    return ".".join(labels)


def decode_host(host: str) -> str:
    """The Unicode form of a host: ``xn--`` labels IDNA-decoded, the ones that do not decode kept."""
    labels = []
    for label in host.split("."):
        decoded = label
        if label[:4].lower() == "xn--":
            try:
                decoded = label.encode("ascii").decode("idna")
            except UnicodeError:
                pass
        labels.append(decoded)
    return ".".join(labels)


def iri_to_uri(iri: str) -> str:
    """Percent-encode an IRI into an ASCII URI (RFC 3987 §3.1); idempotent, and a URI is returned unchanged.

    >>> iri_to_uri("http://☃.net/påth?q=ü")
    'http://xn--n3h.net/p%C3%A5th?q=%C3%BC'
    """
    parts = _split(iri)
    authority = parts.authority
    if authority is not None:
        userinfo, host, port = _split_authority(authority)
        if userinfo is not None:
            userinfo = quote(userinfo, safe=_USERINFO_SAFE + ":")
        authority = _join_authority(userinfo, encode_host(host), port)
    return _join(
        _URLParts(
            parts.scheme,
            authority,
            quote(parts.path, safe=_PATH_SAFE),
            None if parts.query is None else quote(parts.query, safe=_QUERY_SAFE),
            None if parts.fragment is None else quote(parts.fragment, safe=_FRAGMENT_SAFE),
        )
    )


def _unquote_keeping(text: str, keep: frozenset[str]) -> str:
    """Decode ``%XX`` runs as UTF-8, leaving escaped: invalid bytes, ``keep``, spaces and controls."""

    def decode(match: re.Match[str]) -> str:
        raw = bytes.fromhex(match.group().replace("%", ""))
        out = []
        for char in raw.decode("utf-8", "surrogateescape"):
            code = ord(char)
            if 0xDC80 <= code <= 0xDCFF:
                out.append(f"%{code - 0xDC00:02X}")
            elif char in keep or code <= 0x20 or 0x7F <= code <= 0x9F:
                out.append("".join(f"%{byte:02X}" for byte in char.encode("utf-8")))
            else:
                out.append(char)
        return "".join(out)

    return _ESCAPES.sub(decode, text)


def uri_to_iri(uri: str) -> str:
    """Decode a URI into a readable IRI (RFC 3987 §3.2) without changing what it addresses.

    >>> uri_to_iri("http://xn--n3h.net/%E2%98%83?q=%26%C3%BC")
    'http://☃.net/☃?q=%26ü'
    """
    parts = _split(uri)
    authority = parts.authority
    if authority is not None:
        userinfo, host, port = _split_authority(authority)
        if userinfo is not None:
            userinfo = _unquote_keeping(userinfo, _KEEP_USERINFO)
        authority = _join_authority(userinfo, decode_host(host), port)
    return _join(
        _URLParts(
            parts.scheme,
            authority,
            _unquote_keeping(parts.path, _KEEP_PATH),
            None if parts.query is None else _unquote_keeping(parts.query, _KEEP_QUERY),
            None if parts.fragment is None else _unquote_keeping(parts.fragment, _KEEP_FRAGMENT),
        )
    )
