from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from kycd.db import Base, TenantScopedMixin, new_id, utcnow
from kycd.documents.types import ReviewStatus


class Document(TenantScopedMixin, Base):
    """An uploaded file of a client. ``type`` is the document vocabulary
    (:class:`kycd.documents.types.DocumentType`); ``content_type`` is sniffed from
    the bytes, never taken from the client."""

    __tablename__ = "client_documents"
    __table_args__ = (Index("ix_documents_customer", "customer_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    type: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(250))
    description: Mapped[str | None] = mapped_column(String(1000), default=None)
    file_name: Mapped[str] = mapped_column(String(250))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(200))
    issuing_country: Mapped[str | None] = mapped_column(String(2), default=None)
    expiry_date: Mapped[date | None] = mapped_column(default=None)
    review_status: Mapped[str] = mapped_column(String(16), default=ReviewStatus.PENDING.value)
    reviewed_at: Mapped[datetime | None] = mapped_column(default=None)
    reviewer_id: Mapped[str | None] = mapped_column(String(80), default=None)
    review_note: Mapped[str | None] = mapped_column(String(1000), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    def is_expired(self, today: date) -> bool:
        return self.expiry_date is not None and self.expiry_date < today
