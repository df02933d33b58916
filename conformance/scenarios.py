"""The scenario catalogue (mockserver/scenarios.py) as one behaviour of the kit: every documented success
and failure of the profile, forced on the target and checked against what the catalogue says; and the
player that plays one scenario against a served imagegen-mock.

PYTEST_DONT_REWRITE (see conformance/__init__.py)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from mockserver import FAULT_HEADER, Scenario, Step, contains, scenarios

from .behaviours import Behaviour
from .failures import Failure, WrongBody, WrongCharge, WrongHeader, WrongStatus
from .session import Session

PLAY_CREDITS = 1000  # the balance a played scenario starts from, unless it sets its own


def scenarios_behaviour(profile: str) -> Behaviour:
    listed = scenarios(profile)
    paid = [s.charged for s in listed if s.charged != 0]
    return Behaviour(
        name="documented-scenarios",
        summary=f"Each of the {len(listed)} scenarios of the catalogue (success, every documented error, refunds) "
        "answers as the catalogue says, charging what it says",
        source="mockserver/scenarios.py, from the seed's examples and error sections",
        check=check_scenarios,
        paid=True,
        needs_control=True,
        calls=len(paid),
        examples=1,
        price=None if None in paid else max(paid, default=0),  # the catalogue states what each one takes
    )


def check_scenarios(session: Session) -> None:
    problems = []
    for scenario in scenarios(session.target.profile):
        problems += play(scenario, session.http, session.control, session.target.api_key).problems()
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise ExceptionGroup(f"{len(problems)} scenarios did not play as the catalogue says", problems)


@dataclass(frozen=True)
class Outcome:
    scenario: Scenario
    response: httpx.Response | None  # the answer checked: the `then` read's, if there is one; None if it broke
    charged: int  # credits the key lost

    def problems(self) -> list[Failure]:
        """What differs from the catalogue; empty when the scenario played as documented."""
        return self.answer_problems() + self.charge_problems()

    def answer_problems(self) -> list[Failure]:
        s, response = self.scenario, self.response
        if response is None:  # the connection broke, as only a scenario without a status says it does
            return []
        if s.status is None:
            message = f"{s.name}: answered {response.status_code} whole; the catalogue says the connection breaks"
            return [WrongStatus(message, response=response)]
        found: list[Failure] = []
        if response.status_code != s.status:
            message = f"{s.name}: status {response.status_code}, the catalogue says {s.status}"
            found.append(WrongStatus(message, response=response))
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if s.expect and not contains(answer, s.expect):
            found.append(WrongBody(f"{s.name}: the answer {response.text[:300]} does not hold {json.dumps(s.expect)}"))
        found += [WrongHeader(f"{s.name}: no {name} header") for name in s.headers if name not in response.headers]
        return found

    def charge_problems(self) -> list[Failure]:
        s = self.scenario
        if s.charged is None or self.charged == s.charged:
            return []
        message = f"{s.name}: {self.charged} credits taken, the catalogue says {s.charged}"
        return [WrongCharge(message, expected=s.charged, got=self.charged)]


def request_args(scenario: Scenario, step: Step, api_key: str, fields: Mapping[str, Any] | None = None) -> dict:
    """httpx.Client.request's arguments for a step, the key where the profile's service reads it."""
    headers: dict[str, str] = {}
    params: dict[str, str] = dict(step.query or {})
    if step.keyed:
        key = scenario.key
        (params if key.kind == "query" else headers)[key.name] = key.prefix + api_key
    url = step.path.format(**(fields or {}))
    return {"method": step.method, "url": url, "headers": headers, "params": params, "json": step.json,
            "data": step.form}  # fmt: skip


def play(scenario: Scenario, http: httpx.Client, admin: httpx.Client, api_key: str) -> Outcome:
    """Play a scenario against a served mock: `http` a client of the profile's base URL, `admin` of /_mock/.
    The key starts from PLAY_CREDITS (unless the scenario sets its balance) and gets its balance back after."""
    kept = admin.get(f"/accounts/{api_key}")
    admin.put(f"/accounts/{api_key}", json={"credits": PLAY_CREDITS}).raise_for_status()
    try:
        if scenario.credits is not None:
            admin.put(f"/accounts/{api_key}", json={"credits": scenario.credits}).raise_for_status()
        before = balance(admin, api_key)
        asked = request_args(scenario, scenario.request, api_key)
        if scenario.fault:  # asked for on the request itself, so that a client retrying after a 429 knows it
            asked["headers"][FAULT_HEADER] = scenario.fault_header
        try:
            response = http.request(**asked)
        except httpx.TransportError:
            if scenario.status is not None:
                raise
            return Outcome(scenario, None, before - balance(admin, api_key))
        if scenario.then is not None:
            admin.post("/clock", json={"advance_seconds": scenario.advance_seconds}).raise_for_status()
            fields = response.json() if response.status_code == 200 else {}
            response = http.request(**request_args(scenario, scenario.then, api_key, fields))
        return Outcome(scenario, response, before - balance(admin, api_key))
    finally:
        if kept.status_code == 200:
            admin.put(f"/accounts/{api_key}", json={"credits": kept.json()["credits"]}).raise_for_status()


def balance(admin: httpx.Client, api_key: str) -> int:
    return admin.get(f"/accounts/{api_key}").raise_for_status().json()["credits"]
