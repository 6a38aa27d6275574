"""The PROXY protocol (HAProxy's, versions 1 and 2), sans-io: bytes in, the original addresses out.

A load balancer speaking the PROXY protocol sends one header before the client's bytes, telling the
server the original source and destination addresses. :class:`ProxyProtocolParser` consumes exactly that
header and returns it with whatever bytes followed (the start of the HTTP request):

* version 1: one text line ``PROXY TCP4|TCP6|UNKNOWN SRC DST SPORT DPORT\\r\\n`` of at most 107 bytes;
* version 2: the 12-byte signature ``\\r\\n\\r\\n\\0\\r\\nQUIT\\n``, version/command, family/transport, a
  16-bit length, the addresses, then TLVs (kept raw).

Validation is strict and bounded: the parser decides from the first byte which version it reads and
rejects any byte that cannot belong to a valid header as soon as it arrives (ValueError: the connection
is then closed); a v1 line longer than 107 bytes or a v2 header larger than ``max_v2_size`` is refused
without buffering more. The server runs it before the HTTP parser, and only for peers in
``--forwarded-allow-ips`` (``--proxy-protocol``).
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from dataclasses import dataclass

__all__ = ["V2_SIGNATURE", "ProxyInfo", "ProxyProtocolParser"]

V1_MAX = 107  # "PROXY TCP6 " + 2 * 39 + 2 * 5 + 4 spaces... + CRLF, per the specification §2.1
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
_V2_FIXED = 16
_V1_PREFIX = b"PROXY "
_PORT_MAX = 65535

# v2 family/transport byte -> (family name, address block length)
_V2_FAMILIES: dict[int, tuple[str, int]] = {
    0x00: ("UNSPEC", 0),
    0x11: ("TCP4", 12),
    0x12: ("UDP4", 12),
    0x21: ("TCP6", 36),
    0x22: ("UDP6", 36),
    0x31: ("UNIX", 216),
    0x32: ("UNIX", 216),
}


@dataclass(frozen=True)
class ProxyInfo:
    """A parsed PROXY header. ``command`` is ``PROXY`` (use the addresses) or ``LOCAL`` (health check:
    keep the real peer). ``family`` is ``TCP4``, ``TCP6``, ``UDP4``, ``UDP6``, ``UNIX``, ``UNSPEC`` or
    ``UNKNOWN`` (v1)."""

    version: int
    command: str
    family: str
    source: str = ""
    source_port: int = 0
    destination: str = ""
    destination_port: int = 0
    tlvs: tuple[tuple[int, bytes], ...] = ()

    @property
    def client(self) -> tuple[str, int] | None:
        """(address, port) of the original client, when the header names one."""
        if self.command == "PROXY" and self.family in ("TCP4", "TCP6", "UDP4", "UDP6"):
            return self.source, self.source_port
        return None


def _v1_port(text: bytes) -> int:
    # Ports are decimal, no leading zeros, 0-65535 (specification §2.1).
    if not text.isdigit() or (len(text) > 1 and text[:1] == b"0") or int(text) > _PORT_MAX:
        raise ValueError("PROXY v1: invalid port")
    return int(text)


def _v1_address(text: bytes, family: str) -> str:
    try:
        address = ipaddress.ip_address(text.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise ValueError("PROXY v1: invalid address") from None
    if address.version != (4 if family == "TCP4" else 6) or str(address) != text.decode("ascii").lower():
        raise ValueError("PROXY v1: address does not match its family")
    return str(address)


def _parse_v1(line: bytes) -> ProxyInfo:
    parts = line.split(b" ")
    if len(parts) < 2 or parts[0] != b"PROXY":
        raise ValueError("PROXY v1: malformed header")
    if parts[1] == b"UNKNOWN":
        return ProxyInfo(1, "PROXY", "UNKNOWN")
    if parts[1] not in (b"TCP4", b"TCP6") or len(parts) != 6:
        raise ValueError("PROXY v1: malformed header")
    family = parts[1].decode()
    return ProxyInfo(
        1,
        "PROXY",
        family,
        _v1_address(parts[2], family),
        _v1_port(parts[4]),
        _v1_address(parts[3], family),
        _v1_port(parts[5]),
    )


def _parse_tlvs(data: bytes) -> tuple[tuple[int, bytes], ...]:
    tlvs = []
    pos = 0
    while pos < len(data):
        if pos + 3 > len(data):
            raise ValueError("PROXY v2: truncated TLV")
        kind, length = data[pos], int.from_bytes(data[pos + 1 : pos + 3], "big")
        if pos + 3 + length > len(data):
            raise ValueError("PROXY v2: TLV longer than the header")
        tlvs.append((kind, data[pos + 3 : pos + 3 + length]))
        pos += 3 + length
    return tuple(tlvs)


def _parse_v2(header: bytes) -> ProxyInfo:
    ver_cmd, fam = header[12], header[13]
    command = {0x20: "LOCAL", 0x21: "PROXY"}.get(ver_cmd)
    if command is None:
        raise ValueError("PROXY v2: unsupported version or command")
    if fam not in _V2_FAMILIES:
        raise ValueError("PROXY v2: unsupported address family")
    family, size = _V2_FAMILIES[fam]
    body = header[_V2_FIXED:]
    if command == "LOCAL":
        # Specification §2.2: with LOCAL the receiver must ignore the address information.
        return ProxyInfo(2, "LOCAL", family)
    if len(body) < size:
        raise ValueError("PROXY v2: address block shorter than its family needs")
    tlvs = _parse_tlvs(body[size:])
    if family in ("TCP4", "UDP4"):
        src, dst, sport, dport = struct.unpack("!4s4sHH", body[:12])
        return ProxyInfo(2, command, family, socket.inet_ntop(socket.AF_INET, src), sport,
                         socket.inet_ntop(socket.AF_INET, dst), dport, tlvs)  # fmt: skip
    if family in ("TCP6", "UDP6"):
        src, dst, sport, dport = struct.unpack("!16s16sHH", body[:36])
        return ProxyInfo(2, command, family, socket.inet_ntop(socket.AF_INET6, src), sport,
                         socket.inet_ntop(socket.AF_INET6, dst), dport, tlvs)  # fmt: skip
    if family == "UNIX":
        src_path = body[:108].split(b"\0", 1)[0].decode("utf-8", "replace")
        dst_path = body[108:216].split(b"\0", 1)[0].decode("utf-8", "replace")
        return ProxyInfo(2, command, family, src_path, 0, dst_path, 0, tlvs)
    return ProxyInfo(2, command, family, tlvs=tlvs)


class ProxyProtocolParser:
    """Feed bytes until the header is complete: ``feed(data) -> (info | None, rest)``.

    Returns ``(None, b"")`` while more bytes are needed, ``(info, rest)`` once (``rest`` = the bytes after
    the header), and raises ValueError on anything that is not a valid header. Not reusable.
    """

    def __init__(self, max_v2_size: int = 4096) -> None:
        self.max_v2_size = max_v2_size
        self._buffer = b""
        self.done = False

    def feed(self, data: bytes) -> tuple[ProxyInfo | None, bytes]:
        if self.done:
            raise ValueError("PROXY header already parsed")
        buffer = self._buffer = self._buffer + data
        if not buffer:
            return None, b""
        if buffer[:1] == b"\r":
            return self._feed_v2(buffer)
        return self._feed_v1(buffer)

    def _finish(self, info: ProxyInfo, rest: bytes) -> tuple[ProxyInfo, bytes]:
        self.done = True
        self._buffer = b""
        return info, rest

    def _feed_v1(self, buffer: bytes) -> tuple[ProxyInfo | None, bytes]:
        head = buffer[: len(_V1_PREFIX)]
        if not _V1_PREFIX.startswith(head):
            raise ValueError("not a PROXY protocol header")
        end = buffer.find(b"\r\n", 0, V1_MAX)
        if end < 0:
            if len(buffer) >= V1_MAX or b"\n" in buffer:
                raise ValueError("PROXY v1: header line too long or not ended by CRLF")
            return None, b""
        line = buffer[:end]
        if any(b < 0x20 or b > 0x7E for b in line):
            raise ValueError("PROXY v1: invalid character")
        return self._finish(_parse_v1(line), buffer[end + 2 :])

    def _feed_v2(self, buffer: bytes) -> tuple[ProxyInfo | None, bytes]:
        if not buffer.startswith(V2_SIGNATURE[: len(buffer)]) and not buffer.startswith(V2_SIGNATURE):
            raise ValueError("not a PROXY protocol header")
        if len(buffer) < _V2_FIXED:
            if len(buffer) > 12 and buffer[12] >> 4 != 2:
                raise ValueError("PROXY v2: unsupported version")
            return None, b""
        length = int.from_bytes(buffer[14:16], "big")
        if _V2_FIXED + length > self.max_v2_size:
            raise ValueError("PROXY v2: header larger than allowed")
        if len(buffer) < _V2_FIXED + length:
            return None, b""
        header = buffer[: _V2_FIXED + length]
        return self._finish(_parse_v2(header), buffer[_V2_FIXED + length :])
