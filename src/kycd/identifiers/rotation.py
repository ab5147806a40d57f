"""``kycd keys rotate``: a new active key, then every stored value re-sealed.

Re-encryption runs in small batches, each in its own transaction, and each
row is updated only if it still carries the key it was read with (a guarded
UPDATE), so the API keeps serving reads and writes throughout, and a second
rotation running at the same time cannot overwrite a newer value.

This is operator tooling over the whole installation, so it deliberately
reads across tenants instead of going through the request scoping.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select, update

from kycd.db import Database, utcnow
from kycd.identifiers.crypto import (
    KeyRing,
    KeyRingError,
    associated_data,
    keyring_path,
    load_keyring,
    new_key_id,
    write_keyring_file,
)
from kycd.identifiers.models import Identifier
from kycd.settings import Settings

BATCH = 200


@dataclass(frozen=True)
class RotationResult:
    active_key_id: str
    new_key: bool
    reencrypted: int


def add_active_key(settings: Settings) -> KeyRing:
    """A fresh key becomes the active one; the old ones stay to decrypt."""
    ring = load_keyring(settings)
    if ring.from_environment:
        raise KeyRingError(
            "keys come from KYCD_ENCRYPTION_KEYS: put the new key first there, "
            "then run `kycd keys rotate --reencrypt-only`"
        )
    key_id = new_key_id()
    rotated = KeyRing(key_id, {**ring.keys, key_id: AESGCM.generate_key(bit_length=256)})
    write_keyring_file(keyring_path(settings), rotated)
    return rotated


def reencrypt_all(database: Database, ring: KeyRing) -> int:
    done = 0
    while True:
        with database.transaction() as db:
            rows = db.scalars(
                select(Identifier)
                .where(Identifier.key_id != ring.active_id)
                .order_by(Identifier.id)
                .limit(BATCH)
            ).all()
            for row in rows:
                aad = associated_data(row.id, row.tenant_id, row.environment, row.document_type)
                number = ring.decrypt(row.key_id, row.key_ciphertext, aad)
                key_id, ciphertext = ring.encrypt(number, aad)
                result = db.execute(
                    update(Identifier)
                    .where(Identifier.id == row.id, Identifier.key_id == row.key_id)
                    .values(key_id=key_id, key_ciphertext=ciphertext, updated_at=utcnow())
                    .execution_options(synchronize_session=False)
                )
                done += getattr(result, "rowcount", 0)
        if len(rows) < BATCH:
            return done


def rotate(database: Database, settings: Settings, *, new_key: bool = True) -> RotationResult:
    ring = add_active_key(settings) if new_key else load_keyring(settings)
    return RotationResult(ring.active_id, new_key, reencrypt_all(database, ring))
