"""``/v1/clients/{clientId}/documents``: multipart upload, metadata, content, review."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, text

from client_factories import create_client, pdf_bytes, png_bytes, upload_document
from conftest import Api
from kycd.db import Database
from kycd.documents.service import list_documents
from kycd.events.models import Event
from kycd.settings import Settings
from kycd.tenancy.context import RequestContext


def test_upload_records_metadata_and_serves_the_same_bytes(api: Api) -> None:
    client_id = create_client(api)
    content = png_bytes(32)
    response = upload_document(
        api, client_id, "passport", content=content, expiry="2031-04-30", file_name="pass port.png"
    )
    assert response.status_code == 200, response.text
    document_id = response.json()["resourceId"]

    meta = api.get(f"/v1/clients/{client_id}/documents/{document_id}").json()
    assert meta["documentType"] == "PASSPORT"
    assert meta["type"] == "image/png"  # sniffed, not the client's octet-stream
    assert meta["size"] == len(content)
    assert meta["sha256"] == hashlib.sha256(content).hexdigest()
    assert meta["fileName"] == "pass port.png" and meta["name"] == "pass port.png"
    assert meta["expiryDate"] == "2031-04-30" and meta["expired"] is False
    assert meta["reviewStatus"] == "PENDING"
    assert meta["parentEntityType"] == "clients" and meta["parentEntityId"] == client_id
    assert api.get(f"/v1/clients/{client_id}/documents").json() == [meta]

    for suffix in ("attachment", "content"):
        download = api.get(f"/v1/clients/{client_id}/documents/{document_id}/{suffix}")
        assert download.status_code == 200
        assert download.content == content
        assert download.headers["content-type"] == "image/png"
        assert download.headers["x-content-type-options"] == "nosniff"
        assert download.headers["content-disposition"].startswith("attachment;")


def test_pdf_with_fineract_date_format(api: Api) -> None:
    client_id = create_client(api)
    response = api.post(
        f"/v1/clients/{client_id}/documents",
        data={
            "documentType": "FATCA_FORM",
            "name": "W-9",
            "description": "signed",
            "expiryDate": "01 January 2020",
            "dateFormat": "dd MMMM yyyy",
            "locale": "en",
            "issuingCountry": "us",
        },
        files={"file": ("w9.pdf", pdf_bytes(), "application/pdf")},
    )
    assert response.status_code == 200, response.text
    meta = api.get(f"/v1/clients/{client_id}/documents").json()[0]
    assert meta["type"] == "application/pdf"
    assert meta["name"] == "W-9" and meta["issuingCountry"] == "US"
    assert meta["expiryDate"] == "2020-01-01" and meta["expired"] is True


BAD_UPLOADS: list[tuple[dict[str, str], dict[str, object] | None, str]] = [
    ({}, None, "documentType"),
    ({"documentType": "SELFIE_STICK"}, None, "documentType"),
    ({"documentType": "ID_CARD", "type": "ID_CARD"}, None, "type"),
    ({"documentType": "ID_CARD", "expiryDate": "30.04.2031"}, None, "expiryDate"),
    ({"documentType": "ID_CARD", "issuingCountry": "ZZ"}, None, "issuingCountry"),
    ({"documentType": "ID_CARD"}, {"other": ("a.png", png_bytes(), "image/png")}, "file"),
]


def test_bad_uploads_answer_400_naming_the_field(api: Api) -> None:
    client_id = create_client(api)
    for data, files, field in BAD_UPLOADS:
        response = api.post(
            f"/v1/clients/{client_id}/documents",
            data=data,
            files=files or {"file": ("a.png", png_bytes(), "image/png")},
        )
        assert response.status_code == 400, (data, response.text)
        assert field in [e["parameterName"] for e in response.json()["errors"]], data
    assert api.get(f"/v1/clients/{client_id}/documents").json() == []


def test_only_pdfs_and_images_are_accepted(api: Api) -> None:
    client_id = create_client(api)
    for content in (
        b"<html><script>alert(1)</script></html>",
        b"just text",
        b"PK\x03\x04zipzip",
    ):
        response = upload_document(api, client_id, "UTILITY_BILL", content=content)
        assert response.status_code == 415, content
        assert response.json()["httpStatusCode"] == "415"


def test_empty_and_json_bodies_are_refused(api: Api) -> None:
    client_id = create_client(api)
    empty = upload_document(api, client_id, "ID_CARD", content=b"")
    assert empty.status_code == 400
    assert empty.json()["errors"][0]["parameterName"] == "file"
    as_json = api.post(f"/v1/clients/{client_id}/documents", json={"documentType": "ID_CARD"})
    assert as_json.status_code == 415


def test_size_limit(app_client: TestClient, api: Api, settings: Settings) -> None:
    app_client.app.state.settings = settings.model_copy(update={"max_upload_bytes": 2000})  # type: ignore[attr-defined]
    client_id = create_client(api)
    small = upload_document(api, client_id, "SELFIE", content=png_bytes(4))
    assert small.status_code == 200, small.text
    big = upload_document(api, client_id, "SELFIE", content=png_bytes(4) + b"\0" * 5000)
    assert big.status_code == 413
    huge = upload_document(api, client_id, "SELFIE", content=png_bytes(4) + b"\0" * 200_000)
    assert huge.status_code == 413
    assert len(api.get(f"/v1/clients/{client_id}/documents").json()) == 1


def test_review_needs_the_review_scope_and_is_recorded(
    api: Api, api_as: Callable[..., Api], database: Database
) -> None:
    client_id = create_client(api)
    document_id = upload_document(api, client_id, "BANK_STATEMENT").json()["resourceId"]
    url = f"/v1/clients/{client_id}/documents/{document_id}"
    updater = api_as(scopes=["kyc:read", "kyc:update"])
    assert updater.post(f"{url}?command=approve").status_code == 403
    assert api.post(f"{url}?command=shred").status_code == 400
    rejected = api.post(f"{url}?command=reject", json={"note": "blurry"})
    assert rejected.status_code == 200
    assert rejected.json()["reviewStatus"] == "REJECTED"
    assert rejected.json()["reviewNote"] == "blurry"
    assert rejected.json()["reviewedOn"] is not None
    assert api.post(f"{url}?command=reject").json()["reviewStatus"] == "REJECTED"
    assert api.post(f"{url}?command=approve").json()["reviewStatus"] == "APPROVED"
    with database.session() as db:
        reviews = db.scalars(
            select(Event).where(Event.type == "applicant.document_reviewed").order_by(Event.seq)
        ).all()
    assert [e.payload["reviewStatus"] for e in reviews] == ["REJECTED", "APPROVED"]


def test_list_documents_interface(api: Api, database: Database) -> None:
    client_id = create_client(api)
    expiry = (date.today() + timedelta(days=30)).isoformat()
    upload_document(api, client_id, "PROOF_OF_ADDRESS", expiry=expiry)
    upload_document(api, client_id, "BIOMETRIC_REPORT", content=pdf_bytes())
    with database.session() as db:
        tenant_id = db.execute(
            text("SELECT tenant_id FROM customers WHERE id = :id"), {"id": client_id}
        ).scalar_one()
        rows = list_documents(db, RequestContext(tenant_id, "sandbox"), client_id)
        foreign = list_documents(db, RequestContext(tenant_id, "production"), client_id)
    assert [(d.type, d.review_status) for d in rows] == [
        ("PROOF_OF_ADDRESS", "PENDING"),
        ("BIOMETRIC_REPORT", "PENDING"),
    ]
    assert rows[0].expiry_date is not None and rows[0].expiry_date.isoformat() == expiry
    assert rows[0].created_at <= rows[1].created_at
    assert foreign == []


def test_other_tenants_documents_answer_404(api: Api, api_as: Callable[..., Api]) -> None:
    client_id = create_client(api)
    document_id = upload_document(api, client_id, "ID_CARD").json()["resourceId"]
    other = api_as(tenant="other-co")
    base = f"/v1/clients/{client_id}/documents"
    assert other.get(base).status_code == 404
    assert other.get(f"{base}/{document_id}").status_code == 404
    assert other.get(f"{base}/{document_id}/attachment").status_code == 404
    assert upload_document(other, client_id, "ID_CARD").status_code == 404
    other_client = create_client(other)
    assert other.get(f"/v1/clients/{other_client}/documents/{document_id}").status_code == 404
