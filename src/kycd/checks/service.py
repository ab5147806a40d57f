"""User checks: record, read, refresh; and the state changes the worker makes.

Every change is a guarded UPDATE (``WHERE status = … AND revision = …``) in one
transaction with the event it records, so two writers never both win.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from kycd.checks.models import UserCheck
from kycd.checks.outcome import CheckStatus, CheckType, FailureReason
from kycd.checks.schemas import (
    AddressOut,
    CheckCreate,
    CheckOut,
    ComplianceCheckCreate,
    ComplianceCheckOut,
    Evidence,
    InstrumentFitCheckCreate,
    InstrumentFitCheckOut,
    InstrumentSuitability,
    KycCheckCreate,
    KycCheckOut,
    PorCheckCreate,
    PorCheckOut,
    dump_check,
)
from kycd.core.safe_http import AddressPolicy, check_url
from kycd.customers import service as customers
from kycd.db import utcnow
from kycd.errors import BadRequest, Conflict, NotFound
from kycd.events.service import record_event
from kycd.settings import Settings
from kycd.tenancy.context import RequestContext
from kycd.tenancy.scoping import rows_by_customer, scope_values, scoped

EVENT_ACCEPTED = "user_check.accepted"
EVENT_REFRESHED = "user_check.refreshed"
EVENT_VALIDATED = "user_check.validated"
EVENT_FETCH_FAILED = "user_check.evidence_fetch_failed"
EVENT_PASSED = "USER_CHECK.PASSED"
EVENT_FAILED = "USER_CHECK.FAILED"

# The columns a KYC refresh replaces; everything about the old evidence and
# outcome is reset with them.
_KYC_FIELDS = (
    "check_confirmed_at",
    "data_download_link",
    "document_type",
    "document_expiration_date",
    "nationality",
    "provider",
    "method",
    "confirmed_address",
)
_RESET_ON_REFRESH: dict[str, Any] = {
    "status": CheckStatus.ACCEPTED.value,
    "failure_reason": None,
    "evidence_sha256": None,
    "evidence_size": None,
    "evidence_fetched_at": None,
    "fetch_attempts": 0,
    "last_error": None,
    "lease_token": None,
    "lease_until": None,
    "decided_at": None,
}


def _columns_of(data: CheckCreate) -> dict[str, Any]:
    """The model columns of a posted check, by type."""
    common: dict[str, Any] = {
        "type": data.type,
        "check_confirmed_at": data.check_confirmed_at,
        "provider": data.provider,
    }
    if isinstance(data, KycCheckCreate):
        address = data.confirmed_address
        return {
            **common,
            "data_download_link": data.data_download_link,
            "document_type": data.document_type,
            "document_expiration_date": data.document_expiration_date,
            "nationality": data.nationality,
            "method": data.method,
            "confirmed_address": address.model_dump() if address else None,
            "kyc_update": data.kyc_update,
        }
    if isinstance(data, PorCheckCreate):
        return {
            **common,
            "issuance_date": data.issuance_date,
            "data_download_link": data.data_download_link,
            "document_type": data.document_type,
            "confirmed_address": data.confirmed_address.model_dump(),
        }
    if isinstance(data, InstrumentFitCheckCreate):
        return {**common, "suitability": data.instrument_suitability.suitability}
    assert isinstance(data, ComplianceCheckCreate)
    return common


def _check_reachable(link: str | None, settings: Settings) -> None:
    """Refuse at once a link that resolves to a private or loopback address;
    the worker checks again at every connection."""
    if link is None:
        return
    try:
        check_url(link, AddressPolicy(settings.allowed_private_networks), require_https=True)
    except ValueError as exc:
        raise BadRequest(f"data_download_link {exc}", field="data_download_link") from exc


def create_check(
    db: Session, ctx: RequestContext, settings: Settings, user_id: str, data: CheckCreate
) -> UserCheck:
    """Record a posted check. A KYC check with ``kyc_update: true`` refreshes the
    customer's latest KYC check in place instead (see :func:`refresh_kyc_check`)."""
    customer = customers.get_customer(db, ctx, user_id)
    columns = _columns_of(data)
    _check_reachable(columns.get("data_download_link"), settings)
    if isinstance(data, KycCheckCreate) and data.kyc_update:
        earlier = latest_kyc_check(db, ctx, customer.id)
        if earlier is not None:
            return refresh_kyc_check(db, ctx, earlier, columns)
    now = utcnow()
    has_evidence = columns.get("data_download_link") is not None
    check = UserCheck(
        **scope_values(ctx),
        customer_id=customer.id,
        # Nothing to fetch: the body was the whole check, and it was valid.
        status=(CheckStatus.ACCEPTED if has_evidence else CheckStatus.VALIDATED).value,
        next_attempt_at=now if has_evidence else None,
        created_at=now,
        updated_at=now,
        **columns,
    )
    db.add(check)
    db.flush()
    record_event(
        db,
        ctx,
        EVENT_ACCEPTED,
        customer_id=customer.id,
        payload={"check": dump_check(to_out(check))},
    )
    return check


