"""Customers API (seed 003) request and response bodies, snake_case."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kycd.core.validators import CountryCode, EmailAddress, PastDate, PhoneNumber
from kycd.customers.models import AddressType, CustomerStatus, CustomerType

Text200 = Field(default=None, min_length=1, max_length=200)


class StrictModel(BaseModel):
    # Unknown fields are an error, not silently dropped: a typo in a field name
    # should never look like a successful update.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AddressIn(StrictModel):
    type: AddressType = AddressType.RESIDENTIAL
    is_primary: bool = False
    line1: str = Field(min_length=1, max_length=300)
    line2: str | None = Field(default=None, max_length=300)
    line3: str | None = Field(default=None, max_length=300)
    city: str = Field(min_length=1, max_length=200)
    postal_code: str | None = Field(default=None, max_length=32)
    state: str | None = Field(default=None, max_length=100)
    country: CountryCode


class AddressOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    type: str
    is_primary: bool
    line1: str
    line2: str | None
    line3: str | None
    city: str
    postal_code: str | None
    state: str | None
    country: str


class ProfileFields(StrictModel):
    first_name: str | None = Text200
    middle_name: str | None = Text200
    last_name: str | None = Text200
    company_name: str | None = Field(default=None, min_length=1, max_length=300)
    date_of_birth: PastDate | None = None
    nationality: CountryCode | None = None
    country_of_residence: CountryCode | None = None
    tax_country: CountryCode | None = None
    occupation: str | None = Text200
    source_of_funds: str | None = Text200
    incorporation_country: CountryCode | None = None
    registration_number: str | None = Field(default=None, min_length=1, max_length=100)
    industry: str | None = Text200
    email: EmailAddress | None = None
    phone: PhoneNumber | None = None
    metadata: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_primary_address(self) -> ProfileFields:
        addresses = getattr(self, "addresses", None) or []
        if sum(1 for a in addresses if a.is_primary) > 1:
            raise ValueError("addresses: at most one address may be primary")
        return self


class CustomerCreate(ProfileFields):
    client_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@-]+$")
    type: CustomerType = CustomerType.INDIVIDUAL
    addresses: list[AddressIn] = Field(default_factory=list, max_length=20)


class CustomerUpdate(ProfileFields):
    """PATCH body: only the fields sent are changed; ``null`` clears a field.

    ``client_id`` and ``type`` are fixed at creation. ``email_verified`` and
    ``phone_verified`` change only through the explicit verification actions,
    and changing the e-mail or phone resets its verified flag."""

    addresses: list[AddressIn] | None = Field(default=None, max_length=20)


class CustomerOut(BaseModel):
    id: str
    client_id: str
    type: str
    status: str
    first_name: str | None
    middle_name: str | None
    last_name: str | None
    company_name: str | None
    date_of_birth: date | None
    nationality: str | None
    country_of_residence: str | None
    tax_country: str | None
    occupation: str | None
    source_of_funds: str | None
    incorporation_country: str | None
    registration_number: str | None
    industry: str | None
    email: str | None
    email_verified: bool
    phone: str | None
    phone_verified: bool
    addresses: list[AddressOut]
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class CustomerFilters(BaseModel):
    status: CustomerStatus | None = None
    type: CustomerType | None = None
    client_id: str | None = None
    name: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None

    @field_validator("created_from", "created_to")
    @classmethod
    def _assume_utc(cls, value: datetime | None) -> datetime | None:
        # A timestamp without an offset is read as UTC, the API's only zone.
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value
