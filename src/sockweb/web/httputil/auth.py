"""Authentication headers: Authorization (request) and WWW-Authenticate (401 challenges), RFC 9110 §11.

Strategy: both are ``scheme`` plus either a token68 or auth-params. Parsing never raises: anything
malformed yields ``None`` (the application then answers 401 as for no credentials). Basic credentials are
decoded (RFC 7617); other schemes keep their token or parameters, readable as attributes
(``auth.nonce``). Formatting quotes parameter values as needed, so a value cannot break the header.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

from .params import parse_dict_header, quote_header_value

_token68_re = re.compile(r"[A-Za-z0-9\-._~+/]+=*\Z")


class Authorization:
    """Credentials from an Authorization header: ``type`` is lowercased (``basic``, ``bearer``, ...).

    ``Authorization("basic", {"username": u, "password": p})``, ``Authorization("bearer", token=t)`` or
    ``Authorization("digest", {"realm": ...})``; every parameter also reads as an attribute
    (``auth.username``, ``auth.nonce``), ``None`` when absent.
    """

    def __init__(
        self,
        auth_type: str,
        data: Mapping[str, str | None] | None = None,
        token: str | None = None,
        *,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        parameters = dict(data or {})
        if username is not None:
            parameters["username"] = username
        if password is not None:
            parameters["password"] = password
        self.__dict__.update(type=auth_type.lower(), parameters=parameters, token=token)

    type: str
    parameters: dict[str, str | None]
    token: str | None

    @property
    def params(self) -> dict[str, str | None]:
        """The auth-params (the same dict as :attr:`parameters`)."""
        return self.parameters

    @classmethod
    def from_header(cls, value: str | None) -> Authorization | None:
        """Parse an Authorization header value; ``None`` when absent or malformed."""
        return parse_authorization_header(value)

    def __getattr__(self, name: str) -> str | None:
        # Basic, Digest and other parameter schemes: ``auth.username``, ``auth.nonce``, ...
        if name.startswith("_"):
            raise AttributeError(name)
        return self.__dict__["parameters"].get(name)  # type: ignore[no-any-return]

    def __getitem__(self, key: str) -> str | None:
        return self.parameters.get(key)

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.parameters.get(key, default)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Authorization):
            return NotImplemented
        return (self.type, self.parameters, self.token) == (other.type, other.parameters, other.token)

    __hash__ = None  # type: ignore[assignment]

    def to_header(self) -> str:
        """The header value: Basic credentials re-encoded, a token, or the parameters."""
        scheme = self.type.title()
        if self.type == "basic":
            raw = f"{self.username or ''}:{self.password or ''}".encode()
            return f"Basic {base64.b64encode(raw).decode('ascii')}"
        if self.token is not None:
            return f"{scheme} {self.token}"
        # RFC 9110 §11.2: an auth-param value is a token or a quoted-string; tokens are sent bare.
        return f"{scheme} {_dump_params(self.parameters, allow_token=True)}".rstrip()

    def __str__(self) -> str:
        return self.to_header()

    def __repr__(self) -> str:
        shown = {k: ("***" if k == "password" else v) for k, v in self.parameters.items()}
        return f"<{type(self).__name__} {self.type} {shown!r}{' token' if self.token else ''}>"


def _dump_params(params: Mapping[str, str | None], allow_token: bool = False) -> str:
    # Challenges quote every value, as RFC 7616 requires for realm, nonce and most Digest parameters.
    return ", ".join(
        key if value is None else f"{key}={quote_header_value(value, allow_token=allow_token)}"
        for key, value in params.items()
    )


class WWWAuthenticate:
    """A WWW-Authenticate challenge (RFC 9110 §11.6.1): ``WWWAuthenticate("basic", {"realm": "admin"})``.

    Parameters read and write as attributes (``challenge.realm``) or items; ``str()`` is the header value.
    Pass several to :class:`~sockweb.web.exceptions.Unauthorized` to offer several schemes.
    """

    def __init__(
        self, auth_type: str, values: dict[str, str | None] | None = None, token: str | None = None
    ) -> None:
        self.__dict__["type"] = auth_type.lower()
        self.__dict__["parameters"] = dict(values or {})
        self.__dict__["token"] = token

    type: str
    parameters: dict[str, str | None]
    token: str | None

    @classmethod
    def from_header(cls, value: str | None) -> WWWAuthenticate | None:
        """Parse one challenge; ``None`` when the value is empty."""
        if not value or not value.strip():
            return None
        scheme, _, rest = value.strip().partition(" ")
        rest = rest.strip()
        if not rest or _token68_re.match(rest):
            return cls(scheme, token=rest or None)
        return cls(scheme, parse_dict_header(rest))

    def __getattr__(self, name: str) -> str | None:
        if name.startswith("_"):
            raise AttributeError(name)
        return self.parameters.get(name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("type", "parameters", "token"):
            self.__dict__[name] = value
        else:
            self.parameters[name] = value

    def __getitem__(self, key: str) -> str | None:
        return self.parameters.get(key)

    def __setitem__(self, key: str, value: str | None) -> None:
        self.parameters[key] = value

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.parameters.get(key, default)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WWWAuthenticate):
            return NotImplemented
        return (self.type, self.parameters, self.token) == (other.type, other.parameters, other.token)

    __hash__ = None  # type: ignore[assignment]

    def to_header(self) -> str:
        """The header value, e.g. ``Basic realm="admin"``."""
        scheme = self.type.title()
        if self.token is not None:
            return f"{scheme} {self.token}"
        return f"{scheme} {_dump_params(self.parameters)}".rstrip()

    def __str__(self) -> str:
        return self.to_header()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.to_header()!r}>"


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
        # RFC 7617 §2.1: UTF-8 is the only charset a server may announce; credentials that are not valid
        # UTF-8 are refused rather than guessed at, as for any other malformed credentials.
        try:
            text = decoded.decode("utf-8")
        except UnicodeDecodeError:
            return None
        username, sep, password = text.partition(":")
        if not sep:
            return None
        return Authorization("basic", {"username": username, "password": password})
    if not rest or _token68_re.match(rest):
        return Authorization(scheme, token=rest or None)
    return Authorization(scheme, parse_dict_header(rest))
