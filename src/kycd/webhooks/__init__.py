"""Signed, retried webhooks: endpoints, the outbox fan-out and delivery."""
