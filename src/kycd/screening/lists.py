"""Importing list versions: build the files, then swap the current version.

Building a version (parsing, name analysis, index) takes the most time and
happens outside any write transaction. The swap is one short transaction: a
guarded update of the list's current version (``WHERE current_version_id =
:expected``; an import that lost a race answers 409), the version row, the
re-screening task and the event. Until it commits, screening reads the
previous version; after, the new one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from kycd.db import Database, new_id, utcnow
from kycd.errors import BadRequest, Conflict, NotFound
from kycd.events.service import record_event
from kycd.screening import builder
from kycd.screening.engine import views
from kycd.screening.importers import (
    ListFormat,
    read_ftm_delta,
    read_ofac,
    read_plain_csv,
)
from kycd.screening.index import Keyed, ListView, Segment, remove_tree
from kycd.screening.models import Hit, ListVersion, RescreenTask, VersionKind, Watchlist
from kycd.screening.schemas import RescreenOut, VersionOut, WatchlistOut
from kycd.settings import Settings
from kycd.tenancy.context import RequestContext
from kycd.tenancy.scoping import scope_values, scoped

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")


def screening_root(settings: Settings) -> Path:
    return settings.data_dir / "screening"


def check_list_name(name: str) -> str:
    if not _NAME.match(name):
        raise BadRequest(
            "list names are 1-100 lower-case letters, digits, '.', '_' or '-'", field="name"
        )
    return name


def find_watchlist(db: Session, ctx: RequestContext, name: str) -> Watchlist | None:
    return db.scalars(scoped(Watchlist, ctx).where(Watchlist.name == name)).first()


def get_watchlist(db: Session, ctx: RequestContext, name: str) -> Watchlist:
    watchlist = find_watchlist(db, ctx, name)
    if watchlist is None:
        raise NotFound("Watchlist not found")
    return watchlist


# Every screening starts here: one statement, built once, so tenant and
# environment are bound parameters rather than scoped()'s filter (the same
# filter; tests/screening check that lists do not cross tenants or environments).
_CURRENT_VERSIONS = (
    select(Watchlist, ListVersion)
    .join(ListVersion, ListVersion.id == Watchlist.current_version_id)
    .where(
        Watchlist.tenant_id == bindparam("tenant_id"),
        Watchlist.environment == bindparam("environment"),
    )
    .order_by(Watchlist.name)
)
_NAMED_CURRENT_VERSIONS = _CURRENT_VERSIONS.where(
    Watchlist.name.in_(bindparam("names", expanding=True))
)


def current_versions(
    db: Session, ctx: RequestContext, names: list[str] | None = None
) -> list[tuple[Watchlist, ListVersion]]:
    """The tenant's lists (all, or those named) with their current version."""
    params: dict[str, object] = {"tenant_id": ctx.tenant_id, "environment": ctx.environment}
    stmt = _CURRENT_VERSIONS
    if names is not None:
        stmt, params["names"] = _NAMED_CURRENT_VERSIONS, names
    return [(watchlist, version) for watchlist, version in db.execute(stmt, params).all()]


def open_view(settings: Settings, version: ListVersion) -> ListView:
    return views.get(screening_root(settings) / version.directory)


def open_changes(settings: Settings, version: ListVersion) -> ListView:
    """The entities a delta added or changed, as a view of their own."""
    return ListView(Segment(screening_root(settings) / version.directory / "changes"), None, None)


@dataclass(frozen=True)
class Source:
    format: ListFormat
    path: Path
    version: str | None = None


@dataclass
class Prepared:
    watchlist_name: str
    version_id: str
    directory: str
    kind: VersionKind
    source: Source
    label: str
    previous_version_id: str | None
    result: builder.BuildResult


def default_label(source: Source) -> str:
    if source.version:
        return source.version
    stem = source.path.name.split(".", 1)[0]
    if source.format is ListFormat.FTM_DELTA and stem:
        return stem  # OpenSanctions names delta files by version
    return utcnow().strftime("%Y%m%dT%H%M%SZ")


