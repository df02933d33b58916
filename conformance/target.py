"""What the kit checks: a profile's API at a base URL, with a key."""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from mockserver import is_loopback


@dataclass(frozen=True)
class Target:
    profile: str
    base_url: str
    api_key: str = field(repr=False)
    description: str = ""
    disposable: bool = False  # a server the kit started for the run, which it may reset

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

    @property
    def proxy(self) -> str | None:
        """The proxy the environment names for the target, as curl reads it (HTTPS_PROXY or HTTP_PROXY by the
        scheme, else ALL_PROXY, unless NO_PROXY lists the host); none for loopback. For a client that brings its
        own transport, to which httpx applies no proxy of the environment."""
        parts = urlsplit(self.base_url)
        if self.loopback or urllib.request.proxy_bypass(parts.hostname or ""):
            return None
        named = urllib.request.getproxies()
        return named.get(parts.scheme) or named.get("all")

    def __str__(self) -> str:
        return self.description or self.base_url
