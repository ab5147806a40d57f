"""Two decisions on one run at the same moment: the roll-up never works from
stale steps, and one of two identical decisions gets a 409."""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import func, select

from conftest import Api, Credentials
from kycd.db import Database
from kycd.errors import Conflict
from kycd.events.models import Event
from kycd.tenancy.context import RequestContext
from kycd.verification import service
from kycd.verification.transitions import Action

PAIR = {"ttl_hours": 1, "steps": [{"kind": "identity_doc"}, {"kind": "questionnaire"}]}


def race(*calls: Callable[[], object]) -> list[BaseException | None]:
    barrier = threading.Barrier(len(calls))
    results: list[BaseException | None] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            calls[i]()
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_decisions_on_different_steps_approve_the_run(
    api: Api, creds: Credentials, database: Database
) -> None:
    ctx = RequestContext(creds.tenant_id, "sandbox")
    api.put("/v1/levels/PAIR", json=PAIR)
    for n in range(4):
        run = api.post("/v1/sessions", json={"client_id": f"u{n}", "level_name": "PAIR"}).json()

        def approve(kind: str, run_id: str = run["id"]) -> Callable[[], object]:
            def call() -> object:
                with database.transaction() as db:
                    return service.review_step(
                        db, ctx, run_id, kind, Action.APPROVE, actor_type="operator"
                    )

            return call

        assert race(approve("identity_doc"), approve("questionnaire")) == [None, None]
        status = api.get(f"/v1/applicants/u{n}/status").json()
        assert status["onboardingStatus"] == "APPROVED"
    with database.session() as db:
        reviewed = db.scalar(
            select(func.count()).select_from(Event).where(Event.type == "applicantReviewed")
        )
    assert reviewed == 4


def test_the_same_decision_twice_at_once_conflicts(
    api: Api, creds: Credentials, database: Database
) -> None:
    ctx = RequestContext(creds.tenant_id, "sandbox")
    api.put("/v1/levels/PAIR", json=PAIR)
    run = api.post("/v1/sessions", json={"client_id": "same", "level_name": "PAIR"}).json()

    def approve() -> object:
        with database.transaction() as db:
            return service.review_step(
                db, ctx, run["id"], "identity_doc", Action.APPROVE, actor_type="operator"
            )

    results = race(approve, approve)
    assert sorted(type(r).__name__ for r in results) == ["Conflict", "NoneType"]
    assert any(isinstance(r, Conflict) for r in results)
