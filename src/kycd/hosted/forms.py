"""Parsing the hosted flow's forms into typed values, with errors per field.
Pure: the personal details are validated by the Customers API's own schema
(:class:`kycd.customers.schemas.CustomerUpdate`), so the flow accepts exactly
what the API accepts (dates, pycountry countries, phonenumbers numbers)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import pycountry
from pydantic import ValidationError

from kycd.core.validators import country_alpha2
from kycd.customers.schemas import CustomerUpdate
from kycd.documents.types import DocumentType

ID_DOCUMENT_TYPES = (
    DocumentType.PASSPORT,
    DocumentType.ID_CARD,
    DocumentType.DRIVERS_LICENSE,
    DocumentType.RESIDENCE_PERMIT,
)
POA_DOCUMENT_TYPES = (
    DocumentType.UTILITY_BILL,
    DocumentType.BANK_STATEMENT,
    DocumentType.PROOF_OF_ADDRESS,
)
SOURCES_OF_FUNDS = (
    "SALARY",
    "SAVINGS",
    "BUSINESS",
    "PENSION",
    "INHERITANCE",
    "INVESTMENTS",
    "OTHER",
)
DOCUMENT_NUMBER = re.compile(r"^[A-Za-z0-9 -]{1,40}$")

# Form field -> the API's field (addresses are one nested object there).
PERSONAL_FIELDS = (
    "first_name",
    "last_name",
    "date_of_birth",
    "nationality",
    "country_of_residence",
    "tax_country",
    "occupation",
    "source_of_funds",
    "email",
    "phone",
)
ADDRESS_FIELDS = ("address_line1", "address_postal_code", "address_city", "address_country")
REQUIRED_PERSONAL = frozenset(
    {
        "first_name",
        "last_name",
        "date_of_birth",
        "nationality",
        "country_of_residence",
        "address_line1",
        "address_city",
        "address_country",
    }
)


def countries() -> list[tuple[str, str]]:
    """(alpha-2, English name) of every ISO 3166-1 country, sorted by name."""
    return sorted(
        ((c.alpha_2, str(getattr(c, "common_name", c.name))) for c in pycountry.countries),
        key=lambda pair: pair[1],
    )


# Error codes; the page turns them into sentences in the applicant's language.
REQUIRED = "required"
DATE = "date"
COUNTRY = "country"
DOCUMENT_NUMBER_FORMAT = "document_number"


@dataclass(frozen=True)
class FieldProblem:
    code: str
    detail: str = ""


Errors = dict[str, FieldProblem]


def _clean(form: Mapping[str, object], name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _required(form: Mapping[str, object], names: frozenset[str] | tuple[str, ...]) -> Errors:
    return {name: FieldProblem(REQUIRED) for name in names if not _clean(form, name)}


def parse_personal(form: Mapping[str, object]) -> tuple[CustomerUpdate | None, Errors]:
    """The personal details form as the Customers API's PATCH body."""
    errors = _required(form, REQUIRED_PERSONAL)
    body: dict[str, object] = {
        name: _clean(form, name) for name in PERSONAL_FIELDS if _clean(form, name)
    }
    body["addresses"] = [
        {
            "type": "residential",
            "is_primary": True,
            "line1": _clean(form, "address_line1"),
            "postal_code": _clean(form, "address_postal_code") or None,
            "city": _clean(form, "address_city"),
            "country": _clean(form, "address_country"),
        }
    ]
    if errors:
        return None, errors
    try:
        return CustomerUpdate.model_validate(body), {}
    except ValidationError as exc:
        for error in exc.errors():
            loc = [str(part) for part in error["loc"]]
            field = f"address_{loc[2]}" if loc[0] == "addresses" and len(loc) > 2 else loc[0]
            message = str(error["msg"]).removeprefix("Value error, ")
            code = DATE if field == "date_of_birth" and error["type"].startswith("date") else ""
            errors.setdefault(field, FieldProblem(code or "invalid", message))
        return None, errors


def parse_date(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


@dataclass(frozen=True)
class IdentityDocumentForm:
    document_type: DocumentType
    issuing_country: str
    document_number: str
    expiry_date: date
    mrz: str | None

    @property
    def needs_back(self) -> bool:
        return self.document_type is not DocumentType.PASSPORT


def parse_identity_document(
    form: Mapping[str, object],
) -> tuple[IdentityDocumentForm | None, Errors]:
    errors = _required(form, ("document_type", "issuing_country", "document_number", "expiry_date"))
    raw_type = _clean(form, "document_type")
    document_type = next((t for t in ID_DOCUMENT_TYPES if t.value == raw_type), None)
    if raw_type and document_type is None:
        errors["document_type"] = FieldProblem("invalid", "unknown document type")
    country = _clean(form, "issuing_country")
    if country:
        try:
            country = country_alpha2(country)
        except ValueError:
            errors["issuing_country"] = FieldProblem(COUNTRY)
    number = _clean(form, "document_number")
    if number and not DOCUMENT_NUMBER.match(number):
        errors["document_number"] = FieldProblem(DOCUMENT_NUMBER_FORMAT)
    expiry = parse_date(_clean(form, "expiry_date"))
    if _clean(form, "expiry_date") and expiry is None:
        errors["expiry_date"] = FieldProblem(DATE)
    mrz = _clean(form, "mrz")[:200] or None
    if errors:
        return None, errors
    assert document_type is not None and expiry is not None
    return IdentityDocumentForm(document_type, country, number, expiry, mrz), {}


def parse_poa_type(form: Mapping[str, object]) -> tuple[DocumentType | None, Errors]:
    raw = _clean(form, "document_type")
    found = next((t for t in POA_DOCUMENT_TYPES if t.value == raw), None)
    if found is None:
        return None, {"document_type": FieldProblem(REQUIRED if not raw else "invalid", "")}
    return found, {}
