"""``kycd operators create``: the first admin of a tenant comes from the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from kycd.console import passwords
from kycd.console.models import Operator
from kycd.db import Database
from kycd.events.models import Event


def _operators_create(
    env: dict[str, str], *args: str, password: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kycd.cli", "operators", "create", *args, "--password-stdin"],
        env=env,
        input=password + "\n",
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def cli_env(tmp_path: Path, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KYCD_")}
    env["KYCD_DATA_DIR"] = str(tmp_path / "data")
    env["KYCD_DATABASE_URL"] = database_url
    return env


def test_operators_create_hashes_the_password_and_records_the_event(
    cli_env: dict[str, str], database: Database
) -> None:
    args = ("--tenant", "cli-co", "--email", "Root@Cli.test", "--role", "admin")
    result = _operators_create(cli_env, *args, password="a long enough password")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "root@cli.test (admin)" in result.stdout
    with database.session() as db:
        operator = db.scalars(select(Operator)).one()
        assert operator.password_hash.startswith("$argon2id$")
        assert passwords.verify_password(operator.password_hash, "a long enough password")
        event = db.scalars(select(Event).where(Event.type == "admin.operator_created")).one()
        assert (event.actor_type, event.actor_id) == ("operator", "cli")

    short = _operators_create(
        cli_env, "--tenant", "cli-co", "--email", "b@cli.test", password="short"
    )
    assert short.returncode == 2 and "at least 12 characters" in short.stdout


def test_demo_makes_one_console_admin_with_a_saved_password(
    cli_env: dict[str, str], database: Database
) -> None:
    def demo() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "kycd.cli", "demo"],
            env=cli_env,
            capture_output=True,
            text=True,
            check=False,
        )

    assert demo().returncode == 0
    saved = json.loads((Path(cli_env["KYCD_DATA_DIR"]) / "demo-operator.json").read_text())
    again = demo()
    assert again.returncode == 0 and "demo admin's password" in again.stdout
    with database.session() as db:
        operator = db.scalars(select(Operator)).one()  # not a second one
        assert (operator.email, operator.role) == (saved["email"], "admin")
        assert passwords.verify_password(operator.password_hash, saved["password"])