def latest_kyc_check(db: Session, ctx: RequestContext, customer_id: str) -> UserCheck | None:
    return db.scalars(
        scoped(UserCheck, ctx)
        .where(UserCheck.customer_id == customer_id, UserCheck.type == CheckType.KYC.value)
        .order_by(UserCheck.created_at.desc(), UserCheck.id.desc())
        .limit(1)
    ).first()


def refresh_kyc_check(
    db: Session, ctx: RequestContext, earlier: UserCheck, columns: dict[str, Any]
) -> UserCheck:
    """Replace the earlier KYC check's fields with the refreshed ones and start
    its life again (ACCEPTED, evidence to fetch). Its id stays; the previous
    version, with its evidence hash, is kept in the event log."""
    previous = dump_check(to_out(earlier))
    now = utcnow()
    values = {name: columns[name] for name in _KYC_FIELDS}
    _guarded_update(
        db,
        earlier,
        expected_statuses=None,
        values={
            **values,
            **_RESET_ON_REFRESH,
            "kyc_update": True,
            "next_attempt_at": now,
            "updated_at": now,
        },
    )
    record_event(
        db,
        ctx,
        EVENT_REFRESHED,
        customer_id=earlier.customer_id,
        payload={"check": dump_check(to_out(earlier)), "previous": previous},
    )
    return earlier


def _guarded_update(
    db: Session,
    check: UserCheck,
    *,
    expected_statuses: set[str] | None,
    values: dict[str, Any],
    lease_token: str | None = None,
) -> bool:
    """UPDATE the row if nobody changed it since we read it (same revision,
    and the expected status / lease); refresh ``check`` on success."""
    stmt = update(UserCheck).where(
        UserCheck.id == check.id,
        UserCheck.tenant_id == check.tenant_id,
        UserCheck.environment == check.environment,
        UserCheck.revision == check.revision,
    )
    if expected_statuses is not None:
        stmt = stmt.where(UserCheck.status.in_(sorted(expected_statuses)))
    if lease_token is not None:
        stmt = stmt.where(UserCheck.lease_token == lease_token)
    result = db.execute(
        stmt.values(**values, revision=check.revision + 1).execution_options(
            synchronize_session=False
        )
    )
    won = getattr(result, "rowcount", 0) == 1
    db.refresh(check)
    if not won and expected_statuses is None and lease_token is None:
        raise Conflict("The check was changed concurrently; retry", "check_conflict")
    return won


def get_check(db: Session, ctx: RequestContext, user_id: str, check_id: str) -> UserCheck:
    customer = customers.get_customer(db, ctx, user_id)
    check = db.scalars(
        scoped(UserCheck, ctx).where(UserCheck.id == check_id, UserCheck.customer_id == customer.id)
    ).first()
    if check is None:
        raise NotFound("Check not found")
    return check


def list_checks(db: Session, ctx: RequestContext, user_id: str) -> list[UserCheck]:
    customer = customers.get_customer(db, ctx, user_id)
    return list_checks_for_customer(db, ctx, customer.id)


def list_checks_for_customer(db: Session, ctx: RequestContext, customer_id: str) -> list[UserCheck]:
    """Every check of one customer, oldest first (for the compliance domain)."""
    return checks_by_customer(db, ctx, [customer_id])[customer_id]


def checks_by_customer(
    db: Session, ctx: RequestContext, customer_ids: Collection[str]
) -> dict[str, list[UserCheck]]:
    return rows_by_customer(db, UserCheck, ctx, customer_ids, UserCheck.created_at, UserCheck.id)


# --- state changes made by the evidence worker ---------------------------------


def record_evidence(
    db: Session,
    ctx: RequestContext,
    check: UserCheck,
    lease_token: str,
    *,
    sha256: str,
    size: int,
    now: datetime,
) -> bool:
    """ACCEPTED → VALIDATED with the stored file; False if the claim was lost
    (the check was refreshed meanwhile, or another worker took over)."""
    won = _guarded_update(
        db,
        check,
        expected_statuses={CheckStatus.ACCEPTED.value},
        lease_token=lease_token,
        values={
            "status": CheckStatus.VALIDATED.value,
            "evidence_sha256": sha256,
            "evidence_size": size,
            "evidence_fetched_at": now,
            "fetch_attempts": check.fetch_attempts + 1,
            "last_error": None,
            "next_attempt_at": None,
            "lease_token": None,
            "lease_until": None,
            "updated_at": now,
        },
    )
    if won:
        record_event(
            db,
            ctx,
            EVENT_VALIDATED,
            customer_id=check.customer_id,
            payload={"check": dump_check(to_out(check))},
        )
    return won


