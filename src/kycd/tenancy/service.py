"""Creating tenants and credentials, and authenticating a request's credential."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kycd.core.server_secret import keyed_hash
from kycd.db import utcnow
from kycd.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized
from kycd.events.service import record_event
from kycd.tenancy.context import RequestContext
from kycd.tenancy.models import Credential, Tenant
from kycd.tenancy.scopes import ALL_SCOPES, Environment


@dataclass(frozen=True)
class IssuedCredential:
    credential_id: str
    tenant_id: str
    tenant_name: str
    environment: str
    scopes: list[str]
    api_key: str
    api_secret: str

    @property
    def bearer_token(self) -> str:
        return f"{self.api_key}.{self.api_secret}"

    def as_dict(self) -> dict[str, object]:
        return {
            "credential_id": self.credential_id,
            "tenant_id": self.tenant_id,
            "tenant_name": self.tenant_name,
            "environment": self.environment,
            "scopes": self.scopes,
            "api_key": self.api_key,
            "api_secret": self.api_secret,
            "bearer_token": self.bearer_token,
        }


def get_or_create_tenant(db: Session, name: str) -> Tenant:
    tenant = db.scalars(select(Tenant).where(Tenant.name == name)).first()
    if tenant is None:
        tenant = Tenant(name=name, settings={})
        db.add(tenant)
        db.flush()
    return tenant


def tenant_for_update(db: Session, ctx: RequestContext) -> Tenant:
    """The caller's tenant row, locked until the transaction ends.

    Every domain keeps its own key in ``Tenant.settings`` (one JSON document);
    a writer replacing its key rewrites the whole document, so writers lock the
    row first or a concurrent writer's key would be lost (PostgreSQL; SQLite
    runs one writer at a time anyway)."""
    tenant = db.scalars(select(Tenant).where(Tenant.id == ctx.tenant_id).with_for_update()).first()
    if tenant is None:
        raise NotFound("Tenant not found")
    return tenant


def validate_scopes(scopes: list[str]) -> list[str]:
    unknown = sorted(set(scopes) - set(ALL_SCOPES))
    if unknown:
        raise BadRequest(f"unknown scopes: {', '.join(unknown)}", field="scopes")
    if not scopes:
        raise BadRequest("at least one scope is required", field="scopes")
    return sorted(set(scopes), key=ALL_SCOPES.index)


def issue_credential(
    db: Session,
    server_secret: bytes,
    *,
    tenant_name: str,
    environment: str,
    scopes: list[str],
    name: str = "",
    actor_type: str = "operator",
    actor_id: str | None = None,
) -> IssuedCredential:
    if environment not in {e.value for e in Environment}:
        raise BadRequest("environment must be sandbox or production", field="environment")
    scopes = validate_scopes(scopes)
    tenant = get_or_create_tenant(db, tenant_name)
    api_key = f"pk_{environment[:4]}_{secrets.token_urlsafe(18)}"
    api_secret = f"sk_{secrets.token_urlsafe(32)}"
    credential = Credential(
        tenant_id=tenant.id,
        environment=environment,
        name=name,
        api_key=api_key,
        secret_hash=keyed_hash(server_secret, api_secret),
        scopes=scopes,
    )
    db.add(credential)
    db.flush()
    record_event(
        db,
        RequestContext(tenant.id, environment, actor_type=actor_type, actor_id=actor_id),
        "admin.credential_created",
        payload={"credential_id": credential.id, "api_key": api_key, "scopes": scopes},
    )
    return IssuedCredential(
        credential.id, tenant.id, tenant.name, environment, scopes, api_key, api_secret
    )


def revoke_credential(db: Session, ctx: RequestContext, credential_id: str) -> None:
    credential = db.get(Credential, credential_id)
    if credential is None or credential.tenant_id != ctx.tenant_id:
        raise NotFound("Credential not found")
    if credential.revoked_at is None:
        credential.revoked_at = utcnow()
        record_event(db, ctx, "admin.credential_revoked", payload={"credential_id": credential.id})
    _auth_cache.clear()


def list_credentials(db: Session, ctx: RequestContext) -> list[Credential]:
    """The credentials of the context's tenant and environment, newest first."""
    return list(
        db.scalars(
            select(Credential)
            .where(Credential.tenant_id == ctx.tenant_id, Credential.environment == ctx.environment)
            .order_by(Credential.created_at.desc(), Credential.id.desc())
        ).all()
    )


