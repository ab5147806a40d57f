"""``GET /v1/sessions/{session_id}/automated-checks``: what the hosted flow's
automated checks found, for the operator deciding a step (scope kyc:read)."""

from __future__ import annotations

from fastapi import APIRouter

from kycd.api.deps import DbSession, ReadCtx
from kycd.hosted import service
from kycd.hosted.schemas import CheckResultList, CheckResultOut
from kycd.verification import service as verification

router = APIRouter(prefix="/v1", tags=["sessions"])


@router.get("/sessions/{session_id}/automated-checks", response_model=CheckResultList)
def automated_checks(session_id: str, ctx: ReadCtx, db: DbSession) -> CheckResultList:
    run = verification.get_session(db, ctx, session_id)
    rows = service.check_results(db, ctx, run.id)
    return CheckResultList(data=[CheckResultOut.model_validate(r) for r in rows])
