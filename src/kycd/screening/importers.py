"""Readers for the formats watchlists are published in. Each yields
followthemoney entities (and, for deltas, the operation applied to them).

- ``ftm``: FollowTheMoney entities as JSON lines, as OpenSanctions publishes
  ``entities.ftm.json``.
- ``ftm-delta``: OpenSanctions delta files, one ``{"op": "ADD"|"MOD"|"DEL",
  "entity": {...}}`` per line.
- ``ofac``: OFAC's legacy SDN CSV files: ``sdn.csv`` and, beside it when
  present, ``alt.csv`` (aliases) and ``add.csv`` (addresses, for countries).
- ``csv``: kycd's plain CSV for a tenant's own list (see docs/screening.md).
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

import orjson
from followthemoney import EntityProxy, model
from followthemoney.exc import InvalidData

from kycd.errors import BadRequest


class ListFormat(StrEnum):
    FTM = "ftm"
    FTM_DELTA = "ftm-delta"
    OFAC = "ofac"
    CSV = "csv"


class DeltaOp(StrEnum):
    ADD = "ADD"
    MOD = "MOD"
    DEL = "DEL"


@dataclass(frozen=True)
class Change:
    op: DeltaOp
    entity_id: str
    entity: EntityProxy | None
    data: dict[str, Any] | None


class ImportError_(BadRequest):
    def __init__(self, message: str) -> None:
        super().__init__(message, field="file", code="invalid_list_file")


def _entity(data: dict[str, Any], where: str) -> EntityProxy:
    try:
        return EntityProxy.from_dict(data)
    except (InvalidData, KeyError, TypeError, ValueError) as exc:
        raise ImportError_(f"{where}: not a FollowTheMoney entity ({exc})") from exc


def json_lines(
    fh: Iterable[bytes], name: str, first_line: int = 1
) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(fh, first_line):
        if not line.strip():
            continue
        try:
            data = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise ImportError_(f"{name} line {number}: invalid JSON ({exc})") from exc
        if not isinstance(data, dict):
            raise ImportError_(f"{name} line {number}: expected a JSON object")
        yield number, data


def read_ftm(
    fh: Iterable[bytes], name: str = "file", first_line: int = 1
) -> Iterator[tuple[EntityProxy, dict[str, Any]]]:
    for number, data in json_lines(fh, name, first_line):
        yield _entity(data, f"{name} line {number}"), data


def read_ftm_delta(fh: Iterable[bytes], name: str = "file") -> Iterator[Change]:
    for number, line in json_lines(fh, name):
        where = f"{name} line {number}"
        try:
            op = DeltaOp(str(line.get("op")))
        except ValueError as exc:
            raise ImportError_(f"{where}: op must be ADD, MOD or DEL") from exc
        data = line.get("entity")
        if not isinstance(data, dict) or not data.get("id"):
            raise ImportError_(f"{where}: an entity with an id is required")
        if op is DeltaOp.DEL:
            yield Change(op, str(data["id"]), None, None)
        else:
            yield Change(op, str(data["id"]), _entity(data, where), data)


# ------------------------------------------------------------------ OFAC

_NULL = "-0-"
_DOB = re.compile(r"DOB (?:circa )?([0-9]{1,2} [A-Za-z]{3} [0-9]{4}|[A-Za-z]{3} [0-9]{4}|[0-9]{4})")
_NATIONALITY = re.compile(r"(?:nationality|citizen) ([A-Za-z][A-Za-z .'-]+?)(?:;|\.|$)")
_IDENTIFIER = re.compile(
    r"(Passport|National ID No\.|Cedula No\.|Tax ID No\.|Registration ID|C\.U\.R\.P\.|RFC|SSN|NIT #|Identification Number) ([A-Z0-9][A-Z0-9/ -]*?)(?: \(|;|\.$|$)"
)
_MONTHS = {
    m: i
    for i, m in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1
    )
}


def _ofac_value(value: str | None) -> str | None:
    value = (value or "").strip()
    return None if not value or value == _NULL else value


def _ofac_date(text: str) -> str:
    parts = text.split()
    if len(parts) == 3:
        return f"{parts[2]}-{_MONTHS.get(parts[1][:3].title(), 1):02d}-{int(parts[0]):02d}"
    if len(parts) == 2:
        return f"{parts[1]}-{_MONTHS.get(parts[0][:3].title(), 1):02d}"
    return parts[0]


def _ofac_person_name(name: str) -> tuple[str, str | None, str | None]:
    # OFAC writes individuals as "LAST, First Middle".
    if "," in name:
        last, first = (p.strip() for p in name.split(",", 1))
        return f"{first} {last}", first, last
    return name, None, None


def _read_csv(path: Path) -> list[list[str]]:
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8", errors="replace") as fh:
        return [row for row in csv.reader(fh) if row and row[0].strip() not in ("", "\x1a")]


def read_ofac(sdn_path: Path) -> Iterator[tuple[EntityProxy, dict[str, Any]]]:
    """OFAC's SDN list: sdn.csv, with alt.csv and add.csv from the same directory."""
    directory = sdn_path.parent
    aliases: dict[str, list[str]] = defaultdict(list)
    for row in _read_csv(directory / "alt.csv"):
        if len(row) >= 4 and (alias := _ofac_value(row[3])):
            aliases[row[0].strip()].append(alias)
    countries: dict[str, list[str]] = defaultdict(list)
    for row in _read_csv(directory / "add.csv"):
        if len(row) >= 5 and (country := _ofac_value(row[4])):
            countries[row[0].strip()].append(country)
    rows = _read_csv(sdn_path)
    if not rows:
        raise ImportError_(f"{sdn_path.name}: no SDN records")
    for number, row in enumerate(rows, 1):
        if len(row) < 12:
            raise ImportError_(f"{sdn_path.name} line {number}: expected 12 columns")
        yield _ofac_entity(row, aliases, countries)


