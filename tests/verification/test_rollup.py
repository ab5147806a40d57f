from __future__ import annotations

import pytest

from kycd.verification.rollup import IDENTITY_THEFT_LABELS, StepInput, roll_up
from kycd.verification.transitions import StepState

P = StepState("pending")
S = StepState("submitted")
R = StepState("in_review")
O = StepState("awaitingOperatorReview")  # noqa: E741
G = StepState("completed", "GREEN")
RETRY = StepState("completed", "RED", "RETRY", ("UNSATISFACTORY_PHOTOS",))
FINAL = StepState("completed", "RED", "FINAL", ("DOCUMENT_EXPIRED",))
THEFT = StepState("completed", "RED", "FINAL", ("SELFIE_MISMATCH",))
X = StepState("expired", "RED", "EXPIRED")


def steps(required: list[StepState], optional: list[StepState] | None = None) -> list[StepInput]:
    rows = [StepInput(f"r{i}", False, s) for i, s in enumerate(required)]
    rows += [StepInput(f"o{i}", True, s) for i, s in enumerate(optional or [])]
    return rows


# required steps, optional steps -> (status, reviewStatus, reviewAnswer, rejectType, onboarding)
CASES = [
    ([P, P], [], ("created", "pending", None, None, "PENDING")),
    ([G, P], [], ("in_progress", "pending", None, None, "PENDING")),
    ([S, P], [], ("submitted", "submitted", None, None, "PROCESSING")),
    ([S, R], [], ("in_review", "in_review", None, None, "PROCESSING")),
    ([R, O], [], ("in_review", "awaitingOperatorReview", None, None, "PROCESSING")),
    ([G, G], [], ("approved", "completed", "GREEN", None, "APPROVED")),
    ([G, G], [P], ("approved", "completed", "GREEN", None, "APPROVED")),
    ([G, G], [RETRY], ("approved", "completed", "GREEN", None, "APPROVED")),
    # A handed-in optional step is decided before the run is.
    ([G, G], [S], ("submitted", "submitted", None, None, "PROCESSING")),
    ([G, RETRY], [], ("in_progress", "completed", "RED", "RETRY", "PENDING")),
    ([RETRY, P], [], ("in_progress", "pending", None, None, "PENDING")),
    ([RETRY, S], [], ("submitted", "submitted", None, None, "PROCESSING")),
    ([G, FINAL], [], ("rejected", "completed", "RED", "FINAL", "DENIED_COMPLIANCE")),
    ([P, FINAL], [], ("rejected", "completed", "RED", "FINAL", "DENIED_COMPLIANCE")),
    ([G, THEFT], [], ("rejected", "completed", "RED", "FINAL", "DENIED_IDENTITY_THEFT")),
    ([G, G], [THEFT], ("rejected", "completed", "RED", "FINAL", "DENIED_IDENTITY_THEFT")),
    ([FINAL, X], [], ("rejected", "completed", "RED", "FINAL", "DENIED_COMPLIANCE")),
    ([G, X], [], ("expired", "expired", "RED", "EXPIRED", "EXPIRED")),
    ([X, X], [X], ("expired", "expired", "RED", "EXPIRED", "EXPIRED")),
]


@pytest.mark.parametrize(("required", "optional", "expected"), CASES)
def test_roll_up(
    required: list[StepState], optional: list[StepState], expected: tuple[object, ...]
) -> None:
    outcome = roll_up(steps(required, optional))
    got = (
        outcome.status,
        outcome.review_status,
        outcome.review_answer,
        outcome.reject_type,
        outcome.onboarding_status,
    )
    assert got == expected


def test_rejection_labels_come_from_the_deciding_steps() -> None:
    outcome = roll_up(steps([FINAL, THEFT, RETRY]))
    assert outcome.reject_labels == ("DOCUMENT_EXPIRED", "SELFIE_MISMATCH")
    retry = roll_up(steps([G, RETRY]))
    assert retry.reject_labels == ("UNSATISFACTORY_PHOTOS",)


@pytest.mark.parametrize("label", sorted(IDENTITY_THEFT_LABELS))
def test_every_identity_theft_label_denies_for_identity_theft(label: str) -> None:
    rejected = StepState("completed", "RED", "FINAL", ("OTHER", label))
    assert roll_up(steps([rejected])).onboarding_status == "DENIED_IDENTITY_THEFT"


def test_identity_theft_labels_on_a_retry_do_not_deny() -> None:
    retry = StepState("completed", "RED", "RETRY", ("FORGERY",))
    assert roll_up(steps([retry])).onboarding_status == "PENDING"
