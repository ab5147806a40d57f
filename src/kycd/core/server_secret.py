"""The server's own secret, used to key the hashes of API secrets.

It lives in the data directory (created on first use, mode 0600) or comes from
``KYCD_SECRET_KEY``; never from the database, so a database dump alone does not
allow offline guessing of API secrets.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from kycd.settings import Settings


def load_server_secret(settings: Settings) -> bytes:
    from_env = os.environ.get("KYCD_SECRET_KEY")
    if from_env:
        return from_env.encode()
    path: Path = settings.data_dir / "server.secret"
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def keyed_hash(server_secret: bytes, value: str) -> str:
    # API secrets are 256-bit random strings, so a keyed SHA-256 resists guessing
    # as well as a password hash would, at a cost a hot request path can afford.
    return hmac.new(server_secret, value.encode(), hashlib.sha256).hexdigest()
