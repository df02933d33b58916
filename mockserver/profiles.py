"""The table of profiles: one per documented service, each a dialect plus that service's quirks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from starlette.responses import Response
from starlette.routing import BaseRoute

from .dialects import geminigen, vydra

if TYPE_CHECKING:
    from .state import State


class Dialect(Protocol):
    """A wire format: the routes it serves and the shape of its errors."""

    def routes(self, profile: Profile, state: State) -> list[BaseRoute]: ...

    def error(
        self, profile: Profile, status: int, message: str, headers: Mapping[str, str] | None = None
    ) -> Response: ...


@dataclass(frozen=True)
class Profile:
    name: str
    title: str
    seed_document: str
    dialect: Dialect

    @property
    def contract(self) -> str:
        return self.name

    def error(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
        """An error in the service's own envelope."""
        return self.dialect.error(self, status, message, headers)


PROFILES: dict[str, Profile] = {
    profile.name: profile
    for profile in (
        Profile(
            name="geminigen",
            title="GeminiGen.AI",
            seed_document="000",
            dialect=geminigen,
        ),
        Profile(
            name="vydra",
            title="Vydra",
            seed_document="001",
            dialect=vydra,
        ),
    )
}
