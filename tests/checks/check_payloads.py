"""Bodies of seed 004, with dates moved to "recent" so the 24-month rule holds."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from kycd.db import utcnow

SEED_ADDRESS = {
    "address_line1": "Rosenweg 221",
    "address_line2": "apt. 33",
    "postcode": "45678",
    "city": "Berlin",
    "state": "BE",
    "country": "DE",
}
EVIDENCE_LINK = "https://bucket.customer.com/ident/user3.zip"


def recent(days: int = 30) -> str:
    return (utcnow() - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def kyc_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "KYC",
        "check_confirmed_at": recent(),
        "data_download_link": EVIDENCE_LINK,
        "document_type": "ID_CARD",
        "document_expiration_date": "2030-01-01",
        "nationality": "DE",
        "provider": "KYC provider",
        "method": "VIDEO_ID",
        "confirmed_address": dict(SEED_ADDRESS),
    }
    body.update(overrides)
    return body


def por_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "POR",
        "check_confirmed_at": recent(),
        "issuance_date": (utcnow() - timedelta(days=60)).date().isoformat(),
        "data_download_link": "https://bucket.customer.com/por/user3.zip",
        "document_type": "UTILITY_BILL",
        "confirmed_address": dict(SEED_ADDRESS),
    }
    body.update(overrides)
    return body


def instrument_fit_body(suitability: bool = True, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "INSTRUMENT_FIT",
        "check_confirmed_at": recent(),
        "instrument_suitability": {"suitability": suitability},
    }
    body.update(overrides)
    return body


def compliance_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "COMPLIANCE", "check_confirmed_at": recent()}
    body.update(overrides)
    return body
