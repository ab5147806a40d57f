"""The console's pages. Each handler: authenticate the operator, check the
role, call the domain services with the operator's request context, render."""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session

from kycd.api.deps import DbSession, get_database
from kycd.api.pagination import PageParams
from kycd.checks import service as checks
from kycd.compliance import service as compliance
from kycd.compliance.schemas import status_data as compliance_data
from kycd.console import overview, passwords, previews, review, service, triage
from kycd.console.models import Role
from kycd.console.permissions import Action
from kycd.console.web import (
    LOGIN_CSRF_COOKIE,
    PACKAGE_DIR,
    SECURITY_HEADERS,
    SESSION_COOKIE,
    ConsoleRoute,
    LoginRequired,
    check_csrf,
    check_origin,
    clear_cookie,
    client_ip,
    redirect,
    render,
    require,
    safe_next,
    set_cookie,
)
from kycd.core.blobs import LocalBlobStore
from kycd.customers import service as customers
from kycd.customers.models import Customer, CustomerStatus, CustomerType
from kycd.customers.schemas import CustomerFilters
from kycd.db import utcnow
from kycd.documents import service as documents
from kycd.errors import BadRequest, NotFound
from kycd.identifiers import service as identifiers
from kycd.organization import service as organization
from kycd.risk import service as risk
from kycd.screening import service as screening
from kycd.screening.schemas import ReviewDecision, ReviewRequest
from kycd.tenancy import service as tenancy
from kycd.tenancy.context import RequestContext
from kycd.tenancy.scopes import ALL_SCOPES, Environment
from kycd.verification import service as verification
from kycd.verification.levels import StepKind
from kycd.verification.transitions import Action as StepAction
from kycd.verification.transitions import RejectType, validate_labels
from kycd.webhooks import service as webhooks
from kycd.webhooks.rules import DeliveryStatus

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

PAGE_SIZE = 25
STATIC_FILES = {"console.css": "text/css", "console.js": "text/javascript"}


def _login_url(active: service.ActiveSession) -> str:
    return "/console/login?" + urlencode({"tenant": active.tenant_name})


# Who is asking --------------------------------------------------------------------------


def console_db(request: Request, db: DbSession) -> Session:
    """The request's unit of work, remembered so that an error page can roll it
    back (see ConsoleRoute)."""
    request.state.console_db = db
    return db


ConsoleDb = Annotated[Session, Depends(console_db)]


def current_session(request: Request, db: ConsoleDb) -> service.ActiveSession:
    token = request.cookies.get(SESSION_COOKIE)
    active = service.resolve_session(db, token) if token else None
    if active is None:
        next_path = request.url.path if request.method == "GET" else "/console/dashboard"
        raise LoginRequired(next_path)
    if active.needs_touch:
        if request.method == "GET":
            # GET requests run on a read-only unit of work; the touch gets its own.
            with get_database(request).transaction() as writer:
                service.touch_session(writer, active.session.id)
        else:
            service.touch_session(db, active.session.id)
    request.state.console_session = active
    return active


def posting_session(
    request: Request,
    active: Annotated[service.ActiveSession, Depends(current_session)],
    csrf_token: Annotated[str, Form()] = "",
) -> service.ActiveSession:
    """The operator of a form POST, after the CSRF checks every POST must pass."""
    check_origin(request)
    check_csrf(active.session.csrf_token, csrf_token)
    return active


Viewing = Annotated[service.ActiveSession, Depends(current_session)]
Posting = Annotated[service.ActiveSession, Depends(posting_session)]


# Static files, login, logout, environment -----------------------------------------------


@router.get("/static/{name}")
def static_file(name: str) -> Response:
    media_type = STATIC_FILES.get(name)
    if media_type is None:
        raise NotFound("No such file")
    response = FileResponse(PACKAGE_DIR / "static" / name, media_type=media_type)
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@router.get("")
@router.get("/")
def console_root() -> Response:
    return redirect("/console/dashboard")