def rotate_credential(
    db: Session, server_secret: bytes, ctx: RequestContext, credential_id: str
) -> IssuedCredential:
    """Replace a credential with a new key pair of the same name and scopes, and
    revoke the old one in the same transaction: there is no moment when both
    work, and none when neither does."""
    old = db.scalars(
        select(Credential).where(
            Credential.id == credential_id,
            Credential.tenant_id == ctx.tenant_id,
            Credential.environment == ctx.environment,
        )
    ).first()
    if old is None:
        raise NotFound("Credential not found")
    # Guarded, so that of two concurrent rotations only one issues a successor.
    revoked = db.execute(
        update(Credential)
        .where(Credential.id == old.id, Credential.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if getattr(revoked, "rowcount", 0) != 1:
        raise Conflict("Credential is already revoked", "credential_revoked")
    tenant = db.get(Tenant, ctx.tenant_id)
    assert tenant is not None  # the credential's foreign key guarantees it
    api_key = f"pk_{old.environment[:4]}_{secrets.token_urlsafe(18)}"
    api_secret = f"sk_{secrets.token_urlsafe(32)}"
    successor = Credential(
        tenant_id=tenant.id,
        environment=old.environment,
        name=old.name,
        api_key=api_key,
        secret_hash=keyed_hash(server_secret, api_secret),
        scopes=list(old.scopes),
    )
    db.add(successor)
    db.flush()
    record_event(
        db,
        ctx,
        "admin.credential_rotated",
        payload={
            "credential_id": old.id,
            "new_credential_id": successor.id,
            "api_key": api_key,
            "scopes": successor.scopes,
        },
    )
    _auth_cache.clear()
    return IssuedCredential(
        successor.id, tenant.id, tenant.name, old.environment, successor.scopes, api_key, api_secret
    )


class _AuthCache:
    """Remembers recently verified credentials for a few seconds.

    Authenticating is one indexed lookup, but it is on every request; a short
    cache takes it off the hot path. A revocation in this process clears it; in
    other processes it takes effect within ``ttl`` seconds.
    """

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[tuple[str, str], tuple[float, RequestContext]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> RequestContext | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, key: tuple[str, str], ctx: RequestContext) -> None:
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[key] = (time.monotonic() + self.ttl, ctx)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_auth_cache = _AuthCache(ttl=5.0)


def cached_context(server_secret: bytes, api_key: str, api_secret: str) -> RequestContext | None:
    """The context of a credential verified in the last few seconds, if any."""
    return _auth_cache.get((api_key, keyed_hash(server_secret, api_secret)))


def authenticate(
    db: Session, server_secret: bytes, api_key: str, api_secret: str
) -> RequestContext:
    secret_hash = keyed_hash(server_secret, api_secret)
    cached = _auth_cache.get((api_key, secret_hash))
    if cached is not None:
        return cached
    credential = db.scalars(select(Credential).where(Credential.api_key == api_key)).first()
    if (
        credential is None
        or credential.revoked_at is not None
        or not secrets.compare_digest(credential.secret_hash, secret_hash)
    ):
        raise Unauthorized()
    ctx = RequestContext(
        tenant_id=credential.tenant_id,
        environment=credential.environment,
        scopes=frozenset(credential.scopes),
        actor_type="partner",
        actor_id=credential.id,
    )
    _auth_cache.put((api_key, secret_hash), ctx)
    return ctx


def check_environment_header(ctx: RequestContext, header: str | None) -> None:
    if header is not None and header.strip().lower() != ctx.environment:
        raise Forbidden(
            f"X-Environment '{header}' does not match the credential's environment",
            code="environment_mismatch",
        )
