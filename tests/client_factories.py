"""Seed 001 test helpers: Fineract client bodies and the steps of onboarding."""

from __future__ import annotations

import io
import itertools
from typing import Any

from PIL import Image

_counter = itertools.count(1)

# Valid numbers (python-stdnum accepts them); each test tenant is fresh.
SSN = "078-05-1121"
ITIN = "912-90-3456"


def client_payload(**overrides: Any) -> dict[str, Any]:
    n = next(_counter)
    payload: dict[str, Any] = {
        "officeId": 1,
        "legalFormId": 1,
        "externalId": f"fin-{n}",
        "firstname": "Grace",
        "lastname": f"Hopper{n}",
        "dateOfBirth": "1986-12-09",
        "emailAddress": f"grace{n}@example.com",
        "mobileNo": "+4915112345678",
        "address": [
            {
                "addressType": "RESIDENTIAL",
                "isPrimary": True,
                "addressLine1": "Rosenweg 221",
                "city": "Berlin",
                "postalCode": "10115",
                "countryCode": "DE",
            }
        ],
    }
    payload.update(overrides)
    return payload


def png_bytes(size: int = 8) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def pdf_bytes() -> bytes:
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    )


def create_client(api: Any, **overrides: Any) -> str:
    response = api.post("/v1/clients", json=client_payload(**overrides))
    assert response.status_code == 200, response.text
    client_id: str = response.json()["clientId"]
    return client_id


def verify_contacts(api: Any, client_id: str, *, email: bool = True, mobile: bool = True) -> None:
    client = api.get(f"/v1/clients/{client_id}").json()
    if email:
        r = api.post(
            f"/v1/clients/{client_id}/contacts?command=verifyEmail",
            json={"emailAddress": client["emailAddress"], "verificationMethod": "OTP"},
        )
        assert r.status_code == 200, r.text
    if mobile:
        r = api.post(
            f"/v1/clients/{client_id}/contacts?command=verifyMobile",
            json={"mobileNo": client["mobileNo"], "verificationMethod": "OTP"},
        )
        assert r.status_code == 200, r.text


def add_identifier(api: Any, client_id: str, **body: Any) -> Any:
    return api.post(f"/v1/clients/{client_id}/identifiers", json=body)


def upload_document(
    api: Any,
    client_id: str,
    document_type: str,
    *,
    content: bytes | None = None,
    expiry: str | None = None,
    file_name: str = "scan.png",
) -> Any:
    data = {"documentType": document_type}
    if expiry:
        data["expiryDate"] = expiry
    files = {
        "file": (
            file_name,
            content if content is not None else png_bytes(),
            "application/octet-stream",
        )
    }
    return api.post(f"/v1/clients/{client_id}/documents", data=data, files=files)


def partial_ready_client(api: Any, **overrides: Any) -> str:
    """A client meeting every default PARTIAL rule (passport number as identity)."""
    client_id = create_client(api, **overrides)
    verify_contacts(api, client_id)
    r = add_identifier(
        api,
        client_id,
        documentType="PASSPORT",
        documentKey=f"C{next(_counter):08d}",
        issuingCountry="DE",
        expiryDate="2099-01-01",
    )
    assert r.status_code == 200, r.text
    return client_id
