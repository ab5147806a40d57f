"""The evidence worker: fetch the files of ACCEPTED checks, decide VALIDATED ones.

One run does two bounded passes:

1. **fetch** — claim up to ``FETCH_BATCH`` ACCEPTED checks whose next attempt
   is due, download each one's evidence *outside* any transaction (a download
   may take minutes), then record the result with an UPDATE guarded by the
   claim's lease token. A refreshed check loses its token, so a download that
   was started for its old link is discarded.
2. **decide** — take up to ``DECIDE_BATCH`` VALIDATED checks and move each to
   PASSED or FAILED per :func:`kycd.checks.outcome.decide`.

Claims are safe with several workers: on PostgreSQL the candidates are read
with ``FOR UPDATE SKIP LOCKED``; on both backends the claim itself is an UPDATE
guarded by status and an expired (or absent) lease, so exactly one worker wins
a row. A worker that dies mid-download leaves a lease that expires.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from kycd.checks import service
from kycd.checks.evidence import EvidenceError, FetchLimits, fetch_evidence
from kycd.checks.models import UserCheck
from kycd.checks.outcome import CheckFacts, CheckStatus, CheckType, RetryPolicy, decide
from kycd.core.blobs import BlobStore, LocalBlobStore, StoredBlob
from kycd.core.safe_http import AddressPolicy, guarded_client
from kycd.db import Database, is_postgres, utcnow
from kycd.settings import Settings
from kycd.tenancy.context import RequestContext

log = logging.getLogger("kycd.checks")

FETCH_BATCH = 4
DECIDE_BATCH = 100
ACTOR = "evidence-worker"


@dataclass(frozen=True)
class Claim:
    check_id: str
    token: str


def _system_ctx(check: UserCheck) -> RequestContext:
    return RequestContext(
        tenant_id=check.tenant_id,
        environment=check.environment,
        actor_type="system",
        actor_id=ACTOR,
    )


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=settings.evidence_max_attempts,
        base=timedelta(seconds=settings.evidence_retry_base_seconds),
        cap=timedelta(seconds=settings.evidence_retry_max_seconds),
    )


def lease_duration(limits: FetchLimits) -> timedelta:
    # Long enough for the slowest download we allow, plus room for the write.
    return timedelta(seconds=limits.total_timeout + limits.connect_timeout + 60)


def claim_due_fetches(
    database: Database, now: datetime, lease: timedelta, limit: int = FETCH_BATCH
) -> list[Claim]:
    claims: list[Claim] = []
    with database.transaction() as db:
        stmt = (
            select(UserCheck.id)
            .where(
                UserCheck.status == CheckStatus.ACCEPTED.value,
                UserCheck.next_attempt_at <= now,
                or_(UserCheck.lease_until.is_(None), UserCheck.lease_until <= now),
            )
            .order_by(UserCheck.next_attempt_at, UserCheck.id)
            .limit(limit)
        )
        if is_postgres(db):
            stmt = stmt.with_for_update(skip_locked=True)
        for check_id in db.scalars(stmt).all():
            token = secrets.token_hex(16)
            result = db.execute(
                update(UserCheck)
                .where(
                    UserCheck.id == check_id,
                    UserCheck.status == CheckStatus.ACCEPTED.value,
                    or_(UserCheck.lease_until.is_(None), UserCheck.lease_until <= now),
                )
                .values(lease_token=token, lease_until=now + lease)
                .execution_options(synchronize_session=False)
            )
            if getattr(result, "rowcount", 0) == 1:
                claims.append(Claim(check_id, token))
    return claims


def _load_claimed(db: Session, claim: Claim) -> UserCheck | None:
    check = db.get(UserCheck, claim.check_id)
    if check is None or check.lease_token != claim.token:
        return None
    return check


def _record_failure(
    db: Session,
    check: UserCheck,
    claim: Claim,
    error: EvidenceError,
    policy: RetryPolicy,
    now: datetime,
) -> None:
    ctx = _system_ctx(check)
    attempts = check.fetch_attempts + 1
    if error.permanent or policy.exhausted(attempts):
        service.fail_fetch(
            db, ctx, check, claim.token, reason=error.reason, error=error.message, now=now
        )
    else:
        service.record_fetch_retry(
            db,
            ctx,
            check,
            claim.token,
            error=error.message,
            next_attempt_at=now + policy.delay_after(attempts),
            now=now,
        )


def process_claim(
    database: Database,
    client: httpx.Client,
    store: BlobStore,
    limits: FetchLimits,
    policy: RetryPolicy,
    claim: Claim,
    clock: Callable[[], datetime],
) -> None:
    with database.session(read_only=True) as db:
        check = _load_claimed(db, claim)
        url = check.data_download_link if check is not None else None
    if url is None:
        return
    blob: StoredBlob | None = None
    failure: EvidenceError | None = None
    try:
        blob = fetch_evidence(client, url, store, limits)
    except EvidenceError as exc:
        failure = exc
        log.info("evidence for check %s not fetched: %s", claim.check_id, exc.message)
    with database.transaction() as db:
        check = _load_claimed(db, claim)
        if check is None:
            return  # refreshed or re-claimed meanwhile: this download is stale.
        now = clock()
        if failure is not None:
            _record_failure(db, check, claim, failure, policy, now)
        elif blob is not None:
            service.record_evidence(
                db,
                _system_ctx(check),
                check,
                claim.token,
                sha256=blob.sha256,
                size=blob.size,
                now=now,
            )


def run_fetches(
    database: Database,
    settings: Settings,
    now: datetime,
    *,
    clock: Callable[[], datetime] = utcnow,
    batch: int = FETCH_BATCH,
) -> int:
    """Claim and fetch up to ``batch`` checks, one at a time.

    One claim per download, not a batch of claims up front: a lease covers one
    download, and the fourth of four claimed checks would otherwise wait for
    three downloads while its lease ran out.
    """
    limits = FetchLimits.from_settings(settings)
    claims = claim_due_fetches(database, now, lease_duration(limits), limit=1)
    if not claims:
        return 0  # the common case: no TLS context is built every few seconds.
    store = LocalBlobStore(settings.blob_dir)
    policy = retry_policy(settings)
    handled = 0
    with guarded_client(
        AddressPolicy(settings.allowed_private_networks), timeout=limits.read_timeout
    ) as client:
        while claims:
            process_claim(database, client, store, limits, policy, claims[0], clock)
            handled += 1
            if handled >= batch:
                break
            # Downloads take time: later claims are stamped with the clock, not
            # with the moment the run started.
            claims = claim_due_fetches(database, max(now, clock()), lease_duration(limits), limit=1)
    return handled


def facts_of(check: UserCheck) -> CheckFacts:
    return CheckFacts(
        type=CheckType(check.type),
        check_confirmed_at=check.check_confirmed_at,
        document_expiration_date=check.document_expiration_date,
        suitability=check.suitability,
        evidence_size=check.evidence_size,
    )


def run_decisions(database: Database, now: datetime, limit: int = DECIDE_BATCH) -> int:
    with database.transaction() as db:
        stmt = (
            select(UserCheck)
            .where(UserCheck.status == CheckStatus.VALIDATED.value)
            .order_by(UserCheck.updated_at, UserCheck.id)
            .limit(limit)
        )
        if is_postgres(db):
            stmt = stmt.with_for_update(skip_locked=True)
        checks = list(db.scalars(stmt).all())
        decided = 0
        for check in checks:
            reason = decide(facts_of(check), now)
            if service.decide_check(db, _system_ctx(check), check, reason, now):
                decided += 1
    return decided


def run_evidence_job(database: Database, settings: Settings, now: datetime) -> int:
    """The PeriodicJob: one fetch pass and one decision pass."""
    fetched = run_fetches(database, settings, now)
    return fetched + run_decisions(database, now)
