"""Watchlists, their versions, monitored customers, hits, and re-screening tasks."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from kycd.db import Base, JSONType, TenantScopedMixin, new_id, utcnow


class Watchlist(TenantScopedMixin, Base):
    """A named list (e.g. "ofac-sdn", "opensanctions") of one tenant and
    environment. ``current_version_id`` is the version screening reads; an
    import swaps it in one guarded update."""

    __tablename__ = "screening_watchlists"
    __table_args__ = (
        UniqueConstraint("tenant_id", "environment", "name", name="uq_screening_watchlists_name"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100))
    current_version_id: Mapped[str | None] = mapped_column(String(36), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class VersionKind(StrEnum):
    FULL = "full"
    DELTA = "delta"


class ListVersion(TenantScopedMixin, Base):
    __tablename__ = "screening_list_versions"
    __table_args__ = (Index("ix_screening_versions_list", "watchlist_id", "imported_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    watchlist_id: Mapped[str] = mapped_column(ForeignKey("screening_watchlists.id"))
    version: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(8))
    format: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(300), default="")
    # Directory of the version's index files, relative to <data_dir>/screening.
    directory: Mapped[str] = mapped_column(String(100))
    previous_version_id: Mapped[str | None] = mapped_column(String(36), default=None)
    entity_count: Mapped[int] = mapped_column(Integer, default=0)
    added: Mapped[int] = mapped_column(Integer, default=0)
    modified: Mapped[int] = mapped_column(Integer, default=0)
    deleted: Mapped[int] = mapped_column(Integer, default=0)
    # Ids a delta deleted: their hits are withdrawn without screening anyone.
    deleted_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
    imported_by: Mapped[str | None] = mapped_column(String(80), default=None)


class Monitor(TenantScopedMixin, Base):
    """A customer enrolled in ongoing screening."""

    __tablename__ = "screening_monitors"
    __table_args__ = (
        UniqueConstraint(
            "tenant_id", "environment", "customer_id", name="uq_screening_monitors_customer"
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_screened_at: Mapped[datetime | None] = mapped_column(default=None)


class HitStatus(StrEnum):
    OPEN = "open"
    CONFIRMED = "confirmed"
    FALSE_POSITIVE = "false_positive"


# The hits of the customer itself, and those of its related parties.
_OF_CUSTOMER = text("party_id IS NULL")
_OF_PARTY = text("party_id IS NOT NULL")


class Hit(TenantScopedMixin, Base):
    """A customer's match against one list entity, on the customer itself
    (``party_id`` NULL) or on one of its related parties. ``active`` is false
    once the entity left the list or no longer matches, or the party was
    removed; the review stays on record."""

    __tablename__ = "screening_hits"
    __table_args__ = (
        # One hit per list entity for the customer itself and one per entity for
        # each of its parties. Two partial unique indexes rather than one
        # constraint over party_id: NULLs are distinct in a unique constraint
        # (SQLite, and PostgreSQL without NULLS NOT DISTINCT), so the customer's
        # own hits would not be unique at all; a sentinel party_id ('') would
        # make "the customer itself" a magic value every reader must know.
        Index(
            "uq_screening_hits_customer_entity",
            "tenant_id",
            "environment",
            "customer_id",
            "watchlist_id",
            "entity_id",
            unique=True,
            sqlite_where=_OF_CUSTOMER,
            postgresql_where=_OF_CUSTOMER,
        ),
        Index(
            "uq_screening_hits_party_entity",
            "tenant_id",
            "environment",
            "customer_id",
            "party_id",
            "watchlist_id",
            "entity_id",
            unique=True,
            sqlite_where=_OF_PARTY,
            postgresql_where=_OF_PARTY,
        ),
        Index("ix_screening_hits_entity", "watchlist_id", "entity_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    # The business whose party it is, for a party's hit: the hit counts in the
    # customer's summary (a sanctioned UBO is a sanctions hit of the business).
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    # No foreign key to related_parties: a hit outlives its party. Removing a
    # party deletes its row, and the party's hits stay on record, withdrawn,
    # with their reviews (a foreign key would refuse the removal, or with ON
    # DELETE SET NULL turn them into hits on the customer itself).
    party_id: Mapped[str | None] = mapped_column(String(36), default=None, index=True)
    # The party's name as screened, so a hit still says whom it was on after
    # the party is gone.
    party_name: Mapped[str | None] = mapped_column(String(300), default=None)
    watchlist_id: Mapped[str] = mapped_column(ForeignKey("screening_watchlists.id"))
    list_version_id: Mapped[str] = mapped_column(String(36))
    entity_id: Mapped[str] = mapped_column(String(200))
    entity_hash: Mapped[str] = mapped_column(String(32))
    entity_schema: Mapped[str] = mapped_column(String(40))
    entity_caption: Mapped[str] = mapped_column(String(500))
    topics: Mapped[list[str]] = mapped_column(JSONType, default=list)
    datasets: Mapped[list[str]] = mapped_column(JSONType, default=list)
    score: Mapped[float] = mapped_column(Float)
    explanation: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default=HitStatus.OPEN.value)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    review_note: Mapped[str | None] = mapped_column(Text, default=None)
    reviewed_at: Mapped[datetime | None] = mapped_column(default=None)
    reviewed_by: Mapped[str | None] = mapped_column(String(80), default=None)
    # The entity as it was when reviewed: the decision holds while it is unchanged.
    reviewed_entity_hash: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class TaskStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"


class RescreenTask(TenantScopedMixin, Base):
    """Re-screening the monitored customers after an import, in batches.
    An import makes one task per shard of customer ids (``cursor`` up to
    ``shard_end``), so several workers screen one import side by side.
    ``cursor`` is the last customer id handled; it advances with a guarded
    update, so two workers never both apply one batch."""

    __tablename__ = "screening_rescreen_tasks"
    __table_args__ = (Index("ix_screening_tasks_status", "status", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    watchlist_id: Mapped[str] = mapped_column(ForeignKey("screening_watchlists.id"))
    list_version_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(12), default=TaskStatus.PENDING.value)
    cursor: Mapped[str] = mapped_column(String(36), default="")
    shard_end: Mapped[str] = mapped_column(String(36), default="~")
    processed: Mapped[int] = mapped_column(Integer, default=0)
    hits_created: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
