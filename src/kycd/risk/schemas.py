"""Risk profile bodies (seed 003 dialect, snake_case)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class FactorOut(BaseModel):
    name: str
    weight: float
    value: float
    contribution: float
    minimum_level: str | None
    details: dict[str, Any]


class Thresholds(BaseModel):
    medium: float
    high: float


class RiskProfileOut(BaseModel):
    customer_id: str
    score: float
    level: str
    thresholds: Thresholds
    factors: list[FactorOut]
    # 0 when the profile has never been stored (computed for this response only).
    version: int
    reason: str
    calculated_at: datetime


class RecalculateIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str = Field(default="manual", min_length=1, max_length=200)


class FactorChange(BaseModel):
    factor: str
    # "from" is a Python keyword; the JSON keeps it as written.
    from_: float | None = Field(alias="from")
    to: float
    contribution_from: float | None
    contribution_to: float
    details_from: dict[str, Any] | None
    details_to: dict[str, Any]


class RiskHistoryOut(BaseModel):
    version: int
    score: float
    level: str
    previous_score: float | None
    previous_level: str | None
    level_changed: bool
    reason: str
    changes: list[FactorChange]
    factors: list[FactorOut]
    actor_type: str
    actor_id: str | None
    calculated_at: datetime


class RiskSettingsIn(BaseModel):
    """``Tenant.settings["risk"]``: every key optional; absent keys take the defaults."""

    model_config = ConfigDict(extra="forbid")

    weights: dict[str, float] | None = None
    thresholds: dict[str, float] | None = None
    country_lists: dict[str, Any] | None = None
    activity_lists: dict[str, Any] | None = None


class RiskSettingsOut(BaseModel):
    weights: dict[str, float]
    thresholds: Thresholds
    country_lists: dict[str, Any]
    activity_lists: dict[str, Any]
    # Which of the above the tenant has replaced; the rest are kycd's defaults.
    overridden: list[str]
