"""The operator console: the compliance team's workplace, served under ``/console``."""
