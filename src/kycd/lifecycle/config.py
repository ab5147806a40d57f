"""Where the PARTIAL/FULL requirements come from, most specific first:

1. the tenant's own configuration (``tenants.settings["lifecycle"]``, set
   through ``PUT /v1/lifecycle/requirements``);
2. the installation's YAML file (``KYCD_LIFECYCLE_CONFIG``);
3. the built-in defaults of seed 001 (:data:`kycd.lifecycle.rules.DEFAULT_CONFIG`).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from kycd.lifecycle.rules import DEFAULT_CONFIG, RequirementsConfig
from kycd.settings import Settings

TENANT_KEY = "lifecycle"


class ConfigFileError(Exception):
    pass


class _FileCache:
    """The parsed config file, re-read when its modification time changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entry: tuple[Path, int, RequirementsConfig] | None = None

    def load(self, path: Path) -> RequirementsConfig:
        try:
            mtime = path.stat().st_mtime_ns
        except OSError as exc:
            raise ConfigFileError(f"cannot read lifecycle config {path}: {exc}") from exc
        entry = self._entry
        if entry is not None and entry[0] == path and entry[1] == mtime:
            return entry[2]
        config = parse_config_file(path)
        with self._lock:
            self._entry = (path, mtime, config)
        return config


_file_cache = _FileCache()


def parse_config_file(path: Path) -> RequirementsConfig:
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigFileError(f"cannot read lifecycle config {path}: {exc}") from exc
    try:
        return RequirementsConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigFileError(f"invalid lifecycle config {path}:\n{exc}") from exc


def installation_config(settings: Settings) -> tuple[RequirementsConfig, str]:
    if settings.lifecycle_config is None:
        return DEFAULT_CONFIG, "default"
    return _file_cache.load(settings.lifecycle_config), "file"


def effective_config(
    tenant_settings: dict[str, Any], settings: Settings
) -> tuple[RequirementsConfig, str]:
    """The configuration a tenant's verify gate uses, and where it came from."""
    own = tenant_settings.get(TENANT_KEY)
    if own:
        # Stored only after validation by the admin API, so it parses.
        return RequirementsConfig.model_validate(own), "tenant"
    return installation_config(settings)
