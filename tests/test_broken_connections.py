"""The broken connections of the scenario catalogue: one per transport fault, each played on every profile as the
catalogue says, and the player's checks shown to fail against a mock that does not break or does not refund."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from conformance.failures import WrongCharge, WrongStatus
from conformance.scenarios import play
from mockserver import Settings, create_app
from mockserver.background import BackgroundServer
from mockserver.broken_connections import BREAKAGES, NOTHING_KNOWN, SERVICES, broken_connections
from mockserver.dialects.profiles import PROFILES
from mockserver.pipeline import dispatch
from mockserver.pipeline.forced import TRANSPORT_FAULTS
from mockserver.pipeline.transport import CONNECTION

KEY = "broken-connections-key"


@pytest.fixture(scope="module")
def served() -> Iterator[BackgroundServer]:
    with BackgroundServer(create_app(Settings())) as server:
        yield server


def outcomes(server: BackgroundServer, profile: str) -> list:
    http = httpx.Client(base_url=f"{server.url}/{profile}", timeout=10)
    with http, httpx.Client(base_url=f"{server.url}/_mock") as admin:
        return [play(scenario, http, admin, KEY) for scenario in broken_connections(profile)]


def test_each_transport_fault_has_its_entry_in_the_catalogue():
    assert [breakage.fault for breakage in BREAKAGES] == list(TRANSPORT_FAULTS)


def test_what_is_known_of_a_service_is_on_its_profiles_scenarios_and_only_there():
    stalls = {s.profile: s.known for profile in PROFILES for s in broken_connections(profile)
              if s.name == "stall-before-headers"}  # fmt: skip

    assert all("cf_gateway_timeout" in " ".join(stalls[p]) for p in SERVICES["OpenAI"])
    assert not any("cf_gateway_timeout" in " ".join(stalls[p]) for p in stalls if p not in SERVICES["OpenAI"])
    assert stalls["vydra"] == (NOTHING_KNOWN,)
    assert all(s.client for s in broken_connections("vydra"))


@pytest.mark.parametrize("profile", PROFILES)
def test_every_broken_connection_plays_as_the_catalogue_says(served, profile):
    played = outcomes(served, profile)

    assert [problem for outcome in played for problem in outcome.problems()] == []
    broke = {outcome.scenario.name for outcome in played if outcome.response is None}
    assert broke == set(TRANSPORT_FAULTS) - {"slow-body"}


def test_a_stall_midway_is_played_on_a_stream_where_the_service_streams():
    streamed = {profile: next(s for s in broken_connections(profile) if s.name == "stall-midway").request
                for profile in ("openai", "gemini", "vydra")}  # fmt: skip

    assert streamed["openai"].json["stream"] is True
    assert streamed["gemini"].path.endswith(":streamGenerateContent") and streamed["gemini"].query == {"alt": "sse"}
    assert streamed["vydra"] == next(s for s in broken_connections("vydra") if s.name == "connection-reset").request


def without_the_connection(app):
    """A mock served without the connection in its requests: it can only refuse a transport fault, whole."""

    async def served(scope, receive, send):
        if scope["type"] == "http":
            scope = {**scope, "extensions": {k: v for k, v in scope.get("extensions", {}).items() if k != CONNECTION}}
        await app(scope, receive, send)

    return served


def test_the_player_catches_a_mock_that_answers_instead_of_breaking():
    with BackgroundServer(without_the_connection(create_app(Settings()))) as server:
        played = outcomes(server, "vydra")

    broken = {o.scenario.name: o.problems() for o in played if o.scenario.status is None}
    assert all(any(isinstance(p, WrongStatus) and "answered 400 whole" in str(p) for p in found)
               for found in broken.values()), broken  # fmt: skip


def test_the_player_catches_a_mock_that_keeps_the_charge_of_a_broken_answer(monkeypatch):
    monkeypatch.setattr(dispatch, "settle_or_refund", lambda state, charges, answered: state.ledger.settle(charges))
    with BackgroundServer(create_app(Settings())) as server:
        played = {outcome.scenario.name: outcome.problems() for outcome in outcomes(server, "vydra")}

    assert [type(p) for p in played["truncated-body"]] == [WrongCharge]
    assert played["connection-reset"] == []  # nothing was charged before the reset
