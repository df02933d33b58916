"""Run a profile's behaviours against a target and collect a verdict for each."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx

import contracts

from . import gemini, geminigen, llmgateway, vydra
from .behaviours import Behaviour, NotApplicable
from .scenarios import scenarios_behaviour
from .schema import contract_behaviour
from .session import Session
from .target import Target
from .traffic import Budget, BudgetSpent, Exchange

# The checks of each wire format (a contract's x-dialect), for a profile: Gemini's judged by each profile's
# contract, the others' by their one service's.
CHECKS: dict[str, Callable[[str], list[Behaviour]]] = {
    "geminigen": lambda profile: geminigen.CATALOGUE.behaviours,
    "vydra": lambda profile: vydra.CATALOGUE.behaviours,
    "openai_images": lambda profile: llmgateway.CATALOGUE.behaviours,
    "gemini": lambda profile: gemini.catalogue(profile).behaviours,
}
PROFILES_CHECKED = [name for name in contracts.services() if contracts.dialect(name) in CHECKS]
BUNDLED_KEY = "imagegen-mock-check"
BUNDLED_CREDITS = 10**9
BUNDLED_TIMEOUT_SECONDS = 0.1  # a forced timeout needs its answer checked, not its wait


@dataclass(frozen=True)
class Verdict:
    behaviour: Behaviour
    status: str  # pass, fail, skip or error
    detail: str = ""
    seconds: float = 0.0
    exchanges: list[Exchange] = field(default_factory=list)  # what it sent and got, secrets redacted
    images: list[bytes] = field(default_factory=list)  # some of the images it received


@dataclass(frozen=True)
class Report:
    target: Target
    verdicts: list[Verdict]
    seconds: float
    budget: Budget = field(default_factory=lambda: Budget(None))

    def count(self, status: str) -> int:
        return sum(1 for v in self.verdicts if v.status == status)

    @property
    def exit_code(self) -> int:
        return 1 if self.count("fail") or self.count("error") else 0


def behaviours_of(profile: str, schema: bool = True) -> list[Behaviour]:
    return [
        *CHECKS[contracts.dialect(profile) or ""](profile),
        scenarios_behaviour(profile),
        *([contract_behaviour(profile)] if schema else []),
    ]


def run_check(
    target: Target,
    *,
    examples: int,
    seed: int = 0,
    schema: bool = True,
    free_only: bool = False,
    budget: int | None = None,
    rate: float | None = None,
    only: Collection[str] | None = None,
    on_verdict: Callable[[Verdict], None] = lambda verdict: None,
) -> Report:
    started = time.perf_counter()
    spending = Budget(budget)
    session = Session(target, examples, seed, spending, rate)
    chosen = [b for b in behaviours_of(target.profile, schema) if only is None or b.name in only]
    left_out = plan(chosen, examples, budget, free_only, session.controllable)
    verdicts = []
    try:
        for behaviour in chosen:
            if behaviour.name in left_out:
                verdicts.append(Verdict(behaviour, "skip", left_out[behaviour.name]))
            else:
                verdicts.append(judge(behaviour, session))
            on_verdict(verdicts[-1])
    finally:
        session.close()
    return Report(target, verdicts, time.perf_counter() - started, spending)


def plan(
    behaviours: list[Behaviour], examples: int, budget: int | None, free_only: bool, controllable: bool | None
) -> dict[str, str]:
    """The behaviours left out, with why: those that cost with --free-only, those that need a mock when the
    target is not one, and the paid ones the budget cannot buy. The budget buys the cheapest first, so that
    it covers as many behaviours as it can."""
    left_out = {}
    for b in behaviours:
        if b.paid and free_only:
            left_out[b.name] = "sends requests that cost credits; left out by --free-only"
        elif b.needs_control and controllable is False:
            left_out[b.name] = "needs an imagegen-mock to force this failure; the target is not one"
    if budget is None:
        return left_out
    remaining = budget
    # Where it is not known whether the target can force failures, the budget goes to those that need none.
    candidates = [b for b in behaviours if b.paid and b.name not in left_out and (controllable or not b.needs_control)]
    for b in sorted(candidates, key=lambda b: b.paid_calls(examples)):
        cost = b.paid_calls(examples)
        if cost <= remaining:
            remaining -= cost
        else:
            left_out[b.name] = f"needs {cost} paid request(s); the budget of {budget} had {remaining} left"
    return left_out


def judge(behaviour: Behaviour, session: Session) -> Verdict:
    recorder = session.begin(behaviour)
    started = time.perf_counter()

    def verdict(status: str, detail: str) -> Verdict:
        return Verdict(behaviour, status, detail, time.perf_counter() - started, recorder.exchanges, recorder.images)

    try:
        note = behaviour.check(session)
    except NotApplicable as reason:
        return verdict("skip", str(reason))
    except httpx.HTTPError as error:
        return verdict("error", f"could not talk to {session.target}: {error!r}")
    except Exception as error:  # a broken server must not stop the other checks
        if spent := budget_spent(error):
            return verdict("skip", f"stopped: {spent}")
        return verdict("fail" if is_assertion(error) else "error", explain(error))
    return verdict("pass", note or "")


def budget_spent(error: BaseException) -> str | None:
    """Why the budget stopped a check, if it did (directly, or inside a group of failures)."""
    if isinstance(error, BudgetSpent):
        return str(error)
    if isinstance(error, BaseExceptionGroup):
        return next((spent for inner in error.exceptions if (spent := budget_spent(inner))), None)
    cause = error.__cause__ or error.__context__
    return budget_spent(cause) if cause is not None else None


def is_assertion(error: BaseException) -> bool:
    """A failed check, including a Hypothesis group of several distinct failures."""
    if isinstance(error, BaseExceptionGroup):
        return all(is_assertion(inner) for inner in error.exceptions)
    return isinstance(error, AssertionError)


def explain(error: BaseException) -> str:
    """The failure's message and, for a Hypothesis property, the falsifying example."""
    if isinstance(error, BaseExceptionGroup):
        return "\n".join(explain(inner) for inner in error.exceptions)
    lines = [str(error) or type(error).__name__, *getattr(error, "__notes__", [])]
    return "\n".join(line for line in lines if line)


def bundled_settings():
    """The bundled mock's settings: strict keys, one funded key, short forced timeouts."""
    from mockserver import Settings

    return Settings(strict_keys=True, accounts={BUNDLED_KEY: BUNDLED_CREDITS}, timeout_seconds=BUNDLED_TIMEOUT_SECONDS)


@contextmanager
def bundled_mock(profile: str) -> Iterator[Target]:
    """The mock, served on a loopback port of this process, with strict keys and one funded key."""
    from mockserver import BackgroundServer, create_app

    with BackgroundServer(create_app(bundled_settings())) as server:
        base_url = f"{server.url}/{profile}"
        yield Target(profile, base_url, BUNDLED_KEY, description=f"the bundled mock at {base_url}")
