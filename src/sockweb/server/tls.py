"""TLS for the listening sockets: an ``ssl.SSLContext`` built from the TLS settings.

Strategy: start from ``ssl.create_default_context(Purpose.CLIENT_AUTH)`` (the ssl module's vetted
defaults: TLS 1.2+, no compression, server-side cipher preference), then load the certificate chain and
key, the CA bundle for client certificates and the cipher list. Each failure names the setting and the
file (``--certfile: cannot read 'x.pem': no such file``) instead of an OpenSSL error code, because the
usual cause is a wrong path or a key that does not match the certificate.

The accept loop (sockweb.server.accept) hands the context to ``loop.connect_accepted_socket(ssl=...)``
with the handshake bounded by ``--header-timeout``; connections then carry ``wsgi.url_scheme`` = ``https``.
"""

from __future__ import annotations

import os
import ssl
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sockweb.server.config import Config

__all__ = ["CERT_REQS", "TLSConfigError", "build_ssl_context"]

CERT_REQS: dict[str, ssl.VerifyMode] = {
    "none": ssl.CERT_NONE,
    "optional": ssl.CERT_OPTIONAL,
    "required": ssl.CERT_REQUIRED,
}


class TLSConfigError(ValueError):
    """Unusable TLS settings; ``str()`` is one line naming the setting and the file."""


def _readable(flag: str, path: str) -> None:
    if not os.path.isfile(path):
        raise TLSConfigError(f"{flag}: cannot read {path!r}: no such file")
    if not os.access(path, os.R_OK):
        raise TLSConfigError(f"{flag}: cannot read {path!r}: permission denied")


def build_ssl_context(config: Config) -> ssl.SSLContext | None:
    """The server-side context for ``config``, or None when TLS is off (no ``--certfile``)."""
    if not config.certfile:
        return None
    _readable("--certfile", config.certfile)
    if config.keyfile:
        _readable("--keyfile", config.keyfile)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(config.certfile, config.keyfile)
    except ssl.SSLError as exc:
        what = "--certfile/--keyfile" if config.keyfile else "--certfile"
        raise TLSConfigError(
            f"{what}: cannot load the certificate and key ({exc.reason or exc}); "
            "are they PEM, and does the key match the certificate?"
        ) from None
    if config.ca_certs:
        _readable("--ca-certs", config.ca_certs)
        try:
            context.load_verify_locations(cafile=config.ca_certs)
        except ssl.SSLError as exc:
            raise TLSConfigError(
                f"--ca-certs: cannot load {config.ca_certs!r} ({exc.reason or exc})"
            ) from None
    context.verify_mode = CERT_REQS[config.cert_reqs]
    if config.ciphers:
        try:
            context.set_ciphers(config.ciphers)
        except ssl.SSLError:
            raise TLSConfigError(f"--ciphers: no cipher matches {config.ciphers!r}") from None
    if config.http2:
        # RFC 9113 §3.2: "h2" in ALPN selects HTTP/2 over TLS; it comes first, so a client offering both
        # gets HTTP/2, and one offering only http/1.1 (or no ALPN at all) keeps HTTP/1.1.
        context.set_alpn_protocols(["h2", "http/1.1"])
    return context
