"""Verification levels: which steps a run requires, which are optional, and how
long an applicant has to finish. Pure: parsing and validating level documents,
and the built-in defaults. Storing a tenant's levels is the service's job.

A level document (YAML or JSON; the same shape for the config file imported
with ``kycd levels import`` and for ``PUT /v1/levels``)::

    levels:
      - name: KYC_01
        ttl_hours: 168
        steps:
          - kind: identity_doc
          - kind: poa
            optional: true
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

import yaml


class StepKind(StrEnum):
    IDENTITY_DOC = "identity_doc"
    SELFIE = "selfie"
    LIVENESS = "liveness"
    POA = "poa"
    QUESTIONNAIRE = "questionnaire"
    COMPANY_DOCS = "company_docs"
    AML = "aml"
    ADVERSE_MEDIA = "adverse_media"


# Steps kycd performs itself (screening) rather than the applicant: they are
# never "submitted" by the applicant, so they do not hold back
# ``enrollment.completed``.
SYSTEM_STEP_KINDS = frozenset({StepKind.AML.value, StepKind.ADVERSE_MEDIA.value})

LEVEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
MAX_TTL_HOURS = 24 * 365


class LevelError(ValueError):
    """A level document that does not describe a valid level; ``field`` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class LevelStep:
    kind: str
    optional: bool = False


@dataclass(frozen=True)
class LevelDefinition:
    name: str
    steps: tuple[LevelStep, ...]
    ttl: timedelta

    @property
    def ttl_hours(self) -> int:
        return int(self.ttl.total_seconds() // 3600)

    def as_document(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ttl_hours": self.ttl_hours,
            "steps": [{"kind": s.kind, "optional": s.optional} for s in self.steps],
        }


def _steps(*kinds: str, optional: tuple[str, ...] = ()) -> tuple[LevelStep, ...]:
    return tuple(LevelStep(k, k in optional) for k in kinds)


# Used by every tenant until it configures a level of the same name.
DEFAULT_LEVELS: dict[str, LevelDefinition] = {
    "KYC_01": LevelDefinition(
        "KYC_01",
        _steps(
            "identity_doc", "selfie", "liveness", "poa", "questionnaire", "aml", optional=("poa",)
        ),
        timedelta(days=7),
    ),
    "KYB_01": LevelDefinition(
        "KYB_01",
        _steps("company_docs", "questionnaire", "poa", "aml", "adverse_media", optional=("poa",)),
        timedelta(days=14),
    ),
}


def parse_level(raw: Any, where: str = "") -> LevelDefinition:
    """One level from its document form; raises :class:`LevelError`."""
    if not isinstance(raw, dict):
        raise LevelError(where or "level", "a level must be an object")
    unknown = sorted(set(raw) - {"name", "ttl_hours", "steps"})
    if unknown:
        raise LevelError(f"{where}{unknown[0]}", "unknown field")
    name = raw.get("name")
    if not isinstance(name, str) or not LEVEL_NAME.match(name):
        raise LevelError(f"{where}name", "a name of letters, digits, '_', '.', '-' (1..100)")
    ttl_hours = raw.get("ttl_hours")
    if isinstance(ttl_hours, bool) or not isinstance(ttl_hours, int):
        raise LevelError(f"{where}ttl_hours", "ttl_hours must be a whole number of hours")
    if not 1 <= ttl_hours <= MAX_TTL_HOURS:
        raise LevelError(f"{where}ttl_hours", f"ttl_hours must be 1..{MAX_TTL_HOURS}")
    steps = raw.get("steps")
    if not isinstance(steps, list) or not steps:
        raise LevelError(f"{where}steps", "a level needs at least one step")
    parsed = tuple(_parse_step(step, f"{where}steps.{i}.") for i, step in enumerate(steps))
    kinds = [s.kind for s in parsed]
    if len(set(kinds)) != len(kinds):
        raise LevelError(f"{where}steps", "each step kind may appear once")
    if all(s.optional for s in parsed):
        raise LevelError(f"{where}steps", "at least one step must be required")
    return LevelDefinition(name, parsed, timedelta(hours=ttl_hours))


def _parse_step(raw: Any, where: str) -> LevelStep:
    if not isinstance(raw, dict):
        raise LevelError(where.rstrip("."), "a step must be an object")
    unknown = sorted(set(raw) - {"kind", "optional"})
    if unknown:
        raise LevelError(f"{where}{unknown[0]}", "unknown field")
    kind = raw.get("kind")
    if kind not in {k.value for k in StepKind}:
        allowed = ", ".join(k.value for k in StepKind)
        raise LevelError(f"{where}kind", f"kind must be one of {allowed}")
    optional = raw.get("optional", False)
    if not isinstance(optional, bool):
        raise LevelError(f"{where}optional", "optional must be true or false")
    return LevelStep(str(kind), optional)


def parse_levels_document(raw: Any) -> list[LevelDefinition]:
    """The ``{"levels": [...]}`` document; names must be unique within it."""
    if not isinstance(raw, dict) or set(raw) != {"levels"} or not isinstance(raw["levels"], list):
        raise LevelError("levels", "the document must be {levels: [...]}")
    levels = [parse_level(item, f"levels.{i}.") for i, item in enumerate(raw["levels"])]
    names = [level.name for level in levels]
    if len(set(names)) != len(names):
        raise LevelError("levels", "level names must be unique")
    return levels


def load_levels_text(text: str) -> list[LevelDefinition]:
    """A config file's text: JSON, or YAML (which JSON is a subset of anyway, but
    JSON's own parser gives the clearer error for a JSON file)."""
    stripped = text.lstrip()
    try:
        raw = json.loads(text) if stripped.startswith("{") else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise LevelError("levels", f"not valid YAML or JSON: {exc}") from exc
    return parse_levels_document(raw)
