"""User checks API (seed 004) bodies: snake_case, field for field as the seed writes them.

A check is a discriminated union on ``type``: ``KYC``, ``POR``,
``INSTRUMENT_FIT`` and ``COMPLIANCE`` each have their own body. Unknown
fields are refused, so a misspelt field never passes silently.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationInfo,
    field_validator,
)

from kycd.checks.validators import (
    address_line_problem,
    confirmed_at_problem,
    expiration_problem,
    https_url_problem,
    issuance_problem,
    strict_iso_date,
)
from kycd.core.validators import CountryCode
from kycd.db import utcnow


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _confirmed_at(value: datetime) -> datetime:
    # A timestamp without an offset is read as UTC, the API's only zone.
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    problem = confirmed_at_problem(value, utcnow())
    if problem:
        raise ValueError(problem)
    return value


def _expiration(value: date) -> date:
    problem = expiration_problem(value, utcnow().date())
    if problem:
        raise ValueError(problem)
    return value


def _issuance(value: date) -> date:
    problem = issuance_problem(value, utcnow().date())
    if problem:
        raise ValueError(problem)
    return value


def _https_url(value: str) -> str:
    problem = https_url_problem(value)
    if problem:
        raise ValueError(problem)
    return value


ConfirmedAt = Annotated[datetime, AfterValidator(_confirmed_at)]
IsoDate = Annotated[date, BeforeValidator(strict_iso_date)]
ExpirationDate = Annotated[IsoDate, AfterValidator(_expiration)]
IssuanceDate = Annotated[IsoDate, AfterValidator(_issuance)]
HttpsUrl = Annotated[str, Field(min_length=1), AfterValidator(_https_url)]
Label = Annotated[str, Field(min_length=1, max_length=100)]
Provider = Annotated[str, Field(min_length=1, max_length=200)]


class Address(StrictModel):
    """The address a provider confirmed. Must not be a P.O. box or c/o address."""

    # Declared first so the line validators below can read it: the same letters
    # are a P.O. box in one country and a postcode in another.
    country: CountryCode
    address_line1: str = Field(min_length=1, max_length=300)
    address_line2: str | None = Field(default=None, max_length=300)
    postcode: str | None = Field(default=None, max_length=32)
    city: str = Field(min_length=1, max_length=200)
    state: str | None = Field(default=None, max_length=100)

    @field_validator("address_line1", "address_line2")
    @classmethod
    def _not_po_box(cls, value: str | None, info: ValidationInfo) -> str | None:
        problem = address_line_problem(value, info.data.get("country"))
        if problem:
            raise ValueError(problem)
        return value


class InstrumentSuitability(StrictModel):
    suitability: StrictBool


class KycCheckCreate(StrictModel):
    type: Literal["KYC"]
    check_confirmed_at: ConfirmedAt
    data_download_link: HttpsUrl
    document_type: Label
    document_expiration_date: ExpirationDate
    nationality: CountryCode
    provider: Provider
    method: Label
    confirmed_address: Address | None = None
    kyc_update: StrictBool = False


class PorCheckCreate(StrictModel):
    type: Literal["POR"]
    check_confirmed_at: ConfirmedAt
    issuance_date: IssuanceDate
    data_download_link: HttpsUrl
    document_type: Label
    confirmed_address: Address
    provider: Provider | None = None


class InstrumentFitCheckCreate(StrictModel):
    type: Literal["INSTRUMENT_FIT"]
    check_confirmed_at: ConfirmedAt
    instrument_suitability: InstrumentSuitability
    provider: Provider | None = None


class ComplianceCheckCreate(StrictModel):
    type: Literal["COMPLIANCE"]
    check_confirmed_at: ConfirmedAt
    provider: Provider | None = None


CheckCreate = Annotated[
    KycCheckCreate | PorCheckCreate | InstrumentFitCheckCreate | ComplianceCheckCreate,
    Field(discriminator="type"),
]


class CheckCreated(BaseModel):
    id: str


class AddressOut(BaseModel):
    address_line1: str
    address_line2: str | None = None
    postcode: str | None = None
    city: str
    state: str | None = None
    country: str


class Evidence(BaseModel):
    """The file behind ``data_download_link`` and the attempts to fetch it."""

    sha256: str | None
    size: int | None
    fetched_at: datetime | None
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None


class KycCheckOut(BaseModel):
    id: str
    user_id: str
    type: Literal["KYC"]
    check_confirmed_at: datetime
    data_download_link: str
    document_type: str
    document_expiration_date: date
    nationality: str
    status: str
    provider: str
    method: str
    confirmed_address: AddressOut | None
    kyc_update: bool
    failure_reason: str | None
    evidence: Evidence
    created_at: datetime
    updated_at: datetime


class PorCheckOut(BaseModel):
    id: str
    user_id: str
    type: Literal["POR"]
    check_confirmed_at: datetime
    issuance_date: date
    data_download_link: str
    document_type: str
    status: str
    provider: str | None
    confirmed_address: AddressOut
    failure_reason: str | None
    evidence: Evidence
    created_at: datetime
    updated_at: datetime


class InstrumentFitCheckOut(BaseModel):
    id: str
    user_id: str
    type: Literal["INSTRUMENT_FIT"]
    check_confirmed_at: datetime
    status: str
    provider: str | None
    instrument_suitability: InstrumentSuitability
    failure_reason: str | None
    created_at: datetime
    updated_at: datetime


class ComplianceCheckOut(BaseModel):
    id: str
    user_id: str
    type: Literal["COMPLIANCE"]
    check_confirmed_at: datetime
    status: str
    provider: str | None
    failure_reason: str | None
    created_at: datetime
    updated_at: datetime


CheckOut = Annotated[
    KycCheckOut | PorCheckOut | InstrumentFitCheckOut | ComplianceCheckOut,
    Field(discriminator="type"),
]


class CheckList(BaseModel):
    data: list[CheckOut]


def dump_check(check: BaseModel) -> dict[str, Any]:
    """The JSON object of a check, exactly as GET answers it (and webhooks carry it)."""
    return check.model_dump(mode="json")
