"""What the kit's state machines share: a Hypothesis rule-based state machine bound to a session, which keeps
the requests it sends as a trail and prints them, as a list a client can send again, when a step fails.

A machine runs sequences of rules Hypothesis chooses, keeps a model of what the server must then hold, and checks
the server against it after every step; on loopback a failing sequence is shrunk first, so the trail printed is
the shortest one found. Rules that need the mock's control API run only on an imagegen-mock, a reset only on a
mock the kit started itself, and paid rules only while the budget lasts.

PYTEST_DONT_REWRITE (see conformance/__init__.py)
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, NoReturn

import httpx
from hypothesis.errors import Flaky
from hypothesis.stateful import RuleBasedStateMachine

from .failures import Failure
from .session import Session
from .traffic import CLIENT_HEADERS, REDACTED, redacted_header, redacted_url, request_excerpt


class Trail:
    """The requests a machine sent, in order, each a JSON line of method, URL, headers and body, with the key
    redacted wherever it is (the control API names it in its paths)."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.requests: list[dict[str, Any]] = []

    def add(self, response: httpx.Response) -> httpx.Response:
        self.requests.append(replayable(response.request))
        return response

    def __str__(self) -> str:
        lines = [json.dumps(request, ensure_ascii=False).replace(self.key, REDACTED) for request in self.requests]
        return "the requests that led here, to replay:\n" + "\n".join(lines or ["(none)"])


def replayable(request: httpx.Request) -> dict[str, Any]:
    headers = {k: redacted_header(k, v) for k, v in request.headers.items() if k.lower() not in CLIENT_HEADERS}
    return {"method": request.method, "url": redacted_url(str(request.url)), "headers": headers,
            "body": request_excerpt(request)}  # fmt: skip


class Machine(RuleBasedStateMachine):
    """A state machine checking the server behind `session`; a run makes a subclass bound to its session."""

    session: ClassVar[Session]
    failures: ClassVar[list[Failure]]  # every failure of the run, in order

    def __init__(self) -> None:
        super().__init__()
        self.trail = Trail(self.session.target.api_key)

    @classmethod
    def run(cls, session: Session, *, steps: int, **attributes: Any) -> None:
        """Run the machine against `session`'s target, each example at most `steps` rules long.

        A fault that comes and goes (one charge in twenty taken twice) fails a sequence once and not when
        Hypothesis replays it, which it reports as flaky; the failure the server showed is what is reported.
        """
        bound = type(cls.__name__, (cls,), {"session": session, "failures": [], **attributes})
        try:
            session.run_machine(bound, steps=steps)
            return
        except Flaky:
            if not bound.failures:
                raise
        # Raised out of the handler, so that the failure does not chain back to the group that holds it.
        first = bound.failures[0]
        first.add_note("the same steps, replayed, did not fail the same way: the server's fault comes and goes")
        raise first

    def sent(self, response: httpx.Response) -> httpx.Response:
        """Keep a request of the profile's API in the trail, and return its answer."""
        return self.trail.add(response)

    def control(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send a request to the mock's control API (/_mock/...), kept in the trail."""
        return self.trail.add(self.session.admin(method, path, **kwargs))

    def fail(self, kind: type[Failure], message: str, **details: Any) -> NoReturn:
        failure = kind(f"{message}\n{self.trail}", **details)
        self.failures.append(failure)
        raise failure

    @property
    def controllable(self) -> bool:
        return self.session.controllable

    @property
    def resettable(self) -> bool:
        """A reset forgets every key's state: only for a mock the kit started itself."""
        return self.session.controllable and self.session.target.disposable

    def may_pay(self) -> bool:
        """Whether a paid request may be sent: never with --free-only, else always on a mock, else while the
        budget lasts."""
        return not self.session.free_only and (self.session.controllable or not self.session.budget.exhausted)
