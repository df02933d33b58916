"""The scenario catalogue (mockserver/scenarios.py) as one behaviour of the kit: every documented success
and failure of the profile, forced on the target and checked against what the catalogue says.

PYTEST_DONT_REWRITE (see conformance/__init__.py)
"""

from __future__ import annotations

from mockserver.scenarios import play, scenarios

from .behaviours import Behaviour
from .session import Session


def scenarios_behaviour(profile: str) -> Behaviour:
    listed = scenarios(profile)
    return Behaviour(
        name="documented-scenarios",
        summary=f"Each of the {len(listed)} scenarios of the catalogue (success, every documented error, refunds) "
        "answers as the catalogue says, charging what it says",
        source="mockserver/scenarios.py, from the seed's examples and error sections",
        check=check_scenarios,
        paid=True,
        needs_control=True,
        calls=sum(1 for s in listed if s.charged != 0),
        examples=1,
    )


def check_scenarios(session: Session) -> None:
    problems = []
    for scenario in scenarios(session.target.profile):
        outcome = play(scenario, session.http, session.control, session.target.api_key)
        problems += [f"{scenario.name}: {problem}" for problem in outcome.problems()]
    assert not problems, "\n".join(problems)