def record_fetch_retry(
    db: Session,
    ctx: RequestContext,
    check: UserCheck,
    lease_token: str,
    *,
    error: str,
    next_attempt_at: datetime,
    now: datetime,
) -> bool:
    """A failed attempt that will be retried: visible on the check."""
    won = _guarded_update(
        db,
        check,
        expected_statuses={CheckStatus.ACCEPTED.value},
        lease_token=lease_token,
        values={
            "fetch_attempts": check.fetch_attempts + 1,
            "last_error": error,
            "next_attempt_at": next_attempt_at,
            "lease_token": None,
            "lease_until": None,
            "updated_at": now,
        },
    )
    if won:
        record_event(
            db,
            ctx,
            EVENT_FETCH_FAILED,
            customer_id=check.customer_id,
            payload={"check": dump_check(to_out(check))},
        )
    return won


def fail_fetch(
    db: Session,
    ctx: RequestContext,
    check: UserCheck,
    lease_token: str,
    *,
    reason: FailureReason,
    error: str,
    now: datetime,
) -> bool:
    """ACCEPTED → FAILED: the evidence will never be had (refused, too large,
    gone, or the attempts are exhausted)."""
    return _decide(
        db,
        ctx,
        check,
        expected=CheckStatus.ACCEPTED,
        reason=reason,
        now=now,
        lease_token=lease_token,
        extra={
            "fetch_attempts": check.fetch_attempts + 1,
            "last_error": error,
            "next_attempt_at": None,
            "lease_token": None,
            "lease_until": None,
        },
    )


def decide_check(
    db: Session,
    ctx: RequestContext,
    check: UserCheck,
    reason: FailureReason | None,
    now: datetime,
) -> bool:
    """VALIDATED → PASSED (no reason) or FAILED (with the reason)."""
    return _decide(db, ctx, check, expected=CheckStatus.VALIDATED, reason=reason, now=now)


def _decide(
    db: Session,
    ctx: RequestContext,
    check: UserCheck,
    *,
    expected: CheckStatus,
    reason: FailureReason | None,
    now: datetime,
    lease_token: str | None = None,
    extra: dict[str, Any] | None = None,
) -> bool:
    status = CheckStatus.PASSED if reason is None else CheckStatus.FAILED
    won = _guarded_update(
        db,
        check,
        expected_statuses={expected.value},
        lease_token=lease_token,
        values={
            **(extra or {}),
            "status": status.value,
            "failure_reason": reason.value if reason else None,
            "decided_at": now,
            "updated_at": now,
        },
    )
    if won:
        # The payload is the check exactly as GET answers it; the webhook
        # delivery wraps it in the seed's envelope.
        record_event(
            db,
            ctx,
            EVENT_PASSED if status is CheckStatus.PASSED else EVENT_FAILED,
            customer_id=check.customer_id,
            payload=dump_check(to_out(check)),
            at=now,
        )
    return won


# --- API representation ----------------------------------------------------------


def _evidence(check: UserCheck) -> Evidence:
    return Evidence(
        sha256=check.evidence_sha256,
        size=check.evidence_size,
        fetched_at=check.evidence_fetched_at,
        attempts=check.fetch_attempts,
        last_error=check.last_error,
        next_attempt_at=check.next_attempt_at,
    )


def _address(value: dict[str, Any] | None) -> AddressOut | None:
    return AddressOut.model_validate(value) if value is not None else None


def to_out(check: UserCheck) -> CheckOut:
    common: dict[str, Any] = {
        "id": check.id,
        "user_id": check.customer_id,
        "check_confirmed_at": check.check_confirmed_at,
        "status": check.status,
        "provider": check.provider,
        "failure_reason": check.failure_reason,
        "created_at": check.created_at,
        "updated_at": check.updated_at,
    }
    kind = CheckType(check.type)
    if kind is CheckType.KYC:
        return KycCheckOut(
            **common,
            type="KYC",
            data_download_link=check.data_download_link or "",
            document_type=check.document_type or "",
            document_expiration_date=check.document_expiration_date,
            nationality=check.nationality or "",
            method=check.method or "",
            confirmed_address=_address(check.confirmed_address),
            kyc_update=check.kyc_update,
            evidence=_evidence(check),
        )
    if kind is CheckType.POR:
        return PorCheckOut(
            **common,
            type="POR",
            issuance_date=check.issuance_date,
            data_download_link=check.data_download_link or "",
            document_type=check.document_type or "",
            confirmed_address=_address(check.confirmed_address),
            evidence=_evidence(check),
        )
    if kind is CheckType.INSTRUMENT_FIT:
        return InstrumentFitCheckOut(
            **common,
            type="INSTRUMENT_FIT",
            instrument_suitability=InstrumentSuitability(suitability=bool(check.suitability)),
        )
    return ComplianceCheckOut(**common, type="COMPLIANCE")
