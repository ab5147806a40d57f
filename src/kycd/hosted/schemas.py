"""API bodies of the hosted flow's operator-facing read (snake_case, as the
Customers API)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class CheckResultOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    step_kind: str
    attempt: int
    check: str
    outcome: str
    label: str | None
    detail: str
    subject: str | None
    document_id: str | None
    created_at: datetime


class CheckResultList(BaseModel):
    data: list[CheckResultOut]
