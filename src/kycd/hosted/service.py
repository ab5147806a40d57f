"""The applicant's side of a verification run.

A session's token (shown once, in ``verification_url``) opens exactly one run
of one applicant: :func:`open_flow` finds the run by the token's SHA-256 and
builds a request context for that run's tenant and environment, acting as
``sdk``. Nothing here takes an API credential, and nothing reaches beyond the
run's customer.

Each page hands in one or two steps: the documents go to the documents
domain's store (re-encoded, EXIF stripped), the step is submitted through
:func:`kycd.verification.service.submit_step`, the automated checks of
:mod:`kycd.hosted.checks` run and are recorded, and their decision moves the
step (as ``system``): GREEN, RED/RETRY with labels, or operator review.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import re
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kycd.core.blobs import BlobStore
from kycd.customers import service as customers
from kycd.customers.models import Customer
from kycd.customers.schemas import CustomerUpdate
from kycd.db import utcnow
from kycd.documents import service as documents
from kycd.documents.models import Document
from kycd.documents.sniff import sniff
from kycd.documents.types import DocumentType
from kycd.errors import Conflict
from kycd.events.service import record_event
from kycd.hosted import checks
from kycd.hosted.checks import Check, CheckResult, Decision, Outcome, PreparedImage
from kycd.hosted.forms import IdentityDocumentForm
from kycd.hosted.models import DocumentFingerprint, HostedCheckResult, HostedConsent
from kycd.tenancy.context import RequestContext
from kycd.tenancy.models import Tenant
from kycd.tenancy.scoping import scope_values, scoped
from kycd.verification import service as verification
from kycd.verification.models import VerificationSession
from kycd.verification.service import RunView, StepView, hash_token
from kycd.verification.transitions import Action, RejectType, ReviewAnswer, ReviewStatus

# secrets.token_urlsafe(32) is 43 characters; anything else is not a token of ours.
TOKEN_FORMAT = re.compile(r"^[A-Za-z0-9_-]{20,128}$")
# Bumped when the privacy notice's text changes, so a consent says which one was agreed to.
NOTICE_VERSION = "2026-11"

# The pages of the flow, in the order the applicant sees them, and the step
# kinds each hands in. Personal details come first so that the documents can
# be compared with them. One photo serves both selfie and liveness: neither is
# judged by software here, both go to an operator.
PAGES: dict[str, tuple[str, ...]] = {
    "questionnaire": ("questionnaire",),
    "identity_doc": ("identity_doc",),
    "selfie": ("selfie", "liveness"),
    "poa": ("poa",),
}
IMAGE_ONLY = frozenset(checks.IMAGE_TYPES)
IMAGE_OR_PDF = IMAGE_ONLY | {"application/pdf"}


class LinkProblem(Exception):
    """The token opens nothing: ``unknown`` (never issued, or mistyped) or
    ``expired`` (the run's time is up, or a newer run replaced it)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PageState(StrEnum):
    OPEN = "open"
    RETRY = "retry"
    WAITING = "waiting"
    DONE = "done"
    REFUSED = "refused"


@dataclass(frozen=True)
class Page:
    name: str
    kinds: tuple[str, ...]
    optional: bool
    state: PageState
    labels: tuple[str, ...]

    @property
    def open(self) -> bool:
        return self.state in {PageState.OPEN, PageState.RETRY}


@dataclass(frozen=True)
class Flow:
    run: VerificationSession
    customer: Customer
    ctx: RequestContext
    view: RunView
    partner: str
    consent_given: bool

    @property
    def pages(self) -> list[Page]:
        return pages_of(self.view)

    def page(self, name: str) -> Page | None:
        return next((p for p in self.pages if p.name == name), None)

    @property
    def next_page(self) -> Page | None:
        return next((p for p in self.pages if p.open and not p.optional), None)

    @property
    def finished(self) -> bool:
        return self.view.is_final


def _page_state(steps: list[StepView]) -> tuple[PageState, tuple[str, ...]]:
    if any(
        s.review_status == ReviewStatus.EXPIRED or s.review_reject_type == RejectType.FINAL
        for s in steps
    ):
        return PageState.REFUSED, ()
    retry = [s for s in steps if s.review_reject_type == RejectType.RETRY]
    if retry:
        labels = tuple(dict.fromkeys(label for s in retry for label in s.reject_labels))
        return PageState.RETRY, labels
    if any(s.review_status == ReviewStatus.PENDING for s in steps):
        return PageState.OPEN, ()
    if all(s.review_answer == ReviewAnswer.GREEN for s in steps):
        return PageState.DONE, ()
    return PageState.WAITING, ()


def pages_of(view: RunView) -> list[Page]:
    """The pages this run's level calls for. Steps the applicant does not hand in
    here (screening; company documents, which this flow does not collect) are
    not pages."""
    result = []
    for name, kinds in PAGES.items():
        steps = [s for s in view.steps if s.kind in kinds]
        if not steps:
            continue
        state, labels = _page_state(steps)
        optional = all(s.optional for s in steps)
        result.append(Page(name, tuple(s.kind for s in steps), optional, state, labels))
    return result


# --- Opening the flow -----------------------------------------------------------------


def open_flow(db: Session, token: str, now: datetime | None = None) -> Flow:
    now = now or utcnow()
    if not TOKEN_FORMAT.match(token):
        raise LinkProblem("unknown")
    # The token is the only key: this is the one lookup not scoped by a
    # credential, and it finds one run at most (token_hash is unique).
    run = db.scalars(
        select(VerificationSession).where(VerificationSession.token_hash == hash_token(token))
    ).first()
    if run is None:
        raise LinkProblem("unknown")
    ctx = RequestContext(
        run.tenant_id, run.environment, actor_type="sdk", actor_id=f"session:{run.id}"
    )
    view = verification.current_run_view(db, ctx, run.customer_id)
    if view is None or view.session_id != run.id:
        raise LinkProblem("expired")  # a newer run replaced this one
    if run.expires_at <= now or view.status == "expired":
        raise LinkProblem("expired")
    customer = customers.get_customer(db, ctx, run.customer_id)
    tenant = db.get(Tenant, run.tenant_id)
    consent = db.scalars(
        scoped(HostedConsent, ctx).where(HostedConsent.session_id == run.id)
    ).first()
    return Flow(
        run=run,
        customer=customer,
        ctx=ctx,
        view=view,
        partner=tenant.name if tenant else "",
        consent_given=consent is not None,
    )


def give_consent(db: Session, flow: Flow, language: str) -> None:
    if flow.consent_given:
        return
    now = utcnow()
    db.add(
        HostedConsent(
            **scope_values(flow.ctx),
            session_id=flow.run.id,
            customer_id=flow.customer.id,
            notice_version=NOTICE_VERSION,
            language=language,
            given_at=now,
        )
    )
    db.flush()
    record_event(
        db,
        flow.ctx,
        "hosted.consent_given",
        customer_id=flow.customer.id,
        payload={
            "sessionId": flow.run.id,
            "noticeVersion": NOTICE_VERSION,
            "language": language,
        },
        at=now,
    )


def _open_page(flow: Flow, name: str) -> Page:
    if not flow.consent_given:
        raise Conflict("Consent to the privacy notice comes first", "consent_required")
    page = flow.page(name)
    if page is None or not page.open:
        raise Conflict("This step has already been handed in", "already_submitted")
    return page


# --- Uploads ------------------------------------------------------------------------


@dataclass(frozen=True)
class PreparedUpload:
    """An uploaded file, sniffed and (for pictures) re-encoded: what gets stored."""

    file_name: str
    content_type: str
    original_size: int
    data: bytes
    image: PreparedImage | None


class UploadRefused(ValueError):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def prepare_upload(
    file_name: str, raw: bytes, max_bytes: int, *, allow_pdf: bool = False
) -> PreparedUpload:
    """Refuse what cannot be stored at all (:class:`UploadRefused` with the form's
    error code); pictures are decoded and re-encoded, PDFs kept as they are."""
    if len(raw) > max_bytes:
        raise UploadRefused("file_size")
    content_type = sniff(raw[:8192]) if raw else None
    allowed = IMAGE_OR_PDF if allow_pdf else IMAGE_ONLY
    if content_type not in allowed:
        raise UploadRefused("file_type")
    assert content_type is not None
    if content_type == "application/pdf":
        return PreparedUpload(file_name, content_type, len(raw), raw, None)
    try:
        image = checks.prepare_image(raw)
    except checks.ImageRejected as exc:
        raise UploadRefused("file_unreadable") from exc
    stem = file_name.rsplit(".", 1)[0] or "photo"
    return PreparedUpload(f"{stem}.jpg", "image/jpeg", len(raw), image.data, image)


def _file_checks(upload: PreparedUpload, max_bytes: int, subject: str) -> list[CheckResult]:
    allowed = IMAGE_OR_PDF if upload.image is None else IMAGE_ONLY
    results = [
        checks.check_file_type(upload.content_type, allowed),
        checks.check_file_size(upload.original_size, max_bytes, subject),
    ]
    if upload.image is not None:
        results += checks.image_checks(upload.image, subject)
    return [
        CheckResult(r.check, r.outcome, r.label, r.detail, r.subject or subject) for r in results
    ]


def _store(
    db: Session,
    flow: Flow,
    upload: PreparedUpload,
    document_type: DocumentType,
    name: str,
    store: BlobStore,
    max_bytes: int,
    *,
    issuing_country: str | None = None,
    expiry_date: date | None = None,
) -> Document:
    return documents.upload_document(
        db,
        flow.ctx,
        flow.customer.id,
        documents.Upload(
            file=io.BytesIO(upload.data),
            file_name=upload.file_name[:250],
            document_type=document_type,
            name=name,
            description=f"Handed in through the hosted flow (session {flow.run.id})",
            issuing_country=issuing_country,
            expiry_date=expiry_date,
        ),
        store,
        # The re-encoded picture may be a little larger than the original.
        max_bytes * 2,
    )


# --- Recording checks and deciding ---------------------------------------------------------


def _next_attempt(db: Session, flow: Flow, kind: str) -> int:
    latest = db.scalar(
        select(func.max(HostedCheckResult.attempt)).where(
            HostedCheckResult.session_id == flow.run.id, HostedCheckResult.step_kind == kind
        )
    )
    return (latest or 0) + 1


def _record_and_decide(
    db: Session,
    flow: Flow,
    kind: str,
    results: list[CheckResult],
    documents_by_subject: dict[str, str],
) -> Decision:
    attempt = _next_attempt(db, flow, kind)
    now = utcnow()
    for result in results:
        db.add(
            HostedCheckResult(
                **scope_values(flow.ctx),
                session_id=flow.run.id,
                customer_id=flow.customer.id,
                step_kind=kind,
                attempt=attempt,
                check=result.check.value,
                outcome=result.outcome.value,
                label=result.label,
                detail=result.detail[:500],
                subject=result.subject,
                document_id=documents_by_subject.get(result.subject or ""),
                created_at=now,
            )
        )
    db.flush()
    decision = checks.decide(results)
    record_event(
        db,
        flow.ctx,
        "hosted.checks_recorded",
        customer_id=flow.customer.id,
        payload={
            "sessionId": flow.run.id,
            "stepKind": kind,
            "attempt": attempt,
            "outcome": decision.outcome.value,
            "labels": list(decision.labels),
            "checks": [
                {"check": r.check.value, "outcome": r.outcome.value, "label": r.label}
                for r in results
            ],
        },
        actor_type="system",
        at=now,
    )
    return decision


def _apply(db: Session, flow: Flow, kind: str, decision: Decision) -> None:
    """The checks' decision moves the step, as ``system``."""
    labels: tuple[str, ...] = ()
    reject_type: str | None = None
    if decision.outcome is Outcome.PASS:
        action = Action.APPROVE
    elif decision.outcome is Outcome.FAIL:
        action, reject_type, labels = Action.REJECT, RejectType.RETRY.value, decision.labels
    else:
        action = Action.SEND_TO_OPERATOR
    verification.review_step(
        db,
        flow.ctx,
        flow.run.id,
        kind,
        action,
        actor_type="system",
        reject_type=reject_type,
        labels=labels,
    )


def _hand_in(
    db: Session,
    flow: Flow,
    kind: str,
    results: list[CheckResult],
    documents_by_subject: dict[str, str] | None = None,
) -> Decision:
    verification.submit_step(db, flow.ctx, flow.customer.id, kind, actor_type="sdk")
    decision = _record_and_decide(db, flow, kind, results, documents_by_subject or {})
    _apply(db, flow, kind, decision)
    return decision


# --- The pages ------------------------------------------------------------------------


def submit_personal_details(db: Session, flow: Flow, data: CustomerUpdate, today: date) -> Decision:
    """The questionnaire: the profile is updated as ``PATCH /v1/customers/{id}``
    would, except names and birth date that contradict what the profile
    already holds, which stay as they are for an operator to compare."""
    _open_page(flow, "questionnaire")
    customer = flow.customer
    names = checks.check_names(
        [
            ("form", data.first_name, data.last_name),
            ("profile", customer.first_name, customer.last_name),
        ]
    )
    birth = checks.check_birth_dates(
        [("form", data.date_of_birth), ("profile", customer.date_of_birth)]
    )
    keep: set[str] = set()
    if names.outcome is not Outcome.PASS:
        keep |= {"first_name", "last_name"}
        names = CheckResult(
            names.check,
            names.outcome,
            names.label,
            f"{names.detail}: form '{data.first_name} {data.last_name}', "
            f"profile '{customer.first_name} {customer.last_name}'",
        )
    if birth.outcome is not Outcome.PASS:
        keep.add("date_of_birth")
        birth = CheckResult(
            birth.check,
            birth.outcome,
            birth.label,
            f"{birth.detail}: form {data.date_of_birth}, profile {customer.date_of_birth}",
        )
    results = [checks.check_age(data.date_of_birth, today), names, birth]
    changes = CustomerUpdate.model_validate(data.model_dump(exclude_unset=True, exclude=keep))
    customers.update_customer(db, flow.ctx, customer.id, changes)
    return _hand_in(db, flow, "questionnaire", results)


def document_number_key(secret: bytes, country: str, number: str) -> str:
    """A keyed hash: duplicates are found without keeping the number in clear."""
    message = f"{country}:{checks.normalise_document_number(number)}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def _customers_with(db: Session, flow: Flow, kind: str, value: str) -> int:
    stmt = select(func.count(func.distinct(DocumentFingerprint.customer_id))).where(
        DocumentFingerprint.tenant_id == flow.ctx.tenant_id,
        DocumentFingerprint.environment == flow.ctx.environment,
        DocumentFingerprint.kind == kind,
        DocumentFingerprint.value == value,
        DocumentFingerprint.customer_id != flow.customer.id,
    )
    return db.scalar(stmt) or 0


def _near_images(db: Session, flow: Flow, phash: str) -> int:
    """Customers with a near-identical image. A linear scan of the tenant's
    hashes: fine for tens of thousands, a BK-tree's job beyond."""
    rows = db.execute(
        select(DocumentFingerprint.customer_id, DocumentFingerprint.value).where(
            DocumentFingerprint.tenant_id == flow.ctx.tenant_id,
            DocumentFingerprint.environment == flow.ctx.environment,
            DocumentFingerprint.kind == "phash",
            DocumentFingerprint.customer_id != flow.customer.id,
        )
    ).all()
    return len(
        {
            customer_id
            for customer_id, value in rows
            if checks.phash_distance(phash, value) <= checks.MAX_PHASH_DISTANCE
        }
    )


def _fingerprint(db: Session, flow: Flow, document_id: str, kind: str, value: str) -> None:
    db.add(
        DocumentFingerprint(
            **scope_values(flow.ctx),
            customer_id=flow.customer.id,
            document_id=document_id,
            kind=kind,
            value=value,
        )
    )


def mrz_birth_date(yymmdd: str, today: date) -> date | None:
    """A zone's two-digit birth year, in the century that puts it in the past."""
    try:
        day = datetime.strptime(yymmdd, "%y%m%d").date()
    except ValueError:
        return None
    if day > today:
        day = day.replace(year=day.year - 100)
    return day


def submit_identity_document(
    db: Session,
    flow: Flow,
    form: IdentityDocumentForm,
    front: PreparedUpload,
    back: PreparedUpload | None,
    *,
    store: BlobStore,
    max_bytes: int,
    secret: bytes,
    today: date,
) -> Decision:
    _open_page(flow, "identity_doc")
    customer = flow.customer
    type_name = form.document_type.value.replace("_", " ").title()
    stored = {
        "front": _store(
            db,
            flow,
            front,
            form.document_type,
            f"{type_name} (front)",
            store,
            max_bytes,
            issuing_country=form.issuing_country,
            expiry_date=form.expiry_date,
        )
    }
    if back is not None:
        stored["back"] = _store(
            db,
            flow,
            back,
            form.document_type,
            f"{type_name} (back)",
            store,
            max_bytes,
            issuing_country=form.issuing_country,
            expiry_date=form.expiry_date,
        )
    results = _file_checks(front, max_bytes, "front")
    if back is not None:
        results += _file_checks(back, max_bytes, "back")
    results.append(checks.check_expiry(form.expiry_date, today))
    mrz_result, mrz = checks.check_mrz(form.mrz)
    results.append(mrz_result)
    if mrz is not None:
        results.append(
            checks.check_mrz_consistency(
                mrz, form.document_number, form.expiry_date, customer.date_of_birth
            )
        )
        results.append(
            checks.check_names(
                [
                    ("document", mrz.given_names, mrz.surname),
                    ("profile", customer.first_name, customer.last_name),
                ]
            )
        )
        results.append(
            checks.check_birth_dates(
                [
                    ("document", mrz_birth_date(mrz.birth_date, today)),
                    ("profile", customer.date_of_birth),
                ]
            )
        )
    number_key = document_number_key(secret, form.issuing_country, form.document_number)
    results.append(
        checks.check_duplicate_number(_customers_with(db, flow, "document_number", number_key))
    )
    if front.image is not None:
        results.append(
            checks.check_duplicate_image(_near_images(db, flow, front.image.phash), "front")
        )
    results.append(
        checks.needs_person(
            Check.DOCUMENT_AUTHENTICITY,
            "software here cannot tell a genuine document from a forgery: a person looks",
        )
    )
    _fingerprint(db, flow, stored["front"].id, "document_number", number_key)
    if front.image is not None:
        _fingerprint(db, flow, stored["front"].id, "phash", front.image.phash)
    by_subject = {subject: document.id for subject, document in stored.items()}
    return _hand_in(db, flow, "identity_doc", results, by_subject)


def submit_selfie(
    db: Session, flow: Flow, selfie: PreparedUpload, *, store: BlobStore, max_bytes: int
) -> dict[str, Decision]:
    page = _open_page(flow, "selfie")
    document = _store(db, flow, selfie, DocumentType.SELFIE, "Selfie", store, max_bytes)
    quality = _file_checks(selfie, max_bytes, "selfie")
    # Whether the face is the document's, and a live person's, is for a person
    # (or a provider's check, seed 004) to say: never a pretend automatic pass.
    judged = {
        "selfie": checks.needs_person(
            Check.FACE_MATCH, "face match with the identity document is done by an operator"
        ),
        "liveness": checks.needs_person(
            Check.LIVENESS, "liveness cannot be judged from a still photo by software here"
        ),
    }
    return {
        kind: _hand_in(db, flow, kind, [*quality, judged[kind]], {"selfie": document.id})
        for kind in page.kinds
        if _step_open(flow, kind)
    }


def _step_open(flow: Flow, kind: str) -> bool:
    """Only steps still waiting for the applicant (a RETRY may reopen one of two)."""
    step = flow.view.step(kind)
    return step is not None and (
        step.review_status == ReviewStatus.PENDING or step.review_reject_type == RejectType.RETRY
    )


def submit_proof_of_address(
    db: Session,
    flow: Flow,
    document_type: DocumentType,
    upload: PreparedUpload,
    *,
    store: BlobStore,
    max_bytes: int,
) -> Decision:
    _open_page(flow, "poa")
    name = document_type.value.replace("_", " ").title()
    document = _store(db, flow, upload, document_type, name, store, max_bytes)
    results = _file_checks(upload, max_bytes, "poa")
    results.append(
        checks.needs_person(
            Check.DOCUMENT_AUTHENTICITY,
            "the name, address and date on the document are read by a person",
        )
    )
    return _hand_in(db, flow, "poa", results, {"poa": document.id})


def check_results(db: Session, ctx: RequestContext, session_id: str) -> list[HostedCheckResult]:
    """Every recorded check of a run, oldest first: what an operator reads."""
    stmt = (
        scoped(HostedCheckResult, ctx)
        .where(HostedCheckResult.session_id == session_id)
        .order_by(HostedCheckResult.created_at, HostedCheckResult.step_kind, HostedCheckResult.id)
    )
    return list(db.scalars(stmt).all())
