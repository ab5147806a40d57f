"""``/v1/clients/{clientId}/documents`` bodies, in Fineract's names.

Fineract's ``type`` is the file's content type; the kind of document
(ID card, utility bill, …) is ``documentType``.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from kycd.documents.types import DocumentType


class DocumentOut(BaseModel):
    id: str
    parentEntityType: str = "clients"
    parentEntityId: str
    documentType: DocumentType
    name: str
    fileName: str
    size: int
    type: str = Field(description="content type, sniffed from the bytes")
    sha256: str
    description: str | None
    issuingCountry: str | None
    expiryDate: date | None
    expired: bool
    reviewStatus: str
    reviewedOn: datetime | None
    reviewNote: str | None
    createdOn: datetime


class ReviewBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    note: str | None = Field(default=None, max_length=1000)
