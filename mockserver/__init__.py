"""imagegen-mock: an offline mock server for paid image-generation APIs.

What is named here is the package's public face: what the conformance kit, the pytest plugin and code that
serves the mock itself use. The rest is the mock's own.
"""

from .app import create_app
from .background import BackgroundServer
from .dialects.profiles import PROFILES
from .pipeline.forced import FAULT_HEADER
from .pipeline.replay import HOP_HEADERS, Recording, save
from .pipeline.routing import Profile
from .scenarios import Scenario, Step, contains, scenarios
from .settings import Settings, SettingsError, load_settings
from .wire.hosts import is_loopback
from .wire.keys import REDACTED, api_key_of, is_secret_header, is_secret_query

__all__ = [
    "FAULT_HEADER",
    "HOP_HEADERS",
    "PROFILES",
    "REDACTED",
    "BackgroundServer",
    "Profile",
    "Recording",
    "Scenario",
    "Settings",
    "SettingsError",
    "Step",
    "api_key_of",
    "contains",
    "create_app",
    "is_loopback",
    "is_secret_header",
    "is_secret_query",
    "load_settings",
    "save",
    "scenarios",
]
