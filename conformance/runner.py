"""Run a profile's behaviours against a target and collect a verdict for each."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from . import gemini, geminigen, llmgateway, vydra
from .behaviours import Behaviour, NotApplicable
from .schema import contract_behaviour
from .session import Session
from .target import Target

CATALOGUES = {
    catalogue.profile: catalogue
    for catalogue in (geminigen.CATALOGUE, vydra.CATALOGUE, llmgateway.CATALOGUE, *gemini.CATALOGUES)
}
BUNDLED_KEY = "imagegen-mock-check"
BUNDLED_CREDITS = 10**9
BUNDLED_TIMEOUT_SECONDS = 0.1  # a forced timeout needs its answer checked, not its wait


@dataclass(frozen=True)
class Verdict:
    behaviour: Behaviour
    status: str  # pass, fail, skip or error
    detail: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class Report:
    target: Target
    verdicts: list[Verdict]
    seconds: float

    def count(self, status: str) -> int:
        return sum(1 for v in self.verdicts if v.status == status)

    @property
    def exit_code(self) -> int:
        return 1 if self.count("fail") or self.count("error") else 0


def behaviours_of(profile: str, schema: bool = True) -> list[Behaviour]:
    return [*CATALOGUES[profile].behaviours, *([contract_behaviour(profile)] if schema else [])]


def run_check(
    target: Target,
    *,
    examples: int,
    seed: int = 0,
    schema: bool = True,
    free_only: bool = False,
    only: Collection[str] | None = None,
    on_verdict: Callable[[Verdict], None] = lambda verdict: None,
) -> Report:
    started = time.perf_counter()
    session = Session(target, examples, seed)
    verdicts = []
    try:
        for behaviour in behaviours_of(target.profile, schema):
            if only is None or behaviour.name in only:
                verdicts.append(judge(behaviour, session, free_only))
                on_verdict(verdicts[-1])
    finally:
        session.close()
    return Report(target, verdicts, time.perf_counter() - started)


def judge(behaviour: Behaviour, session: Session, free_only: bool = False) -> Verdict:
    if behaviour.paid and free_only:
        return Verdict(behaviour, "skip", "sends requests that cost credits; left out by --free-only")
    if behaviour.needs_control and not session.controllable:
        return Verdict(behaviour, "skip", "needs an imagegen-mock to force this failure; the target is not one")
    started = time.perf_counter()
    try:
        note = behaviour.check(session)
    except NotApplicable as reason:
        return Verdict(behaviour, "skip", str(reason), time.perf_counter() - started)
    except httpx.HTTPError as error:
        detail = f"could not talk to {session.target}: {error!r}"
        return Verdict(behaviour, "error", detail, time.perf_counter() - started)
    except Exception as error:  # a broken server must not stop the other checks
        status = "fail" if is_assertion(error) else "error"
        return Verdict(behaviour, status, explain(error), time.perf_counter() - started)
    return Verdict(behaviour, "pass", note or "", time.perf_counter() - started)


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
    from mockserver import create_app
    from mockserver.background import BackgroundServer

    with BackgroundServer(create_app(bundled_settings())) as server:
        base_url = f"{server.url}/{profile}"
        yield Target(profile, base_url, BUNDLED_KEY, description=f"the bundled mock at {base_url}")
