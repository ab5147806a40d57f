"""``/v1/clients/{clientId}/identifiers`` bodies, in Fineract's names."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator

from kycd.core.validators import CountryCode
from kycd.identifiers.types import IdentifierStatus, IdentifierType
from kycd.lifecycle.schemas import FineractBody


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


class IdentifierCreate(FineractBody):
    date_fields = ("expiryDate",)

    documentType: IdentifierType
    # Never echoed, logged or stored in clear: see kycd.identifiers.crypto.
    documentKey: str = Field(min_length=1, max_length=64, repr=False)
    issuingCountry: CountryCode | None = None
    expiryDate: date | None = None
    description: str | None = Field(default=None, max_length=500)
    status: IdentifierStatus = IdentifierStatus.ACTIVE

    _upper_enums = field_validator("documentType", "status", mode="before")(_upper)


class IdentifierOut(BaseModel):
    id: str
    clientId: str
    documentType: str
    documentKey: str = Field(description="masked: only the last four characters show")
    issuingCountry: str
    expiryDate: date | None
    expired: bool
    description: str | None
    status: str
    createdOn: datetime
