"""The lifecycle rules of seed 001, with no I/O: which requirements a
``kycVerificationType`` asks for, which of them a client misses, and which
command may move a client from which status to which.

Everything here is a function of plain values, so it is tested table-driven
without a database; the service gathers the facts and applies the outcome.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kycd.customers.models import AddressType, CustomerStatus
from kycd.documents.types import PHYSICAL_ID_TYPES, PROOF_OF_ADDRESS_TYPES, ReviewStatus
from kycd.identifiers.types import IDENTITY_IDENTIFIER_TYPES, SSN_OR_ITIN, IdentifierStatus


class KycVerificationType(StrEnum):
    PARTIAL = "PARTIAL"
    FULL = "FULL"


class Requirement(StrEnum):
    PRIMARY_PHYSICAL_ADDRESS = "PRIMARY_PHYSICAL_ADDRESS"
    IDENTITY_DOCUMENT = "IDENTITY_DOCUMENT"
    VERIFIED_EMAIL = "VERIFIED_EMAIL"
    VERIFIED_MOBILE = "VERIFIED_MOBILE"
    SSN_ITIN_OR_PHYSICAL_ID = "SSN_ITIN_OR_PHYSICAL_ID"
    PROOF_OF_ADDRESS_DOCUMENT = "PROOF_OF_ADDRESS_DOCUMENT"
    DATE_OF_BIRTH = "DATE_OF_BIRTH"


PARTIAL_DEFAULT = (
    Requirement.PRIMARY_PHYSICAL_ADDRESS,
    Requirement.IDENTITY_DOCUMENT,
    Requirement.VERIFIED_EMAIL,
    Requirement.VERIFIED_MOBILE,
)
FULL_DEFAULT = (*PARTIAL_DEFAULT, Requirement.SSN_ITIN_OR_PHYSICAL_ID)


class LevelRequirements(BaseModel):
    model_config = ConfigDict(extra="forbid")

    requirements: list[Requirement] = Field(max_length=len(Requirement))

    @model_validator(mode="after")
    def _no_duplicates(self) -> LevelRequirements:
        if len(set(self.requirements)) != len(self.requirements):
            raise ValueError("requirements must not repeat")
        return self


class RequirementsConfig(BaseModel):
    """A tenant's product configuration for the verify gate (snake_case, as the
    admin API and the config file spell it)."""

    model_config = ConfigDict(extra="forbid")

    kyc_verification_types: dict[KycVerificationType, LevelRequirements]
    # False: only documents a reviewer APPROVED count; True: PENDING ones count too.
    accept_unreviewed_documents: bool = True

    @model_validator(mode="after")
    def _full_extends_partial(self) -> RequirementsConfig:
        missing = set(KycVerificationType) - set(self.kyc_verification_types)
        if missing:
            raise ValueError(f"kyc_verification_types must define {', '.join(sorted(missing))}")
        partial = set(self.kyc_verification_types[KycVerificationType.PARTIAL].requirements)
        full = set(self.kyc_verification_types[KycVerificationType.FULL].requirements)
        # FULL is the stronger level: a client verified FULL has passed PARTIAL too,
        # and a PARTIAL client can be upgraded to FULL.
        if not partial <= full:
            extra = ", ".join(sorted(partial - full))
            raise ValueError(f"FULL must include every PARTIAL requirement (missing {extra})")
        return self

    def requirements_for(self, level: KycVerificationType) -> list[Requirement]:
        return list(self.kyc_verification_types[level].requirements)


DEFAULT_CONFIG = RequirementsConfig(
    kyc_verification_types={
        KycVerificationType.PARTIAL: LevelRequirements(requirements=list(PARTIAL_DEFAULT)),
        KycVerificationType.FULL: LevelRequirements(requirements=list(FULL_DEFAULT)),
    }
)


# --- facts about one client -------------------------------------------------


@dataclass(frozen=True)
class AddressFact:
    type: str
    is_primary: bool
    line1: str


@dataclass(frozen=True)
class IdentifierFact:
    document_type: str
    status: str
    expiry_date: date | None


@dataclass(frozen=True)
class DocumentFact:
    type: str
    review_status: str
    expiry_date: date | None


@dataclass(frozen=True)
class ClientFacts:
    addresses: Sequence[AddressFact] = ()
    identifiers: Sequence[IdentifierFact] = ()
    documents: Sequence[DocumentFact] = ()
    email: str | None = None
    email_verified: bool = False
    mobile: str | None = None
    mobile_verified: bool = False
    date_of_birth: date | None = None


@dataclass(frozen=True)
class Violation:
    """One unmet rule, in the vocabulary of Fineract's ``errors[]`` entries."""

    requirement: str
    code: str
    parameter_name: str
    message: str


