"""Tenants, their API credentials, and the request context every query is scoped by."""
