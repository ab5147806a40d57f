"""The ``kycd`` command line."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from kycd.db import Database
from kycd.settings import get_settings

app = typer.Typer(help="kycd: self-hosted KYC/AML compliance engine.", no_args_is_help=True)
credentials_app = typer.Typer(help="API credentials.", no_args_is_help=True)
app.add_typer(credentials_app, name="credentials")
# soft_wrap: tokens, passwords and URLs are printed on one line, never cut or
# wrapped by rich, so that they copy whole from any terminal.
console = Console(soft_wrap=True)


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
    with_worker: Annotated[
        bool, typer.Option(help="Also run `kycd worker` (webhooks, periodic jobs) beside it.")
    ] = False,
) -> None:
    """Serve the API (run `kycd migrate` first)."""
    import uvicorn

    background = _start_background_worker() if with_worker else None
    try:
        uvicorn.run(
            "kycd.asgi:app",
            host=host,
            port=port,
            workers=workers,
            # A worker process imports the whole app and warms the screening name
            # taggers (seconds of CPU) before it answers the supervisor's pings;
            # the default 5 s made a loaded machine respawn workers forever.
            timeout_worker_healthcheck=60,
            loop="uvloop",
            http="httptools",
            access_log=False,
            log_level="warning",
        )
    finally:
        if background is not None:
            _stop_background_worker(background)


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
    # Plain lines rather than a table, which would cut the token to fit the width.
    console.print("[bold]API credential[/bold] (the secret is shown only now)")
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
        shown = ",".join(value) if isinstance(value, list) else str(value)
        console.print(f"  {key}: {shown}", highlight=False)


# Operators (console accounts) ------------------------------------------------------------
operators_app = typer.Typer(help="Operator accounts of the console.", no_args_is_help=True)
app.add_typer(operators_app, name="operators")


@operators_app.command("create")
def operators_create(
    tenant: Annotated[str, typer.Option(help="Tenant name; created when new.")],
    email: Annotated[str, typer.Option(help="The operator's e-mail (their login).")],
    role: Annotated[str, typer.Option(help="viewer, reviewer or admin.")] = "viewer",
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create a console operator. The password is prompted for (or read from stdin)."""
    import sys

    from kycd.console.service import create_operator_for_tenant
    from kycd.errors import ApiError

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    database = _database()
    try:
        with database.transaction() as db:
            operator = create_operator_for_tenant(
                db, tenant_name=tenant, email=email, role=role, password=password, display_name=name
            )
            summary = f"{operator.email} ({operator.role}) in tenant '{tenant}', id {operator.id}"
    except ApiError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from exc
    finally:
        database.dispose()
    console.print(f"[green]Operator created[/green]: {summary}")


DEMO_OPERATOR_EMAIL = "admin@demo.example"


def _demo_operator() -> None:
    """An admin for the demo tenant's console, made on the first `kycd demo`; its
    random password is printed and saved (mode 0600) beside the demo credential."""
    import secrets

    from sqlalchemy import select

    from kycd.console.models import Operator
    from kycd.console.service import create_operator_for_tenant
    from kycd.tenancy.service import get_or_create_tenant

    settings = get_settings()
    login_url = f"{settings.public_base_url}/console/login?tenant=demo"
    database = _database()
    try:
        with database.transaction() as db:
            tenant = get_or_create_tenant(db, "demo")
            exists = db.scalars(
                select(Operator).where(
                    Operator.tenant_id == tenant.id, Operator.email == DEMO_OPERATOR_EMAIL
                )
            ).first()
            password = secrets.token_urlsafe(15)
            if exists is None:
                create_operator_for_tenant(
                    db,
                    tenant_name="demo",
                    email=DEMO_OPERATOR_EMAIL,
                    role="admin",
                    password=password,
                )
    finally:
        database.dispose()
    operator_file = settings.data_dir / "demo-operator.json"
    if exists is None:
        operator_file.write_text(
            json.dumps({"email": DEMO_OPERATOR_EMAIL, "password": password, "url": login_url})
        )
        operator_file.chmod(0o600)
        console.print(
            f"Console: {login_url} as {DEMO_OPERATOR_EMAIL} / {password} (saved to {operator_file})"
        )
    else:
        console.print(f"Console: {login_url} (demo admin's password in {operator_file})")


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
        f"{settings.public_base_url}/v1/customers",
        highlight=False,
    )
    _demo_operator()


# --- Verification levels -------------------------------------------------------------
levels_app = typer.Typer(help="Verification levels.", no_args_is_help=True)
app.add_typer(levels_app, name="levels")


@levels_app.command("import")
def levels_import(
    path: Annotated[str, typer.Argument(help="A YAML or JSON file: {levels: [...]}.")],
    tenant: Annotated[str, typer.Option(help="Tenant name; created when new.")],
    environment: Annotated[str, typer.Option(help="sandbox or production.")] = "sandbox",
) -> None:
    """Create or replace a tenant's verification levels from a config file."""
    from pathlib import Path

    from kycd.tenancy.context import RequestContext
    from kycd.tenancy.scopes import Environment
    from kycd.tenancy.service import get_or_create_tenant
    from kycd.verification.level_service import put_level
    from kycd.verification.levels import LevelError, load_levels_text

    if environment not in {e.value for e in Environment}:
        console.print("[red]environment must be sandbox or production[/red]")
        raise typer.Exit(2)
    try:
        definitions = load_levels_text(Path(path).read_text())
    except (OSError, LevelError) as exc:
        console.print(f"[red]{path}: {getattr(exc, 'field', '')} {exc}[/red]")
        raise typer.Exit(2) from exc
    database = _database()
    with database.transaction() as db:
        tenant_row = get_or_create_tenant(db, tenant)
        ctx = RequestContext(tenant_row.id, environment, actor_type="operator", actor_id="cli")
        for definition in definitions:
            put_level(db, ctx, definition)
    database.dispose()
    names = ", ".join(d.name for d in definitions)
    console.print(f"[green]Imported {len(definitions)} level(s)[/green]: {names}")


