"""Run a profile's behaviours against a target and collect a verdict for each."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx

import contracts

from . import gemini, geminigen, llmgateway, openai, vydra
from .accounts import ACCOUNTS
from .behaviours import Behaviour, NotApplicable
from .credits_machine import Account, credits_behaviour
from .failures import kinds_of
from .geminigen_jobs import JOBS_BEHAVIOUR
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
    "openai": lambda profile: openai.CATALOGUE.behaviours,
}
JOB_MACHINES = {"geminigen": [JOBS_BEHAVIOUR]}  # the profiles whose generations are jobs to follow
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
    kinds: tuple[str, ...] = ()  # a failure's kinds (failures.py): status, body, charge, ...


@dataclass(frozen=True)
class Report:
    target: Target
    verdicts: list[Verdict]
    seconds: float
    budget: Budget = field(default_factory=lambda: Budget(None))
    balances: tuple[int, int | None] | None = None  # a real service's balance for the key, before and after

    def count(self, status: str) -> int:
        return sum(1 for v in self.verdicts if v.status == status)

    def failure_kinds(self) -> dict[str, int]:
        """How many failed behaviours show each kind of failure, most first."""
        counts = Counter(kind for v in self.verdicts if v.status == "fail" for kind in v.kinds)
        return dict(counts.most_common())

    @property
    def exit_code(self) -> int:
        return 1 if self.count("fail") or self.count("error") else 0


def behaviours_of(profile: str, schema: bool = True, machines: bool = True) -> list[Behaviour]:
    """A profile's behaviours in the order they run; the state machines last, on what is left of a budget."""
    return [
        *CHECKS[contracts.dialect(profile) or ""](profile),
        scenarios_behaviour(profile),
        *([contract_behaviour(profile)] if schema else []),
        *(machines_of(profile) if machines else []),
    ]


def machines_of(profile: str) -> list[Behaviour]:
    dialect = contracts.dialect(profile) or ""
    return [credits_behaviour(ACCOUNTS[dialect](profile)), *JOB_MACHINES.get(dialect, [])]


def run_check(
    target: Target,
    *,
    examples: int,
    seed: int = 0,
    schema: bool = True,
    machines: bool = True,
    free_only: bool = False,
    budget: int | None = None,
    rate: float | None = None,
    only: Collection[str] | None = None,
    on_start: Callable[[str], None] = lambda note: None,
    on_verdict: Callable[[Verdict], None] = lambda verdict: None,
) -> Report:
    started = time.perf_counter()
    spending = Budget(budget)
    session = Session(target, examples, seed, spending, rate, free_only)
    chosen = [b for b in behaviours_of(target.profile, schema, machines) if only is None or b.name in only]
    left_out = plan(chosen, examples, budget, free_only, session.controllable)
    verdicts = []
    try:
        account = ACCOUNTS[contracts.dialect(target.profile) or ""](target.profile)
        balance = service_balance(session, account)
        if balance is not None:
            on_start(spending_note(balance, 0 if free_only else budget, account.most))
        for behaviour in chosen:
            if behaviour.name in left_out:
                verdicts.append(Verdict(behaviour, "skip", left_out[behaviour.name]))
            else:
                verdicts.append(judge(behaviour, session))
            on_verdict(verdicts[-1])
        balances = None if balance is None else (balance, service_balance(session, account))
    finally:
        session.close()
    return Report(target, verdicts, time.perf_counter() - started, spending, balances)


def service_balance(session: Session, account: Account) -> int | None:
    """The key's balance as a real service reports it, where it does (on a mock the run spends its own)."""
    if session.controllable or account.balance is None:
        return None
    session.begin(None)  # read outside any behaviour's record
    return account.balance(session)


def spending_note(balance: int, budget: int | None, most: int) -> str:
    if budget is None:
        return f"the key holds {balance} credits; no budget is set, so paid requests are not limited"
    return (f"the key holds {balance} credits; the run sends at most {budget} paid request(s), "
            f"which cost at most {budget * most} credits")  # fmt: skip


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

    def verdict(status: str, detail: str, kinds: tuple[str, ...] = ()) -> Verdict:
        seconds = time.perf_counter() - started
        return Verdict(behaviour, status, detail, seconds, recorder.exchanges, recorder.images, kinds)

    try:
        note = behaviour.check(session)
    except NotApplicable as reason:
        return verdict("skip", str(reason))
    except httpx.HTTPError as error:
        return verdict("error", f"could not talk to {session.target}: {error!r}")
    except Exception as error:  # a broken server must not stop the other checks
        if spent := budget_spent(error):
            return verdict("skip", f"stopped: {spent}")
        if is_assertion(error):
            return verdict("fail", explain(error), tuple(kinds_of(error)))
        return verdict("error", explain(error))
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
        yield Target(profile, base_url, BUNDLED_KEY, description=f"the bundled mock at {base_url}", disposable=True)
