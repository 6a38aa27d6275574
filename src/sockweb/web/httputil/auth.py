"""The Authorization request header: Basic credentials decoded (RFC 7617), other schemes kept raw.

Strategy: anything malformed yields ``None`` (the application then answers 401 as for no credentials).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from .params import parse_dict_header

_token68_re = re.compile(r"[A-Za-z0-9\-._~+/]+=*\Z")


@dataclass
class Authorization:
    """Credentials from an Authorization header: ``type`` is lowercased (``basic``, ``bearer``, ...)."""

    type: str
    username: str | None = None
    password: str | None = None
    token: str | None = None
    params: dict[str, str | None] | None = None


def parse_authorization_header(value: str | None) -> Authorization | None:
    """Basic credentials (RFC 7617) decoded; other schemes give their token or auth-params."""
    if not value:
        return None
    scheme, _, rest = value.strip().partition(" ")
    scheme = scheme.lower()
    rest = rest.strip()
    if not scheme:
        return None
    if scheme == "basic":
        try:
            decoded = base64.b64decode(rest, validate=True)
        except (binascii.Error, ValueError):
            return None
        # RFC 7617 §2.1: UTF-8 is the only charset a server may announce; fall back to latin-1 as clients did.
        try:
            text = decoded.decode("utf-8")
        except UnicodeDecodeError:
            text = decoded.decode("latin-1")
        username, sep, password = text.partition(":")
        if not sep:
            return None
        return Authorization("basic", username, password)
    if not rest or _token68_re.match(rest):
        return Authorization(scheme, token=rest or None)
    return Authorization(scheme, params=parse_dict_header(rest))
