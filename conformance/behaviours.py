"""A behaviour is one documented fact about a service that the kit checks against a server."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .session import Session

# A check raises AssertionError when the server deviates; it may return a note on what it left out.
Check = Callable[[Session], str | None]


@dataclass(frozen=True)
class Behaviour:
    name: str
    summary: str
    source: str
    check: Check
    paid: bool = False
    needs_control: bool = False


class NotApplicable(Exception):
    """Raised by a check that cannot judge this target (say, a mock that accepts any key); the message says why."""


class Catalogue:
    """The behaviours of one profile, in the order they run."""

    def __init__(self, profile: str) -> None:
        self.profile = profile
        self.behaviours: list[Behaviour] = []

    def behaviour(
        self, name: str, summary: str, source: str, *, paid: bool = False, needs_control: bool = False
    ) -> Callable[[Check], Check]:
        def register(check: Check) -> Check:
            self.add(Behaviour(name, summary, source, check, paid, needs_control))
            return check

        return register

    def add(self, behaviour: Behaviour) -> None:
        self.behaviours.append(behaviour)
