"""A tenant's verification levels: the built-in defaults until it configures its
own, through ``PUT /v1/levels/{name}`` or a config file (``kycd levels import``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kycd.db import utcnow
from kycd.errors import NotFound
from kycd.events.service import record_event
from kycd.tenancy.context import RequestContext
from kycd.tenancy.scoping import scope_values, scoped
from kycd.verification.levels import DEFAULT_LEVELS, LevelDefinition, LevelStep
from kycd.verification.models import VerificationLevel


@dataclass(frozen=True)
class EffectiveLevel:
    """A level as new runs get it: the tenant's row, or a built-in default not
    used yet (no row, so no id)."""

    definition: LevelDefinition
    row: VerificationLevel | None

    @property
    def source(self) -> str:
        return "tenant" if self.row is not None else "default"


def definition_of(row: VerificationLevel) -> LevelDefinition:
    steps = tuple(LevelStep(str(s["kind"]), bool(s.get("optional", False))) for s in row.steps)
    return LevelDefinition(row.name, steps, timedelta(hours=row.ttl_hours))


def _find(db: Session, ctx: RequestContext, name: str) -> VerificationLevel | None:
    return db.scalars(scoped(VerificationLevel, ctx).where(VerificationLevel.name == name)).first()


def list_levels(db: Session, ctx: RequestContext) -> list[EffectiveLevel]:
    rows = db.scalars(scoped(VerificationLevel, ctx).order_by(VerificationLevel.name)).all()
    levels = {row.name: EffectiveLevel(definition_of(row), row) for row in rows}
    for name, definition in DEFAULT_LEVELS.items():
        levels.setdefault(name, EffectiveLevel(definition, None))
    return [levels[name] for name in sorted(levels)]


def get_level(db: Session, ctx: RequestContext, name: str) -> EffectiveLevel:
    row = _find(db, ctx, name)
    if row is not None:
        return EffectiveLevel(definition_of(row), row)
    if name in DEFAULT_LEVELS:
        return EffectiveLevel(DEFAULT_LEVELS[name], None)
    raise NotFound(f"Level '{name}' not found")


def _insert(
    db: Session, ctx: RequestContext, definition: LevelDefinition
) -> VerificationLevel | None:
    """Insert in a savepoint; ``None`` when a concurrent writer inserted the name first."""
    document = definition.as_document()
    row = VerificationLevel(
        **scope_values(ctx),
        name=definition.name,
        steps=document["steps"],
        ttl_hours=definition.ttl_hours,
    )
    try:
        with db.begin_nested():
            db.add(row)
            db.flush()
    except IntegrityError:
        return None
    return row


def resolve_for_run(db: Session, ctx: RequestContext, name: str) -> VerificationLevel:
    """The row a new run points at, copying a built-in default in on first use."""
    row = _find(db, ctx, name)
    if row is not None:
        return row
    if name not in DEFAULT_LEVELS:
        raise NotFound(f"Level '{name}' not found")
    row = _insert(db, ctx, DEFAULT_LEVELS[name]) or _find(db, ctx, name)
    assert row is not None  # inserted by us or by the writer that beat us
    return row


def put_level(db: Session, ctx: RequestContext, definition: LevelDefinition) -> VerificationLevel:
    """Create or replace a level. Runs already started keep the steps and deadline
    they were created with; only new runs see the change."""
    row = _find(db, ctx, definition.name)
    created = False
    if row is None:
        row = _insert(db, ctx, definition)
        created = row is not None
        row = row or _find(db, ctx, definition.name)
        assert row is not None
    if not created:
        row.steps = definition.as_document()["steps"]
        row.ttl_hours = definition.ttl_hours
        row.updated_at = utcnow()
        db.flush()
    # An operator-administrative event: never shown in an applicant's review history.
    record_event(
        db,
        ctx,
        "admin.level_created" if created else "admin.level_updated",
        payload={"levelId": row.id, **definition.as_document()},
    )
    return row
