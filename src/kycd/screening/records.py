"""List entities reduced to what screening needs, read from FtM entities.

Every importer produces followthemoney entities; :func:`to_record` keeps the
matchable names, name parts, birth dates, countries, identifiers and topics of
the ones that can be screened against (persons, organisations, legal entities,
vessels and aircraft) and drops the rest (addresses, sanctions, relations).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any, TypedDict

import orjson
from followthemoney import EntityProxy
from followthemoney.types import registry
from rigour.names import Name, NamePartTag
from rigour.text import ascii_text

from kycd.screening.matching import PART_TAGS, Kind, Subject

OBJECT_SCHEMATA = frozenset({"Vessel", "Airplane", "Asset", "Security"})


class Record(TypedDict):
    id: str
    schema: str
    kind: str
    caption: str
    names: list[str]
    name_parts: dict[str, list[str]]
    birth_dates: list[str]
    countries: list[str]
    identifiers: list[str]
    topics: list[str]
    datasets: list[str]
    hash: str


def kind_of(entity: EntityProxy) -> Kind | None:
    schema = entity.schema
    if schema.is_a("Person"):
        return Kind.PERSON
    if schema.is_a("Organization"):
        return Kind.ORGANIZATION
    if schema.is_a("LegalEntity"):
        return Kind.ENTITY
    if schema.name in OBJECT_SCHEMATA:
        return Kind.OBJECT
    return None


def content_hash(data: dict[str, Any]) -> str:
    """A fingerprint of what the list says about an entity. A reviewer's
    decision on a hit stands until this changes."""
    properties = {k: sorted(v) for k, v in sorted((data.get("properties") or {}).items())}
    canonical = orjson.dumps({"schema": data.get("schema"), "properties": properties})
    return hashlib.blake2b(canonical, digest_size=12).hexdigest()


def to_record(entity: EntityProxy, data: dict[str, Any] | None = None) -> Record | None:
    """The screenable view of an entity, or ``None`` for entities nobody is screened against."""
    kind = kind_of(entity)
    if kind is None or entity.id is None:
        return None
    names = entity.get_type_values(registry.name, matchable=True)
    if not names:
        return None
    name_parts = {prop: entity.get(prop, quiet=True) for prop in PART_TAGS}
    datasets = (data or {}).get("datasets") or []
    return Record(
        id=entity.id,
        schema=entity.schema.name,
        kind=kind.value,
        # FtM's own caption picks the most representative name (and is slow
        # to compute): published files carry it already.
        caption=str((data or {}).get("caption") or names[0]),
        names=sorted(set(names)),
        name_parts={k: v for k, v in name_parts.items() if v},
        birth_dates=sorted(entity.get("birthDate", quiet=True)),
        countries=sorted(set(entity.get_type_values(registry.country, matchable=True))),
        identifiers=sorted(set(entity.get_type_values(registry.identifier, matchable=True))),
        topics=sorted(entity.get("topics", quiet=True)),
        datasets=sorted(datasets) if isinstance(datasets, list) else [],
        hash=content_hash(data if data is not None else entity.to_dict()),
    )


def subject_of(record: Record) -> Subject:
    return Subject(
        kind=Kind(record["kind"]),
        names=tuple(record["names"]),
        name_parts=tuple((k, tuple(v)) for k, v in sorted(record["name_parts"].items())),
        birth_dates=tuple(record["birth_dates"]),
        countries=tuple(record["countries"]),
        identifiers=tuple(record["identifiers"]),
    )


# Name parts that identify nobody: articles, conjunctions, legal forms.
_UNINDEXED = frozenset({NamePartTag.STOP, NamePartTag.LEGAL})


def part_keys(comparable: str) -> set[str]:
    """The keys one name part is found under. rigour's comparable form is
    latin for Cyrillic, Greek or Hangul; Arabic, Hebrew and CJK parts stay in
    their script, so their ICU romanisation is indexed beside them (a list
    entry in Arabic is then found by a romanised query, and vice versa)."""
    if comparable.isascii():
        return {comparable} if len(comparable) >= 2 else set()
    keys = {comparable}
    for token in ascii_text(comparable).lower().split():
        token = "".join(ch for ch in token if ch.isalnum())
        if len(token) >= 2:
            keys.add(token)
    return keys


def index_tokens(names: Iterable[Name]) -> set[str]:
    tokens: set[str] = set()
    for name in names:
        for part in name.parts:
            if part.tag not in _UNINDEXED:
                tokens |= part_keys(part.comparable)
    return tokens


def query_units(names: Iterable[Name]) -> list[frozenset[str]]:
    """One unit per distinct name part of the query, each the set of keys
    that stand for it. Retrieval credits a list entity once per unit, so a
    part with several spellings is not counted several times."""
    units: dict[frozenset[str], None] = {}
    for name in names:
        for part in name.parts:
            if part.tag in _UNINDEXED:
                continue
            keys = frozenset(part_keys(part.comparable))
            if keys:
                units[keys] = None
    return list(units)
