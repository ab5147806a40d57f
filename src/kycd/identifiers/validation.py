"""Checking and normalising identifier numbers with python-stdnum.

Where python-stdnum has a validator for a (type, country) pair the number must
pass it (format, length, check digits, impossible ranges such as SSN area 000);
otherwise only a generic shape is checked. Numbers are stored in stdnum's
compact form, so "078-05-1120" and "078051120" are the same SSN.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from types import ModuleType

from stdnum.exceptions import ValidationError as StdnumValidationError

from kycd.identifiers.types import IdentifierType

# (type, country) -> python-stdnum modules; a number passes if one accepts it.
_VALIDATORS: dict[tuple[IdentifierType, str], tuple[str, ...]] = {
    (IdentifierType.SSN, "US"): ("us.ssn",),
    (IdentifierType.ITIN, "US"): ("us.itin",),
    (IdentifierType.EIN, "US"): ("us.ein",),
    (IdentifierType.TAX_ID, "US"): ("us.tin",),
}
_NATIONAL_IDS = {
    "AR": ("ar.dni",),
    "BE": ("be.nn",),
    "BG": ("bg.egn",),
    "BR": ("br.cpf",),
    "CH": ("ch.ssn",),
    "CL": ("cl.rut",),
    "CN": ("cn.ric",),
    "CZ": ("cz.rc",),
    "DK": ("dk.cpr",),
    "EE": ("ee.ik",),
    "ES": ("es.dni", "es.nie"),
    "FI": ("fi.hetu",),
    "HR": ("hr.oib",),
    "IL": ("il.idnr",),
    "IN": ("in_.aadhaar",),
    "IS": ("is_.kennitala",),
    "IT": ("it.codicefiscale",),
    "KR": ("kr.rrn",),
    "LT": ("lt.asmens",),
    "MX": ("mx.curp",),
    "MY": ("my.nric",),
    "NL": ("nl.bsn",),
    "NO": ("no.fodselsnummer",),
    "PL": ("pl.pesel",),
    "PT": ("pt.cc",),
    "RO": ("ro.cnp",),
    "SE": ("se.personnummer",),
    "TH": ("th.pin",),
    "TR": ("tr.tckimlik",),
    "ZA": ("za.idnr",),
}
_TAX_IDS = {
    "AR": ("ar.cuit",),
    "AT": ("at.tin",),
    "AU": ("au.tfn",),
    "BR": ("br.cpf", "br.cnpj"),
    "CA": ("ca.sin", "ca.bn"),
    "CL": ("cl.rut",),
    "DE": ("de.idnr", "de.stnr"),
    "DK": ("dk.cpr",),
    "ES": ("es.nif",),
    "FI": ("fi.hetu",),
    "FR": ("fr.nif",),
    "GB": ("gb.utr",),
    "IE": ("ie.pps",),
    "IN": ("in_.pan",),
    "IT": ("it.codicefiscale",),
    "MX": ("mx.rfc",),
    "NL": ("nl.bsn",),
    "NO": ("no.fodselsnummer",),
    "PL": ("pl.pesel", "pl.nip"),
    "PT": ("pt.nif",),
    "SE": ("se.personnummer",),
    "ZA": ("za.tin",),
}
for _cc, _mods in _NATIONAL_IDS.items():
    _VALIDATORS[(IdentifierType.NATIONAL_ID, _cc)] = _mods
for _cc, _mods in _TAX_IDS.items():
    _VALIDATORS[(IdentifierType.TAX_ID, _cc)] = _mods

# Passports, licences, permits and unlisted countries: letters, digits and the
# separators printed on documents.
_GENERIC = re.compile(r"^[A-Z0-9][A-Z0-9 ./-]{3,39}$")


class InvalidNumber(ValueError):
    pass


@dataclass(frozen=True)
class CheckedNumber:
    compact: str
    validated_by: str | None


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"stdnum.{name}")


def has_validator(document_type: IdentifierType, country: str) -> bool:
    return (document_type, country) in _VALIDATORS


def check_number(document_type: IdentifierType, country: str, value: str) -> CheckedNumber:
    """The number in compact form, or :class:`InvalidNumber` saying why not."""
    modules = _VALIDATORS.get((document_type, country))
    if modules is None:
        normalised = " ".join(value.upper().split())
        if not _GENERIC.match(normalised):
            raise InvalidNumber("must be 4 to 40 letters, digits, spaces, '.', '/' or '-'")
        return CheckedNumber(re.sub(r"[ ./-]", "", normalised), None)
    # Spaces are how people group digits; no validator treats them as meaningful.
    value = "".join(value.split())
    first_error: StdnumValidationError | None = None
    for name in modules:
        module = _module(name)
        try:
            return CheckedNumber(str(module.compact(module.validate(value))), name)
        except StdnumValidationError as exc:
            first_error = first_error or exc
        except ValueError as exc:
            # A few validators parse embedded dates and let ValueError escape.
            first_error = first_error or StdnumValidationError(str(exc))
    assert first_error is not None
    # stdnum's messages describe the defect ("The number has an invalid length."),
    # never the number itself.
    raise InvalidNumber(f"is not a valid {document_type.value} for {country}: {first_error}")


def last_chars(compact: str) -> str:
    """What a masked number shows: the last four characters, but never more than
    half of a short number."""
    return compact[-min(4, len(compact) // 2) :] if len(compact) >= 2 else ""
