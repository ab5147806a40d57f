"""Verification endpoints.

* ``POST /v1/sessions`` and ``GET /v1/customers/{id}/sessions`` (seed 003);
* ``GET /v1/applicants/{externalUserId}/status|steps|review-history`` (seed 002);
* the review API (``kyc:review``) on a run's steps, and the sandbox verdict;
* levels administration (``kyc:admin``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel

from kycd.api.deps import AdminCtx, CreateCtx, DbSession, ReadCtx, ReviewCtx
from kycd.errors import BadRequest, Forbidden
from kycd.tenancy.scopes import Environment
from kycd.verification import level_service, service
from kycd.verification.levels import LevelError, StepKind, parse_level
from kycd.verification.schemas import (
    ApplicantStatus,
    ApplicantSteps,
    LevelIn,
    LevelList,
    LevelOut,
    LevelStepIn,
    ReviewHistory,
    SandboxVerdictIn,
    SessionCreate,
    SessionOut,
    StepActionIn,
    StepDecisionIn,
)
from kycd.verification.transitions import Action

router = APIRouter(prefix="/v1")

ExternalUserId = Annotated[str, Path(alias="externalUserId", max_length=128)]


class SessionList(BaseModel):
    data: list[SessionOut]


# --- Sessions (seed 003) -----------------------------------------------------------


@router.post("/sessions", status_code=201, response_model=SessionOut, tags=["sessions"])
def create_session(
    body: SessionCreate, ctx: CreateCtx, db: DbSession, request: Request
) -> SessionOut:
    return service.create_session(db, ctx, request.app.state.settings, body)


@router.get("/customers/{customer_id}/sessions", response_model=SessionList, tags=["sessions"])
def list_customer_sessions(customer_id: str, ctx: ReadCtx, db: DbSession) -> SessionList:
    return SessionList(data=service.list_sessions(db, ctx, customer_id))


# --- Applicant tracking (seed 002) -------------------------------------------------


@router.get(
    "/applicants/{externalUserId}/status", response_model=ApplicantStatus, tags=["applicants"]
)
def applicant_status(
    external_user_id: ExternalUserId, ctx: ReadCtx, db: DbSession
) -> dict[str, Any]:
    customer, view = service.applicant_view(db, ctx, external_user_id)
    return service.status_body(view, customer.client_id)


@router.get(
    "/applicants/{externalUserId}/steps", response_model=ApplicantSteps, tags=["applicants"]
)
def applicant_steps(
    external_user_id: ExternalUserId, ctx: ReadCtx, db: DbSession
) -> dict[str, Any]:
    customer, view = service.applicant_view(db, ctx, external_user_id)
    return service.steps_body(view, customer.client_id)


@router.get(
    "/applicants/{externalUserId}/review-history",
    response_model=ReviewHistory,
    tags=["applicants"],
)
def applicant_review_history(
    external_user_id: ExternalUserId,
    ctx: ReadCtx,
    db: DbSession,
    since: Annotated[datetime | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=service.HISTORY_MAX_LIMIT)] = 50,
    event_type: Annotated[str | None, Query(alias="eventType", max_length=80)] = None,
) -> dict[str, Any]:
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)  # a time without offset is UTC
    return service.review_history(
        db, ctx, external_user_id, since=since, limit=limit, event_type=event_type
    )


@router.post(
    "/applicants/{externalUserId}/steps/{kind}/sandbox-verdict",
    response_model=ApplicantSteps,
    tags=["applicants"],
)
def sandbox_verdict(
    external_user_id: ExternalUserId,
    kind: StepKind,
    body: SandboxVerdictIn,
    ctx: ReviewCtx,
    db: DbSession,
) -> dict[str, Any]:
    if ctx.environment != Environment.SANDBOX:
        raise Forbidden("Forcing a verdict is only possible in the sandbox", "sandbox_only")
    view = service.force_verdict(
        db,
        ctx,
        external_user_id,
        kind.value,
        answer=body.reviewAnswer,
        reject_type=body.reviewRejectType,
        labels=tuple(body.rejectLabels),
    )
    return service.steps_body(view, view.external_user_id)


# --- Review API (kyc:review) -------------------------------------------------------


def _review(
    db: DbSession,
    ctx: ReviewCtx,
    session_id: str,
    kind: StepKind,
    action: Action,
    actor_type: str,
    reject_type: str | None = None,
    labels: tuple[str, ...] = (),
) -> dict[str, Any]:
    view = service.review_step(
        db,
        ctx,
        session_id,
        kind.value,
        action,
        actor_type=actor_type,
        reject_type=reject_type,
        labels=labels,
    )
    return service.steps_body(view, view.external_user_id)


@router.post(
    "/sessions/{session_id}/steps/{kind}/submit", response_model=ApplicantSteps, tags=["review"]
)
def submit_step(
    session_id: str, kind: StepKind, ctx: ReviewCtx, db: DbSession, body: StepActionIn | None = None
) -> dict[str, Any]:
    actor = (body or StepActionIn()).actor_type
    return _review(db, ctx, session_id, kind, Action.SUBMIT, actor)


@router.post(
    "/sessions/{session_id}/steps/{kind}/start-review",
    response_model=ApplicantSteps,
    tags=["review"],
)
def start_review(
    session_id: str, kind: StepKind, ctx: ReviewCtx, db: DbSession, body: StepActionIn | None = None
) -> dict[str, Any]:
    actor = (body or StepActionIn()).actor_type
    return _review(db, ctx, session_id, kind, Action.START_REVIEW, actor)


@router.post(
    "/sessions/{session_id}/steps/{kind}/operator-review",
    response_model=ApplicantSteps,
    tags=["review"],
)
def send_to_operator_review(
    session_id: str, kind: StepKind, ctx: ReviewCtx, db: DbSession, body: StepActionIn | None = None
) -> dict[str, Any]:
    actor = (body or StepActionIn()).actor_type
    return _review(db, ctx, session_id, kind, Action.SEND_TO_OPERATOR, actor)


@router.post(
    "/sessions/{session_id}/steps/{kind}/decision",
    response_model=ApplicantSteps,
    tags=["review"],
)
def decide_step(
    session_id: str, kind: StepKind, body: StepDecisionIn, ctx: ReviewCtx, db: DbSession
) -> dict[str, Any]:
    action = Action.APPROVE if body.review_answer == "GREEN" else Action.REJECT
    return _review(
        db,
        ctx,
        session_id,
        kind,
        action,
        body.actor_type,
        body.reject_type,
        tuple(body.reject_labels),
    )


# --- Levels (kyc:admin) ------------------------------------------------------------


def _level_out(level: level_service.EffectiveLevel) -> LevelOut:
    row = level.row
    return LevelOut(
        id=row.id if row else None,
        name=level.definition.name,
        ttl_hours=level.definition.ttl_hours,
        steps=[
            LevelStepIn(kind=StepKind(s.kind), optional=s.optional) for s in level.definition.steps
        ],
        source=level.source,
        created_at=row.created_at if row else None,
        updated_at=row.updated_at if row else None,
    )


@router.get("/levels", response_model=LevelList, tags=["levels"])
def list_levels(ctx: AdminCtx, db: DbSession) -> LevelList:
    return LevelList(data=[_level_out(level) for level in level_service.list_levels(db, ctx)])


@router.get("/levels/{name}", response_model=LevelOut, tags=["levels"])
def get_level(name: str, ctx: AdminCtx, db: DbSession) -> LevelOut:
    return _level_out(level_service.get_level(db, ctx, name))


@router.put("/levels/{name}", response_model=LevelOut, tags=["levels"])
def put_level(name: str, body: LevelIn, ctx: AdminCtx, db: DbSession) -> LevelOut:
    try:
        definition = parse_level({"name": name, **body.model_dump(mode="json")})
    except LevelError as exc:
        raise BadRequest(exc.message, field=exc.field) from exc
    row = level_service.put_level(db, ctx, definition)
    return _level_out(level_service.EffectiveLevel(definition, row))
