"""The document vocabulary (``documentType`` of ``/v1/clients/{id}/documents``).

Other domains read these names: the compliance policy (seed 000) maps
``DOC_PROOF_OF_ADDRESS``, ``DOC_SOURCE_OF_FUNDS``, ``DOC_FATCA`` and
``DOC_BIOMETRIC_REPORT`` onto the groups below.
"""

from __future__ import annotations

from enum import StrEnum


class DocumentType(StrEnum):
    ID_CARD = "ID_CARD"
    PASSPORT = "PASSPORT"
    DRIVERS_LICENSE = "DRIVERS_LICENSE"
    RESIDENCE_PERMIT = "RESIDENCE_PERMIT"
    UTILITY_BILL = "UTILITY_BILL"
    BANK_STATEMENT = "BANK_STATEMENT"
    PROOF_OF_ADDRESS = "PROOF_OF_ADDRESS"
    SOURCE_OF_FUNDS = "SOURCE_OF_FUNDS"
    FATCA_FORM = "FATCA_FORM"
    BIOMETRIC_REPORT = "BIOMETRIC_REPORT"
    SELFIE = "SELFIE"
    COMPANY_REGISTRATION = "COMPANY_REGISTRATION"
    OTHER = "OTHER"


# Physical identity documents: PARTIAL's identity rule and FULL's "physical ID document".
PHYSICAL_ID_TYPES = frozenset(
    {
        DocumentType.ID_CARD,
        DocumentType.PASSPORT,
        DocumentType.DRIVERS_LICENSE,
        DocumentType.RESIDENCE_PERMIT,
    }
)
PROOF_OF_ADDRESS_TYPES = frozenset(
    {DocumentType.UTILITY_BILL, DocumentType.BANK_STATEMENT, DocumentType.PROOF_OF_ADDRESS}
)
SOURCE_OF_FUNDS_TYPES = frozenset({DocumentType.SOURCE_OF_FUNDS})
FATCA_TYPES = frozenset({DocumentType.FATCA_FORM})
BIOMETRIC_REPORT_TYPES = frozenset({DocumentType.BIOMETRIC_REPORT})


class ReviewStatus(StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
