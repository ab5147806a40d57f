"""The background worker process: webhook delivery and the periodic jobs."""
