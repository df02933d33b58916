"""A behaviour is one documented fact about a service that the kit checks against a server."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# A check is given the session (session.py: the target, a client that keeps the budget, the control API); it
# raises AssertionError when the server deviates, and may return a note on what it left out.
Check = Callable[[Any], str | None]


@dataclass(frozen=True)
class Behaviour:
    name: str
    summary: str
    source: str
    check: Check
    paid: bool = False  # its requests may be billed; they count against the budget
    needs_control: bool = False  # it forces failures through an imagegen-mock's control API
    calls: int = 1  # billable requests per example, at most
    examples: int | None = None  # at most this many examples, whatever the session allows
    price: int | None = None  # the most one of its paid requests costs, in the contract's credits; None: not known

    def paid_calls(self, examples: int) -> int:
        """The billable requests it may send with `examples` examples allowed."""
        return self.calls * min(examples, self.examples or examples) if self.paid else 0


class NotApplicable(Exception):
    """Raised by a check that cannot judge this target (say, a mock that accepts any key); the message says why."""


class Catalogue:
    """The behaviours of one profile, in the order they run."""

    def __init__(self, profile: str) -> None:
        self.profile = profile
        self.behaviours: list[Behaviour] = []

    def behaviour(self, name: str, summary: str, source: str, **options: Any) -> Callable[[Check], Check]:
        """Register a check as the behaviour `name`; `options` are Behaviour's (paid, calls, ...)."""

        def register(check: Check) -> Check:
            self.add(Behaviour(name, summary, source, check, **options))
            return check

        return register

    def add(self, behaviour: Behaviour) -> None:
        self.behaviours.append(behaviour)
