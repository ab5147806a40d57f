"""The key ring, and rotation keeping every stored number readable."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from client_factories import ITIN, SSN, add_identifier, create_client
from conftest import Api
from kycd.db import Database
from kycd.identifiers.crypto import (
    KeyRingError,
    associated_data,
    keyring_path,
    load_keyring,
    parse_environment_keys,
)
from kycd.identifiers.models import Identifier
from kycd.identifiers.rotation import rotate
from kycd.identifiers.service import reveal_number
from kycd.settings import Settings


def _key() -> str:
    return base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()


def _numbers(database: Database, settings: Settings) -> dict[str, tuple[str, str]]:
    ring = load_keyring(settings)
    with database.session() as db:
        return {
            row.id: (row.key_id, reveal_number(ring, row))
            for row in db.scalars(select(Identifier)).all()
        }


def _seed(api: Api) -> None:
    first, second = create_client(api), create_client(api)
    for client_id, body in (
        (first, {"documentType": "SSN", "documentKey": SSN}),
        (first, {"documentType": "PASSPORT", "documentKey": "X1234567", "issuingCountry": "FR"}),
        (second, {"documentType": "ITIN", "documentKey": ITIN}),
    ):
        assert add_identifier(api, client_id, **body).status_code == 200


def test_the_ring_file_is_created_private_and_reused(settings: Settings) -> None:
    ring = load_keyring(settings)
    path = keyring_path(settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_keyring(settings).active_id == ring.active_id
    assert json.loads(path.read_text())["active"] == ring.active_id


def test_ciphertexts_are_bound_to_their_row(settings: Settings) -> None:
    ring = load_keyring(settings)
    aad = associated_data("id-1", "tenant", "sandbox", "SSN")
    key_id, blob = ring.encrypt(SSN, aad)
    assert ring.decrypt(key_id, blob, aad) == SSN
    with pytest.raises(KeyRingError):
        ring.decrypt(key_id, blob, associated_data("id-2", "tenant", "sandbox", "SSN"))
    with pytest.raises(KeyRingError):
        ring.decrypt("unknown", blob, aad)


@pytest.mark.parametrize(
    "value", ["", "nocolon", "k1:not-base64!", f"k1:{base64.b64encode(b'short').decode()}"]
)
def test_bad_environment_keys_are_refused(value: str) -> None:
    with pytest.raises(KeyRingError):
        parse_environment_keys(value)


def test_rotation_keeps_every_value_readable(
    api: Api, database: Database, settings: Settings
) -> None:
    _seed(api)
    before = _numbers(database, settings)
    old_key = load_keyring(settings).active_id
    assert {key_id for key_id, _ in before.values()} == {old_key}

    result = rotate(database, settings)
    assert result.reencrypted == 3 and result.active_key_id != old_key
    after = _numbers(database, settings)
    assert {key_id for key_id, _ in after.values()} == {result.active_key_id}
    assert {i: n for i, (_, n) in after.items()} == {i: n for i, (_, n) in before.items()}
    assert sorted(n for _, n in after.values()) == sorted(["078051121", "912903456", "X1234567"])
    assert old_key in load_keyring(settings).keys

    # The API keeps working, and new numbers are sealed with the new key.
    client_id = create_client(api)
    assert (
        add_identifier(api, client_id, documentType="SSN", documentKey="536-22-8726").status_code
        == 200
    )
    assert {k for k, _ in _numbers(database, settings).values()} == {result.active_key_id}
    again = rotate(database, settings)
    assert again.reencrypted == 4


def test_environment_keys_rotate_by_reencrypting(
    app_client: TestClient, api: Api, database: Database, settings: Settings
) -> None:
    old, new = _key(), _key()
    first = settings.model_copy(update={"encryption_keys": SecretStr(f"old:{old}")})
    app_client.app.state.settings = first  # type: ignore[attr-defined]
    _seed(api)
    assert {k for k, _ in _numbers(database, first).values()} == {"old"}
    with pytest.raises(KeyRingError):
        rotate(database, first)
    second = settings.model_copy(update={"encryption_keys": SecretStr(f"new:{new},old:{old}")})
    assert rotate(database, second, new_key=False).reencrypted == 3
    assert {k for k, _ in _numbers(database, second).values()} == {"new"}
    # The old key alone can no longer read them.
    with pytest.raises(KeyRingError):
        _numbers(database, first)


@pytest.fixture
def cli_env(settings: Settings, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KYCD_")}
    env["KYCD_DATA_DIR"] = str(settings.data_dir)
    env["KYCD_DATABASE_URL"] = database_url
    return env


def _kycd(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kycd.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_cli_rotate_and_list(
    api: Api, database: Database, settings: Settings, cli_env: dict[str, str]
) -> None:
    _seed(api)
    old_key = load_keyring(settings).active_id
    result = _kycd(cli_env, "keys", "rotate")
    assert result.returncode == 0, result.stderr
    assert "re-encrypted 3 identifier(s)" in result.stdout
    new_key = load_keyring(settings).active_id
    assert new_key != old_key
    listing = _kycd(cli_env, "keys", "list")
    assert listing.returncode == 0, listing.stderr
    rows = listing.stdout.splitlines()
    assert any(new_key in row and "yes" in row and "3" in row for row in rows), listing.stdout
    assert any(old_key in row for row in rows), listing.stdout
    assert {k for k, _ in _numbers(database, settings).values()} == {new_key}


def test_cli_checks_a_config_file(tmp_path: Path, cli_env: dict[str, str]) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(
        "kyc_verification_types:\n"
        "  PARTIAL: {requirements: [VERIFIED_EMAIL]}\n"
        "  FULL: {requirements: [VERIFIED_EMAIL, SSN_ITIN_OR_PHYSICAL_ID]}\n"
    )
    ok = _kycd(cli_env, "lifecycle", "check-config", str(good))
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["kyc_verification_types"]["PARTIAL"]["requirements"] == [
        "VERIFIED_EMAIL"
    ]
    bad = tmp_path / "bad.yaml"
    bad.write_text("kyc_verification_types: {PARTIAL: {requirements: [VERIFIED_EMAIL]}}\n")
    assert _kycd(cli_env, "lifecycle", "check-config", str(bad)).returncode == 2
