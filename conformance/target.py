"""What the kit checks: a profile's API at a base URL, with a key."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from mockserver.network import is_loopback


@dataclass(frozen=True)
class Target:
    profile: str
    base_url: str
    api_key: str = field(repr=False)
    description: str = ""

    @property
    def origin(self) -> str:
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def loopback(self) -> bool:
        return is_loopback(urlsplit(self.base_url).hostname or "")

    def __str__(self) -> str:
        return self.description or self.base_url
