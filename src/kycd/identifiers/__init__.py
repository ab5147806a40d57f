"""Client identifiers (SSN, ITIN, passport numbers, …), encrypted at rest."""
