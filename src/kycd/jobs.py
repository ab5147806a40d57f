"""Periodic background jobs, run by the worker process (``kycd worker``).

A job is a function of the database, the settings and the current time that
does one bounded batch of work and returns how many items it handled. The
worker calls every job in turn, forever; a job that handled a full batch is
called again at once. Jobs must be safe to run in several workers at once
(claim rows with ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, or guard
updates with ``WHERE status = :expected``).

Register a domain's jobs in :data:`PERIODIC_JOBS`, nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from kycd.db import Database
from kycd.settings import Settings

JobFunction = Callable[[Database, Settings, datetime], int]


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    run: JobFunction
    # Minimum pause between two runs when the previous run found nothing to do.
    interval: timedelta


def _purge_idempotency_keys(database: Database, settings: Settings, now: datetime) -> int:
    from kycd.idempotency.middleware import purge_expired

    return purge_expired(database, timedelta(hours=settings.idempotency_ttl_hours), now)


def _expire_verification_runs(database: Database, settings: Settings, now: datetime) -> int:
    from kycd.verification.service import expire_overdue_runs

    return expire_overdue_runs(database, now)


def _refresh_compliance(database: Database, settings: Settings, now: datetime) -> int:
    from kycd.compliance.service import sweep

    return sweep(database, now)


def _recalculate_outdated_risk(database: Database, settings: Settings, now: datetime) -> int:
    from kycd.risk.service import recalculate_outdated

    return recalculate_outdated(database, settings, now)


def _fetch_check_evidence(database: Database, settings: Settings, now: datetime) -> int:
    from kycd.checks.worker import run_evidence_job

    return run_evidence_job(database, settings, now)


def _purge_console_sessions(database: Database, settings: Settings, now: datetime) -> int:
    from kycd.console.service import purge_expired

    with database.transaction() as db:
        return purge_expired(db, now)


def _screening_rescreen(database: Database, settings: Settings, now: datetime) -> int:
    from kycd.screening.monitoring import run_pending

    return run_pending(database, settings, now)


PERIODIC_JOBS: list[PeriodicJob] = [
    PeriodicJob("purge-idempotency-keys", _purge_idempotency_keys, timedelta(minutes=10)),
    PeriodicJob("expire-verification-runs", _expire_verification_runs, timedelta(minutes=1)),
    PeriodicJob("refresh-compliance-status", _refresh_compliance, timedelta(minutes=10)),
    PeriodicJob("recalculate-outdated-risk", _recalculate_outdated_risk, timedelta(minutes=1)),
    PeriodicJob("user-check-evidence", _fetch_check_evidence, timedelta(seconds=5)),
    PeriodicJob("purge-console-sessions", _purge_console_sessions, timedelta(minutes=10)),
    PeriodicJob("screening-rescreen", _screening_rescreen, timedelta(seconds=5)),
]
