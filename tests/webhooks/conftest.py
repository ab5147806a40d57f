"""Fixtures of the webhook tests: a verifying receiver and a round driver."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from webhook_harness import Receiver, Rounds

from kycd.core.safe_http import AddressPolicy
from kycd.db import Database


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def rounds(database: Database) -> Rounds:
    return Rounds(database, AddressPolicy(["127.0.0.0/8"]))
