"""Login throttling rules, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kycd.console.throttle import MAX_FAILURES_PER_ACCOUNT, MAX_FAILURES_PER_IP, WINDOW, check

NOW = datetime(2026, 6, 7, 12, 0, tzinfo=UTC)


def ago(*minutes: float) -> list[datetime]:
    return [NOW - timedelta(minutes=m) for m in minutes]


CASES = [
    # account failures, ip failures, allowed?, retry after (minutes)
    ([], [], True, 0),
    (ago(1, 2, 3, 4), [], True, 0),
    (ago(1, 2, 3, 4, 5), [], False, 10),  # 5th failure 5 min ago: locked for 10 more
    (ago(1, 2, 3, 4, 14), [], False, 1),  # the oldest leaves the window in 1 minute
    (ago(1, 2, 3, 4, 16), [], True, 0),  # one of them is outside the window
    (ago(1, 1, 1, 1, 1, 1, 1), [], False, 14),  # over the limit: locked until enough age out
    ([], ago(*([2] * 19)), True, 0),
    ([], ago(*([2] * 20)), False, 13),
    (ago(1, 2, 3, 4, 5), ago(*([2] * 20)), False, 13),  # the longer lock wins
]


@pytest.mark.parametrize(("account", "ip", "ok", "retry_minutes"), CASES)
def test_throttle(
    account: list[datetime], ip: list[datetime], ok: bool, retry_minutes: int
) -> None:
    verdict = check(account, ip, NOW)
    assert verdict.allowed is ok
    assert verdict.retry_after == timedelta(minutes=retry_minutes)


def test_documented_limits() -> None:
    assert (5, 20, timedelta(minutes=15)) == (MAX_FAILURES_PER_ACCOUNT, MAX_FAILURES_PER_IP, WINDOW)
