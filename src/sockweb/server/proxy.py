"""Reverse-proxy headers: who the client really is, and which scheme and host it used.

A request that came through a proxy carries the client's address, scheme and host in ``Forwarded``
(RFC 7239) or the de-facto ``X-Forwarded-For/-Proto/-Host/-Port`` headers. Anyone can send those headers,
so :class:`ProxyFixer` applies them **only when the peer (REMOTE_ADDR) is in ``--forwarded-allow-ips``**;
from any other peer they are left as they are, and never acted on.

Strategy, per request:

1. fast exit when none of the five headers is present (the common case costs five dict lookups);
2. fast exit when the peer is not trusted (membership is cached per address);
3. walk the hops from the right (the entry our peer appended) leftwards, skipping hops whose address is
   itself a trusted proxy; the first untrusted hop is the client (the rightmost untrusted hop, so a client
   cannot spoof its address by prepending entries). ``Forwarded`` wins over ``X-Forwarded-*`` when both
   are present, since a proxy that writes it means it;
4. validate what is taken (an IP address, ``http``/``https``, a host name, a port) and rewrite
   REMOTE_ADDR (and REMOTE_PORT when known), ``wsgi.url_scheme``, HTTP_HOST, SERVER_NAME and SERVER_PORT.
   The original values are kept in ``environ["sockweb.proxy.original"]``.

Unix-socket peers have no address (REMOTE_ADDR is empty); the entry ``unix`` (in the default list) trusts
them: reaching the socket is already controlled by its file permissions (``--umask``).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable, MutableMapping
from typing import TYPE_CHECKING, Any

from sockweb.server.wsgi import FORWARDING_KEYS

if TYPE_CHECKING:
    from sockweb.server.config import Config

__all__ = ["AllowList", "ProxyFixer", "parse_forwarded"]

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


def _split_node(node: str) -> tuple[str, str]:
    """RFC 7239 §6 node -> (address, port); obfuscated or ``unknown`` nodes give ("", "")."""
    if node.startswith("["):
        host, _, rest = node[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
        return (host, port) if _ip(host) is not None else ("", "")
    host, sep, port = node.partition(":")
    if _ip(host) is None:
        return "", ""
    return host, port if sep else ""


class ProxyFixer:
    """Applies trusted proxies' headers to the environ (the server calls ``apply`` per request)."""

    def __init__(self, allow: AllowList) -> None:
        self.allow = allow

    @classmethod
    def from_config(cls, config: Config) -> ProxyFixer | None:
        """None when no peer is trusted (nothing to do per request)."""
        allow = AllowList(config.forwarded_allow_ips)
        if not (allow.everyone or allow.unix or allow.networks):
            return None
        return cls(allow)

    def apply(self, environ: MutableMapping[str, Any]) -> None:
        if FORWARDING_KEYS.isdisjoint(environ):
            return
        get = environ.get
        peer = get("REMOTE_ADDR") or ""
        if peer not in self.allow:
            return
        forwarded = get("HTTP_FORWARDED")
        if forwarded is not None:
            self._apply_forwarded(environ, forwarded)
        else:
            self._apply_x_forwarded(environ)

    # --- the two header families -------------------------------------------------------------------

    def _client_hop(self, addresses: list[str]) -> int:
        """Index of the rightmost hop whose address is not a trusted proxy (the leftmost if all are)."""
        for index in range(len(addresses) - 1, -1, -1):
            if addresses[index] not in self.allow or addresses[index] == "":
                return index
        return 0

    def _apply_forwarded(self, environ: MutableMapping[str, Any], value: str) -> None:
        elements = parse_forwarded(value)
        if not elements:
            return
        nodes = [_split_node(e.get("for", "")) for e in elements]
        hop = self._client_hop([address for address, _ in nodes])
        element = elements[hop]
        address, port = nodes[hop]
        self._rewrite(environ, address, port, proto=element.get("proto"), host=element.get("host"), port=None)

    def _apply_x_forwarded(self, environ: MutableMapping[str, Any]) -> None:
        def values(name: str) -> list[str]:
            raw = environ.get(name)
            return [v.strip() for v in raw.split(",")] if isinstance(raw, str) else []

        chain = values("HTTP_X_FORWARDED_FOR")
        hop_from_right = 0
        address = ""
        if chain:
            nodes = [_split_node(v) for v in chain]
            hop = self._client_hop([a for a, _ in nodes])
            address = nodes[hop][0]
            hop_from_right = len(chain) - 1 - hop

        def pick(name: str) -> str | None:
            found = values(name)
            if not found:
                return None
            return found[max(0, len(found) - 1 - hop_from_right)]

        proto, host, port = (pick(f"HTTP_X_FORWARDED_{k}") for k in ("PROTO", "HOST", "PORT"))
        self._rewrite(environ, address, "", proto=proto, host=host, port=port)

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
