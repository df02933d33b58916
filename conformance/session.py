"""A check's handle on the target: an HTTP client that keeps the budget, Hypothesis settings, and (when the
target is an imagegen-mock) the mock's control API."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import hypothesis.core
from hypothesis import HealthCheck, Phase, seed, settings
from hypothesis.reporting import with_reporter
from hypothesis.stateful import RuleBasedStateMachine, run_state_machine_as_test
from hypothesis.vendor import pretty

from .behaviours import Behaviour
from .failures import describe
from .target import Target
from .traffic import FAULT_HEADER, Billing, Budget, KitTransport, Pacer, Recorder

USER_AGENT = "imagegen-mock-check"
ADMIN_TOKEN_VARIABLE = "IMAGEGEN_MOCK_ADMIN_TOKEN"
UNSEEN_KEY_CREDITS = 1000
RUN_CREDITS = 1_000_000  # what a run spends from on a mock: more than any run spends
__all__ = ["FAULT_HEADER", "Session", "describe"]


class Session:
    def __init__(
        self,
        target: Target,
        examples: int,
        seed: int,
        budget: Budget | None = None,
        rate: float | None = None,
        free_only: bool = False,
    ) -> None:
        self.target = target
        self.free_only = free_only  # no request that costs is sent, not even a free behaviour's paid step
        self.examples = examples
        self.seed = seed
        self.budget = budget or Budget(None)
        self.pacer = Pacer(rate)
        self.behaviour: Behaviour | None = None  # the one being checked
        self.recorder = Recorder()
        self._spending = False
        transport = KitTransport(
            httpx.HTTPTransport(proxy=target.proxy),
            Billing(target.profile, httpx.URL(target.base_url).path),
            self.budget,
            self.pacer,
            paid_now=lambda: self._spending or (self.behaviour is not None and self.behaviour.paid),
            recorder=lambda: self.recorder,
        )
        self.http = httpx.Client(
            base_url=target.base_url, timeout=120, headers={"User-Agent": USER_AGENT}, transport=transport
        )
        control = {"User-Agent": USER_AGENT} | admin_token_header()
        self._admin = httpx.Client(
            base_url=target.origin + "/_mock", timeout=30, headers=control, trust_env=target.trust_env
        )
        mock = self._mock_health()
        self.controllable = mock is not None
        # An imagegen-mock without --strict-keys accepts any key, unlike the services it stands for.
        self.accepts_any_key = mock is not None and not mock.get("strict_keys", True)
        # On a mock the run spends from credits of its own, and close() gives the key back the balance it had: a
        # check never meets a balance an earlier run (or check) drained, and a run leaves the mock as it found it.
        self._found_balance = self.mock_balance() if self.controllable else None
        if self._found_balance is not None:
            self.set_credits(RUN_CREDITS)

    def begin(self, behaviour: Behaviour | None) -> Recorder:
        """Start checking `behaviour` (None: none): its requests are paid or not as it is, and recorded apart."""
        self.behaviour, self.recorder = behaviour, Recorder()
        return self.recorder

    def run(self, test: Callable[..., None], *, examples: int | None = None) -> None:
        """Run a Hypothesis test with the session's seed and number of examples (at most the behaviour's own)."""
        with hypothesis_printer():
            seed(self.seed)(self.hypothesis_settings(examples)(test))()

    def run_machine(self, machine: type[RuleBasedStateMachine], *, steps: int) -> None:
        """Run a rule-based state machine as run() runs a test, each example at most `steps` rules long."""
        configured = settings(self.hypothesis_settings(), stateful_step_count=steps)
        # The steps reach the failure as its notes; printed too, they would break into the kit's own output.
        with hypothesis_printer(), with_reporter(lambda text: None):
            run_state_machine_as_test(seed(self.seed)(machine), settings=configured)

    def hypothesis_settings(self, examples: int | None = None) -> settings:
        """Hypothesis' settings for a check. Against a real service failures are not shrunk: shrinking would
        spend more paid calls."""
        phases = [Phase.explicit, Phase.generate] + ([Phase.shrink] if self.target.loopback else [])
        cap = self.behaviour.examples if self.behaviour else None
        return settings(
            max_examples=examples or min(self.examples, cap or self.examples),
            deadline=None,
            database=None,
            phases=phases,
            suppress_health_check=list(HealthCheck),
            print_blob=False,
        )

    @contextmanager
    def spending(self) -> Iterator[None]:
        """Count the billable requests of the block against the budget, whatever the behaviour: a free
        behaviour's paid step."""
        self._spending = True
        try:
            yield
        finally:
            self._spending = False

    def admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self._admin.request(method, path, **kwargs)
        response.raise_for_status()
        return response

    @property
    def control(self) -> httpx.Client:
        """A client of the mock's control API (/_mock/)."""
        return self._admin

    def set_credits(self, credits: int) -> None:
        self.admin("PUT", f"/accounts/{self.target.api_key}", json={"credits": credits})

    def mock_balance(self) -> int:
        """The key's credits as the mock's ledger holds them (a key it has not seen yet is given some)."""
        response = self._admin.get(f"/accounts/{self.target.api_key}")
        if response.status_code == 404:
            self.set_credits(UNSEEN_KEY_CREDITS)
            return UNSEEN_KEY_CREDITS
        response.raise_for_status()
        return response.json()["credits"]

    @contextmanager
    def credits_set_to(self, credits: int) -> Iterator[None]:
        """Give the key `credits` for the block, then its balance back."""
        original = self.mock_balance()
        self.set_credits(credits)
        try:
            yield
        finally:
            self.set_credits(original)

    def close(self) -> None:
        try:
            if self._found_balance is not None:
                self.set_credits(self._found_balance)
        finally:
            self.http.close()
            self._admin.close()

    def _mock_health(self) -> dict[str, Any] | None:
        """The target's /_mock/health if it is an imagegen-mock serving this profile, else None."""
        try:
            response = self._admin.get("/health")
            health = response.json()
            if response.status_code == 200 and self.target.profile in health.get("profiles", {}):
                return health
        except (httpx.HTTPError, ValueError, AttributeError):
            pass
        return None


def admin_token_header() -> dict[str, str]:
    """The admin token of a mock started with --admin-token, from the same environment variable it reads."""
    token = os.environ.get(ADMIN_TOKEN_VARIABLE, "")
    return {"X-Admin-Token": token} if token else {}


@contextmanager
def hypothesis_printer() -> Iterator[None]:
    """Hypothesis' own printer of failing inputs, for the length of a property.

    Once Schemathesis has run in a process it swaps `hypothesis.core.RepresentationPrinter` for one
    that prints nothing, for speed (schemathesis/generation/hypothesis/__init__.py, `setup`); failing
    examples would then read `check(prompt=,)`.
    """
    swapped = hypothesis.core.RepresentationPrinter
    hypothesis.core.RepresentationPrinter = pretty.RepresentationPrinter
    try:
        yield
    finally:
        hypothesis.core.RepresentationPrinter = swapped
