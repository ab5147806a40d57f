"""Driving the hosted flow over HTTP in tests: start a run, fill the pages."""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import urlsplit

from hosted_images import document_image
from mrz.generator.td3 import TD3CodeGenerator
from PIL import Image

from factories import customer_payload

PERSONAL = {
    "first_name": "Erika",
    "last_name": "Mustermann",
    "date_of_birth": "1964-08-12",
    "nationality": "DE",
    "country_of_residence": "DE",
    "tax_country": "DE",
    "occupation": "Engineer",
    "source_of_funds": "SALARY",
    "email": "erika@example.com",
    "phone": "+4915112345678",
    "address_line1": "Heidestrasse 17",
    "address_postal_code": "51147",
    "address_city": "Köln",
    "address_country": "DE",
}


def passport_mrz(number: str = "C01X00T47", expiry: str = "310101") -> str:
    return str(
        TD3CodeGenerator("P", "D", "Mustermann", "Erika", number, "D", "640812", "F", expiry, "")
    )


def start_run(api: Any, **customer: Any) -> tuple[dict[str, Any], dict[str, Any], str]:
    """A customer, a session, and the path of its verification URL."""
    created = api.post("/v1/customers", json=customer_payload(**customer))
    assert created.status_code == 201, created.text
    session = api.post("/v1/sessions", json={"customer_id": created.json()["id"]})
    assert session.status_code == 201, session.text
    body = session.json()
    return created.json(), body, urlsplit(body["verification_url"]).path


def jpeg(seed: int, **kwargs: Any) -> tuple[str, bytes, str]:
    return (f"photo-{seed}.jpg", document_image(seed, **kwargs), "image/jpeg")


def identity_form(**overrides: str) -> dict[str, str]:
    form = {
        "document_type": "PASSPORT",
        "issuing_country": "DE",
        "document_number": "C01X00T47",
        "expiry_date": "2031-01-01",
        "mrz": passport_mrz(),
    }
    form.update(overrides)
    return form


def pdf(seed: int) -> tuple[str, bytes, str]:
    """A real one-page PDF (a scanned bill, say), made by Pillow."""
    image = Image.open(io.BytesIO(document_image(seed, (1240, 1754))))
    out = io.BytesIO()
    image.save(out, format="PDF")
    return (f"bill-{seed}.pdf", out.getvalue(), "application/pdf")
