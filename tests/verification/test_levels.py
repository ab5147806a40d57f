from __future__ import annotations

from datetime import timedelta

import pytest

from kycd.verification.levels import (
    DEFAULT_LEVELS,
    LevelError,
    LevelStep,
    load_levels_text,
    parse_level,
)

YAML_DOC = """
levels:
  - name: KYC_LITE
    ttl_hours: 48
    steps:
      - kind: identity_doc
      - kind: selfie
        optional: true
"""


def test_yaml_and_json_documents() -> None:
    (level,) = load_levels_text(YAML_DOC)
    assert level.name == "KYC_LITE"
    assert level.ttl == timedelta(hours=48)
    assert level.steps == (LevelStep("identity_doc"), LevelStep("selfie", True))
    as_json = '{"levels": [{"name": "X", "ttl_hours": 1, "steps": [{"kind": "aml"}]}]}'
    assert load_levels_text(as_json)[0].steps == (LevelStep("aml"),)


def test_defaults_round_trip_through_the_document_form() -> None:
    for level in DEFAULT_LEVELS.values():
        assert parse_level(level.as_document()) == level
    assert [s.kind for s in DEFAULT_LEVELS["KYC_01"].steps if not s.optional] == [
        "identity_doc",
        "selfie",
        "liveness",
        "questionnaire",
        "aml",
    ]


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"name": "bad name", "ttl_hours": 1, "steps": [{"kind": "aml"}]}, "name"),
        ({"name": "A", "ttl_hours": 0, "steps": [{"kind": "aml"}]}, "ttl_hours"),
        ({"name": "A", "ttl_hours": True, "steps": [{"kind": "aml"}]}, "ttl_hours"),
        ({"name": "A", "ttl_hours": 1, "steps": []}, "steps"),
        ({"name": "A", "ttl_hours": 1, "steps": [{"kind": "dna"}]}, "steps.0.kind"),
        ({"name": "A", "ttl_hours": 1, "steps": [{"kind": "aml"}, {"kind": "aml"}]}, "steps"),
        ({"name": "A", "ttl_hours": 1, "steps": [{"kind": "aml", "optional": True}]}, "steps"),
        ({"name": "A", "ttl_hours": 1, "steps": [{"kind": "aml", "x": 1}]}, "steps.0.x"),
        ({"name": "A", "ttl_hours": 1, "steps": [{"kind": "aml"}], "extra": 1}, "extra"),
    ],
)
def test_invalid_levels_name_the_field(raw: dict[str, object], field: str) -> None:
    with pytest.raises(LevelError) as err:
        parse_level(raw)
    assert err.value.field == field


def test_documents_must_be_well_formed() -> None:
    with pytest.raises(LevelError):
        load_levels_text("levels: [")
    with pytest.raises(LevelError):
        load_levels_text("- just a list")
    twice = '{"levels": [{"name": "A", "ttl_hours": 1, "steps": [{"kind": "aml"}]}, {"name": "A", "ttl_hours": 2, "steps": [{"kind": "aml"}]}]}'
    with pytest.raises(LevelError, match="unique"):
        load_levels_text(twice)
