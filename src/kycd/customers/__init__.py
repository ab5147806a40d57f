"""Customers: the one row every surface calls customer, client, applicant or user."""
