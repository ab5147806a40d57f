"""The identifier vocabulary (``documentType`` of ``/v1/clients/{id}/identifiers``)."""

from __future__ import annotations

from enum import StrEnum


class IdentifierType(StrEnum):
    SSN = "SSN"
    ITIN = "ITIN"
    EIN = "EIN"
    PASSPORT = "PASSPORT"
    NATIONAL_ID = "NATIONAL_ID"
    DRIVERS_LICENSE = "DRIVERS_LICENSE"
    RESIDENCE_PERMIT = "RESIDENCE_PERMIT"
    TAX_ID = "TAX_ID"


# US numbers: the issuing country is implied.
US_ONLY = frozenset({IdentifierType.SSN, IdentifierType.ITIN, IdentifierType.EIN})

# Identifiers that identify the client (PARTIAL's "identity document or identifier").
IDENTITY_IDENTIFIER_TYPES = frozenset(IdentifierType)

# FULL's "an SSN, an ITIN or a physical ID document": the identifier half.
SSN_OR_ITIN = frozenset({IdentifierType.SSN, IdentifierType.ITIN})


class IdentifierStatus(StrEnum):
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"
