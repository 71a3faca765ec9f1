"""The HTTP API: a thin FastAPI layer over `hookline.service`."""

from .app import create_app

__all__ = ["create_app"]
