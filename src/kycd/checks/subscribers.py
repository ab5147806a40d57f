"""Checks feed the domain (seed 004, issue #6 item 6): a PASSED provider check
completes the steps of the customer's current verification run that collect
the same evidence, in the transaction that decided the check.

=====================  ==================================================
``KYC``                ``identity_doc``; with method ``VIDEO_ID`` also
                       ``selfie`` and ``liveness`` (a video identification
                       films the applicant live next to the document)
``POR``                ``poa``
``COMPLIANCE``         ``aml`` and ``adverse_media`` (the provider screened)
``INSTRUMENT_FIT``     nothing: suitability is not KYC
=====================  ==================================================

A KYC check does not complete ``questionnaire``: the provider verified who
the applicant is, not the answers the tenant's questionnaire collects.
Steps already decided for good, and steps the run's level does not have, are
left alone (:func:`kycd.verification.service.complete_steps`); with no open
run nothing happens, and the compliance status still counts the check.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from kycd.checks.outcome import CheckType
from kycd.checks.service import EVENT_PASSED
from kycd.events.models import Event
from kycd.events.service import subscribe
from kycd.tenancy.context import RequestContext
from kycd.verification import service as verification

VIDEO_IDENTIFICATION = "VIDEO_ID"

STEPS_COMPLETED_BY: dict[str, frozenset[str]] = {
    CheckType.KYC.value: frozenset({"identity_doc"}),
    CheckType.POR.value: frozenset({"poa"}),
    CheckType.COMPLIANCE.value: frozenset({"aml", "adverse_media"}),
}
VIDEO_ID_STEPS = frozenset({"selfie", "liveness"})


def steps_completed_by(check_type: str, method: str | None) -> frozenset[str]:
    kinds = STEPS_COMPLETED_BY.get(check_type, frozenset())
    if check_type == CheckType.KYC.value and method == VIDEO_IDENTIFICATION:
        kinds |= VIDEO_ID_STEPS
    return kinds


def on_check_passed(db: Session, ctx: RequestContext, event: Event) -> None:
    check = event.payload
    kinds = steps_completed_by(str(check.get("type")), check.get("method"))
    if event.customer_id is None or not kinds:
        return
    verification.complete_steps(
        db,
        ctx,
        event.customer_id,
        set(kinds),
        actor_type="system",
        source=f"user_check:{check.get('id')}",
    )


subscribe([EVENT_PASSED], on_check_passed)
