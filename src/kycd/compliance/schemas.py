"""Seed 000's response, camelCase as the seed writes it.

The endpoint serves ``data`` as stored by kycd.compliance.service (built by
:func:`status_data`; the hottest call of the API skips model validation); the
models document it in the OpenAPI schema.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from kycd.compliance.policy import CheckType, ComplianceResult, NextAction, OnboardingStatus

STATUS_MESSAGE = "Compliance status retrieved successfully"


class CheckOut(BaseModel):
    type: CheckType
    passed: bool
    required: bool
    suggestedAction: NextAction | None = Field(
        default=None, description="Only present when passed is false"
    )


class SummaryOut(BaseModel):
    passed: int
    failed: int
    requiredFailed: list[CheckType]


class StatusData(BaseModel):
    isCompliant: bool
    onboardingStatus: OnboardingStatus | None
    nextAction: NextAction | None
    checks: list[CheckOut]
    summary: SummaryOut


class StatusResponse(BaseModel):
    message: str
    data: StatusData
    traceId: str


def _check(c: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": c.type.value, "passed": c.passed, "required": c.required}
    if not c.passed:
        out["suggestedAction"] = c.suggested_action.value
    return out


def status_data(result: ComplianceResult) -> dict[str, Any]:
    """The seed's ``data`` object."""
    return {
        "isCompliant": result.is_compliant,
        "onboardingStatus": (result.onboarding_status.value if result.onboarding_status else None),
        "nextAction": result.next_action.value,
        "checks": [_check(c) for c in result.checks],
        "summary": {
            "passed": result.passed_count,
            "failed": result.failed_count,
            "requiredFailed": result.required_failed,
        },
    }
