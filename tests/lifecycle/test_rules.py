"""The pure rules of seed 001, table-driven, no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from pydantic import ValidationError

from kycd.lifecycle.rules import (
    DEFAULT_CONFIG,
    AddressFact,
    ClientFacts,
    Command,
    DocumentFact,
    IdentifierFact,
    KycVerificationType,
    Plan,
    Requirement,
    RequirementsConfig,
    Violation,
    plan_command,
    unmet_requirements,
)

TODAY = date(2026, 6, 15)
HOME = AddressFact("residential", True, "Rosenweg 221")
PASSPORT_NO = IdentifierFact("PASSPORT", "ACTIVE", date(2030, 1, 1))
SSN = IdentifierFact("SSN", "ACTIVE", None)
ID_CARD = DocumentFact("ID_CARD", "PENDING", date(2030, 1, 1))

PARTIAL_OK = ClientFacts(
    addresses=[HOME],
    identifiers=[PASSPORT_NO],
    email="a@example.com",
    email_verified=True,
    mobile="+4915112345678",
    mobile_verified=True,
)
FULL_OK = replace(PARTIAL_OK, identifiers=[PASSPORT_NO, SSN])

PARTIAL = DEFAULT_CONFIG.requirements_for(KycVerificationType.PARTIAL)
FULL = DEFAULT_CONFIG.requirements_for(KycVerificationType.FULL)


def codes(facts: ClientFacts, requirements: list[Requirement], **kw: bool) -> list[str]:
    return [v.code for v in unmet_requirements(facts, requirements, today=TODAY, **kw)]


def test_complete_clients_pass() -> None:
    assert codes(PARTIAL_OK, PARTIAL) == []
    assert codes(FULL_OK, FULL) == []


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (replace(PARTIAL_OK, addresses=[]), "error.msg.client.verify.primary.address.missing"),
        (
            replace(PARTIAL_OK, addresses=[replace(HOME, is_primary=False)]),
            "error.msg.client.verify.primary.address.missing",
        ),
        (
            replace(PARTIAL_OK, addresses=[replace(HOME, type="mailing")]),
            "error.msg.client.verify.primary.address.not.physical",
        ),
        (
            replace(PARTIAL_OK, addresses=[replace(HOME, line1="P.O. Box 42")]),
            "error.msg.client.verify.primary.address.not.physical",
        ),
        (replace(PARTIAL_OK, identifiers=[]), "error.msg.client.verify.identity.document.missing"),
        (
            replace(PARTIAL_OK, identifiers=[replace(PASSPORT_NO, expiry_date=date(2026, 6, 14))]),
            "error.msg.client.verify.identity.document.expired",
        ),
        (
            replace(PARTIAL_OK, identifiers=[replace(PASSPORT_NO, status="INACTIVE")]),
            "error.msg.client.verify.identity.document.missing",
        ),
        (
            replace(
                PARTIAL_OK, identifiers=[], documents=[replace(ID_CARD, review_status="REJECTED")]
            ),
            "error.msg.client.verify.identity.document.missing",
        ),
        (
            replace(
                PARTIAL_OK,
                identifiers=[],
                documents=[replace(ID_CARD, expiry_date=date(2020, 1, 1))],
            ),
            "error.msg.client.verify.identity.document.expired",
        ),
        (
            replace(
                PARTIAL_OK,
                identifiers=[],
                documents=[DocumentFact("UTILITY_BILL", "APPROVED", None)],
            ),
            "error.msg.client.verify.identity.document.missing",
        ),
        (
            replace(PARTIAL_OK, email=None, email_verified=False),
            "error.msg.client.verify.email.missing",
        ),
        (replace(PARTIAL_OK, email_verified=False), "error.msg.client.verify.email.not.verified"),
        (
            replace(PARTIAL_OK, mobile=None, mobile_verified=False),
            "error.msg.client.verify.mobile.missing",
        ),
        (replace(PARTIAL_OK, mobile_verified=False), "error.msg.client.verify.mobile.not.verified"),
    ],
)
def test_each_partial_rule_missing_gives_its_own_code(facts: ClientFacts, expected: str) -> None:
    assert codes(facts, PARTIAL) == [expected]
    # FULL includes PARTIAL: the same code comes back.
    assert expected in codes(facts, FULL)


@pytest.mark.parametrize(
    ("extra_identifiers", "documents", "expected"),
    [
        ([], [], ["error.msg.client.verify.ssn.itin.or.physical.id.missing"]),
        ([IdentifierFact("ITIN", "ACTIVE", None)], [], []),
        (
            [IdentifierFact("SSN", "INACTIVE", None)],
            [],
            ["error.msg.client.verify.ssn.itin.or.physical.id.missing"],
        ),
        (
            [IdentifierFact("EIN", "ACTIVE", None)],
            [],
            ["error.msg.client.verify.ssn.itin.or.physical.id.missing"],
        ),
        ([], [ID_CARD], []),
        ([], [DocumentFact("PASSPORT", "APPROVED", TODAY)], []),
        (
            [],
            [DocumentFact("DRIVERS_LICENSE", "PENDING", date(2026, 6, 14))],
            ["error.msg.client.verify.ssn.itin.or.physical.id.expired"],
        ),
        (
            [],
            [replace(ID_CARD, review_status="REJECTED")],
            ["error.msg.client.verify.ssn.itin.or.physical.id.missing"],
        ),
        # A passport *number* is an identifier, not a physical document.
        (
            [IdentifierFact("PASSPORT", "ACTIVE", None)],
            [],
            ["error.msg.client.verify.ssn.itin.or.physical.id.missing"],
        ),
    ],
)
def test_full_needs_ssn_itin_or_physical_id(
    extra_identifiers: list[IdentifierFact], documents: list[DocumentFact], expected: list[str]
) -> None:
    facts = replace(PARTIAL_OK, identifiers=[PASSPORT_NO, *extra_identifiers], documents=documents)
    assert codes(facts, FULL) == expected


def test_unreviewed_documents_count_only_when_configured() -> None:
    facts = replace(PARTIAL_OK, identifiers=[], documents=[ID_CARD])
    assert codes(facts, PARTIAL, accept_unreviewed_documents=True) == []
    assert codes(facts, PARTIAL, accept_unreviewed_documents=False) == [
        "error.msg.client.verify.identity.document.missing"
    ]
    approved = replace(facts, documents=[replace(ID_CARD, review_status="APPROVED")])
    assert codes(approved, PARTIAL, accept_unreviewed_documents=False) == []


def test_optional_requirements() -> None:
    extra = [Requirement.PROOF_OF_ADDRESS_DOCUMENT, Requirement.DATE_OF_BIRTH]
    assert codes(PARTIAL_OK, extra) == [
        "error.msg.client.verify.proof.of.address.missing",
        "error.msg.client.verify.date.of.birth.missing",
    ]
    stale_bill = DocumentFact("UTILITY_BILL", "APPROVED", date(2026, 1, 1))
    assert codes(replace(PARTIAL_OK, documents=[stale_bill]), extra[:1]) == [
        "error.msg.client.verify.proof.of.address.expired"
    ]
    ok = replace(
        PARTIAL_OK,
        documents=[DocumentFact("BANK_STATEMENT", "PENDING", None)],
        date_of_birth=date(1980, 1, 1),
    )
    assert codes(ok, extra) == []


def test_every_violation_names_a_parameter() -> None:
    violations = unmet_requirements(ClientFacts(), FULL, today=TODAY)
    assert [v.parameter_name for v in violations] == [
        "address",
        "identifiers",
        "emailAddress",
        "mobileNo",
        "documents",
    ]
    assert len({v.code for v in violations}) == len(violations)


S = {"pending", "verified", "active", "rejected", "withdrawn", "closed", "deactivated"}


@pytest.mark.parametrize(
    ("command", "allowed", "to"),
    [
        (Command.ACTIVATE, {"verified"}, "active"),
        (Command.REJECT, {"pending", "verified"}, "rejected"),
        (Command.WITHDRAW, {"pending", "verified"}, "withdrawn"),
        (Command.CLOSE, {"active"}, "closed"),
        (Command.REACTIVATE, {"closed"}, "pending"),
        (Command.UNDO_REJECTION, {"rejected"}, "pending"),
        (Command.UNDO_WITHDRAWAL, {"withdrawn"}, "pending"),
    ],
)
def test_transitions(command: Command, allowed: set[str], to: str) -> None:
    for status in S:
        plan = plan_command(command, status, "PARTIAL")
        if status in allowed:
            assert isinstance(plan, Plan) and plan.transition.to == to, status
        else:
            assert isinstance(plan, Violation), status
            assert plan.code.startswith(f"error.msg.client.{command.value.lower()}."), plan.code


@pytest.mark.parametrize(
    ("status", "current", "requested", "outcome"),
    [
        ("pending", None, "PARTIAL", "transition"),
        ("pending", None, "FULL", "transition"),
        ("verified", "PARTIAL", "FULL", "upgrade"),
        ("active", "PARTIAL", "FULL", "upgrade"),
        ("verified", "PARTIAL", "PARTIAL", "error.msg.client.verify.already.verified"),
        ("verified", "FULL", "PARTIAL", "error.msg.client.verify.already.verified"),
        ("active", "FULL", "FULL", "error.msg.client.verify.already.verified"),
        ("rejected", None, "FULL", "error.msg.client.verify.invalid.status"),
        ("closed", "FULL", "FULL", "error.msg.client.verify.invalid.status"),
        ("deactivated", None, "PARTIAL", "error.msg.client.verify.invalid.status"),
    ],
)
def test_verify_plans(status: str, current: str | None, requested: str, outcome: str) -> None:
    plan = plan_command(Command.VERIFY, status, current, KycVerificationType(requested))
    if outcome == "transition":
        assert isinstance(plan, Plan) and not plan.upgrade and plan.transition.to == "verified"
    elif outcome == "upgrade":
        assert isinstance(plan, Plan) and plan.upgrade
    else:
        assert isinstance(plan, Violation) and plan.code == outcome


@pytest.mark.parametrize(
    ("status", "code"),
    [
        ("pending", "error.msg.client.activate.not.verified"),
        ("active", "error.msg.client.activate.already.active"),
        ("rejected", "error.msg.client.activate.invalid.status"),
    ],
)
def test_activate_refusals(status: str, code: str) -> None:
    plan = plan_command(Command.ACTIVATE, status, None)
    assert isinstance(plan, Violation) and plan.code == code


def test_activation_rechecks_the_level_the_client_was_verified_at() -> None:
    plan = plan_command(Command.ACTIVATE, "verified", "FULL")
    assert isinstance(plan, Plan) and plan.level is KycVerificationType.FULL


@pytest.mark.parametrize(
    "raw",
    [
        {"kyc_verification_types": {"PARTIAL": {"requirements": ["VERIFIED_EMAIL"]}}},
        {
            "kyc_verification_types": {
                "PARTIAL": {"requirements": ["VERIFIED_EMAIL"]},
                "FULL": {"requirements": ["VERIFIED_MOBILE"]},
            }
        },
        {
            "kyc_verification_types": {
                "PARTIAL": {"requirements": ["VERIFIED_EMAIL", "VERIFIED_EMAIL"]},
                "FULL": {"requirements": ["VERIFIED_EMAIL"]},
            }
        },
        {
            "kyc_verification_types": {
                "PARTIAL": {"requirements": ["SELFIE"]},
                "FULL": {"requirements": []},
            }
        },
    ],
)
def test_invalid_configurations_are_refused(raw: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        RequirementsConfig.model_validate(raw)


def test_defaults_are_the_seed_rules() -> None:
    assert DEFAULT_CONFIG.requirements_for(KycVerificationType.PARTIAL) == [
        Requirement.PRIMARY_PHYSICAL_ADDRESS,
        Requirement.IDENTITY_DOCUMENT,
        Requirement.VERIFIED_EMAIL,
        Requirement.VERIFIED_MOBILE,
    ]
    assert DEFAULT_CONFIG.requirements_for(KycVerificationType.FULL)[-1] is (
        Requirement.SSN_ITIN_OR_PHYSICAL_ID
    )
