"""The polled reads (``GET /v1/customers/{id}``, ``GET /v1/compliance/status/{id}``)
sent together, as integrators send them: they share statements, and each
still answers exactly what it would alone."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from conftest import Api
from factories import customer_payload
from kycd.compliance import service as compliance_service
from kycd.customers import service as customer_service
from kycd.db import Database


def _statements(
    database: Database, monkeypatch: pytest.MonkeyPatch, statement: Any
) -> list[list[str]]:
    """The keys of each statement run for ``statement``."""
    prepared = database.prepared(statement)
    run = prepared.all
    keys: list[list[str]] = []

    def recording(**params: Any) -> list[tuple[Any, ...]]:
        keys.append(list(params["customer_ids"]))
        return run(**params)

    monkeypatch.setattr(prepared, "all", recording)
    return keys


async def _get_all(client: TestClient, requests: list[tuple[str, dict[str, str]]]) -> list[Any]:
    transport = httpx.ASGITransport(app=client.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kycd") as http:
        return await asyncio.wait_for(
            asyncio.gather(*(http.get(url, headers=headers) for url, headers in requests)),
            timeout=30,
        )


def test_reads_sent_together_answer_each_its_own_customer_in_its_own_scope(
    app_client: TestClient,
    api_as: Callable[..., Api],
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    callers = [api_as(), api_as(tenant="globex"), api_as(environment="production")]
    customers = {
        id(caller): [caller.post("/v1/customers", json=customer_payload()).json() for _ in range(3)]
        for caller in callers
    }
    for caller in callers:  # the stored answers exist, so every status read is one statement
        for customer in customers[id(caller)]:
            assert caller.get(f"/v1/compliance/status/{customer['id']}").status_code == 200
    customer_statements = _statements(database, monkeypatch, customer_service._VIEW_STATEMENT)
    status_statements = _statements(database, monkeypatch, compliance_service._ANSWER_STATEMENT)

    requests: list[tuple[str, dict[str, str]]] = []
    expected: list[Any] = []
    for caller in callers:
        for other in callers:
            for customer in customers[id(other)]:
                own = other is caller
                requests.append((f"/v1/customers/{customer['id']}", caller.headers))
                expected.append(customer if own else 404)
                requests.append((f"/v1/compliance/status/{customer['id']}", caller.headers))
                expected.append("status" if own else 404)
        # Keys that name no customer: unknown, upper-cased, or refused by PostgreSQL.
        for key in ("00000000-0000-0000-0000-000000000000", "X%00Y"):
            requests.append((f"/v1/customers/{key}", caller.headers))
            expected.append(404)
        upper = customers[id(caller)][0]["id"].upper()
        requests.append((f"/v1/compliance/status/{upper}", caller.headers))
        expected.append(404)

    answers = asyncio.run(_get_all(app_client, requests))

    for (url, _), response, want in zip(requests, answers, expected, strict=True):
        if want == 404:
            assert response.status_code == 404, url
            assert response.json()["code"] == "not_found"
        elif want == "status":
            assert response.status_code == 200, url
            assert response.json()["data"]["nextAction"] == "START_KYC"
        else:
            assert response.status_code == 200, url
            assert response.json() == want
    # Shared: fewer statements than reads (the scopes are kept apart by the
    # answers above: every read of another scope's customer was not found).
    reads = len(callers) * len(callers) * 3
    assert 0 < len(customer_statements) < reads
    assert 0 < len(status_statements) < reads
