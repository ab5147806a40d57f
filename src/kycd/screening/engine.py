"""Screening a subject against open list versions; the per-process view cache.

A view is opened once per process and version (a few milliseconds: the files
are memory-mapped) and closed when no current version uses it any more.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from kycd.screening.index import ListView, query_units_of
from kycd.screening.matching import Kind, Match, Subject, analyze, match
from kycd.screening.records import Record, subject_of

# Candidates fetched from the index, and how much of the query's IDF mass a
# candidate must share to be worth a full comparison.
CANDIDATES = 12
MIN_RETRIEVAL_SCORE = 0.45


@dataclass(frozen=True)
class Found:
    record: Record
    match: Match


def screen_view(
    view: ListView,
    query: Subject,
    *,
    threshold: float,
    limit: int = 10,
    candidates: int = CANDIDATES,
) -> list[Found]:
    units = query_units_of(query)
    if not units:
        return []
    query_names = analyze(query, is_query=True)
    found = []
    for candidate in view.candidates(units, candidates):
        if candidate.retrieval_score < MIN_RETRIEVAL_SCORE:
            continue
        result = match(query, subject_of(candidate.record), query_names=query_names)
        if result is not None and result.score >= threshold:
            found.append(Found(candidate.record, result))
    found.sort(key=lambda f: f.match.score, reverse=True)
    return found[:limit]


def warm_up() -> None:
    for kind in (Kind.PERSON, Kind.ORGANIZATION):
        analyze(Subject(kind, ("warm up",)), is_query=True)


class ViewCache:
    """Open list views of this process, by version directory, least recently
    used first out. A view dropped here is not closed: a request on another
    thread may still read it, and its maps go with the last reference."""

    def __init__(self, size: int = 64) -> None:
        self._views: OrderedDict[Path, ListView] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, directory: Path) -> ListView:
        with self._lock:
            view = self._views.get(directory)
            if view is None:
                view = ListView.open(directory)
                self._views[directory] = view
                while len(self._views) > self._size:
                    self._views.popitem(last=False)
            else:
                self._views.move_to_end(directory)
            return view

    def clear(self) -> None:
        with self._lock:
            self._views.clear()


views = ViewCache()
