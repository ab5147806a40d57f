"""The risk rules: pure functions from a customer's facts to a score and a level.

Each factor yields a ``value`` between 0 and 1 and carries a ``weight``; its
``contribution`` to the score is ``weight * value``, and the score is the sum
of contributions (0..100 with the default weights, which add up to 100). The
level follows from the score and two thresholds. A few facts are serious
enough that no weighting may dilute them (a sanctions or PEP hit, a country
under a FATF call for action); such a factor sets a ``minimum_level``, and the
level is never below it.

Nothing here reads a database or a file: the service gathers the inputs and
the configuration (packaged reference data, overridden per tenant) and this
module explains the result factor by factor.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any


class Level(StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


LEVEL_ORDER = {Level.LOW: 0, Level.MEDIUM: 1, Level.HIGH: 2}


class FactorName(StrEnum):
    COUNTRY = "country"
    SCREENING = "screening"
    VERIFICATION = "verification"
    OCCUPATION_INDUSTRY = "occupation_industry"
    OWNERSHIP_OPACITY = "ownership_opacity"


# Bumped whenever the rules below change meaning, so that stored profiles are
# recalculated by the worker after an upgrade.
RULES_VERSION = 1

DEFAULT_WEIGHTS: dict[str, float] = {
    FactorName.COUNTRY: 25.0,
    FactorName.SCREENING: 35.0,
    FactorName.VERIFICATION: 15.0,
    FactorName.OCCUPATION_INDUSTRY: 10.0,
    FactorName.OWNERSHIP_OPACITY: 15.0,
}
DEFAULT_THRESHOLDS: dict[str, float] = {"medium": 25.0, "high": 50.0}

# Screening topics: how much one topic weighs, and the level it forces.
# PEPs require enhanced due diligence under EU AML rules (AMLD art. 20), so a
# PEP hit forces HIGH just like a sanctions hit.
SCREENING_TOPICS: dict[str, tuple[float, Level | None]] = {
    "sanctions": (1.0, Level.HIGH),
    "pep": (0.7, Level.HIGH),
    "adverse_media": (0.5, None),
}

# Verification history: each failed run (rejected or expired), each retry
# (every run after the first) and each rejected document adds this much.
FAILED_RUN_VALUE = 0.35
RETRIED_RUN_VALUE = 0.1
REJECTED_DOCUMENT_VALUE = 0.25

# Ownership opacity: the untraced share counts in full; each link beyond two
# between the company and its owners, a circular holding, or a structure too
# large to trace each add to it.
EXTRA_LAYER_VALUE = 0.1
CIRCULAR_VALUE = 0.25
TRUNCATED_VALUE = 0.25


class ConfigError(ValueError):
    """Invalid risk configuration; ``field`` names the offending setting."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _level_or_none(value: Any, field: str) -> Level | None:
    if value is None:
        return None
    try:
        return Level(value)
    except ValueError as exc:
        raise ConfigError(field, "must be LOW, MEDIUM, HIGH or null") from exc