# A post-office box is where mail goes, not where someone lives.
_PO_BOX = re.compile(r"\b(p\.?\s*o\.?\s*box|post\s+office\s+box|postfach)\b", re.IGNORECASE)


def is_physical(address: AddressFact) -> bool:
    return address.type != AddressType.MAILING.value and not _PO_BOX.search(address.line1)


def _unexpired(expiry: date | None, today: date) -> bool:
    # A document is valid through its expiry date, inclusive.
    return expiry is None or expiry >= today


def _document_counts(doc: DocumentFact, accept_unreviewed: bool) -> bool:
    if doc.review_status == ReviewStatus.APPROVED.value:
        return True
    return accept_unreviewed and doc.review_status == ReviewStatus.PENDING.value


def _usable_identifiers(
    facts: ClientFacts, types: Iterable[str], today: date
) -> tuple[list[IdentifierFact], list[IdentifierFact]]:
    """(valid, expired) active identifiers of the given types."""
    wanted = set(types)
    candidates = [
        i
        for i in facts.identifiers
        if i.document_type in wanted and i.status == IdentifierStatus.ACTIVE.value
    ]
    valid = [i for i in candidates if _unexpired(i.expiry_date, today)]
    return valid, [i for i in candidates if i not in valid]


def _usable_documents(
    facts: ClientFacts, types: Iterable[str], today: date, accept_unreviewed: bool
) -> tuple[list[DocumentFact], list[DocumentFact]]:
    """(valid, expired) documents of the given types that a review allows."""
    wanted = set(types)
    candidates = [
        d for d in facts.documents if d.type in wanted and _document_counts(d, accept_unreviewed)
    ]
    valid = [d for d in candidates if _unexpired(d.expiry_date, today)]
    return valid, [d for d in candidates if d not in valid]


def _check_address(facts: ClientFacts) -> Violation | None:
    primaries = [a for a in facts.addresses if a.is_primary]
    if any(is_physical(a) for a in primaries):
        return None
    if primaries:
        return Violation(
            Requirement.PRIMARY_PHYSICAL_ADDRESS,
            "error.msg.client.verify.primary.address.not.physical",
            "address",
            "The primary address is a mailing address or post-office box, not a physical address.",
        )
    return Violation(
        Requirement.PRIMARY_PHYSICAL_ADDRESS,
        "error.msg.client.verify.primary.address.missing",
        "address",
        "The client has no primary physical address.",
    )


def _check_identity(facts: ClientFacts, today: date, accept_unreviewed: bool) -> Violation | None:
    ids, expired_ids = _usable_identifiers(facts, IDENTITY_IDENTIFIER_TYPES, today)
    docs, expired_docs = _usable_documents(facts, PHYSICAL_ID_TYPES, today, accept_unreviewed)
    if ids or docs:
        return None
    if expired_ids or expired_docs:
        return Violation(
            Requirement.IDENTITY_DOCUMENT,
            "error.msg.client.verify.identity.document.expired",
            "identifiers",
            "Every identity document or identifier of the client has expired.",
        )
    return Violation(
        Requirement.IDENTITY_DOCUMENT,
        "error.msg.client.verify.identity.document.missing",
        "identifiers",
        "The client has no valid identity document or identifier.",
    )


def _check_email(facts: ClientFacts) -> Violation | None:
    if not facts.email:
        return Violation(
            Requirement.VERIFIED_EMAIL,
            "error.msg.client.verify.email.missing",
            "emailAddress",
            "The client has no email address.",
        )
    if not facts.email_verified:
        return Violation(
            Requirement.VERIFIED_EMAIL,
            "error.msg.client.verify.email.not.verified",
            "emailAddress",
            "The client's email address has not been verified.",
        )
    return None


