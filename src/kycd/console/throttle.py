"""Login throttling rules, pure: given the recent failures, may one more try?

Limits (documented in docs/console.md):

* per account (tenant + e-mail): 5 failed attempts within 15 minutes;
* per client IP address: 20 failed attempts within 15 minutes.

When a limit is reached, every attempt (even with the right password) is
refused until the oldest counted failure leaves the window. Refused attempts
are not counted themselves, so a lock lasts at most one window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_IP = 20


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: timedelta = timedelta(0)


def _verdict(failures: Sequence[datetime], limit: int, now: datetime) -> Verdict:
    recent = sorted(t for t in failures if t > now - WINDOW)
    if len(recent) < limit:
        return Verdict(True)
    # The lock lifts when enough failures have aged out to drop below the limit.
    unlocks_at = recent[len(recent) - limit] + WINDOW
    return Verdict(False, max(unlocks_at - now, timedelta(seconds=1)))


def check(
    account_failures: Sequence[datetime], ip_failures: Sequence[datetime], now: datetime
) -> Verdict:
    by_account = _verdict(account_failures, MAX_FAILURES_PER_ACCOUNT, now)
    by_ip = _verdict(ip_failures, MAX_FAILURES_PER_IP, now)
    if by_account.allowed and by_ip.allowed:
        return Verdict(True)
    return Verdict(False, max(by_account.retry_after, by_ip.retry_after))
