"""``Idempotency-Key`` on every POST (IETF draft-ietf-httpapi-idempotency-key-header)."""
