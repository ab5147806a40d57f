from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import Api
from kycd.db import Database

LITE = {"ttl_hours": 2, "steps": [{"kind": "identity_doc"}, {"kind": "selfie", "optional": True}]}


def test_defaults_are_listed_until_configured(api: Api) -> None:
    levels = {lvl["name"]: lvl for lvl in api.get("/v1/levels").json()["data"]}
    assert set(levels) == {"KYC_01", "KYB_01"}
    assert levels["KYC_01"]["source"] == "default"
    assert levels["KYC_01"]["id"] is None
    assert levels["KYB_01"]["ttl_hours"] == 14 * 24
    # A run copies the default in, so it has a levelId from then on.
    session = api.post("/v1/sessions", json={"client_id": "a"}).json()
    kyc = api.get("/v1/levels/KYC_01").json()
    assert (kyc["source"], kyc["id"]) == ("tenant", session["level_id"])


def test_put_level_creates_and_replaces_for_new_runs_only(api: Api) -> None:
    created = api.put("/v1/levels/KYC_LITE", json=LITE)
    assert created.status_code == 200, created.text
    level = created.json()
    assert level["steps"] == [
        {"kind": "identity_doc", "optional": False},
        {"kind": "selfie", "optional": True},
    ]
    first = api.post("/v1/sessions", json={"client_id": "a", "level_name": "KYC_LITE"}).json()
    assert first["level_id"] == level["id"]
    replaced = api.put(
        "/v1/levels/KYC_LITE", json={"ttl_hours": 5, "steps": [{"kind": "questionnaire"}]}
    ).json()
    assert replaced["id"] == level["id"]
    assert [s["kind"] for s in api.get("/v1/applicants/a/steps").json()["steps"]] == [
        "identity_doc",
        "selfie",
    ]
    api.post("/v1/sessions", json={"client_id": "b", "level_name": "KYC_LITE"})
    assert [s["kind"] for s in api.get("/v1/applicants/b/steps").json()["steps"]] == [
        "questionnaire"
    ]
    # Level edits are operator-administrative: never in an applicant's history.
    history = api.get("/v1/applicants/b/review-history").json()["items"]
    assert {i["eventType"] for i in history} == {"applicant.created", "enrollment.created"}


def test_tenant_can_redefine_a_default_level(api: Api) -> None:
    api.put("/v1/levels/KYC_01", json=LITE)
    api.post("/v1/sessions", json={"client_id": "a"})
    assert [s["kind"] for s in api.get("/v1/applicants/a/steps").json()["steps"]] == [
        "identity_doc",
        "selfie",
    ]


def test_level_validation(api: Api, api_as: object) -> None:
    cases = [
        ({"ttl_hours": 0, "steps": [{"kind": "aml"}]}, "ttl_hours"),
        ({"ttl_hours": 1, "steps": []}, "steps"),
        ({"ttl_hours": 1, "steps": [{"kind": "dna"}]}, "steps.0.kind"),
        ({"ttl_hours": 1, "steps": [{"kind": "aml"}, {"kind": "aml"}]}, "steps"),
        ({"ttl_hours": 1, "steps": [{"kind": "aml", "optional": True}]}, "steps"),
    ]
    for body, field in cases:
        response = api.put("/v1/levels/X", json=body)
        assert response.status_code == 400, body
        assert response.json()["details"][0]["field"] == field
    assert api.put("/v1/levels/bad%20name", json=LITE).status_code == 400
    assert api.get("/v1/levels/NOPE").status_code == 404
    unknown = api.post("/v1/sessions", json={"client_id": "x", "level_name": "NOPE"})
    assert unknown.status_code == 400
    assert unknown.json()["details"][0]["field"] == "level_name"
    assert api.get("/v1/customers", params={"client_id": "x"}).json()["data"] == []


def test_levels_are_per_tenant(api: Api, api_as: object) -> None:
    api.put("/v1/levels/KYC_LITE", json=LITE)
    other = api_as(tenant="globex")  # type: ignore[operator]
    assert other.get("/v1/levels/KYC_LITE").status_code == 404
    refused = other.post("/v1/sessions", json={"client_id": "x", "level_name": "KYC_LITE"})
    assert refused.status_code == 400


def test_cli_imports_a_config_file(
    tmp_path: Path, database_url: str, database: Database, api_as: object
) -> None:
    config = tmp_path / "levels.yaml"
    config.write_text(
        "levels:\n"
        "  - name: KYC_LITE\n"
        "    ttl_hours: 48\n"
        "    steps:\n"
        "      - kind: identity_doc\n"
        "      - kind: poa\n"
        "        optional: true\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("KYCD_")}
    env.update(KYCD_DATA_DIR=str(tmp_path / "data"), KYCD_DATABASE_URL=database_url)

    def kycd(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "kycd.cli", *args], env=env, capture_output=True, text=True
        )

    result = kycd("levels", "import", str(config), "--tenant", "acme")
    assert result.returncode == 0, result.stderr + result.stdout
    api = api_as(tenant="acme")  # type: ignore[operator]
    level = api.get("/v1/levels/KYC_LITE").json()
    assert (level["ttl_hours"], level["source"]) == (48, "tenant")
    assert [s["optional"] for s in level["steps"]] == [False, True]
    config.write_text("levels:\n  - name: X\n    ttl_hours: 1\n    steps: [{kind: dna}]\n")
    assert kycd("levels", "import", str(config), "--tenant", "acme").returncode == 2
    defaults = kycd("levels", "defaults")
    assert defaults.returncode == 0
    assert "KYB_01" in defaults.stdout
