"""What a file is, judged by its bytes (``filetype``), never by what the client says.

Only PDFs and images are accepted: documents are evidence a reviewer opens, and
refusing everything else keeps HTML, scripts and archives out of the store.
"""

from __future__ import annotations

import filetype

ACCEPTED = frozenset(
    {
        "application/pdf",
        "image/jpeg",
        "image/png",
        "image/tiff",
        "image/webp",
        "image/heic",
        "image/heif",
        "image/gif",
        "image/bmp",
    }
)
# filetype needs at most this many leading bytes.
HEAD_BYTES = 8192


def sniff(head: bytes) -> str | None:
    """The content type of a file starting with ``head``, if it is accepted."""
    kind = filetype.guess(head)
    if kind is None or kind.mime not in ACCEPTED:
        return None
    return str(kind.mime)