def _unit_value(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ConfigError(field, "must be a number between 0 and 1")
    return float(value)


@dataclass(frozen=True)
class Category:
    name: str
    value: float
    minimum_level: Level | None
    members: frozenset[str]


def _categories(data: Any, field: str, members_key: str) -> tuple[Category, ...]:
    if not isinstance(data, Mapping) or not isinstance(data.get("categories"), Mapping):
        raise ConfigError(field, "must be an object with 'categories'")
    out = []
    for name, spec in data["categories"].items():
        where = f"{field}.categories.{name}"
        if not isinstance(spec, Mapping):
            raise ConfigError(where, "must be an object")
        members = spec.get(members_key)
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            raise ConfigError(f"{where}.{members_key}", "must be a list of strings")
        out.append(
            Category(
                name=str(name),
                value=_unit_value(spec.get("value"), f"{where}.value"),
                minimum_level=_level_or_none(spec.get("minimum_level"), f"{where}.minimum_level"),
                members=frozenset(m.strip() for m in members if m.strip()),
            )
        )
    # Highest value first, so a country in two lists takes the riskier one.
    return tuple(sorted(out, key=lambda c: -c.value))


@dataclass(frozen=True)
class CountryLists:
    categories: tuple[Category, ...]

    @classmethod
    def from_dict(cls, data: Any, field: str = "country_lists") -> CountryLists:
        categories = _categories(data, field, "countries")
        for category in categories:
            bad = [c for c in category.members if not re.fullmatch(r"[A-Z]{2}", c)]
            if bad:
                raise ConfigError(
                    f"{field}.categories.{category.name}.countries",
                    f"not ISO 3166-1 alpha-2 codes: {', '.join(sorted(bad))}",
                )
        return cls(categories)

    def classify(self, country: str | None) -> Category | None:
        if not country:
            return None
        code = country.upper()
        return next((c for c in self.categories if code in c.members), None)


@dataclass(frozen=True)
class ActivityLists:
    categories: tuple[Category, ...]
    patterns: tuple[tuple[Category, str, re.Pattern[str]], ...] = field(default=(), compare=False)

    @classmethod
    def from_dict(cls, data: Any, field: str = "activity_lists") -> ActivityLists:
        categories = _categories(data, field, "keywords")
        patterns = tuple(
            (c, k, re.compile(rf"(?<!\w){re.escape(k.lower())}(?!\w)"))
            for c in categories
            for k in sorted(c.members)
        )
        return cls(categories, patterns)

    def classify(self, text: str | None) -> tuple[Category, str] | None:
        """The riskiest category one of whose keywords occurs as whole words."""
        if not text:
            return None
        lowered = text.lower()
        for category, keyword, pattern in self.patterns:
            if pattern.search(lowered):
                return category, keyword
        return None


@cache
def _packaged(name: str) -> Any:
    return json.loads(resources.files("kycd.data").joinpath(name).read_text("utf-8"))


def packaged_country_lists() -> dict[str, Any]:
    data: dict[str, Any] = _packaged("risk_countries.json")
    return data


def packaged_activity_lists() -> dict[str, Any]:
    data: dict[str, Any] = _packaged("risk_activities.json")
    return data


@dataclass(frozen=True)
class RiskConfig:
    weights: Mapping[str, float]
    medium: float
    high: float
    countries: CountryLists
    activities: ActivityLists

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | None) -> RiskConfig:
        """The tenant's ``settings["risk"]`` over the defaults: ``weights``
        (any subset of the factors), ``thresholds`` (``medium``, ``high``),
        ``country_lists`` and ``activity_lists`` (each replaces the packaged
        file wholesale)."""
        settings = settings or {}
        weights = dict(DEFAULT_WEIGHTS)
        given = settings.get("weights") or {}
        if not isinstance(given, Mapping):
            raise ConfigError("weights", "must be an object")
        for name, weight in given.items():
            if name not in DEFAULT_WEIGHTS:
                raise ConfigError(f"weights.{name}", "unknown factor")
            if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
                raise ConfigError(f"weights.{name}", "must be a number >= 0")
            weights[name] = float(weight)
        thresholds = {**DEFAULT_THRESHOLDS, **(settings.get("thresholds") or {})}
        for name in ("medium", "high"):
            value = thresholds[name]
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ConfigError(f"thresholds.{name}", "must be a number >= 0")
        if set(thresholds) - {"medium", "high"}:
            raise ConfigError("thresholds", "only 'medium' and 'high' are allowed")
        if float(thresholds["medium"]) > float(thresholds["high"]):
            raise ConfigError("thresholds.medium", "must not be above thresholds.high")
        return cls(
            weights=weights,
            medium=float(thresholds["medium"]),
            high=float(thresholds["high"]),
            countries=CountryLists.from_dict(
                settings.get("country_lists") or packaged_country_lists()
            ),
            activities=ActivityLists.from_dict(
                settings.get("activity_lists") or packaged_activity_lists()
            ),
        )


@dataclass(frozen=True)
class OwnershipFacts:
    """What the UBO analysis found about a business's ownership."""

    untraced_percentage: float
    max_chain_length: int
    circular: bool
    truncated: bool
    ubo_basis: str


@dataclass(frozen=True)
class RelatedPartyCountries:
    """A UBO or senior managing official of a business, for country risk."""

    name: str
    nationality: str | None
    country: str | None


@dataclass(frozen=True)
class RiskInputs:
    customer_type: str
    nationality: str | None = None
    country_of_residence: str | None = None
    incorporation_country: str | None = None
    occupation: str | None = None
    industry: str | None = None
    # Hits not dismissed as false positives, by topic (sanctions, pep, adverse_media).
    screening_hits: Mapping[str, int] = field(default_factory=dict)
    verification_runs: int = 0
    failed_runs: int = 0
    rejected_documents: int = 0
    # None for individuals: ownership opacity applies to businesses only.
    ownership: OwnershipFacts | None = None
    # Businesses: their beneficial owners (or senior managing officials).
    related_parties: Sequence[RelatedPartyCountries] = ()


@dataclass(frozen=True)
class Factor:
    name: str
    weight: float
    value: float
    details: dict[str, Any]
    minimum_level: Level | None = None

    @property
    def contribution(self) -> float:
        return round(self.weight * self.value, 2)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "weight": self.weight,
            "value": self.value,
            "contribution": self.contribution,
            "minimum_level": self.minimum_level.value if self.minimum_level else None,
            "details": self.details,
        }


@dataclass(frozen=True)
class Assessment:
    score: float
    level: Level
    factors: tuple[Factor, ...]


def _max_level(levels: Sequence[Level | None]) -> Level | None:
    present = [lv for lv in levels if lv is not None]
    return max(present, key=LEVEL_ORDER.__getitem__) if present else None


def _round(value: float) -> float:
    return round(min(1.0, value), 4)


