"""Operators, console sessions, login throttling, and the read models of the pages.

Operator-administrative events (``admin.*``) are recorded with actor type
``operator``. They sit outside seed 002's partner allowlist, so the review
history never shows them; the console's audit views do.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kycd.console import passwords, throttle
from kycd.console.models import LoginFailure, Operator, OperatorSession, Role
from kycd.console.permissions import parse_role, scopes_for
from kycd.core.validators import email_address
from kycd.customers.models import Customer
from kycd.db import utcnow
from kycd.errors import ApiError, BadRequest, Conflict, NotFound
from kycd.events.models import Event
from kycd.events.service import record_event
from kycd.tenancy.context import RequestContext
from kycd.tenancy.models import Tenant
from kycd.tenancy.scopes import Environment
from kycd.tenancy.scoping import scoped
from kycd.tenancy.service import get_or_create_tenant, list_credentials
from kycd.verification.models import VerificationSession

SESSION_IDLE_TIMEOUT = timedelta(minutes=30)
SESSION_MAX_AGE = timedelta(hours=12)
# last_seen_at is refreshed at most this often: a page view should not always write.
SESSION_TOUCH_INTERVAL = timedelta(seconds=60)
# Operator accounts are tenant-wide; administrative events made outside a console
# session (the CLI) are recorded in this environment's log.
CLI_EVENT_ENVIRONMENT = Environment.PRODUCTION.value
TIMELINE_LIMIT = 500


def _normalised_email(email: str) -> str:
    try:
        return email_address(email).lower()
    except ValueError as exc:
        raise BadRequest("email is not a valid e-mail address", field="email") from exc


def validate_environment(environment: str) -> str:
    if environment not in {e.value for e in Environment}:
        raise BadRequest("environment must be sandbox or production", field="environment")
    return environment


def _validate_role(role: str) -> Role:
    parsed = parse_role(role)
    if parsed is None:
        raise BadRequest("role must be viewer, reviewer or admin", field="role")
    return parsed


def operator_context(operator: Operator, environment: str) -> RequestContext:
    """The request context of an operator's console request: scoped exactly like
    an API request, with the operator as the actor."""
    return RequestContext(
        tenant_id=operator.tenant_id,
        environment=environment,
        scopes=scopes_for(operator.role),
        actor_type="operator",
        actor_id=operator.id,
    )


def _tenant_operators(ctx: RequestContext) -> Select[Operator]:
    # Operators belong to a tenant, not to an environment, so they are scoped
    # by tenant only; tenancy.scoping's helpers are for per-environment rows.
    return select(Operator).where(Operator.tenant_id == ctx.tenant_id)


# Operators ------------------------------------------------------------------------------


def create_operator(
    db: Session,
    ctx: RequestContext,
    *,
    email: str,
    role: str,
    password: str,
    display_name: str = "",
) -> Operator:
    operator = Operator(
        tenant_id=ctx.tenant_id,
        email=_normalised_email(email),
        display_name=display_name.strip()[:200],
        role=_validate_role(role).value,
        password_hash=passwords.hash_password(password),
    )
    try:
        with db.begin_nested():
            db.add(operator)
            db.flush()
    except IntegrityError as exc:
        raise Conflict(
            f"An operator with e-mail '{operator.email}' already exists", "operator_exists"
        ) from exc
    record_event(
        db,
        ctx,
        "admin.operator_created",
        payload={"operator_id": operator.id, "email": operator.email, "role": operator.role},
    )
    return operator


def create_operator_for_tenant(
    db: Session, *, tenant_name: str, email: str, role: str, password: str, display_name: str = ""
) -> Operator:
    """The CLI's entry point: the tenant is named, and created when new (as
    ``kycd credentials create`` does)."""
    tenant = get_or_create_tenant(db, tenant_name)
    ctx = RequestContext(tenant.id, CLI_EVENT_ENVIRONMENT, actor_type="operator", actor_id="cli")
    return create_operator(
        db, ctx, email=email, role=role, password=password, display_name=display_name
    )


def list_operators(db: Session, ctx: RequestContext) -> list[Operator]:
    return list(db.scalars(_tenant_operators(ctx).order_by(Operator.email)).all())


def get_operator(db: Session, ctx: RequestContext, operator_id: str) -> Operator:
    operator = db.scalars(_tenant_operators(ctx).where(Operator.id == operator_id)).first()
    if operator is None:
        raise NotFound("Operator not found")
    return operator


def _active_admins(db: Session, ctx: RequestContext) -> int:
    stmt = _tenant_operators(ctx).where(
        Operator.role == Role.ADMIN.value, Operator.disabled_at.is_(None)
    )
    return db.scalar(select(func.count()).select_from(stmt.subquery())) or 0


def update_operator(
    db: Session,
    ctx: RequestContext,
    operator_id: str,
    *,
    role: str | None = None,
    active: bool | None = None,
) -> Operator:
    """Change an operator's role or enable / disable the account. The last
    active admin of a tenant can be neither demoted nor disabled: someone must
    always be able to manage the others."""
    operator = get_operator(db, ctx, operator_id)
    changes: dict[str, Any] = {}
    if role is not None and _validate_role(role).value != operator.role:
        changes["role"] = {"from": operator.role, "to": role}
        operator.role = role
    if active is not None and active != operator.is_active:
        changes["active"] = {"from": operator.is_active, "to": active}
        operator.disabled_at = None if active else utcnow()
    if not changes:
        return operator
    operator.updated_at = utcnow()
    db.flush()
    if _active_admins(db, ctx) == 0:
        raise Conflict("A tenant must keep at least one active admin", "last_admin")
    # A new role or a disabled account must not live on in open browsers.
    db.execute(delete(OperatorSession).where(OperatorSession.operator_id == operator.id))
    record_event(
        db,
        ctx,
        "admin.operator_updated",
        payload={"operator_id": operator.id, "email": operator.email, "changes": changes},
    )
    return operator


def actor_labels(db: Session, ctx: RequestContext) -> dict[str, str]:
    """Actor id -> something a person recognises: operators by e-mail, API
    credentials by name (or key), to show who did what in timelines."""
    operators = db.execute(
        select(Operator.id, Operator.email).where(Operator.tenant_id == ctx.tenant_id)
    ).all()
    labels = {row.id: row.email for row in operators}
    for credential in list_credentials(db, ctx):
        labels[credential.id] = f"credential {credential.name or credential.api_key}"
    return labels


def change_password(
    db: Session,
    active: ActiveSession,
    *,
    current_password: str,
    new_password: str,
    ip: str,
    now: datetime | None = None,
) -> None:
    """An operator replaces their own password (an admin chose the first one).

    The current password is checked under the login throttle, so a borrowed
    session cannot be used to guess it; other sessions of the operator end."""
    now = now or utcnow()
    operator = active.operator
    key = account_key(active.tenant_name, operator.email)
    verdict = throttle.check(
        _recent_failures(db, LoginFailure.account_key, key, now),
        _recent_failures(db, LoginFailure.ip, ip, now),
        now,
    )
    if not verdict.allowed:
        raise TooManyAttempts(verdict.retry_after)
    if not passwords.verify_password(operator.password_hash, current_password):
        db.add(LoginFailure(account_key=key, ip=ip, created_at=now))
        db.flush()
        raise PasswordRejected("The current password is wrong", field="current_password")
    if new_password == current_password:
        raise BadRequest("the new password must differ from the current one", field="new_password")
    try:
        operator.password_hash = passwords.hash_password(new_password)
    except BadRequest as exc:
        raise BadRequest(exc.message, field="new_password") from exc
    operator.updated_at = now
    db.execute(
        delete(OperatorSession).where(
            OperatorSession.operator_id == operator.id, OperatorSession.id != active.session.id
        )
    )
    record_event(
        db,
        active.ctx,
        "admin.password_changed",
        payload={"operator_id": operator.id, "email": operator.email, "ip": ip},
    )


class PasswordRejected(BadRequest):
    """A wrong current password: its failure row must be kept (see the endpoint)."""


class TooManyAttempts(ApiError):
    def __init__(self, retry_after: timedelta) -> None:
        minutes = max(1, round(retry_after.total_seconds() / 60))
        super().__init__(
            429,
            "too_many_attempts",
            f"Too many failed attempts. Try again in about {minutes} minute(s).",
            headers={"Retry-After": str(int(retry_after.total_seconds()))},
        )


# Login, sessions, throttling -----------------------------------------------------------


def account_key(tenant_name: str, email: str) -> str:
    return hashlib.sha256(
        f"{tenant_name.strip().lower()}\n{email.strip().lower()}".encode()
    ).hexdigest()


def hash_session_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class LoginOutcome:
    """Either a session token (success) or a reason for the refusal."""

    token: str | None = None
    operator: Operator | None = None
    refused: str | None = None  # "invalid" or "throttled"
    retry_after: timedelta = timedelta(0)


def _recent_failures(db: Session, column: Any, value: str, now: datetime) -> list[datetime]:
    return list(
        db.scalars(
            select(LoginFailure.created_at)
            .where(column == value, LoginFailure.created_at > now - throttle.WINDOW)
            .order_by(LoginFailure.created_at.desc())
            .limit(throttle.MAX_FAILURES_PER_IP)
        ).all()
    )


def _login_failed(
    db: Session, tenant: Tenant | None, environment: str, email: str, ip: str, reason: str
) -> None:
    if tenant is None:
        return  # no tenant, no log to record it in; the throttle still counts it
    ctx = RequestContext(tenant.id, environment, actor_type="operator")
    record_event(
        db, ctx, "admin.login_failed", payload={"email": email, "ip": ip, "reason": reason}
    )


def login(
    db: Session,
    *,
    tenant_name: str,
    email: str,
    password: str,
    environment: str,
    ip: str,
    user_agent: str,
    now: datetime | None = None,
) -> LoginOutcome:
    now = now or utcnow()
    environment = validate_environment(environment)
    email = email.strip().lower()
    key = account_key(tenant_name, email)
    tenant = db.scalars(select(Tenant).where(Tenant.name == tenant_name.strip())).first()
    verdict = throttle.check(
        _recent_failures(db, LoginFailure.account_key, key, now),
        _recent_failures(db, LoginFailure.ip, ip, now),
        now,
    )
    if not verdict.allowed:
        _login_failed(db, tenant, environment, email, ip, "throttled")
        return LoginOutcome(refused="throttled", retry_after=verdict.retry_after)
    operator = None
    if tenant is not None:
        operator = db.scalars(
            select(Operator).where(Operator.tenant_id == tenant.id, Operator.email == email)
        ).first()
    password_ok = passwords.verify_password(operator.password_hash if operator else None, password)
    if operator is None or not password_ok or not operator.is_active:
        db.add(LoginFailure(account_key=key, ip=ip, created_at=now))
        reason = "disabled" if operator is not None and password_ok else "invalid_credentials"
        _login_failed(db, tenant, environment, email, ip, reason)
        return LoginOutcome(refused="invalid")
    if passwords.needs_rehash(operator.password_hash):
        operator.password_hash = passwords.hash_password(password)
    # A success forgives this account's earlier typos (not the IP's).
    db.execute(delete(LoginFailure).where(LoginFailure.account_key == key))
    operator.last_login_at = now
    token = start_session(db, operator, environment, ip=ip, user_agent=user_agent, now=now)
    record_event(
        db,
        operator_context(operator, environment),
        "admin.login",
        payload={"operator_id": operator.id, "email": operator.email, "ip": ip},
    )
    return LoginOutcome(token=token, operator=operator)


def start_session(
    db: Session,
    operator: Operator,
    environment: str,
    *,
    ip: str = "",
    user_agent: str = "",
    now: datetime | None = None,
) -> str:
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    db.add(
        OperatorSession(
            id=hash_session_token(token),
            operator_id=operator.id,
            tenant_id=operator.tenant_id,
            environment=environment,
            csrf_token=secrets.token_urlsafe(32),
            ip=ip[:64],
            user_agent=user_agent[:300],
            created_at=now,
            last_seen_at=now,
            expires_at=now + SESSION_MAX_AGE,
        )
    )
    db.flush()
    return token


@dataclass(frozen=True)
class ActiveSession:
    session: OperatorSession
    operator: Operator
    tenant_name: str
    needs_touch: bool

    @property
    def ctx(self) -> RequestContext:
        return operator_context(self.operator, self.session.environment)


def resolve_session(db: Session, token: str, now: datetime | None = None) -> ActiveSession | None:
    """The live session behind a cookie, or None when it is unknown, expired,
    idle for too long, or its operator has been disabled."""
    now = now or utcnow()
    row = db.execute(
        select(OperatorSession, Operator, Tenant.name)
        .join(Operator, Operator.id == OperatorSession.operator_id)
        .join(Tenant, Tenant.id == Operator.tenant_id)
        .where(OperatorSession.id == hash_session_token(token))
    ).first()
    if row is None:
        return None
    session, operator, tenant_name = row
    if (
        session.expires_at <= now
        or session.last_seen_at + SESSION_IDLE_TIMEOUT <= now
        or not operator.is_active
    ):
        return None
    needs_touch = session.last_seen_at + SESSION_TOUCH_INTERVAL <= now
    return ActiveSession(session, operator, tenant_name, needs_touch)


def touch_session(db: Session, session_id: str, now: datetime | None = None) -> None:
    db.execute(
        update(OperatorSession)
        .where(OperatorSession.id == session_id)
        .values(last_seen_at=now or utcnow())
    )


def end_session(db: Session, active: ActiveSession) -> None:
    db.execute(delete(OperatorSession).where(OperatorSession.id == active.session.id))
    record_event(
        db,
        active.ctx,
        "admin.logout",
        payload={"operator_id": active.operator.id, "email": active.operator.email},
    )


def switch_environment(db: Session, active: ActiveSession, environment: str) -> None:
    environment = validate_environment(environment)
    db.execute(
        update(OperatorSession)
        .where(OperatorSession.id == active.session.id)
        .values(environment=environment)
    )


def purge_expired(db: Session, now: datetime) -> int:
    """Forget sessions past their lifetime or idle limit and failures older than
    the throttle window: neither can matter any more."""
    sessions = db.execute(
        delete(OperatorSession).where(
            (OperatorSession.expires_at <= now)
            | (OperatorSession.last_seen_at <= now - SESSION_IDLE_TIMEOUT)
        )
    )
    failures = db.execute(
        delete(LoginFailure).where(LoginFailure.created_at <= now - throttle.WINDOW)
    )
    return int(getattr(sessions, "rowcount", 0) or 0) + int(getattr(failures, "rowcount", 0) or 0)


# Read models of the pages ---------------------------------------------------------------


def customers_by_status(db: Session, ctx: RequestContext) -> dict[str, int]:
    stmt = (
        scoped(Customer, ctx)
        .with_only_columns(Customer.status, func.count())
        .group_by(Customer.status)
    )
    return {status: count for status, count in db.execute(stmt).all()}


def sessions_by_status(db: Session, ctx: RequestContext) -> dict[str, int]:
    stmt = (
        scoped(VerificationSession, ctx)
        .with_only_columns(VerificationSession.status, func.count())
        .group_by(VerificationSession.status)
    )
    return {status: count for status, count in db.execute(stmt).all()}


def customer_timeline(
    db: Session, ctx: RequestContext, customer_id: str, limit: int = TIMELINE_LIMIT
) -> list[Event]:
    """Every event of one customer, newest first: the full audit trail, not the
    partner-filtered review history."""
    return list(
        db.scalars(
            scoped(Event, ctx)
            .where(Event.customer_id == customer_id)
            .order_by(Event.created_at.desc(), Event.seq.desc())
            .limit(limit)
        ).all()
    )


def admin_events(db: Session, ctx: RequestContext, limit: int = 50) -> list[Event]:
    """The latest operator-administrative events of this environment."""
    return list(
        db.scalars(
            scoped(Event, ctx)
            .where(Event.type.like("admin.%"))
            .order_by(Event.created_at.desc(), Event.seq.desc())
            .limit(limit)
        ).all()
    )


def new_login_csrf_token() -> str:
    return secrets.token_urlsafe(32)
