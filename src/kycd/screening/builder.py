"""Building list versions on disk: a full list, or a delta over the current one.

A version directory is written under a temporary name, flushed to disk and
renamed into place; only then does the database point at it. Screening thus
sees the old version or the new one, never half of either.
"""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import IO, Any

import numpy as np
from followthemoney import EntityProxy

from kycd.errors import BadRequest
from kycd.screening.importers import Change, DeltaOp, ImportError_, json_lines
from kycd.screening.index import (
    Keyed,
    ListView,
    Segment,
    keyed_record,
    remove_tree,
    write_segment,
)
from kycd.screening.records import Record, record_of, to_record

Progress = Callable[[int], None]
# Large imports spread name analysis over worker processes; below this many
# entities the start-up cost of the workers is not worth it.
PARALLEL_CHUNK = 2000


@dataclass
class BuildResult:
    entity_count: int
    added: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    skipped: int = 0

    @property
    def changed(self) -> list[str]:
        return self.added + self.modified


def _keyed(record: Record | None) -> Keyed | None:
    return None if record is None else keyed_record(record)


def keyed_entities(
    entities: Iterable[tuple[EntityProxy, dict[str, Any]]],
) -> Iterator[Keyed | None]:
    for entity, data in entities:
        yield _keyed(to_record(entity, data))


def _keyed_lines(first_line: int, lines: list[bytes], name: str) -> list[Keyed | None] | str:
    """Worker side: parse FtM JSON lines and key them. What goes back to the
    parent is compact (ids, JSON bytes, tuples of keys: cheap to pickle), and
    the parent only writes it: with as many workers as cores, the parent
    must not become the bottleneck. Errors come back as a message (an
    exception may not survive the trip between processes)."""
    try:
        return [
            _keyed(_record_of_line(number, data, name))
            for number, data in json_lines(lines, name, first_line)
        ]
    except BadRequest as exc:
        return exc.message


def _record_of_line(number: int, data: dict[str, Any], name: str) -> Record | None:
    try:
        return record_of(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ImportError_(f"{name} line {number}: not a FollowTheMoney entity ({exc})") from exc


def keyed_ftm_lines(fh: IO[bytes], name: str, workers: int) -> Iterator[Keyed | None]:
    """FtM JSON lines, parsed and keyed on ``workers`` processes."""
    if workers <= 1:
        for number, data in json_lines(fh, name):
            yield _keyed(_record_of_line(number, data, name))
        return
    with ProcessPoolExecutor(workers) as pool:
        pending: deque[Future[list[Keyed | None] | str]] = deque()
        line_no = 1
        while chunk := list(islice(fh, PARALLEL_CHUNK)):
            pending.append(pool.submit(_keyed_lines, line_no, chunk, name))
            line_no += len(chunk)
            # A bounded number of chunks in flight keeps memory flat.
            if len(pending) >= workers * 3:
                yield from _unpack(pending.popleft())
        for future in pending:
            yield from _unpack(future)


def _unpack(future: Future[list[Keyed | None] | str]) -> list[Keyed | None]:
    result = future.result()
    if isinstance(result, str):
        raise ImportError_(result)
    return result


def unique_records(keyed: Iterable[Keyed | None], result: BuildResult) -> Iterator[Keyed]:
    seen: set[str] = set()
    for item in keyed:
        if item is None or item[0] in seen:
            result.skipped += 1
            continue
        seen.add(item[0])
        yield item


def staging_dir(final: Path) -> Path:
    return final.with_name(final.name + ".partial")


def publish(staging: Path, final: Path) -> None:
    os.replace(staging, final)
    fd = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def build_full(
    directory: Path, keyed: Iterable[Keyed | None], *, progress: Progress | None = None
) -> BuildResult:
    """A new full version from keyed records (see :func:`keyed_entities`,
    :func:`keyed_ftm_lines`)."""
    staging = staging_dir(directory)
    remove_tree(staging)
    result = BuildResult(0)
    try:
        result.entity_count = write_segment(
            staging, unique_records(keyed, result), {"layout": "full"}, progress
        )
    except BaseException:
        remove_tree(staging)
        raise
    publish(staging, directory)
    return result


# A delta overlay bigger than this share of its base is folded into a new
# full segment: lookups stay two segments deep and the overlay stays small.
COMPACT_RATIO = 0.2


def build_delta(
    directory: Path,
    previous: ListView,
    changes: Iterable[Change],
    *,
    progress: Progress | None = None,
) -> BuildResult:
    """Apply ADD/MOD/DEL operations to the previous version, in file order."""
    overlay: dict[str, Record] = {}
    if previous.overlay is not None:
        overlay = {r["id"]: r for r in previous.overlay.records()}
    hidden = set(previous.hidden.tolist())
    base = previous.base
    base_dir = base.directory
    result = BuildResult(0)
    for change in changes:
        ordinal = base.ordinal_of(change.entity_id)
        existed = change.entity_id in overlay or (ordinal is not None and ordinal not in hidden)
        if ordinal is not None:
            hidden.add(ordinal)
        if change.op is DeltaOp.DEL:
            overlay.pop(change.entity_id, None)
            if existed:
                result.deleted.append(change.entity_id)
            continue
        assert change.entity is not None
        record = to_record(change.entity, change.data)
        if record is None:
            overlay.pop(change.entity_id, None)
            result.skipped += 1
            continue
        overlay[change.entity_id] = record
        (result.modified if existed else result.added).append(change.entity_id)

    staging = staging_dir(directory)
    remove_tree(staging)
    staging.mkdir(parents=True)
    # The entities this delta touched, on their own: monitored customers are
    # re-screened against these only.
    changed = {i: overlay[i] for i in result.changed if i in overlay}
    write_segment(
        staging / "changes", (keyed_record(r) for r in changed.values()), {"layout": "changes"}
    )
    if len(overlay) > COMPACT_RATIO * max(base.size, 1):
        keep = (base.record(i) for i in range(base.size) if i not in hidden)
        records = [*keep, *overlay.values()]
        result.entity_count = write_segment(
            staging, (keyed_record(r) for r in records), {"layout": "full"}, progress
        )
    else:
        write_segment(
            staging / "overlay",
            (keyed_record(r) for r in overlay.values()),
            {"layout": "overlay"},
        )
        np.save(staging / "hidden.npy", np.array(sorted(hidden), dtype=np.uint32))
        # The base is referenced by its directory name, a sibling of this one.
        base_name = os.path.relpath(base_dir, directory.parent)
        (staging / "meta.json").write_text(json.dumps({"layout": "delta", "base": base_name}))
        result.entity_count = base.size - len(hidden) + len(overlay)
    publish(staging, directory)
    return result


def referenced_base(directory: Path) -> Path | None:
    meta = json.loads((directory / "meta.json").read_text())
    if meta.get("layout") == "delta":
        return directory.parent / str(meta["base"])
    return None


def open_segment(directory: Path) -> Segment:
    return Segment(directory)
