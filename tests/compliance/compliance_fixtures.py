"""Helpers of the compliance tests, shared with the other domains' wiring tests
and the journey (a module, not a second conftest.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from conftest import Api
from factories import customer_payload
from kycd.compliance import service
from kycd.compliance.schemas import status_data
from kycd.customers.models import Customer
from kycd.db import Database
from kycd.events.models import Event
from kycd.tenancy.context import RequestContext
from kycd.verification import service as verification


def status(api: Api, customer_id: str) -> dict[str, Any]:
    """The ``data`` of the status read, checked against the pure policy: the
    read serves a stored answer, which must be what evaluating now says."""
    response = api.get(f"/v1/compliance/status/{customer_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["traceId"] == response.headers["X-Trace-Id"]
    database: Database = api.client.app.state.database
    with database.session() as db:
        fresh = service.evaluate_now(db, ctx_of(database, customer_id), customer_id)
    data: dict[str, Any] = body["data"]
    assert data == status_data(fresh.result), "the stored answer is not the policy's"
    return data


def decide_run(database: Database, customer_id: str, status: str) -> None:
    """Move the customer's current run through the verification domain."""
    ctx = ctx_of(database, customer_id)
    with database.transaction() as db:
        run = verification.current_run_view(db, ctx, customer_id)
        assert run is not None
        if status == "submitted":
            for kind in sorted(run.required_kinds - {"aml", "adverse_media"}):
                verification.submit_step(db, ctx, customer_id, kind, actor_type="sdk")
        elif status == "approved":
            # The required steps only: KYC_01's optional poa stays pending.
            verification.complete_steps(
                db, ctx, customer_id, set(run.required_kinds), actor_type="system", source="test"
            )
        elif status == "rejected":
            verification.reject_steps(
                db,
                ctx,
                customer_id,
                {"identity_doc"},
                reject_type="FINAL",
                labels=["DOCUMENT_DAMAGED"],
                actor_type="operator",
                source="test",
            )


def changes(database: Database, customer_id: str) -> list[tuple[str, str]]:
    with database.session() as db:
        events = db.scalars(
            select(Event)
            .where(Event.customer_id == customer_id, Event.type == "compliance.status_changed")
            .order_by(Event.seq)
        ).all()
    return [(e.payload["before"]["nextAction"], e.payload["after"]["nextAction"]) for e in events]


def approved_customer(api: Api, database: Database, **profile: Any) -> str:
    customer = api.post("/v1/customers", json=customer_payload(**profile)).json()
    api.post("/v1/sessions", json={"customer_id": customer["id"]})
    customer_id: str = customer["id"]
    decide_run(database, customer_id, "approved")
    return customer_id


def ctx_of(database: Database, customer_id: str) -> RequestContext:
    """The system context of the customer's tenant and environment."""
    with database.session() as db:
        customer = db.get(Customer, customer_id)
        assert customer is not None
        return RequestContext(customer.tenant_id, customer.environment, actor_type="system")
