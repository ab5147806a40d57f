"""Risk profiles: an explained score and level per customer, with history."""