def prepare(
    db: Session,
    ctx: RequestContext,
    settings: Settings,
    name: str,
    source: Source,
    *,
    progress: builder.Progress | None = None,
    workers: int = 1,
) -> Prepared:
    """Build a new version's files; nothing is written to the database."""
    check_list_name(name)
    if not source.path.exists():
        raise BadRequest(f"{source.path.name}: no such file", field="file")
    watchlist = find_watchlist(db, ctx, name)
    previous = None
    if watchlist is not None and watchlist.current_version_id is not None:
        previous = db.get(ListVersion, watchlist.current_version_id)
    version_id = new_id()
    root = screening_root(settings)
    root.mkdir(parents=True, exist_ok=True)
    directory = root / version_id
    if source.format is ListFormat.FTM_DELTA:
        if previous is None:
            raise BadRequest(
                f"watchlist '{name}' has no version yet to apply a delta to", field="format"
            )
        with source.path.open("rb") as fh:
            result = builder.build_delta(
                directory,
                open_view(settings, previous),
                read_ftm_delta(fh, source.path.name),
                progress=progress,
            )
        kind = VersionKind.DELTA
    else:
        with source.path.open("rb") as fh:
            result = builder.build_full(directory, _keyed(source, fh, workers), progress=progress)
        kind = VersionKind.FULL
    return Prepared(
        name,
        version_id,
        version_id,
        kind,
        source,
        default_label(source),
        previous.id if previous else None,
        result,
    )


def _keyed(source: Source, fh: object, workers: int) -> Iterator[Keyed | None]:
    if source.format is ListFormat.FTM:
        yield from builder.keyed_ftm_lines(fh, source.path.name, workers)  # type: ignore[arg-type]
    elif source.format is ListFormat.OFAC:
        yield from builder.keyed_entities(read_ofac(source.path))
    else:
        with source.path.open(newline="", encoding="utf-8-sig") as text:
            yield from builder.keyed_entities(read_plain_csv(text, source.path.name))


