"""What the hosted flow keeps beside the verification run: the applicant's
consent, every automated check's result, and the fingerprints (document
numbers, perceptual image hashes) that find a document used by two customers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kycd.db import Base, TenantScopedMixin, new_id, utcnow


class HostedConsent(TenantScopedMixin, Base):
    """The applicant agreed to the privacy notice of this version, in this language."""

    __tablename__ = "hosted_consents"
    __table_args__ = (UniqueConstraint("session_id", name="uq_hosted_consents_session"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    session_id: Mapped[str] = mapped_column(ForeignKey("verification_sessions.id"))
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    notice_version: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8))
    given_at: Mapped[datetime] = mapped_column(default=utcnow)


class HostedCheckResult(TenantScopedMixin, Base):
    """One automated check on one submission of a step (kycd.hosted.checks)."""

    __tablename__ = "hosted_check_results"
    __table_args__ = (Index("ix_hosted_checks_session", "session_id", "step_kind", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    session_id: Mapped[str] = mapped_column(ForeignKey("verification_sessions.id"))
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    step_kind: Mapped[str] = mapped_column(String(32))
    # Every check of one submission shares the attempt number (1, 2, … per step).
    attempt: Mapped[int] = mapped_column()
    check: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(8))
    label: Mapped[str | None] = mapped_column(String(64), default=None)
    detail: Mapped[str] = mapped_column(String(500), default="")
    subject: Mapped[str | None] = mapped_column(String(16), default=None)
    document_id: Mapped[str | None] = mapped_column(String(36), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DocumentFingerprint(TenantScopedMixin, Base):
    """A keyed hash of an identity document's number, or an image's perceptual
    hash, so a second customer presenting the same document is noticed."""

    __tablename__ = "hosted_fingerprints"
    __table_args__ = (
        Index("ix_hosted_fingerprints_value", "tenant_id", "environment", "kind", "value"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("client_documents.id"))
    # "document_number" (HMAC-SHA256, hex) or "phash" (64-bit perceptual hash, hex).
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