def _ofac_entity(
    row: list[str], aliases: dict[str, list[str]], countries: dict[str, list[str]]
) -> tuple[EntityProxy, dict[str, Any]]:
    ent_num = row[0].strip()
    name = _ofac_value(row[1]) or ""
    sdn_type = (_ofac_value(row[2]) or "").lower()
    schema = {"individual": "Person", "vessel": "Vessel", "aircraft": "Airplane"}.get(
        sdn_type, "Organization"
    )
    entity = model.make_entity(schema)
    entity.id = f"ofac-{ent_num}"
    remarks = _ofac_value(row[11]) or ""
    if schema == "Person":
        full, first, last = _ofac_person_name(name)
        entity.add("name", full)
        entity.add("firstName", first)
        entity.add("lastName", last)
        entity.add("title", _ofac_value(row[4]))
        for alias in aliases.get(ent_num, []):
            entity.add("alias", _ofac_person_name(alias)[0])
        for match in _DOB.finditer(remarks):
            entity.add("birthDate", _ofac_date(match.group(1)))
        for match in _NATIONALITY.finditer(remarks):
            entity.add("nationality", match.group(1).strip(), quiet=True, fuzzy=True)
    else:
        entity.add("name", name)
        entity.add("alias", aliases.get(ent_num, []))
        if schema == "Vessel":
            entity.add("flag", _ofac_value(row[9]), quiet=True, fuzzy=True)
    for match in _IDENTIFIER.finditer(remarks):
        if schema == "Person":
            prop = "passportNumber" if match.group(1) == "Passport" else "idNumber"
        else:
            prop = "registrationNumber"
        entity.add(prop, match.group(2), quiet=True)
    entity.add("country", countries.get(ent_num, []), quiet=True, fuzzy=True)
    entity.add("program", _ofac_value(row[3]), quiet=True)
    entity.add("notes", remarks or None, quiet=True)
    entity.add("topics", "sanction")
    data = entity.to_dict()
    data["caption"] = name
    data["datasets"] = ["us_ofac_sdn"]
    return entity, data


# ------------------------------------------------------------------ plain CSV

CSV_COLUMNS = (
    "id",
    "schema",
    "name",
    "aliases",
    "birth_date",
    "nationality",
    "country",
    "identifiers",
    "topics",
)
_CSV_SCHEMATA = {"Person", "Organization", "Company", "LegalEntity", "Vessel", "Airplane"}


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(";") if v.strip()]


def read_plain_csv(fh: IO[str], name: str = "file") -> Iterator[tuple[EntityProxy, dict[str, Any]]]:
    reader = csv.DictReader(fh)
    missing = {"id", "name"} - set(reader.fieldnames or ())
    if missing:
        raise ImportError_(f"{name}: missing columns {', '.join(sorted(missing))}")
    for number, row in enumerate(reader, 2):
        schema = (row.get("schema") or "LegalEntity").strip()
        if schema not in _CSV_SCHEMATA:
            raise ImportError_(f"{name} line {number}: unknown schema '{schema}'")
        if not (row.get("id") or "").strip() or not (row.get("name") or "").strip():
            raise ImportError_(f"{name} line {number}: id and name are required")
        entity = model.make_entity(schema)
        entity.id = row["id"].strip()
        entity.add("name", row["name"].strip())
        entity.add("alias", _split(row.get("aliases")))
        if schema == "Person":
            entity.add("birthDate", _split(row.get("birth_date")))
            entity.add("nationality", _split(row.get("nationality")), quiet=True)
            entity.add("idNumber", _split(row.get("identifiers")))
        else:
            entity.add("registrationNumber", _split(row.get("identifiers")), quiet=True)
        entity.add("country", _split(row.get("country")), quiet=True)
        entity.add("topics", _split(row.get("topics")), quiet=True)
        yield entity, {**entity.to_dict(), "caption": row["name"].strip()}
