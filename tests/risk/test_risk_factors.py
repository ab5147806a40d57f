"""The risk rules, factor by factor (pure, no database)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from kycd.risk.factors import (
    ConfigError,
    Level,
    OwnershipFacts,
    RelatedPartyCountries,
    RiskConfig,
    RiskInputs,
    assess,
    factor_changes,
)

DEFAULT = RiskConfig.from_settings(None)
CLEAN = RiskInputs(
    customer_type="individual", nationality="DE", country_of_residence="DE", occupation="Engineer"
)
CLEAN_BUSINESS = RiskInputs(
    customer_type="business",
    incorporation_country="DE",
    industry="Software",
    ownership=OwnershipFacts(
        untraced_percentage=0.0,
        max_chain_length=1,
        circular=False,
        truncated=False,
        ubo_basis="ownership",
    ),
)


def factor(inputs: RiskInputs, name: str, config: RiskConfig = DEFAULT) -> dict[str, Any]:
    found = [f.as_dict() for f in assess(inputs, config).factors if f.name == name]
    return found[0]


def test_a_clean_customer_scores_zero() -> None:
    for inputs in (CLEAN, CLEAN_BUSINESS):
        result = assess(inputs, DEFAULT)
        assert (result.score, result.level) == (0.0, Level.LOW)
        assert [f.name for f in result.factors] == [
            "country",
            "screening",
            "verification",
            "occupation_industry",
            "ownership_opacity",
        ]


# (case, change to the clean individual, factor, value, score, level)
INDIVIDUAL_CASES: list[tuple[str, dict[str, Any], str, float, float, Level]] = [
    # Monitored (FATF grey list) nationality: 0.5 x 25.
    ("monitored nationality", {"nationality": "KE"}, "country", 0.5, 12.5, Level.LOW),
    ("monitored residence", {"country_of_residence": "MC"}, "country", 0.5, 12.5, Level.LOW),
    # Call for action: full weight, and HIGH whatever the score.
    ("high-risk nationality", {"nationality": "IR"}, "country", 1.0, 25.0, Level.HIGH),
    ("sanctions hit", {"screening_hits": {"sanctions": 1}}, "screening", 1.0, 35.0, Level.HIGH),
    ("pep hit", {"screening_hits": {"pep": 2}}, "screening", 0.7, 24.5, Level.HIGH),
    (
        "adverse media hit",
        {"screening_hits": {"adverse_media": 1}},
        "screening",
        0.5,
        17.5,
        Level.LOW,
    ),
    (
        "dismissed topics count zero",
        {"screening_hits": {"pep": 0}},
        "screening",
        0.0,
        0.0,
        Level.LOW,
    ),
    # One rejected run, two runs in all (one retry): 0.35 + 0.1 = 0.45 x 15 = 6.75.
    (
        "failed and retried run",
        {"verification_runs": 2, "failed_runs": 1},
        "verification",
        0.45,
        6.75,
        Level.LOW,
    ),
    ("rejected documents", {"rejected_documents": 2}, "verification", 0.5, 7.5, Level.LOW),
    (
        "capped at one",
        {"verification_runs": 6, "failed_runs": 5},
        "verification",
        1.0,
        15.0,
        Level.LOW,
    ),
    (
        "high-risk occupation",
        {"occupation": "Casino manager"},
        "occupation_industry",
        1.0,
        10.0,
        Level.LOW,
    ),
    (
        "elevated occupation",
        {"occupation": "Real estate agent"},
        "occupation_industry",
        0.5,
        5.0,
        Level.LOW,
    ),
    # Whole words only: "farms" is not "arms".
    (
        "no keyword inside a word",
        {"occupation": "Dairy farms"},
        "occupation_industry",
        0.0,
        0.0,
        Level.LOW,
    ),
]


@pytest.mark.parametrize(
    ("change", "name", "value", "score", "level"),
    [c[1:] for c in INDIVIDUAL_CASES],
    ids=[c[0] for c in INDIVIDUAL_CASES],
)
def test_each_factor_moves_the_score(
    change: dict[str, Any], name: str, value: float, score: float, level: Level
) -> None:
    inputs = replace(CLEAN, **change)
    result = assess(inputs, DEFAULT)
    assert factor(inputs, name)["value"] == value
    assert (result.score, result.level) == (score, level)


def test_factors_add_up_to_medium_and_high() -> None:
    # 12.5 (monitored) + 17.5 (adverse media) = 30: MEDIUM.
    medium = replace(CLEAN, nationality="KE", screening_hits={"adverse_media": 1})
    assert (assess(medium, DEFAULT).score, assess(medium, DEFAULT).level) == (30.0, Level.MEDIUM)
    # + 15 (verification capped) + 10 (casino) = 55: HIGH by score alone.
    high = replace(medium, verification_runs=4, failed_runs=3, occupation="casino dealer")
    assert (assess(high, DEFAULT).score, assess(high, DEFAULT).level) == (55.0, Level.HIGH)


# (case, ownership facts, value): untraced share + 0.1 per link beyond two
# + 0.25 circular + 0.25 truncated.
OWNERSHIP_CASES = [
    ("fully traced, direct", OwnershipFacts(0.0, 1, False, False, "ownership"), 0.0),
    ("40 % untraced", OwnershipFacts(40.0, 1, False, False, "ownership"), 0.4),
    ("four layers", OwnershipFacts(0.0, 4, False, False, "ownership"), 0.2),
    ("circular", OwnershipFacts(0.0, 2, True, False, "ownership"), 0.25),
    ("nothing known", OwnershipFacts(100.0, 0, False, False, "none"), 1.0),
    ("everything at once", OwnershipFacts(80.0, 5, True, True, "none"), 1.0),
]


@pytest.mark.parametrize(
    ("facts", "value"), [c[1:] for c in OWNERSHIP_CASES], ids=[c[0] for c in OWNERSHIP_CASES]
)
def test_ownership_opacity(facts: OwnershipFacts, value: float) -> None:
    inputs = replace(CLEAN_BUSINESS, ownership=facts)
    assert factor(inputs, "ownership_opacity")["value"] == value
    assert assess(inputs, DEFAULT).score == round(15 * value, 2)


def test_ownership_opacity_does_not_apply_to_individuals() -> None:
    assert factor(CLEAN, "ownership_opacity")["details"] == {"applicable": False}


def test_incorporation_country_and_industry_of_a_business() -> None:
    inputs = replace(CLEAN_BUSINESS, incorporation_country="VG", industry="Crypto exchange")
    assert factor(inputs, "country")["details"]["incorporation_country"] == {
        "country": "VG",
        "category": "monitored",
    }
    assert factor(inputs, "occupation_industry")["details"]["industry"]["keyword"] == "crypto"
    assert assess(inputs, DEFAULT).score == 12.5 + 10.0


def test_tenant_weights_and_thresholds() -> None:
    config = RiskConfig.from_settings(
        {"weights": {"country": 50}, "thresholds": {"medium": 20, "high": 40}}
    )
    inputs = replace(CLEAN, nationality="KE")
    result = assess(inputs, config)
    assert (result.score, result.level) == (25.0, Level.MEDIUM)
    assert factor(inputs, "country", config)["weight"] == 50.0


def test_tenant_country_lists_replace_the_packaged_file() -> None:
    config = RiskConfig.from_settings(
        {
            "country_lists": {
                "categories": {
                    "internal_blocklist": {
                        "value": 0.8,
                        "minimum_level": "MEDIUM",
                        "countries": ["FR"],
                    }
                }
            }
        }
    )
    assert assess(replace(CLEAN, nationality="FR"), config).level is Level.MEDIUM
    # The packaged lists no longer apply for this tenant.
    assert assess(replace(CLEAN, nationality="IR"), config).level is Level.LOW


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"weights": {"colour": 1}}, "weights.colour"),
        ({"weights": {"country": -1}}, "weights.country"),
        ({"thresholds": {"medium": 70, "high": 60}}, "thresholds.medium"),
        (
            {"country_lists": {"categories": {"x": {"value": 2, "countries": []}}}},
            "country_lists.categories.x.value",
        ),
        (
            {"country_lists": {"categories": {"x": {"value": 1, "countries": ["Iran"]}}}},
            "country_lists.categories.x.countries",
        ),
        (
            {
                "activity_lists": {
                    "categories": {"x": {"value": 1, "minimum_level": "SEVERE", "keywords": []}}
                }
            },
            "activity_lists.categories.x.minimum_level",
        ),
    ],
)
def test_invalid_configuration_names_the_field(settings: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as err:
        RiskConfig.from_settings(settings)
    assert err.value.field == field


def test_changes_name_the_factors_that_moved() -> None:
    before = [f.as_dict() for f in assess(CLEAN, DEFAULT).factors]
    after = [f.as_dict() for f in assess(replace(CLEAN, nationality="KE"), DEFAULT).factors]
    changes = factor_changes(before, after)
    assert [(c["factor"], c["from"], c["to"]) for c in changes] == [("country", 0.0, 0.5)]
    assert changes[0]["contribution_to"] == 12.5
    assert factor_changes(after, after) == []


def test_countries_of_a_business_s_owners() -> None:
    inputs = replace(
        CLEAN_BUSINESS,
        related_parties=(
            RelatedPartyCountries("Ann Doe", nationality="DE", country="DE"),
            RelatedPartyCountries("Ivan Roe", nationality="KP", country="CN"),
        ),
    )
    country = factor(inputs, "country")
    assert country["details"]["related_parties"] == [
        {"party": "Ivan Roe", "nationality": "KP", "category": "high_risk"}
    ]
    assert (country["value"], country["minimum_level"]) == (1.0, "HIGH")
    assert assess(inputs, DEFAULT).level is Level.HIGH
