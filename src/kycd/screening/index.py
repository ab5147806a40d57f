"""The candidate index: memory-mapped files, shared by every process.

A list version is one directory of flat files in the data directory::

    records.bin        the list entities, one JSON document after another
    record_offsets.npy where each record starts (int64, n + 1)
    id_hashes.npy      64-bit hashes of the entity ids, sorted   (uint64)
    id_ords.npy        the record each id hash belongs to        (uint32)
    token_hashes.npy   64-bit hashes of the index tokens, sorted (uint64)
    token_starts.npy   where each token's postings start         (int64, V + 1)
    token_text.bin / token_text_offsets.npy   the tokens themselves
    postings.npy       record ordinals, grouped by token         (uint32)
    variant_hashes.npy hashes of every token with one character deleted (uint64, sorted)
    variant_tokens.npy the token each variant belongs to         (uint32)
    meta.json

Everything is opened with ``mmap``: the operating system keeps one copy of the
pages in its cache however many API processes read them, and opening a version
costs milliseconds, not a rebuild.

Retrieval takes the tokens of the query's names (latin comparable forms and
Wikidata name symbols), finds them and their one-edit neighbours (the
deletion variants: "scholze" and "scholz" share "scholz") in the vocabulary,
and ranks list entities by the summed IDF weight of the tokens they share with
the query. Only the best few candidates are scored by the matcher.

A delta does not rebuild the base: a version may be a base segment plus a
small overlay segment (entities added or changed since the base) and a mask of
base records that were deleted or replaced.
"""

from __future__ import annotations

import json
import math
import mmap
import os
import shutil
import statistics
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import orjson
from rapidfuzz.distance import Levenshtein

from kycd.screening.matching import Kind, Subject, analyze_plain, analyze_uncached
from kycd.screening.records import Record, index_tokens, query_units

U64 = npt.NDArray[np.uint64]
U32 = npt.NDArray[np.uint32]
I64 = npt.NDArray[np.int64]

# Tokens shorter than this get no typo variants: one edit in a three-letter
# token is another name.
MIN_VARIANT_LEN = 4
MAX_VARIANT_LEN = 24
# Retrieval stops adding posting lists once this many postings are gathered
# (the rarest tokens first), so a query made only of very common names costs
# the same as any other.
POSTING_BUDGET = 25_000
# Query keys whose vocabulary neighbours each open segment remembers (a few
# hundred bytes each).
LOOKUP_CACHE_SIZE = 8192


_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)