def _check_mobile(facts: ClientFacts) -> Violation | None:
    if not facts.mobile:
        return Violation(
            Requirement.VERIFIED_MOBILE,
            "error.msg.client.verify.mobile.missing",
            "mobileNo",
            "The client has no mobile number.",
        )
    if not facts.mobile_verified:
        return Violation(
            Requirement.VERIFIED_MOBILE,
            "error.msg.client.verify.mobile.not.verified",
            "mobileNo",
            "The client's mobile number has not been verified.",
        )
    return None


def _check_ssn_itin_or_physical_id(
    facts: ClientFacts, today: date, accept_unreviewed: bool
) -> Violation | None:
    ids, expired_ids = _usable_identifiers(facts, SSN_OR_ITIN, today)
    docs, expired_docs = _usable_documents(facts, PHYSICAL_ID_TYPES, today, accept_unreviewed)
    if ids or docs:
        return None
    if expired_ids or expired_docs:
        return Violation(
            Requirement.SSN_ITIN_OR_PHYSICAL_ID,
            "error.msg.client.verify.ssn.itin.or.physical.id.expired",
            "documents",
            "The client's SSN, ITIN or physical ID document has expired.",
        )
    return Violation(
        Requirement.SSN_ITIN_OR_PHYSICAL_ID,
        "error.msg.client.verify.ssn.itin.or.physical.id.missing",
        "documents",
        "FULL verification needs an SSN, an ITIN or a physical ID document.",
    )


def _check_proof_of_address(
    facts: ClientFacts, today: date, accept_unreviewed: bool
) -> Violation | None:
    docs, expired = _usable_documents(facts, PROOF_OF_ADDRESS_TYPES, today, accept_unreviewed)
    if docs:
        return None
    if expired:
        return Violation(
            Requirement.PROOF_OF_ADDRESS_DOCUMENT,
            "error.msg.client.verify.proof.of.address.expired",
            "documents",
            "The client's proof-of-address document has expired.",
        )
    return Violation(
        Requirement.PROOF_OF_ADDRESS_DOCUMENT,
        "error.msg.client.verify.proof.of.address.missing",
        "documents",
        "The client has no proof-of-address document.",
    )


def _check_date_of_birth(facts: ClientFacts) -> Violation | None:
    if facts.date_of_birth is not None:
        return None
    return Violation(
        Requirement.DATE_OF_BIRTH,
        "error.msg.client.verify.date.of.birth.missing",
        "dateOfBirth",
        "The client has no date of birth.",
    )


def unmet_requirements(
    facts: ClientFacts,
    requirements: Iterable[Requirement],
    *,
    today: date,
    accept_unreviewed_documents: bool = True,
) -> list[Violation]:
    """Every rule of ``requirements`` the client misses, in the order asked."""
    checks = {
        Requirement.PRIMARY_PHYSICAL_ADDRESS: lambda: _check_address(facts),
        Requirement.IDENTITY_DOCUMENT: lambda: _check_identity(
            facts, today, accept_unreviewed_documents
        ),
        Requirement.VERIFIED_EMAIL: lambda: _check_email(facts),
        Requirement.VERIFIED_MOBILE: lambda: _check_mobile(facts),
        Requirement.SSN_ITIN_OR_PHYSICAL_ID: lambda: _check_ssn_itin_or_physical_id(
            facts, today, accept_unreviewed_documents
        ),
        Requirement.PROOF_OF_ADDRESS_DOCUMENT: lambda: _check_proof_of_address(
            facts, today, accept_unreviewed_documents
        ),
        Requirement.DATE_OF_BIRTH: lambda: _check_date_of_birth(facts),
    }
    violations = (checks[r]() for r in requirements)
    return [v for v in violations if v is not None]


# --- commands and transitions -----------------------------------------------


class Command(StrEnum):
    VERIFY = "verify"
    ACTIVATE = "activate"
    REJECT = "reject"
    WITHDRAW = "withdraw"
    CLOSE = "close"
    REACTIVATE = "reactivate"
    UNDO_REJECTION = "undoRejection"
    UNDO_WITHDRAWAL = "undoWithdrawal"


@dataclass(frozen=True)
class Transition:
    allowed_from: frozenset[str]
    to: str
    event_type: str
    # The business date field of the command body (Fineract's convention).
    date_field: str


