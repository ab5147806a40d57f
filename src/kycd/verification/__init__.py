"""Verification sessions: an applicant's run through a level."""
