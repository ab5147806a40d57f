"""User checks (seed 004): provider results recorded against a customer, with their evidence."""
