"""Client lifecycle, seed 001: Pending -> Verified -> Active behind the PARTIAL/FULL gate."""
