"""When a validated check PASSES or FAILS, and how long the worker waits between attempts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from kycd.checks.outcome import CheckFacts, CheckType, FailureReason, RetryPolicy, decide

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
RECENT = NOW - timedelta(days=30)


@pytest.mark.parametrize(
    ("facts", "reason"),
    [
        (CheckFacts(CheckType.KYC, RECENT, date(2030, 1, 1), evidence_size=10), None),
        (
            CheckFacts(CheckType.KYC, RECENT, date(2030, 1, 1), evidence_size=0),
            FailureReason.EVIDENCE_EMPTY,
        ),
        (
            CheckFacts(CheckType.KYC, RECENT, date(2026, 6, 14), evidence_size=10),
            FailureReason.DOCUMENT_EXPIRED,
        ),
        (CheckFacts(CheckType.KYC, RECENT, NOW.date(), evidence_size=10), None),
        (
            CheckFacts(
                CheckType.KYC, NOW - timedelta(days=800), date(2030, 1, 1), evidence_size=10
            ),
            FailureReason.CHECK_OUTDATED,
        ),
        (CheckFacts(CheckType.POR, RECENT, evidence_size=2048), None),
        (CheckFacts(CheckType.POR, RECENT, evidence_size=None), FailureReason.EVIDENCE_EMPTY),
        (CheckFacts(CheckType.INSTRUMENT_FIT, RECENT, suitability=True), None),
        (
            CheckFacts(CheckType.INSTRUMENT_FIT, RECENT, suitability=False),
            FailureReason.INSTRUMENT_UNSUITABLE,
        ),
        (CheckFacts(CheckType.COMPLIANCE, RECENT), None),
        (CheckFacts(CheckType.COMPLIANCE, NOW - timedelta(days=731)), FailureReason.CHECK_OUTDATED),
    ],
)
def test_decide(facts: CheckFacts, reason: FailureReason | None) -> None:
    assert decide(facts, NOW) == reason


def test_backoff_doubles_up_to_the_cap_and_attempts_run_out() -> None:
    policy = RetryPolicy(max_attempts=4, base=timedelta(seconds=60), cap=timedelta(minutes=5))
    delays = [policy.delay_after(n) for n in range(1, 6)]
    assert delays == [
        timedelta(seconds=60),
        timedelta(seconds=120),
        timedelta(seconds=240),
        timedelta(minutes=5),
        timedelta(minutes=5),
    ]
    assert not policy.exhausted(3)
    assert policy.exhausted(4)
    assert policy.delay_after(10_000) == timedelta(minutes=5)
