from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import InstrumentedAttribute, Mapped, mapped_column, relationship

from kycd.db import Base, TenantScopedMixin, new_id, utcnow


class CustomerType(StrEnum):
    INDIVIDUAL = "individual"
    BUSINESS = "business"


class CustomerStatus(StrEnum):
    """Lifecycle states. Seed 001 names Pending, Verified and Active; Fineract's
    reject / withdraw / close and our DELETE (deactivate) add the others."""

    PENDING = "pending"
    VERIFIED = "verified"
    ACTIVE = "active"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    CLOSED = "closed"
    DEACTIVATED = "deactivated"


class Customer(TenantScopedMixin, Base):
    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("tenant_id", "environment", "client_id", name="uq_customers_client_id"),
        Index("ix_customers_listing", "tenant_id", "environment", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    client_id: Mapped[str] = mapped_column(String(128))
    type: Mapped[str] = mapped_column(String(16), default=CustomerType.INDIVIDUAL.value)
    status: Mapped[str] = mapped_column(String(16), default=CustomerStatus.PENDING.value)

    first_name: Mapped[str | None] = mapped_column(String(200), default=None)
    middle_name: Mapped[str | None] = mapped_column(String(200), default=None)
    last_name: Mapped[str | None] = mapped_column(String(200), default=None)
    company_name: Mapped[str | None] = mapped_column(String(300), default=None)
    # Lower-cased concatenation of the names, for the list endpoint's name search.
    search_name: Mapped[str] = mapped_column(String(700), default="")
    date_of_birth: Mapped[date | None] = mapped_column(default=None)
    nationality: Mapped[str | None] = mapped_column(String(2), default=None)
    country_of_residence: Mapped[str | None] = mapped_column(String(2), default=None)
    tax_country: Mapped[str | None] = mapped_column(String(2), default=None)
    occupation: Mapped[str | None] = mapped_column(String(200), default=None)
    source_of_funds: Mapped[str | None] = mapped_column(String(200), default=None)
    # Businesses.
    incorporation_country: Mapped[str | None] = mapped_column(String(2), default=None)
    registration_number: Mapped[str | None] = mapped_column(String(100), default=None)
    industry: Mapped[str | None] = mapped_column(String(200), default=None)

    email: Mapped[str | None] = mapped_column(String(254), default=None)
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    phone: Mapped[str | None] = mapped_column(String(32), default=None)
    phone_verified: Mapped[bool] = mapped_column(Boolean, default=False)

    extra: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    addresses: Mapped[list[Address]] = relationship(
        back_populates="customer",
        order_by=lambda: ADDRESS_ORDER,
        cascade="all, delete-orphan",
        lazy="selectin",
    )


class AddressType(StrEnum):
    RESIDENTIAL = "residential"
    REGISTERED = "registered"
    BUSINESS = "business"
    MAILING = "mailing"


class Address(TenantScopedMixin, Base):
    __tablename__ = "addresses"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    type: Mapped[str] = mapped_column(String(16), default=AddressType.RESIDENTIAL.value)
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    line1: Mapped[str] = mapped_column(String(300))
    line2: Mapped[str | None] = mapped_column(String(300), default=None)
    line3: Mapped[str | None] = mapped_column(String(300), default=None)
    city: Mapped[str] = mapped_column(String(200))
    postal_code: Mapped[str | None] = mapped_column(String(32), default=None)
    state: Mapped[str | None] = mapped_column(String(100), default=None)
    country: Mapped[str] = mapped_column(String(2))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="addresses")


# The order a customer's addresses are shown in (ties broken by id, so that
# two addresses added in one request keep one order on every read).
ADDRESS_ORDER: tuple[InstrumentedAttribute[Any], ...] = (Address.created_at, Address.id)
