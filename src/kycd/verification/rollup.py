"""From a run's steps to the applicant's verdict. Pure: no I/O.

One function, :func:`roll_up`, decides the run's status, its review in the
step vocabulary of seed 002 (``reviewStatus``, ``reviewAnswer``,
``reviewRejectType``, ``rejectLabels``) and the ``onboardingStatus`` of seed
000. The rules, first match wins:

1. A step rejected FINAL ends the run: ``rejected``, RED/FINAL. The
   onboardingStatus is DENIED_IDENTITY_THEFT when any FINAL-rejected step
   carries a label of :data:`IDENTITY_THEFT_LABELS`, else DENIED_COMPLIANCE.
2. An expired step: ``expired``, RED/EXPIRED, EXPIRED.
3. Every required step GREEN and no step waiting for a verdict: ``approved``,
   GREEN, APPROVED. Optional steps never started do not hold approval back;
   one handed in is decided first.
4. A step waiting for a verdict: ``in_review`` (``submitted`` when none is in
   review yet), no answer, PROCESSING.
5. Every required step answered, some RED/RETRY: the run stays open for the
   applicant to try again (``in_progress``), RED/RETRY, PENDING.
6. Otherwise the applicant has work to do: ``in_progress`` once any step
   moved, ``created`` before, PENDING.

Rules 1, 2, 3 and 5 are verdicts: reaching one (or a different one) is what
emits ``applicantReviewed``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from kycd.verification.transitions import RejectType, ReviewAnswer, ReviewStatus, StepState

# Reject labels that say the applicant is not who they claim to be: a forged or
# template document, a face that is not the document's, a spoofed liveness
# check, a known fraud pattern or someone else acting for the applicant. A
# FINAL rejection with one of these is identity theft, not a compliance refusal.
IDENTITY_THEFT_LABELS = frozenset(
    {
        "FORGERY",
        "DOCUMENT_TEMPLATE",
        "SELFIE_MISMATCH",
        "FRAUDULENT_LIVENESS",
        "FRAUDULENT_PATTERNS",
        "STOLEN_IDENTITY",
        "IMPERSONATION",
        "THIRD_PARTY_INVOLVED",
    }
)


class RunStatus(StrEnum):
    CREATED = "created"
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


FINAL_RUN_STATUSES = frozenset({RunStatus.APPROVED, RunStatus.REJECTED, RunStatus.EXPIRED})


class OnboardingStatus(StrEnum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    APPROVED = "APPROVED"
    DENIED_COMPLIANCE = "DENIED_COMPLIANCE"
    DENIED_IDENTITY_THEFT = "DENIED_IDENTITY_THEFT"
    EXPIRED = "EXPIRED"


@dataclass(frozen=True)
class StepInput:
    kind: str
    optional: bool
    state: StepState


@dataclass(frozen=True)
class RunOutcome:
    status: str
    review_status: str
    review_answer: str | None
    reject_type: str | None
    reject_labels: tuple[str, ...]
    onboarding_status: str

    @property
    def has_verdict(self) -> bool:
        return self.review_answer is not None

    @property
    def verdict(self) -> tuple[str | None, str | None, tuple[str, ...]]:
        return (self.review_answer, self.reject_type, self.reject_labels)


def _labels(steps: Sequence[StepInput]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for step in steps:
        seen.update(dict.fromkeys(step.state.reject_labels))
    return tuple(seen)


def _red(
    status: RunStatus, reject: RejectType, steps: Sequence[StepInput], onboarding: str
) -> RunOutcome:
    review = ReviewStatus.EXPIRED if reject is RejectType.EXPIRED else ReviewStatus.COMPLETED
    return RunOutcome(
        status.value, review.value, ReviewAnswer.RED.value, reject.value, _labels(steps), onboarding
    )


def roll_up(steps: Sequence[StepInput]) -> RunOutcome:
    final = [s for s in steps if s.state.reject_type == RejectType.FINAL]
    if final:
        theft = any(IDENTITY_THEFT_LABELS.intersection(s.state.reject_labels) for s in final)
        onboarding = (
            OnboardingStatus.DENIED_IDENTITY_THEFT if theft else OnboardingStatus.DENIED_COMPLIANCE
        )
        return _red(RunStatus.REJECTED, RejectType.FINAL, final, onboarding.value)
    if any(s.state.review_status == ReviewStatus.EXPIRED for s in steps):
        return _red(RunStatus.EXPIRED, RejectType.EXPIRED, [], OnboardingStatus.EXPIRED.value)
    required = [s for s in steps if not s.optional]
    if not required:
        # Only a run without steps (none can be created) gets here; it has nothing to approve.
        return RunOutcome(
            RunStatus.CREATED.value,
            ReviewStatus.PENDING.value,
            None,
            None,
            (),
            OnboardingStatus.PENDING.value,
        )
    awaiting = [s for s in steps if s.state.awaits_verdict]
    if not awaiting and all(s.state.is_green for s in required):
        return RunOutcome(
            RunStatus.APPROVED.value,
            ReviewStatus.COMPLETED.value,
            ReviewAnswer.GREEN.value,
            None,
            (),
            OnboardingStatus.APPROVED.value,
        )
    if awaiting:
        return _awaiting(awaiting)
    if all(s.state.review_answer is not None for s in required):
        retry = [s for s in required if s.state.is_retry_rejected]
        return _red(RunStatus.IN_PROGRESS, RejectType.RETRY, retry, OnboardingStatus.PENDING.value)
    moved = any(s.state != StepState() for s in steps)
    status = RunStatus.IN_PROGRESS if moved else RunStatus.CREATED
    return RunOutcome(
        status.value, ReviewStatus.PENDING.value, None, None, (), OnboardingStatus.PENDING.value
    )


def _awaiting(awaiting: Sequence[StepInput]) -> RunOutcome:
    statuses = {s.state.review_status for s in awaiting}
    if ReviewStatus.AWAITING_OPERATOR_REVIEW in statuses:
        status, review = RunStatus.IN_REVIEW, ReviewStatus.AWAITING_OPERATOR_REVIEW
    elif ReviewStatus.IN_REVIEW in statuses:
        status, review = RunStatus.IN_REVIEW, ReviewStatus.IN_REVIEW
    else:
        status, review = RunStatus.SUBMITTED, ReviewStatus.SUBMITTED
    return RunOutcome(status.value, review.value, None, None, (), OnboardingStatus.PROCESSING.value)