def _login_page(
    request: Request,
    *,
    next_path: str,
    tenant: str = "",
    email: str = "",
    environment: str = Environment.PRODUCTION.value,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or service.new_login_csrf_token()
    response = render(
        request,
        "login.html",
        {
            "login_csrf": token,
            "next": next_path,
            "tenant": tenant,
            "email": email,
            "environment": environment,
            "environments": [e.value for e in Environment],
            "error": error,
        },
        status_code=status_code,
    )
    set_cookie(request, response, LOGIN_CSRF_COOKIE, token)
    return response


@router.get("/login")
def login_form(
    request: Request,
    next: Annotated[str | None, Query()] = None,
    tenant: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    return _login_page(request, next_path=safe_next(next), tenant=tenant)


@router.post("/login")
def login(
    request: Request,
    db: ConsoleDb,
    tenant: Annotated[str, Form(max_length=200)],
    email: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=256)],
    environment: Annotated[str, Form()] = Environment.PRODUCTION.value,
    next: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_origin(request)
    check_csrf(request.cookies.get(LOGIN_CSRF_COOKIE, ""), csrf_token)
    outcome = service.login(
        db,
        tenant_name=tenant,
        email=email,
        password=password,
        environment=environment,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent", ""),
    )
    if outcome.token is None:
        if outcome.refused == "throttled":
            minutes = max(1, round(outcome.retry_after.total_seconds() / 60))
            error = f"Too many failed attempts. Try again in about {minutes} minute(s)."
            status_code = 429
        else:
            error = "Wrong organisation, e-mail or password."
            status_code = 401
        response = _login_page(
            request,
            next_path=safe_next(next),
            tenant=tenant,
            email=email,
            environment=environment,
            error=error,
            status_code=status_code,
        )
        if status_code == 429:
            response.headers["Retry-After"] = str(int(outcome.retry_after.total_seconds()))
        return response
    response = redirect(safe_next(next))
    set_cookie(request, response, SESSION_COOKIE, outcome.token)
    clear_cookie(request, response, LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, db: ConsoleDb, active: Posting) -> Response:
    service.end_session(db, active)
    response = redirect(_login_url(active))
    clear_cookie(request, response, SESSION_COOKIE)
    return response


@router.post("/environment")
def switch_environment(
    db: ConsoleDb,
    active: Posting,
    environment: Annotated[str, Form()],
    next: Annotated[str, Form()] = "",
) -> Response:
    service.switch_environment(db, active, environment)
    return redirect(safe_next(next))


# Pages ------------------------------------------------------------------------------------


@router.get("/dashboard")
def dashboard(request: Request, db: ConsoleDb, active: Viewing) -> Response:
    ctx = active.ctx
    today = utcnow().date()
    by_status = service.customers_by_status(db, ctx)
    statuses = [s.value for s in CustomerStatus]
    newest, total = customers.list_customers(
        db, ctx, CustomerFilters(), PageParams(page=1, page_size=5)
    )
    return render(
        request,
        "dashboard.html",
        {
            "customer_counts": [(s, by_status.get(s, 0)) for s in statuses],
            "customer_total": total,
            "customer_max": max(by_status.values(), default=0),
            "session_counts": sorted(service.sessions_by_status(db, ctx).items()),
            "newest": newest,
            "queue_counts": review.queue_counts(db, ctx),
            "open_hits": triage.open_hit_count(db, ctx),
            "expiring_documents": overview.expiring_documents(db, ctx, today),
            "expiring_checks": overview.expiring_checks(db, ctx, today),
            "horizon_days": overview.EXPIRY_HORIZON_DAYS,
            "bars": overview.stacked_bars(overview.compliance_by_risk(db, ctx)),
            "risk_levels": overview.RISK_LEVELS,
            "next_actions": overview.next_actions(db, ctx),
            "today": today,
        },
        active=active,
    )


@router.get("/customers")
def customer_list(
    request: Request,
    db: ConsoleDb,
    active: Viewing,
    q: Annotated[str, Query(max_length=200)] = "",
    status: Annotated[str, Query()] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    ctx = active.ctx
    query = q.strip()
    if status and status not in {s.value for s in CustomerStatus}:
        raise BadRequest(f"unknown status '{status}'", field="status")
    filters = CustomerFilters(name=query or None, status=CustomerStatus(status) if status else None)
    rows, total = customers.list_customers(
        db, ctx, filters, PageParams(page=page, page_size=PAGE_SIZE)
    )
    # One search box for names and the tenant's own reference: an exact
    # client_id match is shown first, whatever the name search found.
    exact = customers.find_by_client_id(db, ctx, query) if query and page == 1 else None
    if exact is not None and (not status or exact.status == status):
        rows = [exact, *[r for r in rows if r.id != exact.id]]
        total = max(total, len(rows))
    return render(
        request,
        "customers.html",
        {
            "rows": rows,
            "total": total,
            "q": query,
            "status": status,
            "statuses": [s.value for s in CustomerStatus],
            "page": page,
            "pages": max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE),
        },
        active=active,
    )


CUSTOMER_PAGE_CSP = SECURITY_HEADERS["Content-Security-Policy"] + "; frame-src 'self'"
# A document is shown inside the customer page only: never framed elsewhere.
CONTENT_CSP = "default-src 'none'; img-src 'self'; object-src 'self'; frame-ancestors 'self'"
# Suggestions only: the verification rules accept any UPPER_SNAKE_CASE label.
COMMON_REJECT_LABELS = (
    "BAD_QUALITY_PICTURE",
    "DOCUMENT_EXPIRED",
    "DOCUMENT_DAMAGED",
    "INCOMPLETE_DOCUMENT",
    "SELFIE_MISMATCH",
    "FORGERY",
    "ADDRESS_MISMATCH",
    "SANCTIONS",
    "FRAUDULENT_PATTERNS",
)


def _organization(db: Session, ctx: RequestContext, customer: Customer) -> Any:
    if customer.type != CustomerType.BUSINESS.value:
        return None
    return organization.get_organization(db, ctx, customer.id)


@router.get("/customers/{customer_id}")
def customer_page(request: Request, db: ConsoleDb, active: Viewing, customer_id: str) -> Response:
    ctx = active.ctx
    customer = customers.get_customer(db, ctx, customer_id)
    today = utcnow().date()
    compliance_now = compliance.evaluate_now(db, ctx, customer.id)
    response = render(
        request,
        "customer.html",
        {
            "customer": customer,
            "sessions": verification.list_sessions(db, ctx, customer.id),
            "run": verification.current_run_view(db, ctx, customer.id),
            "assignments": review.assignments_of_customer(db, ctx, customer.id),
            "compliance": compliance_data(compliance_now.result),
            "risk": risk.get_profile(db, ctx, customer.id),
            "organization": _organization(db, ctx, customer),
            "documents": [
                documents.to_out(d, today) for d in documents.list_documents(db, ctx, customer.id)
            ],
            "identifiers": [
                identifiers.to_out(i, today)
                for i in identifiers.list_identifiers(db, ctx, customer.id)
            ],
            "checks": checks.list_checks_for_customer(db, ctx, customer.id),
            "hits": triage.customer_hits(db, ctx, customer.id),
            "previewable_images": previews.PREVIEWABLE_IMAGES,
            "reject_labels": COMMON_REJECT_LABELS,
            "timeline": service.customer_timeline(db, ctx, customer.id),
            "timeline_limit": service.TIMELINE_LIMIT,
            "actors": service.actor_labels(db, ctx),
        },
        active=active,
    )
    response.headers["Content-Security-Policy"] = CUSTOMER_PAGE_CSP
    return response


def _labels(text: str) -> tuple[str, ...]:
    labels = tuple(dict.fromkeys(part for part in re.split(r"[\s,]+", text.strip()) if part))
    try:
        validate_labels(labels)
    except ValueError as exc:
        raise BadRequest(str(exc), field="labels") from exc
    return labels


@router.post("/customers/{customer_id}/steps/{kind}/decision")
def step_decision(
    db: ConsoleDb,
    active: Posting,
    customer_id: str,
    kind: str,
    session_id: Annotated[str, Form(max_length=36)],
    decision: Annotated[str, Form(max_length=16)],
    reject_type: Annotated[str, Form(max_length=8)] = RejectType.FINAL.value,
    labels: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Approve, reject (FINAL or RETRY) or request resubmission (a RETRY
    rejection): the same service call as ``POST /v1/sessions/{id}/steps/{kind}/
    decision``, with the operator as the actor."""
    require(active, Action.DECIDE)
    ctx = active.ctx
    customer = customers.get_customer(db, ctx, customer_id)
    run = verification.get_session(db, ctx, session_id)
    if run.customer_id != customer.id:
        raise NotFound("Session not found")
    if kind not in {k.value for k in StepKind}:
        raise NotFound(f"Unknown step kind '{kind}'")
    chosen_type: str | None = None
    chosen_labels: tuple[str, ...] = ()
    if decision == "approve":
        action = StepAction.APPROVE
    elif decision in {"reject", "resubmit"}:
        chosen_type = RejectType.RETRY.value if decision == "resubmit" else reject_type
        if chosen_type not in {RejectType.FINAL.value, RejectType.RETRY.value}:
            raise BadRequest("reject type must be FINAL or RETRY", field="reject_type")
        chosen_labels = _labels(labels)
        if not chosen_labels:
            raise BadRequest("a rejection needs at least one reject label", field="labels")
        action = StepAction.REJECT
    else:
        raise BadRequest("decision must be approve, reject or resubmit", field="decision")
    verification.review_step(
        db,
        ctx,
        run.id,
        kind,
        action,
        actor_type="operator",
        reject_type=chosen_type,
        labels=chosen_labels,
    )
    review.release_decided(db, ctx, run.id, kind)
    return redirect(f"/console/customers/{customer.id}#step-{kind}")


@router.post("/customers/{customer_id}/risk/recalculate")
def risk_recalculate(db: ConsoleDb, active: Posting, customer_id: str) -> Response:
    require(active, Action.DECIDE)
    profile = risk.recalculate(
        db, active.ctx, customer_id, reason=f"console: {active.operator.email}"
    )
    return redirect(f"/console/customers/{profile.customer_id}#risk")


@router.get("/customers/{customer_id}/documents/{document_id}/content")
def document_content(
    request: Request, db: ConsoleDb, active: Viewing, customer_id: str, document_id: str
) -> Response:
    """The document for inline display: images re-encoded without metadata,
    PDFs as stored (shown in a frame of the customer page)."""
    document = documents.get_document(db, active.ctx, customer_id, document_id)
    if not previews.can_preview(document.content_type):
        raise NotFound("This document type has no preview")
    data = documents.read_content(LocalBlobStore(request.app.state.settings.blob_dir), document)
    if document.content_type == previews.PDF:
        body, media_type = data, previews.PDF
    else:
        try:
            body, media_type = previews.reencode_image(data)
        except previews.PreviewError as exc:
            raise NotFound(f"No preview: {exc}") from exc
    response = Response(body, media_type=media_type)
    response.headers.update(SECURITY_HEADERS)
    response.headers["Content-Security-Policy"] = CONTENT_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Content-Disposition"] = "inline"
    response.headers["Cache-Control"] = "private, no-store"
    return response


# Review queue ----------------------------------------------------------------------------


@router.get("/queue")
def queue_page(
    request: Request,
    db: ConsoleDb,
    active: Viewing,
    level: Annotated[str, Query(max_length=100)] = "",
    kind: Annotated[str, Query(max_length=32)] = "",
    status: Annotated[str, Query(max_length=32)] = "",
    # A string: the filter form sends an empty value for "any time".
    min_age_hours: Annotated[str, Query(max_length=6)] = "",
    assignee: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    if min_age_hours and not min_age_hours.isdigit():
        raise BadRequest("min_age_hours must be a whole number of hours", field="min_age_hours")
    filters = review.QueueFilters(
        level=level,
        kind=kind,
        status=status,
        min_age_hours=int(min_age_hours) if min_age_hours else None,
        assignee=assignee,
    )
    items, total = review.review_queue(db, active.ctx, filters, operator_id=active.operator.id)
    return render(
        request,
        "queue.html",
        {
            "items": items,
            "total": total,
            "limit": review.QUEUE_LIMIT,
            "filters": filters,
            "levels": review.queue_levels(db, active.ctx),
            "kinds": [k.value for k in StepKind],
            "statuses": review.QUEUE_STATUSES,
            "now": utcnow(),
            "query": str(request.url.query),
        },
        active=active,
    )


@router.post("/queue/{step_id}/assign")
def queue_assign(
    db: ConsoleDb,
    active: Posting,
    step_id: str,
    next: Annotated[str, Form()] = "",
) -> Response:
    require(active, Action.ASSIGN)
    review.assign_step(db, active.ctx, step_id, active.operator)
    return redirect(safe_next(next or "/console/queue"))


@router.post("/queue/{step_id}/unassign")
def queue_unassign(
    db: ConsoleDb,
    active: Posting,
    step_id: str,
    next: Annotated[str, Form()] = "",
) -> Response:
    require(active, Action.ASSIGN)
    review.unassign_step(db, active.ctx, step_id)
    return redirect(safe_next(next or "/console/queue"))


# Screening hits -----------------------------------------------------------------------------


@router.get("/screening")
def screening_page(request: Request, db: ConsoleDb, active: Viewing) -> Response:
    rows, total = triage.open_hits(db, active.ctx)
    return render(
        request,
        "screening.html",
        {"rows": rows, "total": total, "limit": triage.OPEN_LIMIT, "now": utcnow()},
        active=active,
    )


@router.get("/screening/hits/{hit_id}")
def hit_page(request: Request, db: ConsoleDb, active: Viewing, hit_id: str) -> Response:
    found = triage.triage(db, active.ctx, request.app.state.settings, hit_id)
    return render(
        request,
        "hit.html",
        {"t": found, "actors": service.actor_labels(db, active.ctx)},
        active=active,
    )


@router.post("/screening/hits/{hit_id}/review")
def hit_review(
    db: ConsoleDb,
    active: Posting,
    hit_id: str,
    decision: Annotated[str, Form(max_length=16)],
    note: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """Confirm or dismiss a hit: ``screening.service.review_hit``, the call
    behind ``POST /v1/screening/hits/{id}/review``, with the operator as actor."""
    require(active, Action.DECIDE)
    if decision not in {d.value for d in ReviewDecision}:
        raise BadRequest("decision must be confirmed or false_positive", field="decision")
    if not note.strip():
        raise BadRequest("say why: a note is required", field="note")
    body = ReviewRequest(decision=ReviewDecision(decision), note=note.strip())
    reviewed = screening.review_hit(db, active.ctx, hit_id, body)
    return redirect(f"/console/screening/hits/{reviewed.id}")


# Webhooks (admin) ------------------------------------------------------------------------

WEBHOOK_PAGE_SIZE = 25


@router.get("/webhooks")
def webhooks_page(request: Request, db: ConsoleDb, active: Viewing) -> Response:
    require(active, Action.MANAGE_WEBHOOKS)
    endpoints, _ = webhooks.list_endpoints(db, active.ctx, PageParams(page=1, page_size=100))
    return render(request, "webhooks.html", {"endpoints": endpoints}, active=active)


@router.get("/webhooks/{endpoint_id}")
def webhook_deliveries_page(
    request: Request,
    db: ConsoleDb,
    active: Viewing,
    endpoint_id: str,
    status: Annotated[str, Query(max_length=16)] = "",
    event_type: Annotated[str, Query(max_length=80)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    require(active, Action.MANAGE_WEBHOOKS)
    ctx = active.ctx
    if status and status not in {s.value for s in DeliveryStatus}:
        raise BadRequest(f"unknown status '{status}'", field="status")
    endpoint = webhooks.get_endpoint(db, ctx, endpoint_id)
    rows, total = webhooks.list_deliveries(
        db,
        ctx,
        endpoint.id,
        PageParams(page=page, page_size=WEBHOOK_PAGE_SIZE),
        DeliveryStatus(status) if status else None,
        event_type.strip() or None,
    )
    return render(
        request,
        "webhook.html",
        {
            "endpoint": endpoint,
            "rows": [webhooks.delivery_out(d) for d in rows],
            "details": {d.id: webhooks.delivery_detail(db, ctx, d) for d in rows},
            "total": total,
            "status": status,
            "event_type": event_type.strip(),
            "statuses": [s.value for s in DeliveryStatus],
            "page": page,
            "pages": max(1, (total + WEBHOOK_PAGE_SIZE - 1) // WEBHOOK_PAGE_SIZE),
        },
        active=active,
    )


@router.post("/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver")
def webhook_redeliver(
    db: ConsoleDb, active: Posting, endpoint_id: str, delivery_id: str
) -> Response:
    """``webhooks.service.redeliver``: the call behind the API's redeliver, so
    the worker sends it again at once under the same webhook-id."""
    require(active, Action.MANAGE_WEBHOOKS)
    webhooks.redeliver(db, active.ctx, endpoint_id, delivery_id)
    return redirect(f"/console/webhooks/{endpoint_id}")


# Credentials (admin) ----------------------------------------------------------------------


def _credentials_page(
    request: Request,
    db: ConsoleDb,
    active: service.ActiveSession,
    *,
    issued: tenancy.IssuedCredential | None = None,
    issued_verb: str = "",
) -> Response:
    return render(
        request,
        "credentials.html",
        {
            "credentials": tenancy.list_credentials(db, active.ctx),
            "all_scopes": ALL_SCOPES,
            "issued": issued,
            "issued_verb": issued_verb,
        },
        active=active,
    )


@router.get("/credentials")
def credentials_page(request: Request, db: ConsoleDb, active: Viewing) -> Response:
    require(active, Action.MANAGE_CREDENTIALS)
    return _credentials_page(request, db, active)


@router.post("/credentials")
def credential_create(
    request: Request,
    db: ConsoleDb,
    active: Posting,
    name: Annotated[str, Form(max_length=200)] = "",
    scopes: Annotated[list[str] | None, Form()] = None,
) -> Response:
    require(active, Action.MANAGE_CREDENTIALS)
    issued = tenancy.issue_credential(
        db,
        request.app.state.server_secret,
        tenant_name=active.tenant_name,
        environment=active.session.environment,
        scopes=scopes or [],
        name=name.strip(),
        actor_type="operator",
        actor_id=active.operator.id,
    )
    # The secret is rendered into this response only (no redirect, never stored).
    return _credentials_page(request, db, active, issued=issued, issued_verb="created")


@router.post("/credentials/{credential_id}/rotate")
def credential_rotate(
    request: Request, db: ConsoleDb, active: Posting, credential_id: str
) -> Response:
    require(active, Action.MANAGE_CREDENTIALS)
    issued = tenancy.rotate_credential(
        db, request.app.state.server_secret, active.ctx, credential_id
    )
    return _credentials_page(request, db, active, issued=issued, issued_verb="rotated")


@router.post("/credentials/{credential_id}/revoke")
def credential_revoke(db: ConsoleDb, active: Posting, credential_id: str) -> Response:
    require(active, Action.MANAGE_CREDENTIALS)
    # Only this environment's credentials are listed, so only they may be revoked here.
    if not any(c.id == credential_id for c in tenancy.list_credentials(db, active.ctx)):
        raise NotFound("Credential not found")
    tenancy.revoke_credential(db, active.ctx, credential_id)
    return redirect("/console/credentials")


# Operators (admin) ------------------------------------------------------------------------


@router.get("/operators")
def operators_page(request: Request, db: ConsoleDb, active: Viewing) -> Response:
    require(active, Action.MANAGE_OPERATORS)
    return render(
        request,
        "operators.html",
        {"operators": service.list_operators(db, active.ctx), "roles": [r.value for r in Role]},
        active=active,
    )


@router.post("/operators")
def operator_create(
    db: ConsoleDb,
    active: Posting,
    email: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=256)],
    role: Annotated[str, Form()] = Role.VIEWER.value,
    display_name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    require(active, Action.MANAGE_OPERATORS)
    service.create_operator(
        db, active.ctx, email=email, role=role, password=password, display_name=display_name
    )
    return redirect("/console/operators")


@router.post("/operators/{operator_id}")
def operator_update(
    db: ConsoleDb,
    active: Posting,
    operator_id: str,
    role: Annotated[str | None, Form()] = None,
    active_flag: Annotated[str | None, Form(alias="active")] = None,
) -> Response:
    require(active, Action.MANAGE_OPERATORS)
    service.update_operator(
        db,
        active.ctx,
        operator_id,
        role=role or None,
        active=None if active_flag is None else active_flag == "true",
    )
    if operator_id == active.operator.id:
        # Changing oneself ends one's own sessions too: log in again.
        return redirect(_login_url(active))
    return redirect("/console/operators")


# Own account ------------------------------------------------------------------------------


def _account_page(
    request: Request,
    active: service.ActiveSession,
    *,
    error: str | None = None,
    done: bool = False,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "account.html",
        {"error": error, "done": done, "min_length": passwords.MIN_LENGTH},
        active=active,
        status_code=status_code,
    )


@router.get("/account")
def account_page(request: Request, active: Viewing) -> Response:
    return _account_page(request, active)


@router.post("/account/password")
def account_password(
    request: Request,
    db: ConsoleDb,
    active: Posting,
    current_password: Annotated[str, Form(max_length=256)],
    new_password: Annotated[str, Form(max_length=256)],
    confirm_password: Annotated[str, Form(max_length=256)],
) -> Response:
    if new_password != confirm_password:
        raise BadRequest("the two new passwords differ", field="confirm_password")
    try:
        service.change_password(
            db,
            active,
            current_password=current_password,
            new_password=new_password,
            ip=client_ip(request),
        )
    except service.PasswordRejected as exc:
        # Answered as a page, not raised: the failure row must commit so the
        # throttle counts it.
        return _account_page(request, active, error=exc.message, status_code=400)
    return _account_page(request, active, done=True)


@router.get("/audit")
def audit_page(request: Request, db: ConsoleDb, active: Viewing) -> Response:
    require(active, Action.MANAGE_OPERATORS)
    return render(
        request,
        "audit.html",
        {
            "events": service.admin_events(db, active.ctx, limit=200),
            "actors": service.actor_labels(db, active.ctx),
        },
        active=active,
    )
