"""Name matching and evidence: pure functions, no database."""

from __future__ import annotations

import pytest

from kycd.screening.matching import (
    DEFAULT_THRESHOLD,
    Effect,
    Kind,
    Subject,
    compare_birth_dates,
    compare_identifiers,
    match,
)

PERSON, ORG = Kind.PERSON, Kind.ORGANIZATION


def score(kind: Kind, query: str, candidate: str) -> float:
    result = match(Subject(kind, (query,)), Subject(kind, (candidate,)))
    assert result is not None
    return result.score


@pytest.mark.parametrize(
    ("kind", "query", "candidate"),
    [
        # across scripts and transliterations
        (PERSON, "Vladimir Putin", "Владимир Путин"),
        (PERSON, "Мария Александровна Захарова", "Mariya Aleksandrovna Zakharova"),
        (PERSON, "Sergey Lavrov", "Sergei Lavrov"),
        (PERSON, "Alexis Tsipras", "Αλέξης Τσίπρας"),
        # reordered tokens, surname first with a comma
        (PERSON, "PUTIN, Vladimir", "Vladimir Putin"),
        (PERSON, "AL BEN ALI, Isa Ben Tarif", "Shaikh Isa Bin Tarif Al Bin Ali"),
        # typos
        (PERSON, "Olaf Scholze", "Olaf Scholz"),
        (PERSON, "Jeff Brezos", "Jeff Bezos"),
        # honorifics
        (PERSON, "Dr. Angela Merkel", "Angela Merkel"),
        (PERSON, "Isa Bin Tarif Al Bin Ali", "Shaikh Isa Bin Tarif Al Bin Ali"),
        # company forms and their abbreviations
        (ORG, "Siemens Aktiengesellschaft", "Siemens AG"),
        (ORG, "Gazprom Public Joint Stock Company", "PJSC Gazprom"),
        (ORG, "Inter Tobacco LLC", "Limited Liability Company Inter Tobacco"),
    ],
)
def test_matches(kind: Kind, query: str, candidate: str) -> None:
    assert score(kind, query, candidate) >= DEFAULT_THRESHOLD


@pytest.mark.parametrize(
    ("kind", "query", "candidate"),
    [
        (PERSON, "Octavian Scholz", "Olaf Scholz"),
        (PERSON, "Angelo Cruz", "Angela Merkel"),
        (PERSON, "Usama bin Laden", "Shaikh Isa Bin Tarif Al Bin Ali"),
        (PERSON, "SADDAM HUSSEIN AL-DULAIMI", "SADDAM HUSSEIN AL-TIKRITI"),
        (ORG, "Volkswagen Aktiengesellschaft", "Siemens Aktiengesellschaft"),
        (ORG, "Banco Santander México S.A.", "Banco Santander Chile S.A."),
    ],
)
def test_non_matches(kind: Kind, query: str, candidate: str) -> None:
    assert score(kind, query, candidate) < DEFAULT_THRESHOLD


def test_initials_match_a_full_given_name() -> None:
    full = score(PERSON, "Hans Joachim Friedrich", "Hans Joachim Friedrich")
    initial = score(PERSON, "Hans J Friedrich", "Hans Joachim Friedrich")
    other_initial = score(PERSON, "Hans O Friedrich", "Hans Joachim Friedrich")
    assert full > initial > other_initial


def test_persons_never_match_companies() -> None:
    assert match(Subject(PERSON, ("Siemens",)), Subject(ORG, ("Siemens AG",))) is None
    # an entity of unknown kind matches either
    assert match(Subject(Kind.ENTITY, ("Siemens AG",)), Subject(ORG, ("Siemens AG",))) is not None


@pytest.mark.parametrize(
    ("query", "candidate", "effect"),
    [
        (["1961-11-30"], ["1961-11-30"], Effect.SUPPORTS),
        (["1961-11-30"], ["1961"], Effect.SUPPORTS),
        (["1961-11-30"], ["1975-02-01"], Effect.CONTRADICTS),
        (["1961-11-30"], ["1962-01-01"], None),  # a one-year slip proves nothing
        ([], ["1961"], None),
    ],
)
def test_birth_dates(query: list[str], candidate: list[str], effect: Effect | None) -> None:
    evidence = compare_birth_dates(query, candidate)
    assert (evidence.effect if evidence else None) == effect


def test_identifiers_compare_without_punctuation() -> None:
    evidence = compare_identifiers(["AB 123-456"], ["ab123456"])
    assert evidence is not None and evidence.effect is Effect.SUPPORTS


def test_evidence_moves_the_score_and_is_explained() -> None:
    base = Subject(PERSON, ("Maria Zakharova",), birth_dates=("1975-12-24",), countries=("ru",))
    same = Subject(PERSON, ("Мария Захарова",), birth_dates=("1975-12-24",), countries=("ru",))
    other = Subject(PERSON, ("Мария Захарова",), birth_dates=("1990-01-01",), countries=("fr",))
    names_only = Subject(PERSON, ("Мария Захарова",))
    supported, contradicted, plain = (match(base, c) for c in (same, other, names_only))
    assert supported and contradicted and plain
    assert supported.score > plain.score > contradicted.score
    explanation = contradicted.explanation()
    fields = {e["field"]: e["effect"] for e in explanation["evidence"]}
    assert fields == {"birth_date": "contradicts", "country": "contradicts"}
    assert "birth_date contradicts" in explanation["summary"]
    parts = explanation["name"]["parts"]
    assert "zakharova" in {p["query"] for p in parts}
    assert all("how" in p and "score" in p for p in parts)


def test_explanation_names_what_matched_and_what_did_not() -> None:
    result = match(
        Subject(PERSON, ("Vladimir Putin",)),
        Subject(PERSON, ("Vladimir Vladimirovich Putin",)),
    )
    assert result is not None
    summary = result.explanation()["summary"]
    assert "'vladimir'" in summary
    assert "'vladimirovich' only in candidate" in summary
