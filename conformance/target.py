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

    @property
    def trust_env(self) -> bool:
        """httpx's trust_env for the target: a proxy the environment names (HTTP_PROXY) may carry requests to a
        remote service, never to loopback (httpx would send even 127.0.0.1 through it)."""
        return not self.loopback

    def __str__(self) -> str:
        return self.description or self.base_url
