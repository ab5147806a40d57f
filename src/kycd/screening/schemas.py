"""Request and response bodies of the screening API (snake_case, like seed 003)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kycd.screening.matching import DEFAULT_THRESHOLD


class PartyType(StrEnum):
    INDIVIDUAL = "individual"
    BUSINESS = "business"
    # Unknown: matched against persons and organisations alike.
    ENTITY = "entity"
    VESSEL = "vessel"


class MatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: PartyType = PartyType.INDIVIDUAL
    name: str = Field(min_length=1, max_length=300)
    aliases: list[str] = Field(default_factory=list, max_length=20)
    first_name: str | None = Field(default=None, max_length=200)
    middle_name: str | None = Field(default=None, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)
    date_of_birth: date | None = None
    # ISO 3166-1 alpha-2 codes: nationality, citizenship, residence, incorporation.
    countries: list[str] = Field(default_factory=list, max_length=10)
    identifiers: list[str] = Field(default_factory=list, max_length=10)
    threshold: float = Field(default=DEFAULT_THRESHOLD, ge=0.0, le=1.0)
    limit: int = Field(default=10, ge=1, le=50)
    watchlists: list[str] | None = Field(default=None, max_length=20)

    @field_validator("countries")
    @classmethod
    def _countries(cls, value: list[str]) -> list[str]:
        import pycountry

        out = []
        for code in value:
            if pycountry.countries.get(alpha_2=code.upper()) is None:
                raise ValueError(f"'{code}' is not an ISO 3166-1 alpha-2 country code")
            out.append(code.lower())
        return out


class ListRef(BaseModel):
    watchlist: str
    version: str
    version_id: str
    entity_count: int


class MatchOut(BaseModel):
    watchlist: str
    list_version: str
    entity_id: str
    schema_: str = Field(serialization_alias="schema")
    caption: str
    topics: list[str]
    datasets: list[str]
    score: float
    explanation: dict[str, Any]


class MatchResponse(BaseModel):
    threshold: float
    screened_lists: list[ListRef]
    matches: list[MatchOut]


class MonitorRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True


class HitOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    customer_id: str
    # The related party the hit is on (its name as screened); both None when
    # the hit is on the customer itself.
    party_id: str | None
    party_name: str | None
    watchlist: str
    list_version_id: str
    entity_id: str
    entity_schema: str
    entity_caption: str
    topics: list[str]
    datasets: list[str]
    score: float
    explanation: dict[str, Any]
    status: str
    active: bool
    review_note: str | None
    reviewed_at: datetime | None
    reviewed_by: str | None
    created_at: datetime
    updated_at: datetime


class HitSummaryOut(BaseModel):
    open_hits: int
    confirmed_hits: int
    false_positive_hits: int
    sanctions: int
    pep: int
    adverse_media: int


class MonitorResponse(BaseModel):
    customer_id: str
    monitoring: bool
    monitored_since: datetime | None
    last_screened_at: datetime | None
    screened_lists: list[ListRef]
    summary: HitSummaryOut
    hits: list[HitOut]


class ReviewDecision(StrEnum):
    CONFIRMED = "confirmed"
    FALSE_POSITIVE = "false_positive"


class ReviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: ReviewDecision
    note: str = Field(min_length=1, max_length=4000)


class VersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    version: str
    kind: str
    format: str
    source: str
    entity_count: int
    added: int
    modified: int
    deleted: int
    imported_at: datetime
    imported_by: str | None


class RescreenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    list_version_id: str
    kind: str
    status: str
    processed: int
    hits_created: int
    created_at: datetime
    finished_at: datetime | None


class WatchlistOut(BaseModel):
    id: str
    name: str
    current_version: VersionOut | None
    versions: list[VersionOut]
    rescreens: list[RescreenOut]
    created_at: datetime
    updated_at: datetime
