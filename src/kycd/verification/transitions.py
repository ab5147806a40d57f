"""The legal transitions of one verification step. Pure: no I/O.

A step's state is its ``reviewStatus``, ``reviewAnswer``, ``reviewRejectType``
and ``rejectLabels`` (the vocabulary of seed 002)::

    pending ──submit──> submitted ──start_review──> in_review
                           │  └──────send_to_operator──────┴──> awaitingOperatorReview
    pending, submitted, in_review, awaitingOperatorReview, completed/RED/RETRY
        ──approve──> completed/GREEN
        ──reject(FINAL|RETRY, labels)──> completed/RED/FINAL|RETRY
    completed/RED/RETRY ──submit──> submitted      (the applicant tries again)
    anything without a final verdict ──expire──> expired/RED/EXPIRED

A GREEN step, a FINAL rejection and an expired step are final: nothing moves
them again. Any other move is illegal (the API answers 409).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import StrEnum


class ReviewStatus(StrEnum):
    PENDING = "pending"
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    COMPLETED = "completed"
    AWAITING_OPERATOR_REVIEW = "awaitingOperatorReview"
    EXPIRED = "expired"


class ReviewAnswer(StrEnum):
    GREEN = "GREEN"
    RED = "RED"


class RejectType(StrEnum):
    FINAL = "FINAL"
    RETRY = "RETRY"
    # Set only by expiry; a reviewer cannot choose it.
    EXPIRED = "EXPIRED"


class Action(StrEnum):
    SUBMIT = "submit"
    START_REVIEW = "start_review"
    SEND_TO_OPERATOR = "send_to_operator"
    APPROVE = "approve"
    REJECT = "reject"
    EXPIRE = "expire"


REJECT_LABEL = re.compile(r"^[A-Z][A-Z0-9_]{1,63}$")
MAX_REJECT_LABELS = 20


class IllegalTransition(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class StepState:
    review_status: str = ReviewStatus.PENDING.value
    review_answer: str | None = None
    reject_type: str | None = None
    reject_labels: tuple[str, ...] = ()

    @property
    def is_retry_rejected(self) -> bool:
        return (
            self.review_status == ReviewStatus.COMPLETED
            and self.review_answer == ReviewAnswer.RED
            and self.reject_type == RejectType.RETRY
        )

    @property
    def is_final(self) -> bool:
        if self.review_status == ReviewStatus.EXPIRED:
            return True
        return self.review_status == ReviewStatus.COMPLETED and not self.is_retry_rejected

    @property
    def awaits_verdict(self) -> bool:
        """Handed in and not yet decided: someone (or something) must review it."""
        return self.review_status in _AWAITING_VERDICT

    @property
    def is_green(self) -> bool:
        return self.review_answer == ReviewAnswer.GREEN


_AWAITING_VERDICT = frozenset(
    {ReviewStatus.SUBMITTED, ReviewStatus.IN_REVIEW, ReviewStatus.AWAITING_OPERATOR_REVIEW}
)
_DECIDABLE = _AWAITING_VERDICT | {ReviewStatus.PENDING}


def _require(condition: bool, state: StepState, action: Action) -> None:
    if not condition:
        verdict = f"/{state.review_answer}" if state.review_answer else ""
        kind = f"/{state.reject_type}" if state.reject_type else ""
        raise IllegalTransition(
            f"cannot {action.value} a step that is {state.review_status}{verdict}{kind}"
        )


def validate_labels(labels: tuple[str, ...]) -> None:
    if len(labels) > MAX_REJECT_LABELS:
        raise ValueError(f"at most {MAX_REJECT_LABELS} reject labels")
    for label in labels:
        if not REJECT_LABEL.match(label):
            raise ValueError(f"reject label '{label}' must be UPPER_SNAKE_CASE (2..64)")


def apply(
    state: StepState,
    action: Action,
    *,
    reject_type: str | None = None,
    labels: tuple[str, ...] = (),
) -> StepState:
    """The state after ``action``, or :class:`IllegalTransition`."""
    if action is Action.SUBMIT:
        _require(
            state.review_status == ReviewStatus.PENDING or state.is_retry_rejected, state, action
        )
        return StepState(ReviewStatus.SUBMITTED.value)
    if action is Action.START_REVIEW:
        _require(state.review_status == ReviewStatus.SUBMITTED, state, action)
        return replace(state, review_status=ReviewStatus.IN_REVIEW.value)
    if action is Action.SEND_TO_OPERATOR:
        _require(
            state.review_status in {ReviewStatus.SUBMITTED, ReviewStatus.IN_REVIEW}, state, action
        )
        return replace(state, review_status=ReviewStatus.AWAITING_OPERATOR_REVIEW.value)
    if action is Action.APPROVE:
        _require(state.review_status in _DECIDABLE or state.is_retry_rejected, state, action)
        return StepState(ReviewStatus.COMPLETED.value, ReviewAnswer.GREEN.value)
    if action is Action.REJECT:
        _require(state.review_status in _DECIDABLE or state.is_retry_rejected, state, action)
        if reject_type not in {RejectType.FINAL, RejectType.RETRY}:
            raise ValueError("reject type must be FINAL or RETRY")
        if not labels:
            raise ValueError("a rejection needs at least one reject label")
        validate_labels(labels)
        return StepState(
            ReviewStatus.COMPLETED.value, ReviewAnswer.RED.value, str(reject_type), labels
        )
    _require(not state.is_final, state, action)
    return StepState(ReviewStatus.EXPIRED.value, ReviewAnswer.RED.value, RejectType.EXPIRED.value)