def country_factor(inputs: RiskInputs, config: RiskConfig) -> Factor:
    checked = {
        "nationality": inputs.nationality,
        "country_of_residence": inputs.country_of_residence,
        "incorporation_country": inputs.incorporation_country,
    }
    details: dict[str, Any] = {}
    values, levels = [0.0], []
    for role, code in checked.items():
        if code is None:
            continue
        category = config.countries.classify(code)
        details[role] = {"country": code, "category": category.name if category else None}
        if category is not None:
            values.append(category.value)
            levels.append(category.minimum_level)
    # A business is exposed to the countries of the people who own or run it.
    listed = []
    for party in inputs.related_parties:
        for role, code in (("nationality", party.nationality), ("country", party.country)):
            category = config.countries.classify(code)
            if category is None:
                continue
            listed.append({"party": party.name, role: code, "category": category.name})
            values.append(category.value)
            levels.append(category.minimum_level)
    if inputs.related_parties:
        details["related_parties"] = listed
    return Factor(
        FactorName.COUNTRY,
        config.weights[FactorName.COUNTRY],
        _round(max(values)),
        details,
        _max_level(levels),
    )


def screening_factor(inputs: RiskInputs, config: RiskConfig) -> Factor:
    counts = {topic: int(inputs.screening_hits.get(topic, 0)) for topic in SCREENING_TOPICS}
    hit = [topic for topic, count in counts.items() if count > 0]
    value = max((SCREENING_TOPICS[t][0] for t in hit), default=0.0)
    return Factor(
        FactorName.SCREENING,
        config.weights[FactorName.SCREENING],
        _round(value),
        {"hits": counts},
        _max_level([SCREENING_TOPICS[t][1] for t in hit]),
    )


def verification_factor(inputs: RiskInputs, config: RiskConfig) -> Factor:
    retried = max(0, inputs.verification_runs - 1)
    value = (
        FAILED_RUN_VALUE * inputs.failed_runs
        + RETRIED_RUN_VALUE * retried
        + REJECTED_DOCUMENT_VALUE * inputs.rejected_documents
    )
    return Factor(
        FactorName.VERIFICATION,
        config.weights[FactorName.VERIFICATION],
        _round(value),
        {
            "runs": inputs.verification_runs,
            "failed_runs": inputs.failed_runs,
            "retried_runs": retried,
            "rejected_documents": inputs.rejected_documents,
        },
    )


def occupation_industry_factor(inputs: RiskInputs, config: RiskConfig) -> Factor:
    details: dict[str, Any] = {}
    values, levels = [0.0], []
    for name, text in (("occupation", inputs.occupation), ("industry", inputs.industry)):
        if not text:
            continue
        found = config.activities.classify(text)
        details[name] = {
            "text": text,
            "category": found[0].name if found else None,
            "keyword": found[1] if found else None,
        }
        if found is not None:
            values.append(found[0].value)
            levels.append(found[0].minimum_level)
    return Factor(
        FactorName.OCCUPATION_INDUSTRY,
        config.weights[FactorName.OCCUPATION_INDUSTRY],
        _round(max(values)),
        details,
        _max_level(levels),
    )


def ownership_factor(inputs: RiskInputs, config: RiskConfig) -> Factor:
    weight = config.weights[FactorName.OWNERSHIP_OPACITY]
    facts = inputs.ownership
    if facts is None:
        return Factor(FactorName.OWNERSHIP_OPACITY, weight, 0.0, {"applicable": False})
    value = (
        facts.untraced_percentage / 100
        + EXTRA_LAYER_VALUE * max(0, facts.max_chain_length - 2)
        + (CIRCULAR_VALUE if facts.circular else 0.0)
        + (TRUNCATED_VALUE if facts.truncated else 0.0)
    )
    return Factor(
        FactorName.OWNERSHIP_OPACITY,
        weight,
        _round(value),
        {
            "applicable": True,
            "untraced_percentage": facts.untraced_percentage,
            "max_chain_length": facts.max_chain_length,
            "circular": facts.circular,
            "truncated": facts.truncated,
            "ubo_basis": facts.ubo_basis,
        },
    )


FACTORS = (
    country_factor,
    screening_factor,
    verification_factor,
    occupation_industry_factor,
    ownership_factor,
)


def level_for(score: float, config: RiskConfig) -> Level:
    if score >= config.high:
        return Level.HIGH
    if score >= config.medium:
        return Level.MEDIUM
    return Level.LOW


def assess(inputs: RiskInputs, config: RiskConfig) -> Assessment:
    factors = tuple(rule(inputs, config) for rule in FACTORS)
    score = round(sum(f.contribution for f in factors), 2)
    level = _max_level([level_for(score, config), *(f.minimum_level for f in factors)])
    assert level is not None
    return Assessment(score, level, factors)


def factor_changes(
    before: Sequence[Mapping[str, Any]], after: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """What moved between two calculations, factor by factor."""
    old = {f["name"]: f for f in before}
    changes = []
    for factor in after:
        previous = old.get(factor["name"])
        if previous is not None and all(
            previous.get(k) == factor.get(k) for k in ("weight", "value", "details")
        ):
            continue
        changes.append(
            {
                "factor": factor["name"],
                "from": previous.get("value") if previous else None,
                "to": factor["value"],
                "contribution_from": previous.get("contribution") if previous else None,
                "contribution_to": factor["contribution"],
                "details_from": previous.get("details") if previous else None,
                "details_to": factor["details"],
            }
        )
    return changes
