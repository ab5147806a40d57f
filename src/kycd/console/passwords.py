"""Operator passwords: argon2id hashes, and the minimum a password must meet."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from kycd.errors import BadRequest

MIN_LENGTH = 12
MAX_LENGTH = 256

# argon2id with OWASP's recommended minimum (19 MiB, 2 passes, 1 lane): tens of
# milliseconds per login on a small server, yet costly for an offline guesser.
# Hashes made with other parameters still verify and are upgraded at login.
ARGON2_TIME_COST = 2
ARGON2_MEMORY_KIB = 19 * 1024
ARGON2_PARALLELISM = 1
_hasher = PasswordHasher(
    time_cost=ARGON2_TIME_COST, memory_cost=ARGON2_MEMORY_KIB, parallelism=ARGON2_PARALLELISM
)
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