@levels_app.command("defaults")
def levels_defaults() -> None:
    """Print the built-in levels as a config file to start from."""
    import yaml

    from kycd.verification.levels import DEFAULT_LEVELS

    document = {"levels": [level.as_document() for level in DEFAULT_LEVELS.values()]}
    typer.echo(yaml.safe_dump(document, sort_keys=False))


# --- webhooks: the worker process ------------------------------------------


@app.command()
def worker(
    poll_interval: Annotated[
        float, typer.Option(help="Seconds between looks at the outbox when idle.")
    ] = 0.1,
    concurrency: Annotated[int, typer.Option(help="Webhook requests in flight at most.")] = 64,
    timeout: Annotated[
        float,
        typer.Option(envvar="KYCD_WEBHOOK_TIMEOUT_SECONDS", help="Webhook request timeout (s)."),
    ] = 15.0,
    lease_margin: Annotated[
        float,
        typer.Option(help="Seconds past the timeout before a dead worker's claims are retaken."),
    ] = 30.0,
    jobs: Annotated[bool, typer.Option(help="Run the periodic jobs too.")] = True,
    processes: Annotated[
        int, typer.Option(min=1, max=64, help="Delivery processes on this machine (one per core).")
    ] = 1,
) -> None:
    """Deliver webhooks and run the periodic jobs until SIGTERM or Ctrl-C.

    Several workers (on one machine with --processes, or on several machines)
    share the work safely; the extra processes run no periodic jobs."""
    import logging

    from kycd.webhooks.delivery import DeliveryConfig
    from kycd.worker.runner import WorkerConfig, run_worker

    settings = get_settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(name)s %(message)s")
    config = WorkerConfig(
        delivery=DeliveryConfig(timeout=timeout, lease_margin=lease_margin),
        poll_interval=poll_interval,
        concurrency=concurrency,
        run_periodic_jobs=jobs,
    )
    helper_args = [
        *("--poll-interval", str(poll_interval), "--concurrency", str(concurrency)),
        *("--timeout", str(timeout), "--lease-margin", str(lease_margin), "--no-jobs"),
    ]
    helpers = [
        subprocess.Popen([sys.executable, "-m", "kycd.cli", "worker", *helper_args])
        for _ in range(processes - 1)
    ]
    try:
        run_worker(settings, config)
    finally:
        for helper in helpers:
            if helper.poll() is None:
                helper.terminate()
        for helper in helpers:
            _stop_background_worker(helper)


def _start_background_worker() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "kycd.cli", "worker"])


def _stop_background_worker(process: subprocess.Popen[bytes]) -> None:
    # Ctrl-C reaches the whole foreground process group, so the worker is
    # usually stopping already; SIGTERM covers every other way serve ends.
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- end webhooks -------------------------------------------------------------


# Screening: `kycd watchlist import|list`.
from kycd.screening.cli import app as _watchlist_app  # noqa: E402

app.add_typer(_watchlist_app, name="watchlist")


def _redacted(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


# --- lifecycle: identifier encryption keys and the PARTIAL/FULL configuration ---
keys_app = typer.Typer(help="Encryption keys of stored identifiers.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
lifecycle_app = typer.Typer(help="Client lifecycle (seed 001).", no_args_is_help=True)
app.add_typer(lifecycle_app, name="lifecycle")


@keys_app.command("rotate")
def keys_rotate(
    reencrypt_only: Annotated[
        bool,
        typer.Option(
            "--reencrypt-only",
            help="Keep the active key (e.g. one set in KYCD_ENCRYPTION_KEYS); only re-encrypt.",
        ),
    ] = False,
) -> None:
    """Make a new key active and re-encrypt every stored identifier with it."""
    from kycd.identifiers.crypto import KeyRingError
    from kycd.identifiers.rotation import rotate

    database = _database()
    try:
        result = rotate(database, get_settings(), new_key=not reencrypt_only)
    except KeyRingError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    finally:
        database.dispose()
    console.print(
        f"Active key {result.active_key_id}; re-encrypted {result.reencrypted} identifier(s)."
    )


@keys_app.command("list")
def keys_list() -> None:
    """The keys of the ring and how many identifiers each one seals."""
    from kycd.identifiers.crypto import load_keyring
    from kycd.identifiers.service import count_by_key

    ring = load_keyring(get_settings())
    database = _database()
    with database.transaction() as db:
        counts = count_by_key(db)
    database.dispose()
    table = Table("key id", "active", "identifiers")
    for key_id in sorted(set(ring.keys) | set(counts)):
        missing = "" if key_id in ring.keys else " (NOT IN RING)"
        table.add_row(
            key_id + missing, "yes" if key_id == ring.active_id else "", str(counts.get(key_id, 0))
        )
    console.print(table)


@lifecycle_app.command("check-config")
def lifecycle_check_config(
    path: Annotated[str, typer.Argument(help="YAML file of PARTIAL/FULL requirements.")],
) -> None:
    """Validate a requirements file (the format of KYCD_LIFECYCLE_CONFIG) and print it."""
    from pathlib import Path

    from kycd.lifecycle.config import ConfigFileError, parse_config_file

    try:
        config = parse_config_file(Path(path))
    except ConfigFileError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    typer.echo(json.dumps(config.model_dump(mode="json"), indent=2))


if __name__ == "__main__":
    app()
