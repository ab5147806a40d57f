"""Compliance status (seed 000): the policy over every domain, its projection and API."""