def hash_tokens(tokens: Sequence[str]) -> U64:
    """64-bit FNV-1a of each token's UTF-8 bytes, vectorised over the whole
    batch (the vocabulary of a million-entity list has millions of keys)."""
    if not tokens:
        return np.zeros(0, dtype=np.uint64)
    encoded = [t.encode() for t in tokens]
    lengths = np.fromiter((len(e) for e in encoded), np.int64, len(encoded))
    width = int(lengths.max()) or 1
    matrix = np.zeros((len(encoded), width), dtype=np.uint8)
    flat = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    rows = np.repeat(np.arange(len(encoded)), lengths)
    cols = np.arange(len(flat)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    matrix[rows, cols] = flat
    h = np.full(len(encoded), _FNV_OFFSET, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for col in range(width):
            live = lengths > col
            mixed = (h ^ matrix[:, col].astype(np.uint64)) * _FNV_PRIME
            h = np.where(live, mixed, h)
    return h


_MASK = 0xFFFFFFFFFFFFFFFF
_OFFSET_INT = int(_FNV_OFFSET)
_PRIME_INT = int(_FNV_PRIME)


def token_hash(token: str) -> int:
    """The same FNV-1a as :func:`hash_tokens`, for one token: numpy's per-call
    overhead dominates for the handful of keys of a query."""
    h = _OFFSET_INT
    for byte in token.encode():
        h = ((h ^ byte) * _PRIME_INT) & _MASK
    return h


def hash_few(tokens: Sequence[str]) -> U64:
    return np.array([token_hash(t) for t in tokens], dtype=np.uint64)


def deletion_variants(token: str) -> set[str]:
    if not MIN_VARIANT_LEN <= len(token) <= MAX_VARIANT_LEN:
        return set()
    return {token[:i] + token[i + 1 :] for i in range(len(token))}


def record_tokens(record: Record) -> tuple[str, ...]:
    """The index keys of a list entity, sorted."""
    parts = tuple((k, tuple(v)) for k, v in sorted(record["name_parts"].items()))
    return _name_tokens(Kind(record["kind"]), tuple(record["names"]), parts)


# Index keys by the names (and name parts) they are derived from. Lists repeat
# names a lot (namesakes, one person's several entries, common company names):
# a hit skips rigour's analysis, the bulk of an import's cost per entity. The
# keys are a few short strings, so a large cache costs tens of megabytes.
TOKEN_CACHE_SIZE = 1 << 16


@lru_cache(maxsize=TOKEN_CACHE_SIZE)
def _name_tokens(
    kind: Kind, names: tuple[str, ...], name_parts: tuple[tuple[str, tuple[str, ...]], ...]
) -> tuple[str, ...]:
    # Not through analyze_plain's cache: the Name objects are not kept.
    return tuple(sorted(index_tokens(analyze_uncached(kind, names, name_parts, False, False))))


# ------------------------------------------------------------------ build


class SegmentWriter:
    """Accumulates records and their tokens, then writes one segment."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._records = (directory / "records.bin").open("wb")
        self._offsets = array("q", [0])
        self._position = 0
        self._ids: list[str] = []
        self._vocab: dict[str, int] = {}
        self._pair_tokens = array("I")
        self._pair_ords = array("I")

    def add(self, entity_id: str, blob: bytes, tokens: Iterable[str]) -> None:
        """One record: its id, its JSON (``orjson.dumps`` of the
        :class:`Record`, made by whoever analysed it: an import's worker
        processes) and its index keys."""
        ordinal = len(self._ids)
        self._records.write(blob)
        self._position += len(blob)
        self._offsets.append(self._position)
        self._ids.append(entity_id)
        vocab = self._vocab
        for token in tokens:
            token_id = vocab.get(token)
            if token_id is None:
                token_id = vocab[token] = len(vocab)
            self._pair_tokens.append(token_id)
            self._pair_ords.append(ordinal)

    def __len__(self) -> int:
        return len(self._ids)

    def close(self, meta: dict[str, Any]) -> None:
        self._records.close()
        d = self.directory
        np.save(d / "record_offsets.npy", np.frombuffer(self._offsets, dtype=np.int64))
        id_hashes = hash_tokens(self._ids)
        order = np.argsort(id_hashes, kind="stable")
        np.save(d / "id_hashes.npy", id_hashes[order])
        np.save(d / "id_ords.npy", order.astype(np.uint32))

        tokens = list(self._vocab)
        hashes = hash_tokens(tokens)
        by_hash = np.argsort(hashes, kind="stable")
        rank = np.empty(len(tokens), dtype=np.uint32)
        rank[by_hash] = np.arange(len(tokens), dtype=np.uint32)
        pair_tokens = rank[np.frombuffer(self._pair_tokens, dtype=np.uint32)]
        pair_ords = np.frombuffer(self._pair_ords, dtype=np.uint32)
        order = np.lexsort((pair_ords, pair_tokens))
        np.save(d / "postings.npy", pair_ords[order])
        counts = np.bincount(pair_tokens, minlength=len(tokens))
        starts = np.zeros(len(tokens) + 1, dtype=np.int64)
        np.cumsum(counts, out=starts[1:])
        np.save(d / "token_hashes.npy", hashes[by_hash])
        np.save(d / "token_starts.npy", starts)
        sorted_tokens = [tokens[i] for i in by_hash]
        encoded = [t.encode() for t in sorted_tokens]
        (d / "token_text.bin").write_bytes(b"".join(encoded))
        text_offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=text_offsets[1:])
        np.save(d / "token_text_offsets.npy", text_offsets)

        variants: list[str] = []
        variant_tokens = array("I")
        for position, token in enumerate(sorted_tokens):
            found = deletion_variants(token)
            variants.extend(found)
            variant_tokens.extend([position] * len(found))
        vh = hash_tokens(variants)
        vt = np.frombuffer(variant_tokens, dtype=np.uint32)
        order = np.argsort(vh, kind="stable")
        np.save(d / "variant_hashes.npy", vh[order])
        np.save(d / "variant_tokens.npy", vt[order])
        meta = {**meta, "records": len(self._ids), "tokens": len(tokens)}
        (d / "meta.json").write_text(json.dumps(meta))
        _fsync_dir(d)


def _fsync_dir(directory: Path) -> None:
    for path in directory.iterdir():
        if path.is_dir():
            continue
        with path.open("rb") as fh:
            os.fsync(fh.fileno())
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# A record ready to be written: its id, its JSON, its index keys.
Keyed = tuple[str, bytes, tuple[str, ...]]


def keyed_record(record: Record) -> Keyed:
    return record["id"], orjson.dumps(record), record_tokens(record)


def write_segment(
    directory: Path,
    records: Iterable[Keyed],
    meta: dict[str, Any],
    progress: Callable[[int], None] | None = None,
) -> int:
    writer = SegmentWriter(directory)
    for n, (entity_id, blob, tokens) in enumerate(records, 1):
        writer.add(entity_id, blob, tokens)
        if progress is not None and n % 5000 == 0:
            progress(5000)
    count = len(writer)
    writer.close(meta)
    return count


# ------------------------------------------------------------------ read


def _load(path: Path) -> Any:
    # A plain ndarray view of the map: np.memmap's own indexing is slow in a
    # hot loop, and the view reads the same shared pages.
    return np.load(path, mmap_mode="r").view(np.ndarray)


class Segment:
    """One memory-mapped segment."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.meta: dict[str, Any] = json.loads((directory / "meta.json").read_text())
        self.size = int(self.meta["records"])
        self._records_file = (directory / "records.bin").open("rb")
        self.records_map: mmap.mmap | bytes = (
            mmap.mmap(self._records_file.fileno(), 0, access=mmap.ACCESS_READ)
            if (directory / "records.bin").stat().st_size
            else b""
        )
        self.record_offsets: I64 = _load(directory / "record_offsets.npy")
        self.id_hashes: U64 = _load(directory / "id_hashes.npy")
        self.id_ords: U32 = _load(directory / "id_ords.npy")
        self.token_hashes: U64 = _load(directory / "token_hashes.npy")
        self.token_starts: I64 = _load(directory / "token_starts.npy")
        self.token_text_offsets: I64 = _load(directory / "token_text_offsets.npy")
        self._token_text_file = (directory / "token_text.bin").open("rb")
        self.token_text: mmap.mmap | bytes = (
            mmap.mmap(self._token_text_file.fileno(), 0, access=mmap.ACCESS_READ)
            if (directory / "token_text.bin").stat().st_size
            else b""
        )
        self.postings: U32 = _load(directory / "postings.npy")
        self.variant_hashes: U64 = _load(directory / "variant_hashes.npy")
        self.variant_tokens: U32 = _load(directory / "variant_tokens.npy")
        # A segment never changes, and queries share most of their name parts
        # (a re-screen of many customers above all): each key's neighbours in
        # the vocabulary are looked up once. lru_cache is thread-safe.
        self._cached_lookup = lru_cache(maxsize=LOOKUP_CACHE_SIZE)(self._lookup)

    def close(self) -> None:
        for handle in (self.records_map, self.token_text):
            if isinstance(handle, mmap.mmap):
                handle.close()
        self._records_file.close()
        self._token_text_file.close()

    def record(self, ordinal: int) -> Record:
        start, end = int(self.record_offsets[ordinal]), int(self.record_offsets[ordinal + 1])
        return cast(Record, orjson.loads(self.records_map[start:end]))

    def records(self) -> Iterator[Record]:
        for ordinal in range(self.size):
            yield self.record(ordinal)

    def ordinal_of(self, entity_id: str) -> int | None:
        h = np.uint64(token_hash(entity_id))
        pos = int(np.searchsorted(self.id_hashes, h))
        while pos < len(self.id_hashes) and self.id_hashes[pos] == h:
            ordinal = int(self.id_ords[pos])
            if self.record(ordinal)["id"] == entity_id:
                return ordinal
            pos += 1
        return None

    def _token_positions(self, hashes: U64, token_hashes: U64) -> list[int]:
        positions = np.searchsorted(token_hashes, hashes)
        inside = positions < len(token_hashes)
        positions = positions[inside]
        found: list[int] = positions[token_hashes[positions] == hashes[inside]].tolist()
        return found

    def token_text_at(self, position: int) -> str:
        start = int(self.token_text_offsets[position])
        end = int(self.token_text_offsets[position + 1])
        return bytes(self.token_text[start:end]).decode()

    def lookup(self, token: str) -> tuple[tuple[int, float], ...]:
        """Vocabulary positions matching ``token`` exactly or within one edit,
        each with the similarity of the vocabulary token to the query token."""
        return self._cached_lookup(token)

    def _lookup(self, token: str) -> tuple[tuple[int, float], ...]:
        if self.size == 0:
            return ()
        variants = sorted(deletion_variants(token))
        hashes = hash_few([token, *variants])
        exact = self._token_positions(hashes[:1], self.token_hashes)
        found: dict[int, float] = dict.fromkeys(exact, 1.0)
        # Vocabulary tokens one deletion away: the query's deletion variants
        # among the tokens, and the query (and its variants) among the
        # tokens' deletion variants.
        candidates = set(self._token_positions(hashes[1:], self.token_hashes))
        starts = np.searchsorted(self.variant_hashes, hashes, "left").tolist()
        ends = np.searchsorted(self.variant_hashes, hashes, "right").tolist()
        for start, end in zip(starts, ends, strict=True):
            if end > start:
                candidates.update(self.variant_tokens[start:end].tolist())
        for position in candidates - found.keys():
            text = self.token_text_at(position)
            found[position] = Levenshtein.normalized_similarity(token, text)
        return tuple(found.items())

    def document_frequency(self, position: int) -> int:
        return int(self.token_starts[position + 1] - self.token_starts[position])

    def postings_of(self, position: int) -> U32:
        start, end = self.token_starts[position], self.token_starts[position + 1]
        return self.postings[start:end]


@dataclass(frozen=True)
class Candidate:
    record: Record
    retrieval_score: float


class ListView:
    """What screening reads for one list version: a base segment, an optional
    overlay of changes since it, and the base records the overlay hides."""

    def __init__(self, base: Segment, overlay: Segment | None, hidden: U32 | None) -> None:
        self.base = base
        self.overlay = overlay
        self.hidden: U32 = hidden if hidden is not None else np.zeros(0, dtype=np.uint32)

    @classmethod
    def open(cls, directory: Path) -> ListView:
        meta = json.loads((directory / "meta.json").read_text())
        if meta.get("layout") == "delta":
            base = Segment(directory.parent / meta["base"])
            overlay = Segment(directory / "overlay")
            hidden = _load(directory / "hidden.npy")
            return cls(base, overlay, hidden)
        return cls(Segment(directory), None, None)

    def close(self) -> None:
        self.base.close()
        if self.overlay is not None:
            self.overlay.close()

    @property
    def size(self) -> int:
        overlay = self.overlay.size if self.overlay is not None else 0
        return self.base.size - len(self.hidden) + overlay

    def segments(self) -> list[Segment]:
        return [self.base] + ([self.overlay] if self.overlay is not None else [])

    def records(self) -> Iterator[Record]:
        hidden = set(self.hidden.tolist())
        for ordinal in range(self.base.size):
            if ordinal not in hidden:
                yield self.base.record(ordinal)
        if self.overlay is not None:
            yield from self.overlay.records()

    def get(self, entity_id: str) -> Record | None:
        if self.overlay is not None:
            ordinal = self.overlay.ordinal_of(entity_id)
            if ordinal is not None:
                return self.overlay.record(ordinal)
        ordinal = self.base.ordinal_of(entity_id)
        if ordinal is None or self._is_hidden(ordinal):
            return None
        return self.base.record(ordinal)

    def _is_hidden(self, ordinal: int) -> bool:
        pos = int(np.searchsorted(self.hidden, ordinal))
        return pos < len(self.hidden) and int(self.hidden[pos]) == ordinal

    def candidates(self, units: Sequence[frozenset[str]], limit: int) -> list[Candidate]:
        found: list[Candidate] = []
        for segment in self.segments():
            hidden = self.hidden if segment is self.base else None
            found.extend(retrieve(segment, units, limit, hidden))
        found.sort(key=lambda c: c.retrieval_score, reverse=True)
        return found[:limit]


def retrieve(
    segment: Segment, units: Sequence[frozenset[str]], limit: int, hidden: U32 | None = None
) -> list[Candidate]:
    """The ``limit`` records sharing the most query units, each unit weighted
    by the IDF of the best key (or one-edit neighbour) a record has for it."""
    if segment.size == 0:
        return []
    n = segment.size
    lists: list[tuple[int, int, float, int]] = []  # (df, unit, weight, vocabulary position)
    known: list[float] = []
    for unit_no, unit in enumerate(units):
        best_idf = 0.0
        for key in unit:
            for position, similarity in segment.lookup(key):
                if similarity < 0.7:
                    continue
                df = segment.document_frequency(position)
                idf = math.log(1 + n / df)
                lists.append((df, unit_no, idf * similarity, position))
                best_idf = max(best_idf, idf)
        known.append(best_idf)
    found_idf = [i for i in known if i > 0]
    if not found_idf:
        return []
    # A part the list has never seen still counts in the total, as much as an
    # average part: a query whose surname is unknown is not a perfect match.
    unknown = statistics.fmean(found_idf)
    total = sum(i if i > 0 else unknown for i in known)
    lists.sort()
    ords_parts, weight_parts, unit_parts, budget = [], [], [], 0
    for i, (df, unit_no, weight, position) in enumerate(lists):
        if budget + df > POSTING_BUDGET and i >= 2:
            break
        ords_parts.append(segment.postings_of(position))
        weight_parts.append(np.full(df, weight))
        unit_parts.append(np.full(df, unit_no, dtype=np.int64))
        budget += df
    ords = np.concatenate(ords_parts).astype(np.int64)
    weights = np.concatenate(weight_parts)
    unit_ids = np.concatenate(unit_parts)
    # Best weight per (record, unit), then summed per record.
    order = np.lexsort((weights, unit_ids, ords))
    ords, weights, unit_ids = ords[order], weights[order], unit_ids[order]
    last = np.ones(len(ords), dtype=bool)
    last[:-1] = (ords[1:] != ords[:-1]) | (unit_ids[1:] != unit_ids[:-1])
    ords, weights = ords[last], weights[last]
    unique, starts = np.unique(ords, return_index=True)
    scores = np.add.reduceat(weights, starts)
    if hidden is not None and len(hidden):
        scores[np.isin(unique, hidden)] = 0.0
    k = min(limit, len(unique))
    top = np.argpartition(-scores, k - 1)[:k] if k < len(unique) else np.arange(len(unique))
    top = top[np.argsort(-scores[top])]
    return [
        Candidate(segment.record(int(unique[i])), float(scores[i]) / total)
        for i in top
        if scores[i] > 0
    ]


def query_units_of(subject: Subject) -> list[frozenset[str]]:
    return query_units(analyze_plain(subject))


def remove_tree(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)
