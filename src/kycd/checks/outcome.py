"""Pure rules for a check's life: its statuses, the decision PASSED or FAILED,
and the pause between two attempts to fetch its evidence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from kycd.checks.validators import confirmed_at_problem, expiration_problem


class CheckType(StrEnum):
    KYC = "KYC"
    POR = "POR"
    INSTRUMENT_FIT = "INSTRUMENT_FIT"
    COMPLIANCE = "COMPLIANCE"


class CheckStatus(StrEnum):
    # Recorded; the evidence behind data_download_link is still to be fetched.
    ACCEPTED = "ACCEPTED"
    # The body was valid and the evidence (if the type has any) is stored.
    VALIDATED = "VALIDATED"
    PASSED = "PASSED"
    FAILED = "FAILED"


class FailureReason(StrEnum):
    EVIDENCE_UNAVAILABLE = "EVIDENCE_UNAVAILABLE"
    EVIDENCE_TOO_LARGE = "EVIDENCE_TOO_LARGE"
    EVIDENCE_EMPTY = "EVIDENCE_EMPTY"
    EVIDENCE_ADDRESS_REFUSED = "EVIDENCE_ADDRESS_REFUSED"
    CHECK_OUTDATED = "CHECK_OUTDATED"
    DOCUMENT_EXPIRED = "DOCUMENT_EXPIRED"
    INSTRUMENT_UNSUITABLE = "INSTRUMENT_UNSUITABLE"


# Types whose result is only as good as the file behind data_download_link.
EVIDENCE_TYPES = frozenset({CheckType.KYC, CheckType.POR})


@dataclass(frozen=True)
class CheckFacts:
    """What the decision looks at, taken from a validated check."""

    type: CheckType
    check_confirmed_at: datetime
    document_expiration_date: date | None = None
    suitability: bool | None = None
    evidence_size: int | None = None


def decide(facts: CheckFacts, now: datetime) -> FailureReason | None:
    """The reason a validated check FAILS, or None when it PASSES.

    Time has passed since the check was posted (the evidence may have taken
    hours to fetch), so the date rules are applied again at decision time.
    """
    if facts.type in EVIDENCE_TYPES and not facts.evidence_size:
        return FailureReason.EVIDENCE_EMPTY
    if confirmed_at_problem(facts.check_confirmed_at, now) is not None:
        return FailureReason.CHECK_OUTDATED
    if facts.document_expiration_date is not None and (
        expiration_problem(facts.document_expiration_date, now.date()) is not None
    ):
        return FailureReason.DOCUMENT_EXPIRED
    if facts.type is CheckType.INSTRUMENT_FIT and facts.suitability is not True:
        return FailureReason.INSTRUMENT_UNSUITABLE
    return None


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    base: timedelta
    cap: timedelta

    def delay_after(self, attempts: int) -> timedelta:
        """Exponential backoff: base, 2 * base, 4 * base, ... never more than ``cap``."""
        exponent = max(attempts - 1, 0)
        # Bounded exponent: 2**62 seconds would overflow timedelta.
        delay: timedelta = self.base * (2 ** min(exponent, 30))
        return min(delay, self.cap)

    def exhausted(self, attempts: int) -> bool:
        return attempts >= self.max_attempts
