"""Password hashing (scrypt and PBKDF2)."""

from __future__ import annotations

import pytest

from sockweb.web.security import check_password_hash, generate_password_hash


def test_scrypt_default() -> None:
    stored = generate_password_hash("secret")
    assert stored.startswith("scrypt:32768:8:1$")
    assert check_password_hash(stored, "secret")
    assert not check_password_hash(stored, "Secret")
    assert generate_password_hash("secret") != stored  # fresh salt


def test_pbkdf2_with_parameters() -> None:
    stored = generate_password_hash("pässword", method="pbkdf2:sha256:1000")
    assert stored.startswith("pbkdf2:sha256:1000$")
    assert check_password_hash(stored, "pässword")
    assert generate_password_hash("x", method="pbkdf2").startswith("pbkdf2:sha256:1000000$")


@pytest.mark.parametrize("stored", ["", "nonsense", "md5$salt$abc", "pbkdf2:nohash:1$s$00", "scrypt:x$s$00"])
def test_malformed_hash_never_verifies(stored: str) -> None:
    assert check_password_hash(stored, "secret") is False


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="Invalid hash method"):
        generate_password_hash("secret", "sha256")
    with pytest.raises(ValueError):
        generate_password_hash("secret", salt_length=0)
