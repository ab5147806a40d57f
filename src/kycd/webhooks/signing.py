"""Signing secrets: generated, sealed at rest, and used per the Standard Webhooks
specification (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``).

A signing secret must be readable by the worker, so it cannot be hashed like an
API secret. It is sealed with AES-GCM under a key derived from the server
secret (which never lives in the database): a database dump alone does not let
anyone forge webhooks.
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime

from standardwebhooks.webhooks import Webhook

from kycd.core.sealing import SealedBox

SECRET_PREFIX = "whsec_"
_SECRET_BYTES = 32


def new_signing_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode()


class SecretBox(SealedBox):
    """Seals and opens signing secrets with a key derived from the server secret."""

    def __init__(self, server_secret: bytes) -> None:
        super().__init__(server_secret, info=b"kycd webhook secrets v1", aad=b"whsec")
        self._opened: dict[str, str] = {}

    def seal(self, secret: str) -> str:
        return self.seal_bytes(secret.encode())

    def open(self, sealed: str) -> str:
        # Deliveries to one endpoint open the same ciphertext again and again.
        cached = self._opened.get(sealed)
        if cached is None:
            cached = self.open_bytes(sealed).decode()
            if len(self._opened) > 10_000:
                self._opened.clear()
            self._opened[sealed] = cached
        return cached


def signature_header(secrets_in_use: list[str], msg_id: str, timestamp: datetime, body: str) -> str:
    """One ``v1,<base64>`` signature per secret, space-separated: during a
    rotation's grace period receivers holding either secret can verify."""
    return " ".join(Webhook(secret).sign(msg_id, timestamp, body) for secret in secrets_in_use)


def webhook_headers(
    secrets_in_use: list[str], msg_id: str, timestamp: datetime, body: str
) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "user-agent": "kycd-webhooks/1",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature_header(secrets_in_use, msg_id, timestamp, body),
    }
