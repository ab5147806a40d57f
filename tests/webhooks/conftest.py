"""Fixtures of the webhook tests: a verifying receiver and a round driver."""

from webhook_harness import receiver, rounds

__all__ = ["receiver", "rounds"]
