from __future__ import annotations

import pytest

from kycd.verification.transitions import Action, IllegalTransition, StepState, apply

PENDING = StepState("pending")
SUBMITTED = StepState("submitted")
IN_REVIEW = StepState("in_review")
OPERATOR = StepState("awaitingOperatorReview")
GREEN = StepState("completed", "GREEN")
RETRY = StepState("completed", "RED", "RETRY", ("BAD_PHOTO",))
FINAL = StepState("completed", "RED", "FINAL", ("FORGERY",))
EXPIRED = StepState("expired", "RED", "EXPIRED")
ALL_STATES = {
    "pending": PENDING,
    "submitted": SUBMITTED,
    "in_review": IN_REVIEW,
    "operator": OPERATOR,
    "green": GREEN,
    "retry": RETRY,
    "final": FINAL,
    "expired": EXPIRED,
}

# (state, action) -> resulting state; every pair not listed is illegal.
LEGAL = {
    ("pending", Action.SUBMIT): SUBMITTED,
    ("retry", Action.SUBMIT): SUBMITTED,
    ("submitted", Action.START_REVIEW): IN_REVIEW,
    ("submitted", Action.SEND_TO_OPERATOR): OPERATOR,
    ("in_review", Action.SEND_TO_OPERATOR): OPERATOR,
    **{
        (s, Action.APPROVE): GREEN
        for s in ("pending", "submitted", "in_review", "operator", "retry")
    },
    **{
        (s, Action.REJECT): StepState("completed", "RED", "RETRY", ("BLURRY",))
        for s in ("pending", "submitted", "in_review", "operator", "retry")
    },
    **{
        (s, Action.EXPIRE): EXPIRED
        for s in ("pending", "submitted", "in_review", "operator", "retry")
    },
}


@pytest.mark.parametrize("state_name", sorted(ALL_STATES))
@pytest.mark.parametrize("action", list(Action))
def test_transition_table(state_name: str, action: Action) -> None:
    state = ALL_STATES[state_name]
    expected = LEGAL.get((state_name, action))
    kwargs = {"reject_type": "RETRY", "labels": ("BLURRY",)} if action is Action.REJECT else {}
    if expected is None:
        with pytest.raises(IllegalTransition):
            apply(state, action, **kwargs)  # type: ignore[arg-type]
    else:
        assert apply(state, action, **kwargs) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("reject_type", "labels", "message"),
    [
        ("EXPIRED", ("X_Y",), "FINAL or RETRY"),
        (None, ("X_Y",), "FINAL or RETRY"),
        ("FINAL", (), "at least one"),
        ("FINAL", ("lower",), "UPPER_SNAKE_CASE"),
        ("FINAL", tuple(f"L_{i}" for i in range(21)), "at most 20"),
    ],
)
def test_rejections_need_a_type_and_valid_labels(
    reject_type: str | None, labels: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        apply(SUBMITTED, Action.REJECT, reject_type=reject_type, labels=labels)


def test_resubmission_clears_the_previous_verdict() -> None:
    again = apply(RETRY, Action.SUBMIT)
    assert (again.review_answer, again.reject_type, again.reject_labels) == (None, None, ())


def test_final_states() -> None:
    assert {name for name, s in ALL_STATES.items() if s.is_final} == {"green", "final", "expired"}
