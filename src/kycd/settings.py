"""Configuration, read from environment variables prefixed ``KYCD_``.

Every setting has a default that works for ``make run`` on a laptop: an
embedded SQLite database inside the data directory.
"""

from __future__ import annotations

import ipaddress
import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KYCD_", extra="ignore")

    data_dir: Path = Path("./data")
    # Empty means "SQLite file inside data_dir".
    database_url: str = ""
    # Public base URL used to build links handed to end users (verification URLs).
    public_base_url: str = "http://127.0.0.1:8000"
    # Largest document a client may upload, in bytes.
    max_upload_bytes: int = 25 * 1024 * 1024
    # Networks a client-supplied URL may resolve to although they are private or
    # loopback. Empty by default: operators opt in (tests allow 127.0.0.0/8).
    # Comma-separated in the environment ("127.0.0.0/8,10.0.0.0/8") or a JSON list.
    allowed_private_networks: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # How long Idempotency-Key records are kept.
    idempotency_ttl_hours: int = 24
    log_level: str = "INFO"
    # Identifier encryption keys, "id:base64key,id:base64key" (the first encrypts,
    # all decrypt). Empty means the key ring file in keys_dir (created on first use).
    encryption_keys: SecretStr = SecretStr("")
    # YAML file with the installation's default PARTIAL/FULL requirements
    # (docs/lifecycle.md); a tenant's own configuration overrides it.
    lifecycle_config: Path | None = None

    # User checks (seed 004): fetching the evidence behind data_download_link.
    # The seed's "250 MB" read generously as MiB, so that no file a provider
    # measured as under 250 MB is refused.
    evidence_max_bytes: int = 250 * 1024 * 1024
    evidence_connect_timeout_seconds: float = 10.0
    # Longest silence between two chunks of a download.
    evidence_read_timeout_seconds: float = 60.0
    # Longest whole download; stops a server that trickles bytes forever.
    evidence_total_timeout_seconds: float = 30 * 60.0
    evidence_max_attempts: int = 8
    evidence_retry_base_seconds: float = 60.0
    evidence_retry_max_seconds: float = 6 * 3600.0

    @field_validator("allowed_private_networks", mode="before")
    @classmethod
    def _split_networks(cls, value: object) -> object:
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                return json.loads(value)  # JSON is accepted too
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("allowed_private_networks")
    @classmethod
    def _check_networks(cls, value: list[str]) -> list[str]:
        for network in value:
            ipaddress.ip_network(network, strict=False)
        return value

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'kycd.sqlite3').resolve()}"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
