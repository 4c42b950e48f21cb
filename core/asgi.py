"""ASGI entry point for hypercorn workers: `hypercorn core.asgi:app`."""

from core.app import create_app

app = create_app()
