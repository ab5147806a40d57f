from __future__ import annotations

from client_factories import SSN, add_identifier, create_client, partial_ready_client
from conftest import Api


def test_pending_to_verified_to_active_as_the_seed_describes(api: Api) -> None:
    client_id = partial_ready_client(api)
    assert api.get(f"/v1/clients/{client_id}").json()["status"]["value"] == "Pending"
    assert add_identifier(api, client_id, documentType="SSN", documentKey=SSN).status_code == 200

    verified = api.post(
        f"/v1/clients/{client_id}?command=verify", json={"kycVerificationType": "FULL"}
    )
    assert verified.status_code == 200, verified.text
    body = verified.json()
    assert body["clientId"] == client_id and body["resourceId"] == client_id
    assert body["changes"]["subStatus"]["value"] == "Verified"
    client = api.get(f"/v1/clients/{client_id}").json()
    assert client["subStatus"]["value"] == "Verified"
    assert client["kycVerificationType"] == "FULL"
    assert client["active"] is False

    activated = api.post(f"/v1/clients/{client_id}?command=activate")
    assert activated.status_code == 200, activated.text
    assert activated.json()["changes"]["status"]["value"] == "Active"
    client = api.get(f"/v1/clients/{client_id}").json()
    assert client["status"] == {"id": 300, "code": "clientStatusType.active", "value": "Active"}
    assert client["active"] is True
    assert client["timeline"]["activatedOnDate"] is not None

    # The same customer row the Customers API serves.
    customer = api.get(f"/v1/customers/{client_id}").json()
    assert customer["status"] == "active"
    assert customer["client_id"] == client["externalId"]


def test_missing_primary_address_answers_403_fineract_body(api: Api) -> None:
    client_id = create_client(api, address=[])
    response = api.post(
        f"/v1/clients/{client_id}?command=verify", json={"kycVerificationType": "PARTIAL"}
    )
    assert response.status_code == 403
    body = response.json()
    assert body["httpStatusCode"] == "403"
    assert body["userMessageGlobalisationCode"] == "validation.msg.domain.rule.violation"
    codes = [e["userMessageGlobalisationCode"] for e in body["errors"]]
    assert "error.msg.client.verify.primary.address.missing" in codes
    print(body)
