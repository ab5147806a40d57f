"""``kycd watchlist …``: import list files and show lists, with progress bars."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from kycd.db import Database
from kycd.errors import ApiError
from kycd.screening import lists, monitoring
from kycd.screening.importers import ListFormat
from kycd.settings import get_settings
from kycd.tenancy.context import RequestContext
from kycd.tenancy.scopes import Environment

app = typer.Typer(help="Watchlists for screening.", no_args_is_help=True)
console = Console()


def _context(database: Database, tenant: str, environment: Environment) -> RequestContext:
    from sqlalchemy import select

    from kycd.tenancy.models import Tenant

    with database.session(read_only=True) as db:
        tenant_id = db.scalar(select(Tenant.id).where(Tenant.name == tenant))
    if tenant_id is None:
        console.print(f"[red]No tenant named '{tenant}'[/red] (create a credential for it first)")
        raise typer.Exit(2)
    return RequestContext(tenant_id, environment.value, actor_type="operator", actor_id="cli")


def _bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


@app.command("import")
def import_(
    name: Annotated[str, typer.Argument(help="List name, e.g. 'ofac-sdn' or 'opensanctions'.")],
    path: Annotated[
        Path,
        typer.Argument(help="The file (for OFAC: sdn.csv, with alt.csv and add.csv beside it)."),
    ],
    tenant: Annotated[str, typer.Option(help="Tenant name.")],
    format: Annotated[ListFormat, typer.Option(help="File format.")] = ListFormat.FTM,
    environment: Annotated[
        Environment, typer.Option(help="sandbox or production.")
    ] = Environment.SANDBOX,
    version: Annotated[
        str | None, typer.Option(help="Version label (default: from the file name or the time).")
    ] = None,
    workers: Annotated[int, typer.Option(help="Processes for name analysis.")] = min(
        2, os.cpu_count() or 1
    ),
    rescreen: Annotated[
        bool, typer.Option(help="Re-screen monitored customers now (else the worker does).")
    ] = True,
) -> None:
    """Import a list version or delta; screening switches to it atomically."""
    settings = get_settings()
    database = Database.from_settings(settings)
    ctx = _context(database, tenant, environment)
    size = path.stat().st_size if path.exists() else 0
    try:
        with _bar() as bar:
            estimate = max(size // 300, 1) if format is ListFormat.FTM else None
            job = bar.add_task(f"importing {path.name}", total=estimate)
            created = lists.import_list(
                database,
                ctx,
                settings,
                name,
                lists.Source(format, path, version),
                progress=lambda n: bar.advance(job, n),
                workers=workers,
            )
            bar.update(job, total=created.entity_count, completed=created.entity_count)
        console.print(
            f"[green]{name} {created.version}[/green] ({created.kind}): {created.entity_count} entities"
            f" (+{created.added} ~{created.modified} -{created.deleted})"
        )
        task_ids = monitoring.tasks_for_version(database, created.id)
        if rescreen and task_ids:
            with _bar() as bar:
                total = monitoring.monitored_count(database, ctx)
                job = bar.add_task("re-screening monitored customers", total=total)
                for task_id in task_ids:
                    monitoring.run_task(database, settings, task_id, lambda n: bar.advance(job, n))
    except ApiError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from exc
    finally:
        database.dispose()


@app.command("list")
def list_(
    tenant: Annotated[str, typer.Option(help="Tenant name.")],
    environment: Annotated[
        Environment, typer.Option(help="sandbox or production.")
    ] = Environment.SANDBOX,
) -> None:
    """Show the tenant's lists and their current versions."""
    settings = get_settings()
    database = Database.from_settings(settings)
    ctx = _context(database, tenant, environment)
    table = Table("list", "version", "kind", "entities", "imported at")
    with database.session(read_only=True) as db:
        for watchlist, version in lists.current_versions(db, ctx):
            table.add_row(
                watchlist.name,
                version.version,
                version.kind,
                str(version.entity_count),
                version.imported_at.isoformat(timespec="seconds"),
            )
    database.dispose()
    console.print(table)
