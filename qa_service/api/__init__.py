"""HTTP API: the FastAPI app factory and routes."""

from .app import create_app

__all__ = ["create_app"]
