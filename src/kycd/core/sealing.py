"""Sealing values the server must read back, under keys derived from the
server secret (which never lives in the database).

Used where a value cannot be hashed because kycd needs it again: webhook
signing secrets, and the stored answers that Idempotency-Key replays (they
hold customer data and, for some routes, secrets shown once). A database dump
alone reveals none of them.
"""

from __future__ import annotations

import base64
import secrets

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_BYTES = 12


class SealedBox:
    """AES-GCM under ``HKDF(server_secret, info)``; ``aad`` binds a sealed value
    to its purpose so it cannot be moved to another column and opened there."""

    def __init__(self, server_secret: bytes, *, info: bytes, aad: bytes) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(server_secret)
        self._aead = AESGCM(key)
        self._aad = aad

    def seal_bytes(self, value: bytes) -> str:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return base64.b64encode(nonce + self._aead.encrypt(nonce, value, self._aad)).decode()

    def open_bytes(self, sealed: str) -> bytes:
        raw = base64.b64decode(sealed)
        return self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], self._aad)
