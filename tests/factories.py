"""Test data factories: valid payloads that a test overrides field by field."""

from __future__ import annotations

import itertools
from typing import Any

_counter = itertools.count(1)


def customer_payload(**overrides: Any) -> dict[str, Any]:
    n = next(_counter)
    payload: dict[str, Any] = {
        "client_id": f"user-{n}",
        "type": "individual",
        "first_name": "Ada",
        "last_name": f"Lovelace{n}",
        "date_of_birth": "1985-12-10",
        "nationality": "DE",
        "tax_country": "DE",
        "occupation": "Engineer",
        "email": f"ada{n}@example.com",
        "phone": "+4915112345678",
        "addresses": [
            {
                "type": "residential",
                "is_primary": True,
                "line1": "Rosenweg 221",
                "city": "Berlin",
                "postal_code": "45678",
                "country": "DE",
            }
        ],
    }
    payload.update(overrides)
    return payload
