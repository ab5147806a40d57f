"""Building the index fast must not change what it holds: records read from
raw FtM JSON, cached index keys, records pre-serialised by worker processes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from followthemoney import EntityProxy
from followthemoney.types import registry

from kycd.errors import BadRequest
from kycd.screening.builder import build_full, keyed_ftm_lines
from kycd.screening.index import ListView, _name_tokens, record_tokens
from kycd.screening.matching import PART_TAGS, analyze_plain
from kycd.screening.records import Record, index_tokens, record_of, subject_of, to_record

BENCHDATA = Path("/work/shared/benchdata/ftm")


def zala() -> list[dict[str, Any]]:
    path = BENCHDATA / "zala.entities.ftm.json"
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


MADE_UP: list[dict[str, Any]] = [
    # Repeated values, an unknown property, no caption, several names.
    {
        "id": "p1",
        "schema": "Person",
        "properties": {
            "alias": ["Ivan Petrov", "Ivan Petrov"],
            "name": ["Иван Петров"],
            "firstName": ["Ivan", "Ivan"],
            "noSuchProperty": ["x"],
            "nationality": ["ru", "ru"],
            "country": ["ua"],
            "passportNumber": ["X1"],
            "birthDate": ["1970", "1970-01-01"],
            "topics": ["sanction", "crime"],
        },
        "datasets": ["b", "a"],
    },
    {"id": "c1", "schema": "Company", "properties": {"name": ["Roe Holdings Ltd"]}},
    {"id": "v1", "schema": "Vessel", "properties": {"name": ["Artavia"], "flag": ["pa"]}},
    # Not screened: no name; an address; no id.
    {"id": "p2", "schema": "Person", "properties": {"birthDate": ["1980"]}},
    {"id": "a1", "schema": "Address", "properties": {"full": ["1 Main St"]}},
    {"schema": "Person", "properties": {"name": ["Nobody"]}},
]


def reference(data: dict[str, Any]) -> Record | None:
    """What a record held when read through FtM's EntityProxy (the names'
    order aside: the caption is the first name when the file gives none)."""
    entity = EntityProxy.from_dict(data)
    record = to_record(entity, data)
    if record is None:
        return None
    assert record["names"] == sorted(set(entity.get_type_values(registry.name, matchable=True)))
    countries = entity.get_type_values(registry.country, matchable=True)
    assert record["countries"] == sorted(set(countries))
    identifiers = entity.get_type_values(registry.identifier, matchable=True)
    assert record["identifiers"] == sorted(set(identifiers))
    parts = {p: entity.get(p, quiet=True) for p in PART_TAGS}
    assert record["name_parts"] == {k: v for k, v in parts.items() if v}
    assert record["birth_dates"] == sorted(entity.get("birthDate", quiet=True))
    assert record["topics"] == sorted(entity.get("topics", quiet=True))
    return record


@pytest.mark.parametrize("data", [*zala(), *MADE_UP])
def test_records_read_from_raw_json_equal_those_read_through_ftm(data: dict[str, Any]) -> None:
    assert record_of(data) == reference(data)


def test_caption_is_given_or_the_first_name() -> None:
    record = record_of(MADE_UP[0])
    assert record is not None and record["caption"] == "Ivan Petrov"
    assert record["datasets"] == ["a", "b"]
    assert record["countries"] == ["ru", "ua"] and record["identifiers"] == ["X1"]


def test_invalid_entities_are_refused_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    good = orjson.dumps(MADE_UP[1])
    path.write_bytes(good + b"\n" + orjson.dumps({"id": "x", "schema": "Nope"}) + b"\n")
    with (
        pytest.raises(BadRequest, match="line 2: not a FollowTheMoney entity"),
        path.open("rb") as fh,
    ):
        list(keyed_ftm_lines(fh, path.name, 1))
    path.write_bytes(good + b"\n" + orjson.dumps({"id": "x", "schema": "Person"}) + b"\n[]\n")
    with pytest.raises(BadRequest, match="line 3: expected a JSON object"), path.open("rb") as fh:
        list(keyed_ftm_lines(fh, path.name, 1))


def test_cached_index_keys_equal_fresh_analysis() -> None:
    records = [r for r in (record_of(d) for d in zala()) if r is not None]
    _name_tokens.cache_clear()
    first = [record_tokens(r) for r in records]
    again = [record_tokens(r) for r in records]
    assert _name_tokens.cache_info().hits >= len(records)
    fresh = [tuple(sorted(index_tokens(analyze_plain(subject_of(r))))) for r in records]
    assert first == again == fresh


def test_parallel_build_writes_the_same_files(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    rows = [*zala(), *MADE_UP, MADE_UP[1]]  # and a repeated entity, skipped
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    results = []
    for workers in (1, 2):
        with path.open("rb") as fh:
            results.append(build_full(tmp_path / f"v{workers}", keyed_ftm_lines(fh, "l", workers)))
    serial, parallel = results
    assert (serial.entity_count, serial.skipped) == (parallel.entity_count, parallel.skipped)
    assert serial.skipped == sum(record_of(r) is None for r in rows) + 1
    for name in ("records.bin", "token_text.bin", "postings.npy", "variant_hashes.npy"):
        assert (tmp_path / "v1" / name).read_bytes() == (tmp_path / "v2" / name).read_bytes()
    view = ListView.open(tmp_path / "v2")
    assert view.get("p1") == record_of(MADE_UP[0])


def test_cached_vocabulary_lookups_equal_fresh_ones(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in zala()))
    with path.open("rb") as fh:
        build_full(tmp_path / "v", keyed_ftm_lines(fh, "l", 1))
    segment = ListView.open(tmp_path / "v").base
    keys = ["osetrova", "osetrowa", "maria", "mariya", "zakharova", "nobody", "ab", "осетрова"]
    fresh = [segment._lookup(k) for k in keys]
    assert any(len(found) > 1 for found in fresh)  # one-edit neighbours are found
    assert [segment.lookup(k) for k in keys] == fresh
    assert [segment.lookup(k) for k in keys] == fresh
