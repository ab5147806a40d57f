"""Organisation structure request and response bodies (seed 003 dialect, snake_case)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from kycd.core.validators import CountryCode, PastDate
from kycd.organization.models import PartyRole, PartyType

# Shares are percentages with at most four decimals: 0 < p <= 100.
Percentage = Annotated[Decimal, Field(gt=0, le=100, max_digits=7, decimal_places=4)]
Name200 = Field(default=None, min_length=1, max_length=200)


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PartyFields(StrictModel):
    first_name: str | None = Name200
    last_name: str | None = Name200
    company_name: str | None = Field(default=None, min_length=1, max_length=300)
    date_of_birth: PastDate | None = None
    nationality: CountryCode | None = None
    country: CountryCode | None = None
    registration_number: str | None = Field(default=None, min_length=1, max_length=100)
    title: str | None = Name200
    roles: list[PartyRole] = Field(default_factory=list, max_length=4)
    ownership_percentage: Percentage | None = None


class PartyCreate(PartyFields):
    type: PartyType
    linked_customer_id: str | None = Field(default=None, min_length=1, max_length=36)


class PartyUpdate(PartyFields):
    """PATCH body: only the fields sent change; ``null`` clears a field.
    ``type`` and ``linked_customer_id`` are fixed at creation."""

    roles: list[PartyRole] | None = Field(default=None, max_length=4)  # type: ignore[assignment]


class PartyOut(BaseModel):
    id: str
    type: str
    name: str
    linked_customer_id: str | None
    first_name: str | None
    last_name: str | None
    company_name: str | None
    date_of_birth: date | None
    nationality: str | None
    country: str | None
    registration_number: str | None
    title: str | None
    roles: list[str]
    ownership_percentage: float | None
    created_at: datetime
    updated_at: datetime


class OwnershipCreate(StrictModel):
    owner_party_id: str = Field(min_length=1, max_length=36)
    owned_party_id: str = Field(min_length=1, max_length=36)
    percentage: Percentage


class OwnershipUpdate(StrictModel):
    percentage: Percentage


class OwnershipOut(BaseModel):
    id: str
    owner_party_id: str
    # null: the business customer itself.
    owned_party_id: str | None
    percentage: float
    created_at: datetime
    updated_at: datetime


class ChainLink(BaseModel):
    owner_party_id: str
    owner_name: str
    owned_party_id: str | None
    owned_name: str
    percentage: float


class ChainOut(BaseModel):
    effective_ownership: float
    links: list[ChainLink]


class UboOut(BaseModel):
    party_id: str
    name: str
    linked_customer_id: str | None
    date_of_birth: date | None
    nationality: str | None
    country: str | None
    # "ownership" or "senior_managing_official".
    basis: str
    effective_ownership: float
    chains: list[ChainOut]


class OwnershipAnalysis(BaseModel):
    traced_percentage: float
    untraced_percentage: float
    circular: bool
    max_chain_length: int
    truncated: bool
    opaque_company_ids: list[str]


class OrganizationOut(BaseModel):
    customer_id: str
    ubo_threshold: float
    # "ownership", "senior_managing_official", or "none" (no UBO identifiable yet).
    ubo_basis: str
    ubos: list[UboOut]
    shareholders: list[PartyOut]
    directors: list[PartyOut]
    representatives: list[PartyOut]
    authorised_signatories: list[PartyOut]
    related_parties: list[PartyOut]
    ownership: list[OwnershipOut]
    ownership_analysis: OwnershipAnalysis


class OrganizationSettings(StrictModel):
    """``Tenant.settings["organization"]``: the UBO threshold in percent."""

    ubo_threshold: Percentage


class OrganizationSettingsOut(BaseModel):
    ubo_threshold: float
