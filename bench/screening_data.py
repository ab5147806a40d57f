"""Synthetic watchlists and customers for the screening benchmark.

The list imitates what sanctions and PEP lists hold: persons and companies
from many countries, with names in their own script and, for non-Latin
scripts, a romanised alias beside them (as OpenSanctions publishes). Faker
with a fixed seed makes the same list on every run, so it is cached.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from faker import Faker
from rigour.text import ascii_text

# (faker locale, ISO country) — Latin, Cyrillic, Greek, Arabic, Hebrew,
# Devanagari, Thai, CJK and Hangul scripts.
LOCALES: list[tuple[str, str]] = [
    ("en_US", "us"),
    ("en_GB", "gb"),
    ("de_DE", "de"),
    ("fr_FR", "fr"),
    ("es_ES", "es"),
    ("it_IT", "it"),
    ("pl_PL", "pl"),
    ("tr_TR", "tr"),
    ("pt_BR", "br"),
    ("ru_RU", "ru"),
    ("uk_UA", "ua"),
    ("el_GR", "gr"),
    ("ar_AA", "sa"),
    ("fa_IR", "ir"),
    ("he_IL", "il"),
    ("hi_IN", "in"),
    ("th_TH", "th"),
    ("zh_CN", "cn"),
    ("ja_JP", "jp"),
    ("ko_KR", "kr"),
]
TOPICS = [["sanction"], ["role.pep"], ["crime"], ["sanction", "crime"], ["poi"]]
TOPIC_WEIGHTS = [45, 30, 10, 5, 10]
ROMANISE = {"ru", "ua", "gr", "sa", "ir", "il", "in", "th", "cn", "jp", "kr"}


def _person(fake: Faker, rng: random.Random, country: str, n: int) -> dict[str, Any]:
    first, last = fake.first_name(), fake.last_name()
    name = f"{last}{first}" if country in {"cn", "jp"} else f"{first} {last}"
    names = [name]
    if country in ROMANISE:
        names.append(ascii_text(f"{first} {last}").replace("?", "").title())
    props: dict[str, list[str]] = {
        "name": names,
        "firstName": [first],
        "lastName": [last],
        "nationality": [country],
        "birthDate": [
            f"{rng.randint(1935, 2002)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        ],
        "topics": rng.choices(TOPICS, TOPIC_WEIGHTS)[0],
    }
    if rng.random() < 0.3:
        props["passportNumber"] = [f"{country.upper()}{rng.randint(10_000_000, 99_999_999)}"]
    return {"id": f"bench-p-{n}", "schema": "Person", "properties": props}


def _company(fake: Faker, rng: random.Random, country: str, n: int) -> dict[str, Any]:
    name = fake.company()
    names = [name]
    if country in ROMANISE:
        names.append(ascii_text(name).replace("?", "").title())
    props: dict[str, list[str]] = {
        "name": names,
        "jurisdiction": [country],
        "topics": rng.choices(TOPICS[:4], TOPIC_WEIGHTS[:4])[0],
    }
    if rng.random() < 0.5:
        props["registrationNumber"] = [str(rng.randint(10_000_000, 999_999_999))]
    return {"id": f"bench-c-{n}", "schema": "Company", "properties": props}


def generate_entities(size: int, seed: int = 20261122) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    fakers = {}
    for locale, country in LOCALES:
        fake = Faker(locale)
        fake.seed_instance(seed + len(fakers))
        fakers[country] = fake
    countries = [c for _, c in LOCALES]
    for n in range(size):
        country = rng.choice(countries)
        fake = fakers[country]
        if rng.random() < 0.7:
            yield _person(fake, rng, country, n)
        else:
            yield _company(fake, rng, country, n)


def list_file(cache_dir: Path, size: int) -> Path:
    """The generated list as FtM JSON lines, made once and cached."""
    path = cache_dir / f"bench-list-{size}.ftm.json"
    if path.exists():
        return path
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as fh:
        for entity in generate_entities(size):
            fh.write(orjson.dumps(entity) + b"\n")
    tmp.rename(path)
    return path


def customers(size: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    """Customer-like records (a different seed from the list)."""
    yield from generate_entities(size, seed)


if __name__ == "__main__":
    import sys

    print(list_file(Path("bench-results/screening"), int(sys.argv[1])))
