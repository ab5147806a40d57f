"""List entities reduced to what screening needs, read from FtM entities.

Every importer produces followthemoney entities; :func:`to_record` keeps the
matchable names, name parts, birth dates, countries, identifiers and topics of
the ones that can be screened against (persons, organisations, legal entities,
vessels and aircraft) and drops the rest (addresses, sanctions, relations).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, TypedDict

import orjson
from followthemoney import EntityProxy, model
from followthemoney.types import registry
from followthemoney.types.common import PropertyType
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
    return _schema_info(entity.schema.name).kind


@dataclass(frozen=True)
class _SchemaInfo:
    """What :func:`record_of` reads from entities of one schema."""

    kind: Kind | None
    # Matchable properties of the name, country and identifier types (as
    # FtM's ``get_type_values(..., matchable=True)`` reads them).
    names: frozenset[str]
    countries: frozenset[str]
    identifiers: frozenset[str]
    # The name-part properties (PART_TAGS) the schema has.
    parts: tuple[str, ...]
    has_birth_date: bool
    has_topics: bool


@cache
def _schema_info(name: str) -> _SchemaInfo:
    schema = model.get(name)
    if schema is None:
        raise ValueError(f"unknown schema '{name}'")
    kind = None
    if schema.is_a("Person"):
        kind = Kind.PERSON
    elif schema.is_a("Organization"):
        kind = Kind.ORGANIZATION
    elif schema.is_a("LegalEntity"):
        kind = Kind.ENTITY
    elif schema.name in OBJECT_SCHEMATA:
        kind = Kind.OBJECT

    def of_type(type_: PropertyType) -> frozenset[str]:
        return frozenset(
            p.name for p in schema.properties.values() if p.type is type_ and p.matchable
        )

    return _SchemaInfo(
        kind=kind,
        names=of_type(registry.name),
        countries=of_type(registry.country),
        identifiers=of_type(registry.identifier),
        parts=tuple(p for p in PART_TAGS if p in schema.properties),
        has_birth_date="birthDate" in schema.properties,
        has_topics="topics" in schema.properties,
    )


def content_hash(data: dict[str, Any]) -> str:
    """A fingerprint of what the list says about an entity. A reviewer's
    decision on a hit stands until this changes."""
    properties = {k: sorted(v) for k, v in sorted((data.get("properties") or {}).items())}
    canonical = orjson.dumps({"schema": data.get("schema"), "properties": properties})
    return hashlib.blake2b(canonical, digest_size=12).hexdigest()


def to_record(entity: EntityProxy, data: dict[str, Any] | None = None) -> Record | None:
    """The screenable view of an entity, or ``None`` for entities nobody is screened against."""
    if data is None:
        data = entity.to_dict()
    return _record(entity.schema.name, entity.id, entity.properties, data)


def record_of(data: dict[str, Any]) -> Record | None:
    """:func:`to_record` of an FtM entity as read from JSON, without building
    the :class:`EntityProxy` first: a million-entity import pays for proxies
    it only reads a few properties of. Values are read as FtM reads a cleaned
    entity (unknown properties ignored, repeated values once).

    Raises ``ValueError`` (or ``TypeError``) where ``EntityProxy.from_dict``
    would refuse the entity."""
    schema = data.get("schema")
    if not isinstance(schema, str):
        raise ValueError("No schema for entity.")
    properties = data.get("properties", {})
    if not isinstance(properties, dict):
        raise TypeError("properties must be an object")
    entity_id = data.get("id")
    return _record(schema, str(entity_id) if entity_id else None, properties, data)


def _record(
    schema: str,
    entity_id: str | None,
    properties: Mapping[str, Iterable[str]],
    data: dict[str, Any],
) -> Record | None:
    info = _schema_info(schema)
    if info.kind is None or entity_id is None:
        return None
    # Each value once, in the entity's order (the first name is the caption
    # when the file gives none).
    names: dict[str, None] = {}
    countries: set[str] = set()
    identifiers: set[str] = set()
    for prop, values in properties.items():
        if prop in info.names:
            names.update(dict.fromkeys(values))
        elif prop in info.countries:
            countries.update(values)
        elif prop in info.identifiers:
            identifiers.update(values)
    if not names:
        return None

    def values_of(prop: str) -> list[str]:
        return list(dict.fromkeys(properties.get(prop) or ()))

    name_parts = {prop: values_of(prop) for prop in info.parts}
    datasets = data.get("datasets") or []
    return Record(
        id=entity_id,
        schema=schema,
        kind=info.kind.value,
        # FtM's own caption picks the most representative name (and is slow
        # to compute): published files carry it already.
        caption=str(data.get("caption") or next(iter(names))),
        names=sorted(names),
        name_parts={k: v for k, v in name_parts.items() if v},
        birth_dates=sorted(values_of("birthDate")) if info.has_birth_date else [],
        countries=sorted(countries),
        identifiers=sorted(identifiers),
        topics=sorted(values_of("topics")) if info.has_topics else [],
        datasets=sorted(datasets) if isinstance(datasets, list) else [],
        hash=content_hash(data),
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
