"""User checks API, seed 004: ``/v1/users/{user_id}/checks``.

``user_id`` is the customer's kycd id. POST answers ``202 Accepted`` with
``{"id": …}``: the seed says "The request has been successfully accepted", and
the outcome (PASSED or FAILED) is decided later, once the evidence is fetched.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from kycd.api.deps import CreateCtx, DbSession, ReadCtx
from kycd.checks import service
from kycd.checks.schemas import CheckCreate, CheckCreated, CheckList, CheckOut

router = APIRouter(prefix="/v1/users/{user_id}/checks", tags=["user checks"])


@router.get("", response_model=CheckList)
def list_checks(user_id: str, ctx: ReadCtx, db: DbSession) -> CheckList:
    """Lists all checks for a user specified by ID, oldest first."""
    return CheckList(data=[service.to_out(c) for c in service.list_checks(db, ctx, user_id)])


@router.post("", status_code=202, response_model=CheckCreated)
def create_check(
    user_id: str, body: CheckCreate, ctx: CreateCtx, db: DbSession, request: Request
) -> CheckCreated:
    """Creates a new check for a user specified by ID."""
    check = service.create_check(db, ctx, request.app.state.settings, user_id, body)
    return CheckCreated(id=check.id)


@router.get("/{check_id}", response_model=CheckOut)
def get_check(user_id: str, check_id: str, ctx: ReadCtx, db: DbSession) -> CheckOut:
    """Retrieves a check for a user specified by its ID."""
    return service.to_out(service.get_check(db, ctx, user_id, check_id))
