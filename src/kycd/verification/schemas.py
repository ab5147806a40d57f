from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, HttpUrl, model_validator

from kycd.customers.models import CustomerType
from kycd.customers.schemas import StrictModel
from kycd.verification.levels import MAX_TTL_HOURS, StepKind
from kycd.verification.transitions import validate_labels


class SessionCreate(StrictModel):
    """``POST /v1/sessions``: link the run to a customer by ``customer_id`` or by
    the tenant's own ``client_id``; an unknown ``client_id`` creates the customer."""

    customer_id: str | None = Field(default=None, max_length=36)
    client_id: str | None = Field(
        default=None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@-]+$"
    )
    customer_type: CustomerType = CustomerType.INDIVIDUAL
    level_name: str | None = Field(default=None, min_length=1, max_length=100)
    redirect_url: HttpUrl | None = None

    @model_validator(mode="after")
    def _one_reference(self) -> SessionCreate:
        if not self.customer_id and not self.client_id:
            raise ValueError("customer_id or client_id is required")
        return self


class SessionOut(BaseModel):
    id: str
    customer_id: str
    client_id: str
    level_name: str
    status: str
    expires_at: datetime
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    level_id: str | None = None
    # Only in the answer to POST /v1/sessions: the token behind it is stored hashed.
    verification_url: str | None = None


# --- Levels administration (no seed: snake_case, like the Customers API) ----------


class LevelStepIn(StrictModel):
    kind: StepKind
    optional: bool = False


class LevelIn(StrictModel):
    """``PUT /v1/levels/{name}``: the level's steps, in order, and its time-to-live."""

    ttl_hours: int = Field(ge=1, le=MAX_TTL_HOURS)
    steps: list[LevelStepIn] = Field(min_length=1, max_length=len(StepKind))


class LevelOut(BaseModel):
    id: str | None
    name: str
    ttl_hours: int
    steps: list[LevelStepIn]
    # "tenant" once the tenant configured it or a run used it, "default" before.
    source: str
    created_at: datetime | None
    updated_at: datetime | None


class LevelList(BaseModel):
    data: list[LevelOut]


# --- Review API (kyc:review) ------------------------------------------------------

ActorType = Literal["system", "sdk", "partner", "operator"]


class StepActionIn(StrictModel):
    """Who acts: recorded on the event as its ``actorType``."""

    actor_type: ActorType = "operator"


class StepDecisionIn(StrictModel):
    review_answer: Literal["GREEN", "RED"]
    reject_type: Literal["FINAL", "RETRY"] | None = None
    reject_labels: list[str] = Field(default_factory=list, max_length=20)
    actor_type: ActorType = "operator"

    @model_validator(mode="after")
    def _red_needs_reason(self) -> StepDecisionIn:
        _check_verdict(self.review_answer, self.reject_type, self.reject_labels)
        return self


def _check_verdict(answer: str, reject_type: str | None, labels: list[str]) -> None:
    if answer == "GREEN" and (reject_type or labels):
        raise ValueError("a GREEN answer has no reject type or labels")
    if answer == "RED":
        if reject_type is None:
            raise ValueError("a RED answer needs a reject type (FINAL or RETRY)")
        if not labels:
            raise ValueError("a RED answer needs at least one reject label")
        validate_labels(tuple(labels))


# --- Seed 002 surface: camelCase, exactly the seed's vocabulary ------------------


class SandboxVerdictIn(StrictModel):
    """Sandbox only: force a step's verdict to test an integration end to end."""

    reviewAnswer: Literal["GREEN", "RED"]
    reviewRejectType: Literal["FINAL", "RETRY"] | None = None
    rejectLabels: list[str] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _red_needs_reason(self) -> SandboxVerdictIn:
        _check_verdict(self.reviewAnswer, self.reviewRejectType, self.rejectLabels)
        return self


class StepRow(BaseModel):
    kind: str
    optional: bool
    reviewAnswer: str | None
    reviewStatus: str
    reviewRejectType: str | None
    rejectLabels: list[str]
    lastUpdatedAtUtc: str


class ApplicantSteps(BaseModel):
    externalUserId: str
    levelId: str | None
    levelName: str | None
    steps: list[StepRow]


class ApplicantStatus(BaseModel):
    externalUserId: str
    levelId: str | None
    levelName: str | None
    reviewStatus: str | None
    reviewAnswer: str | None
    reviewRejectType: str | None
    rejectLabels: list[str]
    onboardingStatus: str | None
    createdAtUtc: str | None
    expiresAtUtc: str | None
    lastUpdatedAtUtc: str | None


class HistoryItem(BaseModel):
    atUtc: str
    eventType: str
    actorType: str


class ReviewHistory(BaseModel):
    items: list[HistoryItem]
    totalItems: int
