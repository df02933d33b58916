"""imagegen-mock: an offline mock server for paid image-generation APIs."""

from .app import create_app
from .settings import Settings, load_settings

__all__ = ["Settings", "create_app", "load_settings"]
