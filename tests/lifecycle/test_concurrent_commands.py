"""Twenty simultaneous commands on one client: exactly one transition, one event."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from client_factories import partial_ready_client
from conftest import Api, Credentials
from kycd.db import Database
from kycd.errors import ApiError
from kycd.events.models import Event
from kycd.lifecycle.fineract import DomainRuleViolation
from kycd.lifecycle.schemas import CommandBody
from kycd.lifecycle.service import run_command
from kycd.settings import Settings
from kycd.tenancy.context import RequestContext

CALLERS = 20


def _race(
    database: Database,
    settings: Settings,
    ctx: RequestContext,
    client_id: str,
    command: str,
    body: CommandBody,
) -> Counter[int]:
    barrier = threading.Barrier(CALLERS)

    def attempt() -> int:
        barrier.wait()
        # Each caller has its own session and transaction, like a request.
        with database.session() as db:
            try:
                run_command(db, ctx, settings, client_id, command, body)
                db.commit()
                return 200
            except DomainRuleViolation:
                db.rollback()
                return 403
            except ApiError as exc:
                db.rollback()
                return exc.status_code

    with ThreadPoolExecutor(CALLERS) as pool:
        return Counter(pool.map(lambda _: attempt(), range(CALLERS)))


def _events(database: Database, event_type: str) -> int:
    with database.session() as db:
        return db.scalar(select(func.count()).where(Event.type == event_type)) or 0


@pytest.mark.postgres
def test_twenty_concurrent_verify_and_activate_make_one_transition_each(
    api: Api, database: Database, settings: Settings, creds: Credentials
) -> None:
    client_id = partial_ready_client(api)
    ctx = RequestContext(creds.tenant_id, "sandbox", actor_id=creds.issued.credential_id)

    verified = _race(
        database, settings, ctx, client_id, "verify", CommandBody(kycVerificationType="PARTIAL")
    )
    assert verified[200] == 1, verified
    # Losers either lost the guarded UPDATE (409) or started after the winner
    # committed and found the client already verified (403).
    assert set(verified) <= {200, 403, 409}, verified
    assert sum(verified.values()) == CALLERS
    assert _events(database, "applicant.verified") == 1

    activated = _race(database, settings, ctx, client_id, "activate", CommandBody())
    assert activated[200] == 1, activated
    assert set(activated) <= {200, 403, 409}, activated
    assert _events(database, "applicant.activated") == 1
    client = api.get(f"/v1/clients/{client_id}").json()
    assert client["status"]["value"] == "Active"


@pytest.mark.postgres
def test_twenty_concurrent_verify_requests_through_the_api(api: Api, database: Database) -> None:
    client_id = partial_ready_client(api)
    barrier = threading.Barrier(CALLERS)

    def call(_: int) -> tuple[int, str]:
        barrier.wait()
        response = api.post(
            f"/v1/clients/{client_id}?command=verify", json={"kycVerificationType": "PARTIAL"}
        )
        return response.status_code, response.json().get("httpStatusCode", "")

    with ThreadPoolExecutor(CALLERS) as pool:
        results = list(pool.map(call, range(CALLERS)))
    statuses = Counter(status for status, _ in results)
    assert statuses[200] == 1, statuses
    assert set(statuses) <= {200, 403, 409}, statuses
    # Every refusal speaks Fineract's dialect.
    assert all(code == str(status) for status, code in results if status != 200)
    assert _events(database, "applicant.verified") == 1
