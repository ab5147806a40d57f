from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kycd.db import Database


def _kycd(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kycd.cli", *args],
        env=env,
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


def test_credentials_create_prints_one_json_object(
    cli_env: dict[str, str], database: Database
) -> None:
    result = _kycd(
        "credentials",
        "create",
        "--tenant",
        "cli-co",
        "--environment",
        "production",
        "--scopes",
        "kyc:read,kyc:create",
        "--json",
        env=cli_env,
    )
    assert result.returncode == 0, result.stderr
    issued = json.loads(result.stdout)
    assert issued["environment"] == "production"
    assert issued["scopes"] == ["kyc:read", "kyc:create"]
    assert {"tenant_id", "api_key", "api_secret", "bearer_token"} <= issued.keys()
    again = json.loads(
        _kycd("credentials", "create", "--tenant", "cli-co", "--json", env=cli_env).stdout
    )
    assert again["tenant_id"] == issued["tenant_id"]


def test_the_printed_token_copies_whole_from_a_narrow_terminal(
    cli_env: dict[str, str], database: Database
) -> None:
    result = _kycd("demo", env={**cli_env, "COLUMNS": "40"})
    assert result.returncode == 0, result.stderr
    saved = json.loads((Path(cli_env["KYCD_DATA_DIR"]) / "demo-credentials.json").read_text())
    token = saved["bearer_token"]
    assert f"bearer_token: {token}\n" in result.stdout
    assert f"Bearer {token}'" in result.stdout  # the curl hint, on one line


def test_credentials_create_refuses_unknown_scopes(
    cli_env: dict[str, str], database: Database
) -> None:
    result = _kycd(
        "credentials", "create", "--tenant", "x", "--scopes", "kyc:everything", env=cli_env
    )
    assert result.returncode == 2
    assert "unknown scopes" in result.stdout
