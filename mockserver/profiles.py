"""The table of profiles: one per documented service, each a dialect plus that service's quirks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from starlette.responses import Response
from starlette.routing import BaseRoute

from .dialects import gemini, geminigen, openai_images, vydra
from .dialects.gemini import GeminiQuirks

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
    source: str  # the documentation it follows
    dialect: Dialect
    quirks: Any = None  # what sets it apart from other profiles of its dialect
    at_root: bool = True  # its paths also answer at the root (one profile per path there)

    @property
    def contract(self) -> str:
        return self.name

    def error(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
        """An error in the service's own envelope."""
        return self.dialect.error(self, status, message, headers)


ANY_KEY_PLACE = frozenset({"header", "query", "bearer"})

PROFILES: dict[str, Profile] = {
    profile.name: profile
    for profile in (
        Profile(name="geminigen", title="GeminiGen.AI", source="seed 000", dialect=geminigen),
        Profile(name="vydra", title="Vydra", source="seed 001", dialect=vydra),
        Profile(name="llmgateway", title="LLM Gateway", source="seed 003", dialect=openai_images),
        Profile(
            name="gemini",
            title="Gemini generateContent, any of its services",
            source="seeds 002 and 004, Google's API",
            dialect=gemini,
            quirks=GeminiQuirks(ANY_KEY_PLACE, False, False, True, False, None),
        ),
        Profile(
            name="google",
            title="Google Gemini API (strict)",
            source="Google's API",
            dialect=gemini,
            quirks=GeminiQuirks(frozenset({"header", "query"}), True, True, False, False, None),
            at_root=False,
        ),
        Profile(
            name="vastnum",
            title="vastnum, a new-api gateway",
            source="seed 002",
            dialect=gemini,
            quirks=GeminiQuirks(ANY_KEY_PLACE, False, False, True, True, "new-api"),
            at_root=False,
        ),
        Profile(
            name="crazyrouter",
            title="Crazyrouter",
            source="seed 004",
            dialect=gemini,
            quirks=GeminiQuirks(ANY_KEY_PLACE, False, False, True, False, "crazyrouter"),
            at_root=False,
        ),
    )
}
