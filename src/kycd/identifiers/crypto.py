"""Encryption of identifier numbers at rest: AES-256-GCM with a key ring.

The ring never lives in the database, so a dump alone reveals no number. It
comes from ``KYCD_ENCRYPTION_KEYS`` (``id:base64key,…``, the first one
encrypts) or from ``<data_dir>/keys/keyring.json`` (mode 0600, created with a
fresh key on first use, extended by ``kycd keys rotate``). Every ciphertext is
stored with the id of the key that sealed it, so old values stay readable
while rotation re-encrypts them; the file is re-read when it changes, so a
running server learns a rotated key without a restart.

Each ciphertext is bound to its row (identifier id, tenant, environment, type)
as associated data: a ciphertext copied into another row does not decrypt.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kycd.settings import Settings

NONCE_BYTES = 12
KEYRING_FILE = "keyring.json"


class KeyRingError(Exception):
    pass


@dataclass(frozen=True)
class KeyRing:
    active_id: str
    keys: Mapping[str, bytes]
    # True when the ring comes from the environment and cannot be rewritten.
    from_environment: bool = False

    def encrypt(self, plaintext: str, aad: bytes) -> tuple[str, bytes]:
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = AESGCM(self.keys[self.active_id]).encrypt(nonce, plaintext.encode(), aad)
        return self.active_id, nonce + sealed

    def decrypt(self, key_id: str, blob: bytes, aad: bytes) -> str:
        key = self.keys.get(key_id)
        if key is None:
            raise KeyRingError(f"key '{key_id}' is not in the key ring")
        try:
            return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad).decode()
        except InvalidTag as exc:
            raise KeyRingError(f"value sealed with key '{key_id}' failed authentication") from exc


def new_key_id() -> str:
    return f"k{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(3)}"


def _decode_key(key_id: str, encoded: str) -> bytes:
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyRingError(f"key '{key_id}' is not valid base64") from exc
    if len(key) != 32:
        raise KeyRingError(f"key '{key_id}' must be 32 bytes (AES-256), not {len(key)}")
    return key


def parse_environment_keys(value: str) -> KeyRing:
    keys: dict[str, bytes] = {}
    order: list[str] = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        key_id, sep, encoded = part.partition(":")
        if not sep or not key_id:
            raise KeyRingError("KYCD_ENCRYPTION_KEYS entries must be 'id:base64key'")
        keys[key_id] = _decode_key(key_id, encoded)
        order.append(key_id)
    if not order:
        raise KeyRingError("KYCD_ENCRYPTION_KEYS holds no key")
    return KeyRing(order[0], keys, from_environment=True)


def _read_file(path: Path) -> KeyRing:
    try:
        raw = json.loads(path.read_text())
        keys = {k: _decode_key(k, v) for k, v in raw["keys"].items()}
        active = raw["active"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise KeyRingError(f"cannot read key ring {path}: {exc}") from exc
    if active not in keys:
        raise KeyRingError(f"key ring {path}: active key '{active}' is missing")
    return KeyRing(active, keys)


def write_keyring_file(path: Path, ring: KeyRing) -> None:
    """Atomically replace the ring file (mode 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    content = json.dumps(
        {
            "active": ring.active_id,
            "keys": {k: base64.b64encode(v).decode() for k, v in ring.keys.items()},
        },
        indent=2,
    )
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _create_file(path: Path) -> None:
    key_id = new_key_id()
    ring = KeyRing(key_id, {key_id: AESGCM.generate_key(bit_length=256)})
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: of two processes starting at once, one creates, both read it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w") as handle:
        handle.write(
            json.dumps(
                {
                    "active": key_id,
                    "keys": {key_id: base64.b64encode(ring.keys[key_id]).decode()},
                },
                indent=2,
            )
        )


class _RingCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[int, KeyRing]] = {}

    def load(self, settings: Settings) -> KeyRing:
        from_env = settings.encryption_keys.get_secret_value()
        if from_env:
            return parse_environment_keys(from_env)
        path = keyring_path(settings)
        if not path.exists():
            _create_file(path)
        mtime = path.stat().st_mtime_ns
        cached = self._entries.get(str(path))
        if cached is not None and cached[0] == mtime:
            return cached[1]
        ring = _read_file(path)
        with self._lock:
            self._entries[str(path)] = (mtime, ring)
        return ring


_cache = _RingCache()


def keyring_path(settings: Settings) -> Path:
    return settings.keys_dir / KEYRING_FILE


def load_keyring(settings: Settings) -> KeyRing:
    return _cache.load(settings)


def index_key(server_secret: bytes) -> bytes:
    """The key of the duplicate-finding hash, derived from the server secret so
    that rotating the encryption keys never changes it."""
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"kycd identifier index v1"
    ).derive(server_secret)


def blind_index(key: bytes, document_type: str, issuing_country: str, number: str) -> str:
    message = f"{document_type}|{issuing_country}|{number}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def associated_data(
    identifier_id: str, tenant_id: str, environment: str, document_type: str
) -> bytes:
    return f"kycd.identifier|{identifier_id}|{tenant_id}|{environment}|{document_type}".encode()
