"""``/v1/customers/{id}/organization``: related parties, ownership, UBOs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from conftest import Api
from factories import customer_payload
from kycd.db import Database
from kycd.events.models import Event
from kycd.tenancy.models import Tenant


def business(api: Api, **overrides: Any) -> str:
    payload = customer_payload(
        type="business",
        company_name="Root Ltd",
        first_name=None,
        last_name=None,
        date_of_birth=None,
        nationality=None,
        occupation=None,
        incorporation_country="DE",
        industry="Software",
        **overrides,
    )
    response = api.post("/v1/customers", json=payload)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def person(api: Api, cid: str, first: str, *roles: str, share: float | None = None) -> str:
    body: dict[str, Any] = {
        "type": "person",
        "first_name": first,
        "last_name": "Doe",
        "roles": list(roles),
    }
    if share is not None:
        body["ownership_percentage"] = share
    response = api.post(f"/v1/customers/{cid}/organization/parties", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def company(api: Api, cid: str, name: str, share: float | None = None) -> str:
    body: dict[str, Any] = {"type": "company", "company_name": name, "country": "LU"}
    if share is not None:
        body |= {"roles": ["shareholder"], "ownership_percentage": share}
    response = api.post(f"/v1/customers/{cid}/organization/parties", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def owns(api: Api, cid: str, owner: str, owned: str, pct: float) -> Any:
    return api.post(
        f"/v1/customers/{cid}/organization/ownership",
        json={"owner_party_id": owner, "owned_party_id": owned, "percentage": pct},
    )


def organization(api: Api, cid: str) -> dict[str, Any]:
    response = api.get(f"/v1/customers/{cid}/organization")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_chain_and_diamond_through_the_api(api: Api) -> None:
    cid = business(api)
    # Root is held 30 % by A and 20 % by B; Ann holds half of each (15 % + 10 %),
    # Bob holds the other halves; Cleo holds 50 % of Root directly.
    a = company(api, cid, "A Holding", share=30)
    b = company(api, cid, "B Holding", share=20)
    ann = person(api, cid, "Ann")
    bob = person(api, cid, "Bob")
    person(api, cid, "Cleo", "shareholder", "director", share=50)
    for owner, owned in ((ann, a), (ann, b), (bob, a), (bob, b)):
        assert owns(api, cid, owner, owned, 50).status_code == 201

    org = organization(api, cid)
    assert org["ubo_threshold"] == 25.0
    assert org["ubo_basis"] == "ownership"
    assert [(u["name"], u["effective_ownership"]) for u in org["ubos"]] == [
        ("Cleo Doe", 50.0),
        ("Ann Doe", 25.0),
        ("Bob Doe", 25.0),
    ]
    ann_ubo = org["ubos"][1]
    assert ann_ubo["party_id"] == ann
    chains = sorted(
        [(link["owned_name"], link["percentage"]) for link in c["links"]]
        + [c["effective_ownership"]]
        for c in ann_ubo["chains"]
    )
    assert chains == [
        [("A Holding", 50.0), ("Root Ltd", 30.0), 15.0],
        [("B Holding", 50.0), ("Root Ltd", 20.0), 10.0],
    ]
    assert [p["name"] for p in org["shareholders"]] == ["Cleo Doe", "A Holding", "B Holding"]
    assert [p["name"] for p in org["directors"]] == ["Cleo Doe"]
    assert org["ownership_analysis"]["untraced_percentage"] == 0.0
    assert org["ownership_analysis"]["max_chain_length"] == 2
    assert len(org["ownership"]) == 7


def test_senior_managing_official_when_nobody_reaches_the_threshold(api: Api) -> None:
    cid = business(api)
    for name in ("Ann", "Bob", "Cleo", "Dan", "Eve"):
        person(api, cid, name, "shareholder", share=20)
    dora = person(api, cid, "Dora", "director")
    person(api, cid, "Rep", "representative", "authorised_signatory")
    org = organization(api, cid)
    assert org["ubo_basis"] == "senior_managing_official"
    assert [(u["party_id"], u["basis"], u["effective_ownership"]) for u in org["ubos"]] == [
        (dora, "senior_managing_official", 0.0)
    ]
    assert [p["name"] for p in org["representatives"]] == ["Rep Doe"]
    assert [p["name"] for p in org["authorised_signatories"]] == ["Rep Doe"]


def test_tenant_threshold_setting(
    api: Api, api_as: Callable[..., Api], database: Database, creds: Any
) -> None:
    cid = business(api)
    person(api, cid, "Ann", "shareholder", share=20)
    assert organization(api, cid)["ubos"] == []
    with database.transaction() as db:
        tenant = db.get(Tenant, creds.tenant_id)
        assert tenant is not None
        tenant.settings = {"organization": {"ubo_threshold": 10}}
    org = organization(api, cid)
    assert org["ubo_threshold"] == 10.0
    assert [u["effective_ownership"] for u in org["ubos"]] == [20.0]
    # Through the API: admins only, and the value is validated.
    assert (
        api_as(scopes=["kyc:update"])
        .put("/v1/organization/settings", json={"ubo_threshold": 20})
        .status_code
        == 403
    )
    assert (
        api.put("/v1/organization/settings", json={"ubo_threshold": 0}).json()["details"][0][
            "field"
        ]
        == "ubo_threshold"
    )
    assert api.put("/v1/organization/settings", json={"ubo_threshold": 20.5}).json() == {
        "ubo_threshold": 20.5
    }
    assert api.get("/v1/organization/settings").json() == {"ubo_threshold": 20.5}
    assert organization(api, cid)["ubos"] == []


def test_cycle_is_answered_not_looped(api: Api) -> None:
    cid = business(api)
    h = company(api, cid, "H", share=60)
    c = company(api, cid, "C")
    ann = person(api, cid, "Ann")
    quinn = person(api, cid, "Quinn")
    assert owns(api, cid, ann, h, 50).status_code == 201
    assert owns(api, cid, c, h, 50).status_code == 201
    assert owns(api, cid, h, c, 40).status_code == 201
    assert owns(api, cid, quinn, c, 60).status_code == 201
    org = organization(api, cid)
    assert [(u["name"], u["effective_ownership"]) for u in org["ubos"]] == [("Ann Doe", 30.0)]
    assert org["ownership_analysis"]["circular"] is True
    assert org["ownership_analysis"]["untraced_percentage"] == 52.0


def test_shares_of_one_company_may_not_exceed_100(api: Api) -> None:
    cid = business(api)
    ann = person(api, cid, "Ann", "shareholder", share=60)
    response = api.post(
        f"/v1/customers/{cid}/organization/parties",
        json={
            "type": "person",
            "first_name": "Bob",
            "last_name": "Doe",
            "roles": ["shareholder"],
            "ownership_percentage": 40.5,
        },
    )
    assert response.status_code == 400
    assert response.json()["details"][0]["field"] == "ownership_percentage"
    # Nothing of the rejected party was kept.
    assert len(organization(api, cid)["related_parties"]) == 1

    h = company(api, cid, "H")
    assert owns(api, cid, ann, h, 70).status_code == 201
    over = owns(api, cid, person(api, cid, "Cid"), h, 30.0001)
    assert over.status_code == 400
    assert over.json()["details"][0]["field"] == "percentage"
    # Raising an existing share past 100 % is refused too.
    raise_ann = api.patch(
        f"/v1/customers/{cid}/organization/parties/{ann}", json={"ownership_percentage": 100.5}
    )
    assert raise_ann.status_code == 400
    assert (
        api.patch(
            f"/v1/customers/{cid}/organization/parties/{ann}", json={"ownership_percentage": 100}
        ).status_code
        == 200
    )


def test_validation(api: Api) -> None:
    cid = business(api)
    url = f"/v1/customers/{cid}/organization/parties"
    cases = [
        ({"type": "person", "first_name": "A", "roles": []}, "last_name"),
        ({"type": "company", "roles": []}, "company_name"),
        (
            {"type": "person", "first_name": "A", "last_name": "B", "roles": ["shareholder"]},
            "ownership_percentage",
        ),
        (
            {
                "type": "person",
                "first_name": "A",
                "last_name": "B",
                "roles": ["shareholder"],
                "ownership_percentage": 0,
            },
            "ownership_percentage",
        ),
        ({"type": "person", "first_name": "A", "last_name": "B", "roles": ["ceo"]}, "roles.0"),
        (
            {"type": "person", "first_name": "A", "last_name": "B", "nationality": "XX"},
            "nationality",
        ),
        (
            {"type": "person", "first_name": "A", "last_name": "B", "ownership_percentage": 10},
            "ownership_percentage",
        ),
    ]
    for body, field in cases:
        response = api.post(url, json=body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["details"][0]["field"] == field, body
    ann = person(api, cid, "Ann")
    assert owns(api, cid, ann, ann, 10).json()["details"][0]["field"] == "owned_party_id"
    # Only a company can be owned.
    bob = person(api, cid, "Bob")
    assert owns(api, cid, ann, bob, 10).json()["details"][0]["field"] == "owned_party_id"
    assert (
        owns(api, cid, "nope", company(api, cid, "H"), 10).json()["details"][0]["field"]
        == "owner_party_id"
    )


def test_individuals_have_no_organisation_to_write(api: Api) -> None:
    cid = api.post("/v1/customers", json=customer_payload()).json()["id"]
    response = api.post(
        f"/v1/customers/{cid}/organization/parties",
        json={"type": "person", "first_name": "A", "last_name": "B"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "not_a_business"
    assert organization(api, cid)["ubo_basis"] == "none"


def test_linked_customer_fills_the_party(api: Api, api_as: Callable[..., Any]) -> None:
    cid = business(api)
    ada = api.post(
        "/v1/customers", json=customer_payload(first_name="Ada", last_name="King", nationality="GB")
    ).json()
    response = api.post(
        f"/v1/customers/{cid}/organization/parties",
        json={
            "type": "person",
            "linked_customer_id": ada["id"],
            "roles": ["shareholder"],
            "ownership_percentage": 100,
        },
    )
    assert response.status_code == 201, response.text
    party = response.json()
    assert (party["name"], party["nationality"], party["linked_customer_id"]) == (
        "Ada King",
        "GB",
        ada["id"],
    )
    assert organization(api, cid)["ubos"][0]["linked_customer_id"] == ada["id"]
    # A business cannot be linked as a person; another tenant's customer is unknown.
    other = api_as(tenant="globex").post("/v1/customers", json=customer_payload()).json()["id"]
    for linked in (cid, other):
        bad = api.post(
            f"/v1/customers/{cid}/organization/parties",
            json={"type": "person", "linked_customer_id": linked},
        )
        assert bad.status_code == 400
        assert bad.json()["details"][0]["field"] == "linked_customer_id"


def test_update_and_remove(api: Api, database: Database) -> None:
    cid = business(api)
    ann = person(api, cid, "Ann", "shareholder", share=30)
    h = company(api, cid, "H", share=40)
    edge = owns(api, cid, ann, h, 100).json()
    url = f"/v1/customers/{cid}/organization"
    # Ending the shareholding: drop the role.
    patched = api.patch(f"{url}/parties/{ann}", json={"roles": ["director"]})
    assert patched.status_code == 200
    assert (patched.json()["roles"], patched.json()["ownership_percentage"]) == (["director"], None)
    org = organization(api, cid)
    assert [(u["name"], u["effective_ownership"]) for u in org["ubos"]] == [("Ann Doe", 40.0)]
    assert (
        api.patch(f"{url}/ownership/{edge['id']}", json={"percentage": 50}).json()["percentage"]
        == 50.0
    )
    assert organization(api, cid)["ubos"][0]["effective_ownership"] == 20.0
    assert api.delete(f"{url}/ownership/{edge['id']}").status_code == 204
    assert api.delete(f"{url}/parties/{h}").status_code == 204
    org = organization(api, cid)
    assert [p["name"] for p in org["related_parties"]] == ["Ann Doe"]
    assert org["ownership"] == []
    assert api.delete(f"{url}/parties/{h}").status_code == 404
    with database.session() as db:
        types = list(
            db.scalars(
                select(Event.type)
                .where(Event.customer_id == cid, Event.type.like("organization.%"))
                .order_by(Event.seq)
            )
        )
    assert types == [
        "organization.party_added",
        "organization.party_added",
        "organization.ownership_added",
        "organization.party_updated",
        "organization.ownership_updated",
        "organization.ownership_removed",
        "organization.party_removed",
    ]


def test_scopes_and_tenant_isolation(api: Api, api_as: Callable[..., Any]) -> None:
    cid = business(api)
    ann = person(api, cid, "Ann", "shareholder", share=30)
    reader = api_as(scopes=["kyc:read"])
    assert reader.get(f"/v1/customers/{cid}/organization").status_code == 200
    denied = reader.post(
        f"/v1/customers/{cid}/organization/parties",
        json={"type": "person", "first_name": "A", "last_name": "B"},
    )
    assert denied.status_code == 403
    other = api_as(tenant="globex")
    assert other.get(f"/v1/customers/{cid}/organization").status_code == 404
    assert (
        other.patch(
            f"/v1/customers/{cid}/organization/parties/{ann}", json={"title": "x"}
        ).status_code
        == 404
    )
    assert other.delete(f"/v1/customers/{cid}/organization/parties/{ann}").status_code == 404
    # A party id is only valid under its own customer.
    second = business(api)
    assert api.delete(f"/v1/customers/{second}/organization/parties/{ann}").status_code == 404


def test_concurrent_shareholders_never_exceed_100(api: Api, database: Database, creds: Any) -> None:
    import threading

    from kycd.errors import BadRequest
    from kycd.organization import service
    from kycd.organization.schemas import PartyCreate
    from kycd.tenancy.context import RequestContext

    cid = business(api)
    ctx = RequestContext(creds.tenant_id, "sandbox")
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def add(n: int) -> None:
        body = PartyCreate.model_validate(
            {
                "type": "person",
                "first_name": f"P{n}",
                "last_name": "Doe",
                "roles": ["shareholder"],
                "ownership_percentage": 30,
            }
        )
        barrier.wait()
        try:
            with database.transaction() as db:
                service.add_party(db, ctx, cid, body)
            outcomes.append("added")
        except BadRequest:
            outcomes.append("refused")

    threads = [threading.Thread(target=add, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["added"] * 3 + ["refused"] * 3
    assert sum(p["ownership_percentage"] for p in organization(api, cid)["shareholders"]) == 90.0
