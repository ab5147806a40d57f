"""Organisation structure of business customers (KYB): related parties, their
roles, ownership edges, and the beneficial owners computed from them."""
