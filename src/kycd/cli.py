"""The ``kycd`` command line."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from kycd.db import Database
from kycd.settings import get_settings

app = typer.Typer(help="kycd: self-hosted KYC/AML compliance engine.", no_args_is_help=True)
credentials_app = typer.Typer(help="API credentials.", no_args_is_help=True)
app.add_typer(credentials_app, name="credentials")
console = Console()


def _database() -> Database:
    return Database.from_settings(get_settings())


@app.command()
def migrate() -> None:
    """Bring the database schema up to date (Alembic)."""
    from kycd.migrate import upgrade

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    console.print(
        f"[green]Database is up to date[/green] ({_redacted(settings.resolved_database_url)})"
    )


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (1 per core is usual).")] = 1,
) -> None:
    """Serve the API (run `kycd migrate` first)."""
    import uvicorn

    uvicorn.run(
        "kycd.asgi:app",
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )


def _issue(tenant: str, environment: str, scopes: list[str], name: str = "") -> dict[str, object]:
    from kycd.core.server_secret import load_server_secret
    from kycd.tenancy.service import issue_credential

    settings = get_settings()
    database = _database()
    with database.transaction() as db:
        issued = issue_credential(
            db,
            load_server_secret(settings),
            tenant_name=tenant,
            environment=environment,
            scopes=scopes,
            name=name,
            actor_type="operator",
            actor_id="cli",
        )
    database.dispose()
    return issued.as_dict()


@credentials_app.command("create")
def credentials_create(
    tenant: Annotated[str, typer.Option(help="Tenant name; created when new.")],
    environment: Annotated[str, typer.Option(help="sandbox or production.")] = "sandbox",
    scopes: Annotated[
        str, typer.Option(help="Comma-separated scopes.")
    ] = "kyc:read,kyc:create,kyc:update,kyc:review,kyc:admin",
    name: Annotated[str, typer.Option(help="A label for the credential.")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Create an API credential. The secret is printed once and stored only hashed."""
    from kycd.errors import ApiError

    try:
        issued = _issue(
            tenant, environment, [s.strip() for s in scopes.split(",") if s.strip()], name
        )
    except ApiError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(json.dumps(issued))
        return
    _print_credential(issued)


def _print_credential(issued: dict[str, object]) -> None:
    table = Table(show_header=False, title="API credential (the secret is shown only now)")
    for key in (
        "tenant_name",
        "tenant_id",
        "environment",
        "scopes",
        "api_key",
        "api_secret",
        "bearer_token",
    ):
        value = issued[key]
        table.add_row(key, ",".join(value) if isinstance(value, list) else str(value))
    console.print(table)


@app.command()
def demo() -> None:
    """Create the demo tenant with a sandbox credential holding every scope."""
    issued = _issue(
        "demo",
        "sandbox",
        ["kyc:read", "kyc:create", "kyc:update", "kyc:review", "kyc:admin"],
        "demo",
    )
    _print_credential(issued)
    settings = get_settings()
    demo_file = settings.data_dir / "demo-credentials.json"
    demo_file.write_text(json.dumps(issued, indent=2))
    demo_file.chmod(0o600)
    console.print(f"Saved to {demo_file} (mode 0600). Try:")
    console.print(
        f"  curl -H 'Authorization: Bearer {issued['bearer_token']}' "
        f"{settings.public_base_url}/v1/customers"
    )


# Screening: `kycd watchlist import|list`.
from kycd.screening.cli import app as _watchlist_app  # noqa: E402

app.add_typer(_watchlist_app, name="watchlist")


def _redacted(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


if __name__ == "__main__":
    app()
