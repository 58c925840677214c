"""The HTTP face of reingest (``reingest serve``): Grid's endpoints, the dashboard, metrics."""

from .app import create_app

__all__ = ["create_app"]
