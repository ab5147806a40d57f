from __future__ import annotations

import pytest

from kycd.settings import Settings


def test_allowed_networks_are_read_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KYCD_ALLOWED_PRIVATE_NETWORKS", "127.0.0.0/8, 10.0.0.0/8")
    assert Settings().allowed_private_networks == ["127.0.0.0/8", "10.0.0.0/8"]


def test_a_malformed_network_is_refused_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KYCD_ALLOWED_PRIVATE_NETWORKS", "not-a-network")
    with pytest.raises(ValueError):
        Settings()


def test_allowed_networks_may_be_a_json_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KYCD_ALLOWED_PRIVATE_NETWORKS", '["127.0.0.0/8"]')
    assert Settings().allowed_private_networks == ["127.0.0.0/8"]
