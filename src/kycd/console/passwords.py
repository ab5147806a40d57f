"""Operator passwords: argon2id hashes, and the minimum a password must meet."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from kycd.errors import BadRequest

MIN_LENGTH = 12
MAX_LENGTH = 256

_hasher = PasswordHasher()
# Verified when the e-mail is unknown, so that a wrong address costs as much
# time as a wrong password and response times do not reveal which accounts exist.
_DUMMY_HASH = _hasher.hash("kycd-no-such-operator-password")


def validate_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise BadRequest(f"password must have at least {MIN_LENGTH} characters", field="password")
    if len(password) > MAX_LENGTH:
        raise BadRequest(f"password must have at most {MAX_LENGTH} characters", field="password")
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(validate_password(password))


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
