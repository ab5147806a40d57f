"""Replays of POST requests that carry an ``Idempotency-Key``.

Behaviour, per the IETF draft and Stripe's practice:

* the first request with a key runs and its status and body are stored;
* the same key with the same request (method, path, query, body) replays the
  stored answer, marked ``Idempotent-Replayed: true``;
* the same key with a different request answers 422;
* the same key while the first request still runs answers 409;
* keys belong to one tenant and environment and are kept at least
  ``KYCD_IDEMPOTENCY_TTL_HOURS`` (24 by default);
* a 5xx answer is not stored, so the client's retry runs the request again;
* stored answers are sealed (AES-GCM under a key derived from the server
  secret): they hold customer data and, on some routes, secrets shown once.

Limit: the stored answer is written just after the request's own transaction
commits. Should the process die in that instant the key stays "in progress";
after ``STALE_AFTER`` it is released and a retry runs the request again.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

import anyio
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kycd.api.deps import parse_credentials
from kycd.core.sealing import SealedBox
from kycd.db import Database, utcnow
from kycd.errors import ApiError, Unauthorized, error_response
from kycd.idempotency.models import IdempotencyRecord
from kycd.tenancy.context import RequestContext
from kycd.tenancy.service import authenticate

STALE_AFTER = timedelta(minutes=5)
HEADER = b"idempotency-key"


class _Outcome:
    """What the claim on a key decided."""

    def __init__(
        self, *, run: bool, replay: IdempotencyRecord | None = None, error: ApiError | None = None
    ):
        self.run = run
        self.replay = replay
        self.error = error


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        raw_key = headers.get(HEADER)
        if raw_key is None:
            await self.app(scope, receive, send)
            return
        key = raw_key.decode("latin-1").strip()
        if not 1 <= len(key) <= 255:
            err = ApiError(400, "validation_error", "Idempotency-Key must be 1 to 255 characters")
            await error_response(400, err.body())(scope, receive, send)
            return

        body = await _read_body(receive)
        replay_receive = _replaying(body)
        app_state = scope["app"].state
        database: Database = app_state.database
        ctx = await anyio.to_thread.run_sync(
            _authenticate, database, app_state.server_secret, headers
        )
        if ctx is None:
            # Let the route answer 401 in its usual way.
            await self.app(scope, replay_receive, send)
            return

        fingerprint = _fingerprint(scope, body)
        ttl = timedelta(hours=app_state.settings.idempotency_ttl_hours)
        box = _replay_box(app_state.server_secret)
        outcome = await anyio.to_thread.run_sync(_claim, database, ctx, key, fingerprint, ttl)
        if outcome.error is not None:
            await error_response(outcome.error.status_code, outcome.error.body())(
                scope, receive, send
            )
            return
        if outcome.replay is not None:
            await _send_replay(outcome.replay, box, send)
            return

        captured: dict[str, Any] = {"status": 500, "content_type": None, "chunks": []}

        async def capturing_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                for name, value in message.get("headers", []):
                    if name.lower() == b"content-type":
                        captured["content_type"] = value.decode("latin-1")
            elif message["type"] == "http.response.body":
                captured["chunks"].append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replay_receive, capturing_send)
        finally:
            await anyio.to_thread.run_sync(
                _finish,
                database,
                ctx,
                key,
                captured["status"],
                captured["content_type"],
                box.seal_bytes(b"".join(captured["chunks"])),
            )


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        elif message["type"] == "http.disconnect":
            break
    return b"".join(chunks)


def _replaying(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


def _fingerprint(scope: Scope, body: bytes) -> str:
    digest = hashlib.sha256()
    digest.update(scope["method"].encode())
    digest.update(b"\0" + scope["path"].encode())
    digest.update(b"\0" + scope.get("query_string", b""))
    digest.update(b"\0" + body)
    return digest.hexdigest()


def _authenticate(
    database: Database, server_secret: bytes, headers: dict[bytes, bytes]
) -> RequestContext | None:
    def header(name: bytes) -> str | None:
        value = headers.get(name)
        return value.decode("latin-1") if value is not None else None

    try:
        creds = parse_credentials(
            header(b"authorization"), header(b"x-api-key"), header(b"x-api-secret")
        )
        if creds is None:
            return None
        with database.session(read_only=True) as db:
            return authenticate(db, server_secret, *creds)
    except Unauthorized:
        return None


def _claim(
    database: Database, ctx: RequestContext, key: str, fingerprint: str, ttl: timedelta
) -> _Outcome:
    now = utcnow()
    with database.transaction() as db:
        existing = db.scalars(
            select(IdempotencyRecord).where(
                IdempotencyRecord.tenant_id == ctx.tenant_id,
                IdempotencyRecord.environment == ctx.environment,
                IdempotencyRecord.key == key,
            )
        ).first()
        if existing is not None:
            expired = existing.created_at < now - ttl
            abandoned = existing.state == "in_progress" and existing.created_at < now - STALE_AFTER
            if not (expired or abandoned):
                if existing.fingerprint != fingerprint:
                    return _Outcome(
                        run=False,
                        error=ApiError(
                            422,
                            "idempotency_key_reused",
                            "This Idempotency-Key was used with a different request",
                        ),
                    )
                if existing.state == "in_progress":
                    return _Outcome(
                        run=False,
                        error=ApiError(
                            409,
                            "idempotency_request_in_progress",
                            "A request with this Idempotency-Key is still being processed",
                        ),
                    )
                db.expunge(existing)
                return _Outcome(run=False, replay=existing)
            db.delete(existing)
            db.flush()
        try:
            with db.begin_nested():
                db.add(
                    IdempotencyRecord(
                        tenant_id=ctx.tenant_id,
                        environment=ctx.environment,
                        key=key,
                        fingerprint=fingerprint,
                        state="in_progress",
                        created_at=now,
                    )
                )
        except IntegrityError:
            # Another request claimed the key between our read and our insert.
            return _Outcome(
                run=False,
                error=ApiError(
                    409,
                    "idempotency_request_in_progress",
                    "A request with this Idempotency-Key is still being processed",
                ),
            )
    return _Outcome(run=True)


def _finish(
    database: Database,
    ctx: RequestContext,
    key: str,
    status: int,
    content_type: str | None,
    sealed_body: str,
) -> None:
    where = (
        IdempotencyRecord.tenant_id == ctx.tenant_id,
        IdempotencyRecord.environment == ctx.environment,
        IdempotencyRecord.key == key,
    )
    with database.transaction() as db:
        if status >= 500:
            db.execute(delete(IdempotencyRecord).where(*where))
            return
        record = db.scalars(select(IdempotencyRecord).where(*where)).first()
        if record is not None:
            record.state = "done"
            record.status_code = status
            record.content_type = content_type
            record.body = sealed_body


def _replay_box(server_secret: bytes) -> SealedBox:
    return SealedBox(server_secret, info=b"kycd idempotency replays v1", aad=b"idempotency")


async def _send_replay(record: IdempotencyRecord, box: SealedBox, send: Send) -> None:
    body = box.open_bytes(record.body) if record.body else b""
    headers = [
        (b"content-type", (record.content_type or "application/json").encode("latin-1")),
        (b"content-length", str(len(body)).encode()),
        (b"idempotent-replayed", b"true"),
    ]
    await send(
        {"type": "http.response.start", "status": record.status_code or 200, "headers": headers}
    )
    await send({"type": "http.response.body", "body": body})


def purge_expired(database: Database, ttl: timedelta, now: datetime | None = None) -> int:
    """Delete records older than the retention period; a periodic worker job."""
    cutoff = (now or utcnow()) - ttl
    with database.transaction() as db:
        result = db.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < cutoff))
        return int(getattr(result, "rowcount", 0) or 0)
