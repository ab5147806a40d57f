"""List files: every format read into a version, deltas, and the index."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest

from kycd.errors import BadRequest
from kycd.screening.builder import build_delta, build_full, keyed_entities, keyed_ftm_lines
from kycd.screening.engine import screen_view
from kycd.screening.importers import read_ftm_delta, read_ofac, read_plain_csv
from kycd.screening.index import ListView
from kycd.screening.matching import Kind, Subject

BENCHDATA = Path("/work/shared/benchdata/ftm")


def ftm_version(directory: Path, path: Path, workers: int = 1) -> ListView:
    with path.open("rb") as fh:
        build_full(directory, keyed_ftm_lines(fh, path.name, workers))
    return ListView.open(directory)


def entity(entity_id: str, schema: str, **props: list[str]) -> dict[str, object]:
    return {"id": entity_id, "schema": schema, "properties": props}


def write_lines(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def test_opensanctions_sample_keeps_screenable_entities(tmp_path: Path) -> None:
    view = ftm_version(tmp_path / "v1", BENCHDATA / "zala.entities.ftm.json")
    records = list(view.records())
    # The sample also holds addresses and sanction records; only parties are screened.
    assert {r["schema"] for r in records} <= {"Person", "Organization", "Company", "LegalEntity"}
    osetrova = view.get("NK-2Tbri3s6GgNtAwsSXh4qpL")
    assert osetrova is not None
    assert "1988-01-07" in osetrova["birth_dates"]
    assert "sanction" in osetrova["topics"]
    found = screen_view(view, Subject(Kind.PERSON, ("Мария Осетрова",)), threshold=0.5)
    assert found and found[0].record["id"] == "NK-2Tbri3s6GgNtAwsSXh4qpL"


def test_parallel_build_equals_serial_build(tmp_path: Path) -> None:
    serial = ftm_version(tmp_path / "a", BENCHDATA / "zala.entities.ftm.json", workers=1)
    parallel = ftm_version(tmp_path / "b", BENCHDATA / "zala.entities.ftm.json", workers=2)
    assert list(serial.records()) == list(parallel.records())


def test_delta_add_mod_del(tmp_path: Path) -> None:
    base = write_lines(
        tmp_path / "base.json",
        [
            entity("p1", "Person", name=["Ivan Petrov"], birthDate=["1970-01-01"]),
            entity("p2", "Person", name=["Olga Smirnova"]),
            entity("c1", "Company", name=["Acme Trading LLC"]),
        ],
    )
    view = ftm_version(tmp_path / "v1", base)
    delta = write_lines(
        tmp_path / "d.json",
        [
            {"op": "ADD", "entity": entity("p3", "Person", name=["Pavel Sidorov"])},
            {"op": "MOD", "entity": entity("p1", "Person", name=["Ivan Ivanovich Petrov"])},
            {"op": "DEL", "entity": {"id": "p2"}},
        ],
    )
    with delta.open("rb") as fh:
        result = build_delta(tmp_path / "v2", view, read_ftm_delta(fh))
    assert (result.added, result.modified, result.deleted) == (["p3"], ["p1"], ["p2"])
    new = ListView.open(tmp_path / "v2")
    assert new.size == 3
    assert new.get("p2") is None
    assert new.get("p3") is not None
    p1 = new.get("p1")
    assert p1 is not None and p1["names"] == ["Ivan Ivanovich Petrov"]
    assert p1["hash"] != view.get("p1")["hash"]  # type: ignore[index]
    found = screen_view(new, Subject(Kind.PERSON, ("Olga Smirnova",)), threshold=0.5)
    assert found == []
    found = screen_view(new, Subject(Kind.PERSON, ("Pavel Sidorov",)), threshold=0.5)
    assert [f.record["id"] for f in found] == ["p3"]
    # The old version is untouched: a reader still holding it sees the old list.
    assert view.get("p2") is not None


def test_opensanctions_delta_files_in_index_order(tmp_path: Path) -> None:
    view = ftm_version(tmp_path / "base", BENCHDATA / "delta/base.entities.ftm.json")
    previous = view
    names = sorted(p for p in (BENCHDATA / "delta").glob("2024*.delta.json"))
    for n, path in enumerate(names):
        with path.open("rb") as fh:
            build_delta(tmp_path / f"d{n}", previous, read_ftm_delta(fh, path.name))
        previous = ListView.open(tmp_path / f"d{n}")
    # The last delta adds Vladimir Plotnikov; one before it deletes the poltergeist.
    assert previous.get("Q4365364") is not None
    assert previous.get("NK-500Poltergeist") is None
    found = screen_view(previous, Subject(Kind.PERSON, ("Vladimir Plotnikov",)), threshold=0.5)
    assert found[0].record["id"] == "Q4365364"


def test_delta_rejects_unknown_operations() -> None:
    lines = io.BytesIO(b'{"op": "UPSERT", "entity": {"id": "x"}}\n')
    with pytest.raises(BadRequest, match="op must be"):
        list(read_ftm_delta(lines))


def test_invalid_json_lines_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(orjson.dumps(entity("a", "Person", name=["A B"])) + b"\n{oops\n")
    with pytest.raises(BadRequest, match="line 2"):
        ftm_version(tmp_path / "v", path)


SDN = """\
36,"AEROCARIBBEAN AIRLINES",-0- ,"CUBA",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0-
2674,"ABBAS, Abu","individual","SDGT",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,"DOB 10 Dec 1948; POB Safad, Israel; nationality Palestinian; Passport 123456 (Iraq)."
15036,"ARTAVIA","vessel","CUBA",-0- ,"ELVD6","Cargo",-0- ,-0- ,"Panama",-0- ,-0-
"""
ALT = """\
36,12,"aka","AERO-CARIBBEAN",-0-
2674,1001,"aka","ZAYDAN, Muhammad",-0-
"""
ADD = """\
36,25,-0- ,"Havana","Cuba",-0-
"""


def test_ofac_sdn_files(tmp_path: Path) -> None:
    (tmp_path / "sdn.csv").write_text(SDN)
    (tmp_path / "alt.csv").write_text(ALT)
    (tmp_path / "add.csv").write_text(ADD)
    build_full(tmp_path / "v", keyed_entities(read_ofac(tmp_path / "sdn.csv")))
    view = ListView.open(tmp_path / "v")
    abbas = view.get("ofac-2674")
    assert abbas is not None
    assert abbas["schema"] == "Person"
    assert set(abbas["names"]) == {"Abu ABBAS", "Muhammad ZAYDAN"}
    assert abbas["birth_dates"] == ["1948-12-10"]
    assert "123456" in abbas["identifiers"]
    airline = view.get("ofac-36")
    assert airline is not None and airline["countries"] == ["cu"]
    assert airline["caption"] == "AEROCARIBBEAN AIRLINES"
    assert "AERO-CARIBBEAN" in airline["names"]
    assert view.get("ofac-15036")["schema"] == "Vessel"  # type: ignore[index]
    found = screen_view(view, Subject(Kind.PERSON, ("Muhammad Zaydan",)), threshold=0.5)
    assert [f.record["id"] for f in found] == ["ofac-2674"]


def test_plain_csv(tmp_path: Path) -> None:
    text = (
        "id,schema,name,aliases,birth_date,nationality,country,identifiers,topics\n"
        "own-1,Person,Jane Roe,Janet Roe;J. Roe,1980-05-01,gb,,P1234567,sanction\n"
        "own-2,Company,Roe Holdings Ltd,,,,gb,12345678,crime\n"
    )
    build_full(tmp_path / "v", keyed_entities(read_plain_csv(io.StringIO(text))))
    view = ListView.open(tmp_path / "v")
    jane = view.get("own-1")
    assert jane is not None
    assert set(jane["names"]) == {"Jane Roe", "Janet Roe", "J. Roe"}
    assert jane["countries"] == ["gb"] and jane["identifiers"] == ["P1234567"]
    assert view.get("own-2")["topics"] == ["crime"]  # type: ignore[index]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id,schema\nx,Person\n", "missing columns name"),
        ("id,schema,name\nx,Spaceship,Enterprise\n", "unknown schema"),
        ("id,schema,name\n,Person,Jane\n", "id and name are required"),
    ],
)
def test_plain_csv_errors(text: str, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        list(read_plain_csv(io.StringIO(text)))


def test_cli_imports_with_a_progress_bar(
    tmp_path: Path, database_url: str, database: object
) -> None:
    import os
    import subprocess
    import sys

    from kycd.core.server_secret import load_server_secret  # noqa: F401

    env = {k: v for k, v in os.environ.items() if not k.startswith("KYCD_")}
    env.update(KYCD_DATA_DIR=str(tmp_path / "data"), KYCD_DATABASE_URL=database_url)
    kycd = [sys.executable, "-m", "kycd.cli"]
    made = subprocess.run(
        [*kycd, "credentials", "create", "--tenant", "cli-list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    imported = subprocess.run(
        [
            *kycd,
            "watchlist",
            "import",
            "zala",
            str(BENCHDATA / "zala.entities.ftm.json"),
            "--tenant",
            "cli-list",
            "--workers",
            "1",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert imported.returncode == 0, imported.stderr
    assert "zala" in imported.stdout and "entities" in imported.stdout
    shown = subprocess.run(
        [*kycd, "watchlist", "list", "--tenant", "cli-list"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "zala" in shown.stdout
    missing = subprocess.run(
        [*kycd, "watchlist", "import", "x", str(tmp_path / "nope.json"), "--tenant", "nobody"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode == 2 and "No tenant" in missing.stdout
