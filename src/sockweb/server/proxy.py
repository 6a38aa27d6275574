"""Reverse-proxy headers: who the client really is, and which scheme and host it used.

A request that came through a proxy carries the client's address, scheme and host in ``Forwarded``
(RFC 7239) or the de-facto ``X-Forwarded-For/-Proto/-Host/-Port`` headers. Anyone can send those headers,
and a proxy passes on every header it does not set itself, so two rules decide what is believed:

* **who**: the headers are applied only when the peer (REMOTE_ADDR) is in ``--forwarded-allow-ips``;
  from any other peer they are left as they are, and never acted on;
* **what**: only the one family the proxy writes (``--forwarded-headers``: ``x-forwarded``, the default,
  ``forwarded`` or ``none``), and of it only the fields the proxy overwrites (``--forwarded-fields``,
  default ``for,proto``; ``prefix``, X-Forwarded-Prefix only, mounts the application under the path the
  proxy serves it at, see :mod:`sockweb.server.mount`). A header the proxy does not overwrite still
  holds the client's value, so merging it would let the client choose its address, scheme or host.
  From a trusted peer, the forwarding headers outside that selection are **removed** from the environ,
  so an application or a library that reads them itself cannot be fooled either (the selected ones
  stay, for logging).

This module is the one place those rules live; the rest of sockweb (the debugger's loopback check, the
toolkit's ``Request.remote_addr``) reads only the REMOTE_ADDR, ``wsgi.url_scheme`` and HTTP_HOST it leaves.

Strategy, per request:

1. fast exit when none of the five headers is present (the common case costs five dict lookups);
2. fast exit when the peer is not trusted (membership is cached per address);
3. drop the forwarding headers outside the selection;
4. walk the hops from the right (the entry our peer appended) leftwards, skipping hops whose address is
   itself a trusted proxy; the first untrusted hop is the client (the rightmost untrusted hop, so a client
   cannot spoof its address by prepending entries: nginx's ``$proxy_add_x_forwarded_for`` appends);
5. validate what is taken (an IP address, ``http``/``https``, a host name, a port) and rewrite
   REMOTE_ADDR (and REMOTE_PORT when known), ``wsgi.url_scheme``, HTTP_HOST, SERVER_NAME and SERVER_PORT.
   The original values are kept in ``environ["sockweb.proxy.original"]``.

Unix-socket peers have no address (REMOTE_ADDR is empty); the entry ``unix`` (in the default list) trusts
them: reaching the socket is already controlled by its file permissions (``--umask``).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable, Iterable, MutableMapping
from typing import TYPE_CHECKING, Any

from sockweb.server.mount import check_prefix, mount
from sockweb.server.wsgi import FORWARDING_KEYS

if TYPE_CHECKING:
    from sockweb.server.config import Config

__all__ = ["FAMILIES", "FIELDS", "AllowList", "ProxyFixer", "check_fields", "parse_forwarded"]

# --forwarded-headers: the header family a trusted proxy writes, and the environ keys of each of its fields.
FAMILIES = ("x-forwarded", "forwarded", "none")
FIELDS = ("for", "proto", "host", "port", "prefix")
_FAMILY_KEYS: dict[str, dict[str, str]] = {
    "x-forwarded": {field: "HTTP_X_FORWARDED_" + field.upper() for field in FIELDS},
    # RFC 7239 §5: one header carries for/proto/host (the port rides in host; it has no prefix).
    "forwarded": {"for": "HTTP_FORWARDED", "proto": "HTTP_FORWARDED", "host": "HTTP_FORWARDED"},
    "none": {},
}

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_HOST_RE = re.compile(r"(?:[A-Za-z0-9._~!$&'()*+,;=%-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")
_CACHE_SIZE = 4096


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address ``text`` names (IPv4-mapped IPv6 as IPv4), or None; cached (parsing is slow)."""
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class AllowList:
    """Trusted peers: addresses, CIDR networks, ``unix`` (unix-socket peers) or ``*`` (everyone)."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.everyone = False
        self.unix = False
        self.networks: list[_Network] = []
        for raw in entries:
            entry = raw.strip()
            if entry == "*":
                self.everyone = True
            elif entry == "unix":
                self.unix = True
            else:
                try:
                    self.networks.append(ipaddress.ip_network(entry, strict=False))
                except ValueError:
                    raise ValueError(
                        f"expected IP addresses, CIDR networks, 'unix' or '*' (bad entry {entry!r})"
                    ) from None
        self._cache: dict[str, bool] = {}

    def __contains__(self, peer: str) -> bool:
        if self.everyone:
            return True
        cached = self._cache.get(peer)
        if cached is None:
            cached = self._lookup(peer)
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()
            self._cache[peer] = cached
        return cached

    def _lookup(self, peer: str) -> bool:
        if peer == "":
            return self.unix
        address = _ip(peer)
        return address is not None and any(address in net for net in self.networks)


# RFC 7239 §4: forwarded-element = [ forwarded-pair ] *( ";" [ forwarded-pair ] ), pairs are
# token "=" ( token / quoted-string ), elements separated by commas.
_PAIR_RE = re.compile(
    r'\s*([A-Za-z0-9!#$%&\'*+.^_`|~-]+)=([A-Za-z0-9!#$%&\'*+.^_`|~:\[\]-]+|"(?:[^"\\]|\\.)*")\s*'
)


def parse_forwarded(value: str) -> list[dict[str, str]] | None:
    """The elements of a ``Forwarded`` header (keys lowercased), or None when it is malformed."""
    elements: list[dict[str, str]] = [{}]
    pos, end = 0, len(value)
    while pos < end:
        if value[pos] in " \t":
            pos += 1
            continue
        if value[pos] == ",":
            elements.append({})
            pos += 1
            continue
        if value[pos] == ";":
            pos += 1
            continue
        match = _PAIR_RE.match(value, pos)
        if match is None:
            return None
        key, raw = match.group(1).lower(), match.group(2)
        if raw.startswith('"'):
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        if key in elements[-1]:
            return None  # RFC 7239 §4: a parameter must not occur more than once per element
        elements[-1][key] = raw
        pos = match.end()
    return [e for e in elements if e]


def check_fields(fields: Iterable[str]) -> tuple[str, ...]:
    """``--forwarded-fields`` normalised (lowercase, known names), or ValueError("expected ...")."""
    out = tuple(field.strip().lower() for field in fields)
    unknown = [field for field in out if field not in FIELDS]
    if unknown:
        raise ValueError(f"expected a list of {', '.join(FIELDS)} (bad entry {unknown[0]!r})")
    return out


def _split_node(node: str) -> tuple[str, str]:
    """RFC 7239 §6 node -> (address, port); obfuscated or ``unknown`` nodes give ("", "").

    A bare IPv6 address (no brackets, as ``for="$remote_addr"`` in nginx gives) is taken as is."""
    if _ip(node) is not None:
        return node, ""
    if node.startswith("["):
        host, _, rest = node[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
        return (host, port) if _ip(host) is not None else ("", "")
    host, sep, port = node.partition(":")
    if _ip(host) is None:
        return "", ""
    return host, port if sep else ""


class ProxyFixer:
    """Applies trusted proxies' headers to the environ (the server calls ``apply`` per request).

    ``family`` is the one header family believed (see ``FAMILIES``), ``fields`` the fields of it that are
    applied; every other forwarding header from a trusted peer is removed from the environ.
    """

    def __init__(
        self, allow: AllowList, family: str = "x-forwarded", fields: Iterable[str] = ("for", "proto")
    ) -> None:
        if family not in _FAMILY_KEYS:
            raise ValueError(f"expected one of {', '.join(FAMILIES)} (not {family!r})")
        self.allow = allow
        self.family = family
        self.fields = frozenset(check_fields(fields)) & _FAMILY_KEYS[family].keys()
        keep = {_FAMILY_KEYS[family][field] for field in self.fields}
        # "none": the application handles (or ignores) every forwarding header itself; nothing is removed.
        self.strip = () if family == "none" else tuple(sorted(FORWARDING_KEYS - keep))
        self._apply = functools.partial(_APPLY[family], self)

    @classmethod
    def from_config(cls, config: Config) -> ProxyFixer | None:
        """None when no peer is trusted or no family is (nothing to do per request)."""
        allow = AllowList(config.forwarded_allow_ips)
        if not (allow.everyone or allow.unix or allow.networks) or config.forwarded_headers == "none":
            return None
        return cls(allow, config.forwarded_headers, config.forwarded_fields)

    def apply(self, environ: MutableMapping[str, Any]) -> None:
        """Rewrite `environ` from its forwarding headers when its peer is a trusted proxy (in place)."""
        if FORWARDING_KEYS.isdisjoint(environ):
            return
        peer = environ.get("REMOTE_ADDR") or ""
        if peer not in self.allow:
            return
        # A header the proxy does not overwrite still holds what the client sent: it must not reach the
        # application looking as if the proxy had vouched for it.
        for key in self.strip:
            environ.pop(key, None)
        self._apply(environ)

    # --- the two header families -------------------------------------------------------------------

    def _client_hop(self, addresses: list[str]) -> int:
        """Index of the rightmost hop whose address is not a trusted proxy (the leftmost if all are)."""
        for index in range(len(addresses) - 1, -1, -1):
            if addresses[index] not in self.allow or addresses[index] == "":
                return index
        return 0

    def _apply_forwarded(self, environ: MutableMapping[str, Any]) -> None:
        value = environ.get("HTTP_FORWARDED")
        elements = parse_forwarded(value) if isinstance(value, str) else None
        if not elements:
            return
        fields = self.fields
        hop = len(elements) - 1  # without "for", only the element our peer wrote is believed
        address = port = ""
        if "for" in fields:
            nodes = [_split_node(e.get("for", "")) for e in elements]
            hop = self._client_hop([a for a, _ in nodes])
            address, port = nodes[hop]
        element = elements[hop]
        proto = element.get("proto") if "proto" in fields else None
        host = element.get("host") if "host" in fields else None
        self._rewrite(environ, address, port, proto=proto, host=host, port=None)

    def _apply_x_forwarded(self, environ: MutableMapping[str, Any]) -> None:
        def values(name: str) -> list[str]:
            raw = environ.get(name)
            return [v.strip() for v in raw.split(",")] if isinstance(raw, str) else []

        fields = self.fields
        hop_from_right = 0  # without "for", only the value our peer wrote is believed
        address = ""
        chain = values("HTTP_X_FORWARDED_FOR") if "for" in fields else []
        if chain:
            nodes = [_split_node(v) for v in chain]
            hop = self._client_hop([a for a, _ in nodes])
            address = nodes[hop][0]
            hop_from_right = len(chain) - 1 - hop

        def pick(field: str) -> str | None:
            found = values(f"HTTP_X_FORWARDED_{field.upper()}") if field in fields else []
            if not found:
                return None
            return found[max(0, len(found) - 1 - hop_from_right)]

        self._rewrite(environ, address, "", proto=pick("proto"), host=pick("host"), port=pick("port"))
        prefix = pick("prefix")
        if prefix is not None:
            _mount_prefix(environ, prefix)

    def _rewrite(
        self,
        environ: MutableMapping[str, Any],
        address: str,
        address_port: str,
        *,
        proto: str | None,
        host: str | None,
        port: str | None,
    ) -> None:
        original = {
            k: environ.get(k)
            for k in ("REMOTE_ADDR", "REMOTE_PORT", "wsgi.url_scheme", "HTTP_HOST", "SERVER_PORT")
        }
        if address:
            environ["REMOTE_ADDR"] = str(_ip(address))
            if address_port.isdigit():
                environ["REMOTE_PORT"] = address_port
        if proto is not None and proto.lower() in ("http", "https"):
            environ["wsgi.url_scheme"] = proto.lower()
        if host and _HOST_RE.fullmatch(host):
            environ["HTTP_HOST"] = host
            if host.startswith("["):
                name, _, rest = host[1:].partition("]")
                host_port = rest[1:]
            else:
                name, _, host_port = host.partition(":")
            environ["SERVER_NAME"] = name
            if host_port.isdigit():
                environ["SERVER_PORT"] = host_port
            else:
                environ["SERVER_PORT"] = "443" if environ.get("wsgi.url_scheme") == "https" else "80"
        if port is not None and port.isdigit() and int(port) <= 65535:
            environ["SERVER_PORT"] = port
        environ["sockweb.proxy.original"] = original


def _mount_prefix(environ: MutableMapping[str, Any], prefix: str) -> None:
    """X-Forwarded-Prefix: mount the request under the prefix the proxy serves us at (sockweb.server.mount
    holds the rule and the check; an invalid prefix is ignored, like an invalid host)."""
    try:
        prefix = check_prefix(prefix)
    except ValueError:
        return
    original = environ.get("sockweb.proxy.original")
    if isinstance(original, dict):
        original["SCRIPT_NAME"] = environ.get("SCRIPT_NAME")
        original["PATH_INFO"] = environ.get("PATH_INFO")
    mount(environ, prefix)


def _nothing(fixer: ProxyFixer, environ: MutableMapping[str, Any]) -> None:
    """The "none" family: no header is believed."""


# --forwarded-headers -> how that family is applied
_APPLY: dict[str, Callable[[ProxyFixer, MutableMapping[str, Any]], None]] = {
    "x-forwarded": ProxyFixer._apply_x_forwarded,
    "forwarded": ProxyFixer._apply_forwarded,
    "none": _nothing,
}
