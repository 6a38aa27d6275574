"""Password hashes for storage: ``generate_password_hash`` and ``check_password_hash``, re-exported by
:mod:`sockweb.web.security`.

Strategy: only memory-hard or iterated key derivation from the standard library (``hashlib.scrypt``,
``hashlib.pbkdf2_hmac``), a fresh random salt per hash, and a self-describing string
``method$salt$hexdigest`` (``scrypt:32768:8:1$...``, ``pbkdf2:sha256:1000000$...``) so parameters can
be raised later while old hashes still verify. Comparison is constant-time (``hmac.compare_digest``).
A stored string that does not parse simply fails to verify; it never raises.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

__all__ = ["check_password_hash", "gen_salt", "generate_password_hash"]

_SALT_CHARS = string.ascii_letters + string.digits
DEFAULT_PBKDF2_ITERATIONS = 1_000_000
# scrypt: N=2**15, r=8, p=1 (RFC 7914 §2 interactive-login order of magnitude); needs 32 MiB per hash.
DEFAULT_SCRYPT = (2**15, 8, 1)
_SCRYPT_MAXMEM = (
    132 * 1024 * 1024
)  # OpenSSL's default cap (32 MiB) is too tight for N=2**15, r=8 with overhead


def gen_salt(length: int) -> str:
    """A random salt of ``length`` letters and digits (from :mod:`secrets`)."""
    if length <= 0:
        raise ValueError("salt length must be at least 1")
    return "".join(secrets.choice(_SALT_CHARS) for _ in range(length))


def _derive(method: str, salt: str, password: str) -> tuple[str, str]:
    """``(full method string, hex digest)``; ``ValueError`` for an unknown or malformed method."""
    name, *args = method.split(":")
    secret, salt_bytes = password.encode(), salt.encode()
    if name == "scrypt":
        n, r, p = (int(arg) for arg in args) if args else DEFAULT_SCRYPT
        digest = hashlib.scrypt(secret, salt=salt_bytes, n=n, r=r, p=p, maxmem=_SCRYPT_MAXMEM)
        return f"scrypt:{n}:{r}:{p}", digest.hex()
    if name == "pbkdf2":
        hash_name = args[0] if args else "sha256"
        iterations = int(args[1]) if len(args) > 1 else DEFAULT_PBKDF2_ITERATIONS
        digest = hashlib.pbkdf2_hmac(hash_name, secret, salt_bytes, iterations)
        return f"pbkdf2:{hash_name}:{iterations}", digest.hex()
    raise ValueError(f"Invalid hash method {method!r}: use 'scrypt' or 'pbkdf2'")


def generate_password_hash(password: str, method: str = "scrypt", salt_length: int = 16) -> str:
    """A salted hash of ``password`` to store: ``method`` is ``scrypt[:n:r:p]`` or
    ``pbkdf2[:hash[:iterations]]``."""
    salt = gen_salt(salt_length)
    full_method, digest = _derive(method, salt, password)
    return f"{full_method}${salt}${digest}"


def check_password_hash(pwhash: str, password: str) -> bool:
    """Whether ``password`` matches a hash from :func:`generate_password_hash` (``False`` if malformed)."""
    try:
        method, salt, expected = pwhash.split("$", 2)
        _, digest = _derive(method, salt, password)
    except (ValueError, TypeError, LookupError):
        return False
    return hmac.compare_digest(digest, expected)
