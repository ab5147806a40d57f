"""Matching a person or organisation against a list entity: pure, no I/O.

Names are analysed with rigour (the same name analysis followthemoney,
nomenklatura and yente use): prefixes and honorifics dropped, company forms
rewritten to a compare form ("Aktiengesellschaft" → "ag"), every part given a
latin ``comparable`` form, and parts tagged with symbols (a Wikidata given
name id links "Иосиф", "Józef" and "Joseph"; an initial links "J" and "Joachim").

Two names are then aligned part by part: first on shared symbols, then the
remaining parts by rigour's residue distance (typos, transliteration drift,
split or joined tokens), in person-name order when one side is a person. The
alignment is reduced to a handful of features (how much of each side is
covered, the weakest fuzzy pair, whole tokens substituted on both sides,
numbers that differ …) and a logistic model turns them into a probability
that the two names denote the same party. The model's weights were fitted on
the labelled pairs of nomenklatura's name benchmark (``bench/screening_fit.py``
refits them); a logistic model keeps every weight readable.

Birth dates, countries and identifiers then support or contradict the name
match. Each adjustment is recorded in the explanation, so a reviewer sees why
a hit scored what it did.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Any

from rapidfuzz import fuzz
from rigour.names import (
    CompareConfig,
    Name,
    NamePart,
    NamePartTag,
    NameTypeTag,
    align_person_name_order,
    analyze_names,
    compare_parts,
)
from rigour.names.symbol import pair_symbols

DEFAULT_THRESHOLD = 0.5


class Kind(StrEnum):
    """What a party is, as far as matching cares."""

    PERSON = "person"
    ORGANIZATION = "organization"
    # A legal entity of unknown kind (FtM's LegalEntity): matches both.
    ENTITY = "entity"
    # Vessels, aircraft and other named things.
    OBJECT = "object"


TYPE_TAGS = {
    Kind.PERSON: NameTypeTag.PER,
    Kind.ORGANIZATION: NameTypeTag.ORG,
    Kind.ENTITY: NameTypeTag.ENT,
    Kind.OBJECT: NameTypeTag.OBJ,
}

# FtM name-part properties and the rigour tags they carry (as in
# followthemoney.names.PART_TAG_PROPS, restricted to the unambiguous ones).
PART_TAGS: dict[str, tuple[NamePartTag, ...]] = {
    "firstName": (NamePartTag.GIVEN,),
    "lastName": (NamePartTag.FAMILY,),
    "middleName": (NamePartTag.MIDDLE,),
    "secondName": (NamePartTag.MIDDLE,),
    "fatherName": (NamePartTag.MIDDLE, NamePartTag.FAMILY),
    "motherName": (NamePartTag.MIDDLE, NamePartTag.FAMILY),
    "title": (NamePartTag.HONORIFIC,),
    "nameSuffix": (NamePartTag.SUFFIX,),
}


@dataclass(frozen=True)
class Subject:
    """A party reduced to what matching reads: a query or a list entity."""

    kind: Kind
    names: tuple[str, ...]
    name_parts: tuple[tuple[str, tuple[str, ...]], ...] = ()
    birth_dates: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    identifiers: tuple[str, ...] = ()


def compatible(query: Kind, candidate: Kind) -> bool:
    """Whether a query of one kind may match a list entity of another."""
    if query is candidate:
        return True
    if Kind.OBJECT in (query, candidate):
        return False
    return Kind.ENTITY in (query, candidate)


# ---------------------------------------------------------------- names


def analyze(subject: Subject, *, is_query: bool) -> tuple[Name, ...]:
    return _analyze(subject.kind, subject.names, subject.name_parts, is_query, True)


def analyze_plain(subject: Subject) -> tuple[Name, ...]:
    """Names without symbol tagging: enough for index keys, and an order of
    magnitude cheaper (symbol tagging dominates the cost of analysis)."""
    return _analyze(subject.kind, subject.names, subject.name_parts, False, False)


@lru_cache(maxsize=8192)
def _analyze(
    kind: Kind,
    names: tuple[str, ...],
    name_parts: tuple[tuple[str, tuple[str, ...]], ...],
    is_query: bool,
    symbols: bool,
) -> tuple[Name, ...]:
    return analyze_uncached(kind, names, name_parts, is_query, symbols)


def analyze_uncached(
    kind: Kind,
    names: tuple[str, ...],
    name_parts: tuple[tuple[str, tuple[str, ...]], ...],
    is_query: bool,
    symbols: bool,
) -> tuple[Name, ...]:
    """:func:`analyze` without the cache: for callers that cache what they
    derive from the names instead (the index keys of a list import)."""
    part_tags: dict[NamePartTag, list[str]] = {}
    for prop, values in name_parts:
        for tag in PART_TAGS.get(prop, ()):
            part_tags.setdefault(tag, []).extend(values)
    analysed = analyze_names(
        TYPE_TAGS[kind],
        list(names),
        part_tags or None,
        infer_initials=is_query and kind in (Kind.PERSON, Kind.ENTITY),
        symbols=symbols,
        phonetics=symbols,
        consolidate=False,
    )
    return tuple(analysed)


_LIGHT_TAGS = frozenset({NamePartTag.STOP, NamePartTag.LEGAL})
_COMPARE = CompareConfig()

# Feature names, in the order of the model's weights.
FEATURES = (
    "query_covered",
    "candidate_covered",
    "min_covered",
    "weakest_fuzzy_pair",
    "query_has_extra",
    "candidate_has_extra",
    "has_substitution",
    "substitutions",
    "unmatched_pairs",
    "query_parts",
    "candidate_parts",
    "identical",
    "token_sort_ratio",
    "ratio",
    "is_person",
    "is_object",
)
# Fitted by bench/screening_fit.py on name_bench/cases.csv (L2, C=1).
WEIGHTS = (
    1.5248,  # query_covered
    1.9857,  # candidate_covered
    1.5046,  # min_covered
    -0.1785,  # weakest_fuzzy_pair
    -0.6773,  # query_has_extra
    -0.8004,  # candidate_has_extra
    -1.7771,  # has_substitution
    -0.2064,  # substitutions
    0.2663,  # unmatched_pairs
    -0.1944,  # query_parts
    -0.0497,  # candidate_parts
    1.0894,  # identical
    0.1679,  # token_sort_ratio
    -0.0337,  # ratio
    0.0641,  # is_person
    0.4984,  # is_object
)
INTERCEPT = -1.1803


@dataclass(frozen=True)
class PartMatch:
    """One aligned cluster of name parts and how it matched."""

    query: tuple[str, ...]
    candidate: tuple[str, ...]
    score: float
    how: str  # "symbol:<CATEGORY>", "fuzzy", "unmatched"

    def describe(self) -> str:
        q = " ".join(self.query) or "∅"
        c = " ".join(self.candidate) or "∅"
        if self.how == "unmatched":
            side = "query" if self.query else "candidate"
            return f"'{q if self.query else c}' only in {side}"
        if self.how == "initial":
            return f"'{q}'~'{c}' (initial)"
        if self.how.startswith("symbol:"):
            return f"'{q}'='{c}' ({self.how[7:].lower()})"
        return f"'{q}'≈'{c}' ({self.score:.2f})"


@dataclass(frozen=True)
class NameComparison:
    score: float
    query_name: str
    candidate_name: str
    parts: tuple[PartMatch, ...]
    features: tuple[float, ...]


def _category(edge: Any) -> str:
    return str(edge.symbol.category).rsplit(".", 1)[-1]


def _weight(part: NamePart) -> float:
    # Articles, "and", legal forms carry little identity.
    return 0.3 if part.tag in _LIGHT_TAGS else 1.0


def _alignments(query: Name, candidate: Name, person: bool) -> list[list[PartMatch]]:
    """Every symbol pairing of the two names, with the residue aligned fuzzily."""
    pairings: list[Any] = list(pair_symbols(query, candidate)) or [()]
    result = []
    for edges in pairings:
        matches: list[PartMatch] = []
        used_q: set[NamePart] = set()
        used_c: set[NamePart] = set()
        for edge in edges:
            used_q.update(edge.qps)
            used_c.update(edge.rps)
            matches.append(
                PartMatch(
                    tuple(p.comparable for p in edge.qps),
                    tuple(p.comparable for p in edge.rps),
                    1.0,
                    f"symbol:{_category(edge)}",
                )
            )
        rest_q = [p for p in query.parts if p not in used_q]
        rest_c = [p for p in candidate.parts if p not in used_c]
        if rest_q or rest_c:
            if person:
                rest_q, rest_c = align_person_name_order(rest_q, rest_c)
            else:
                rest_q, rest_c = NamePart.tag_sort(rest_q), NamePart.tag_sort(rest_c)
            residue = [
                PartMatch(
                    tuple(p.comparable for p in a.qps),
                    tuple(p.comparable for p in a.rps),
                    float(a.score),
                    "fuzzy" if a.qps and a.rps else "unmatched",
                )
                for a in compare_parts(rest_q, rest_c, config=_COMPARE)
            ]
            matches.extend(_pair_initials(residue) if person else residue)
        result.append(matches)
    return result


INITIAL_SCORE = 0.8


def _is_initial(short: tuple[str, ...], full: tuple[str, ...]) -> bool:
    return (
        len(short) == 1
        and len(full) == 1
        and len(short[0]) == 1
        and len(full[0]) > 1
        and full[0].startswith(short[0])
    )


def _pair_initials(residue: list[PartMatch]) -> list[PartMatch]:
    """rigour links an initial to a given name only where the list tags the
    name as given or middle; most list entries carry no such tags. An initial
    left unmatched, or fuzzily matched at zero, pairs with a name it begins."""
    out: list[PartMatch] = []
    spare_c = [m for m in residue if m.how == "unmatched" and m.candidate]
    used: set[int] = set()
    for m in residue:
        if id(m) in used:
            continue
        if m.how == "fuzzy" and (
            _is_initial(m.query, m.candidate) or _is_initial(m.candidate, m.query)
        ):
            out.append(PartMatch(m.query, m.candidate, INITIAL_SCORE, "initial"))
            continue
        if m.how == "unmatched" and m.query:
            partner = next(
                (
                    c
                    for c in spare_c
                    if id(c) not in used
                    and (_is_initial(m.query, c.candidate) or _is_initial(c.candidate, m.query))
                ),
                None,
            )
            if partner is not None:
                used.add(id(partner))
                out.append(PartMatch(m.query, partner.candidate, INITIAL_SCORE, "initial"))
                continue
        out.append(m)
    return [m for m in out if id(m) not in used]


def _covered(
    parts: Sequence[NamePart], matches: Iterable[PartMatch], side: int
) -> tuple[float, list[str]]:
    weights = {p.comparable: _weight(p) for p in parts}
    total = sum(len(p.comparable) * _weight(p) for p in parts) or 1.0
    covered = 0.0
    heavy_extras: list[str] = []
    for m in matches:
        mine, other = (m.query, m.candidate) if side == 0 else (m.candidate, m.query)
        for token in mine:
            w = weights.get(token, 1.0)
            if other:
                covered += len(token) * w * m.score
            elif w == 1.0:
                heavy_extras.append(token)
    return covered / total, heavy_extras


def name_features(
    query: Name, candidate: Name, person: bool, is_object: bool = False
) -> tuple[tuple[float, ...], tuple[PartMatch, ...]]:
    """The features of the best alignment of two analysed names."""
    best: tuple[float, tuple[float, ...], tuple[PartMatch, ...]] | None = None
    ratio_sort = fuzz.token_sort_ratio(query.comparable, candidate.comparable) / 100
    ratio = fuzz.ratio(query.comparable, candidate.comparable) / 100
    identical = float(query.comparable == candidate.comparable)
    for matches in _alignments(query, candidate, person):
        q_cov, q_extra = _covered(query.parts, matches, 0)
        c_cov, c_extra = _covered(candidate.parts, matches, 1)
        fuzzy = [m.score for m in matches if m.how in ("fuzzy", "initial")]
        zero_pairs = sum(1 for m in matches if m.how == "fuzzy" and m.score < 0.3)
        substitutions = min(len(q_extra), len(c_extra)) + zero_pairs
        features = (
            q_cov,
            c_cov,
            min(q_cov, c_cov),
            min(fuzzy) if fuzzy else 1.0,
            float(bool(q_extra)),
            float(bool(c_extra)),
            float(substitutions > 0),
            float(substitutions),
            float(zero_pairs),
            float(len(query.parts)),
            float(len(candidate.parts)),
            identical,
            ratio_sort,
            ratio,
            float(person),
            float(is_object),
        )
        rank = (q_cov + c_cov) / 2
        if best is None or rank > best[0]:
            best = (rank, features, tuple(matches))
    assert best is not None
    return best[1], best[2]


def probability(features: Sequence[float]) -> float:
    z = INTERCEPT + sum(w * f for w, f in zip(WEIGHTS, features, strict=True))
    return 1.0 / (1.0 + math.exp(-z))


def _shortlist(
    queries: Sequence[Name], candidates: Sequence[Name], limit: int
) -> list[tuple[Name, Name]]:
    """The most promising name pairs, so that an entity with forty aliases
    costs a handful of full alignments, not forty."""
    pairs = [(q, c) for q in queries for c in candidates]
    if len(pairs) <= limit:
        return pairs
    pairs.sort(key=lambda p: fuzz.token_set_ratio(p[0].comparable, p[1].comparable), reverse=True)
    return pairs[:limit]


def compare_names(
    queries: Sequence[Name], candidates: Sequence[Name], kind: Kind, *, limit: int = 4
) -> NameComparison | None:
    person = kind is Kind.PERSON
    is_object = kind is Kind.OBJECT
    best: NameComparison | None = None
    for query, candidate in _shortlist(queries, candidates, limit):
        features, parts = name_features(query, candidate, person, is_object)
        score = probability(features)
        if best is None or score > best.score:
            best = NameComparison(score, query.original, candidate.original, parts, features)
    return best


# ---------------------------------------------------------------- evidence


class Effect(StrEnum):
    SUPPORTS = "supports"
    CONTRADICTS = "contradicts"


@dataclass(frozen=True)
class Evidence:
    field: str
    effect: Effect
    query: str
    candidate: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {
            "field": self.field,
            "effect": self.effect.value,
            "query": self.query,
            "candidate": self.candidate,
            "detail": self.detail,
        }


def compare_birth_dates(query: Iterable[str], candidate: Iterable[str]) -> Evidence | None:
    """Dates are ISO prefixes ("1961", "1961-11", "1961-11-30"); the most precise
    agreement wins, and only a disagreement at every precision contradicts."""
    qs, cs = sorted(set(query)), sorted(set(candidate))
    if not qs or not cs:
        return None
    best: tuple[int, str, str] | None = None
    for q in qs:
        for c in cs:
            n = min(len(q), len(c))
            if q[:n] == c[:n] and (best is None or n > best[0]):
                best = (n, q, c)
    if best is not None:
        precision = "exact date" if best[0] >= 10 else ("month" if best[0] >= 7 else "year")
        return Evidence("birth_date", Effect.SUPPORTS, best[1], best[2], f"same {precision}")
    # A one-year slip is a common data-entry error; it neither helps nor hurts.
    q_years = {int(q[:4]) for q in qs if q[:4].isdigit()}
    c_years = {int(c[:4]) for c in cs if c[:4].isdigit()}
    if any(abs(a - b) <= 1 for a in q_years for b in c_years):
        return None
    return Evidence(
        "birth_date", Effect.CONTRADICTS, ", ".join(qs), ", ".join(cs), "different birth dates"
    )


def compare_countries(query: Iterable[str], candidate: Iterable[str]) -> Evidence | None:
    qs, cs = {c.lower() for c in query}, {c.lower() for c in candidate}
    if not qs or not cs:
        return None
    common = qs & cs
    if common:
        return Evidence(
            "country", Effect.SUPPORTS, ", ".join(sorted(qs)), ", ".join(sorted(cs)), "shared"
        )
    return Evidence(
        "country", Effect.CONTRADICTS, ", ".join(sorted(qs)), ", ".join(sorted(cs)), "no overlap"
    )


def normalize_identifier(value: str) -> str:
    return "".join(ch for ch in value.upper() if ch.isalnum())


def compare_identifiers(query: Iterable[str], candidate: Iterable[str]) -> Evidence | None:
    qs = {normalize_identifier(v): v for v in query if len(normalize_identifier(v)) >= 4}
    cs = {normalize_identifier(v): v for v in candidate if len(normalize_identifier(v)) >= 4}
    for key, original in qs.items():
        if key in cs:
            return Evidence("identifier", Effect.SUPPORTS, original, cs[key], "same identifier")
    return None


# How much each piece of evidence moves the name score: supporting evidence
# closes part of the gap to 1, contradicting evidence scales the score down.
SUPPORT = {"birth_date": 0.35, "country": 0.1, "identifier": 0.8}
CONTRADICT = {"birth_date": 0.6, "country": 0.85}


@dataclass(frozen=True)
class Match:
    score: float
    name: NameComparison
    evidence: tuple[Evidence, ...] = field(default_factory=tuple)

    def explanation(self) -> dict[str, Any]:
        parts = [p.describe() for p in self.name.parts]
        summary = [f"name {self.name.score:.2f}: " + "; ".join(parts)]
        for ev in self.evidence:
            summary.append(
                f"{ev.field} {ev.effect.value}: {ev.detail} ({ev.query} / {ev.candidate})"
            )
        return {
            "summary": " | ".join(summary),
            "name": {
                "score": round(self.name.score, 4),
                "query": self.name.query_name,
                "candidate": self.name.candidate_name,
                "parts": [
                    {
                        "query": " ".join(p.query),
                        "candidate": " ".join(p.candidate),
                        "score": round(p.score, 4),
                        "how": p.how,
                    }
                    for p in self.name.parts
                ],
            },
            "evidence": [ev.as_dict() for ev in self.evidence],
        }


def apply_evidence(name_score: float, evidence: Iterable[Evidence]) -> float:
    score = name_score
    for ev in evidence:
        if ev.effect is Effect.SUPPORTS:
            score += (1.0 - score) * SUPPORT.get(ev.field, 0.0)
        else:
            score *= CONTRADICT.get(ev.field, 1.0)
    return max(0.0, min(1.0, score))


def match(
    query: Subject,
    candidate: Subject,
    *,
    query_names: Sequence[Name] | None = None,
    candidate_names: Sequence[Name] | None = None,
) -> Match | None:
    """Score one list entity against a query; ``None`` when they cannot match."""
    if not compatible(query.kind, candidate.kind):
        return None
    kind = query.kind if query.kind is not Kind.ENTITY else candidate.kind
    q_names = query_names if query_names is not None else analyze(query, is_query=True)
    c_names = candidate_names if candidate_names is not None else analyze(candidate, is_query=False)
    name = compare_names(q_names, c_names, kind)
    if name is None:
        return None
    evidence = [
        ev
        for ev in (
            compare_birth_dates(query.birth_dates, candidate.birth_dates)
            if kind is Kind.PERSON
            else None,
            compare_countries(query.countries, candidate.countries),
            compare_identifiers(query.identifiers, candidate.identifiers),
        )
        if ev is not None
    ]
    return Match(apply_evidence(name.score, evidence), name, tuple(evidence))
