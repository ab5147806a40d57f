"""The append-only event log: review history, audit trail and webhook outbox in one."""
