from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kycd.db import Base, TenantScopedMixin, new_id, utcnow
from kycd.identifiers.types import IdentifierStatus


def mask(last_chars: str) -> str:
    return f"****{last_chars}"


class Identifier(TenantScopedMixin, Base):
    """An identity number of a client. The number itself is stored only encrypted
    (AES-GCM, ``key_id`` naming the key of the ring that sealed it); ``key_index``
    is a keyed hash that finds duplicates without decrypting anything, and
    ``key_last4`` is the masked suffix every response shows."""

    __tablename__ = "client_identifiers"
    __table_args__ = (
        UniqueConstraint(
            "tenant_id", "environment", "document_type", "key_index", name="uq_identifiers_key"
        ),
        UniqueConstraint(
            "customer_id", "document_type", "issuing_country", name="uq_identifiers_type"
        ),
        Index("ix_identifiers_key_id", "key_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    document_type: Mapped[str] = mapped_column(String(32))
    issuing_country: Mapped[str] = mapped_column(String(2))
    expiry_date: Mapped[date | None] = mapped_column(default=None)
    description: Mapped[str | None] = mapped_column(String(500), default=None)
    status: Mapped[str] = mapped_column(String(16), default=IdentifierStatus.ACTIVE.value)
    key_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    key_id: Mapped[str] = mapped_column(String(64))
    key_index: Mapped[str] = mapped_column(String(64))
    key_last4: Mapped[str] = mapped_column(String(4))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def masked_key(self) -> str:
        return mask(self.key_last4)

    def is_expired(self, today: date) -> bool:
        return self.expiry_date is not None and self.expiry_date < today
