"""Screening API: ad hoc matching, monitoring (seed 003), hits and reviews,
watchlist administration."""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Body, Depends, File, Form, Request, UploadFile

from kycd.api.deps import AdminCtx, DbSession, ReadCtx, ReviewCtx, UpdateCtx
from kycd.api.pagination import Page, PageParams, page_params
from kycd.core.heap import freeze_long_lived_objects
from kycd.errors import BadRequest
from kycd.screening import lists, service
from kycd.screening.engine import warm_up
from kycd.screening.importers import ListFormat
from kycd.screening.models import HitStatus
from kycd.screening.schemas import (
    HitOut,
    MatchRequest,
    MatchResponse,
    MonitorRequest,
    MonitorResponse,
    ReviewRequest,
    VersionOut,
    WatchlistOut,
)
from kycd.settings import Settings

_warmed = threading.Event()


def _warm_up() -> None:
    """Load rigour's name taggers (several seconds, once per process) in the
    background at startup, so the first screening request does not pay it."""
    if _warmed.is_set():
        return
    _warmed.set()
    threading.Thread(target=_warm_up_and_freeze, name="screening-warm-up", daemon=True).start()


def _warm_up_and_freeze() -> None:
    warm_up()
    freeze_long_lived_objects()  # the taggers live as long as the process


router = APIRouter(tags=["screening"], on_startup=[_warm_up])


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


@router.post("/v1/screening/match", response_model=MatchResponse, response_model_by_alias=True)
def match(body: MatchRequest, ctx: ReadCtx, db: DbSession, settings: SettingsDep) -> MatchResponse:
    return service.screen(db, ctx, settings, body)


@router.post("/v1/customers/{customer_id}/monitor", response_model=MonitorResponse)
def monitor(
    customer_id: str,
    ctx: UpdateCtx,
    db: DbSession,
    settings: SettingsDep,
    body: Annotated[MonitorRequest | None, Body()] = None,
) -> MonitorResponse:
    enabled = body.enabled if body is not None else True
    return service.monitor_customer(db, ctx, settings, customer_id, enabled)


@router.get("/v1/customers/{customer_id}/screening-hits", response_model=Page[HitOut])
def screening_hits(
    customer_id: str,
    ctx: ReadCtx,
    db: DbSession,
    page: Annotated[PageParams, Depends(page_params)],
    status: HitStatus | None = None,
    include_inactive: bool = False,
) -> Page[HitOut]:
    rows, total = service.list_hits(
        db, ctx, customer_id, page, status=status, include_inactive=include_inactive
    )
    return Page[HitOut].build(rows, page, total)


@router.post("/v1/screening/hits/{hit_id}/review", response_model=HitOut)
def review(hit_id: str, body: ReviewRequest, ctx: ReviewCtx, db: DbSession) -> HitOut:
    return service.review_hit(db, ctx, hit_id, body)


@router.get("/v1/screening/watchlists", response_model=list[WatchlistOut])
def watchlists(ctx: AdminCtx, db: DbSession) -> list[WatchlistOut]:
    return [lists.watchlist_out(db, ctx, w) for w in lists.list_watchlists(db, ctx)]


@router.get("/v1/screening/watchlists/{name}", response_model=WatchlistOut)
def watchlist(name: str, ctx: AdminCtx, db: DbSession) -> WatchlistOut:
    return lists.watchlist_out(db, ctx, lists.get_watchlist(db, ctx, name))


@router.post("/v1/screening/watchlists/{name}/imports", status_code=201, response_model=VersionOut)
def import_version(
    name: str,
    ctx: AdminCtx,
    db: DbSession,
    settings: SettingsDep,
    format: Annotated[ListFormat, Form()],
    file: Annotated[UploadFile, File()],
    alt_file: Annotated[UploadFile | None, File()] = None,
    add_file: Annotated[UploadFile | None, File()] = None,
    version: Annotated[str | None, Form(max_length=100)] = None,
) -> VersionOut:
    """Upload a list file (OFAC: ``file`` is sdn.csv, ``alt_file`` and
    ``add_file`` the optional alt.csv and add.csv). Monitored customers are
    re-screened by the worker."""
    root = lists.screening_root(settings)
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix="upload-") as tmp:
        upload = Path(tmp)
        main_name = "sdn.csv" if format is ListFormat.OFAC else _safe_name(file.filename)
        _save(file, upload / main_name)
        if format is ListFormat.OFAC:
            if alt_file is not None:
                _save(alt_file, upload / "alt.csv")
            if add_file is not None:
                _save(add_file, upload / "add.csv")
        source = lists.Source(format, upload / main_name, version)
        created = lists.import_in_request(db, ctx, settings, name, source)
    return VersionOut.model_validate(created)


def _safe_name(filename: str | None) -> str:
    name = Path(filename or "upload").name
    if not name or name.startswith("."):
        raise BadRequest("the uploaded file needs a name", field="file")
    return name


def _save(upload: UploadFile, path: Path) -> None:
    with path.open("wb") as fh:
        shutil.copyfileobj(upload.file, fh)
