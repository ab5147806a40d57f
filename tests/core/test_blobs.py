from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from kycd.core.blobs import BlobTooLarge, LocalBlobStore


def test_stream_is_stored_by_its_hash(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    blob = store.put_stream([b"hello ", b"world"], max_bytes=100)
    assert blob.sha256 == hashlib.sha256(b"hello world").hexdigest()
    assert blob.size == 11
    assert store.open(blob.key) == b"hello world"


def test_too_large_stream_is_aborted_and_leaves_nothing(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    with pytest.raises(BlobTooLarge):
        store.put_stream([b"x" * 60, b"x" * 60], max_bytes=100)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_keys_cannot_escape_the_root(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        LocalBlobStore(tmp_path).open("../../etc/passwd")
