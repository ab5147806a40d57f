from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from kycd.db import Base, JSONType, TenantScopedMixin, new_id, utcnow


class PartyType(StrEnum):
    PERSON = "person"
    COMPANY = "company"


class PartyRole(StrEnum):
    SHAREHOLDER = "shareholder"
    DIRECTOR = "director"
    REPRESENTATIVE = "representative"
    AUTHORISED_SIGNATORY = "authorised_signatory"


class RelatedParty(TenantScopedMixin, Base):
    """A person or company related to a business customer.

    ``roles`` holds the roles other than shareholder: being a shareholder is
    an :class:`OwnershipEdge` to the customer itself, so the percentage is kept
    in one place only.
    """

    __tablename__ = "related_parties"
    __table_args__ = (Index("ix_related_parties_customer", "customer_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    type: Mapped[str] = mapped_column(String(16))
    # The party may itself be a kycd customer (its own KYC or KYB).
    linked_customer_id: Mapped[str | None] = mapped_column(
        ForeignKey("customers.id"), default=None, index=True
    )
    first_name: Mapped[str | None] = mapped_column(String(200), default=None)
    last_name: Mapped[str | None] = mapped_column(String(200), default=None)
    company_name: Mapped[str | None] = mapped_column(String(300), default=None)
    date_of_birth: Mapped[date | None] = mapped_column(default=None)
    nationality: Mapped[str | None] = mapped_column(String(2), default=None)
    # Residence of a person, incorporation of a company.
    country: Mapped[str | None] = mapped_column(String(2), default=None)
    registration_number: Mapped[str | None] = mapped_column(String(100), default=None)
    title: Mapped[str | None] = mapped_column(String(200), default=None)
    roles: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class OwnershipEdge(TenantScopedMixin, Base):
    """``owner`` holds ``percentage`` % of ``owned``; ``owned_party_id`` NULL
    means the business customer itself (the owner is then a shareholder)."""

    __tablename__ = "ownership_edges"
    __table_args__ = (Index("ix_ownership_edges_customer", "customer_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    owner_party_id: Mapped[str] = mapped_column(ForeignKey("related_parties.id"))
    owned_party_id: Mapped[str | None] = mapped_column(
        ForeignKey("related_parties.id"), default=None
    )
    percentage: Mapped[Decimal] = mapped_column(Numeric(7, 4))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
