"""``/v1/customers/{id}/risk-profile`` (seed 003) and the tenant's risk settings.

``GET`` reads the stored profile; ``POST`` recalculates it (a GET never
writes, so it stays safe to retry and to cache).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends

from kycd.api.deps import AdminCtx, DbSession, ReadCtx, UpdateCtx
from kycd.api.pagination import Page, PageParams, page_params
from kycd.errors import BadRequest
from kycd.risk import service
from kycd.risk.schemas import (
    RecalculateIn,
    RiskHistoryOut,
    RiskProfileOut,
    RiskSettingsIn,
    RiskSettingsOut,
)

router = APIRouter(prefix="/v1", tags=["risk"])


@router.get("/customers/{customer_id}/risk-profile", response_model=RiskProfileOut)
def get_risk_profile(
    customer_id: str, ctx: ReadCtx, db: DbSession, recalculate: bool | None = None
) -> RiskProfileOut:
    if recalculate:
        # Said plainly rather than ignored: a client expecting a fresh profile
        # must not silently get the stored one.
        raise BadRequest(
            "a GET never recalculates; POST /v1/customers/{id}/risk-profile does",
            field="recalculate",
        )
    return service.get_profile(db, ctx, customer_id)


@router.post("/customers/{customer_id}/risk-profile", response_model=RiskProfileOut)
def recalculate_risk_profile(
    customer_id: str,
    ctx: UpdateCtx,
    db: DbSession,
    body: Annotated[RecalculateIn | None, Body()] = None,
) -> RiskProfileOut:
    reason = body.reason if body is not None else "manual"
    return service.profile_out(service.recalculate(db, ctx, customer_id, reason=reason))


@router.get("/customers/{customer_id}/risk-profile/history", response_model=Page[RiskHistoryOut])
def risk_profile_history(
    customer_id: str,
    ctx: ReadCtx,
    db: DbSession,
    page: Annotated[PageParams, Depends(page_params)],
) -> Page[RiskHistoryOut]:
    rows, total = service.list_history(db, ctx, customer_id, page)
    return Page[RiskHistoryOut].build(rows, page, total)


@router.get("/risk/settings", response_model=RiskSettingsOut)
def get_risk_settings(ctx: AdminCtx, db: DbSession) -> RiskSettingsOut:
    return service.get_settings(db, ctx)


@router.put("/risk/settings", response_model=RiskSettingsOut)
def put_risk_settings(body: RiskSettingsIn, ctx: AdminCtx, db: DbSession) -> RiskSettingsOut:
    return service.put_settings(db, ctx, body)