_S = CustomerStatus
TRANSITIONS: dict[Command, Transition] = {
    Command.VERIFY: Transition(
        frozenset({_S.PENDING}), _S.VERIFIED, "applicant.verified", "verificationDate"
    ),
    Command.ACTIVATE: Transition(
        frozenset({_S.VERIFIED}), _S.ACTIVE, "applicant.activated", "activationDate"
    ),
    Command.REJECT: Transition(
        frozenset({_S.PENDING, _S.VERIFIED}), _S.REJECTED, "applicant.rejected", "rejectionDate"
    ),
    Command.WITHDRAW: Transition(
        frozenset({_S.PENDING, _S.VERIFIED}),
        _S.WITHDRAWN,
        "applicant.withdrawn",
        "withdrawalDate",
    ),
    Command.CLOSE: Transition(frozenset({_S.ACTIVE}), _S.CLOSED, "applicant.closed", "closureDate"),
    Command.REACTIVATE: Transition(
        frozenset({_S.CLOSED}), _S.PENDING, "applicant.reactivated", "reactivationDate"
    ),
    Command.UNDO_REJECTION: Transition(
        frozenset({_S.REJECTED}), _S.PENDING, "applicant.reactivated", "reopenedDate"
    ),
    Command.UNDO_WITHDRAWAL: Transition(
        frozenset({_S.WITHDRAWN}), _S.PENDING, "applicant.reactivated", "reopenedDate"
    ),
}

# Commands that re-check the requirements of the verification level.
GATED_COMMANDS = frozenset({Command.VERIFY, Command.ACTIVATE})


@dataclass(frozen=True)
class Plan:
    """What a command will do: a status change, or (``upgrade``) raising a
    verified client's level from PARTIAL to FULL without changing its status."""

    command: Command
    transition: Transition
    level: KycVerificationType | None
    upgrade: bool = False


_STATUS_LABELS = {
    _S.PENDING: "Pending",
    _S.VERIFIED: "Verified",
    _S.ACTIVE: "Active",
    _S.REJECTED: "Rejected",
    _S.WITHDRAWN: "Withdrawn",
    _S.CLOSED: "Closed",
    _S.DEACTIVATED: "Deactivated",
}


def status_label(status: str) -> str:
    return _STATUS_LABELS.get(CustomerStatus(status), status)


def _state_violation(command: Command, code_suffix: str, message: str) -> Violation:
    return Violation(
        "STATUS", f"error.msg.client.{command.value.lower()}.{code_suffix}", "status", message
    )


def plan_command(
    command: Command,
    status: str,
    current_level: str | None,
    requested_level: KycVerificationType | None = None,
) -> Plan | Violation:
    """Whether ``command`` may run on a client in ``status``, and what it does."""
    transition = TRANSITIONS[command]
    label = status_label(status)
    if command is Command.VERIFY:
        assert requested_level is not None
        if status in transition.allowed_from:
            return Plan(command, transition, requested_level)
        verified = status in {_S.VERIFIED, _S.ACTIVE}
        if (
            verified
            and current_level == KycVerificationType.PARTIAL
            and requested_level is KycVerificationType.FULL
        ):
            return Plan(command, transition, requested_level, upgrade=True)
        if verified:
            return _state_violation(
                command,
                "already.verified",
                f"The client is already verified ({current_level or 'PARTIAL'}).",
            )
        return _state_violation(
            command, "invalid.status", f"A client in status {label} cannot be verified."
        )
    if status in transition.allowed_from:
        level = None
        if command is Command.ACTIVATE:
            level = KycVerificationType(current_level or KycVerificationType.PARTIAL)
        return Plan(command, transition, level)
    if command is Command.ACTIVATE and status == _S.PENDING:
        return _state_violation(
            command, "not.verified", "The client must be verified before it can be activated."
        )
    if command is Command.ACTIVATE and status == _S.ACTIVE:
        return _state_violation(command, "already.active", "The client is already active.")
    allowed = ", ".join(status_label(s) for s in sorted(transition.allowed_from))
    return _state_violation(
        command,
        "invalid.status",
        f"Command {command.value} is not allowed in status {label} (only from {allowed}).",
    )
