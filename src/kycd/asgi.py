"""ASGI entry point for uvicorn workers: ``kycd.asgi:app``."""

from kycd.app import create_app

app = create_app()
