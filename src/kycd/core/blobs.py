"""Where files (documents, evidence) live: one small interface.

The default stores files under the data directory, addressed by their SHA-256
(content-addressed: the same bytes are stored once). An S3-compatible store can
implement the same three methods.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class StoredBlob:
    key: str
    sha256: str
    size: int


class BlobTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"file exceeds {limit} bytes")
        self.limit = limit


class BlobStore(Protocol):
    def put_stream(self, chunks: Iterable[bytes], *, max_bytes: int) -> StoredBlob: ...

    def open(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...


class LocalBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        if len(key) != 64 or not all(c in "0123456789abcdef" for c in key):
            raise ValueError("invalid blob key")
        return self.root / key[:2] / key

    def put_stream(self, chunks: Iterable[bytes], *, max_bytes: int) -> StoredBlob:
        """Write chunks to a temporary file, hashing as they come, and move it
        into place only when complete; abort (and delete) past ``max_bytes``."""
        self.root.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=self.root, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as tmp:
                for chunk in chunks:
                    size += len(chunk)
                    if size > max_bytes:
                        raise BlobTooLarge(max_bytes)
                    digest.update(chunk)
                    tmp.write(chunk)
                tmp.flush()
                os.fsync(tmp.fileno())
            key = digest.hexdigest()
            final = self._path(key)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp_name, final)
        except BaseException:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
            raise
        return StoredBlob(key=key, sha256=key, size=size)

    def put_bytes(self, data: bytes, *, max_bytes: int) -> StoredBlob:
        return self.put_stream([data], max_bytes=max_bytes)

    def open(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self._path(key).exists()