def commit(db: Session, ctx: RequestContext, settings: Settings, prepared: Prepared) -> ListVersion:
    """Swap the new version in. Call in the transaction that commits it."""
    watchlist = find_watchlist(db, ctx, prepared.watchlist_name)
    if watchlist is None:
        watchlist = Watchlist(**scope_values(ctx), name=prepared.watchlist_name)
        db.add(watchlist)
        db.flush()
    version = ListVersion(
        **scope_values(ctx),
        id=prepared.version_id,
        watchlist_id=watchlist.id,
        version=prepared.label,
        kind=prepared.kind.value,
        format=prepared.source.format.value,
        source=prepared.source.path.name,
        directory=prepared.directory,
        previous_version_id=prepared.previous_version_id,
        entity_count=prepared.result.entity_count,
        added=len(prepared.result.added),
        modified=len(prepared.result.modified),
        deleted=len(prepared.result.deleted),
        deleted_ids=prepared.result.deleted,
        imported_by=ctx.actor_id,
    )
    db.add(version)
    db.flush()
    swapped = db.execute(
        update(Watchlist)
        .where(
            Watchlist.id == watchlist.id,
            Watchlist.current_version_id.is_(None)
            if prepared.previous_version_id is None
            else Watchlist.current_version_id == prepared.previous_version_id,
        )
        .values(current_version_id=version.id, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if getattr(swapped, "rowcount", 0) != 1:
        remove_tree(screening_root(settings) / prepared.directory)
        raise Conflict(
            f"watchlist '{prepared.watchlist_name}' changed during the import; import again",
            "watchlist_conflict",
        )
    db.refresh(watchlist)
    add_rescreen_tasks(db, ctx, watchlist, version)
    record_event(
        db,
        ctx,
        "screening.list.imported",
        payload={
            "watchlist": watchlist.name,
            "version": version.version,
            "version_id": version.id,
            "kind": version.kind,
            "entity_count": version.entity_count,
            "added": version.added,
            "modified": version.modified,
            "deleted": version.deleted,
        },
    )
    _withdraw_deleted(db, ctx, watchlist, version)
    db.flush()
    return version


# Customer ids are UUIDs in lower-case hex: four shards by their first digit.
SHARDS = (("", "4"), ("4", "8"), ("8", "c"), ("c", "~"))


def add_rescreen_tasks(
    db: Session, ctx: RequestContext, watchlist: Watchlist, version: ListVersion
) -> list[RescreenTask]:
    tasks = [
        RescreenTask(
            **scope_values(ctx),
            watchlist_id=watchlist.id,
            list_version_id=version.id,
            kind=version.kind,
            cursor=start,
            shard_end=end,
        )
        for start, end in SHARDS
    ]
    db.add_all(tasks)
    db.flush()
    return tasks


def _withdraw_deleted(
    db: Session, ctx: RequestContext, watchlist: Watchlist, version: ListVersion
) -> None:
    """Hits on entities a delta deleted are withdrawn at once, without screening."""
    if not version.deleted_ids:
        return
    from kycd.screening.service import withdraw_hit

    hits = db.scalars(
        scoped(Hit, ctx).where(
            Hit.watchlist_id == watchlist.id,
            Hit.entity_id.in_(version.deleted_ids),
            Hit.active.is_(True),
        )
    )
    for hit in hits:
        withdraw_hit(db, ctx, hit, version.id, "entity deleted from the list")


def import_list(
    database: Database,
    ctx: RequestContext,
    settings: Settings,
    name: str,
    source: Source,
    *,
    progress: builder.Progress | None = None,
    workers: int = 1,
) -> ListVersion:
    """Build outside any write transaction, then swap in a short one."""
    with database.session(read_only=True) as db:
        prepared = prepare(db, ctx, settings, name, source, progress=progress, workers=workers)
    try:
        with database.transaction() as db:
            version = commit(db, ctx, settings, prepared)
    except BaseException:
        remove_tree(screening_root(settings) / prepared.directory)
        raise
    prune(database, ctx, settings, name)
    return version


def prune(database: Database, ctx: RequestContext, settings: Settings, name: str) -> None:
    """Delete the files of versions that are neither current nor previous (nor
    the base such a delta version reads). Processes still holding an old map
    keep reading it: unlinking a mapped file does not take its pages away."""
    with database.session(read_only=True) as db:
        watchlist = find_watchlist(db, ctx, name)
        if watchlist is None or watchlist.current_version_id is None:
            return
        rows = list(
            db.scalars(
                scoped(ListVersion, ctx)
                .where(ListVersion.watchlist_id == watchlist.id)
                .order_by(ListVersion.imported_at.desc())
            )
        )
    root = screening_root(settings)
    keep: set[Path] = set()
    for version in rows[:2]:
        directory = root / version.directory
        keep.add(directory.resolve())
        if directory.exists() and (base := builder.referenced_base(directory)) is not None:
            keep.add(base.resolve())
    for version in rows[2:]:
        directory = root / version.directory
        if directory.resolve() not in keep and directory.exists():
            remove_tree(directory)


def import_in_request(
    db: Session, ctx: RequestContext, settings: Settings, name: str, source: Source
) -> ListVersion:
    """An import inside the caller's unit of work (the admin API): suited to a
    tenant's own lists; large public lists are imported with the CLI, which
    builds outside any transaction."""
    prepared = prepare(db, ctx, settings, name, source)
    try:
        return commit(db, ctx, settings, prepared)
    except BaseException:
        remove_tree(screening_root(settings) / prepared.directory)
        raise


def watchlist_out(db: Session, ctx: RequestContext, watchlist: Watchlist) -> WatchlistOut:
    versions, tasks = describe(db, ctx, watchlist)
    current = next((v for v in versions if v.id == watchlist.current_version_id), None)
    return WatchlistOut(
        id=watchlist.id,
        name=watchlist.name,
        current_version=VersionOut.model_validate(current) if current else None,
        versions=[VersionOut.model_validate(v) for v in versions],
        rescreens=[RescreenOut.model_validate(t) for t in tasks],
        created_at=watchlist.created_at,
        updated_at=watchlist.updated_at,
    )


def describe(
    db: Session, ctx: RequestContext, watchlist: Watchlist
) -> tuple[list[ListVersion], list[RescreenTask]]:
    versions = list(
        db.scalars(
            scoped(ListVersion, ctx)
            .where(ListVersion.watchlist_id == watchlist.id)
            .order_by(ListVersion.imported_at.desc())
            .limit(20)
        )
    )
    tasks = list(
        db.scalars(
            scoped(RescreenTask, ctx)
            .where(RescreenTask.watchlist_id == watchlist.id)
            .order_by(RescreenTask.created_at.desc())
            .limit(20)
        )
    )
    return versions, tasks


def list_watchlists(db: Session, ctx: RequestContext) -> list[Watchlist]:
    return list(db.scalars(scoped(Watchlist, ctx).order_by(Watchlist.name)))
